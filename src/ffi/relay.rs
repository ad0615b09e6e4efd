//! `offheap_relay_*`, `offheap_buffer_*`, `offheap_engine_*`: the C ABI of the buffer relay.
//!
//! File descriptors cross as plain `int`s that are only *borrowed* for the call: the library
//! never keeps one after returning, except the duplicates the engine makes for itself (and
//! closes). Calls never block: a relay step returns what it waits for, and the caller (Go's
//! netpoller through `syscall.RawConn`) waits.

use std::collections::HashMap;
use std::os::fd::{BorrowedFd, IntoRawFd};

use parking_lot::Mutex;

use super::boundary::{FfiResult, guard};
use super::handle::{self, HandleObject, offheap_kind};
use super::ptr;
use super::status::offheap_status;
use crate::engine::{
    self, Completion, Engine, EngineConfig, Job, Session, SessionOptions, SessionTimeouts, Stop,
};
use crate::relay::{self, Buffer, Error, Framing, Options, Progress, Relay};

/// Framing kinds for `offheap_relay_new`.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum offheap_framing {
    /// Exactly `length` bytes (Content-Length).
    Exact = 0,
    /// Chunked, forwarded verbatim (framing and trailers included).
    Chunked = 1,
    /// Chunked, only the payload is written (de-chunked).
    Dechunked = 2,
    /// Until the source reaches end of file.
    UntilEof = 3,
}

/// `flags` bit of `offheap_relay_new`: never use splice (copy through a buffer). Copying is
/// the default; this bit also overrides `OFFHEAP_RELAY_SPLICE`.
pub const OFFHEAP_RELAY_NO_SPLICE: u32 = 1;
/// `flags` bit of `offheap_relay_new`: `shutdown(dst, SHUT_WR)` when the body is complete.
pub const OFFHEAP_RELAY_SHUTDOWN_ON_DONE: u32 = 2;
/// `flags` bit of `offheap_relay_new`: splice(2) through a pooled pipe when both fds allow it,
/// instead of copying through Rust buffers (the default, which measured faster between
/// loopback sockets: BENCHMARKS.md, buffer relay rows).
pub const OFFHEAP_RELAY_SPLICE: u32 = 4;

/// What a relay step (or a buffer read/write) needs next.
#[allow(non_camel_case_types)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum offheap_relay_state {
    /// Wait until the source is readable, then step again.
    WantRead = 0,
    /// Wait until the destination is writable, then step again.
    WantWrite = 1,
    /// Complete.
    Done = 2,
    /// `offheap_relay_step` only: the step wrote its limit (`OFFHEAP_RELAY_STEP_LIMIT`
    /// bytes) with both fds still ready: step again without waiting (an edge-triggered
    /// poller would not report them again). A level-triggered caller may treat it as
    /// `WANT_READ`.
    Again = 3,
}

/// Bytes one `offheap_relay_step` writes at most before it returns
/// `OFFHEAP_RELAY_STATE_AGAIN`.
pub const OFFHEAP_RELAY_STEP_LIMIT: u64 = 4 << 20;
const _: () = assert!(OFFHEAP_RELAY_STEP_LIMIT == crate::relay::STEP_LIMIT);

/// The result of `offheap_relay_step`: what the relay waits for and its byte counters.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_relay_progress {
    /// An `offheap_relay_state` value.
    pub state: u32,
    /// The OS error number behind `OFFHEAP_STATUS_RELAY_IO`, else 0.
    pub os_errno: i32,
    /// Bytes consumed from the source (chunk framing included).
    pub bytes_in: u64,
    /// Bytes written to the destination.
    pub bytes_out: u64,
    /// Of `bytes_out`, bytes moved in the kernel with splice(2).
    pub spliced: u64,
    /// Of `bytes_out`, bytes copied through a Rust-owned buffer.
    pub copied: u64,
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
}

/// `session_flags`: the upstream connection is idle and may carry another request.
pub const OFFHEAP_SESSION_UPSTREAM_REUSABLE: u32 = 1;
/// `session_flags`: the exchange in progress is for a HEAD request.
pub const OFFHEAP_SESSION_HEAD_METHOD: u32 = 2;
/// `session_flags`: the client connection closes after the exchange in progress.
pub const OFFHEAP_SESSION_CLOSE_CLIENT: u32 = 4;
/// `offheap_session_options.flags`: replace the Host header with `host`.
pub const OFFHEAP_SESSION_SET_HOST: u32 = 1;
/// `offheap_session_options.flags`: trust and append to the client's X-Forwarded-* headers.
pub const OFFHEAP_SESSION_APPEND_FORWARDED: u32 = 2;

