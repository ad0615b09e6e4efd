//! A worker's part of the proxy: its listeners (accepting), its client connections and
//! upstream connections, the sessions it lends to exchanges, and its deadlines. The worker
//! thread hands it the epoll events whose token carries the proxy's tag, the messages the
//! engine sends it, and a sweep now and then; `serve/drive.rs` steps a client connection.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::config::{ErrorCause, Reply};
use super::conn::{Conn, State};
use super::shared::{C, ProxyShared};
use super::slab::{Key, Kind, Slab};
use super::upstream::{EVENTS, UpState, Upstreams};
use crate::engine::session::{Session, Waiting};
use crate::relay::Buffer;
use crate::sys::{self, Event};

mod drive;

/// What the engine tells a worker's proxy.
#[derive(Debug)]
pub(crate) enum ProxyMsg {
    /// Accept on this listening socket too (shared with the other workers, or this one's).
    Listen(Arc<OwnedFd>),
    /// Stop accepting, close idle connections, close the others after their exchange.
    Shutdown,
    /// Close every connection now.
    CloseAll,
    /// The caller's answer to the event of connection `token`.
    Reply(u64, Reply),
}

/// A listening socket.
#[derive(Debug)]
struct Listener {
    fd: Arc<OwnedFd>,
    /// Taken out of epoll after running out of fds; put back at the next sweep.
    paused: bool,
}

/// Sessions kept for reuse by a worker, with their buffers (two small ones, or full-size
/// ones after larger exchanges), at least: enough that the exchanges of a few hundred busy
/// connections starting and ending take and give back sessions without allocating. Beyond
/// it the spares follow the sessions lent ([`spare_cap`]); idle connections hold none.
const MAX_IDLE_SESSIONS: usize = 256;
/// Connections accepted per listener event at most. The listener is level-triggered: the
/// rest wake a worker again, the one that is waiting (so connections spread over the workers),
/// and no accept comes back empty (as nginx's default, `multi_accept off`).
const ACCEPT_BATCH: usize = 1;

/// Spare sessions a worker keeps while `lent` are lent: [`MAX_IDLE_SESSIONS`], or half as
/// many as are lent when more are (thousands of exchanges in flight start and end by the
/// hundred between two sweeps; a session freed and allocated again for each costs its
/// allocations and the memory faulted in for them). The spares beyond it are freed as
/// sessions come back, so they shrink with the sessions lent.
fn spare_cap(lent: usize) -> usize {
    MAX_IDLE_SESSIONS.max(lent / 2)
}

/// A worker's proxy state.
#[derive(Debug)]
pub(crate) struct ProxyWorker {
    shared: Arc<ProxyShared>,
    /// This worker's index.
    w: usize,
    conns: Slab<Conn>,
    ups: Upstreams,
    listeners: Slab<Listener>,
    /// Sessions between exchanges, ready to lend. Boxed: lending one moves a pointer into
    /// the connection record, which stays small.
    #[allow(clippy::vec_box)]
    sessions: Vec<Box<Session>>,
    /// Sessions lent to connections now.
    lent: usize,
    /// Connections that yielded with bytes still to move, or that were served from a queue:
    /// stepped again soon.
    again: Vec<Key>,
    /// Scratch for [`ProxyWorker::serve_queues`] (the upstreams whose queues it serves).
    woken: Vec<usize>,
    draining: bool,
    swept: Instant,
    sweep_every: Duration,
    scratch: Vec<Key>,
}

