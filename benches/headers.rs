//! Header parsing: offheap's strict batched parser beside native httparse, in one run.
//!
//! Inputs are httparse's own benchmark requests: "kittyhell" (REQ, 703 B, 9 headers) and
//! REQ_SHORT (68 B). Every benchmark asserts its result before timing it.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use offheap::headers::{Body, Config, Head, HeaderSpan, parse_requests, parse_requests_at};

#[path = "../tests/common/requests.rs"]
mod requests;

use requests::{KITTYHELL as REQ, REQ_SHORT};

const BATCH: usize = 16;

/// Native httparse at its fastest: uninitialised header slots (no per-parse init), the
/// default config, spans only (no framing).
fn httparse_one(req: &[u8]) -> usize {
    let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; 16];
    let mut r = httparse::Request::new(&mut []);
    match r.parse_with_uninit_headers(req, &mut headers) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!("{other:?}"),
    }
}

fn bench_one(c: &mut Criterion, group: &str, req: &'static [u8], headers: usize) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(req.len() as u64));
    assert_eq!(httparse_one(req), req.len());
    g.bench_function("httparse", |b| b.iter(|| httparse_one(black_box(req))));

    let cfg = Config::default();
    let mut heads = [Head::default(); 1];
    let mut spans = [HeaderSpan::default(); 128];
    let batch = parse_requests(req, &cfg, &mut heads, &mut spans).unwrap();
    assert_eq!(
        (batch.heads, batch.headers, batch.consumed),
        (1, headers, req.len())
    );
    assert_eq!(heads[0].body(), Body::None);
    g.bench_function("offheap", |b| {
        b.iter(|| parse_requests(black_box(req), &cfg, &mut heads, &mut spans).map(|b| b.consumed))
    });
    g.finish();
}

/// BATCH pipelined copies: per-iteration time / BATCH is the per-request cost.
fn bench_batch(c: &mut Criterion, group: &str, req: &'static [u8], headers: usize) {
    let input = req.repeat(BATCH);
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("httparse_x16", |b| {
        b.iter(|| {
            let mut pos = 0;
            while pos < input.len() {
                pos += httparse_one(black_box(&input[pos..]));
            }
            pos
        })
    });
    let cfg = Config::default();
    let mut heads = [Head::default(); BATCH];
    let mut spans = vec![HeaderSpan::default(); BATCH * 16];
    let batch = parse_requests(&input, &cfg, &mut heads, &mut spans).unwrap();
    assert_eq!(
        (batch.heads, batch.headers, batch.consumed),
        (BATCH, BATCH * headers, input.len())
    );
    g.bench_function("offheap_pipelined_x16", |b| {
        b.iter(|| {
            parse_requests(black_box(&input), &cfg, &mut heads, &mut spans).map(|b| b.consumed)
        })
    });
    let offsets: Vec<u32> = (0..BATCH).map(|i| (i * req.len()) as u32).collect();
    let batch = parse_requests_at(&input, &offsets, &cfg, &mut heads, &mut spans).unwrap();
    assert_eq!((batch.heads, batch.headers), (BATCH, BATCH * headers));
    g.bench_function("offheap_offsets_x16", |b| {
        b.iter(|| {
            parse_requests_at(black_box(&input), &offsets, &cfg, &mut heads, &mut spans)
                .map(|b| b.headers)
        })
    });
    g.finish();
}

fn headers(c: &mut Criterion) {
    bench_one(c, "headers/kittyhell", REQ, 9);
    bench_one(c, "headers/req_short", REQ_SHORT, 2);
    bench_batch(c, "headers/kittyhell_batch", REQ, 9);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = headers
}
criterion_main!(benches);
