//! The worker threads: each runs its jobs on its own epoll, takes new ones from its inbox, and
//! reports completions to the state it shares with the [`Engine`](super::Engine).

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use parking_lot::Mutex;

use super::job::{Completion, Job, SessionEnd, SessionReturn, SessionTimeouts};
use super::proxy::{ProxyMsg, ProxyShared, ProxyWorker, TAG};
use super::session::{Session, SessionProgress, Stop, Waiting};
use crate::relay::{Error, Progress, Relay, RelayStats, Tunnel};
use crate::sys::{self, Event};

/// What a step of a job came to.
enum Step {
    /// Done or failed.
    Finished(Result<(), Error>),
    /// Blocked on an fd; the next readiness event steps it again.
    Waiting,
    /// Used its budget without blocking: step again soon, no event will come.
    Again,
}

/// The state machine of a job, by kind.
enum Work {
    Body(Relay),
    Tunnel(Box<Tunnel>),
    Session {
        session: Box<Session>,
        timeouts: SessionTimeouts,
        /// The activity count and what it waited for at the last change, and when.
        seen: (u64, Waiting),
        since: Instant,
    },
}

/// A job a worker runs: its id, the engine's two fds (`src`/`dst`, `a`/`b`, or client and
/// upstream), and its state machine.
struct Running {
    id: u64,
    a: OwnedFd,
    b: OwnedFd,
    work: Work,
}

impl Running {
    /// Steps the job; a step writes at most [`STEP_LIMIT`](crate::relay::STEP_LIMIT) bytes per
    /// direction, so one busy job cannot starve the others on its worker.
    fn step(&mut self) -> Step {
        let (a, b) = (self.a.as_fd(), self.b.as_fd());
        if let Work::Session {
            session,
            seen,
            since,
            ..
        } = &mut self.work
        {
            let p = session.step(a, b);
            let now_seen = (session.activity(), session.waiting());
            if now_seen != *seen {
                *seen = now_seen;
                *since = Instant::now();
            }
            return match p {
                SessionProgress::Wait { .. } => Step::Waiting,
                SessionProgress::Again => Step::Again,
                SessionProgress::Stopped(Stop::Failed(e)) => Step::Finished(Err(e)),
                SessionProgress::Stopped(_) => Step::Finished(Ok(())),
                // Proxy mode only; a session job is a pair-mode session.
                SessionProgress::NeedUpstream
                | SessionProgress::UpstreamLost
                | SessionProgress::Exchanged { .. }
                | SessionProgress::Hook => Step::Finished(Err(Error::InvalidArgument)),
            };
        }
        // (done, stopped at the step limit)
        let r = match &mut self.work {
            Work::Body(r) => r
                .step(a, b)
                .map(|p| (p == Progress::Done, p == Progress::Again)),
            Work::Tunnel(t) => t.step(a, b).map(|p| (p.is_done(), p.again())),
            Work::Session { .. } => unreachable!("stepped above"),
        };
        match r {
            Ok((true, _)) => Step::Finished(Ok(())),
            Ok((false, true)) => Step::Again,
            Ok((false, false)) => Step::Waiting,
            Err(e) => Step::Finished(Err(e)),
        }
    }

    fn completion(&self, result: Result<(), Error>) -> Completion {
        let (forward, backward, errno) = match &self.work {
            Work::Body(r) => (r.stats(), RelayStats::default(), r.last_errno()),
            Work::Tunnel(t) => (t.stats().0, t.stats().1, t.last_errno()),
            Work::Session { .. } => (RelayStats::default(), RelayStats::default(), 0),
        };
        let session = match &self.work {
            // `finish` stops a session it ends with an error, so it is always stopped here.
            Work::Session { session, .. } => Some(SessionEnd {
                stop: session
                    .stopped()
                    .unwrap_or(Stop::Failed(result.err().unwrap_or(Error::Canceled))),
                stats: session.stats(),
                head_method: session.head_method(),
                close_client: session.close_client(),
            }),
            _ => None,
        };
        Completion {
            id: self.id,
            forward,
            backward,
            error: result.err(),
            errno,
            session,
        }
    }
}