/// Options of `offheap_engine_submit_session`: how heads are rewritten and when the engine
/// gives up waiting. The four strings come in one byte array, one after the other, in this
/// order, with these lengths (so the struct holds no pointer).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_session_options {
    /// Length of the client address appended to X-Forwarded-For (0: none).
    pub client_ip_len: u32,
    /// Length of the X-Forwarded-Proto value (0: none).
    pub proto_len: u32,
    /// Length of the new Host value, used with `OFFHEAP_SESSION_SET_HOST`.
    pub host_len: u32,
    /// Length of this proxy's pseudonym for Via (0: none).
    pub via_len: u32,
    /// `OFFHEAP_SESSION_SET_HOST`, `OFFHEAP_SESSION_APPEND_FORWARDED`.
    pub flags: u32,
    /// Milliseconds a session waits for a request before it stops with `REQUEST` (0: forever).
    pub request_ms: u32,
    /// Milliseconds a session waits for a response head before it stops with `RESPONSE`.
    pub response_ms: u32,
    /// Milliseconds a head or body may make no progress before the session fails.
    pub stall_ms: u32,
}

/// Process-wide relay counters, as returned by `offheap_relay_global_stats`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_relay_counters {
    /// Relays started (each tunnel direction counts one).
    pub relays_started: u64,
    /// Relays that completed.
    pub relays_done: u64,
    /// Relays that ended with an error.
    pub relays_failed: u64,
    /// Bytes moved with splice(2).
    pub bytes_spliced: u64,
    /// Bytes copied through Rust-owned buffers.
    pub bytes_copied: u64,
    /// Pipes created.
    pub pipes_created: u64,
    /// Pipes alive (in use or pooled).
    pub pipes_live: u64,
    /// Buffers alive (in use or pooled).
    pub buffers_live: u64,
    /// Of `buffers_live`, bulk buffers (`OFFHEAP_RELAY_BULK_BUFFER_SIZE` bytes each).
    pub bulk_buffers_live: u64,
}

struct RelayObject(Mutex<Relay>);

impl HandleObject for RelayObject {
    const KIND: offheap_kind = offheap_kind::Relay;
}

struct BufferObject(Mutex<Buffer>);

impl HandleObject for BufferObject {
    const KIND: offheap_kind = offheap_kind::Buffer;
}

struct EngineObject(Engine, Mutex<HashMap<u64, (u64, u64)>>);

impl HandleObject for EngineObject {
    const KIND: offheap_kind = offheap_kind::Engine;
}

/// Maps a relay error to its status code.
pub(crate) fn relay_status(e: Error) -> offheap_status {
    use offheap_status as S;
    match e {
        Error::UnexpectedEof => S::RelayUnexpectedEof,
        Error::ConnectionReset => S::RelayConnectionReset,
        Error::BrokenPipe => S::RelayBrokenPipe,
        Error::BadFd => S::RelayBadFd,
        Error::Io => S::RelayIo,
        Error::ChunkSizeOverflow => S::RelayChunkSizeOverflow,
        Error::ChunkSizeInvalid => S::RelayChunkSizeInvalid,
        Error::ChunkMissingCrlf => S::RelayChunkMissingCrlf,
        Error::ChunkExtensionInvalid => S::RelayChunkExtensionInvalid,
        Error::TrailersInvalid => S::RelayTrailersInvalid,
        Error::Unsupported => S::RelayUnsupported,
        Error::InvalidArgument => S::InvalidArgument,
        Error::Canceled => S::RelayCanceled,
        Error::ResourceExhausted => S::RelayResourceExhausted,
        Error::TimedOut => S::RelayTimedOut,
    }
}

/// The relay error a caller may end a relay with (`offheap_relay_abort`).
fn abort_error(status: u32) -> Error {
    use offheap_status as S;
    match offheap_status::from_u32(status) {
        Some(S::RelayTimedOut) => Error::TimedOut,
        Some(S::RelayBadFd) => Error::BadFd,
        _ => Error::Canceled,
    }
}

