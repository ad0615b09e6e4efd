//! `offheap_engine_proxy_*`: the C ABI of the engine's reverse proxy. The engine's workers
//! accept on the listening sockets given to them and serve each client connection in Rust,
//! with upstream connections from their own pools; the caller configures it, reads its
//! counters, shuts it down, and answers the events it asked for (a head hook, upstream
//! failures), per worker.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, IntoRawFd};

use super::boundary::{FfiResult, guard};
use super::engine::{EngineObject, set_rewrite};
use super::handle;
use super::headers::{offheap_rewrite_options, rewrite_of};
use super::ptr::{self, guard_out};
use super::relay::{borrow_fd, relay_status};
use super::status::offheap_status;
use crate::engine::{
    Balance, ErrorCause, EventKind, ProxyConfig, ProxyCounters, ProxyEvent, ProxyTimeouts, Reply,
};
use crate::headers::Config;
use crate::relay;

/// One upstream of `offheap_engine_proxy_start`: an IPv4 or IPv6 address and a port.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_proxy_upstream {
    /// The address in network order: 4 bytes (then zeros) for IPv4, 16 for IPv6.
    pub addr: [u8; 16],
    /// The port.
    pub port: u16,
    /// 4 or 6.
    pub family: u8,
    /// Zero.
    pub reserved: u8,
}

/// `offheap_proxy_options.balance`: each upstream in turn.
pub const OFFHEAP_PROXY_ROUND_ROBIN: u32 = 0;
/// `offheap_proxy_options.balance`: the upstream with the fewest exchanges in progress.
pub const OFFHEAP_PROXY_LEAST_IN_FLIGHT: u32 = 1;
/// `offheap_proxy_options.flags`: every rewritten request head becomes an event
/// (`OFFHEAP_PROXY_EVENT_HOOK`) to answer before it is sent.
pub const OFFHEAP_PROXY_HOOK: u32 = 4;
/// `offheap_proxy_options.flags`: upstream failures become events
/// (`OFFHEAP_PROXY_EVENT_ERROR`) to answer, instead of the proxy's own 502 and 504.
pub const OFFHEAP_PROXY_ERROR_EVENTS: u32 = 8;

/// Options of `offheap_engine_proxy_start`. Milliseconds of 0 mean no deadline.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_proxy_options {
    /// `OFFHEAP_PROXY_ROUND_ROBIN` or `OFFHEAP_PROXY_LEAST_IN_FLIGHT`.
    pub balance: u32,
    /// Idle keep-alive connections kept per upstream, by each worker.
    pub max_idle_per_upstream: u32,
    /// How long an upstream that failed to connect is skipped (0: never).
    pub unhealthy_ms: u32,
    /// Connecting to an upstream.
    pub dial_ms: u32,
    /// Reading a request head once its first byte came (then 408).
    pub read_header_ms: u32,
    /// A client connection waiting for its next request (then closed).
    pub idle_ms: u32,
    /// Waiting for a response head after the request was sent (then 504).
    pub response_header_ms: u32,
    /// A head or body that moves no byte (then both connections close).
    pub body_ms: u32,
    /// The longest request or response head, in bytes (0: 1 MiB).
    pub max_head_len: u32,
    /// The most header lines in a head (0: 100; at most 254).
    pub max_headers: u32,
    /// `OFFHEAP_PROXY_*` flags.
    pub flags: u32,
    /// Connections open to each upstream, by each worker, at most (0: no limit); requests
    /// beyond it wait for one, at most `dial_ms` (then 502).
    pub max_conns_per_upstream: u32,
    /// The rewrite of every request head, its strings spans of the call's `strings`. The
    /// client address is each connection's own: `rewrite.client_ip` must be empty.
    pub rewrite: offheap_rewrite_options,
}

/// The proxy's counters (`offheap_engine_proxy_counters`): the engine's own `repr(C)`
/// record, which cbindgen exports under this name (`cbindgen.toml`).
pub use crate::engine::ProxyCounters as offheap_proxy_counters;

/// `offheap_proxy_event.kind`: a rewritten request head to answer with
/// `OFFHEAP_PROXY_REPLY_HEAD` (or a response).
pub const OFFHEAP_PROXY_EVENT_HOOK: u32 = 1;
/// `offheap_proxy_event.kind`: an upstream failure to answer with a response.
pub const OFFHEAP_PROXY_EVENT_ERROR: u32 = 2;
/// `offheap_proxy_event.cause`: no upstream could be connected to.
pub const OFFHEAP_PROXY_CAUSE_DIAL: u32 = 1;
/// `offheap_proxy_event.cause`: the upstream closed, reset or failed before a valid head.
pub const OFFHEAP_PROXY_CAUSE_UPSTREAM: u32 = 2;
/// `offheap_proxy_event.cause`: the response head did not come in time.
pub const OFFHEAP_PROXY_CAUSE_TIMEOUT: u32 = 3;