/// Messages from the engine to one worker.
#[derive(Default)]
struct Inbox {
    submit: Vec<(u64, Job)>,
    cancel: Vec<u64>,
    /// The proxy to serve (once).
    proxy_start: Option<Arc<ProxyShared>>,
    proxy: Vec<ProxyMsg>,
}

/// What the engine and all its workers share.
pub(super) struct Shared {
    /// Completions not yet polled, oldest first.
    pub(super) completions: Mutex<Vec<Completion>>,
    /// What finished session jobs give back, by job id, until taken.
    pub(super) session_returns: Mutex<HashMap<u64, SessionReturn>>,
    /// Readable when completions are queued.
    pub(super) ready: OwnedFd,
    /// Set once, when the engine is dropped: the workers cancel their jobs and return.
    pub(super) stop: AtomicBool,
    /// Jobs admitted and not yet completed.
    pub(super) in_flight: AtomicUsize,
}

impl Shared {
    /// Nothing queued or running, and a fresh ready eventfd.
    pub(super) fn new() -> Result<Shared, Error> {
        Ok(Shared {
            completions: Mutex::new(Vec::new()),
            session_returns: Mutex::new(HashMap::new()),
            ready: sys::eventfd().map_err(Error::from_errno)?,
            stop: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
        })
    }

    fn complete(&self, c: Completion) {
        self.completions.lock().push(c);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let _ = sys::eventfd_signal(self.ready.as_fd());
    }
}

/// The engine's end of one worker: its inbox, the eventfd that wakes it, and its thread.
pub(super) struct WorkerHandle {
    inbox: Arc<Mutex<Inbox>>,
    wake: Arc<OwnedFd>,
    thread: Option<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Starts worker `index` (named `offheap-engine-<index>`) with its own epoll.
    pub(super) fn spawn(index: usize, shared: Arc<Shared>) -> Result<WorkerHandle, Error> {
        let ep = sys::epoll_create().map_err(Error::from_errno)?;
        let wake = Arc::new(sys::eventfd().map_err(Error::from_errno)?);
        sys::epoll_add(ep.as_fd(), wake.as_fd(), libc::EPOLLIN as u32, WAKE)
            .map_err(Error::from_errno)?;
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let mut worker = Worker {
            ep,
            wake: wake.clone(),
            inbox: inbox.clone(),
            shared,
            slots: Vec::new(),
            free: Vec::new(),
            ids: HashMap::new(),
            again: Vec::new(),
            sessions: 0,
            swept: Instant::now(),
            index,
            proxy: None,
        };
        let thread = std::thread::Builder::new()
            .name(format!("offheap-engine-{index}"))
            .spawn(move || worker.run())
            .map_err(|_| Error::ResourceExhausted)?;
        Ok(WorkerHandle {
            inbox,
            wake,
            thread: Some(thread),
        })
    }

    /// Puts a job in the inbox, without waking the worker (see [`Self::wake`]).
    pub(super) fn submit(&self, id: u64, job: Job) {
        self.inbox.lock().submit.push((id, job));
    }

    /// Asks the worker to cancel job `id`, and wakes it.
    pub(super) fn cancel(&self, id: u64) {
        self.inbox.lock().cancel.push(id);
        self.wake();
    }

    /// Tells the worker to serve `proxy`, and wakes it.
    pub(super) fn start_proxy(&self, proxy: Arc<ProxyShared>) {
        self.inbox.lock().proxy_start = Some(proxy);
        self.wake();
    }

    /// Hands the worker's proxy a message, and wakes the worker.
    pub(super) fn proxy(&self, msg: ProxyMsg) {
        self.inbox.lock().proxy.push(msg);
        self.wake();
    }

    /// Wakes the worker to read its inbox (or to see the stop flag).
    pub(super) fn wake(&self) {
        let _ = sys::eventfd_signal(self.wake.as_fd());
    }

    /// Waits for the thread to return (after the stop flag is set and the worker woken), then
    /// closes the fds of jobs that raced the stop flag into the inbox.
    pub(super) fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.inbox.lock().submit.clear();
    }
}