/// Borrows a caller's fd for the duration of a call.
///
/// # Safety
/// `fd` must stay open until the call returns (the caller's contract on every export that
/// takes an fd).
unsafe fn borrow_fd<'a>(fd: i32) -> FfiResult<BorrowedFd<'a>> {
    if fd < 0 {
        return Err(offheap_status::InvalidArgument);
    }
    // SAFETY: non-negative, and open for the call by the caller's contract.
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

fn options(framing: u32, length: u64, flags: u32) -> FfiResult<Options> {
    const EXACT: u32 = offheap_framing::Exact as u32;
    const CHUNKED: u32 = offheap_framing::Chunked as u32;
    const DECHUNKED: u32 = offheap_framing::Dechunked as u32;
    const UNTIL_EOF: u32 = offheap_framing::UntilEof as u32;
    let framing = match framing {
        EXACT => Framing::Exact(length),
        CHUNKED => Framing::Chunked { dechunk: false },
        DECHUNKED => Framing::Chunked { dechunk: true },
        UNTIL_EOF => Framing::UntilEof,
        _ => return Err(offheap_status::InvalidArgument),
    };
    if flags & !(OFFHEAP_RELAY_NO_SPLICE | OFFHEAP_RELAY_SHUTDOWN_ON_DONE | OFFHEAP_RELAY_SPLICE)
        != 0
    {
        return Err(offheap_status::InvalidArgument);
    }
    Ok(Options {
        framing,
        splice: flags & OFFHEAP_RELAY_SPLICE != 0 && flags & OFFHEAP_RELAY_NO_SPLICE == 0,
        shutdown_on_done: flags & OFFHEAP_RELAY_SHUTDOWN_ON_DONE != 0,
    })
}

/// Creates a relay for one body (`framing` is an `offheap_framing`; `length` is used by
/// `OFFHEAP_FRAMING_EXACT`; `flags` are `OFFHEAP_RELAY_*` bits) and writes its handle to `*out`.
///
/// # Safety
/// `out` must be NULL or valid for writing one `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_relay_new(
    framing: u32,
    length: u64,
    flags: u32,
    out: *mut u64,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on `out`.
        let out = unsafe { ptr::out(out) }?;
        let opts = options(framing, length, flags)?;
        out.write(handle::insert(RelayObject(Mutex::new(Relay::new(opts))))?);
        Ok(())
    })
}

/// Starts the relay over for a new body, keeping the handle (no allocation).
#[unsafe(no_mangle)]
pub extern "C" fn offheap_relay_reset(
    relay: u64,
    framing: u32,
    length: u64,
    flags: u32,
) -> offheap_status {
    guard(|| {
        let r = handle::get::<RelayObject>(relay)?;
        let opts = options(framing, length, flags)?;
        r.0.lock().reset(opts);
        Ok(())
    })
}

/// Moves bytes from `src_fd` to `dst_fd` (both non-blocking) until one would block, the body
/// is done or `OFFHEAP_RELAY_STEP_LIMIT` bytes were written, and writes what the relay needs
/// next, and its counters, to `*out`. Returns `OFFHEAP_STATUS_OK` while the relay runs or is
/// done, or the relay error that ended it (then `*out` is not written; later steps return the
/// same error). Never blocks, and returns even when bytes flow in a circle (`dst_fd` the peer
/// of `src_fd`).
///
/// # Safety
/// `src_fd` and `dst_fd` must stay open until the call returns (Go: call it inside
/// `RawConn.Read`/`Write`/`Control`, with the fds they lend). `out` NULL or valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_relay_step(
    relay: u64,
    src_fd: i32,
    dst_fd: i32,
    out: *mut offheap_relay_progress,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on `out`.
        let out = unsafe { ptr::out(out) }?;
        // SAFETY: the caller's contract: both fds are open for this call.
        let (src, dst) = unsafe { (borrow_fd(src_fd)?, borrow_fd(dst_fd)?) };
        let r = handle::get::<RelayObject>(relay)?;
        let mut r = r.0.lock();
        let state = match r.step(src, dst).map_err(relay_status)? {
            Progress::WantRead => offheap_relay_state::WantRead,
            Progress::WantWrite => offheap_relay_state::WantWrite,
            Progress::Done => offheap_relay_state::Done,
            Progress::Again => offheap_relay_state::Again,
        };
        let s = r.stats();
        out.write(offheap_relay_progress {
            state: state as u32,
            os_errno: r.last_errno(),
            bytes_in: s.bytes_in,
            bytes_out: s.bytes_out,
            spliced: s.spliced,
            copied: s.copied,
        });
        Ok(())
    })
}

