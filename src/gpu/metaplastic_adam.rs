//! Host side of `shaders/metaplastic_adam.wgsl`: one metaplastic Adam update of a parameter array,
//! tested against [`crate::cpu::metaplastic_adam`]. The uniform is [`AdamHyper`] itself, so the
//! per-step bias corrections are a 32-byte `write_buffer` before the step's submit.

use super::{GpuContext, GpuTensor};
use crate::cpu::metaplastic_adam::AdamHyper;
use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

/// Workgroup size; the shader's grid-stride loop lets one dispatch of at most 65535 groups cover
/// any length.
const WG: usize = 256;

/// The WGSL uniform `Size`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Size {
    n: u32,
    _pad: [u32; 3],
}

pub struct AdamKernel {
    pipeline: wgpu::ComputePipeline,
}

impl AdamKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let module = ctx.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("metaplastic_adam.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../shaders/metaplastic_adam.wgsl").into()),
        });
        let pipeline = ctx.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("metaplastic_adam"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        Self { pipeline }
    }

    /// Binds the update of `w` from `grad` with moments `m1`, `m2`. The hyper-parameters start as
    /// `hyper`; [`AdamCall::set_hyper`] changes them (each step's bias corrections).
    pub fn bind(&self, ctx: &GpuContext, w: &GpuTensor, grad: &GpuTensor, m1: &GpuTensor, m2: &GpuTensor, hyper: &AdamHyper) -> AdamCall {
        assert!(grad.len == w.len && m1.len == w.len && m2.len == w.len, "w, grad, m1, m2 must have one length");
        let hyper_buffer = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("adam hyper"),
            contents: bytemuck::bytes_of(hyper),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        let size = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("adam size"),
            contents: bytemuck::bytes_of(&Size { n: w.len as u32, _pad: [0; 3] }),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let bind_group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: hyper_buffer.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: size.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: w.buffer.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 3, resource: grad.buffer.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 4, resource: m1.buffer.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 5, resource: m2.buffer.as_entire_binding() },
            ],
        });
        AdamCall { pipeline: self.pipeline.clone(), bind_group, hyper: hyper_buffer, groups: w.len.div_ceil(WG).clamp(1, 65535) as u32 }
    }
}

/// An update bound to its buffers.
pub struct AdamCall {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    hyper: wgpu::Buffer,
    groups: u32,
}

impl AdamCall {
    /// New hyper-parameters for the next submitted update (`queue.write_buffer` lands before the
    /// next submit's commands run).
    pub fn set_hyper(&self, ctx: &GpuContext, hyper: &AdamHyper) {
        ctx.queue.write_buffer(&self.hyper, 0, bytemuck::bytes_of(hyper));
    }

    /// Records the update into `encoder`; nothing runs until the caller submits.
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups, 1, 1);
    }
}
