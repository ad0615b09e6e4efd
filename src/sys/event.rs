//! Waiting: epoll instances, eventfd counters, poll(2), and SIGPIPE: the signal mask of the
//! engine's worker threads, and a splice into a closed socket kept from raising it.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use super::errno::{Errno, owned, retry};
use super::io::{read, write};

/// A close-on-exec epoll instance.
pub(crate) fn epoll_create() -> Result<OwnedFd, Errno> {
    // SAFETY: epoll_create1(2) takes flags by value and touches no memory of ours; the new fd
    // goes straight to `owned`, so it has exactly one owner.
    owned(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })
}

/// Registers `fd` in `ep` for `events`, tagged with `token`.
pub(crate) fn epoll_add(
    ep: BorrowedFd<'_>,
    fd: BorrowedFd<'_>,
    events: u32,
    token: u64,
) -> Result<(), Errno> {
    let mut ev = libc::epoll_event { events, u64: token };
    // SAFETY: epoll_ctl(2) reads one `epoll_event` at its pointer (ADD copies it into the
    // kernel and keeps no pointer), and `ev` is a local, initialised `epoll_event` borrowed
    // for the call; both fds are open for the call (`BorrowedFd`).
    retry(|| unsafe {
        libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev) as isize
    })
    .map(|_| ())
}

/// Removes `fd` from `ep` (errors are ignored by callers that are closing it anyway).
pub(crate) fn epoll_del(ep: BorrowedFd<'_>, fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: epoll_ctl(EPOLL_CTL_DEL) ignores the event but kernels before 2.6.9 require a
    // non-null pointer to one; `ev` is a local, initialised `epoll_event` borrowed for the
    // call, and nothing of it is kept.
    retry(|| unsafe {
        libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_DEL, fd.as_raw_fd(), &mut ev) as isize
    })
    .map(|_| ())
}

/// One readiness event: the token its fd was registered with, and what the fd is ready for.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Event {
    /// The token given to [`epoll_add`].
    pub token: u64,
    /// `EPOLLIN`, `EPOLLOUT`, `EPOLLRDHUP`, `EPOLLHUP`, `EPOLLERR` bits.
    pub events: u32,
}

impl Event {
    /// Whether a read may find bytes, an end of file or an error.
    pub(crate) fn readable(&self) -> bool {
        self.events & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32
            != 0
    }

    /// Whether the peer closed its side or the connection failed: from now on a read finds
    /// end of file or an error, with no further event to say so.
    pub(crate) fn closed(&self) -> bool {
        self.events & (libc::EPOLLRDHUP | libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0
    }
}

/// What the poller said about a connection since a read last drained it, kept by its owner
/// until a read shows what it meant.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Readiness {
    /// A read may find something: the poller said readable since a read drained the
    /// connection.
    pub(crate) ready: bool,
    /// The poller said the peer closed (or the connection failed): reads find that forever.
    pub(crate) hup: bool,
}

impl Readiness {
    /// Adds what `ev` says about the connection.
    pub(crate) fn note(&mut self, ev: &Event) {
        self.ready |= ev.readable();
        self.hup |= ev.closed();
    }

    /// Whether a read may find bytes, an end of file or an error.
    pub(crate) fn readable(&self) -> bool {
        self.ready || self.hup
    }
}

/// Waits up to `timeout_ms` (-1: forever) for events; fills `out` and returns how many.
pub(crate) fn epoll_wait(
    ep: BorrowedFd<'_>,
    out: &mut [Event],
    timeout_ms: i32,
) -> Result<usize, Errno> {
    const MAX: usize = 64;
    let mut evs = [libc::epoll_event { events: 0, u64: 0 }; MAX];
    let cap = out.len().min(MAX) as libc::c_int;
    // SAFETY: epoll_wait(2) writes at most `cap` events at its pointer, and `evs` is a local,
    // writable array of MAX >= `cap` events, borrowed exclusively for the call.
    let n = retry(|| unsafe {
        libc::epoll_wait(ep.as_raw_fd(), evs.as_mut_ptr(), cap, timeout_ms) as isize
    })?;
    for (o, e) in out.iter_mut().zip(&evs[..n]) {
        *o = Event {
            token: e.u64,
            events: e.events,
        };
    }
    Ok(n)
}

