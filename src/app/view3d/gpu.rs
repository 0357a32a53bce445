//! The 3-D view on the GPU through egui's wgpu paint callbacks. `prepare` draws the scene into
//! an offscreen multisampled colour + depth target of the pane's size (our own depth buffer,
//! whatever eframe's render pass has), `paint` copies the resolved picture into egui's pass at
//! the callback's viewport. Meshes are uploaded once and kept while the scene uses them (keyed
//! by their `Arc`, which the cache holds so the key stays unique).

use std::collections::HashMap;
use std::sync::Arc;

use eframe::egui_wgpu::{self, CallbackResources, CallbackTrait, ScreenDescriptor};
use eframe::wgpu::{self, util::DeviceExt};

use crate::render::mesh::TriMesh;
use crate::render::scene3d::{AMBIENT, DIFFUSE};

/// Samples per pixel of the offscreen target: 4 smooths the silhouettes on a GPU; a software
/// rasteriser (llvmpipe) pays for every sample (4× cost ~27 ms of CPU per frame on the demo), so
/// it gets 1. `ABLAPLAN_3D_MSAA=1` or `=4` overrides.
fn msaa(adapter: &wgpu::Adapter) -> u32 {
    match std::env::var("ABLAPLAN_3D_MSAA").ok().as_deref() {
        Some("1") => 1,
        Some("4") => 4,
        _ if adapter.get_info().device_type == wgpu::DeviceType::Cpu => 1,
        _ => 4,
    }
}
const COLOUR_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba8Unorm;
const DEPTH_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Depth32Float;
/// view_proj (64) + colour (16) + light (16) + params (16).
const UNIFORM_BYTES: u64 = 112;

/// One object of a frame: its mesh and look.
pub struct GpuObject {
    pub mesh: Arc<TriMesh>,
    pub rgba: [f32; 4],
}

/// What one frame of the 3-D pane draws.
pub struct SceneCallback {
    /// In draw order: opaque first, then translucent far to near.
    pub objects: Vec<GpuObject>,
    /// LPS → clip space, column-major.
    pub view_proj: [f32; 16],
    /// Unit viewing direction (LPS).
    pub forward: [f32; 3],
    pub background: [f32; 3],
    pub size_px: [u32; 2],
}

struct GpuMesh {
    _keep: Arc<TriMesh>,
    vertices: wgpu::Buffer,
    indices: wgpu::Buffer,
    count: u32,
}

struct Targets {
    size: [u32; 2],
    colour_msaa: wgpu::TextureView,
    resolved: wgpu::TextureView,
    depth: wgpu::TextureView,
    blit_group: wgpu::BindGroup,
}

/// The pipelines and buffers, kept in egui's callback resources.
pub struct SceneGpu {
    opaque: wgpu::RenderPipeline,
    translucent: wgpu::RenderPipeline,
    blit: wgpu::RenderPipeline,
    uniform_layout: wgpu::BindGroupLayout,
    blit_layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    meshes: HashMap<usize, GpuMesh>,
    uniforms: Vec<(wgpu::Buffer, wgpu::BindGroup)>,
    targets: Option<Targets>,
    msaa: u32,
}

/// Installs the pipelines once per renderer (the target format is the window's).
pub fn install(render_state: &egui_wgpu::RenderState) {
    let mut renderer = render_state.renderer.write();
    if renderer.callback_resources.get::<SceneGpu>().is_none() {
        let msaa = msaa(&render_state.adapter);
        let gpu = SceneGpu::new(&render_state.device, render_state.target_format, msaa);
        renderer.callback_resources.insert(gpu);
    }
}

fn mesh_key(m: &Arc<TriMesh>) -> usize {
    Arc::as_ptr(m) as usize
}

