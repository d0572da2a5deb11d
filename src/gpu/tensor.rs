//! A flat f32 buffer on the GPU, and the one way data comes back from it.

use super::context::GpuContext;
use crate::nn::DeviceError;

pub struct GpuTensor {
    pub buffer: wgpu::Buffer,
    pub len: usize,
    /// Where reads of this tensor land, made at its first read and kept: reading a tensor again
    /// (a running loss every few steps) creates nothing.
    staging: std::cell::OnceCell<wgpu::Buffer>,
}

const USAGE: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

/// The floats a tensor of `len` takes on the GPU: a whole number of vec4s, at least one (a
/// zero-sized binding is invalid). The element-wise kernels (metaplastic Adam, SGD, the sign and
/// the activations) read and write four floats at a time, past `len` up to this; the padding
/// starts at zero, and whatever they leave there is never read as an element (every other
/// kernel, copy and read stops at `len`).
fn padded(len: usize) -> usize {
    len.max(1).next_multiple_of(4)
}

impl GpuTensor {
    pub fn from_slice(ctx: &GpuContext, data: &[f32]) -> Self {
        let mut contents = data.to_vec();
        contents.resize(padded(data.len()), 0.0);
        let buffer = ctx.buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(&contents),
            usage: USAGE,
        });
        Self { buffer, len: data.len(), staging: std::cell::OnceCell::new() }
    }

    pub fn zeros(ctx: &GpuContext, len: usize) -> Self {
        // wgpu zero-initialises new buffers.
        let buffer = ctx.buffer(&wgpu::BufferDescriptor {
            label: None,
            size: (padded(len) * 4) as u64,
            usage: USAGE,
            mapped_at_creation: false,
        });
        Self { buffer, len, staging: std::cell::OnceCell::new() }
    }

    pub fn write(&self, ctx: &GpuContext, data: &[f32]) {
        assert_eq!(data.len(), self.len, "write must cover the whole tensor");
        ctx.queue.write_buffer(&self.buffer, 0, bytemuck::cast_slice(data));
    }

    /// Writes u32 values (labels) into a buffer that a kernel reads as `array<u32>`: `len` counts
    /// 4-byte words, whatever their type.
    pub fn write_u32(&self, ctx: &GpuContext, data: &[u32]) {
        assert_eq!(data.len(), self.len, "write must cover the whole tensor");
        ctx.queue.write_buffer(&self.buffer, 0, bytemuck::cast_slice(data));
    }

    /// Copies the tensor to a staging buffer and waits for the map without blocking the browser's
    /// thread: the map callback completes a channel that this future awaits.
    /// Reads the tensor, then zeroes it: a running sum (a loss, batch statistics) taken and
    /// restarted. The zeroing lands before the next submit, after the copy just read.
    pub async fn take(&self, ctx: &GpuContext) -> Result<Vec<f32>, DeviceError> {
        let words = self.read(ctx).await?;
        ctx.queue.write_buffer(&self.buffer, 0, &vec![0u8; self.len * 4]);
        Ok(words)
    }

    pub async fn read(&self, ctx: &GpuContext) -> Result<Vec<f32>, DeviceError> {
        ctx.check_alive()?;
        // A binary layer's bias is empty: nothing to map (a zero-sized mapping is refused).
        if self.len == 0 {
            return Ok(Vec::new());
        }
        let size = (self.len * 4) as u64;
        ctx.read_back(size);
        // A read is awaited to its unmap before the next read of the tensor starts, so one staging
        // buffer serves them all.
        let staging = self.staging.get_or_init(|| {
            ctx.buffer(&wgpu::BufferDescriptor { label: Some("readback"), size: size.max(4), usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST, mapped_at_creation: false })
        });
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(&self.buffer, 0, &staging, 0, size);
        ctx.submit([encoder.finish()]);
        let (tx, rx) = futures_channel::oneshot::channel();
        let slice = staging.slice(..size);
        slice.map_async(wgpu::MapMode::Read, move |result| {
            let _ = tx.send(result);
        });
        ctx.wait()?;
        rx.await
            .map_err(|_| DeviceError::Readback("the map callback never ran".into()))?
            .map_err(|e| DeviceError::Readback(e.to_string()))?;
        ctx.check_alive()?;
        let data = {
            let view = slice.get_mapped_range().map_err(|e| DeviceError::Readback(e.to_string()))?;
            bytemuck::cast_slice::<u8, f32>(&view).to_vec()
        };
        staging.unmap();
        Ok(data)
    }
}
