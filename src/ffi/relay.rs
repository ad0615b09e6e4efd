//! `offheap_relay_*`: the C ABI of the buffer relay (one body, or one direction of a tunnel,
//! per relay; the process-wide counters and pools), and what the buffer and engine exports
//! share with it: relay errors as status codes, framing arguments as relay options, and fds
//! borrowed for a call.
//!
//! File descriptors cross as plain `int`s that are only *borrowed* for the call: the library
//! never keeps one after returning, except the duplicates the engine makes for itself (and
//! closes). Calls never block: a relay step returns what it waits for, and the caller (Go's
//! netpoller through `syscall.RawConn`) waits.

use std::os::fd::BorrowedFd;

use parking_lot::Mutex;

use super::boundary::{FfiResult, guard};
use super::handle::{self, HandleObject, offheap_kind};
use super::ptr::{self, guard_out};
use super::status::offheap_status;
use crate::relay::{self, Error, Framing, GlobalStats, Options, Progress, Relay};

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
    /// bytes, or made 1024 reads) with both fds still ready: step again without waiting (an
    /// edge-triggered poller would not report them again). A level-triggered caller may treat it as
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

/// The process-wide relay counters (`offheap_relay_global_stats`): the relay's own `repr(C)`
/// record, which cbindgen exports under this name (`cbindgen.toml`).
pub use crate::relay::GlobalStats as offheap_relay_counters;

/// What `offheap_relay_feed` did with the bytes it was handed.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct offheap_relay_fed {
    /// Bytes at the front of `data` that belong to the body; the bytes after them do not.
    pub taken: u64,
    /// Bytes now at the front of `data`, framed, that the caller writes to the destination
    /// next (fewer than `taken` when de-chunking dropped the framing).
    pub kept: u64,
    /// The most bytes the caller may read from the source next without reading past the body
    /// (0 once the body is complete; `UINT64_MAX` until end of file).
    pub read_bound: u64,
    /// `DONE` once the body is complete and every kept byte was reported written, else
    /// `WANT_WRITE` (kept bytes to write) or `WANT_READ`; and the relay's counters.
    pub progress: offheap_relay_progress,
}

/// `flags` bit of `offheap_relay_feed`: the source reached end of file (`data` is ignored).
pub const OFFHEAP_RELAY_FEED_EOF: u32 = 1;

/// A relay behind a handle; the lock serialises calls that name the same handle.
pub(super) struct RelayObject(pub(super) Mutex<Relay>);

impl HandleObject for RelayObject {
    const KIND: offheap_kind = offheap_kind::Relay;
}

/// Maps a relay error to its status code.
pub(super) fn relay_status(e: Error) -> offheap_status {
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
/// `fd` must stay open until the export that calls this returns (every export that takes an
/// fd requires that of its own caller), and the borrow must not be kept past that return.
pub(super) unsafe fn borrow_fd<'a>(fd: i32) -> FfiResult<BorrowedFd<'a>> {
    if fd < 0 {
        return Err(offheap_status::InvalidArgument);
    }
    // SAFETY: `borrow_raw` needs `fd` open for as long as the borrow is used. It is not
    // negative (checked above), and this function's `# Safety` requires it open until the
    // export that borrows it returns, which no export keeps the borrow past.
    Ok(unsafe { BorrowedFd::borrow_raw(fd) })
}

/// The relay options of `offheap_relay_new`'s arguments (also a body job's, in
/// `offheap_engine_submit`).
pub(super) fn options(framing: u32, length: u64, flags: u32) -> FfiResult<Options> {
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

/// Size of a bulk buffer: what a copying relay reads into once a read has filled a whole
/// `OFFHEAP_BUFFER_SIZE` buffer. At most `OFFHEAP_RELAY_MAX_BULK_BUFFERS` are alive per
/// process; beyond that, relays copy through `OFFHEAP_BUFFER_SIZE` buffers.
pub const OFFHEAP_RELAY_BULK_BUFFER_SIZE: usize = 4 << 20;
const _: () = assert!(OFFHEAP_RELAY_BULK_BUFFER_SIZE == relay::BULK_BUFFER_SIZE);
/// Most bulk buffers alive at once, process-wide.
pub const OFFHEAP_RELAY_MAX_BULK_BUFFERS: usize = 16;
const _: () = assert!(OFFHEAP_RELAY_MAX_BULK_BUFFERS == relay::MAX_BULK_BUFFERS);

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
    let relay = || {
        let opts = options(framing, length, flags)?;
        handle::insert(RelayObject(Mutex::new(Relay::new(opts))))
    };
    // SAFETY: `guard_out` needs `out` NULL or valid for writing one `uint64_t` until the call
    // returns, which this function's `# Safety` requires of its caller.
    unsafe { guard_out(out, relay) }
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
/// is done, `OFFHEAP_RELAY_STEP_LIMIT` bytes were written or 1024 reads made (a step stays
/// short however few bytes each read returns), and writes what the relay needs next, and its
/// counters, to `*out`. Returns `OFFHEAP_STATUS_OK` while the relay runs or is
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
        // SAFETY: `ptr::out` needs `out` NULL or valid for writing one `offheap_relay_progress`
        // until the call returns, which this function's `# Safety` requires of its caller.
        let out = unsafe { ptr::out(out) }?;
        // SAFETY: `borrow_fd` needs both fds open until this call returns, which this
        // function's `# Safety` requires of its caller (Go lends them in `RawConn` callbacks).
        let (src, dst) = unsafe { (borrow_fd(src_fd)?, borrow_fd(dst_fd)?) };
        let r = handle::get::<RelayObject>(relay)?;
        let mut r = r.0.lock();
        let state = match r.step(src, dst).map_err(relay_status)? {
            Progress::WantRead => offheap_relay_state::WantRead,
            Progress::WantWrite => offheap_relay_state::WantWrite,
            Progress::Done => offheap_relay_state::Done,
            Progress::Again => offheap_relay_state::Again,
        };
        out.write(progress(&r, state));
        Ok(())
    })
}

