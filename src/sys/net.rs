//! Sockets: accepting connections, connecting without blocking, and the socket options the
//! engine's proxy sets.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use super::errno::{Errno, owned, retry};

/// `accept4(2)` on a listening socket: the new connection, non-blocking and close-on-exec,
/// and its peer's IP address (`None` for a peer that has none, a Unix socket say).
pub(crate) fn accept(listener: BorrowedFd<'_>) -> Result<(OwnedFd, Option<IpAddr>), Errno> {
    // SAFETY: `sockaddr_storage` is a C struct of integers, for which all-zero bytes are a
    // valid value; accept4 overwrites what it reports.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: accept4(2) writes at most `len` bytes of address at its second argument and the
    // address's real length at its third: `ss` is a local `sockaddr_storage` of exactly `len`
    // bytes and `len` a local, both borrowed exclusively for the call. The new fd goes
    // straight to `owned` below, so it has exactly one owner.
    let fd = retry(|| unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            (&mut ss as *mut libc::sockaddr_storage).cast(),
            &mut len,
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        ) as isize
    })?;
    let fd = owned(fd as libc::c_int)?;
    Ok((fd, ip_of(&ss)))
}

/// The IP address in a socket address filled by the kernel.
fn ip_of(ss: &libc::sockaddr_storage) -> Option<IpAddr> {
    match libc::c_int::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a `sockaddr_in` (ss_family AF_INET) at the start of the
            // storage, which is larger than and aligned for every sockaddr type.
            let a: &libc::sockaddr_in = unsafe { &*(ss as *const _ as *const libc::sockaddr_in) };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for a `sockaddr_in6` (ss_family AF_INET6).
            let a: &libc::sockaddr_in6 = unsafe { &*(ss as *const _ as *const libc::sockaddr_in6) };
            let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(match ip.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(ip),
            })
        }
        _ => None,
    }
}

/// A C socket address for `addr`, and its length.
fn c_addr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: `sockaddr_storage` is a C struct of integers: all-zero bytes are valid.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: the storage is larger than and aligned for a `sockaddr_in`, and is a
            // local borrowed exclusively here.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for a `sockaddr_in6`.
            unsafe { std::ptr::write((&mut ss as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (ss, len as libc::socklen_t)
}

/// Starts a TCP connection to `addr` without blocking: a non-blocking, close-on-exec socket
/// and whether it is connected already (`false`: in progress; wait until it is writable, then
/// read [`socket_error`]). A connection refused at once is an error.
pub(crate) fn connect(addr: &SocketAddr) -> Result<(OwnedFd, bool), Errno> {
    let fd = tcp_socket(addr, libc::SOCK_NONBLOCK)?;
    let (ss, len) = c_addr(addr);
    // SAFETY: connect(2) reads `len` bytes of address at its pointer, and `ss` is a local,
    // initialised `sockaddr_storage` holding that many, borrowed for the call; `fd` is open.
    // Not retried on EINTR: an interrupted connect goes on in the background, as EINPROGRESS.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            (&ss as *const libc::sockaddr_storage).cast(),
            len,
        )
    };
    if r == 0 {
        return Ok((fd, true));
    }
    match Errno::last() {
        Errno(libc::EINPROGRESS) | Errno(libc::EINTR) => Ok((fd, false)),
        e => Err(e),
    }
}

/// A close-on-exec TCP socket of `addr`'s family, with `flags` (`SOCK_NONBLOCK` or 0).
fn tcp_socket(addr: &SocketAddr, flags: libc::c_int) -> Result<OwnedFd, Errno> {
    let family = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: socket(2) takes three ints and touches no memory of ours; the new fd goes
    // straight to `owned`, so it has exactly one owner.
    owned(unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC | flags, 0) })
}

/// A TCP socket listening on `addr` with `SO_REUSEPORT` set before it binds: several such
/// sockets share one port, and the kernel spreads new connections over them by a hash of
/// their addresses.
pub(crate) fn listen_reuseport(addr: &SocketAddr) -> Result<OwnedFd, Errno> {
    let fd = tcp_socket(addr, 0)?;
    set_int_option(fd.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    let (ss, len) = c_addr(addr);
    // SAFETY: bind(2) reads `len` bytes of address at its pointer, and `ss` is a local,
    // initialised `sockaddr_storage` holding that many, borrowed for the call; `fd` is open.
    if unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&ss as *const libc::sockaddr_storage).cast(),
            len,
        )
    } != 0
    {
        return Err(Errno::last());
    }
    // SAFETY: listen(2) takes an open fd and an int and touches no memory of ours.
    if unsafe { libc::listen(fd.as_raw_fd(), libc::SOMAXCONN) } != 0 {
        return Err(Errno::last());
    }
    Ok(fd)
}

/// The pending error of a socket (`SO_ERROR`, which reading clears): how a connect that was
/// in progress ended (0: connected).
pub(crate) fn socket_error(fd: BorrowedFd<'_>) -> Result<i32, Errno> {
    int_option(fd, libc::SOL_SOCKET, libc::SO_ERROR)
}

/// Reads an int socket option.
pub(super) fn int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> Result<libc::c_int, Errno> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt(2) writes at most `len` bytes at its value pointer and the new
    // length at `&mut len`; `v` is a local int and `len` holds its size, both borrowed
    // exclusively for the call; `fd` is open (`BorrowedFd`).
    retry(|| unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        ) as isize
    })?;
    Ok(v)
}

/// Sets an int socket option.
fn set_int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    v: libc::c_int,
) -> Result<(), Errno> {
    // SAFETY: setsockopt(2) reads `size_of::<c_int>()` bytes at its value pointer, and `v` is
    // a local int borrowed for the call; `fd` is open (`BorrowedFd`).
    retry(|| unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        ) as isize
    })
    .map(|_| ())
}

/// `TCP_NODELAY`: small writes (heads, short bodies) leave at once instead of waiting for the
/// peer's acknowledgement, as Go's net package and nginx (`tcp_nodelay`) do.
pub(crate) fn set_nodelay(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    set_int_option(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)
}

/// `SO_LINGER` with a zero timeout: closing the socket resets the connection (RST) instead of
/// a graceful FIN, for connections that broke mid-message.
pub(crate) fn set_linger_zero(fd: BorrowedFd<'_>) -> Result<(), Errno> {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt(2) reads `size_of::<linger>()` bytes at its value pointer, and `l`
    // is a local `linger` borrowed for the call; `fd` is open (`BorrowedFd`).
    retry(|| unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        ) as isize
    })
    .map(|_| ())
}
