//! The headers C ABI through its real exported symbols: panics become statuses, bad
//! pointers are statuses, out-parameters are written only on success.

use offheap::headers::{Head, HeaderSpan};

const OK: u32 = 0;
const PANIC: u32 = 1;
const NULL_POINTER: u32 = 3;
const MISALIGNED: u32 = 5;

#[repr(C)]
#[derive(Default, Clone, Copy, Debug, PartialEq)]
struct Result3 {
    heads: u64,
    headers: u64,
    consumed: u64,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct RewriteOptions {
    client_ip_off: u32,
    client_ip_len: u32,
    proto_off: u32,
    proto_len: u32,
    host_off: u32,
    host_len: u32,
    via_off: u32,
    via_len: u32,
    set_host: u8,
    append_forwarded: u8,
    reserved: [u8; 6],
}

// The C records are the core records (asserted in src/ffi/headers.rs), so the core types
// stand in for offheap_head and offheap_header here.
unsafe extern "C" {
    fn offheap_debug_inject_panics(count: u32);
    fn offheap_headers_parse_requests(
        input: *const u8,
        input_len: usize,
        offsets: *const u32,
        offsets_len: usize,
        cfg: *const u8,
        heads: *mut Head,
        heads_len: usize,
        headers: *mut HeaderSpan,
        headers_len: usize,
        result: *mut Result3,
    ) -> u32;
    fn offheap_headers_parse_responses(
        input: *const u8,
        input_len: usize,
        offsets: *const u32,
        offsets_len: usize,
        cfg: *const u8,
        heads: *mut Head,
        heads_len: usize,
        headers: *mut HeaderSpan,
        headers_len: usize,
        result: *mut Result3,
    ) -> u32;
    fn offheap_headers_rewrite_request(
        input: *const u8,
        input_len: usize,
        head: *const Head,
        headers: *const HeaderSpan,
        headers_len: usize,
        strings: *const u8,
        strings_len: usize,
        opts: *const RewriteOptions,
        out: *mut u8,
        out_len: usize,
        written: *mut usize,
    ) -> u32;
    fn offheap_headers_rewrite_response(
        input: *const u8,
        input_len: usize,
        head: *const Head,
        headers: *const HeaderSpan,
        headers_len: usize,
        via: *const u8,
        via_len: usize,
        out: *mut u8,
        out_len: usize,
        written: *mut usize,
    ) -> u32;
}

const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

fn parse(
    request: bool,
    input: &[u8],
    heads: &mut [Head],
    headers: &mut [HeaderSpan],
    r: &mut Result3,
) -> u32 {
    let f = if request {
        offheap_headers_parse_requests
    } else {
        offheap_headers_parse_responses
    };
    // SAFETY: every pointer is valid for its length.
    unsafe {
        f(
            input.as_ptr(),
            input.len(),
            std::ptr::null(),
            0,
            std::ptr::null(),
            heads.as_mut_ptr(),
            heads.len(),
            headers.as_mut_ptr(),
            headers.len(),
            r,
        )
    }
}

// One test function: injected panics are process-wide.
#[test]
fn contract() {
    let mut heads = [Head::default(); 2];
    let mut hs = [HeaderSpan::default(); 16];
    let mut r = Result3::default();

    // Panics through every export become PANIC, and out-parameters stay untouched.
    for request in [true, false] {
        let input = if request { REQ } else { RESP };
        r = Result3::default();
        // SAFETY: arming injected panics is always allowed.
        unsafe { offheap_debug_inject_panics(1) };
        assert_eq!(parse(request, input, &mut heads, &mut hs, &mut r), PANIC);
        assert_eq!(r, Result3::default());
        assert_eq!(parse(request, input, &mut heads, &mut hs, &mut r), OK);
        assert_eq!(r.heads, 1);
        let mut out = [0u8; 256];
        let mut written = usize::MAX;
        let opts = RewriteOptions::default();
        let call = |out: &mut [u8], written: &mut usize| {
            // SAFETY: `input`, `hs` and `out` are valid for the lengths passed, `heads[0]`,
            // `opts` and `written` are live, and the option strings are (NULL, 0).
            unsafe {
                if request {
                    offheap_headers_rewrite_request(
                        input.as_ptr(),
                        input.len(),
                        &heads[0],
                        hs.as_ptr(),
                        hs.len(),
                        std::ptr::null(),
                        0,
                        &opts,
                        out.as_mut_ptr(),
                        out.len(),
                        written,
                    )
                } else {
                    offheap_headers_rewrite_response(
                        input.as_ptr(),
                        input.len(),
                        &heads[0],
                        hs.as_ptr(),
                        hs.len(),
                        std::ptr::null(),
                        0,
                        out.as_mut_ptr(),
                        out.len(),
                        written,
                    )
                }
            }
        };
        // SAFETY: arming injected panics is always allowed.
        unsafe { offheap_debug_inject_panics(1) };
        assert_eq!(call(&mut out, &mut written), PANIC);
        assert_eq!(written, usize::MAX);
        assert_eq!(call(&mut out, &mut written), OK);
        let want: &[u8] = if request {
            b"GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-Host: a\r\n\r\n"
        } else {
            input
        };
        assert_eq!(&out[..written], want);
    }

    // Bad pointers are statuses.
    // SAFETY: NULL with a length is rejected before use.
    let st = unsafe {
        offheap_headers_parse_requests(
            REQ.as_ptr(),
            REQ.len(),
            std::ptr::null(),
            3,
            std::ptr::null(),
            heads.as_mut_ptr(),
            2,
            hs.as_mut_ptr(),
            16,
            &mut r,
        )
    };
    assert_eq!(st, NULL_POINTER);
    let misaligned = (heads.as_mut_ptr() as *mut u8).wrapping_add(1) as *mut Head;
    // SAFETY: the misaligned pointer is rejected before use.
    let st = unsafe {
        offheap_headers_parse_requests(
            REQ.as_ptr(),
            REQ.len(),
            std::ptr::null(),
            0,
            std::ptr::null(),
            misaligned,
            1,
            hs.as_mut_ptr(),
            16,
            &mut r,
        )
    };
    assert_eq!(st, MISALIGNED);
    // (NULL, 0) input is an empty batch.
    assert_eq!(parse(true, &[], &mut heads, &mut hs, &mut r), OK);
    assert_eq!(r, Result3::default());
}
