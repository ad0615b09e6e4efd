//! [`Errno`] and the two helpers every wrapper ends with: retrying `EINTR`, and taking
//! ownership of a new fd.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// A raw OS error number (`errno`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Errno(pub i32);

impl Errno {
    /// The calling thread's last error.
    pub(super) fn last() -> Errno {
        Errno(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }

    /// Whether the operation would block (`EAGAIN`/`EWOULDBLOCK`).
    pub(crate) fn would_block(self) -> bool {
        self.0 == libc::EAGAIN || self.0 == libc::EWOULDBLOCK
    }
}

/// Runs `f` until it does not fail with `EINTR`, mapping `-1` to the thread's errno.
pub(super) fn retry(mut f: impl FnMut() -> isize) -> Result<usize, Errno> {
    loop {
        let r = f();
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = Errno::last();
        if e.0 != libc::EINTR {
            return Err(e);
        }
    }
}

/// Takes ownership of a freshly created fd, or the errno if creation failed.
pub(super) fn owned(fd: RawFd) -> Result<OwnedFd, Errno> {
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `from_raw_fd` requires an open fd that nothing else owns or will close. `fd` is
    // non-negative, so the syscall that returned it (pipe2, fcntl(F_DUPFD_CLOEXEC),
    // epoll_create1, eventfd) succeeded and created it just now for this caller alone.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
