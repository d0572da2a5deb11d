//! The browser page (wasm32 only; trunk builds it from index.html's `data-bin="app"` link).

fn main() {
    #[cfg(target_arch = "wasm32")]
    metaplastic::web::start_page();
}