/// Epoll token of a worker's wake eventfd.
const WAKE: u64 = u64::MAX;
/// The bits of a slot's generation in its jobs' tokens: bit 63 stays clear, for the proxy's
/// tokens ([`TAG`]).
const JOB_GENERATION: u32 = 0x7fff_ffff;
const EVENTS: u32 = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

/// One worker thread's state, owned by the thread.
struct Worker {
    ep: OwnedFd,
    wake: Arc<OwnedFd>,
    inbox: Arc<Mutex<Inbox>>,
    shared: Arc<Shared>,
    /// Running jobs; the epoll token is `generation << 32 | index`.
    slots: Vec<(u32, Option<Running>)>,
    free: Vec<usize>,
    ids: HashMap<u64, usize>,
    /// Tokens of jobs that yielded: stepped again after the next (non-blocking) poll.
    again: Vec<u64>,
    /// Session jobs running, and when their deadlines were last checked.
    sessions: usize,
    swept: Instant,
    /// This worker's index.
    index: usize,
    /// Its part of the engine's proxy, once started.
    proxy: Option<ProxyWorker>,
}

/// How often a worker with session jobs checks their deadlines.
const SWEEP_MS: i32 = 25;

impl Worker {
    fn run(&mut self) {
        sys::block_sigpipe();
        let mut events = [Event::default(); 64];
        while !self.shared.stop.load(Ordering::Acquire) {
            let mut timeout = match (self.again.is_empty(), self.sessions) {
                (false, _) => 0,
                (true, 0) => -1,
                (true, _) => SWEEP_MS,
            };
            if let Some(p) = &self.proxy {
                let t = p.timeout_ms(Instant::now());
                if t >= 0 && (timeout < 0 || t < timeout) {
                    timeout = t;
                }
            }
            let n = sys::epoll_wait(self.ep.as_fd(), &mut events, timeout).unwrap_or(0);
            for ev in &events[..n] {
                if ev.token == WAKE {
                    let _ = sys::eventfd_drain(self.wake.as_fd());
                    self.take_inbox();
                } else if ev.token & TAG != 0 {
                    if let Some(p) = self.proxy.as_mut() {
                        p.event(self.ep.as_fd(), ev);
                    }
                } else {
                    self.step_token(ev.token);
                }
            }
            for token in std::mem::take(&mut self.again) {
                self.step_token(token);
            }
            if let Some(p) = self.proxy.as_mut() {
                p.run_again(self.ep.as_fd());
                p.sweep(self.ep.as_fd(), Instant::now());
            }
            if self.sessions > 0 && self.swept.elapsed().as_millis() >= SWEEP_MS as u128 {
                self.sweep();
            }
        }
        for i in 0..self.slots.len() {
            self.finish(i, Err(Error::Canceled));
        }
        if let Some(p) = self.proxy.as_mut() {
            p.close_all();
        }
    }

    fn take_inbox(&mut self) {
        let inbox = std::mem::take(&mut *self.inbox.lock());
        if let Some(shared) = inbox.proxy_start
            && self.proxy.is_none()
        {
            self.proxy = Some(ProxyWorker::new(shared, self.index));
        }
        if let Some(p) = self.proxy.as_mut() {
            for msg in inbox.proxy {
                p.message(self.ep.as_fd(), msg);
            }
        }
        for (id, job) in inbox.submit {
            self.start(id, job);
        }
        for id in inbox.cancel {
            if let Some(&i) = self.ids.get(&id) {
                // A session in the middle of a head or body drains: it stops at the next
                // request boundary instead of cutting the exchange.
                if let Some(Running {
                    work: Work::Session { session, .. },
                    ..
                }) = self.slots[i].1.as_mut()
                    && session.waiting() == Waiting::Body
                {
                    session.drain();
                    continue;
                }
                self.finish(i, Err(Error::Canceled));
            }
        }
    }

