//! Head parsing and rewriting in the `ffi` fuzz target: every span of a parsed head lies in the
//! input, and a rewritten head parses again.

use offheap::ffi::*;

use super::{Interp, Outcome, Program, or_null, or_null_mut, packed};

impl Interp {
    pub(super) fn op_headers_parse(&mut self, p: &mut Program) {
        const CANNED: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\nPOST /b HTTP/1.1\r\nHost: y\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let own;
        let input: &[u8] = match p.u8() % 3 {
            0 => CANNED,
            1 => {
                let cut = usize::from(p.u8()) % (CANNED.len() + 1);
                &CANNED[..cut]
            }
            _ => {
                own = p.bytes(200).to_vec();
                &own
            }
        };
        let responses = p.u8().is_multiple_of(4);
        let mut offsets = [0u32; 4];
        let noffsets = usize::from(p.u8() % 5);
        for o in offsets.iter_mut() {
            *o = u32::from(p.u8()) % (input.len() as u32 + 8);
        }
        let sorted = !p.u8().is_multiple_of(4);
        if sorted {
            offsets.sort_unstable();
        }
        let cfg = offheap_headers_config {
            max_head_len: [0, 40, 1 << 25][usize::from(p.u8() % 3)],
            max_headers: [0, 1, 300][usize::from(p.u8() % 3)],
            allow_bare_lf: p.u8() % 2,
            head_request: p.u8() % 2,
        };
        let null_cfg = p.u8().is_multiple_of(16);
        let nheads = usize::from(p.u8() % 9);
        let nhdrs = usize::from(p.u8() % 33);
        let null_arrays = p.u8().is_multiple_of(16);
        let mode = self.out_mode(p);
        let mut heads = [offheap_head::default(); 8];
        let mut hdrs = [offheap_header::default(); 32];
        let mut res = offheap_headers_result {
            heads: 999,
            ..Default::default()
        };
        let out = self.out_ptr(mode, &mut res);
        let hp = or_null_mut(null_arrays, heads.as_mut_ptr());
        let hdp = or_null_mut(null_arrays, hdrs.as_mut_ptr());
        let cp = or_null(null_cfg, &cfg);
        let op = or_null(noffsets == 0, offsets.as_ptr());
        let kind = if responses {
            offheap_head_kind::Response
        } else {
            offheap_head_kind::Request
        };
        // SAFETY: every array is NULL or valid for its length; `out` is NULL, misaligned or
        // points to `res`.
        let st = unsafe {
            offheap_headers_parse(
                kind as u32,
                input.as_ptr(),
                input.len(),
                op,
                noffsets,
                cp,
                hp,
                nheads,
                hdp,
                nhdrs,
                out,
            )
        };
        if self.check_outs(st, &[(mode, 8)]) != Outcome::Ran {
            return;
        }
        if null_arrays && (nheads > 0 || nhdrs > 0) {
            assert_eq!(
                st,
                offheap_status::NullPointer,
                "NULL head arrays with lengths"
            );
            return;
        }
        if st != offheap_status::Ok {
            assert_eq!(res.heads, 999, "result written on failure");
            return;
        }
        assert!(
            res.heads as usize <= nheads
                && res.headers as usize <= nhdrs
                && res.consumed as usize <= input.len()
        );
        for h in &heads[..res.heads as usize] {
            if h.status != offheap_status::Ok as u32 {
                continue;
            }
            let within =
                |off: u32, len: u32| (off as usize).saturating_add(len as usize) <= input.len();
            assert!(within(h.start, h.len), "head outside the input");
            assert!(within(h.method.off, h.method.len) && within(h.target.off, h.target.len));
            assert!(within(h.reason.off, h.reason.len));
            let (first, count) = (h.first_header as usize, h.header_count as usize);
            assert!(
                first + count <= res.headers as usize,
                "header records past the result"
            );
            for x in &hdrs[first..first + count] {
                assert!(
                    within(x.name_off, x.name_len) && within(x.value_off, x.value_len),
                    "header span outside the input"
                );
            }
            if !responses && self.last_head.is_none() && noffsets == 0 {
                self.last_head = Some((input.to_vec(), *h, hdrs[..res.headers as usize].to_vec()));
            }
        }
    }

    pub(super) fn op_headers_rewrite(&mut self, p: &mut Program) {
        let Some((input, head, hdrs)) = self.last_head.clone() else {
            return;
        };
        let (strings, [client_ip, proto, host, via]) =
            packed(["192.0.2.1", "https", "proxy.example", "fuzz-via"]);
        let mut opts = offheap_rewrite_options {
            client_ip,
            proto,
            host,
            via,
            set_host: p.u8() % 2,
            append_forwarded: p.u8() % 2,
            reserved: [0; 6],
        };
        let bad_span = p.u8().is_multiple_of(8);
        if bad_span {
            opts.via.len = 100;
        }
        let cap = [4096usize, 64, 0, 200][usize::from(p.u8() % 4)];
        let mut out = vec![0u8; 4096];
        let mut written = usize::MAX;
        // SAFETY: all spans and arrays are valid for their lengths.
        let st = unsafe {
            offheap_headers_rewrite_request(
                input.as_ptr(),
                input.len(),
                &head,
                hdrs.as_ptr(),
                hdrs.len(),
                strings.as_ptr(),
                strings.len(),
                &opts,
                out.as_mut_ptr(),
                cap,
                &mut written,
            )
        };
        if self.injected(st) {
            return;
        }
        if bad_span {
            assert_ne!(
                st,
                offheap_status::Ok,
                "an option span out of range accepted"
            );
        }
        if st == offheap_status::Ok {
            assert!(written <= cap);
            // The rewritten head parses again, complete.
            let cfg = offheap_headers_config::default();
            let mut heads = [offheap_head::default(); 1];
            let mut hs = [offheap_header::default(); 64];
            let mut res = offheap_headers_result::default();
            // SAFETY: every array is valid for its length.
            let st = unsafe {
                offheap_headers_parse(
                    offheap_head_kind::Request as u32,
                    out.as_ptr(),
                    written,
                    std::ptr::null(),
                    0,
                    &cfg,
                    heads.as_mut_ptr(),
                    1,
                    hs.as_mut_ptr(),
                    64,
                    &mut res,
                )
            };
            if !self.injected(st) {
                assert_eq!(st, offheap_status::Ok);
                assert!(
                    res.heads == 1 && heads[0].status == offheap_status::Ok as u32,
                    "a rewritten head does not parse: {:?}",
                    String::from_utf8_lossy(&out[..written])
                );
            }
        }
    }
}
