//! `offheap_engine_*`: the C ABI of the HTTP engine, worker threads that run relays,
//! tunnels and HTTP/1.1 keep-alive sessions over their own duplicates of the caller's fds and
//! hand back completions in batches (a ready fd to wait on, one poll call per batch).
//!
//! Fds are borrowed for the call only, as in `offheap_relay_*`: the engine duplicates what it
//! keeps, and gives a session job's duplicates back in its completion.

use std::collections::HashMap;
use std::os::fd::IntoRawFd;

use parking_lot::Mutex;

use super::boundary::{FfiResult, guard};
use super::buffer::BufferObject;
use super::handle::{self, HandleObject, offheap_kind};
use super::headers::{offheap_rewrite_options, rewrite_of};
use super::ptr::{self, guard_out};
use super::relay::{borrow_fd, options, relay_status};
use super::status::offheap_status;
use crate::engine::{
    self, Completion, Engine, EngineConfig, Job, Session, SessionOptions, SessionTimeouts, Stop,
};
use crate::headers::RewriteOptions;
use crate::relay::{self, Buffer};

/// An engine behind a handle, with the Buffer handles of its session jobs in flight (by job
/// id: client buffer, upstream buffer), into which `offheap_engine_poll` puts their storage
/// back.
pub(super) struct EngineObject(pub(super) Engine, Mutex<HashMap<u64, (u64, u64)>>);

impl HandleObject for EngineObject {
    const KIND: offheap_kind = offheap_kind::Engine;
}

/// One finished engine job, as returned by `offheap_engine_poll`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_engine_completion {
    /// The id given at submission.
    pub id: u64,
    /// Bytes written `src` → `dst` (tunnels: `a` → `b`).
    pub bytes_forward: u64,
    /// Bytes written `b` → `a` (tunnels only).
    pub bytes_backward: u64,
    /// Of both, bytes moved with splice(2).
    pub spliced: u64,
    /// Of both, bytes copied through Rust-owned buffers.
    pub copied: u64,
    /// `OFFHEAP_STATUS_OK` or the relay error that ended the job.
    pub status: u32,
    /// The OS error number behind `OFFHEAP_STATUS_RELAY_IO`, else 0.
    pub os_errno: i32,
    /// Session jobs: an `offheap_session_stop` value; `NONE` for other jobs.
    pub session_stop: u32,
    /// Session jobs: `OFFHEAP_SESSION_*` bits.
    pub session_flags: u32,
    /// Session jobs: requests forwarded in full.
    pub requests: u64,
    /// Session jobs: responses relayed in full.
    pub responses: u64,
    /// Session jobs: the client connection, given back (a descriptor the caller now owns and
    /// must close); -1 for other jobs.
    pub client_fd: i32,
    /// Session jobs: the upstream connection, given back likewise; -1 for other jobs.
    pub upstream_fd: i32,
}

/// How a session job ended (`offheap_engine_completion.session_stop`); see
/// `offheap_engine_submit_session`.
#[allow(non_camel_case_types, dead_code)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum offheap_session_stop {
    /// Not a session job.
    None = 0,
    /// The client closed (or failed) between requests.
    ClientClosed = 1,
    /// The next request is the caller's: its bytes (maybe none yet) start the client buffer,
    /// nothing of it was sent.
    Request = 2,
    /// The request was sent; its response is the caller's, its bytes so far start the
    /// upstream buffer.
    Response = 3,
    /// An exchange completed and the client connection closes (it asked to).
    Done = 4,
    /// Failed in the middle of an exchange (`status` says why): close both connections.
    Failed = 5,
    /// The upstream switched protocols and the `101` went to the client: the connections are
    /// a tunnel (proxy-mode sessions only).
    Upgraded = 6,
}

/// `session_flags`: the upstream connection is idle and may carry another request.
pub const OFFHEAP_SESSION_UPSTREAM_REUSABLE: u32 = 1;
/// `session_flags`: the exchange in progress is for a HEAD request.
pub const OFFHEAP_SESSION_HEAD_METHOD: u32 = 2;
/// `session_flags`: the client connection closes after the exchange in progress.
pub const OFFHEAP_SESSION_CLOSE_CLIENT: u32 = 4;
/// Options of `offheap_engine_submit_session`: how heads are rewritten (its strings are spans
/// of the call's `strings`) and when the engine gives up waiting.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_session_options {
    /// The rewrite of every request head, as `offheap_headers_rewrite_request` does it.
    pub rewrite: offheap_rewrite_options,
    /// Milliseconds a session waits for a request before it stops with `REQUEST` (0: forever).
    pub request_ms: u32,
    /// Milliseconds a session waits for a response head before it stops with `RESPONSE`.
    pub response_ms: u32,
    /// Milliseconds a head or body may make no progress before the session fails.
    pub stall_ms: u32,
}