impl SceneGpu {
    fn new(device: &wgpu::Device, target_format: wgpu::TextureFormat, msaa: u32) -> Self {
        let scene_shader = device.create_shader_module(wgpu::include_wgsl!("scene.wgsl"));
        let blit_shader = device.create_shader_module(wgpu::include_wgsl!("blit.wgsl"));
        let uniform_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("scene3d_uniforms"),
            entries: &[wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::VERTEX | wgpu::ShaderStages::FRAGMENT,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            }],
        });
        let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("scene3d_layout"),
            bind_group_layouts: &[Some(&uniform_layout)],
            immediate_size: 0,
        });
        let vertex_layout = Some(wgpu::VertexBufferLayout {
            array_stride: 24,
            step_mode: wgpu::VertexStepMode::Vertex,
            attributes: &wgpu::vertex_attr_array![0 => Float32x3, 1 => Float32x3],
        });
        let pipeline = |label: &str, depth_write: bool, blend: wgpu::BlendState| {
            device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
                label: Some(label),
                layout: Some(&layout),
                vertex: wgpu::VertexState {
                    module: &scene_shader,
                    entry_point: Some("vs_main"),
                    compilation_options: Default::default(),
                    buffers: std::slice::from_ref(&vertex_layout),
                },
                fragment: Some(wgpu::FragmentState {
                    module: &scene_shader,
                    entry_point: Some("fs_main"),
                    compilation_options: Default::default(),
                    targets: &[Some(wgpu::ColorTargetState {
                        format: COLOUR_FORMAT,
                        blend: Some(blend),
                        write_mask: wgpu::ColorWrites::ALL,
                    })],
                }),
                primitive: wgpu::PrimitiveState {
                    topology: wgpu::PrimitiveTopology::TriangleList,
                    // Two-sided: translucent surfaces show their back, and a cut mesh its inside.
                    cull_mode: None,
                    ..Default::default()
                },
                depth_stencil: Some(wgpu::DepthStencilState {
                    format: DEPTH_FORMAT,
                    depth_write_enabled: Some(depth_write),
                    depth_compare: Some(wgpu::CompareFunction::LessEqual),
                    stencil: wgpu::StencilState::default(),
                    bias: wgpu::DepthBiasState::default(),
                }),
                multisample: wgpu::MultisampleState {
                    count: msaa,
                    mask: !0,
                    alpha_to_coverage_enabled: false,
                },
                multiview_mask: None,
                cache: None,
            })
        };
        let opaque = pipeline("scene3d_opaque", true, wgpu::BlendState::REPLACE);
        let translucent = pipeline("scene3d_translucent", false, wgpu::BlendState::ALPHA_BLENDING);
        let blit_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("scene3d_blit"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        multisampled: false,
                        sample_type: wgpu::TextureSampleType::Float { filterable: true },
                        view_dimension: wgpu::TextureViewDimension::D2,
                    },
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
            ],
        });
        let blit_pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("scene3d_blit_layout"),
            bind_group_layouts: &[Some(&blit_layout)],
            immediate_size: 0,
        });
        let blit = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("scene3d_blit"),
            layout: Some(&blit_pipeline_layout),
            vertex: wgpu::VertexState {
                module: &blit_shader,
                entry_point: Some("vs_main"),
                compilation_options: Default::default(),
                buffers: &[],
            },
            fragment: Some(wgpu::FragmentState {
                module: &blit_shader,
                entry_point: Some("fs_main"),
                compilation_options: Default::default(),
                targets: &[Some(target_format.into())],
            }),
            primitive: wgpu::PrimitiveState::default(),
            // eframe's pass has neither depth nor multisampling (NativeOptions defaults).
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        });
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("scene3d_sampler"),
            // Linear: the picture may be drawn below the pane's resolution (see `render_scale`).
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        Self {
            opaque,
            translucent,
            blit,
            uniform_layout,
            blit_layout,
            sampler,
            meshes: HashMap::new(),
            uniforms: Vec::new(),
            targets: None,
            msaa,
        }
    }

    fn upload(&mut self, device: &wgpu::Device, objects: &[GpuObject]) {
        let wanted: std::collections::HashSet<usize> = objects.iter().map(|o| mesh_key(&o.mesh)).collect();
        self.meshes.retain(|k, _| wanted.contains(k));
        for o in objects {
            let key = mesh_key(&o.mesh);
            if self.meshes.contains_key(&key) || o.mesh.is_empty() {
                continue;
            }
            let m = &o.mesh;
            let mut vertices = Vec::with_capacity(m.positions_lps.len() * 24);
            for (i, p) in m.positions_lps.iter().enumerate() {
                let n = m.normals.get(i).copied().unwrap_or([0.0, 0.0, 1.0]);
                for v in p.iter().chain(n.iter()) {
                    vertices.extend_from_slice(&v.to_le_bytes());
                }
            }
            let mut indices = Vec::with_capacity(m.triangles.len() * 12);
            for t in &m.triangles {
                for i in t {
                    indices.extend_from_slice(&i.to_le_bytes());
                }
            }
            let vertices = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("scene3d_vertices"),
                contents: &vertices,
                usage: wgpu::BufferUsages::VERTEX,
            });
            let indices = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("scene3d_indices"),
                contents: &indices,
                usage: wgpu::BufferUsages::INDEX,
            });
            self.meshes.insert(
                key,
                GpuMesh {
                    _keep: m.clone(),
                    vertices,
                    indices,
                    count: (m.triangles.len() * 3) as u32,
                },
            );
        }
    }

    fn ensure_targets(&mut self, device: &wgpu::Device, size: [u32; 2]) {
        if self.targets.as_ref().is_some_and(|t| t.size == size) {
            return;
        }
        let texture = |label: &str, format, samples, usage| {
            device
                .create_texture(&wgpu::TextureDescriptor {
                    label: Some(label),
                    size: wgpu::Extent3d {
                        width: size[0],
                        height: size[1],
                        depth_or_array_layers: 1,
                    },
                    mip_level_count: 1,
                    sample_count: samples,
                    dimension: wgpu::TextureDimension::D2,
                    format,
                    usage,
                    view_formats: &[],
                })
                .create_view(&Default::default())
        };
        let colour_msaa = texture(
            "scene3d_colour",
            COLOUR_FORMAT,
            self.msaa,
            wgpu::TextureUsages::RENDER_ATTACHMENT,
        );
        let resolved = texture(
            "scene3d_resolved",
            COLOUR_FORMAT,
            1,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
        );
        let depth = texture(
            "scene3d_depth",
            DEPTH_FORMAT,
            self.msaa,
            wgpu::TextureUsages::RENDER_ATTACHMENT,
        );
        let blit_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("scene3d_blit"),
            layout: &self.blit_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(&resolved),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::Sampler(&self.sampler),
                },
            ],
        });
        self.targets = Some(Targets {
            size,
            colour_msaa,
            resolved,
            depth,
            blit_group,
        });
    }

    fn write_uniforms(&mut self, device: &wgpu::Device, queue: &wgpu::Queue, cb: &SceneCallback) {
        while self.uniforms.len() < cb.objects.len() {
            let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("scene3d_object"),
                size: UNIFORM_BYTES,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("scene3d_object"),
                layout: &self.uniform_layout,
                entries: &[wgpu::BindGroupEntry {
                    binding: 0,
                    resource: buffer.as_entire_binding(),
                }],
            });
            self.uniforms.push((buffer, group));
        }
        for (o, (buffer, _)) in cb.objects.iter().zip(&self.uniforms) {
            let mut bytes = Vec::with_capacity(UNIFORM_BYTES as usize);
            let f = cb.forward;
            let light = [f[0], f[1], f[2], AMBIENT];
            let params = [DIFFUSE, 0.0, 0.0, 0.0];
            let values = cb.view_proj.iter().chain(&o.rgba).chain(&light).chain(&params);
            for v in values {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            queue.write_buffer(buffer, 0, &bytes);
        }
    }
}

