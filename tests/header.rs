//! `include/lqft.h` must be exactly what cbindgen generates from `src/ffi` with `cbindgen.toml`.
//!
//! Regenerate it with `LQFT_BLESS=1 cargo test --test header`.

use std::path::Path;

#[test]
fn committed_header_is_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(root.join("cbindgen.toml"))
        .expect("cbindgen.toml should parse");
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(root.join("src/ffi/mod.rs"))
        .generate()
        .expect("cbindgen should generate the header from src/ffi");
    let mut generated = Vec::new();
    bindings.write(&mut generated);

    let path = root.join("include/lqft.h");
    if std::env::var_os("LQFT_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &generated).expect("write include/lqft.h");
        return;
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    if committed != generated {
        let first_difference = String::from_utf8_lossy(&generated)
            .lines()
            .zip(
                String::from_utf8_lossy(&committed)
                    .lines()
                    .chain(std::iter::repeat("")),
            )
            .position(|(a, b)| a != b)
            .map_or(0, |line| line + 1);
        panic!(
            "include/lqft.h is stale (first difference at line {first_difference}): the C API in \
             src/ffi changed without the header. Regenerate it with \
             `LQFT_BLESS=1 cargo test --test header` and commit it."
        );
    }
}
