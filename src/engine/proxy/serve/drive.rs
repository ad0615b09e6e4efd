//! Stepping one client connection: its session until it waits, an upstream connection when
//! a request is ready (a pooled one, or a new dial; another on failure), the upstream back
//! to its pool after the response, the proxy's own answers (400, 408, 431, 502, 504...),
//! events for the caller, and tunnels after a 101.

use std::borrow::Cow;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Instant;

use super::ProxyWorker;
use crate::engine::proxy::config::{ErrorCause, EventKind, ProxyEvent, Reply};
use crate::engine::proxy::conn::{State, canned};
use crate::engine::proxy::shared::C;
use crate::engine::proxy::slab::{Key, Kind};
use crate::engine::session::{Refusal, SessionProgress, Stop};
use crate::relay::write_vectored;
use crate::sys;

/// Upstream connections one exchange tries at most (dials that fail, pooled connections
/// found closed), beside the number of upstreams.
const MAX_ATTEMPTS: u8 = 3;

impl ProxyWorker {
    /// Steps connection `k` as far as it goes without blocking.
    pub(super) fn drive(&mut self, ep: BorrowedFd<'_>, k: Key) {
        self.step_conn(ep, k);
        if let Some(c) = self.conns.get_mut(k) {
            let now = c.waiting();
            if now != c.seen {
                c.seen = now;
                c.since = Instant::now();
            }
        }
    }

    fn step_conn(&mut self, ep: BorrowedFd<'_>, k: Key) {
        loop {
            let Some(c) = self.conns.get_mut(k) else {
                return;
            };
            match &c.state {
                State::Dialing | State::Queued { .. } | State::Event { .. } => return,
                State::Reply { .. } => {
                    if !self.write_reply(k) {
                        return;
                    }
                    continue;
                }
                State::Tunnel(_) => return self.step_tunnel(k),
                State::Open => {}
            }
            if c.session.is_none() {
                if self.draining || c.closing {
                    return self.close(k); // an idle connection woken during shutdown
                }
                if !c.readiness.readable() {
                    return; // only writable (a new connection is, at once): nothing to do
                }
                self.lend_session(k);
            }
            let Some(c) = self.conns.get_mut(k) else {
                return;
            };
            let Some(s) = c.session.as_mut() else {
                return;
            };
            let up = c.upstream.and_then(|u| self.ups.conns.get_mut(u));
            s.set_ready(
                c.readiness.readable(),
                up.as_ref().is_some_and(|u| u.readiness.readable()),
            );
            let before = s.stats();
            let p = s.step_proxy(c.fd.as_fd(), up.as_ref().map(|u| u.fd.as_fd()));
            let after = s.stats();
            (c.readiness.ready, _) = s.ready();
            if let Some(u) = up {
                u.readiness.ready = s.ready().1;
            }
            let counters = &self.shared.workers[self.w].counters;
            counters.add(C::Requests, after.requests.wrapping_sub(before.requests));
            counters.add(C::Responses, after.responses.wrapping_sub(before.responses));
            c.fresh &= after.responses == before.responses;
            match p {
                SessionProgress::Wait { .. } => return self.settle(k),
                SessionProgress::Again => {
                    self.again.push(k);
                    return;
                }
                SessionProgress::NeedUpstream => {
                    if !self.attach(ep, k) {
                        return;
                    }
                }
                SessionProgress::UpstreamLost => self.upstream_lost(k),
                SessionProgress::Exchanged { upstream_reusable } => {
                    self.exchanged(k, upstream_reusable)
                }
                SessionProgress::Hook => return self.post_event(k, None),
                SessionProgress::Stopped(stop) => {
                    if !self.stopped(k, stop) {
                        return;
                    }
                }
            }
        }
    }

    /// A session that waits: between exchanges it goes back to the worker's spares.
    fn settle(&mut self, k: Key) {
        let Some(c) = self.conns.get(k) else {
            return;
        };
        if c.upstream.is_none() && c.session.as_ref().is_some_and(|s| s.is_idle()) {
            if self.draining || c.closing {
                return self.close(k);
            }
            self.take_session(k);
        }
    }

