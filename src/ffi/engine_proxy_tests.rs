//! Tests of the proxy's C ABI (`src/ffi/engine_proxy.rs`), calling the exports as C would.
use super::*;
use crate::ffi::engine::offheap_engine_free;
use crate::ffi::engine::tests::new_engine;
use crate::ffi::headers::offheap_span;
use crate::ffi::relay::tests::lock;
use crate::ffi::relay::{offheap_relay_counters, offheap_relay_global_stats};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

#[test]
fn panics_are_caught_in_proxy_exports() {
    let _l = lock();
    crate::ffi::boundary::offheap_debug_inject_panics(1);
    assert_eq!(offheap_engine_proxy_shutdown(1), offheap_status::Panic);
}

fn upstream_addr(l: &TcpListener) -> offheap_proxy_upstream {
    let a = l.local_addr().unwrap();
    let mut u = offheap_proxy_upstream {
        port: a.port(),
        family: 4,
        ..Default::default()
    };
    u.addr[..4].copy_from_slice(&[127, 0, 0, 1]);
    u
}

/// Starts the proxy of engine `e` with `flags` and `strings` ("http" then "edge" as Via).
fn start(e: u64, up: &offheap_proxy_upstream, flags: u32) -> offheap_status {
    let strings = b"httpedge";
    let opts = offheap_proxy_options {
        flags,
        rewrite: offheap_rewrite_options {
            proto: offheap_span { off: 0, len: 4 },
            via: offheap_span { off: 4, len: 4 },
            ..Default::default()
        },
        max_idle_per_upstream: 4,
        read_header_ms: 5000,
        ..Default::default()
    };
    // SAFETY: `opts`, `strings` and `up` are live locals of the sizes passed, unchanged for
    // the call.
    unsafe { offheap_engine_proxy_start(e, &opts, strings.as_ptr(), strings.len(), up, 1) }
}