/// An exchange handed to the caller (`offheap_engine_proxy_events`). Its head is
/// `heads[head_off .. head_off + head_len]` of the caller's byte array.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_proxy_event {
    /// The connection, for `offheap_engine_proxy_reply`.
    pub token: u64,
    /// `OFFHEAP_PROXY_EVENT_HOOK` or `OFFHEAP_PROXY_EVENT_ERROR`.
    pub kind: u32,
    /// Errors: the status the proxy would answer (502, 504).
    pub status: u32,
    /// Errors: an `OFFHEAP_PROXY_CAUSE_*` value.
    pub cause: u32,
    /// Where the head starts in the heads array.
    pub head_off: u32,
    /// The head's length.
    pub head_len: u32,
    /// Zero.
    pub reserved: u32,
}

/// `offheap_engine_proxy_reply` kind: send the given head (none: the head as it was).
pub const OFFHEAP_PROXY_REPLY_HEAD: u32 = 1;
/// `offheap_engine_proxy_reply` kind: answer the client with the given response, then read
/// its next request.
pub const OFFHEAP_PROXY_REPLY_RESPOND: u32 = 2;
/// `offheap_engine_proxy_reply` kind: answer the client with the given response, then close.
pub const OFFHEAP_PROXY_REPLY_RESPOND_CLOSE: u32 = 3;

fn socket_addr(u: &offheap_proxy_upstream) -> FfiResult<SocketAddr> {
    let ip = match u.family {
        4 => IpAddr::V4(Ipv4Addr::new(u.addr[0], u.addr[1], u.addr[2], u.addr[3])),
        6 => IpAddr::V6(Ipv6Addr::from(u.addr)),
        _ => return Err(offheap_status::InvalidArgument),
    };
    Ok(SocketAddr::new(ip, u.port))
}

/// The proxy configuration of `offheap_engine_proxy_start`'s arguments.
fn config(
    o: &offheap_proxy_options,
    strings: &[u8],
    upstreams: &[offheap_proxy_upstream],
) -> FfiResult<ProxyConfig> {
    let rewrite = rewrite_of(&o.rewrite, strings)?;
    if !rewrite.client_ip.is_empty()
        || o.flags & !(OFFHEAP_PROXY_HOOK | OFFHEAP_PROXY_ERROR_EVENTS) != 0
        || o.balance > OFFHEAP_PROXY_LEAST_IN_FLIGHT
        || o.max_headers > crate::headers::MAX_HEADERS_LIMIT as u32
    {
        return Err(offheap_status::InvalidArgument);
    }
    let mut cfg = ProxyConfig {
        upstreams: upstreams
            .iter()
            .map(socket_addr)
            .collect::<FfiResult<_>>()?,
        balance: match o.balance {
            OFFHEAP_PROXY_ROUND_ROBIN => Balance::RoundRobin,
            _ => Balance::LeastInFlight,
        },
        max_idle_per_upstream: o.max_idle_per_upstream as usize,
        max_conns_per_upstream: o.max_conns_per_upstream as usize,
        unhealthy_ms: o.unhealthy_ms,
        timeouts: ProxyTimeouts {
            dial_ms: o.dial_ms,
            read_header_ms: o.read_header_ms,
            idle_ms: o.idle_ms,
            response_header_ms: o.response_header_ms,
            body_ms: o.body_ms,
        },
        error_events: o.flags & OFFHEAP_PROXY_ERROR_EVENTS != 0,
        ..ProxyConfig::default()
    };
    let s = &mut cfg.session;
    set_rewrite(s, &rewrite);
    s.hook = o.flags & OFFHEAP_PROXY_HOOK != 0;
    s.head = Config {
        max_head_len: match o.max_head_len {
            0 => s.head.max_head_len,
            n => n,
        },
        max_headers: match o.max_headers {
            0 => s.head.max_headers,
            n => n as u16,
        },
        ..s.head
    };
    Ok(cfg)
}