/// Sets the rewrite of a session's options: what sessions and the proxy take from an
/// `offheap_rewrite_options`.
pub(super) fn set_rewrite(s: &mut SessionOptions, r: &RewriteOptions<'_>) {
    s.client_ip = r.client_ip.to_vec();
    s.proto = r.proto.to_vec();
    s.host = r.host.map(<[u8]>::to_vec);
    s.via = r.via.to_vec();
    s.append_forwarded = r.append_forwarded;
}

/// Starts a relay engine with `workers` threads (1-64) and room for `max_jobs` jobs in
/// flight; writes its handle to `*out`.
///
/// # Safety
/// `out` must be NULL or valid for writing one `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_engine_new(
    workers: u32,
    max_jobs: u32,
    out: *mut u64,
) -> offheap_status {
    let engine = || {
        let cfg = EngineConfig {
            workers: workers as usize,
            max_jobs: max_jobs as usize,
        };
        let engine = Engine::new(cfg).map_err(relay_status)?;
        handle::insert(EngineObject(engine, Mutex::new(HashMap::new())))
    };
    // SAFETY: `guard_out` needs `out` NULL or valid for writing one `uint64_t` until the call
    // returns, which this function's `# Safety` requires of its caller.
    unsafe { guard_out(out, engine) }
}

/// Writes to `*out_fd` a new fd (the caller owns and closes it) that is readable while
/// completions are queued. Reading 8 bytes from it resets it; then call `offheap_engine_poll`.
///
/// # Safety
/// `out_fd` NULL or valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_engine_ready_fd(engine: u64, out_fd: *mut i32) -> offheap_status {
    let fd = || {
        let e = handle::get::<EngineObject>(engine)?;
        let fd = relay::duplicate(e.0.ready_fd()).map_err(relay_status)?;
        Ok(fd.into_raw_fd())
    };
    // SAFETY: `guard_out` needs `out_fd` NULL or valid for writing one `int32_t` until the
    // call returns, which this function's `# Safety` requires of its caller.
    unsafe { guard_out(out_fd, fd) }
}

/// `framing` value of `offheap_engine_submit` for a bidirectional tunnel with half-close.
pub const OFFHEAP_ENGINE_TUNNEL: u32 = 0xffff_ffff;

/// Hands the engine a job: a tunnel between `fd_a` and `fd_b` (`framing` =
/// `OFFHEAP_ENGINE_TUNNEL`), or one body from `fd_a` to `fd_b` with `framing`/`length`/`flags` as in
/// `offheap_relay_new`. The engine relays over its own duplicates of the fds, so the caller
/// may close its fds once this returns. The job's completion carries `id`.
///
/// # Safety
/// `fd_a` and `fd_b` open for the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_engine_submit(
    engine: u64,
    id: u64,
    fd_a: i32,
    fd_b: i32,
    framing: u32,
    length: u64,
    flags: u32,
) -> offheap_status {
    guard(|| {
        // Negative fds are refused before the handle is looked at.
        // SAFETY: `borrow_fd` needs `fd_a` and `fd_b` open until this call returns, which
        // this function's `# Safety` requires of its caller.
        unsafe { (borrow_fd(fd_a)?, borrow_fd(fd_b)?) };
        let e = handle::get::<EngineObject>(engine)?;
        // SAFETY: `engine_job` needs `fd_a` and `fd_b` open until this call returns, which
        // this function's `# Safety` requires of its caller.
        let job = unsafe { engine_job(fd_a, fd_b, framing, length, flags) }?;
        e.0.submit(id, job).map_err(relay_status)
    })
}

/// Most jobs one `offheap_engine_submit_batch` call takes.
pub const OFFHEAP_ENGINE_MAX_BATCH: usize = 1024;

