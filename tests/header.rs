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

/// The declarations of a header, without what only a C compiler needs (include guard, includes,
/// `extern "C"` for C++) and without blank lines: what maturin's cffi step reads.
fn declarations(header: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut in_cplusplus = false;
    for line in header.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("#ifdef __cplusplus") {
            in_cplusplus = true;
            continue;
        }
        if in_cplusplus {
            in_cplusplus = !trimmed.starts_with("#endif");
            continue;
        }
        let guard = trimmed.starts_with("#ifndef LQFT_H")
            || trimmed.starts_with("#define LQFT_H")
            || trimmed.starts_with("#endif  /* LQFT_H */")
            || trimmed.starts_with("#include");
        if !guard && !trimmed.is_empty() {
            lines.push(line);
        }
    }
    lines
}

/// maturin builds the Python package's cffi module (`python/`) from a header it generates with
/// cbindgen over the whole crate, forcing C without includes, guards or C++ compatibility.
/// That header must declare exactly what `include/lqft.h` declares: public items of other
/// modules would otherwise leak into the Python binding (or break its build).
#[test]
fn python_binding_header_declares_what_the_c_header_declares() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml"))
        .expect("cbindgen.toml should parse");
    // The settings maturin enforces for cffi.
    config.language = cbindgen::Language::C;
    config.no_includes = true;
    config.sys_includes = Vec::new();
    config.defines = Default::default();
    config.include_guard = None;
    config.pragma_once = false;
    config.cpp_compat = false;
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_crate(root)
        .generate()
        .expect("cbindgen should generate a header from the whole crate");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let committed = std::fs::read_to_string(root.join("include/lqft.h")).expect("read lqft.h");
    let (generated, committed) = (declarations(&generated), declarations(&committed));
    if generated != committed {
        let extra: Vec<_> = generated
            .iter()
            .filter(|line| !committed.contains(line) && !line.trim_start().starts_with('*'))
            .take(5)
            .collect();
        let missing: Vec<_> = committed
            .iter()
            .filter(|line| !generated.contains(line) && !line.trim_start().starts_with('*'))
            .take(5)
            .collect();
        panic!(
            "the whole-crate header maturin generates for python/ differs from include/lqft.h; \
             every module but `ffi` must be marked `/// cbindgen:ignore` in src/lib.rs. Only \
             in the whole-crate header: {extra:?}; only in include/lqft.h: {missing:?}"
        );
    }
}
