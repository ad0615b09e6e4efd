//! What the proxy's workers and the engine share: the configuration, each upstream's
//! exchanges in flight and health, and per worker its counters and its queue of events for
//! the caller (each with its own eventfd, so no lock or fd is shared by all workers).

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use super::config::{ProxyConfig, ProxyCounters, ProxyEvent};
use crate::relay::Error;
use crate::sys;

/// One counter of a worker (an index into [`Counters`]).
#[derive(Clone, Copy, Debug)]
pub(crate) enum C {
    Accepted,
    Open,
    Active,
    Requests,
    Responses,
    BadRequests,
    BadGateway,
    GatewayTimeout,
    Upgrades,
    Dials,
    Reused,
    Retries,
    Failures,
    UpOpen,
    UpIdle,
    Events,
    Queued,
    Waiting,
}

const COUNTERS: usize = C::Waiting as usize + 1;

/// A worker's counters. Only the worker writes them (a load and a store, no locked
/// instruction); anyone reads them.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counters([AtomicU64; COUNTERS]);

impl Counters {
    pub(crate) fn add(&self, c: C, n: u64) {
        let a = &self.0[c as usize];
        a.store(a.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    pub(crate) fn sub(&self, c: C, n: u64) {
        let a = &self.0[c as usize];
        a.store(a.load(Ordering::Relaxed).wrapping_sub(n), Ordering::Relaxed);
    }

    fn get(&self, c: C) -> u64 {
        self.0[c as usize].load(Ordering::Relaxed)
    }
}

/// A worker's part of the shared state.
#[derive(Debug)]
pub(crate) struct WorkerShared {
    pub(crate) counters: Counters,
    /// Events for the caller, oldest first.
    pub(crate) events: Mutex<Vec<ProxyEvent>>,
    /// Readable while `events` holds some.
    pub(crate) ready: OwnedFd,
}

/// An upstream's state that every worker sees.
#[derive(Debug, Default)]
pub(crate) struct UpstreamState {
    /// Exchanges using it now, over all workers.
    pub(crate) in_flight: AtomicU32,
    /// Skipped until this time (milliseconds since the proxy started) after a failed
    /// connect.
    pub(crate) down_until: AtomicU64,
}

/// The state the engine and the proxy's workers share.
#[derive(Debug)]
pub(crate) struct ProxyShared {
    pub(crate) cfg: ProxyConfig,
    /// The time health deadlines count from.
    pub(crate) epoch: Instant,
    pub(crate) upstreams: Vec<UpstreamState>,
    pub(crate) workers: Vec<WorkerShared>,
}

impl ProxyShared {
    /// Checks `cfg` and sets up the state of `workers` workers.
    pub(crate) fn new(mut cfg: ProxyConfig, workers: usize) -> Result<ProxyShared, Error> {
        if cfg.upstreams.is_empty() || cfg.upstreams.len() > super::config::MAX_UPSTREAMS {
            return Err(Error::InvalidArgument);
        }
        cfg.session.proxy = true;
        cfg.session.head = cfg.session.head.clamped();
        cfg.session.client_ip.clear();
        let mut ws = Vec::with_capacity(workers);
        for _ in 0..workers {
            ws.push(WorkerShared {
                counters: Counters::default(),
                events: Mutex::new(Vec::new()),
                ready: sys::eventfd().map_err(Error::from_errno)?,
            });
        }
        Ok(ProxyShared {
            upstreams: cfg
                .upstreams
                .iter()
                .map(|_| UpstreamState::default())
                .collect(),
            cfg,
            epoch: Instant::now(),
            workers: ws,
        })
    }

    /// Milliseconds since the proxy started.
    pub(crate) fn now_ms(&self, now: Instant) -> u64 {
        now.duration_since(self.epoch).as_millis() as u64
    }

    /// The counters summed over the workers.
    pub(crate) fn counters(&self) -> ProxyCounters {
        Self::sum(&self.workers)
    }

    /// The counters of worker `w` alone; `None` when there is no such worker.
    pub(crate) fn worker_counters(&self, w: usize) -> Option<ProxyCounters> {
        self.workers
            .get(w)
            .map(|ws| Self::sum(core::slice::from_ref(ws)))
    }

    fn sum(workers: &[WorkerShared]) -> ProxyCounters {
        let sum = |c: C| {
            workers
                .iter()
                .fold(0u64, |n, w| n.wrapping_add(w.counters.get(c)))
        };
        ProxyCounters {
            conns_accepted: sum(C::Accepted),
            conns_open: sum(C::Open),
            conns_active: sum(C::Active),
            requests: sum(C::Requests),
            responses: sum(C::Responses),
            bad_requests: sum(C::BadRequests),
            bad_gateway: sum(C::BadGateway),
            gateway_timeout: sum(C::GatewayTimeout),
            upgrades: sum(C::Upgrades),
            upstream_dials: sum(C::Dials),
            upstream_reused: sum(C::Reused),
            upstream_retries: sum(C::Retries),
            upstream_failures: sum(C::Failures),
            upstream_open: sum(C::UpOpen),
            upstream_idle: sum(C::UpIdle),
            events: sum(C::Events),
            upstream_queued: sum(C::Queued),
            upstream_waiting: sum(C::Waiting),
        }
    }

    /// Queues an event of worker `w` for the caller and signals its ready fd.
    pub(crate) fn post(&self, w: usize, ev: ProxyEvent) {
        let ws = &self.workers[w];
        ws.events.lock().push(ev);
        ws.counters.add(C::Events, 1);
        let _ = sys::eventfd_signal(ws.ready.as_fd());
    }

    /// Moves queued events of worker `w` to `out`, oldest first, while they number at most
    /// `max` and their heads fit in `budget` bytes together. Returns how many, and when none
    /// fit although some are queued, the head length the first one needs (else 0). Resets
    /// the ready fd when the queue is emptied.
    pub(crate) fn take_events(
        &self,
        w: usize,
        out: &mut Vec<ProxyEvent>,
        max: usize,
        budget: usize,
    ) -> (usize, usize) {
        let ws = &self.workers[w];
        let mut q = ws.events.lock();
        let (mut n, mut used) = (0, 0);
        while n < max.min(q.len()) && used + q[n].head.len() <= budget {
            used += q[n].head.len();
            n += 1;
        }
        let needed = match q.first() {
            Some(e) if n == 0 && max > 0 => e.head.len(),
            _ => 0,
        };
        if n == q.len() {
            let _ = sys::eventfd_drain(ws.ready.as_fd());
        }
        out.extend(q.drain(..n));
        (n, needed)
    }
}
