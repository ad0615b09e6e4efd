//! Every Rust caller of the C ABI (tests/, fuzz/, benches/, examples/) uses the library's own
//! declarations, `offheap::ffi`: no `extern "C"` block of its own, no `#[repr(C)]` copy of a
//! header struct, no constant holding a status number. A copy is a second source of the ABI
//! that can drift from include/offheap.h without a compiler noticing (one did: the fuzz
//! harness's short copy of `offheap_relay_counters`, caught only by AddressSanitizer).

mod common;

use common::source::{files, root};

/// The status names of the header: `OK` for `OFFHEAP_STATUS_OK`, and so on.
fn status_names(header: &str) -> Vec<String> {
    let mut names: Vec<String> = header
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter_map(|w| w.strip_prefix("OFFHEAP_STATUS_"))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The lines of `text` that declare part of the ABI again: an `extern "C"` block, a
/// `#[repr(C)]` type, or a constant named after a status.
fn copies(text: &str, statuses: &[String]) -> Vec<String> {
    let status_const = |line: &str| {
        let Some(rest) = line
            .strip_prefix("pub const ")
            .or_else(|| line.strip_prefix("const "))
        else {
            return false;
        };
        let name = rest.split(':').next().unwrap_or("").trim();
        let name = name.strip_prefix("OFFHEAP_STATUS_").unwrap_or(name);
        statuses.iter().any(|s| s == name)
    };
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let line = line.trim();
            let compact: String = line.split_whitespace().collect();
            compact.contains("extern\"C\"{") || line.starts_with("#[repr(C") || status_const(line)
        })
        .map(|(i, line)| format!("{}: {}", i + 1, line.trim()))
        .collect()
}

#[test]
fn rust_callers_use_the_librarys_declarations() {
    let root = root();
    let header = std::fs::read_to_string(root.join("include/offheap.h")).unwrap();
    let statuses = status_names(&header);
    assert!(
        statuses.len() > 20 && statuses.iter().any(|s| s == "INVALID_HANDLE"),
        "status names not found in the header: {statuses:?}"
    );
    let mut found = Vec::new();
    let mut read = 0;
    for dir in ["tests", "fuzz", "benches", "examples"] {
        for path in files(&root.join(dir), &["rs"]) {
            if path.ends_with("tests/callers_ffi.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            read += 1;
            for line in copies(&text, &statuses) {
                found.push(format!("{}:{line}", path.display()));
            }
        }
    }
    assert!(read > 20, "only {read} Rust files read");
    assert!(
        found.is_empty(),
        "declare nothing of the C ABI again: use offheap::ffi (its functions, repr(C) types, \
         offheap_status and constants) instead of\n{}",
        found.join("\n")
    );
}

#[test]
fn what_counts_as_a_copy() {
    let statuses = status_names("OFFHEAP_STATUS_OK = 0,\n  OFFHEAP_STATUS_INVALID_HANDLE = 2,");
    assert_eq!(statuses, ["INVALID_HANDLE", "OK"]);
    let copy = |line: &str| copies(line, &statuses).len() == 1;
    assert!(copy("unsafe extern \"C\" {"));
    assert!(copy("extern \"C\"{"));
    assert!(copy("#[repr(C)]"));
    assert!(copy("    #[repr(C, align(8))]"));
    assert!(copy("const OK: u32 = 0;"));
    assert!(copy("pub const INVALID_HANDLE: u32 = 2;"));
    assert!(copy("const OFFHEAP_STATUS_OK: u32 = 0;"));
    assert!(!copy("use offheap::ffi::*;"));
    assert!(!copy("pub extern \"C\" fn callback(x: u32) -> u32 {"));
    assert!(!copy("const LIMIT: u32 = 4;"));
    assert!(!copy("assert_eq!(st, offheap_status::InvalidHandle);"));
}
