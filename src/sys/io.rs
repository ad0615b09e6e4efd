//! Moving bytes: read, peek, write, writev and splice on borrowed fds.

use std::os::fd::{AsRawFd, BorrowedFd};

use super::errno::{Errno, retry};

/// `read(2)` into `buf`; `Ok(0)` is end of file.
pub(crate) fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: read(2) writes at most `buf.len()` bytes at `buf.as_mut_ptr()`, and `buf` is an
    // exclusively borrowed, writable slice of exactly that length for the whole call; `fd` is
    // open for the call (a `BorrowedFd`), and a wrong one only fails with an errno.
    retry(|| unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// `recv(2)` with `MSG_PEEK`: copies queued bytes into `buf` without consuming them.
pub(crate) fn peek(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: recv(2) writes at most `buf.len()` bytes at `buf.as_mut_ptr()`, and `buf` is an
    // exclusively borrowed, writable slice of exactly that length for the whole call.
    retry(|| unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    })
}

/// `write(2)` from `buf` (`send` with `MSG_NOSIGNAL` on sockets, so a closed peer gives
/// `EPIPE` instead of killing the process with `SIGPIPE`).
pub(crate) fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: send(2) only reads, at most `buf.len()` bytes at `buf.as_ptr()`, and `buf` is a
    // borrowed slice of exactly that length, alive for the whole call.
    let r = retry(|| unsafe {
        libc::send(
            fd.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_NOSIGNAL,
        )
    });
    match r {
        // Plain write for fds that are not sockets (pipes, files).
        Err(Errno(libc::ENOTSOCK)) => retry(|| {
            // SAFETY: write(2) only reads, at most `buf.len()` bytes at `buf.as_ptr()`, and
            // `buf` is a borrowed slice of exactly that length, alive for the whole call.
            unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) }
        }),
        r => r,
    }
}

/// Most slices one [`writev`] call takes; longer lists are written in several calls.
pub(crate) const MAX_IOV: usize = 16;

/// `writev(2)` (as `sendmsg` with `MSG_NOSIGNAL` on sockets) of up to [`MAX_IOV`] slices.
pub(crate) fn writev(fd: BorrowedFd<'_>, bufs: &[&[u8]]) -> Result<usize, Errno> {
    let n = bufs.len().min(MAX_IOV);
    let mut iov = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; MAX_IOV];
    for (v, b) in iov.iter_mut().zip(bufs) {
        *v = libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        };
    }
    // SAFETY: `msghdr` is a C struct of integers and raw pointers, for which all-zero bytes
    // are a valid value (null name, no iovecs, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = n as _;
    // SAFETY: sendmsg(2) reads `msg` and the first `n` entries of `iov` (n <= MAX_IOV, the
    // array's length), each of which points at a slice of `bufs` with its own length; `msg`,
    // `iov` and `bufs` are all borrowed for the whole call, and the kernel only reads through
    // `iov_base` (the `*mut` is C's type, not a licence to write).
    let r = retry(|| unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) });
    match r {
        // Plain writev for fds that are not sockets.
        Err(Errno(libc::ENOTSOCK)) => retry(|| {
            // SAFETY: writev(2) reads the first `n` entries of `iov` (n <= MAX_IOV, the
            // array's length), each pointing at a slice of `bufs` with its own length; both
            // are borrowed for the whole call and only read.
            unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), n as libc::c_int) }
        }),
        r => r,
    }
}

/// `splice(2)` of up to `len` bytes from `from` to `to` (one of them must be a pipe),
/// non-blocking on the pipe side and moving pages where the kernel can.
pub(crate) fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> Result<usize, Errno> {
    let flags = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
    // SAFETY: splice(2) moves bytes between two kernel objects and reads or writes no memory
    // of ours except the two offset pointers, which are null here ("use and advance the file
    // position"); both fds are open for the call (`BorrowedFd`).
    retry(|| unsafe {
        libc::splice(
            from.as_raw_fd(),
            std::ptr::null_mut(),
            to.as_raw_fd(),
            std::ptr::null_mut(),
            len,
            flags,
        )
    })
}