/// One job of `offheap_engine_submit_batch`: the arguments of `offheap_engine_submit`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_engine_job {
    /// The id its completion carries.
    pub id: u64,
    /// Tunnels: one side. Bodies: the source.
    pub fd_a: i32,
    /// Tunnels: the other side. Bodies: the destination.
    pub fd_b: i32,
    /// `OFFHEAP_ENGINE_TUNNEL`, or the body's framing as in `offheap_relay_new`.
    pub framing: u32,
    /// `offheap_relay_new` flags (bodies).
    pub flags: u32,
    /// The body length for `OFFHEAP_FRAMING_EXACT`.
    pub length: u64,
}

/// The job `offheap_engine_submit` would build from these arguments, over duplicated fds.
///
/// # Safety
/// `fd_a` and `fd_b` must be negative (refused) or stay open until the export that calls this
/// returns.
unsafe fn engine_job(
    fd_a: i32,
    fd_b: i32,
    framing: u32,
    length: u64,
    flags: u32,
) -> FfiResult<Job> {
    // SAFETY: `borrow_fd` needs `fd_a` and `fd_b` open until the calling export returns,
    // which this function's `# Safety` requires of its caller; the borrows end here, once the
    // fds are duplicated.
    let (a, b) = unsafe { (borrow_fd(fd_a)?, borrow_fd(fd_b)?) };
    let opts = if framing == OFFHEAP_ENGINE_TUNNEL {
        None
    } else {
        Some(options(framing, length, flags)?)
    };
    let (a, b) = (
        relay::duplicate(a).map_err(relay_status)?,
        relay::duplicate(b).map_err(relay_status)?,
    );
    Ok(match opts {
        None => Job::Tunnel { a, b },
        Some(opts) => Job::Body {
            src: a,
            dst: b,
            opts,
        },
    })
}

/// Hands the engine `n` jobs (at most `OFFHEAP_ENGINE_MAX_BATCH`) in one call; each worker
/// that gets jobs is woken once. Each job is taken or refused on its own: `statuses[i]` is
/// what `offheap_engine_submit` would have returned for `jobs[i]`, and `*accepted` counts the
/// jobs taken (statuses are `offheap_status` values, as `uint32_t`). The call itself returns
/// `OFFHEAP_STATUS_OK` unless its arguments are wrong (`OFFHEAP_STATUS_TOO_LARGE` for more
/// than `OFFHEAP_ENGINE_MAX_BATCH` jobs); then no job is taken. As with
/// `offheap_engine_submit`, the caller may close its fds once this returns.
///
/// # Safety
/// `jobs` and `statuses` point to `n` elements (or are NULL with `n == 0`); every fd in
/// `jobs` is open for the call; `accepted` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_engine_submit_batch(
    engine: u64,
    jobs: *const offheap_engine_job,
    n: usize,
    statuses: *mut u32,
    accepted: *mut usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: until the call returns, `ptr::slice` needs `jobs` to hold `n` initialised
        // jobs left unchanged, `ptr::slice_mut` needs `statuses` to hold `n` u32 that nothing
        // else touches (either may be NULL with `n` 0), and `ptr::out` needs `accepted` NULL
        // or valid for one write: this function's `# Safety` requires all three.
        let (jobs, statuses, accepted) = unsafe {
            (
                ptr::slice(jobs, n)?,
                ptr::slice_mut(statuses, n)?,
                ptr::out(accepted)?,
            )
        };
        if jobs.len() > OFFHEAP_ENGINE_MAX_BATCH {
            return Err(offheap_status::TooLarge);
        }
        let e = handle::get::<EngineObject>(engine)?;
        let mut ready = Vec::with_capacity(jobs.len());
        for (k, (j, st)) in jobs.iter().zip(statuses.iter_mut()).enumerate() {
            // SAFETY: `engine_job` needs the job's two fds negative or open until this call
            // returns: this function's `# Safety` requires every fd in `jobs` open for it.
            match unsafe { engine_job(j.fd_a, j.fd_b, j.framing, j.length, j.flags) } {
                Ok(job) => {
                    *st = offheap_status::Ok as u32;
                    ready.push((k, j.id, job));
                }
                Err(code) => *st = code as u32,
            }
        }
        let mut taken = 0usize;
        e.0.submit_batch(ready, |k, result| match result {
            Ok(()) => taken += 1,
            Err(err) => {
                if let Some(st) = statuses.get_mut(k) {
                    *st = relay_status(err) as u32;
                }
            }
        });
        accepted.write(taken);
        Ok(())
    })
}

