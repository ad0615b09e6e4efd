//! The crate's syscalls: thin, checked wrappers over the Linux calls that the relay and the
//! engine make, and the only `unsafe` code either of them needs.
//!
//! Every wrapper takes borrowed fds ([`BorrowedFd`](std::os::fd::BorrowedFd)) or returns owned
//! ones ([`OwnedFd`](std::os::fd::OwnedFd)) and takes Rust slices, so its callers stay safe: a
//! syscall on a closed or foreign fd fails with `EBADF` instead of touching memory it should
//! not, and no pointer handed to the kernel outlives the call. Results are
//! `Result<_, Errno>`, [`Errno`] being the raw OS error number; `EINTR` is retried here so
//! callers never see it.
//!
//! - `io.rs`: reading and writing bytes (read, peek, write, writev, splice).
//! - `fd.rs`: making and setting up fds (pipes and their size, dup, non-blocking, half-close,
//!   what kind of file an fd is).
//! - `event.rs`: waiting (epoll, eventfd, poll) and the signal mask of worker threads.
//! - `net.rs`: sockets (accept, non-blocking connect and its outcome, socket options).
//!
//! Like httparse, which keeps its unsafe byte scanning in `iter.rs` and `simd/`, the crate
//! confines its unsafe syscalls here: `src/relay/` and `src/engine/` hold no `unsafe` block.

mod errno;
mod event;
mod fd;
mod io;
mod net;

pub(crate) use errno::Errno;
pub(crate) use event::{
    Event, Readiness, block_sigpipe, epoll_add, epoll_create, epoll_del, epoll_wait, eventfd,
    eventfd_drain, eventfd_signal, poll, quiet_sigpipe,
};
pub(crate) use fd::{
    FdKind, dup, fd_kind, pipe, pipe_size, set_nonblocking, set_pipe_size, shutdown_write,
};
pub(crate) use io::{peek, read, splice, write, writev};
pub(crate) use net::{
    accept, connect, listen_reuseport, set_linger_zero, set_nodelay, socket_error,
};
