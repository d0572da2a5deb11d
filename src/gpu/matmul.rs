//! Host side of `shaders/matmul.wgsl`: `C = op(A) · op(B)` with the shape and flags of
//! [`crate::cpu::matmul::MatmulShape`], whose CPU reference it is tested against.

use super::{GpuContext, GpuTensor};
use crate::cpu::matmul::MatmulShape;
use wgpu::util::DeviceExt;

const TILE: u32 = 16;

pub struct MatmulKernel {
    pipeline: wgpu::ComputePipeline,
}

impl MatmulKernel {
    pub fn new(ctx: &GpuContext) -> Self {
        let module = ctx.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("matmul.wgsl"),
            source: wgpu::ShaderSource::Wgsl(include_str!("../../shaders/matmul.wgsl").into()),
        });
        let pipeline = ctx.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("matmul"),
            layout: None,
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        Self { pipeline }
    }

    /// Binds a product to its buffers once; the returned call is recorded every step without
    /// allocating anything.
    pub fn bind(&self, ctx: &GpuContext, shape: MatmulShape, a: &GpuTensor, b: &GpuTensor, c: &GpuTensor) -> MatmulCall {
        assert_eq!(a.len, (shape.m * shape.k) as usize, "A must be m x k");
        assert_eq!(b.len, (shape.k * shape.n) as usize, "B must be k x n");
        assert_eq!(c.len, (shape.m * shape.n) as usize, "C must be m x n");
        let uniform = ctx.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("matmul shape"),
            contents: bytemuck::bytes_of(&shape),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let bind_group = ctx.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: a.buffer.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: b.buffer.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 3, resource: c.buffer.as_entire_binding() },
            ],
        });
        MatmulCall { pipeline: self.pipeline.clone(), bind_group, groups: (shape.n.div_ceil(TILE), shape.m.div_ceil(TILE)) }
    }
}

/// A product bound to its buffers.
pub struct MatmulCall {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    groups: (u32, u32),
}

impl MatmulCall {
    /// Records the product into `encoder`; nothing runs until the caller submits.
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder) {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups.0, self.groups.1, 1);
    }
}
