//! Which of eframe's two renderers draws the window.
//!
//! On a real GPU wgpu draws everything, the 3-D view included (its own pipelines, see
//! `view3d/gpu.rs`). Without one (a VM, a remote desktop, CI) Mesa rasterises in software, and
//! there egui's wgpu pass costs ~65 ms of CPU per 1400 × 900 frame on lavapipe (Vulkan) against
//! ~9 ms through glow on llvmpipe (OpenGL), measured with an empty eframe window under Xvfb on
//! this project's 2-core machine: the wgpu path caps the whole app at ~6 fps before anything is
//! drawn. So a machine with only software adapters gets glow, and the 3-D view draws with the
//! exports' rasteriser (`render::scene3d::raster`).

use eframe::wgpu;

/// The user's override: `ABLAPLAN_RENDERER=wgpu` or `=glow`.
const OVERRIDE_VAR: &str = "ABLAPLAN_RENDERER";

/// The renderer for this machine, and why (for the log and the 3-D pane's caption).
pub fn choose() -> (eframe::Renderer, &'static str) {
    match std::env::var(OVERRIDE_VAR).ok().as_deref() {
        Some("wgpu") => return (eframe::Renderer::Wgpu, "ABLAPLAN_RENDERER=wgpu"),
        Some("glow") => return (eframe::Renderer::Glow, "ABLAPLAN_RENDERER=glow"),
        Some(other) => log::warn!("{OVERRIDE_VAR}={other:?} is neither \"wgpu\" nor \"glow\"; ignored"),
        None => {}
    }
    let kinds = adapter_kinds();
    decide(&kinds)
}

/// Glow when no adapter is a hardware one (none at all included: wgpu would fall back to its
/// own GL backend, which is the slow path measured above).
fn decide(kinds: &[wgpu::DeviceType]) -> (eframe::Renderer, &'static str) {
    if kinds.iter().any(|k| *k != wgpu::DeviceType::Cpu) {
        (eframe::Renderer::Wgpu, "hardware GPU")
    } else {
        (eframe::Renderer::Glow, "software rendering only")
    }
}

/// The device types of the primary backends' adapters (Vulkan, Metal, DX12).
fn adapter_kinds() -> Vec<wgpu::DeviceType> {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::PRIMARY,
        ..wgpu::InstanceDescriptor::new_without_display_handle_from_env()
    });
    let adapters = block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY));
    adapters.iter().map(|a| a.get_info().device_type).collect()
}

/// Polls a future that is ready at once on native backends (adapter enumeration), without an
/// executor crate. Gives up (an empty answer means glow) if it ever is not.
fn block_on<T: Default>(fut: impl std::future::Future<Output = T>) -> T {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..1000 {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    log::warn!("listing the GPU adapters did not finish; drawing with glow");
    T::default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hardware_gpu_keeps_wgpu_and_software_only_gets_glow() {
        use wgpu::DeviceType::*;
        assert_eq!(decide(&[Cpu, DiscreteGpu]).0, eframe::Renderer::Wgpu);
        assert_eq!(decide(&[IntegratedGpu]).0, eframe::Renderer::Wgpu);
        assert_eq!(decide(&[Cpu]).0, eframe::Renderer::Glow);
        assert_eq!(decide(&[]).0, eframe::Renderer::Glow);
    }
}