/// Fills the session fields of a completion from how its session ended.
fn session_completion(d: &mut offheap_engine_completion, end: &engine::SessionEnd) {
    use offheap_session_stop as S;
    let (stop, reusable) = match end.stop {
        Stop::ClientClosed { upstream_reusable } => (S::ClientClosed, upstream_reusable),
        Stop::Request { upstream_reusable } => (S::Request, upstream_reusable),
        Stop::Response => (S::Response, false),
        Stop::Done { upstream_reusable } => (S::Done, upstream_reusable),
        Stop::Failed(_) => (S::Failed, false),
        Stop::Upgraded => (S::Upgraded, false),
    };
    d.session_stop = stop as u32;
    let bit = |on: bool, flag: u32| if on { flag } else { 0 };
    d.session_flags = bit(reusable, OFFHEAP_SESSION_UPSTREAM_REUSABLE)
        | bit(end.head_method, OFFHEAP_SESSION_HEAD_METHOD)
        | bit(end.close_client, OFFHEAP_SESSION_CLOSE_CLIENT);
    d.requests = end.stats.requests;
    d.responses = end.stats.responses;
}

/// Hands a client connection and an upstream connection to the engine for HTTP/1.1
/// keep-alive exchanges. The engine works on duplicates of both fds; the caller should close
/// its own meanwhile (a poller still watching them wakes on every exchange), and gets the
/// duplicates back in the completion (`client_fd`, `upstream_fd`), to own and close. The storage of
/// the two buffers moves into the job with the bytes they hold (a request the caller already
/// read, say); until the job's completion is polled they are empty and must not be used.
/// `offheap_engine_poll` puts the storage back, holding the bytes the session stopped at,
/// and reports the stop in `session_stop`, `session_flags`, `requests` and `responses`.
///
/// The session forwards requests without a body or with Content-Length and relays responses
/// with Content-Length or without a body, rewriting heads as `offheap_headers_rewrite_*` do.
/// Any other request stops it before anything of it is sent (`REQUEST`); any other response
/// stops it with its bytes (`RESPONSE`); so do the request and response deadlines.
///
/// # Safety
/// `client_fd` and `upstream_fd` open for the call; `opts` NULL or valid for reading one
/// `offheap_session_options`; `strings` NULL or valid for reading `strings_len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_engine_submit_session(
    engine: u64,
    id: u64,
    client_fd: i32,
    upstream_fd: i32,
    client_buffer: u64,
    upstream_buffer: u64,
    opts: *const offheap_session_options,
    strings: *const u8,
    strings_len: usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: `ptr::one` needs `opts`, when not NULL, to point to one initialised
        // `offheap_session_options`, and `ptr::slice` needs `strings` to hold `strings_len`
        // bytes (or be NULL with 0), both unchanged until the call returns: this function's
        // `# Safety` requires both of its caller.
        let (o, strings) = unsafe { (ptr::one(opts)?, ptr::slice(strings, strings_len)?) };
        let rewrite = rewrite_of(&o.rewrite, strings)?;
        if client_buffer == upstream_buffer {
            return Err(offheap_status::InvalidArgument);
        }
        // SAFETY: `borrow_fd` needs `client_fd` and `upstream_fd` open until this call
        // returns, which this function's `# Safety` requires of its caller.
        let (c, u) = unsafe { (borrow_fd(client_fd)?, borrow_fd(upstream_fd)?) };
        let e = handle::get::<EngineObject>(engine)?;
        let cb = handle::get::<BufferObject>(client_buffer)?;
        let ub = handle::get::<BufferObject>(upstream_buffer)?;
        let (client, upstream) = (
            relay::duplicate(c).map_err(relay_status)?,
            relay::duplicate(u).map_err(relay_status)?,
        );
        let mut session_opts = SessionOptions::default();
        set_rewrite(&mut session_opts, &rewrite);
        let timeouts = SessionTimeouts {
            request_ms: o.request_ms,
            response_ms: o.response_ms,
            stall_ms: o.stall_ms,
        };
        let mut handles = e.1.lock();
        if handles.contains_key(&id) {
            return Err(offheap_status::InvalidArgument); // one session per id in flight
        }
        let cbuf = std::mem::replace(&mut *cb.0.lock(), Buffer::none());
        let ubuf = std::mem::replace(&mut *ub.0.lock(), Buffer::none());
        let session = Box::new(Session::with_buffers(session_opts, cbuf, ubuf));
        let job = Job::Session {
            client,
            upstream,
            session,
            timeouts,
        };
        match e.0.submit_or_return(id, job) {
            Ok(()) => {
                handles.insert(id, (client_buffer, upstream_buffer));
                Ok(())
            }
            Err((err, job)) => {
                // Refused: the buffers go back to their handles, bytes and all.
                if let Job::Session { session, .. } = job {
                    let (c, u) = session.into_buffers();
                    *cb.0.lock() = c;
                    *ub.0.lock() = u;
                }
                Err(relay_status(err))
            }
        }
    })
}