    /// Gives connection `k` an upstream connection for the request it has ready: a pooled
    /// one, a new dial, or a place in the queue. `true`: step on; `false`: it waits
    /// (connecting, queued, or answering).
    fn attach(&mut self, ep: BorrowedFd<'_>, k: Key) -> bool {
        let up = self.ups.pick(&self.shared, Instant::now());
        let Some(c) = self.conns.get_mut(k) else {
            return false;
        };
        c.attempts += 1;
        self.connect_to(ep, k, up, false)
    }

    /// Gives connection `k` a connection to upstream `up`: a pooled one, or a new dial when
    /// the upstream's connections are under the limit, else a place in its queue (`front`:
    /// it was first in line; else it goes behind any waiters). `true`: step on.
    fn connect_to(&mut self, ep: BorrowedFd<'_>, k: Key, up: usize, front: bool) -> bool {
        let Some(c) = self.conns.get_mut(k) else {
            return false;
        };
        // Behind requests already waiting, a new one waits too, even when a connection just
        // came back: the waiters have it first.
        let behind = !front && self.ups.queued(up);
        if !behind && let Some(u) = self.ups.take_idle(&self.shared, self.w, up, k) {
            c.upstream = Some(u);
            return true;
        }
        if behind || !self.ups.has_room(&self.shared, up) {
            self.ups.enqueue(&self.shared, self.w, up, k, front);
            c.state = State::Queued { upstream: up };
            return false;
        }
        match self.ups.dial(ep, &self.shared, self.w, up, k) {
            Ok((u, connected)) => {
                c.upstream = Some(u);
                if connected {
                    return true;
                }
                c.state = State::Dialing;
                false
            }
            Err(_) => {
                self.ups.mark_down(&self.shared, self.w, up);
                self.dial_failed(k)
            }
        }
    }

    /// Serves the queues of the upstreams that gave back or closed connections: the oldest
    /// waiters take the idle connections, or dial while there is room; each served one is
    /// stepped again.
    pub(super) fn serve_queues(&mut self, ep: BorrowedFd<'_>) {
        let mut woken = std::mem::take(&mut self.woken);
        self.ups.take_woken(&mut woken);
        for &up in &woken {
            while self.ups.has_room(&self.shared, up) {
                let Some(k) = self.ups.dequeue(&self.shared, self.w, up) else {
                    break;
                };
                if let Some(c) = self.conns.get_mut(k) {
                    c.state = State::Open;
                }
                if self.connect_to(ep, k, up, true) {
                    self.again.push(k);
                }
            }
        }
        self.woken = woken;
    }

    /// Connection `k` waited in upstream `up`'s queue past the dial deadline: out of the
    /// queue, answered 502 (no upstream connection could be had).
    pub(super) fn queue_timed_out(&mut self, k: Key, up: usize) {
        self.ups.unqueue(&self.shared, self.w, up, k);
        let Some(c) = self.conns.get_mut(k) else {
            return;
        };
        c.state = State::Open;
        if let Some(s) = c.session.as_mut() {
            s.abandon();
        }
        self.answer(k, 502, ErrorCause::Dial);
    }

    /// The connect of connection `owner`'s upstream connection `u` finished.
    pub(super) fn connect_done(&mut self, ep: BorrowedFd<'_>, owner: Key, u: Key) {
        let ok = self.ups.connected(&self.shared, self.w, u).is_ok();
        let Some(c) = self.conns.get_mut(owner) else {
            return self.ups.close(&self.shared, self.w, u);
        };
        if ok {
            c.state = State::Open;
        } else {
            c.upstream = None;
            self.dial_failed(owner);
        }
        self.drive(ep, owner);
    }

    /// No upstream connection could be had for connection `k`'s request: it tries another,
    /// or answers 502 after [`MAX_ATTEMPTS`]. `true`: step on.
    pub(super) fn dial_failed(&mut self, k: Key) -> bool {
        let limit = MAX_ATTEMPTS.min(self.shared.cfg.upstreams.len().min(255) as u8);
        let Some(c) = self.conns.get_mut(k) else {
            return false;
        };
        c.state = State::Open;
        if c.attempts >= limit
            && let Some(s) = c.session.as_mut()
        {
            s.abandon();
            return self.answer(k, 502, ErrorCause::Dial);
        }
        true
    }

