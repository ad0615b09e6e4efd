//! The headers C ABI through its real exported symbols: panics become statuses, bad
//! pointers are statuses, out-parameters are written only on success.

use offheap::ffi::*;

/// An empty `offheap_head` for the library to fill (the C struct has no `Default`).
fn empty_head() -> offheap_head {
    // SAFETY: offheap_head is a repr(C) struct of integers and integer arrays only, for which
    // all-zero bytes are a valid value.
    unsafe { std::mem::zeroed() }
}

/// The fields of a result, to compare (the C struct has no `PartialEq`).
fn fields(r: &offheap_headers_result) -> (u64, u64, u64) {
    (r.heads, r.headers, r.consumed)
}

const REQ: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
const RESP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

fn parse(
    request: bool,
    input: &[u8],
    heads: &mut [offheap_head],
    headers: &mut [offheap_header],
    r: &mut offheap_headers_result,
) -> offheap_status {
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
    let mut heads = [empty_head(); 2];
    let mut hs = [offheap_header::default(); 16];
    let mut r = offheap_headers_result::default();

    // Panics through every export become PANIC, and out-parameters stay untouched.
    for request in [true, false] {
        let input = if request { REQ } else { RESP };
        r = offheap_headers_result::default();
        offheap_debug_inject_panics(1);
        assert_eq!(
            parse(request, input, &mut heads, &mut hs, &mut r),
            offheap_status::Panic
        );
        assert_eq!(fields(&r), (0, 0, 0));
        assert_eq!(
            parse(request, input, &mut heads, &mut hs, &mut r),
            offheap_status::Ok
        );
        assert_eq!(r.heads, 1);
        let mut out = [0u8; 256];
        let mut written = usize::MAX;
        let opts = offheap_rewrite_options::default();
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
        offheap_debug_inject_panics(1);
        assert_eq!(call(&mut out, &mut written), offheap_status::Panic);
        assert_eq!(written, usize::MAX);
        assert_eq!(call(&mut out, &mut written), offheap_status::Ok);
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
    assert_eq!(st, offheap_status::NullPointer);
    let misaligned = (heads.as_mut_ptr() as *mut u8).wrapping_add(1) as *mut offheap_head;
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
    assert_eq!(st, offheap_status::MisalignedPointer);
    // (NULL, 0) input is an empty batch.
    assert_eq!(
        parse(true, &[], &mut heads, &mut hs, &mut r),
        offheap_status::Ok
    );
    assert_eq!(fields(&r), (0, 0, 0));
}