impl ProxyWorker {
    /// Worker `w`'s part of the proxy `shared`.
    pub(crate) fn new(shared: Arc<ProxyShared>, w: usize) -> ProxyWorker {
        let t = shared.cfg.timeouts;
        let shortest = [
            t.dial_ms,
            t.read_header_ms,
            t.idle_ms,
            t.response_header_ms,
            t.body_ms,
        ]
        .into_iter()
        .filter(|&ms| ms > 0)
        .min()
        .unwrap_or(1000);
        ProxyWorker {
            ups: Upstreams::new(&shared, w),
            shared,
            w,
            conns: Slab::default(),
            listeners: Slab::default(),
            sessions: Vec::new(),
            lent: 0,
            again: Vec::new(),
            woken: Vec::new(),
            draining: false,
            swept: Instant::now(),
            sweep_every: Duration::from_millis(u64::from((shortest / 4).clamp(5, 250))),
            scratch: Vec::new(),
        }
    }

    /// How long the worker may wait for events before the next sweep is due (-1: no
    /// deadline to watch).
    pub(crate) fn timeout_ms(&self, now: Instant) -> i32 {
        if !self.again.is_empty() || self.ups.any_woken() {
            return 0;
        }
        if self.conns.len() == 0 && !self.any_paused() {
            return -1;
        }
        let next = self.swept + self.sweep_every;
        next.saturating_duration_since(now).as_millis() as i32
    }

    fn any_paused(&self) -> bool {
        self.listeners
            .keys()
            .any(|k| self.listeners.get(k).is_some_and(|l| l.paused))
    }

    /// Handles a message of the engine.
    pub(crate) fn message(&mut self, ep: BorrowedFd<'_>, msg: ProxyMsg) {
        match msg {
            ProxyMsg::Listen(fd) => {
                if self.draining {
                    return;
                }
                let k = self.listeners.insert(Listener { fd, paused: false });
                self.watch_listener(ep, k);
            }
            ProxyMsg::Shutdown => self.shutdown(),
            ProxyMsg::CloseAll => self.close_all(),
            ProxyMsg::Reply(token, reply) => self.reply(ep, token, reply),
        }
    }

    /// Registers a listener (level-triggered and exclusive: one waiting worker is woken per
    /// connection, and connections left unaccepted wake one again).
    fn watch_listener(&mut self, ep: BorrowedFd<'_>, k: Key) {
        let Some(l) = self.listeners.get_mut(k) else {
            return;
        };
        let events = (libc::EPOLLIN | libc::EPOLLEXCLUSIVE) as u32;
        l.paused = sys::epoll_add(ep, l.fd.as_fd(), events, k.token(Kind::Listener)).is_err();
    }

    /// Handles an epoll event of the proxy.
    pub(crate) fn event(&mut self, ep: BorrowedFd<'_>, ev: &Event) {
        match Key::of(ev.token) {
            (Some(Kind::Listener), k) => self.accept(ep, k),
            (Some(Kind::Client), k) => {
                if let Some(c) = self.conns.get_mut(k) {
                    c.readiness.note(ev);
                }
                self.drive(ep, k)
            }
            (Some(Kind::Upstream), k) => {
                if let Some(u) = self.ups.conns.get_mut(k) {
                    u.readiness.note(ev);
                }
                self.upstream_event(ep, k)
            }
            (None, _) => {}
        }
    }

    /// Accepts what is waiting on listener `k`.
    fn accept(&mut self, ep: BorrowedFd<'_>, k: Key) {
        let now = Instant::now();
        for _ in 0..ACCEPT_BATCH {
            let Some(l) = self.listeners.get(k) else {
                return;
            };
            match sys::accept(l.fd.as_fd()) {
                Ok((fd, ip)) => {
                    // TCP_NODELAY comes from the listener (Engine::listen sets it there).
                    let ck = self.conns.insert(Conn::new(fd, ip, now));
                    let registered = self
                        .conns
                        .get(ck)
                        .map(|c| sys::epoll_add(ep, c.fd.as_fd(), EVENTS, ck.token(Kind::Client)));
                    if !matches!(registered, Some(Ok(()))) {
                        self.conns.remove(ck);
                        continue;
                    }
                    let c = &self.shared.workers[self.w].counters;
                    c.add(C::Accepted, 1);
                    c.add(C::Open, 1);
                }
                Err(e) if e.would_block() => return,
                Err(sys::Errno(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)) => {
                    // Out of fds or memory: stop accepting until the next sweep, instead of
                    // waking on the same pending connection over and over.
                    if let Some(l) = self.listeners.get_mut(k) {
                        let _ = sys::epoll_del(ep, l.fd.as_fd());
                        l.paused = true;
                    }
                    return;
                }
                // The peer reset before the accept (ECONNABORTED) and the like: next one.
                Err(_) => {}
            }
        }
    }