    /// The upstream connection failed before the request reached it, or closed before
    /// answering a request without a body: a pooled connection is replaced (once per
    /// attempt), a fresh one is a failure (502).
    fn upstream_lost(&mut self, k: Key) {
        let Some(c) = self.conns.get_mut(k) else {
            return;
        };
        let Some(u) = c.upstream.take() else {
            return;
        };
        let reused = self.ups.conns.get(u).is_some_and(|x| x.reused);
        self.ups.close(&self.shared, self.w, u);
        if reused && c.attempts < MAX_ATTEMPTS {
            self.shared.workers[self.w].counters.add(C::Retries, 1);
            return;
        }
        if let Some(s) = c.session.as_mut() {
            s.abandon();
        }
    }

    /// A response went out in full: the upstream connection goes back to its pool (closed
    /// when the upstream closes it, or left bytes after the response).
    fn exchanged(&mut self, k: Key, reusable: bool) {
        let Some(c) = self.conns.get_mut(k) else {
            return;
        };
        let clean = c
            .session
            .as_mut()
            .is_some_and(|s| s.upstream_buffer().is_empty());
        c.attempts = 0;
        c.timed_out = false;
        if let Some(u) = c.upstream.take() {
            let pool = reusable && clean && !self.draining;
            self.ups.give_back(&self.shared, self.w, u, pool);
        }
    }

    /// Acts on a session's stop. `true`: step on (to write an answer).
    fn stopped(&mut self, k: Key, stop: Stop) -> bool {
        let Some(c) = self.conns.get_mut(k) else {
            return false;
        };
        let refusal = c.session.as_ref().and_then(|s| s.refusal());
        match stop {
            Stop::Request { .. } => {
                let status = match refusal {
                    Some(Refusal::Malformed | Refusal::NotTaken) => 400,
                    Some(Refusal::TooLarge) => 431,
                    Some(Refusal::Connect) => 405,
                    Some(Refusal::Coding) => 501,
                    // The client ended inside a head, or the proxy shuts down.
                    Some(Refusal::Truncated | Refusal::Stopped) | None => {
                        self.close(k);
                        return false;
                    }
                };
                self.answer(k, status, ErrorCause::Upstream)
            }
            Stop::Response => {
                if let Some(u) = c.upstream.take() {
                    self.ups.close(&self.shared, self.w, u);
                }
                let (status, cause) = if c.timed_out {
                    (504, ErrorCause::Timeout)
                } else {
                    (502, ErrorCause::Upstream)
                };
                self.answer(k, status, cause)
            }
            Stop::Done { upstream_reusable } => {
                self.exchanged(k, upstream_reusable);
                self.close(k);
                false
            }
            Stop::ClientClosed { .. } => {
                self.close(k);
                false
            }
            Stop::Failed(_) => {
                // A reset, not a FIN: the client must not take a cut body for a whole one.
                let _ = sys::set_linger_zero(c.fd.as_fd());
                self.close(k);
                false
            }
            Stop::Upgraded => {
                self.shared.workers[self.w].counters.add(C::Upgrades, 1);
                self.take_session(k);
                if let Some(c) = self.conns.get_mut(k) {
                    c.state = State::Tunnel(Box::default());
                }
                true
            }
        }
    }

    /// Answers connection `k`'s request with the proxy's own `status` response (after the
    /// caller's event, for upstream failures when it asked for them). `true`: step on.
    pub(super) fn answer(&mut self, k: Key, status: u16, cause: ErrorCause) -> bool {
        let counter = match status {
            502 => C::BadGateway,
            504 => C::GatewayTimeout,
            _ => C::BadRequests,
        };
        self.shared.workers[self.w].counters.add(counter, 1);
        if matches!(status, 502 | 504) && self.shared.cfg.error_events {
            self.post_event(k, Some((status, cause)));
            return false;
        }
        let keep = self.keeps_client(k, status);
        if let Some(c) = self.conns.get_mut(k) {
            c.state = State::Reply {
                bytes: Cow::Borrowed(canned(status, keep)),
                done: 0,
                close: !keep,
            };
        }
        true
    }

