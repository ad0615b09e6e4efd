//! A worker's upstream connections: the pool of idle keep-alive connections per upstream,
//! non-blocking dials, the choice of an upstream (round robin or least in flight, skipping
//! the ones that failed to connect lately), and the connections lent to client connections
//! for one exchange at a time, and the queues of requests waiting for a connection when an
//! upstream's connections are at the configured limit.
//!
//! Every upstream connection is registered in the worker's epoll once, under its own token,
//! for its whole life: lending it to an exchange and taking it back costs no syscall. An
//! event on a lent connection steps the exchange that holds it; an event on an idle one
//! means the upstream closed it (or sent bytes nobody asked for), and it is closed.

use std::collections::VecDeque;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::config::Balance;
use super::shared::{C, ProxyShared};
use super::slab::{Key, Kind, Slab};
use crate::sys::{self, Errno, Readiness};

/// Epoll events of every proxy connection (edge-triggered, both ways, and the peer's
/// half-close).
pub(crate) const EVENTS: u32 =
    (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

/// What an upstream connection is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UpState {
    /// In its upstream's pool.
    Idle,
    /// Connecting, for the client connection `owner`.
    Connecting { owner: Key },
    /// Carrying an exchange of the client connection `owner`.
    Lent { owner: Key },
}

/// One upstream connection.
#[derive(Debug)]
pub(crate) struct UpConn {
    pub(crate) fd: OwnedFd,
    /// Which upstream (index into the configuration's list).
    pub(crate) upstream: usize,
    pub(crate) state: UpState,
    /// It carried an exchange before (a pooled connection, which the upstream may have
    /// closed meanwhile).
    pub(crate) reused: bool,
    /// What the poller said since a read drained the connection (the session hears it through
    /// [`Session::set_ready`](crate::engine::Session::set_ready)).
    pub(crate) readiness: Readiness,
}

/// A worker's upstream connections and pools.
#[derive(Debug)]
pub(crate) struct Upstreams {
    pub(crate) conns: Slab<UpConn>,
    /// Idle connections per upstream, most recently used last.
    pools: Vec<Vec<Key>>,
    /// Connections open per upstream (connecting, lent or idle).
    open: Vec<usize>,
    /// Client connections waiting for a connection per upstream, oldest first. A client
    /// connection is in its upstream's queue exactly while its state is `Queued`.
    queues: Vec<VecDeque<Key>>,
    /// Upstreams that gave back or closed a connection while requests waited for one: the
    /// worker serves their queues ([`Upstreams::take_woken`]).
    woken: Vec<usize>,
    /// The next upstream in turn.
    rr: usize,
}

impl Upstreams {
    /// No connection yet; the turn starts at `start` (the worker's index, so workers do not
    /// all begin with the same upstream).
    pub(crate) fn new(shared: &ProxyShared, start: usize) -> Upstreams {
        let n = shared.cfg.upstreams.len();
        Upstreams {
            conns: Slab::default(),
            pools: vec![Vec::new(); n],
            open: vec![0; n],
            queues: vec![VecDeque::new(); n],
            woken: Vec::new(),
            rr: start,
        }
    }

    /// Whether a request for `upstream` can have a connection now: an idle one, or room
    /// under the limit for a new dial.
    pub(crate) fn has_room(&self, shared: &ProxyShared, upstream: usize) -> bool {
        let limit = shared.cfg.max_conns_per_upstream;
        !self.pools[upstream].is_empty() || limit == 0 || self.open[upstream] < limit
    }

    /// Queues client connection `owner` for a connection to `upstream` (`front`: it was
    /// first in line already).
    pub(crate) fn enqueue(
        &mut self,
        shared: &ProxyShared,
        w: usize,
        upstream: usize,
        owner: Key,
        front: bool,
    ) {
        let c = &shared.workers[w].counters;
        if front {
            self.queues[upstream].push_front(owner);
        } else {
            self.queues[upstream].push_back(owner);
            c.add(C::Queued, 1);
        }
        c.add(C::Waiting, 1);
        if self.has_room(shared, upstream) {
            self.wake(upstream); // queued behind others while a connection is free
        }
    }

    /// Whether requests wait for a connection to `upstream`.
    pub(crate) fn queued(&self, upstream: usize) -> bool {
        !self.queues[upstream].is_empty()
    }

