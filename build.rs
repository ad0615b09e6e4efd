//! Generates `include/offheap.h` from `src/ffi/` with cbindgen, and from the core files whose
//! `repr(C)` types and constants are C ABI items themselves ([`CORE_SOURCES`], renamed to
//! their C names in cbindgen.toml), so a record the core and C share is written once.
//!
//! The generated header is written to `include/offheap.h` (when it differs) and to
//! `target/<profile>/offheap.h`; `make header-check` fails when the committed header differs
//! from what the build generated, so the header can never drift from the library.

use std::path::{Path, PathBuf};

/// The core files cbindgen reads besides `src/ffi/`: the proxy's counters, the relay's
/// process-wide counters, the window's batch accounting, counters and configuration enums, the
/// parser's well-known header slots and its head and header records.
const CORE_SOURCES: [&str; 6] = [
    "src/engine/proxy/config.rs",
    "src/relay/stats.rs",
    "src/window/accounting.rs",
    "src/window/config.rs",
    "src/headers/known.rs",
    "src/headers/head.rs",
];

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    for file in CORE_SOURCES {
        println!("cargo:rerun-if-changed={file}");
    }
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");

    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));

    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml must parse");
    let env = |k: &str| std::env::var(k).expect(k);
    config.after_includes = Some(format!(
        "\n#define OFFHEAP_VERSION_MAJOR {}\n#define OFFHEAP_VERSION_MINOR {}\n#define OFFHEAP_VERSION_PATCH {}\n#define OFFHEAP_VERSION_STRING \"{}\"",
        env("CARGO_PKG_VERSION_MAJOR"),
        env("CARGO_PKG_VERSION_MINOR"),
        env("CARGO_PKG_VERSION_PATCH"),
        env("CARGO_PKG_VERSION"),
    ));

    let mut builder = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/ffi/mod.rs"));
    for file in CORE_SOURCES {
        builder = builder.with_src(crate_dir.join(file));
    }
    let bindings = builder
        .generate()
        .expect("cbindgen could not generate include/offheap.h");
    let mut text = Vec::new();
    bindings.write(&mut text);

    std::fs::write(out_dir.join("offheap.h"), &text).expect("write OUT_DIR/offheap.h");
    // target/<profile>/offheap.h: what `make header-check` compares the committed header with.
    if let Some(profile_dir) = out_dir.ancestors().nth(3) {
        let _ = std::fs::write(profile_dir.join("offheap.h"), &text);
    }
    write_if_changed(&crate_dir.join("include/offheap.h"), &text);
}

fn write_if_changed(path: &Path, text: &[u8]) {
    if std::fs::read(path).ok().as_deref() == Some(text) {
        return;
    }
    // A read-only source tree (a packaged crate) keeps its header; the check catches drift.
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(path, text);
}