/// Ends a running relay (context cancelled, deadline, connection closed by the caller) and
/// returns its pipe and buffer to the pools. `status` is the error later steps report:
/// `OFFHEAP_STATUS_RELAY_TIMED_OUT`, `OFFHEAP_STATUS_RELAY_BAD_FD`, else `..._CANCELED`.
#[unsafe(no_mangle)]
pub extern "C" fn offheap_relay_abort(relay: u64, status: u32) -> offheap_status {
    guard(|| {
        let r = handle::get::<RelayObject>(relay)?;
        r.0.lock().abort(abort_error(status));
        Ok(())
    })
}

/// Frees a relay. A freed, forged or zero handle gives `OFFHEAP_STATUS_INVALID_HANDLE`.
#[unsafe(no_mangle)]
pub extern "C" fn offheap_relay_free(relay: u64) -> offheap_status {
    guard(|| handle::free::<RelayObject>(relay))
}

/// Fills `*out` with the process-wide relay counters.
///
/// # Safety
/// `out` must be NULL or valid for writing one `offheap_relay_counters`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_relay_global_stats(
    out: *mut offheap_relay_counters,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on `out`.
        let out = unsafe { ptr::out(out) }?;
        let s = relay::stats();
        out.write(offheap_relay_counters {
            relays_started: s.relays_started,
            relays_done: s.relays_done,
            relays_failed: s.relays_failed,
            bytes_spliced: s.bytes_spliced,
            bytes_copied: s.bytes_copied,
            pipes_created: s.pipes_created,
            pipes_live: s.pipes_live,
            buffers_live: s.buffers_live,
            bulk_buffers_live: s.bulk_buffers_live,
        });
        Ok(())
    })
}

/// Frees the relay's idle pooled pipes and buffers.
#[unsafe(no_mangle)]
pub extern "C" fn offheap_relay_trim() -> offheap_status {
    guard(|| {
        relay::trim();
        Ok(())
    })
}

/// Takes a Rust-owned buffer of `OFFHEAP_BUFFER_SIZE` bytes from the pool; writes its handle.
///
/// # Safety
/// `out` must be NULL or valid for writing one `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_buffer_new(out: *mut u64) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on `out`.
        let out = unsafe { ptr::out(out) }?;
        out.write(handle::insert(BufferObject(Mutex::new(Buffer::take())))?);
        Ok(())
    })
}

/// Size of every Rust-owned buffer, in bytes (`relay::BUFFER_SIZE`; a test keeps them equal).
pub const OFFHEAP_BUFFER_SIZE: usize = 65536;
const _: () = assert!(OFFHEAP_BUFFER_SIZE == relay::BUFFER_SIZE);
/// Size of a bulk buffer: what a copying relay reads into once a read has filled a whole
/// `OFFHEAP_BUFFER_SIZE` buffer. At most `OFFHEAP_RELAY_MAX_BULK_BUFFERS` are alive per
/// process; beyond that, relays copy through `OFFHEAP_BUFFER_SIZE` buffers.
pub const OFFHEAP_RELAY_BULK_BUFFER_SIZE: usize = 4 << 20;
const _: () = assert!(OFFHEAP_RELAY_BULK_BUFFER_SIZE == relay::BULK_BUFFER_SIZE);
/// Most bulk buffers alive at once, process-wide.
pub const OFFHEAP_RELAY_MAX_BULK_BUFFERS: usize = 16;
const _: () = assert!(OFFHEAP_RELAY_MAX_BULK_BUFFERS == relay::MAX_BULK_BUFFERS);

/// Frees a buffer (back to the pool). Views of it become invalid.
#[unsafe(no_mangle)]
pub extern "C" fn offheap_buffer_free(buffer: u64) -> offheap_status {
    guard(|| handle::free::<BufferObject>(buffer))
}