impl CallbackTrait for SceneCallback {
    fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        _screen: &ScreenDescriptor,
        encoder: &mut wgpu::CommandEncoder,
        resources: &mut CallbackResources,
    ) -> Vec<wgpu::CommandBuffer> {
        let Some(gpu) = resources.get_mut::<SceneGpu>() else {
            return Vec::new();
        };
        let size = [self.size_px[0].max(1), self.size_px[1].max(1)];
        gpu.upload(device, &self.objects);
        gpu.ensure_targets(device, size);
        gpu.write_uniforms(device, queue, self);
        let Some(t) = &gpu.targets else {
            return Vec::new();
        };
        let bg = self.background;
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("scene3d"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                // Without multisampling the picture is drawn straight into the blitted texture.
                view: if gpu.msaa > 1 { &t.colour_msaa } else { &t.resolved },
                resolve_target: (gpu.msaa > 1).then_some(&t.resolved),
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color {
                        r: bg[0] as f64,
                        g: bg[1] as f64,
                        b: bg[2] as f64,
                        a: 1.0,
                    }),
                    store: if gpu.msaa > 1 {
                        wgpu::StoreOp::Discard
                    } else {
                        wgpu::StoreOp::Store
                    },
                },
                depth_slice: None,
            })],
            depth_stencil_attachment: Some(wgpu::RenderPassDepthStencilAttachment {
                view: &t.depth,
                depth_ops: Some(wgpu::Operations {
                    load: wgpu::LoadOp::Clear(1.0),
                    store: wgpu::StoreOp::Discard,
                }),
                stencil_ops: None,
            }),
            occlusion_query_set: None,
            timestamp_writes: None,
            multiview_mask: None,
        });
        for (o, (_, group)) in self.objects.iter().zip(&gpu.uniforms) {
            let Some(m) = gpu.meshes.get(&mesh_key(&o.mesh)) else {
                continue;
            };
            pass.set_pipeline(if o.rgba[3] >= 0.999 {
                &gpu.opaque
            } else {
                &gpu.translucent
            });
            pass.set_bind_group(0, group, &[]);
            pass.set_vertex_buffer(0, m.vertices.slice(..));
            pass.set_index_buffer(m.indices.slice(..), wgpu::IndexFormat::Uint32);
            pass.draw_indexed(0..m.count, 0, 0..1);
        }
        Vec::new()
    }

    fn paint(
        &self,
        _info: egui::PaintCallbackInfo,
        pass: &mut wgpu::RenderPass<'static>,
        resources: &CallbackResources,
    ) {
        let Some(gpu) = resources.get::<SceneGpu>() else {
            return;
        };
        let Some(t) = &gpu.targets else {
            return;
        };
        pass.set_pipeline(&gpu.blit);
        pass.set_bind_group(0, &t.blit_group, &[]);
        pass.draw(0..3, 0..1);
    }
}

use eframe::egui;
