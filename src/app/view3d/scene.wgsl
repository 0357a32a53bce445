// The 3-D scene: the same shading as render::scene3d::raster (two-sided Lambert headlight plus
// ambient), colours in display (gamma) space as the CPU path and egui use.

struct Uniforms {
    view_proj: mat4x4<f32>,
    colour: vec4<f32>,
    // xyz: direction of view (the light is at the eye); w: ambient weight.
    light: vec4<f32>,
    // x: diffuse weight.
    params: vec4<f32>,
};

@group(0) @binding(0) var<uniform> u: Uniforms;

struct VertexOut {
    @builtin(position) position: vec4<f32>,
    @location(0) normal: vec3<f32>,
};

@vertex
fn vs_main(@location(0) position_lps: vec3<f32>, @location(1) normal: vec3<f32>) -> VertexOut {
    var out: VertexOut;
    out.position = u.view_proj * vec4<f32>(position_lps, 1.0);
    out.normal = normal;
    return out;
}

@fragment
fn fs_main(in: VertexOut) -> @location(0) vec4<f32> {
    let len = length(in.normal);
    var lambert = 1.0;
    if (len > 1e-6) {
        lambert = abs(dot(in.normal / len, u.light.xyz));
    }
    let shade = u.light.w + u.params.x * lambert;
    return vec4<f32>(u.colour.rgb * shade, u.colour.a);
}
