//! Peak memory of `load_series` on the 134-slice pancreas CT (Linux only: reads VmHWM).
//! Alone in its own test binary so no other test allocates at the same time.

#[path = "suite/common/mod.rs"]
mod common;

fn status_kb(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn peak_memory_is_at_most_twice_the_volume() {
    let Some(dir) = common::dicom_data("pancreas-ct-rtstruct/CT") else {
        return;
    };
    let ctx = ablaplan::jobs::JobCtx::default();
    let r = ablaplan::dicom::scan(&[dir], &ctx).unwrap();
    let (Some(rss_before), Some(_)) = (status_kb("VmRSS:"), status_kb("VmHWM:")) else {
        eprintln!("SKIPPED: /proc/self/status not available");
        return;
    };
    let l = ablaplan::dicom::load_series(&r.series[0], &ctx).unwrap();
    let hwm = status_kb("VmHWM:").unwrap();
    let volume_kb = (l.volume.size_bytes() / 1024) as u64;
    let growth = hwm.saturating_sub(rss_before);
    eprintln!(
        "volume {volume_kb} kB, peak growth during load {growth} kB ({:.2}×)",
        growth as f64 / volume_kb as f64
    );
    // The volume itself plus per-thread file buffers (~0.5 MB each); far below 2×.
    assert!(
        growth <= 2 * volume_kb,
        "peak growth {growth} kB > 2 × {volume_kb} kB"
    );
}