/// Makes the engine a reverse proxy to the `n` upstreams (at least one): its workers serve
/// the listeners given to `offheap_engine_proxy_listen`. Once per engine
/// (`OFFHEAP_STATUS_INVALID_ARGUMENT` the second time); its jobs run as before.
///
/// # Safety
/// `opts` NULL or valid for reading one `offheap_proxy_options`; `strings` NULL or valid for
/// reading `strings_len` bytes; `upstreams` NULL or valid for reading `n` upstreams.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_engine_proxy_start(
    engine: u64,
    opts: *const offheap_proxy_options,
    strings: *const u8,
    strings_len: usize,
    upstreams: *const offheap_proxy_upstream,
    n: usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: `ptr::one` needs `opts`, when not NULL, to point to one initialised
        // `offheap_proxy_options`, and `ptr::slice` needs `strings` and `upstreams` to hold
        // `strings_len` bytes and `n` upstreams (or be NULL with 0), all unchanged until the
        // call returns: this function's `# Safety` requires the three of its caller.
        let (o, strings, ups) = unsafe {
            (
                ptr::one(opts)?,
                ptr::slice(strings, strings_len)?,
                ptr::slice(upstreams, n)?,
            )
        };
        let cfg = config(o, strings, ups)?;
        let e = handle::get::<EngineObject>(engine)?;
        e.0.start_proxy(cfg).map_err(relay_status)
    })
}

/// Serves `fd`, a listening stream socket, with the proxy: the engine works on its own
/// duplicate (the caller may close `fd` once this returns; closing the caller's listener does
/// not stop the engine's). `worker` -1: every worker accepts on it (the kernel wakes one per
/// connection); 0 or more: only that worker (one `SO_REUSEPORT` socket per worker).
///
/// # Safety
/// `fd` open for the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_engine_proxy_listen(
    engine: u64,
    fd: i32,
    worker: i32,
) -> offheap_status {
    guard(|| {
        // SAFETY: `borrow_fd` needs `fd` open until this call returns, which this function's
        // `# Safety` requires of its caller; the borrow ends once the fd is duplicated.
        let l = unsafe { borrow_fd(fd) }?;
        let e = handle::get::<EngineObject>(engine)?;
        let worker = usize::try_from(worker).ok();
        let dup = relay::duplicate(l.as_fd()).map_err(relay_status)?;
        e.0.listen(dup, worker).map_err(relay_status)
    })
}

/// Writes the proxy's counters to `*out`.
///
/// # Safety
/// `out` NULL or valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_engine_proxy_counters(
    engine: u64,
    out: *mut ProxyCounters,
) -> offheap_status {
    let counters = || {
        let e = handle::get::<EngineObject>(engine)?;
        e.0.proxy_counters().map_err(relay_status)
    };
    // SAFETY: `guard_out` needs `out` NULL or valid for writing one `offheap_proxy_counters`
    // until the call returns, which this function's `# Safety` requires of its caller.
    unsafe { guard_out(out, counters) }
}

/// Graceful shutdown: the proxy's listeners close, idle client connections close now, the
/// others after the exchange in progress (its response says `Connection: close`). Watch
/// `conns_open` fall to 0, then free the engine, or `offheap_engine_proxy_close` the rest.
#[unsafe(no_mangle)]
pub extern "C" fn offheap_engine_proxy_shutdown(engine: u64) -> offheap_status {
    guard(|| {
        handle::get::<EngineObject>(engine)?
            .0
            .proxy_shutdown()
            .map_err(relay_status)
    })
}

/// Closes every connection of the proxy now.
#[unsafe(no_mangle)]
pub extern "C" fn offheap_engine_proxy_close(engine: u64) -> offheap_status {
    guard(|| {
        handle::get::<EngineObject>(engine)?
            .0
            .proxy_close()
            .map_err(relay_status)
    })
}

/// Writes to `*out_fd` a new fd (the caller owns and closes it) that is readable while
/// worker `worker` has events queued; then call `offheap_engine_proxy_events`.
///
/// # Safety
/// `out_fd` NULL or valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_engine_proxy_ready_fd(
    engine: u64,
    worker: u32,
    out_fd: *mut i32,
) -> offheap_status {
    let fd = || {
        let e = handle::get::<EngineObject>(engine)?;
        let fd = e.0.proxy_ready_fd(worker as usize).map_err(relay_status)?;
        let fd = relay::duplicate(fd).map_err(relay_status)?;
        Ok(fd.into_raw_fd())
    };
    // SAFETY: `guard_out` needs `out_fd` NULL or valid for writing one `int32_t` until the
    // call returns, which this function's `# Safety` requires of its caller.
    unsafe { guard_out(out_fd, fd) }
}

