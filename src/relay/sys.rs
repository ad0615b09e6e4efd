//! The relay's only unsafe code: thin, checked wrappers over the Linux syscalls it uses.
//!
//! Every wrapper takes borrowed fds ([`BorrowedFd`]) or owned ones ([`OwnedFd`]) and Rust
//! slices, so callers stay safe: a syscall on a closed or foreign fd fails with `EBADF`
//! instead of touching memory it should not. Results are `Result<_, Errno>` where [`Errno`]
//! is the raw OS error number; `EINTR` is retried here so callers never see it.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// A raw OS error number (`errno`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The calling thread's last error.
    fn last() -> Errno {
        Errno(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }

    /// Whether the operation would block (`EAGAIN`/`EWOULDBLOCK`).
    pub fn would_block(self) -> bool {
        self.0 == libc::EAGAIN || self.0 == libc::EWOULDBLOCK
    }
}

/// Runs `f` until it does not fail with `EINTR`, mapping `-1` to the thread's errno.
fn retry(mut f: impl FnMut() -> isize) -> Result<usize, Errno> {
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

/// `read(2)` into `buf`; `Ok(0)` is end of file.
pub fn read(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is a valid, writable region of `buf.len()` bytes for the whole call.
    retry(|| unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// `recv(2)` with `MSG_PEEK`: copies queued bytes into `buf` without consuming them.
pub fn peek(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is a valid, writable region of `buf.len()` bytes for the whole call.
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
pub fn write(fd: BorrowedFd<'_>, buf: &[u8]) -> Result<usize, Errno> {
    // SAFETY: `buf` is a valid, readable region of `buf.len()` bytes for the whole call.
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
            // SAFETY: `buf` is a valid, readable region of `buf.len()` bytes for the call.
            unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) }
        }),
        r => r,
    }
}

/// Most slices one [`writev`] call takes; longer lists are written in several calls.
pub const MAX_IOV: usize = 16;

/// `writev(2)` (as `sendmsg` with `MSG_NOSIGNAL` on sockets) of up to [`MAX_IOV`] slices.
pub fn writev(fd: BorrowedFd<'_>, bufs: &[&[u8]]) -> Result<usize, Errno> {
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
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = n as _;
    // SAFETY: `iov[..n]` point at live slices borrowed for the whole call; the kernel only
    // reads through them (sendmsg never writes to iov_base).
    let r = retry(|| unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) });
    match r {
        // Plain writev for fds that are not sockets.
        Err(Errno(libc::ENOTSOCK)) => retry(|| {
            // SAFETY: `iov[..n]` point at live slices borrowed for the whole call.
            unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), n as libc::c_int) }
        }),
        r => r,
    }
}

/// `splice(2)` of up to `len` bytes from `from` to `to` (one of them must be a pipe),
/// non-blocking on the pipe side and moving pages where the kernel can.
pub fn splice(from: BorrowedFd<'_>, to: BorrowedFd<'_>, len: usize) -> Result<usize, Errno> {
    let flags = libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK;
    // SAFETY: null offsets mean "use and advance the file position"; no memory is passed.
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

/// Takes ownership of a freshly created fd, or the errno if creation failed.
fn owned(fd: RawFd) -> Result<OwnedFd, Errno> {
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `fd` was just returned by the kernel to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A non-blocking, close-on-exec pipe: `(read end, write end)`.
pub fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    let mut fds = [-1 as RawFd; 2];
    // SAFETY: `fds` is a writable array of two ints, as pipe2 requires.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if r < 0 {
        return Err(Errno::last());
    }
    Ok((owned(fds[0])?, owned(fds[1])?))
}

/// Asks for a pipe buffer of `size` bytes; returns the size the kernel granted.
pub fn set_pipe_size(fd: BorrowedFd<'_>, size: usize) -> Result<usize, Errno> {
    let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    // SAFETY: F_SETPIPE_SZ takes an int argument and touches no memory of ours.
    retry(|| unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, size) as isize })
}

/// The current pipe buffer size.
pub fn pipe_size(fd: BorrowedFd<'_>) -> Result<usize, Errno> {
    // SAFETY: F_GETPIPE_SZ takes no argument.
    retry(|| unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETPIPE_SZ) as isize })
}

/// A close-on-exec duplicate of `fd` (same open file description, so same O_NONBLOCK).
pub fn dup(fd: BorrowedFd<'_>) -> Result<OwnedFd, Errno> {
    // SAFETY: F_DUPFD_CLOEXEC with a minimum fd number; touches no memory.
    owned(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) })
}

/// Sets `O_NONBLOCK` on the open file description behind `fd`.
pub fn set_nonblocking(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: F_GETFL/F_SETFL take and return plain ints.
    let flags = retry(|| unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) as isize })?;
    if flags as libc::c_int & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
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
pub fn shutdown_write(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    // SAFETY: shutdown takes an fd and a flag; touches no memory.
    retry(|| unsafe { libc::shutdown(fd.as_raw_fd(), libc::SHUT_WR) as isize }).map(|_| ())
}

