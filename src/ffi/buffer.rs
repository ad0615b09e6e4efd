//! `offheap_buffer_*`: Rust-owned buffers behind handles (the relay's pooled
//! [`Buffer`]s), which a caller reads into and parses in place, consumes by counting, and
//! writes out several at a time with one `writev`; the engine's session jobs carry their
//! storage.
//!
//! Fds are borrowed for the call only, as in `offheap_relay_*`; views of a buffer's bytes
//! stay valid until the next call that names the buffer (each export says which).

use parking_lot::Mutex;

use super::boundary::guard;
use super::handle::{self, HandleObject, offheap_kind};
use super::ptr::{self, guard_out};
use super::relay::{RelayObject, borrow_fd, offheap_relay_state, relay_status};
use super::status::offheap_status;
use crate::relay::{self, Buffer};

/// A buffer behind a handle; the lock serialises calls that name the same handle (and the
/// engine, which moves its storage in and out).
pub(super) struct BufferObject(pub(super) Mutex<Buffer>);

impl HandleObject for BufferObject {
    const KIND: offheap_kind = offheap_kind::Buffer;
}

/// Takes a Rust-owned buffer of `OFFHEAP_BUFFER_SIZE` bytes from the pool; writes its handle.
///
/// # Safety
/// `out` must be NULL or valid for writing one `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_buffer_new(out: *mut u64) -> offheap_status {
    let buffer = || handle::insert(BufferObject(Mutex::new(Buffer::take())));
    // SAFETY: `guard_out` needs `out` NULL or valid for writing one `uint64_t` until the call
    // returns, which this function's `# Safety` requires of its caller.
    unsafe { guard_out(out, buffer) }
}

/// Size of every Rust-owned buffer, in bytes (`relay::BUFFER_SIZE`; a test keeps them equal).
pub const OFFHEAP_BUFFER_SIZE: usize = 65536;
const _: () = assert!(OFFHEAP_BUFFER_SIZE == relay::BUFFER_SIZE);

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
        // SAFETY: `ptr::out` needs `out_n` and `out_state` NULL or valid for one write each
        // until the call returns, which this function's `# Safety` requires of its caller.
        let (out_n, out_state) = unsafe { (ptr::out(out_n)?, ptr::out(out_state)?) };
        // SAFETY: `borrow_fd` needs `fd` open until this call returns, which this function's
        // `# Safety` requires of its caller.
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
        // SAFETY: `ptr::out` needs `out_ptr` and `out_len` NULL or valid for one write each
        // until the call returns, which this function's `# Safety` requires of its caller.
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
        // SAFETY: `ptr::slice_mut` needs `io`, when not NULL, to point to one
        // `offheap_buffer_io` that nothing else reads or writes until the call returns, which
        // this function's `# Safety` requires of its caller; NULL and misalignment are refused
        // before any access.
        let io = unsafe { ptr::slice_mut(io, 1) }?
            .first_mut()
            .ok_or(offheap_status::NullPointer)?;
        let fd = if fd == -1 {
            None
        } else {
            // SAFETY: `borrow_fd` needs `fd` open until this call returns: this function's
            // `# Safety` requires it to be -1 (handled above) or open for the call.
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
        // SAFETY: `ptr::out` needs `out_n` and `out_state` NULL or valid for one write each,
        // and `ptr::slice` needs `buffers` to hold `count` handles left unchanged (or to be
        // NULL with `count` 0), until the call returns: this function's `# Safety` requires
        // both of its caller.
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
        // SAFETY: `borrow_fd` needs `fd` open until this call returns, which this function's
        // `# Safety` requires of its caller.
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

/// `offheap_relay_pending` with the filled bytes of a buffer (the head read into it, and
/// what followed): the relay copies them, and the buffer keeps them. Once the body is relayed,
/// drop the first `bytes_in` of them from the buffer (all, when `bytes_in` is larger): the rest
/// is the next message's.
#[unsafe(no_mangle)]
pub extern "C" fn offheap_relay_pending_buffer(relay: u64, buffer: u64) -> offheap_status {
    guard(|| {
        let b = handle::get::<BufferObject>(buffer)?;
        let r = handle::get::<RelayObject>(relay)?;
        r.0.lock().set_pending(b.0.lock().filled());
        Ok(())
    })
}

#[cfg(test)]
#[path = "buffer_tests.rs"]
pub(super) mod tests;