    /// The client connection first in `upstream`'s queue, taken out of it.
    pub(crate) fn dequeue(
        &mut self,
        shared: &ProxyShared,
        w: usize,
        upstream: usize,
    ) -> Option<Key> {
        let k = self.queues[upstream].pop_front()?;
        shared.workers[w].counters.sub(C::Waiting, 1);
        Some(k)
    }

    /// Takes client connection `owner` out of `upstream`'s queue (it timed out or closed).
    pub(crate) fn unqueue(&mut self, shared: &ProxyShared, w: usize, upstream: usize, owner: Key) {
        let q = &mut self.queues[upstream];
        if let Some(i) = q.iter().position(|&k| k == owner) {
            q.remove(i);
            shared.workers[w].counters.sub(C::Waiting, 1);
        }
    }

    /// The upstreams whose queues may be served now (emptied; `into` keeps its capacity).
    pub(crate) fn take_woken(&mut self, into: &mut Vec<usize>) {
        into.clear();
        std::mem::swap(into, &mut self.woken);
    }

    /// Whether some upstream's queue may be served now.
    pub(crate) fn any_woken(&self) -> bool {
        !self.woken.is_empty()
    }

    /// A connection to `upstream` came back or closed: its waiters, if any, may have it.
    fn wake(&mut self, upstream: usize) {
        if !self.queues[upstream].is_empty() && !self.woken.contains(&upstream) {
            self.woken.push(upstream);
        }
    }