/// Asks the engine to stop job `id`; it completes with `OFFHEAP_STATUS_RELAY_CANCELED`
/// unless it finished first. A session job that is writing or relaying a head or body
/// finishes that exchange first and stops at the next request boundary, without an error.
/// Unknown ids are ignored.
#[unsafe(no_mangle)]
pub extern "C" fn offheap_engine_cancel(engine: u64, id: u64) -> offheap_status {
    guard(|| {
        handle::get::<EngineObject>(engine)?.0.cancel(id);
        Ok(())
    })
}

/// Moves up to `cap` queued completions into `out[0..]` and writes how many to `*out_n`.
///
/// # Safety
/// `out` NULL or valid for writing `cap` completions; `out_n` NULL or valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_engine_poll(
    engine: u64,
    out: *mut offheap_engine_completion,
    cap: usize,
    out_n: *mut usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: `ptr::slice_mut` needs `out` to hold `cap` completions that nothing else
        // touches (or be NULL with `cap` 0), and `ptr::out` needs `out_n` NULL or valid for
        // one write, until the call returns: this function's `# Safety` requires both.
        let (dst, out_n) = unsafe { (ptr::slice_mut(out, cap)?, ptr::out(out_n)?) };
        let e = handle::get::<EngineObject>(engine)?;
        let mut batch: Vec<Completion> = Vec::with_capacity(dst.len().min(256));
        let n = e.0.poll(&mut batch, dst.len());
        for (d, c) in dst.iter_mut().zip(&batch) {
            *d = offheap_engine_completion {
                id: c.id,
                bytes_forward: c.forward.bytes_out,
                bytes_backward: c.backward.bytes_out,
                spliced: c.forward.spliced + c.backward.spliced,
                copied: c.forward.copied + c.backward.copied,
                status: c.error.map_or(offheap_status::Ok, relay_status) as u32,
                os_errno: c.errno,
                client_fd: -1,
                upstream_fd: -1,
                ..Default::default()
            };
            if let Some(end) = c.session {
                session_completion(d, &end);
                // The session's buffers go back into the caller's Buffer handles (dropped when
                // the caller freed them meanwhile).
                let handles = e.1.lock().remove(&c.id);
                if let Some(r) = e.0.take_session(c.id) {
                    if let Some((cb, ub)) = handles {
                        for (h, b) in [(cb, r.client_buffer), (ub, r.upstream_buffer)] {
                            if let Ok(obj) = handle::get::<BufferObject>(h) {
                                *obj.0.lock() = b;
                            }
                        }
                    }
                    d.client_fd = r.client.into_raw_fd();
                    d.upstream_fd = r.upstream.into_raw_fd();
                }
            }
        }
        out_n.write(n);
        Ok(())
    })
}

/// Jobs submitted and not yet completed.
///
/// # Safety
/// `out` NULL or valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_engine_in_flight(engine: u64, out: *mut u64) -> offheap_status {
    let in_flight = || Ok(handle::get::<EngineObject>(engine)?.0.in_flight() as u64);
    // SAFETY: `guard_out` needs `out` NULL or valid for writing one `uint64_t` until the call
    // returns, which this function's `# Safety` requires of its caller.
    unsafe { guard_out(out, in_flight) }
}

/// Stops the engine: joins its threads and closes every fd it holds (jobs still running end
/// with `OFFHEAP_STATUS_RELAY_CANCELED`; their completions are discarded).
#[unsafe(no_mangle)]
pub extern "C" fn offheap_engine_free(engine: u64) -> offheap_status {
    guard(|| handle::free::<EngineObject>(engine))
}

#[cfg(test)]
#[path = "engine_tests.rs"]
pub(super) mod tests;
