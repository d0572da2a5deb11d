//! Host side of `shaders/sign.wgsl`: binarizing weights (`Wb = sign(Wh)`), the sign activation and
//! its straight-through backward, tested against [`crate::cpu::sign`].

use super::{GpuContext, GpuTensor};
use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

/// The workgroup size of every entry point; with the shader's grid-stride loop one dispatch of at
/// most 65535 workgroups covers any length.
const WG: usize = 256;

/// The WGSL uniform `Size`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Size {
    n: u32,
    _pad: [u32; 3],
}

pub struct SignKernel {
    binarize: wgpu::ComputePipeline,
    forward: wgpu::ComputePipeline,
    backward: wgpu::ComputePipeline,
}

impl SignKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let module = ctx.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("sign.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../shaders/sign.wgsl").into()),
        });
        let pipeline = |entry: &str| {
            ctx.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None,
                module: &module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        Self { binarize: pipeline("binarize"), forward: pipeline("sign_forward"), backward: pipeline("sign_backward") }
    }

    /// `out = sign(w)` with sign(0) = +1: the binary weights.
    pub fn bind_binarize(&self, ctx: &GpuContext, w: &GpuTensor, out: &GpuTensor) -> SignCall {
        assert_eq!(w.len, out.len, "binarize keeps the length");
        bind(ctx, &self.binarize, w.len, &[(1, w), (3, out)])
    }

    /// `h = sign(z)`: the hidden activation.
    pub fn bind_forward(&self, ctx: &GpuContext, z: &GpuTensor, h: &GpuTensor) -> SignCall {
        assert_eq!(z.len, h.len, "the activation keeps the length");
        bind(ctx, &self.forward, z.len, &[(1, z), (3, h)])
    }

    /// `dz = dh * 1{|z| <= 1}`: the straight-through gradient.
    pub fn bind_backward(&self, ctx: &GpuContext, z: &GpuTensor, dh: &GpuTensor, dz: &GpuTensor) -> SignCall {
        assert!(z.len == dh.len && z.len == dz.len, "the backward pass keeps the length");
        bind(ctx, &self.backward, z.len, &[(1, z), (2, dh), (3, dz)])
    }
}

fn bind(ctx: &GpuContext, pipeline: &wgpu::ComputePipeline, n: usize, buffers: &[(u32, &GpuTensor)]) -> SignCall {
    let uniform = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("sign size"),
        contents: bytemuck::bytes_of(&Size { n: n as u32, _pad: [0; 3] }),
        usage: wgpu::BufferUsages::UNIFORM,
    });
    let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() }];
    entries.extend(buffers.iter().map(|(binding, t)| wgpu::BindGroupEntry { binding: *binding, resource: t.buffer.as_entire_binding() }));
    let bind_group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    });
    SignCall { pipeline: pipeline.clone(), bind_group, groups: n.div_ceil(WG).clamp(1, 65535) as u32 }
}

/// One of the sign kernels bound to its buffers.
pub struct SignCall {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: u32,
}

impl SignCall {
    /// Records the dispatch into `encoder`; nothing runs until the caller submits.
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups, 1, 1);
    }
}
