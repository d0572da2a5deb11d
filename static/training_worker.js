// Starts a training worker: the worker binary's wasm-bindgen glue (built by trunk as a classic
// script, `data-type="worker"`), then its module; the module's main() listens for the page.
// The module's exports stay reachable as `self.wasmExports` (bench/memory.mjs reads the size of
// its memory, as it reads the page's from trunk's start event).
// The Rust code opens its GPU device through wgpu, and wgpu 30 does not know WebGPU's
// "subgroups" feature by name, so never asks for it. The matrix products' fastest kernels on the
// software adapters need it (shaders/matmul_quad.wgsl), so the worker asks for it here wherever
// the adapter has it, and says whether the device got it in `self.metaplasticSubgroups`
// (src/gpu/context.rs reads it; without it those kernels are left out).
if (self.GPUAdapter) {
  const requestDevice = GPUAdapter.prototype.requestDevice;
  GPUAdapter.prototype.requestDevice = async function (descriptor = {}) {
    self.metaplasticSubgroups = false;
    const features = [...(descriptor.requiredFeatures ?? [])];
    if (this.features.has('subgroups') && !features.includes('subgroups')) {
      try {
        const device = await requestDevice.call(this, { ...descriptor, requiredFeatures: [...features, 'subgroups'] });
        self.metaplasticSubgroups = device.features.has('subgroups');
        return device;
      } catch (e) {
        console.warn(`a device with subgroups was refused (${e}); asking for one without`);
      }
    }
    return requestDevice.call(this, descriptor);
  };
}
importScripts('./worker.js');
wasm_bindgen({ module_or_path: './worker_bg.wasm' }).then((exports) => {
  self.wasmExports = exports;
});