    /// An event on an upstream connection: steps the exchange that holds it; an idle one
    /// that became readable was closed by the upstream (or sent stray bytes): closed.
    fn upstream_event(&mut self, ep: BorrowedFd<'_>, k: Key) {
        let Some(u) = self.ups.conns.get(k) else {
            return;
        };
        match u.state {
            UpState::Idle => {
                if let Some(u) = self.ups.conns.get_mut(k) {
                    if !u.readiness.readable() {
                        return; // writable again: nothing to look at
                    }
                    if crate::engine::session::upstream_open(u.fd.as_fd()) {
                        u.readiness.ready = false;
                    } else {
                        self.ups.close(&self.shared, self.w, k);
                    }
                }
            }
            UpState::Connecting { owner } => self.connect_done(ep, owner, k),
            UpState::Lent { owner } => self.drive(ep, owner),
        }
    }

    /// Serves the upstream queues that may be, then steps the connections that yielded with
    /// bytes left to move or were served.
    pub(crate) fn run_again(&mut self, ep: BorrowedFd<'_>) {
        if self.ups.any_woken() {
            self.serve_queues(ep);
        }
        let mut keys = std::mem::take(&mut self.again);
        for k in keys.drain(..) {
            self.drive(ep, k);
        }
        if self.again.is_empty() {
            self.again = keys; // keep the capacity
        }
    }

    /// Checks deadlines when a sweep is due.
    pub(crate) fn sweep(&mut self, ep: BorrowedFd<'_>, now: Instant) {
        if now.duration_since(self.swept) < self.sweep_every {
            return;
        }
        self.swept = now;
        let paused: Vec<Key> = self
            .listeners
            .keys()
            .filter(|&k| self.listeners.get(k).is_some_and(|l| l.paused))
            .collect();
        for k in paused {
            self.watch_listener(ep, k);
        }
        let mut keys = std::mem::take(&mut self.scratch);
        keys.extend(self.conns.keys());
        for k in keys.drain(..) {
            self.check_deadline(ep, k, now);
        }
        self.scratch = keys;
    }

    /// Acts on connection `k` when it has waited past its deadline.
    fn check_deadline(&mut self, ep: BorrowedFd<'_>, k: Key, now: Instant) {
        let t = self.shared.cfg.timeouts;
        let Some(c) = self.conns.get_mut(k) else {
            return;
        };
        let (_, waiting, _) = c.seen;
        let limit = match &c.state {
            State::Open => match waiting {
                Waiting::Idle if c.fresh => t.read_header_ms,
                Waiting::Idle => t.idle_ms,
                Waiting::RequestHead => t.read_header_ms,
                Waiting::ResponseHead => t.response_header_ms,
                Waiting::Body => t.body_ms,
                Waiting::Stopped => 0,
            },
            State::Dialing | State::Queued { .. } => t.dial_ms,
            State::Event { .. } | State::Reply { .. } => t.body_ms,
            State::Tunnel(_) => 0,
        };
        if limit == 0 || now.duration_since(c.since) < Duration::from_millis(u64::from(limit)) {
            return;
        }
        match (&c.state, waiting) {
            (State::Open, Waiting::RequestHead) => {
                if let Some(s) = c.session.as_mut() {
                    s.hand_back(crate::relay::Error::TimedOut);
                }
                self.answer(k, 408, ErrorCause::Timeout);
                self.drive(ep, k);
            }
            (State::Open, Waiting::ResponseHead) => {
                c.timed_out = true;
                if let Some(s) = c.session.as_mut() {
                    s.hand_back(crate::relay::Error::TimedOut);
                }
                self.drive(ep, k);
            }
            (&State::Queued { upstream }, _) => {
                self.queue_timed_out(k, upstream);
                self.drive(ep, k);
            }
            (State::Dialing, _) => {
                if let Some(u) = c.upstream.take() {
                    self.ups.failed(&self.shared, self.w, u);
                }
                self.dial_failed(k);
                self.drive(ep, k);
            }
            _ => self.close(k),
        }
    }

