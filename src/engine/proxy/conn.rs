//! A client connection of the proxy: a small record that lives in the worker's epoll from
//! accept to close. Between exchanges it holds its fd and its address, nothing else: a
//! session (with its buffers) is lent to it when bytes arrive and taken back when the
//! exchange ends, an upstream connection only for the exchange.
//!
//! Also the proxy's own short responses.

use std::borrow::Cow;
use std::io::Write;
use std::net::IpAddr;
use std::os::fd::OwnedFd;
use std::time::Instant;

use super::slab::Key;
use crate::engine::session::{Session, Waiting};
use crate::relay::Tunnel;
use crate::sys::Readiness;

/// What a client connection is doing.
#[derive(Debug)]
pub(crate) enum State {
    /// Between exchanges (no session) or in one: the session is stepped.
    Open,
    /// Waiting for its upstream connection to connect.
    Dialing,
    /// Waiting for a connection to upstream `upstream`, whose connections are at the limit
    /// (in that upstream's queue of the worker).
    Queued { upstream: usize },
    /// Waiting for the caller's reply to an event.
    Event {
        /// A hook event (else an error event).
        hook: bool,
        /// The status the proxy answers when the caller does not.
        status: u16,
    },
    /// Writing a response of the proxy's own; then closing, or reading the next request.
    Reply {
        bytes: Cow<'static, [u8]>,
        done: usize,
        close: bool,
    },
    /// A tunnel with the lent upstream connection (after a 101).
    Tunnel(Box<Tunnel>),
}

impl State {
    /// A number per variant (deadlines restart when it changes).
    pub(crate) fn tag(&self) -> u8 {
        match self {
            State::Open => 0,
            State::Dialing => 1,
            State::Event { .. } => 2,
            State::Reply { .. } => 3,
            State::Tunnel(_) => 4,
            State::Queued { .. } => 5,
        }
    }
}

/// Room for an IPv6 address in text.
const IP_TEXT: usize = 46;

/// One client connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) fd: OwnedFd,
    ip: [u8; IP_TEXT],
    ip_len: u8,
    pub(crate) state: State,
    /// The session of the exchange in progress (none between exchanges).
    pub(crate) session: Option<Box<Session>>,
    /// The upstream connection of the exchange in progress.
    pub(crate) upstream: Option<Key>,
    /// Upstream connections tried for the exchange in progress.
    pub(crate) attempts: u8,
    /// The exchange in progress waits for its response head past its deadline (504).
    pub(crate) timed_out: bool,
    /// Close once the exchange in progress ends (shutdown).
    pub(crate) closing: bool,
    /// No response has gone out yet: waiting for the first request counts against the
    /// read-header deadline (as net/http's ReadHeaderTimeout does), not the idle one.
    pub(crate) fresh: bool,
    /// What the poller said since a read drained the connection (the session hears it through
    /// [`Session::set_ready`](crate::engine::Session::set_ready)).
    pub(crate) readiness: Readiness,
    /// What the connection waited for when it last changed ([`Conn::waiting`]), and since
    /// when.
    pub(crate) seen: (u64, Waiting, u8),
    pub(crate) since: Instant,
}

impl Conn {
    /// A connection just accepted from `ip`.
    pub(crate) fn new(fd: OwnedFd, ip: Option<IpAddr>, now: Instant) -> Conn {
        let mut text = [0u8; IP_TEXT];
        let mut len = 0;
        if let Some(ip) = ip {
            let mut w = &mut text[..];
            if write!(w, "{ip}").is_ok() {
                len = IP_TEXT - w.len();
            }
        }
        Conn {
            fd,
            ip: text,
            ip_len: len as u8,
            state: State::Open,
            session: None,
            upstream: None,
            attempts: 0,
            timed_out: false,
            closing: false,
            fresh: true,
            // Registering the connection reports bytes already there.
            readiness: Readiness::default(),
            seen: (0, Waiting::Idle, 0),
            since: now,
        }
    }

    /// The client's address in text (for X-Forwarded-For; empty when it has none).
    pub(crate) fn ip(&self) -> &[u8] {
        &self.ip[..usize::from(self.ip_len)]
    }

    /// What the connection waits for now (a connection without a session is idle), with
    /// what restarts its deadline: the bytes moving for a head or body being written or
    /// relayed (a stall deadline), only the next exchange for the rest (a head that trickles
    /// in a byte at a time still meets its deadline).
    pub(crate) fn waiting(&self) -> (u64, Waiting, u8) {
        let (progress, waiting) = self.session.as_ref().map_or((0, Waiting::Idle), |s| {
            let w = s.waiting();
            match w {
                Waiting::Body => (s.activity(), w),
                _ => (s.stats().requests + s.stats().responses, w),
            }
        });
        (progress, waiting, self.state.tag())
    }
}

/// The proxy's own responses: the bytes, and whether the connection closes after them.
pub(crate) fn canned(status: u16, keep_alive: bool) -> &'static [u8] {
    match (status, keep_alive) {
        (400, _) => b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        (405, _) => {
            b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        }
        (408, _) => {
            b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        }
        (431, _) => {
            b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        }
        (501, _) => {
            b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        }
        (504, true) => b"HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\n\r\n",
        (504, false) => {
            b"HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        }
        (_, true) => b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
        (_, false) => b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_kept_in_text() {
        let fd = crate::sys::eventfd().unwrap();
        let c = Conn::new(fd, "2001:db8::1".parse().ok(), Instant::now());
        assert_eq!(c.ip(), b"2001:db8::1");
        let fd = crate::sys::eventfd().unwrap();
        let c = Conn::new(fd, None, Instant::now());
        assert_eq!(c.ip(), b"");
        assert!(
            std::mem::size_of::<Conn>() <= 192,
            "an idle connection stays small"
        );
    }

    #[test]
    fn canned_responses_close_unless_asked_to_keep_alive() {
        for s in [400, 405, 408, 431, 501, 502, 504] {
            let r = std::str::from_utf8(canned(s, false)).unwrap();
            assert!(r.starts_with(&format!("HTTP/1.1 {s} ")) && r.contains("Connection: close"));
        }
        assert!(
            !std::str::from_utf8(canned(502, true))
                .unwrap()
                .contains("close")
        );
    }
}
