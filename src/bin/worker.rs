//! A training worker (wasm32 only; trunk builds it from index.html's `data-bin="worker"` link and
//! the page starts one per network of a comparison).

fn main() {
    #[cfg(target_arch = "wasm32")]
    metaplastic::web::start_worker();
}