/// Reads once from `fd` (non-blocking) into the buffer's free space, after its filled bytes.
/// Writes the bytes read to `*out_n` and the state to `*out_state`: `WANT_READ` (nothing
/// now, `*out_n` = 0), or `DONE` (`*out_n` > 0, or 0 at end of file or with no free space).
///
/// # Safety
/// `fd` open for the call; `out_n` and `out_state` NULL or valid for one write each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_buffer_read(
    buffer: u64,
    fd: i32,
    out_n: *mut usize,
    out_state: *mut u32,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on the out-parameters.
        let (out_n, out_state) = unsafe { (ptr::out(out_n)?, ptr::out(out_state)?) };
        // SAFETY: the caller's contract on `fd`.
        let fd = unsafe { borrow_fd(fd) }?;
        let b = handle::get::<BufferObject>(buffer)?;
        let (n, state) = match b.0.lock().read_from(fd).map_err(relay_status)? {
            Some(n) => (n, offheap_relay_state::Done),
            None => (0, offheap_relay_state::WantRead),
        };
        out_n.write(n);
        out_state.write(state as u32);
        Ok(())
    })
}

/// Writes a view of the buffer's filled bytes to `*out_ptr` / `*out_len` (`(NULL, 0)` when
/// empty). The bytes stay valid and unchanged until the next `offheap_buffer_consume`,
/// `offheap_buffer_clear`, `offheap_buffer_writev` naming this buffer, or `offheap_buffer_free`;
/// `offheap_buffer_read` only appends after them, except when they reach the end of the
/// buffer: it then moves them to the front first (so a partial head has room to grow).
///
/// # Safety
/// `out_ptr` and `out_len` NULL or valid for one write each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_buffer_view(
    buffer: u64,
    out_ptr: *mut *const u8,
    out_len: *mut usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on the out-parameters.
        let (out_ptr, out_len) = unsafe { (ptr::out(out_ptr)?, ptr::out(out_len)?) };
        let b = handle::get::<BufferObject>(buffer)?;
        let b = b.0.lock();
        let f = b.filled();
        out_ptr.write(if f.is_empty() {
            std::ptr::null()
        } else {
            f.as_ptr()
        });
        out_len.write(f.len());
        Ok(())
    })
}

/// Drops `n` bytes from the front of the filled bytes (clamped).
#[unsafe(no_mangle)]
pub extern "C" fn offheap_buffer_consume(buffer: u64, n: usize) -> offheap_status {
    guard(|| {
        handle::get::<BufferObject>(buffer)?.0.lock().consume(n);
        Ok(())
    })
}

/// One `offheap_buffer_fill`: the bytes to drop first (in) and, on return, what the call read
/// and a view of the buffer's filled bytes. A caller that keeps this struct between calls
/// always holds the current view, and can consume by counting (in `consume`) without a call.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct offheap_buffer_io {
    /// In: bytes to drop from the front of the filled bytes before reading (clamped to them).
    /// The call sets it to 0 once they are dropped, even when the read then fails.
    pub consume: usize,
    /// Out: bytes read (0 with `DONE`: end of file, or no free space; 0 with `WANT_READ`:
    /// nothing to read now; 0 when no fd was given).
    pub n: usize,
    /// Out: the filled bytes after the call (`(NULL, 0)` when empty). They stay valid and
    /// unchanged until the next call that names this buffer (other than
    /// `offheap_buffer_view`) or `offheap_buffer_free`.
    pub data: *const u8,
    /// Out: the length of `data`.
    pub len: usize,
    /// Out: an `offheap_relay_state`: `WANT_READ` or `DONE` (`DONE` when no fd was given).
    pub state: u32,
}