/// A close-on-exec epoll instance.
pub fn epoll_create() -> Result<OwnedFd, Errno> {
    // SAFETY: epoll_create1 takes flags only.
    owned(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })
}

/// Registers `fd` in `ep` for `events`, tagged with `token`.
pub fn epoll_add(
    ep: BorrowedFd<'_>,
    fd: BorrowedFd<'_>,
    events: u32,
    token: u64,
) -> Result<(), Errno> {
    let mut ev = libc::epoll_event { events, u64: token };
    // SAFETY: `ev` is a valid epoll_event for the duration of the call.
    retry(|| unsafe {
        libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev) as isize
    })
    .map(|_| ())
}

/// Removes `fd` from `ep` (errors are ignored by callers that are closing it anyway).
pub fn epoll_del(ep: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: `ev` is valid (older kernels require non-null even for DEL).
    retry(|| unsafe {
        libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_DEL, fd.as_raw_fd(), &mut ev) as isize
    })
    .map(|_| ())
}

/// One readiness event: the token its fd was registered with. (Which readiness does not
/// matter to the relay: every event steps the whole job until it would block again.)
#[derive(Clone, Copy, Debug, Default)]
pub struct Event {
    /// The token given to [`epoll_add`].
    pub token: u64,
}

/// Waits up to `timeout_ms` (-1: forever) for events; fills `out` and returns how many.
pub fn epoll_wait(ep: BorrowedFd<'_>, out: &mut [Event], timeout_ms: i32) -> Result<usize, Errno> {
    const MAX: usize = 64;
    let mut evs = [libc::epoll_event { events: 0, u64: 0 }; MAX];
    let cap = out.len().min(MAX) as libc::c_int;
    // SAFETY: `evs` has room for `cap` events, and the kernel writes at most that many.
    let n = retry(|| unsafe {
        libc::epoll_wait(ep.as_raw_fd(), evs.as_mut_ptr(), cap, timeout_ms) as isize
    })?;
    for (o, e) in out.iter_mut().zip(&evs[..n]) {
        *o = Event { token: e.u64 };
    }
    Ok(n)
}

/// A non-blocking, close-on-exec eventfd counter.
pub fn eventfd() -> Result<OwnedFd, Errno> {
    // SAFETY: eventfd takes an initial value and flags.
    owned(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })
}

/// Adds one to an eventfd counter (wakes its waiters).
pub fn eventfd_signal(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    match write(fd, &1u64.to_ne_bytes()) {
        // A saturated counter is still signalled.
        Ok(_) | Err(Errno(libc::EAGAIN)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Resets an eventfd counter to zero; returns the value it had (0 if it was not signalled).
pub fn eventfd_drain(fd: BorrowedFd<'_>) -> Result<u64, Errno> {
    let mut b = [0u8; 8];
    match read(fd, &mut b) {
        Ok(8) => Ok(u64::from_ne_bytes(b)),
        Ok(_) => Ok(0),
        Err(e) if e.would_block() => Ok(0),
        Err(e) => Err(e),
    }
}

/// The number of open fds of this process (entries of `/proc/self/fd`, minus the one the
/// listing itself uses). Used by leak tests.
pub fn open_fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count().saturating_sub(1))
        .unwrap_or(0)
}

/// What kind of file an fd is, as far as splice cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdKind {
    /// A stream socket (TCP, Unix stream): splice works both ways.
    StreamSocket,
    /// A pipe or FIFO: splice works both ways.
    Pipe,
    /// Anything else (files, datagram sockets, ttys): read/write only.
    Other,
}

/// Classifies `fd` with `fstat` and, for sockets, `SO_TYPE`.
pub fn fd_kind(fd: BorrowedFd<'_>) -> Result<FdKind, Errno> {
    // SAFETY: stat is plain data; all-zero is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable stat buffer for the call.
    retry(|| unsafe { libc::fstat(fd.as_raw_fd(), &mut st) as isize })?;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFIFO => Ok(FdKind::Pipe),
        libc::S_IFSOCK => {
            let mut ty: libc::c_int = 0;
            let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
            // SAFETY: `ty` and `len` are valid for writes; len holds the size of `ty`.
            retry(|| unsafe {
                libc::getsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_TYPE,
                    (&mut ty as *mut libc::c_int).cast(),
                    &mut len,
                ) as isize
            })?;
            Ok(if ty == libc::SOCK_STREAM {
                FdKind::StreamSocket
            } else {
                FdKind::Other
            })
        }
        _ => Ok(FdKind::Other),
    }
}

/// `poll(2)` on `fds` for up to `timeout_ms` (-1: forever); returns how many are ready.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> Result<usize, Errno> {
    // SAFETY: `fds` is a valid, writable array of `fds.len()` pollfd structs.
    retry(|| unsafe {
        libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) as isize
    })
}

/// Blocks `SIGPIPE` for the calling thread. splice(2) into a closed socket raises SIGPIPE
/// (it has no `MSG_NOSIGNAL`); on the engine's own threads, which the host's runtime (Go)
/// does not know, the signal stays pending and the call just fails with `EPIPE`.
pub fn block_sigpipe() {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it before use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t; the calls only touch it and this thread's mask.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}
