//! The malicious-head corpus (tests/data/headers_corpus.tsv): every case gets exactly the
//! verdict the corpus names, and an error's offset points into the head.

use offheap::headers::{Config, Error, Head, HeaderSpan, parse_requests, parse_responses};

/// Unquotes a Go-quoted string with the escapes the corpus uses.
fn unquote(s: &str) -> Vec<u8> {
    let s = s
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .expect("quoted head");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        match b[i + 1] {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'\\' => out.push(b'\\'),
            b'"' => out.push(b'"'),
            b'x' => {
                let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            other => panic!("unknown escape {}", other as char),
        }
        i += 2;
    }
    out
}

pub struct Case {
    pub request: bool,
    pub name: String,
    pub expected: String,
    pub head: Vec<u8>,
}

fn corpus() -> Vec<Case> {
    let text = include_str!("data/headers_corpus.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 5, "line: {l}");
            Case {
                request: cols[0] == "req",
                name: cols[1].to_string(),
                expected: cols[2].to_string(),
                head: unquote(cols[4]),
            }
        })
        .collect()
}

fn verdict(case: &Case) -> (String, Head) {
    let mut heads = [Head::default(); 1];
    let mut headers = [HeaderSpan::default(); 256];
    let cfg = Config::default();
    let batch = if case.request {
        parse_requests(&case.head, &cfg, &mut heads, &mut headers)
    } else {
        parse_responses(&case.head, &cfg, false, &mut heads, &mut headers)
    }
    .unwrap();
    assert_eq!(batch.heads, 1, "{}", case.name);
    let head = heads[0];
    let v = match head.result() {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("{e:?}"),
    };
    (v, head)
}

#[test]
fn every_case_gets_its_verdict() {
    let cases = corpus();
    assert!(cases.len() > 60);
    let mut failures = Vec::new();
    for case in &cases {
        let (got, head) = verdict(case);
        if got != case.expected {
            failures.push(format!(
                "{}: expected {}, got {} at {}",
                case.name, case.expected, got, head.error_offset
            ));
        }
        if got == "ok" {
            assert_eq!(head.len as usize, case.head.len(), "{}", case.name);
        } else if got != "Incomplete" {
            assert!(
                (head.error_offset as usize) < case.head.len(),
                "{}",
                case.name
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_smuggling_rule_is_covered() {
    let cases = corpus();
    // Every rejection rule (all variants but the two size/partial outcomes, which are not
    // smuggling rules) needs a case in the corpus; a new rule without one fails here.
    for e in Error::ALL
        .into_iter()
        .filter(|e| !matches!(e, Error::Incomplete | Error::HeadTooLarge))
    {
        let name = format!("{e:?}");
        assert!(
            cases.iter().any(|c| c.expected == name),
            "no corpus case for {name}"
        );
    }
}
