//! Making and setting up fds: pipes and their size, duplicates, `O_NONBLOCK`, half-close, and
//! what kind of file an fd is.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use super::errno::{Errno, owned, retry};
use super::net::int_option;

/// A non-blocking, close-on-exec pipe: `(read end, write end)`.
pub(crate) fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    let mut fds = [-1 as RawFd; 2];
    // SAFETY: pipe2(2) writes exactly two ints at its pointer, and `fds` is a local, writable
    // array of two `RawFd` (C ints).
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if r < 0 {
        return Err(Errno::last());
    }
    Ok((owned(fds[0])?, owned(fds[1])?))
}

/// Asks for a pipe buffer of `size` bytes; returns the size the kernel granted.
pub(crate) fn set_pipe_size(fd: BorrowedFd<'_>, size: usize) -> Result<usize, Errno> {
    let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    // SAFETY: fcntl(F_SETPIPE_SZ) takes an int by value and touches no memory of ours; `fd`
    // is open for the call (`BorrowedFd`), and a non-pipe fails with EBADF or EINVAL.
    retry(|| unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size) as isize })
}

/// The current pipe buffer size.
pub(crate) fn pipe_size(fd: BorrowedFd<'_>) -> Result<usize, Errno> {
    // SAFETY: fcntl(F_GETPIPE_SZ) takes no argument and touches no memory of ours; `fd` is
    // open for the call (`BorrowedFd`).
    retry(|| unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) as isize })
}

/// A close-on-exec duplicate of `fd` (same open file description, so same O_NONBLOCK).
pub(crate) fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) takes an int (the lowest fd number to use) and touches no
    // memory of ours; `fd` is open for the call (`BorrowedFd`). The new fd goes straight to
    // `owned`, so it has exactly one owner.
    owned(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) })
}

/// Sets `O_NONBLOCK` on the open file description behind `fd`.
pub(crate) fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: fcntl(F_GETFL) takes no argument and returns the flags as an int, touching no
    // memory of ours; `fd` is open for the call (`BorrowedFd`).
    let flags = retry(|| unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) as isize })?;
    if flags as libc::c_int & libc::O_NONBLOCK == 0 {
        // SAFETY: fcntl(F_SETFL) takes the new flags as an int by value and touches no memory
        // of ours; `fd` is open for the call (`BorrowedFd`).
        retry(|| unsafe {
            libc::fcntl(
                fd.as_raw_fd(),
                libc::F_SETFL,
                flags as libc::c_int | libc::O_NONBLOCK,
            ) as isize
        })?;
    }
    Ok(())
}

/// `shutdown(fd, SHUT_WR)`: sends FIN after queued data (half-close).
pub(crate) fn shutdown_write(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: shutdown(2) takes an fd and a flag by value and touches no memory of ours; `fd`
    // is open for the call (`BorrowedFd`), and a non-socket fails with ENOTSOCK.
    retry(|| unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_WR) as isize }).map(|_| ())
}

/// What kind of file an fd is, as far as splice cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FdKind {
    /// A stream socket (TCP, Unix stream): splice works both ways.
    StreamSocket,
    /// A pipe or FIFO: splice works both ways.
    Pipe,
    /// Anything else (files, datagram sockets, ttys): read/write only.
    Other,
}

/// Classifies `fd` with `fstat` and, for sockets, `SO_TYPE`.
pub(crate) fn fd_kind(fd: BorrowedFd<'_>) -> Result<FdKind, Errno> {
    // SAFETY: `stat` is a C struct of integers, for which all-zero bytes are a valid value;
    // fstat overwrites it before it is read.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat(2) writes one `struct stat` at its pointer, and `st` is a local, writable
    // `libc::stat` borrowed exclusively for the call.
    retry(|| unsafe { libc::fstat(fd.as_raw_fd(), &mut st) as isize })?;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFIFO => Ok(FdKind::Pipe),
        libc::S_IFSOCK => {
            let ty = int_option(fd, libc::SOL_SOCKET, libc::SO_TYPE)?;
            Ok(if ty == libc::SOCK_STREAM {
                FdKind::StreamSocket
            } else {
                FdKind::Other
            })
        }
        _ => Ok(FdKind::Other),
    }
}