/// Drops `io->consume` bytes from the front of the buffer's filled bytes, then, when `fd` is
/// not negative, reads once from it (non-blocking) into the free space, as
/// `offheap_buffer_read` does; writes the bytes read, the state and the view of the filled
/// bytes into `*io`. With `fd` = -1 it only consumes and reports the view. One call per read
/// for a caller that parses in place: consume the previous head, read, and get the view.
///
/// # Safety
/// `io` NULL or valid for reading and writing one `offheap_buffer_io`; `fd` -1 or open for
/// the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_buffer_fill(
    buffer: u64,
    fd: i32,
    io: *mut offheap_buffer_io,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on `io` (checked for NULL and alignment here).
        let io = unsafe { ptr::slice_mut(io, 1) }?
            .first_mut()
            .ok_or(offheap_status::NullPointer)?;
        let fd = if fd == -1 {
            None
        } else {
            // SAFETY: the caller's contract on `fd`.
            Some(unsafe { borrow_fd(fd) }?)
        };
        let b = handle::get::<BufferObject>(buffer)?;
        let mut b = b.0.lock();
        b.ensure(); // storage lost to an engine dropped with a session job in flight
        b.consume(io.consume);
        io.consume = 0;
        let (n, state) = match fd {
            None => (0, offheap_relay_state::Done),
            Some(fd) => match b.read_from(fd).map_err(relay_status)? {
                Some(n) => (n, offheap_relay_state::Done),
                None => (0, offheap_relay_state::WantRead),
            },
        };
        let f = b.filled();
        io.n = n;
        io.state = state as u32;
        io.data = if f.is_empty() {
            std::ptr::null()
        } else {
            f.as_ptr()
        };
        io.len = f.len();
        Ok(())
    })
}

/// Most buffers one `offheap_buffer_writev` takes.
pub const OFFHEAP_WRITEV_MAX: usize = 16;

/// Writes the filled bytes of `count` buffers (in order, at most `OFFHEAP_WRITEV_MAX`) to `fd`
/// with one `writev`, then consumes what was written from them. Writes the bytes written
/// to `*out_n` and `WANT_WRITE` (fd full, nothing written) or `DONE` to `*out_state`.
///
/// # Safety
/// `buffers` NULL or valid for reading `count` handles; `fd` open for the call; out-params
/// NULL or valid for one write each.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_buffer_writev(
    fd: i32,
    buffers: *const u64,
    count: usize,
    out_n: *mut usize,
    out_state: *mut u32,
) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on the out-parameters and the handle array.
        let (out_n, out_state, ids) = unsafe {
            (
                ptr::out(out_n)?,
                ptr::out(out_state)?,
                ptr::slice(buffers, count)?,
            )
        };
        if ids.len() > OFFHEAP_WRITEV_MAX {
            return Err(offheap_status::TooLarge);
        }
        // SAFETY: the caller's contract on `fd`.
        let fd = unsafe { borrow_fd(fd) }?;
        let mut leases = Vec::with_capacity(ids.len());
        for &id in ids {
            leases.push(handle::get::<BufferObject>(id)?);
        }
        // The same buffer named twice would deadlock its lock: refuse it.
        for (i, a) in ids.iter().enumerate() {
            if ids[..i].contains(a) {
                return Err(offheap_status::InvalidArgument);
            }
        }
        let mut guards: Vec<_> = leases.iter().map(|l| l.0.lock()).collect();
        let slices: Vec<&[u8]> = guards.iter().map(|g| g.filled()).collect();
        let (n, state) = match relay::write_vectored(fd, &slices).map_err(relay_status)? {
            Some(n) => (n, offheap_relay_state::Done),
            None => (0, offheap_relay_state::WantWrite),
        };
        drop(slices);
        let mut left = n;
        for g in guards.iter_mut() {
            let k = left.min(g.filled().len());
            g.consume(k);
            left -= k;
        }
        out_n.write(n);
        out_state.write(state as u32);
        Ok(())
    })
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
    guard(|| {
        // SAFETY: the caller's contract on `out`.
        let out = unsafe { ptr::out(out) }?;
        let cfg = EngineConfig {
            workers: workers as usize,
            max_jobs: max_jobs as usize,
        };
        let engine = Engine::new(cfg).map_err(relay_status)?;
        out.write(handle::insert(EngineObject(
            engine,
            Mutex::new(HashMap::new()),
        ))?);
        Ok(())
    })
}