    /// Whether connection `k` stays open after the proxy's `status` answer: only after an
    /// upstream failure whose request was read in full.
    fn keeps_client(&self, k: Key, status: u16) -> bool {
        let Some(c) = self.conns.get(k) else {
            return false;
        };
        matches!(status, 502 | 504)
            && !self.draining
            && !c.closing
            && c.session.as_ref().is_some_and(|s| !s.close_client())
    }

    /// Writes the rest of the proxy's answer. `true`: written, and the connection reads its
    /// next request (step on); `false`: it waits, or was closed.
    fn write_reply(&mut self, k: Key) -> bool {
        let Some(c) = self.conns.get_mut(k) else {
            return false;
        };
        let State::Reply { bytes, done, close } = &mut c.state else {
            return true;
        };
        while *done < bytes.len() {
            match write_vectored(c.fd.as_fd(), &[&bytes[*done..]]) {
                Ok(Some(n)) => *done += n,
                Ok(None) => return false,
                Err(_) => {
                    self.close(k);
                    return false;
                }
            }
        }
        if *close {
            self.close(k);
            return false;
        }
        c.state = State::Open;
        c.attempts = 0;
        c.timed_out = false;
        if let Some(s) = c.session.as_mut() {
            s.resume();
        }
        true
    }

    /// Steps the tunnel of connection `k`; closes both connections when it ends.
    fn step_tunnel(&mut self, k: Key) {
        let Some(c) = self.conns.get_mut(k) else {
            return;
        };
        let up = c.upstream.and_then(|u| self.ups.fd(u));
        let State::Tunnel(t) = &mut c.state else {
            return;
        };
        let r = match up {
            Some(u) => t.step(c.fd.as_fd(), u),
            None => return self.close(k),
        };
        match r {
            Ok(p) if p.is_done() => self.close(k),
            Ok(p) if p.again() => self.again.push(k),
            Ok(_) => {}
            Err(_) => self.close(k),
        }
    }

    /// Hands connection `k`'s exchange to the caller: its rewritten request head (`error`
    /// `None`, a hook) or an upstream failure (`error` the status and cause).
    fn post_event(&mut self, k: Key, error: Option<(u16, ErrorCause)>) {
        let Some(c) = self.conns.get_mut(k) else {
            return;
        };
        let Some(s) = c.session.as_ref() else {
            return;
        };
        let (kind, head) = match error {
            None => (EventKind::Hook, s.request_head()),
            Some((status, cause)) => (EventKind::Error { status, cause }, s.sent_request_head()),
        };
        let ev = ProxyEvent {
            token: k.token(Kind::Client),
            kind,
            head: head.to_vec(),
        };
        c.state = State::Event {
            hook: error.is_none(),
            status: error.map_or(0, |e| e.0),
        };
        self.shared.post(self.w, ev);
    }

    /// The caller's reply to the event of connection `token`.
    pub(super) fn reply(&mut self, ep: BorrowedFd<'_>, token: u64, reply: Reply) {
        let (Some(Kind::Client), k) = Key::of(token) else {
            return;
        };
        let keep = self.conns.get(k).is_some_and(|_| self.keeps_client(k, 502));
        let Some(c) = self.conns.get_mut(k) else {
            return;
        };
        let State::Event { hook, status } = c.state else {
            return; // a stale reply: the connection moved on (a deadline)
        };
        let Some(s) = c.session.as_mut() else {
            return;
        };
        c.state = match (hook, reply) {
            (true, Reply::Head(head)) => {
                s.hooked(head.as_deref());
                State::Open
            }
            (true, Reply::Respond { bytes, close }) => State::Reply {
                bytes: Cow::Owned(bytes),
                done: 0,
                close: close || s.request_body() || s.close_client() || self.draining,
            },
            (false, Reply::Respond { bytes, close }) => State::Reply {
                bytes: Cow::Owned(bytes),
                done: 0,
                close: close || !keep,
            },
            (false, Reply::Head(_)) => State::Reply {
                bytes: Cow::Borrowed(canned(status, keep)),
                done: 0,
                close: !keep,
            },
        };
        self.drive(ep, k);
    }
}