/// A non-blocking, close-on-exec eventfd counter.
pub(crate) fn eventfd() -> Result<OwnedFd, Errno> {
    // SAFETY: eventfd(2) takes an initial value and flags by value and touches no memory of
    // ours; the new fd goes straight to `owned`, so it has exactly one owner.
    owned(unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) })
}

/// Adds one to an eventfd counter (wakes its waiters).
pub(crate) fn eventfd_signal(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    match write(fd, &1u64.to_ne_bytes()) {
        // A saturated counter is still signalled.
        Ok(_) | Err(Errno(libc::EAGAIN)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Resets an eventfd counter to zero; returns the value it had (0 if it was not signalled).
pub(crate) fn eventfd_drain(fd: BorrowedFd<'_>) -> Result<u64, Errno> {
    let mut b = [0u8; 8];
    match read(fd, &mut b) {
        Ok(8) => Ok(u64::from_ne_bytes(b)),
        Ok(_) => Ok(0),
        Err(e) if e.would_block() => Ok(0),
        Err(e) => Err(e),
    }
}

/// `poll(2)` on `fds` for up to `timeout_ms` (-1: forever); returns how many are ready.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> Result<usize, Errno> {
    // SAFETY: poll(2) reads and writes (`revents`) exactly `fds.len()` pollfd structs at its
    // pointer, and `fds` is an exclusively borrowed slice of that many for the whole call.
    retry(|| unsafe {
        libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) as isize
    })
}

thread_local! {
    /// SIGPIPE is blocked on this thread for good ([`block_sigpipe`]: the engine's threads).
    static SIGPIPE_BLOCKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The signal set `{SIGPIPE}`.
fn sigpipe_set() -> libc::sigset_t {
    // SAFETY: `sigset_t` is a C struct of integers, for which all-zero bytes are a valid
    // value; sigemptyset initialises it below before it is used.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: sigemptyset and sigaddset write only the `sigset_t` they are given, a local
    // borrowed exclusively here.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
    }
    set
}

/// Blocks `SIGPIPE` for the calling thread. splice(2) into a closed socket raises SIGPIPE
/// (it has no `MSG_NOSIGNAL`); on the engine's own threads, which the host's runtime (Go)
/// does not know, the signal stays pending and the call just fails with `EPIPE`.
pub(crate) fn block_sigpipe() {
    let set = sigpipe_set();
    // SAFETY: pthread_sigmask reads the local `set` and changes only the calling thread's mask
    // (a null old-set pointer asks for nothing back).
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    SIGPIPE_BLOCKED.set(true);
}

/// Runs `f`, a call that raises SIGPIPE when it fails with `EPIPE` (splice(2) into a closed
/// socket: it has no `MSG_NOSIGNAL`), so that the calling thread never receives the signal: a
/// C caller's process, SIGPIPE at its default, would die of it. SIGPIPE is blocked around the
/// call, and a SIGPIPE the failed call left pending is taken back before the mask is restored
/// (unless the caller had SIGPIPE blocked already: then it stays pending, as without this). On
/// the engine's threads ([`block_sigpipe`]) it only calls `f`.
pub(crate) fn quiet_sigpipe(f: impl FnOnce() -> Result<usize, Errno>) -> Result<usize, Errno> {
    if SIGPIPE_BLOCKED.get() {
        return f();
    }
    let set = sigpipe_set();
    // SAFETY: `sigset_t` is a C struct of integers, for which all-zero bytes are a valid
    // value; pthread_sigmask overwrites it with the thread's mask below.
    let mut old: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: pthread_sigmask reads the local `set`, writes the calling thread's previous mask
    // into the local `old`, and changes only the calling thread's mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old) };
    let r = f();
    // SAFETY: sigismember only reads the local, initialised `old`.
    let was_blocked = unsafe { libc::sigismember(&old, libc::SIGPIPE) } == 1;
    if r == Err(Errno(libc::EPIPE)) && !was_blocked {
        let now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: sigtimedwait reads the local `set` and `now` (a zero timeout: it never
        // waits) and takes at most the one pending SIGPIPE, which this thread had unblocked
        // before the call, so it is the one `f` raised; a null info pointer asks for nothing.
        unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &now) };
    }
    // SAFETY: pthread_sigmask reads the local `old`, the mask saved above, and restores it
    // for the calling thread only.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    r
}