/// Writes to `*out_fd` a new fd (the caller owns and closes it) that is readable while
/// completions are queued. Reading 8 bytes from it resets it; then call `offheap_engine_poll`.
///
/// # Safety
/// `out_fd` NULL or valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_engine_ready_fd(engine: u64, out_fd: *mut i32) -> offheap_status {
    guard(|| {
        // SAFETY: the caller's contract on `out_fd`.
        let out_fd = unsafe { ptr::out(out_fd) }?;
        let e = handle::get::<EngineObject>(engine)?;
        let fd = relay::duplicate(e.0.ready_fd()).map_err(relay_status)?;
        out_fd.write(fd.into_raw_fd());
        Ok(())
    })
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
        // SAFETY: the caller's contract on the fds.
        unsafe { (borrow_fd(fd_a)?, borrow_fd(fd_b)?) };
        let e = handle::get::<EngineObject>(engine)?;
        // SAFETY: the caller's contract on the fds.
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
/// `fd_a` and `fd_b` open for the call.
unsafe fn engine_job(
    fd_a: i32,
    fd_b: i32,
    framing: u32,
    length: u64,
    flags: u32,
) -> FfiResult<Job> {
    // SAFETY: the caller's contract on the fds.
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
        // SAFETY: the caller's contract on the arrays and `accepted`.
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
            // SAFETY: the caller's contract on the fds of `jobs`.
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

/// Asks the engine to stop job `id`; it completes with `OFFHEAP_STATUS_RELAY_CANCELED`
/// unless it finished first. Unknown ids are ignored.
fn session_completion(d: &mut offheap_engine_completion, end: &engine::SessionEnd) {
    use offheap_session_stop as S;
    let (stop, reusable) = match end.stop {
        Stop::ClientClosed { upstream_reusable } => (S::ClientClosed, upstream_reusable),
        Stop::Request { upstream_reusable } => (S::Request, upstream_reusable),
        Stop::Response => (S::Response, false),
        Stop::Done { upstream_reusable } => (S::Done, upstream_reusable),
        Stop::Failed(_) => (S::Failed, false),
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
        // SAFETY: the caller's contract on `opts` and `strings`.
        let (o, strings) = unsafe { (ptr::one(opts)?, ptr::slice(strings, strings_len)?) };
        let lens = [o.client_ip_len, o.proto_len, o.host_len, o.via_len].map(|l| l as usize);
        if lens.iter().sum::<usize>() != strings.len() {
            return Err(offheap_status::InvalidArgument);
        }
        let (ip, rest) = strings.split_at(lens[0]);
        let (proto, rest) = rest.split_at(lens[1]);
        let (host, via) = rest.split_at(lens[2]);
        if o.flags & !(OFFHEAP_SESSION_SET_HOST | OFFHEAP_SESSION_APPEND_FORWARDED) != 0
            || client_buffer == upstream_buffer
        {
            return Err(offheap_status::InvalidArgument);
        }
        // SAFETY: the caller's contract on the fds.
        let (c, u) = unsafe { (borrow_fd(client_fd)?, borrow_fd(upstream_fd)?) };
        let e = handle::get::<EngineObject>(engine)?;
        let cb = handle::get::<BufferObject>(client_buffer)?;
        let ub = handle::get::<BufferObject>(upstream_buffer)?;
        let (client, upstream) = (
            relay::duplicate(c).map_err(relay_status)?,
            relay::duplicate(u).map_err(relay_status)?,
        );
        let session_opts = SessionOptions {
            client_ip: ip.to_vec(),
            proto: proto.to_vec(),
            host: (o.flags & OFFHEAP_SESSION_SET_HOST != 0).then(|| host.to_vec()),
            via: via.to_vec(),
            append_forwarded: o.flags & OFFHEAP_SESSION_APPEND_FORWARDED != 0,
            head: crate::headers::Config::default(),
        };
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
        // SAFETY: the caller's contract on the output array and `out_n`.
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
    guard(|| {
        // SAFETY: the caller's contract on `out`.
        let out = unsafe { ptr::out(out) }?;
        out.write(handle::get::<EngineObject>(engine)?.0.in_flight() as u64);
        Ok(())
    })
}

/// Stops the engine: joins its threads and closes every fd it holds (jobs still running end
/// with `OFFHEAP_STATUS_RELAY_CANCELED`; their completions are discarded).
#[unsafe(no_mangle)]
pub extern "C" fn offheap_engine_free(engine: u64) -> offheap_status {
    guard(|| handle::free::<EngineObject>(engine))
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;

/// Runs `f` on the filled bytes of the buffer behind `buffer`, in place, under the buffer's
/// lock: for other subsystems' exports that work on a relay buffer without copying it (the
/// header parser parsing a head read into a buffer).
#[allow(dead_code)]
pub(crate) fn with_buffer_bytes<R>(buffer: u64, f: impl FnOnce(&[u8]) -> R) -> FfiResult<R> {
    let b = handle::get::<BufferObject>(buffer)?;
    let guard = b.0.lock();
    Ok(f(guard.filled()))
}