/// The C form of an event, its head at `off` in the caller's heads array.
fn c_event(ev: &ProxyEvent, off: usize) -> offheap_proxy_event {
    let (kind, status, cause) = match ev.kind {
        EventKind::Hook => (OFFHEAP_PROXY_EVENT_HOOK, 0, 0),
        EventKind::Error { status, cause } => (
            OFFHEAP_PROXY_EVENT_ERROR,
            u32::from(status),
            match cause {
                ErrorCause::Dial => OFFHEAP_PROXY_CAUSE_DIAL,
                ErrorCause::Upstream => OFFHEAP_PROXY_CAUSE_UPSTREAM,
                ErrorCause::Timeout => OFFHEAP_PROXY_CAUSE_TIMEOUT,
            },
        ),
    };
    offheap_proxy_event {
        token: ev.token,
        kind,
        status,
        cause,
        head_off: off as u32,
        head_len: ev.head.len() as u32,
        reserved: 0,
    }
}

/// Moves worker `worker`'s queued events into `out[0..]` (at most `cap`) and their heads
/// into `heads` (at most `heads_cap` bytes together); writes how many to `*out_n`. When not
/// even the first event's head fits, `*out_n` is 0 and `*out_needed` the bytes it needs (else
/// 0): call again with a larger heads array. Answer each event with
/// `offheap_engine_proxy_reply` on the same worker.
///
/// # Safety
/// `out` NULL or valid for writing `cap` events; `heads` NULL or valid for writing
/// `heads_cap` bytes; `out_n` and `out_needed` NULL or valid for one write each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_engine_proxy_events(
    engine: u64,
    worker: u32,
    out: *mut offheap_proxy_event,
    cap: usize,
    heads: *mut u8,
    heads_cap: usize,
    out_n: *mut usize,
    out_needed: *mut usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: `ptr::slice_mut` needs `out` to hold `cap` events and `heads` `heads_cap`
        // bytes that nothing else touches (either NULL with 0), and `ptr::out` needs `out_n`
        // and `out_needed` NULL or valid for one write, until the call returns: this
        // function's `# Safety` requires all four.
        let (dst, heads, out_n, out_needed) = unsafe {
            (
                ptr::slice_mut(out, cap)?,
                ptr::slice_mut(heads, heads_cap)?,
                ptr::out(out_n)?,
                ptr::out(out_needed)?,
            )
        };
        let e = handle::get::<EngineObject>(engine)?;
        let budget = heads.len().min(u32::MAX as usize);
        let mut evs = Vec::with_capacity(dst.len().min(64));
        let (n, needed) =
            e.0.proxy_events(worker as usize, &mut evs, dst.len(), budget)
                .map_err(relay_status)?;
        let mut off = 0;
        for (d, ev) in dst.iter_mut().zip(&evs) {
            heads[off..off + ev.head.len()].copy_from_slice(&ev.head);
            *d = c_event(ev, off);
            off += ev.head.len();
        }
        out_n.write(n);
        out_needed.write(needed);
        Ok(())
    })
}

/// Answers the event of connection `token` of worker `worker`: `OFFHEAP_PROXY_REPLY_HEAD`
/// with the head to send (`len` 0: the rewritten head as it was; hook events only),
/// `OFFHEAP_PROXY_REPLY_RESPOND` or `OFFHEAP_PROXY_REPLY_RESPOND_CLOSE` with a whole response
/// for the client. The bytes are copied. A reply about a connection that has moved on (it
/// closed, or a deadline passed) is ignored.
///
/// # Safety
/// `bytes` NULL or valid for reading `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_engine_proxy_reply(
    engine: u64,
    worker: u32,
    token: u64,
    kind: u32,
    bytes: *const u8,
    len: usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: `ptr::slice` needs `bytes` to hold `len` bytes (or be NULL with 0),
        // unchanged until the call returns, which this function's `# Safety` requires.
        let bytes = unsafe { ptr::slice(bytes, len) }?;
        let reply = match kind {
            OFFHEAP_PROXY_REPLY_HEAD => Reply::Head((!bytes.is_empty()).then(|| bytes.to_vec())),
            OFFHEAP_PROXY_REPLY_RESPOND | OFFHEAP_PROXY_REPLY_RESPOND_CLOSE => Reply::Respond {
                bytes: bytes.to_vec(),
                close: kind == OFFHEAP_PROXY_REPLY_RESPOND_CLOSE,
            },
            _ => return Err(offheap_status::InvalidArgument),
        };
        handle::get::<EngineObject>(engine)?
            .0
            .proxy_reply(worker as usize, token, reply)
            .map_err(relay_status)
    })
}

#[cfg(test)]
#[path = "engine_proxy_tests.rs"]
mod tests;
