//! Host side of `shaders/ewc.wgsl`: the EWC penalty's gradient, the Fisher estimate from squared
//! batch gradients, and consolidation into the running sums, tested against [`crate::cpu::ewc`].

use super::{GpuContext, GpuTensor};
use bytemuck::{Pod, Zeroable};
use wgpu::util::DeviceExt;

/// Workgroup size; the shader's grid-stride loop lets one dispatch of at most 65535 groups cover
/// any length.
const WG: usize = 256;

/// The WGSL uniform `Params`.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Params {
    n: u32,
    _pad0: u32,
    scalar: f32,
    _pad1: u32,
}

pub struct EwcKernel {
    penalty_grad: wgpu::ComputePipeline,
    accumulate: wgpu::ComputePipeline,
    consolidate: wgpu::ComputePipeline,
}

impl EwcKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let module = ctx.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("ewc.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../shaders/ewc.wgsl").into()),
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
        Self { penalty_grad: pipeline("penalty_grad"), accumulate: pipeline("accumulate"), consolidate: pipeline("consolidate") }
    }

    /// `grad += lambda * (fisher * w - anchor)`.
    pub fn bind_penalty_grad(
        &self,
        ctx: &GpuContext,
        lambda: f32,
        w: &GpuTensor,
        fisher: &GpuTensor,
        anchor: &GpuTensor,
        grad: &GpuTensor,
    ) -> EwcCall {
        assert!(fisher.len == w.len && anchor.len == w.len && grad.len == w.len, "one length for all");
        bind(ctx, &self.penalty_grad, w.len, lambda, &[(1, w), (2, fisher), (3, anchor), (4, grad)])
    }

    /// `f += g * g / batches`: one batch's share of the mean squared gradient over `batches`.
    pub fn bind_accumulate(&self, ctx: &GpuContext, batches: usize, g: &GpuTensor, f: &GpuTensor) -> EwcCall {
        assert_eq!(g.len, f.len, "one length for g and f");
        bind(ctx, &self.accumulate, g.len, batches as f32, &[(5, g), (6, f)])
    }

    /// `fisher += f ; anchor += f * w`.
    pub fn bind_consolidate(&self, ctx: &GpuContext, w: &GpuTensor, f: &GpuTensor, fisher: &GpuTensor, anchor: &GpuTensor) -> EwcCall {
        assert!(f.len == w.len && fisher.len == w.len && anchor.len == w.len, "one length for all");
        bind(ctx, &self.consolidate, w.len, 0.0, &[(1, w), (7, f), (8, fisher), (9, anchor)])
    }
}

fn bind(ctx: &GpuContext, pipeline: &wgpu::ComputePipeline, n: usize, scalar: f32, buffers: &[(u32, &GpuTensor)]) -> EwcCall {
    let uniform = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("ewc params"),
        contents: bytemuck::bytes_of(&Params { n: n as u32, _pad0: 0, scalar, _pad1: 0 }),
        usage: wgpu::BufferUsages::UNIFORM,
    });
    let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() }];
    entries.extend(buffers.iter().map(|(binding, t)| wgpu::BindGroupEntry { binding: *binding, resource: t.buffer.as_entire_binding() }));
    let bind_group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    });
    EwcCall { pipeline: pipeline.clone(), bind_group, groups: n.div_ceil(WG).clamp(1, 65535) as u32 }
}

/// An EWC kernel bound to its buffers.
pub struct EwcCall {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: u32,
}

impl EwcCall {
    /// Records the dispatch into `encoder`; nothing runs until the caller submits.
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups, 1, 1);
    }
}
