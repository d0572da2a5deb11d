// Starts a training worker: the worker binary's wasm-bindgen glue (built by trunk as a classic
// script, `data-type="worker"`), then its module; the module's main() listens for the page.
importScripts('./worker.js');
wasm_bindgen({ module_or_path: './worker_bg.wasm' });