    /// The fd of a connection lent or connecting.
    pub(crate) fn fd(&self, k: Key) -> Option<BorrowedFd<'_>> {
        self.conns.get(k).map(|u| u.fd.as_fd())
    }

    /// Chooses an upstream for a new exchange.
    pub(crate) fn pick(&mut self, shared: &ProxyShared, now: Instant) -> usize {
        let n = shared.upstreams.len();
        let now_ms = shared.now_ms(now);
        let healthy = |i: usize| shared.upstreams[i].down_until.load(Ordering::Relaxed) <= now_ms;
        let start = self.rr;
        self.rr = self.rr.wrapping_add(1);
        let mut best: Option<(usize, u32)> = None;
        for k in 0..n {
            let i = (start + k) % n;
            if !healthy(i) {
                continue;
            }
            match shared.cfg.balance {
                Balance::RoundRobin => {
                    self.rr = i.wrapping_add(1);
                    return i;
                }
                Balance::LeastInFlight => {
                    let load = shared.upstreams[i].in_flight.load(Ordering::Relaxed);
                    if best.is_none_or(|(_, b)| load < b) {
                        best = Some((i, load));
                    }
                }
            }
        }
        // Every upstream failed lately: try them in turn rather than fail at once.
        best.map_or(start % n, |(i, _)| i)
    }

    /// Takes an idle pooled connection to `upstream` for `owner`, if there is one.
    pub(crate) fn take_idle(
        &mut self,
        shared: &ProxyShared,
        w: usize,
        upstream: usize,
        owner: Key,
    ) -> Option<Key> {
        let k = self.pools[upstream].pop()?;
        let c = &shared.workers[w].counters;
        c.sub(C::UpIdle, 1);
        c.add(C::Reused, 1);
        let u = self.conns.get_mut(k)?;
        u.state = UpState::Lent { owner };
        u.reused = true;
        shared.upstreams[upstream]
            .in_flight
            .fetch_add(1, Ordering::Relaxed);
        Some(k)
    }

    /// Starts a connection to `upstream` for `owner`, registered in epoll `ep`. Returns its
    /// key and whether it is connected already (else it is `Connecting` until writable).
    pub(crate) fn dial(
        &mut self,
        ep: BorrowedFd<'_>,
        shared: &ProxyShared,
        w: usize,
        upstream: usize,
        owner: Key,
    ) -> Result<(Key, bool), Errno> {
        let c = &shared.workers[w].counters;
        c.add(C::Dials, 1);
        let (fd, connected) = sys::connect(&shared.cfg.upstreams[upstream])?;
        let _ = sys::set_nodelay(fd.as_fd());
        let state = if connected {
            UpState::Lent { owner }
        } else {
            UpState::Connecting { owner }
        };
        let k = self.conns.insert(UpConn {
            fd,
            upstream,
            state,
            reused: false,
            readiness: Readiness::default(), // an upstream says nothing before it is asked
        });
        c.add(C::UpOpen, 1);
        self.open[upstream] += 1;
        shared.upstreams[upstream]
            .in_flight
            .fetch_add(1, Ordering::Relaxed);
        let fd = self.conns.get(k).map(|u| u.fd.as_fd());
        if let Some(fd) = fd
            && let Err(e) = sys::epoll_add(ep, fd, EVENTS, k.token(Kind::Upstream))
        {
            self.close(shared, w, k);
            return Err(e);
        }
        Ok((k, connected))
    }

    /// A connect in progress finished: `Ok` when connected (now lent), else the error (the
    /// connection is closed and its upstream marked unhealthy).
    pub(crate) fn connected(&mut self, shared: &ProxyShared, w: usize, k: Key) -> Result<(), i32> {
        let Some(u) = self.conns.get_mut(k) else {
            return Err(libc::EBADF);
        };
        let UpState::Connecting { owner } = u.state else {
            return Ok(());
        };
        match sys::socket_error(u.fd.as_fd()) {
            Ok(0) => {
                u.state = UpState::Lent { owner };
                Ok(())
            }
            r => {
                let e = r.unwrap_or_else(|e| e.0);
                self.failed(shared, w, k);
                Err(e)
            }
        }
    }

    /// A connection failed to connect (or timed out): closed, and its upstream is skipped
    /// for a while.
    pub(crate) fn failed(&mut self, shared: &ProxyShared, w: usize, k: Key) {
        if let Some(u) = self.conns.get(k) {
            self.mark_down(shared, w, u.upstream);
        }
        self.close(shared, w, k);
    }

    /// `upstream` failed to connect: it is skipped for the configured while (passive health).
    pub(crate) fn mark_down(&self, shared: &ProxyShared, w: usize, upstream: usize) {
        shared.workers[w].counters.add(C::Failures, 1);
        let ms = u64::from(shared.cfg.unhealthy_ms);
        if ms > 0 {
            let until = shared.now_ms(Instant::now()) + ms;
            shared.upstreams[upstream]
                .down_until
                .store(until, Ordering::Relaxed);
        }
    }

    /// Takes back a lent connection after an exchange: to its pool when `reusable` and the
    /// pool has room or requests wait for it (they take it from there), else closed.
    pub(crate) fn give_back(&mut self, shared: &ProxyShared, w: usize, k: Key, reusable: bool) {
        let Some(u) = self.conns.get_mut(k) else {
            return;
        };
        let up = u.upstream;
        let full = self.pools[up].len() >= shared.cfg.max_idle_per_upstream;
        if !reusable || (full && self.queues[up].is_empty()) {
            self.close(shared, w, k);
            return;
        }
        if u.state != UpState::Idle {
            shared.upstreams[up]
                .in_flight
                .fetch_sub(1, Ordering::Relaxed);
        }
        u.state = UpState::Idle;
        self.pools[up].push(k);
        shared.workers[w].counters.add(C::UpIdle, 1);
        self.wake(up);
    }

    /// Closes a connection (lent, connecting or idle) and forgets it.
    pub(crate) fn close(&mut self, shared: &ProxyShared, w: usize, k: Key) {
        let Some(u) = self.conns.remove(k) else {
            return;
        };
        let c = &shared.workers[w].counters;
        c.sub(C::UpOpen, 1);
        self.open[u.upstream] -= 1;
        self.wake(u.upstream);
        if u.state == UpState::Idle {
            self.pools[u.upstream].retain(|&p| p != k);
            c.sub(C::UpIdle, 1);
        } else {
            shared.upstreams[u.upstream]
                .in_flight
                .fetch_sub(1, Ordering::Relaxed);
        }
        // Dropping the fd closes it, which also takes it out of the epoll set.
    }

    /// Closes every idle connection (shutdown).
    pub(crate) fn close_idle(&mut self, shared: &ProxyShared, w: usize) {
        for pool in 0..self.pools.len() {
            while let Some(&k) = self.pools[pool].last() {
                self.close(shared, w, k);
            }
        }
    }
}