    /// Lends a session to connection `k` (from the worker's spares, or a new one).
    fn lend_session(&mut self, k: Key) {
        let Some(c) = self.conns.get_mut(k) else {
            return;
        };
        if c.session.is_some() {
            return;
        }
        let mut s = self.sessions.pop().unwrap_or_else(|| {
            let opts = self.shared.cfg.session.clone();
            Box::new(Session::with_buffers(opts, Buffer::none(), Buffer::none()))
        });
        s.set_client_ip(c.ip());
        c.session = Some(s);
        self.lent += 1;
        self.shared.workers[self.w].counters.add(C::Active, 1);
    }

    /// Takes back connection `k`'s session, reset, for another exchange.
    fn take_session(&mut self, k: Key) {
        let Some(mut s) = self.conns.get_mut(k).and_then(|c| c.session.take()) else {
            return;
        };
        self.shared.workers[self.w].counters.sub(C::Active, 1);
        self.lent -= 1;
        let cap = spare_cap(self.lent);
        if self.sessions.len() < cap {
            s.reset();
            self.sessions.push(s);
        }
        self.sessions.truncate(cap);
    }

    /// Closes connection `k` and whatever it holds.
    fn close(&mut self, k: Key) {
        self.take_session(k);
        let Some(c) = self.conns.remove(k) else {
            return;
        };
        if let State::Queued { upstream } = c.state {
            self.ups.unqueue(&self.shared, self.w, upstream, k);
        }
        if let Some(u) = c.upstream {
            self.ups.close(&self.shared, self.w, u);
        }
        self.shared.workers[self.w].counters.sub(C::Open, 1);
        // Dropping the fd closes the connection and takes it out of the epoll set.
    }

    /// Stop accepting; close idle connections now and busy ones after their exchange.
    fn shutdown(&mut self) {
        self.draining = true;
        let listeners: Vec<Key> = self.listeners.keys().collect();
        for k in listeners {
            self.listeners.remove(k); // the last worker's drop closes the socket
        }
        self.ups.close_idle(&self.shared, self.w);
        let keys: Vec<Key> = self.conns.keys().collect();
        for k in keys {
            let Some(c) = self.conns.get_mut(k) else {
                continue;
            };
            c.closing = true;
            match (&c.state, c.session.as_mut()) {
                (State::Open, None) => self.close(k),
                (State::Open, Some(s)) if s.waiting() == Waiting::Idle => self.close(k),
                (State::Open, Some(s)) => s.drain(),
                _ => {}
            }
        }
    }

    /// Closes every connection and upstream connection now.
    pub(crate) fn close_all(&mut self) {
        self.shutdown();
        let keys: Vec<Key> = self.conns.keys().collect();
        for k in keys {
            self.close(k);
        }
        let ups: Vec<Key> = self.ups.conns.keys().collect();
        for k in ups {
            self.ups.close(&self.shared, self.w, k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spare_sessions_follow_the_sessions_lent_beyond_the_floor() {
        assert_eq!(spare_cap(0), MAX_IDLE_SESSIONS);
        assert_eq!(spare_cap(2 * MAX_IDLE_SESSIONS), MAX_IDLE_SESSIONS);
        assert_eq!(spare_cap(5000), 2500);
        assert!((1..20_000).all(|n| spare_cap(n) >= spare_cap(n - 1)));
    }
}