/// Takes `len` bytes at `data`, read from the source before the body started (with its head,
/// say), as the start of the body: the steps that follow relay them, framed as the rest (a
/// chunked body is picked up wherever they end, even inside a chunk), before reading the
/// source. Bytes after the end of the body are not taken: the body took the first `bytes_in`
/// of them (all, when `bytes_in` is larger). Call it after `offheap_relay_new` or
/// `offheap_relay_reset` and before the first step; it copies the bytes.
///
/// # Safety
/// `data` must be NULL with `len` 0, or point to `len` readable bytes for the call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_relay_pending(
    relay: u64,
    data: *const u8,
    len: usize,
) -> offheap_status {
    guard(|| {
        // SAFETY: `ptr::slice` needs `data` to point to `len` readable bytes (or be NULL with
        // `len` 0) until the call returns, which this function's `# Safety` requires of its
        // caller.
        let data = unsafe { ptr::slice(data, len) }?;
        let r = handle::get::<RelayObject>(relay)?;
        r.0.lock().set_pending(data);
        Ok(())
    })
}

/// Relays without fds, for a caller that reads the source and writes the destination itself
/// (a connection without a file descriptor, such as a TLS stream): records that the caller
/// wrote `written` more bytes to the destination (of those an earlier call handed back), then
/// takes the body's bytes at the front of the `len` bytes at `data`, which it read from the
/// source, and frames them in place (`kept` bytes at the front of `data` are for the
/// destination). `flags` `OFFHEAP_RELAY_FEED_EOF` says the source reached end of file. The
/// caller reads at most `read_bound` bytes at a time, so it never reads past the body, and
/// feeds until the state is `DONE`. Returns the relay error that ended the body, as
/// `offheap_relay_step` does; the counters count what the caller wrote as copied.
///
/// # Safety
/// `data` must be NULL with `len` 0, or point to `len` bytes that nothing else reads or writes
/// during the call; `out` NULL or valid for one write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_relay_feed(
    relay: u64,
    written: u64,
    data: *mut u8,
    len: usize,
    flags: u32,
    out: *mut offheap_relay_fed,
) -> offheap_status {
    guard(|| {
        // SAFETY: `ptr::out` needs `out` NULL or valid for writing one `offheap_relay_fed`
        // until the call returns, which this function's `# Safety` requires of its caller.
        let out = unsafe { ptr::out(out) }?;
        // SAFETY: `ptr::slice_mut` needs `data` to point to `len` bytes nothing else uses until
        // the call returns (or be NULL with `len` 0), which this function's `# Safety` requires
        // of its caller.
        let data = unsafe { ptr::slice_mut(data, len) }?;
        if flags & !OFFHEAP_RELAY_FEED_EOF != 0 {
            return Err(offheap_status::InvalidArgument);
        }
        let r = handle::get::<RelayObject>(relay)?;
        let mut r = r.0.lock();
        let fed = r
            .feed(written, data, flags & OFFHEAP_RELAY_FEED_EOF != 0)
            .map_err(relay_status)?;
        let state = match fed {
            relay::Fed { done: true, .. } => offheap_relay_state::Done,
            relay::Fed { kept: 1.., .. } => offheap_relay_state::WantWrite,
            _ => offheap_relay_state::WantRead,
        };
        out.write(offheap_relay_fed {
            taken: fed.taken as u64,
            kept: fed.kept as u64,
            read_bound: fed.read_bound,
            progress: progress(&r, state),
        });
        Ok(())
    })
}

/// The progress a relay reports, in state `state`.
fn progress(r: &Relay, state: offheap_relay_state) -> offheap_relay_progress {
    let s = r.stats();
    offheap_relay_progress {
        state: state as u32,
        os_errno: r.last_errno(),
        bytes_in: s.bytes_in,
        bytes_out: s.bytes_out,
        spliced: s.spliced,
        copied: s.copied,
    }
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
pub unsafe extern "C" fn offheap_relay_global_stats(out: *mut GlobalStats) -> offheap_status {
    let counters = || Ok(relay::stats());
    // SAFETY: `guard_out` needs `out` NULL or valid for writing one `offheap_relay_counters`
    // until the call returns, which this function's `# Safety` requires of its caller.
    unsafe { guard_out(out, counters) }
}

/// Frees the relay's idle pooled pipes and buffers.
#[unsafe(no_mangle)]
pub extern "C" fn offheap_relay_trim() -> offheap_status {
    guard(|| {
        relay::trim();
        Ok(())
    })
}

#[cfg(test)]
#[path = "relay_tests.rs"]
pub(super) mod tests;