#[test]
fn the_proxy_through_the_abi() {
    let _l = lock();
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let e = new_engine(2, 64);
    let bad = offheap_proxy_upstream {
        family: 5,
        ..Default::default()
    };
    assert_eq!(start(e, &bad, 0), offheap_status::InvalidArgument);
    // Unknown flags, and the bits that were SET_HOST and APPEND_FORWARDED before the rewrite
    // had its own record, are refused.
    for flags in [1 << 9, 1, 2] {
        assert_eq!(
            start(e, &upstream_addr(&up), flags),
            offheap_status::InvalidArgument
        );
    }
    // So are a client address (each connection's own) and a span past the strings.
    for rewrite in [
        offheap_rewrite_options {
            client_ip: offheap_span { off: 0, len: 1 },
            ..Default::default()
        },
        offheap_rewrite_options {
            via: offheap_span { off: 2, len: 9 },
            ..Default::default()
        },
    ] {
        let opts = offheap_proxy_options {
            rewrite,
            ..Default::default()
        };
        let (u, strings) = (upstream_addr(&up), b"httpedge");
        // SAFETY: `opts`, `strings` and `u` are live locals of the sizes passed.
        let st = unsafe { offheap_engine_proxy_start(e, &opts, strings.as_ptr(), 8, &u, 1) };
        assert_eq!(st, offheap_status::InvalidArgument);
    }
    assert_eq!(
        start(e, &upstream_addr(&up), OFFHEAP_PROXY_HOOK),
        offheap_status::Ok
    );
    assert_eq!(
        start(e, &upstream_addr(&up), 0),
        offheap_status::InvalidArgument
    );
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    // SAFETY: the listener's fd is open for the call.
    let st = unsafe { offheap_engine_proxy_listen(e, ln.as_raw_fd(), -1) };
    assert_eq!(st, offheap_status::Ok);
    drop(ln); // the engine serves its own duplicate
    let mut fd = -1;
    // SAFETY: `fd` is a live i32, valid for one write.
    let st = unsafe { offheap_engine_proxy_ready_fd(e, 0, &mut fd) };
    assert_eq!(st, offheap_status::Ok);
    // SAFETY: the fd was just created for the caller, who owns it: closing it is ours.
    unsafe { libc::close(fd) };

    let mut client = TcpStream::connect(addr).unwrap();
    client
        .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // The hook event: a heads array too small first, then one that fits.
    let mut evs = [offheap_proxy_event::default(); 4];
    let mut heads = vec![0u8; 8];
    let (mut n, mut needed, mut worker) = (0usize, 0usize, 0u32);
    let start_t = Instant::now();
    while needed == 0 {
        assert!(start_t.elapsed() < Duration::from_secs(10), "no event");
        worker = 1 - worker;
        // SAFETY: `evs` and `heads` are live arrays of the lengths passed; `n` and `needed`
        // are live locals for one write each.
        let st = unsafe {
            offheap_engine_proxy_events(
                e,
                worker,
                evs.as_mut_ptr(),
                4,
                heads.as_mut_ptr(),
                8,
                &mut n,
                &mut needed,
            )
        };
        assert_eq!((st, n), (offheap_status::Ok, 0));
        std::thread::sleep(Duration::from_millis(1));
    }
    heads.resize(needed, 0);
    // SAFETY: as above, with the grown heads array.
    let st = unsafe {
        offheap_engine_proxy_events(
            e,
            worker,
            evs.as_mut_ptr(),
            4,
            heads.as_mut_ptr(),
            needed,
            &mut n,
            &mut needed,
        )
    };
    assert_eq!((st, n, needed), (offheap_status::Ok, 1, 0));
    assert_eq!(evs[0].kind, OFFHEAP_PROXY_EVENT_HOOK);
    let head = &heads[evs[0].head_off as usize..][..evs[0].head_len as usize];
    assert!(head.starts_with(b"GET /a HTTP/1.1\r\n") && head.ends_with(b"Via: 1.1 edge\r\n\r\n"));
    // The connection holds its head in a small buffer until the hook's reply: the process-wide
    // relay counters show it.
    let mut rc = offheap_relay_counters::default();
    // SAFETY: `rc` is a live struct, valid for one write.
    let st = unsafe { offheap_relay_global_stats(&mut rc) };
    assert_eq!(st, offheap_status::Ok);
    assert!(rc.small_buffers_live >= 1, "{rc:?}");
    assert!(
        rc.buffers_live >= rc.small_buffers_live + rc.bulk_buffers_live,
        "{rc:?}"
    );
    // Answer it ourselves.
    let resp = b"HTTP/1.1 204 No Content\r\n\r\n";
    // SAFETY: `resp` holds the length passed for the call.
    let st = unsafe {
        offheap_engine_proxy_reply(e, worker, evs[0].token, 9, resp.as_ptr(), resp.len())
    };
    assert_eq!(st, offheap_status::InvalidArgument);
    // SAFETY: as above.
    let st = unsafe {
        offheap_engine_proxy_reply(
            e,
            worker,
            evs[0].token,
            OFFHEAP_PROXY_REPLY_RESPOND,
            resp.as_ptr(),
            resp.len(),
        )
    };
    assert_eq!(st, offheap_status::Ok);
    let mut got = [0u8; 64];
    let k = client.read(&mut got).unwrap();
    assert_eq!(&got[..k], resp);

    let mut c = offheap_proxy_counters::default();
    // SAFETY: `c` is a live struct, valid for one write.
    let st = unsafe { offheap_engine_proxy_counters(e, &mut c) };
    assert_eq!(st, offheap_status::Ok);
    assert_eq!((c.conns_accepted, c.events, c.requests), (1, 1, 0));
    assert_eq!(offheap_engine_proxy_shutdown(e), offheap_status::Ok);
    assert_eq!(offheap_engine_proxy_close(e), offheap_status::Ok);
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    assert_eq!(offheap_engine_free(e), offheap_status::Ok);
    // A freed engine, or one never started as a proxy.
    assert_eq!(offheap_engine_proxy_close(e), offheap_status::InvalidHandle);
    let e = new_engine(2, 64);
    assert_eq!(
        offheap_engine_proxy_shutdown(e),
        offheap_status::InvalidArgument
    );
    assert_eq!(offheap_engine_free(e), offheap_status::Ok);
}
