//! Every WGSL file in `shaders/` parses and validates with naga: no GPU needed, so a broken shader
//! fails here on any machine, not only where an adapter compiles it.

/// Files that are not modules by themselves: each is appended to another file (whose
/// declarations it uses) and needs subgroups, as src/gpu compiles it where the device has them.
const APPENDED: [(&str, &str); 1] = [("matmul_quad.wgsl", "matmul.wgsl")];

#[test]
fn every_shader_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("wgsl") {
            continue;
        }
        let mut source = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let mut capabilities = naga::valid::Capabilities::default();
        if let Some((_, base)) = APPENDED.iter().find(|(part, _)| *part == name) {
            source = format!("{}\n{source}", std::fs::read_to_string(dir.join(base)).unwrap());
            capabilities |= naga::valid::Capabilities::SUBGROUP;
        }
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), capabilities)
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
        checked += 1;
    }
    assert!(checked >= 1, "no shaders found in {}", dir.display());
    println!("validated {checked} shader files");
}
