//! The headers C ABI through its real exported symbols: panics become statuses, bad
//! pointers are statuses, out-parameters are written only on success.

use offheap::ffi::*;

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
    // SAFETY: `heads` is valid for heads.len() records and no offsets are passed.
    unsafe {
        parse_raw(
            request,
            input,
            0,
            heads.as_mut_ptr(),
            heads.len(),
            headers,
            r,
        )
    }
}

/// Parses `input` with no offsets array (NULL, `offsets_len`) and no configuration (NULL: the
/// defaults) into `heads` (`heads_len` records) and `headers`.
///
/// # Safety
/// `heads` is valid for writing `heads_len` records, or is misaligned (refused before use);
/// a non-zero `offsets_len` is refused (NULL with a length).
unsafe fn parse_raw(
    request: bool,
    input: &[u8],
    offsets_len: usize,
    heads: *mut offheap_head,
    heads_len: usize,
    headers: &mut [offheap_header],
    r: &mut offheap_headers_result,
) -> offheap_status {
    let kind = if request {
        offheap_head_kind::Request
    } else {
        offheap_head_kind::Response
    };
    let (hp, hn) = (headers.as_mut_ptr(), headers.len());
    let none = std::ptr::null();
    // SAFETY: the input and the header records are valid for their lengths, `heads` as this
    // function's `# Safety` requires; the offsets are NULL (refused when `offsets_len` > 0).
    unsafe {
        offheap_headers_parse(
            kind as u32,
            input.as_ptr(),
            input.len(),
            none,
            offsets_len,
            std::ptr::null(),
            heads,
            heads_len,
            hp,
            hn,
            r,
        )
    }
}

// One test function: injected panics are process-wide.
#[test]
fn contract() {
    let mut heads = [offheap_head::default(); 2];
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
            let (ip, il, head) = (input.as_ptr(), input.len(), &heads[0]);
            let (hp, hn, op, ol) = (hs.as_ptr(), hs.len(), out.as_mut_ptr(), out.len());
            let none = std::ptr::null();
            // SAFETY: `input`, `hs` and `out` are valid for the lengths passed, `heads[0]`,
            // `opts` and `written` are live, and the option strings are (NULL, 0).
            unsafe {
                if request {
                    offheap_headers_rewrite_request(
                        ip, il, head, hp, hn, none, 0, &opts, op, ol, written,
                    )
                } else {
                    offheap_headers_rewrite_response(ip, il, head, hp, hn, none, 0, op, ol, written)
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
    // SAFETY: `heads` is valid for 2 records; the NULL offsets with a length are refused.
    let st = unsafe { parse_raw(true, REQ, 3, heads.as_mut_ptr(), 2, &mut hs, &mut r) };
    assert_eq!(st, offheap_status::NullPointer);
    let misaligned = (heads.as_mut_ptr() as *mut u8).wrapping_add(1) as *mut offheap_head;
    // SAFETY: the misaligned head records are refused before use.
    let st = unsafe { parse_raw(true, REQ, 0, misaligned, 1, &mut hs, &mut r) };
    assert_eq!(st, offheap_status::MisalignedPointer);
    // (NULL, 0) input is an empty batch.
    assert_eq!(
        parse(true, &[], &mut heads, &mut hs, &mut r),
        offheap_status::Ok
    );
    assert_eq!(fields(&r), (0, 0, 0));
}
