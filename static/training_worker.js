// Starts a training worker: the worker binary's wasm-bindgen glue (built by trunk as a classic
// script, `data-type="worker"`), then its module; the module's main() listens for the page.
// The module's exports stay reachable as `self.wasmExports` (bench/memory.mjs reads the size of
// its memory, as it reads the page's from trunk's start event).
importScripts('./worker.js');
wasm_bindgen({ module_or_path: './worker_bg.wasm' }).then((exports) => {
  self.wasmExports = exports;
});
