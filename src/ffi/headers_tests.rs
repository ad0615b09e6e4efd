//! Tests of the header parser's C ABI (`src/ffi/headers.rs`), calling the exports as C would.
use super::*;

const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n";

/// `offheap_headers_parse` of requests over `REQ` with `offsets`, the default config, and
/// the caller's arrays `heads` and `hs`.
fn parse_req(
    offsets: &[u32],
    heads: &mut [offheap_head],
    hs: &mut [offheap_header],
) -> (offheap_status, offheap_headers_result) {
    let mut r = offheap_headers_result::default();
    // SAFETY: every pointer comes from a slice passed with its own length, `r` is a live
    // local, and the written arrays are distinct borrows.
    let st = unsafe {
        offheap_headers_parse(
            offheap_head_kind::Request as u32,
            REQ.as_ptr(),
            REQ.len(),
            offsets.as_ptr(),
            offsets.len(),
            core::ptr::null(),
            heads.as_mut_ptr(),
            heads.len(),
            hs.as_mut_ptr(),
            hs.len(),
            &mut r,
        )
    };
    (st, r)
}

#[test]
fn parse_through_the_abi() {
    let mut heads = [offheap_head::default(); 4];
    let mut hs = [offheap_header::default(); 16];
    let (st, r) = parse_req(&[], &mut heads, &mut hs);
    assert_eq!(st, offheap_status::Ok);
    assert_eq!((r.heads, r.headers), (1, 2));
    assert_eq!(heads[0].status, 0);
    assert_eq!((heads[0].method.off, heads[0].method.len), (0, 3));
    assert_eq!(
        heads[0].flags & OFFHEAP_HEAD_CONNECTION_CLOSE,
        OFFHEAP_HEAD_CONNECTION_CLOSE
    );
    assert_eq!(heads[0].known[0], 0);

    let (st, r) = parse_req(&[0, 46], &mut heads, &mut hs);
    assert_eq!(st, offheap_status::Ok);
    assert_eq!(r.heads, 2);
    assert_eq!(heads[1].status, offheap_status::HeadersIncomplete as u32);

    // A kind that is neither requests nor responses is refused, with `*result` untouched.
    let mut r = offheap_headers_result {
        heads: 9,
        ..Default::default()
    };
    // SAFETY: every pointer comes from a slice passed with its own length; `r` is a live local.
    let st = unsafe {
        let (hp, sp) = (heads.as_mut_ptr(), hs.as_mut_ptr());
        offheap_headers_parse(
            2,
            REQ.as_ptr(),
            REQ.len(),
            core::ptr::null(),
            0,
            core::ptr::null(),
            hp,
            4,
            sp,
            16,
            &mut r,
        )
    };
    assert_eq!((st, r.heads), (offheap_status::InvalidArgument, 9));

    let mut out = [0u8; 128];
    let mut written = 0usize;
    let strings = b"10.0.0.1http";
    let opts = offheap_rewrite_options {
        client_ip: offheap_span { off: 0, len: 8 },
        proto: offheap_span { off: 8, len: 4 },
        ..Default::default()
    };
    // SAFETY: `REQ`, `hs`, `strings` and `out` are valid for the lengths passed (`out`
    // holds 128 bytes, 8 are offered), `heads[0]`, `opts` and `written` are live.
    let st = unsafe {
        offheap_headers_rewrite_request(
            REQ.as_ptr(),
            REQ.len(),
            &heads[0],
            hs.as_ptr(),
            16,
            strings.as_ptr(),
            strings.len(),
            &opts,
            out.as_mut_ptr(),
            8,
            &mut written,
        )
    };
    assert_eq!(st, offheap_status::BufferTooSmall);
    assert!(written > 8);
}

#[test]
fn bad_arguments_are_statuses() {
    let mut r = offheap_headers_result::default();
    // SAFETY: the NULL input with a length is rejected before any pointer is used; `r` is
    // a live local.
    let st = unsafe {
        offheap_headers_parse(
            offheap_head_kind::Request as u32,
            core::ptr::null(),
            5,
            core::ptr::null(),
            0,
            core::ptr::null(),
            core::ptr::null_mut(),
            0,
            core::ptr::null_mut(),
            0,
            &mut r,
        )
    };
    assert_eq!(st, offheap_status::NullPointer);
    let mut heads = [offheap_head::default(); 1];
    let (st, _) = parse_req(&[], &mut heads, &mut []);
    assert_eq!(st, offheap_status::BufferTooSmall);
}

#[test]
fn every_core_error_is_a_status() {
    for e in crate::headers::Error::ALL {
        let st = offheap_status::from_u32(e.code()).expect("status for every headers::Error");
        let message = crate::ffi::messages::message(st).to_bytes();
        assert!(message.starts_with(b"offheap headers: "));
    }
}