    fn start(&mut self, id: u64, job: Job) {
        let (a, b, work) = match job {
            Job::Body { src, dst, opts } => (src, dst, Work::Body(Relay::new(opts))),
            Job::Tunnel { a, b } => (a, b, Work::Tunnel(Box::default())),
            Job::Session {
                client,
                upstream,
                session,
                timeouts,
            } => {
                self.sessions += 1;
                let seen = (session.activity(), session.waiting());
                let work = Work::Session {
                    session,
                    timeouts,
                    seen,
                    since: Instant::now(),
                };
                (client, upstream, work)
            }
        };
        let i = self.free.pop().unwrap_or_else(|| {
            self.slots.push((0, None));
            self.slots.len() - 1
        });
        let generation = self.slots[i].0.wrapping_add(1);
        self.slots[i] = (generation, Some(Running { id, a, b, work }));
        self.ids.insert(id, i);
        let token = (u64::from(generation & JOB_GENERATION) << 32) | i as u64;
        let reg = match &self.slots[i].1 {
            Some(r) => sys::epoll_add(self.ep.as_fd(), r.a.as_fd(), EVENTS, token)
                .and_then(|()| sys::epoll_add(self.ep.as_fd(), r.b.as_fd(), EVENTS, token)),
            None => Ok(()),
        };
        if let Err(e) = reg {
            self.finish(i, Err(Error::from_errno(e)));
            return;
        }
        // Edge-triggered: the first step must not wait for an edge that already happened.
        self.step_token(token);
    }

    fn step_token(&mut self, token: u64) {
        let i = (token & 0xffff_ffff) as usize;
        let Some((generation, Some(job))) = self.slots.get_mut(i) else {
            return;
        };
        if u64::from(*generation & JOB_GENERATION) != token >> 32 {
            return;
        }
        match job.step() {
            Step::Finished(result) => self.finish(i, result),
            Step::Waiting => {}
            Step::Again => self.again.push(token),
        }
    }

    /// Stops the sessions whose deadline passed: a wait for a request or a response hands
    /// the pair back ([`Session::hand_back`]); a stalled head or body fails.
    fn sweep(&mut self) {
        let now = Instant::now();
        self.swept = now;
        let mut due = Vec::new();
        for (i, (_, slot)) in self.slots.iter().enumerate() {
            let Some(Running {
                work:
                    Work::Session {
                        timeouts,
                        seen,
                        since,
                        ..
                    },
                ..
            }) = slot
            else {
                continue;
            };
            let limit = match seen.1 {
                Waiting::Idle | Waiting::RequestHead => timeouts.request_ms,
                Waiting::ResponseHead => timeouts.response_ms,
                Waiting::Body => timeouts.stall_ms,
                Waiting::Stopped => 0,
            };
            if limit > 0 && now.duration_since(*since).as_millis() >= u128::from(limit) {
                due.push(i);
            }
        }
        for i in due {
            let stopped = match self.slots[i].1.as_mut().map(|r| &mut r.work) {
                Some(Work::Session { session, .. }) => session.hand_back(Error::TimedOut),
                _ => continue,
            };
            let result = match stopped {
                Stop::Failed(e) => Err(e),
                _ => Ok(()),
            };
            self.finish(i, result);
        }
    }

    fn finish(&mut self, i: usize, result: Result<(), Error>) {
        let Some(mut job) = self.slots.get_mut(i).and_then(|s| s.1.take()) else {
            return;
        };
        if let Err(e) = result {
            match &mut job.work {
                Work::Body(r) => r.abort(e),
                Work::Tunnel(t) => t.abort(e),
                Work::Session { session, .. } => {
                    session.hand_back(e);
                }
            }
        }
        let _ = sys::epoll_del(self.ep.as_fd(), job.a.as_fd());
        let _ = sys::epoll_del(self.ep.as_fd(), job.b.as_fd());
        self.ids.remove(&job.id);
        self.free.push(i);
        let c = job.completion(result);
        if let Work::Session { session, .. } = job.work {
            self.sessions -= 1;
            let (client_buffer, upstream_buffer) = session.into_buffers();
            let r = SessionReturn {
                client: job.a,
                upstream: job.b,
                client_buffer,
                upstream_buffer,
            };
            self.shared.session_returns.lock().insert(c.id, r);
        } else {
            // Close the engine's duplicates before the caller hears of it.
            drop((job.a, job.b));
        }
        self.shared.complete(c);
    }
}
