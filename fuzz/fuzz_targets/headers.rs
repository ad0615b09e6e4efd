//! cargo-fuzz target `headers`. From the repository root:
//! `cargo +nightly fuzz run headers fuzz/corpus/headers fuzz/seeds/headers` (new inputs go
//! to the first directory; `fuzz/seeds/headers/` holds the malicious-head corpus).
//!
//! On any input: no panic; the parser agrees with httparse (a head both accept has the same
//! length and spans; anything httparse rejects is rejected with a line-grammar error) and
//! with the byte-at-a-time reference scanner (same error and offset); every span lies inside
//! the input; a rewritten head of an accepted request parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use offheap::headers::{
    Config, Error, Head, HeaderSpan, RewriteOptions, diagnose, parse_requests, parse_responses,
    rewrite_request, rewrite_response,
};

// The line-grammar errors, as the header tests define them (one list for both).
#[path = "../../tests/common/grammar.rs"]
mod grammar;

fuzz_target!(|data: &[u8]| {
    let cfg = Config::default();
    let mut heads = [Head::default(); 8];
    let mut spans = [HeaderSpan::default(); 512];
    let Ok(batch) = parse_requests(data, &cfg, &mut heads, &mut spans) else {
        return;
    };
    assert!(batch.consumed <= data.len());
    for head in &heads[..batch.heads] {
        let start = head.start as usize;
        let rest = &data[start..];
        if head.is_complete() {
            assert!(start + head.len as usize <= data.len());
            for h in head.headers(&spans) {
                assert!((h.value_off + h.value_len) as usize <= data.len());
                assert!((h.name_off + h.name_len) as usize <= data.len());
            }
            let mut out = vec![0u8; 4 * head.len as usize + 256];
            let opts = RewriteOptions {
                client_ip: b"192.0.2.1",
                proto: b"http",
                via: b"fuzz",
                ..Default::default()
            };
            let n = rewrite_request(data, head, &spans, &opts, &mut out).expect("rewrite fits");
            let mut again = [Head::default(); 1];
            let mut again_spans = [HeaderSpan::default(); 512];
            let b = parse_requests(
                &out[..n],
                &Config {
                    max_headers: 254,
                    max_head_len: 1 << 24,
                    ..cfg
                },
                &mut again,
                &mut again_spans,
            )
            .expect("reparse");
            assert_eq!(b.heads, 1);
            assert_eq!(
                again[0].result(),
                Ok(()),
                "rewritten head {:?}",
                String::from_utf8_lossy(&out[..n])
            );
        }
        // Differential against httparse, for the head at `start`.
        let mut hh = [httparse::EMPTY_HEADER; 100];
        let mut req = httparse::Request::new(&mut hh);
        let theirs = req.parse(&rest[..rest.len().min(cfg.max_head_len as usize)]);
        let ours = head.result();
        match theirs {
            Err(_) => assert!(
                ours.is_err_and(grammar::is_syntax),
                "httparse rejects, offheap {ours:?}"
            ),
            Ok(httparse::Status::Partial) => {
                assert!(
                    matches!(
                        ours,
                        Err(Error::Incomplete
                            | Error::HeadTooLarge
                            | Error::BareLf
                            | Error::Target)
                    ),
                    "{ours:?}"
                )
            }
            Ok(httparse::Status::Complete(n)) => {
                if ours.is_ok() {
                    assert_eq!(n, head.len as usize);
                    assert_eq!(req.headers.len(), head.header_count as usize);
                    for (a, b) in req.headers.iter().zip(head.headers(&spans)) {
                        assert_eq!(a.value, b.value(data));
                        assert_eq!(a.name.as_bytes(), b.name(data));
                    }
                }
            }
        }
        if let Err(e) = ours {
            if grammar::is_syntax(e) {
                let reference = diagnose(
                    &rest[..rest.len().min(cfg.max_head_len as usize)],
                    true,
                    &cfg,
                );
                assert_eq!(reference, Err((e, head.error_offset as usize - start)));
            }
        }
    }
    let Ok(batch) = parse_responses(data, &cfg, false, &mut heads, &mut spans) else {
        return;
    };
    for head in &heads[..batch.heads] {
        if head.is_complete() {
            let mut out = vec![0u8; 4 * head.len as usize + 256];
            rewrite_response(data, head, &spans, b"fuzz", &mut out).expect("rewrite fits");
        }
    }
});
