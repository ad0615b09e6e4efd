//! Every `offheap_<object>_new` export in include/offheap.h has an `offheap_<object>_free`, and
//! both are called (not only declared) somewhere in tests/ or fuzz/: no object kind can be
//! created without the tests also freeing it.

use std::path::PathBuf;

mod common;

use common::source::{files, root};

/// Whether `name(` appears in `text` as a call: not as `fn name(` (a declaration) and not as
/// a prototype in a header.
fn called(text: &str, name: &str) -> bool {
    let pat = format!("{name}(");
    text.match_indices(&pat).any(|(i, _)| {
        let before = &text[..i];
        let ident_before = before
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident_before
            && !before.trim_end().ends_with("fn")
            && !before.trim_end().ends_with("offheap_status")
    })
}

#[test]
fn every_new_has_a_free_and_both_are_exercised() {
    let root = root();
    let header = std::fs::read_to_string(root.join("include/offheap.h")).unwrap();
    let mut news: Vec<String> = header
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("offheap_") && w.ends_with("_new"))
        .map(str::to_owned)
        .collect();
    news.sort();
    news.dedup();
    assert!(news.len() >= 4, "found only {news:?} in the header");
    let exts = ["rs", "c", "go"];
    let sources = [
        files(&root.join("tests"), &exts),
        files(&root.join("fuzz"), &exts),
    ];
    let texts: Vec<(PathBuf, String)> = sources
        .into_iter()
        .flatten()
        .filter(|p| !p.ends_with("new_free_pairs.rs"))
        .filter_map(|p| std::fs::read_to_string(&p).ok().map(|t| (p, t)))
        .collect();
    let mut missing = Vec::new();
    for new in &news {
        let free = format!("{}_free", new.strip_suffix("_new").unwrap());
        if !header.contains(&format!("{free}(")) {
            missing.push(format!("{new} has no {free} in the header"));
            continue;
        }
        for f in [new.as_str(), free.as_str()] {
            if !texts.iter().any(|(_, t)| called(t, f)) {
                missing.push(format!("{f} is never called in tests/ or fuzz/"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
    eprintln!("new/free pairs exercised: {news:?}");
}

#[test]
fn declarations_do_not_count_as_calls() {
    assert!(!called(
        "    pub fn offheap_x_new(out: *mut u64) -> u32;",
        "offheap_x_new"
    ));
    assert!(!called(
        "offheap_status offheap_x_new(uint64_t *out);",
        "offheap_x_new"
    ));
    assert!(!called("my_offheap_x_new(1)", "offheap_x_new"));
    assert!(called("CHECK(offheap_x_new(&h));", "offheap_x_new"));
    assert!(called("unsafe { offheap_x_new(&mut h) }", "offheap_x_new"));
    assert!(called("C.offheap_x_new(&id)", "offheap_x_new"));
}
