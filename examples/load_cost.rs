//! What one load costs an invocation on the adapter wgpu finds, when its address differs from its
//! neighbours' (as every operand load of the matrix products and convolutions does):
//! `cargo run --release --example load_cost`. Each invocation adds 64 vec4s read at scattered
//! addresses, from a storage buffer as vec4s, from the same buffer as four floats, and from an
//! rgba32float texture by `textureLoad`; a fourth pass does the same loop and arithmetic without
//! loading, and what each pass takes beyond it is the loads' cost. The three loading passes must
//! add the same values, and the program fails if they do not.
//!
//! Why it is here: on the software adapters (SwiftShader's Subzero and llvmpipe) an invocation is
//! a lane of a CPU's SIMD register and such a load is taken one lane at a time, so a kernel's
//! speed follows the floats it loads per multiply-add (docs/performance.md). This measures that
//! cost and whether a texture's fetch, which reads a whole texel per lane, is any cheaper.

use metaplastic::gpu::{GpuContext, GpuTensor};
use std::time::Instant;
use wgpu::util::DeviceExt;

const SOURCE: &str = r#"
@group(0) @binding(0) var<storage, read> vec4s: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> floats: array<f32>;
@group(0) @binding(2) var texels: texture_2d<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<vec4<f32>>;

const COUNT: u32 = 262144u; // vec4s in the buffer, texels in the texture
const WIDTH: u32 = 512u;    // the texture's width

// The i-th address of invocation g: scattered, so that no two neighbouring lanes read neighbours.
fn at(g: u32, i: u32) -> u32 {
    return (g * 67u + i * 1031u) & (COUNT - 1u);
}

@compute @workgroup_size(64)
fn nothing(@builtin(global_invocation_id) g: vec3<u32>) {
    var s = vec4<f32>(0.0);
    for (var i = 0u; i < 64u; i++) {
        s += vec4<f32>(f32(at(g.x, i)));
    }
    out[g.x] = s;
}

@compute @workgroup_size(64)
fn buffer_vec4(@builtin(global_invocation_id) g: vec3<u32>) {
    var s = vec4<f32>(0.0);
    for (var i = 0u; i < 64u; i++) {
        s += vec4s[at(g.x, i)];
    }
    out[g.x] = s;
}

@compute @workgroup_size(64)
fn buffer_floats(@builtin(global_invocation_id) g: vec3<u32>) {
    var s = vec4<f32>(0.0);
    for (var i = 0u; i < 64u; i++) {
        let j = 4u * at(g.x, i);
        s += vec4<f32>(floats[j], floats[j + 1u], floats[j + 2u], floats[j + 3u]);
    }
    out[g.x] = s;
}

@compute @workgroup_size(64)
fn texture(@builtin(global_invocation_id) g: vec3<u32>) {
    var s = vec4<f32>(0.0);
    for (var i = 0u; i < 64u; i++) {
        let j = at(g.x, i);
        s += textureLoad(texels, vec2<u32>(j % WIDTH, j / WIDTH), 0);
    }
    out[g.x] = s;
}
"#;

const COUNT: usize = 262_144;
const WIDTH: u32 = 512;
const GROUPS: u32 = 1024;

fn main() {
    let ctx = match pollster::block_on(GpuContext::request()) {
        Ok(ctx) => ctx,
        Err(e) => {
            eprintln!("no GPU adapter: {e}");
            std::process::exit(1);
        }
    };
    println!("adapter: {}", ctx.adapter);
    let device = &ctx.device;
    let values: Vec<f32> = (0..COUNT * 4).map(|i| (i % 17) as f32).collect();
    let storage = |label| device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: Some(label), contents: bytemuck::cast_slice(&values), usage: wgpu::BufferUsages::STORAGE });
    let (vec4s, floats) = (storage("vec4s"), storage("floats"));
    let invocations = GROUPS as u64 * 64;
    let out = GpuTensor::zeros(&ctx, invocations as usize * 4);
    let size = wgpu::Extent3d { width: WIDTH, height: COUNT as u32 / WIDTH, depth_or_array_layers: 1 };
    let texture = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("texels"),
        size,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba32Float,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    let layout = wgpu::TexelCopyBufferLayout { offset: 0, bytes_per_row: Some(WIDTH * 16), rows_per_image: None };
    ctx.queue.write_texture(texture.as_image_copy(), bytemuck::cast_slice(&values), layout, size);
    let view = texture.create_view(&Default::default());
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor { label: Some("load_cost"), source: wgpu::ShaderSource::Wgsl(SOURCE.into()) });

    let loads = invocations * 64;
    println!("{} invocations, 64 scattered vec4 loads each ({loads} vec4s per pass); median of 5 passes", invocations);
    println!("{:<14} {:>10} {:>24}", "pass", "ms", "ns per float, loads only");
    let (mut baseline, mut sums) = (0.0, Vec::new());
    for entry in ["nothing", "buffer_vec4", "buffer_floats", "texture"] {
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor { label: Some(entry), layout: None, module: &module, entry_point: Some(entry), compilation_options: Default::default(), cache: None });
        let mut entries = vec![wgpu::BindGroupEntry { binding: 3, resource: out.buffer.as_entire_binding() }];
        match entry {
            "buffer_vec4" => entries.push(wgpu::BindGroupEntry { binding: 0, resource: vec4s.as_entire_binding() }),
            "buffer_floats" => entries.push(wgpu::BindGroupEntry { binding: 1, resource: floats.as_entire_binding() }),
            "texture" => entries.push(wgpu::BindGroupEntry { binding: 2, resource: wgpu::BindingResource::TextureView(&view) }),
            _ => {}
        }
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor { label: Some(entry), layout: &pipeline.get_bind_group_layout(0), entries: &entries });
        let mut runs: Vec<f64> = (0..6)
            .map(|_| {
                let start = Instant::now();
                let mut encoder = device.create_command_encoder(&Default::default());
                {
                    let mut pass = encoder.begin_compute_pass(&Default::default());
                    pass.set_pipeline(&pipeline);
                    pass.set_bind_group(0, &bind_group, &[]);
                    pass.dispatch_workgroups(GROUPS, 1, 1);
                }
                ctx.queue.submit([encoder.finish()]);
                ctx.wait().expect("the device stays alive");
                start.elapsed().as_secs_f64() * 1000.0
            })
            .skip(1)
            .collect();
        runs.sort_by(f64::total_cmp);
        let ms = runs[runs.len() / 2];
        if entry == "nothing" {
            baseline = ms;
            println!("{entry:<14} {ms:>10.2} {:>24}", "-");
        } else {
            println!("{entry:<14} {ms:>10.2} {:>24.3}", (ms - baseline) * 1e6 / (loads as f64 * 4.0));
            sums.push((entry, pollster::block_on(out.read(&ctx)).expect("the device stays alive")));
        }
    }
    if let Some((first, want)) = sums.first() {
        for (entry, got) in &sums[1..] {
            if got != want {
                eprintln!("{entry} added other values than {first}: the passes do not load the same data");
                std::process::exit(1);
            }
        }
    }
}
