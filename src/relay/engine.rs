//! [`Engine`]: relays run on Rust worker threads, each with its own epoll, over fds the
//! engine owns (duplicates of the caller's), with completions reported in batches through
//! one eventfd.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use parking_lot::Mutex;

use super::error::Error;
use super::flow::{Options, Progress, Relay};
use super::pool::Buffer;
use super::session::{Session, SessionProgress, SessionStats, Stop, Waiting};
use super::stats::RelayStats;
use super::tunnel::Tunnel;
use crate::sys::{self, Event};

/// Most worker threads an engine may have.
pub const MAX_WORKERS: usize = 64;

/// Engine settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// Worker threads (1..=64).
    pub workers: usize,
    /// Most relays in flight at once, over all workers; more are refused.
    pub max_jobs: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            workers: 1,
            max_jobs: 65536,
        }
    }
}

/// Work for the engine. The engine owns (and finally closes) the fds.
#[derive(Debug)]
pub enum Job {
    /// One body from `src` to `dst`.
    Body {
        /// Read side.
        src: OwnedFd,
        /// Write side.
        dst: OwnedFd,
        /// Framing and splice options.
        opts: Options,
    },
    /// A bidirectional tunnel with half-close.
    Tunnel {
        /// One side.
        a: OwnedFd,
        /// The other side.
        b: OwnedFd,
    },
    /// HTTP/1.1 keep-alive exchanges between a client and an upstream connection (a
    /// [`Session`]), until the session stops; the connections and buffers come back through
    /// [`Engine::take_session`]. The caller should close its own descriptors of the two
    /// connections meanwhile: a poller still watching them wakes on every exchange.
    Session {
        /// The client connection.
        client: OwnedFd,
        /// The upstream connection.
        upstream: OwnedFd,
        /// The session, with whatever its buffers already hold.
        session: Box<Session>,
        /// When the engine gives up waiting.
        timeouts: SessionTimeouts,
    },
}

/// Deadlines of a session job, in milliseconds; 0 means none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionTimeouts {
    /// A session waiting for a request this long (idle, or part of a head read) stops with
    /// [`Stop::Request`], so an idle connection waits with its owner, not in the engine.
    pub request_ms: u32,
    /// A session waiting this long for a response head stops with [`Stop::Response`].
    pub response_ms: u32,
    /// A session writing or relaying a head or body that moves no byte this long fails with
    /// [`Error::TimedOut`].
    pub stall_ms: u32,
}

/// What a finished session job gives back ([`Engine::take_session`]).
#[derive(Debug)]
pub struct SessionReturn {
    /// The client connection (the duplicate submitted).
    pub client: OwnedFd,
    /// The upstream connection (the duplicate submitted).
    pub upstream: OwnedFd,
    /// The client buffer: the bytes of a request a [`Stop::Request`] left to the caller.
    pub client_buffer: Buffer,
    /// The upstream buffer: the bytes of a response a [`Stop::Response`] left to the caller.
    pub upstream_buffer: Buffer,
}

/// How a session job ended (in its [`Completion`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionEnd {
    /// Why the session stopped.
    pub stop: Stop,
    /// Its counters.
    pub stats: SessionStats,
    /// The exchange in progress (for [`Stop::Response`]) was for a HEAD request.
    pub head_method: bool,
    /// The client connection closes after the exchange in progress.
    pub close_client: bool,
}

/// The outcome of one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The id given at submission.
    pub id: u64,
    /// Bytes `src` → `dst` (or `a` → `b`).
    pub forward: RelayStats,
    /// Bytes `b` → `a` (tunnels only).
    pub backward: RelayStats,
    /// `None` on success.
    pub error: Option<Error>,
    /// The OS error behind [`Error::Io`], or 0.
    pub errno: i32,
    /// Session jobs only: how the session ended.
    pub session: Option<SessionEnd>,
}

/// What a step of a job came to.
enum Step {
    /// Done or failed.
    Finished(Result<(), Error>),
    /// Blocked on an fd; the next readiness event steps it again.
    Waiting,
    /// Used its budget without blocking: step again soon, no event will come.
    Again,
}

enum Work {
    Body(Relay),
    Tunnel(Tunnel),
    Session {
        session: Box<Session>,
        timeouts: SessionTimeouts,
        /// The activity count and what it waited for at the last change, and when.
        seen: (u64, Waiting),
        since: std::time::Instant,
    },
}

struct Running {
    id: u64,
    a: OwnedFd,
    b: OwnedFd,
    work: Work,
}

impl Running {
    /// Steps the job; a step writes at most [`STEP_LIMIT`](super::STEP_LIMIT) bytes per
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
                *since = std::time::Instant::now();
            }
            return match p {
                SessionProgress::Wait { .. } => Step::Waiting,
                SessionProgress::Again => Step::Again,
                SessionProgress::Stopped(Stop::Failed(e)) => Step::Finished(Err(e)),
                SessionProgress::Stopped(_) => Step::Finished(Ok(())),
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
}

struct Shared {
    completions: Mutex<Vec<Completion>>,
    /// What finished session jobs give back, by job id, until taken.
    session_returns: Mutex<HashMap<u64, SessionReturn>>,
    /// Readable when completions are queued.
    ready: OwnedFd,
    stop: AtomicBool,
    in_flight: std::sync::atomic::AtomicUsize,
}

impl Shared {
    fn complete(&self, c: Completion) {
        self.completions.lock().push(c);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        let _ = sys::eventfd_signal(self.ready.as_fd());
    }
}

struct WorkerHandle {
    inbox: Arc<Mutex<Inbox>>,
    wake: Arc<OwnedFd>,
    thread: Option<JoinHandle<()>>,
}

/// Relay worker threads with their own epolls.
///
/// ```
/// use offheap::relay::{Engine, EngineConfig, Job, duplicate};
/// use std::io::{Read, Write};
/// use std::net::Shutdown;
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
///
/// let engine = Engine::new(EngineConfig::default()).unwrap();
/// let (mut client, a) = UnixStream::pair().unwrap();
/// let (b, mut server) = UnixStream::pair().unwrap();
/// let job = Job::Tunnel { a: duplicate(a.as_fd()).unwrap(), b: duplicate(b.as_fd()).unwrap() };
/// drop((a, b)); // the engine holds its own duplicates
/// engine.submit(7, job).unwrap();
/// client.write_all(b"hi").unwrap();
/// client.shutdown(Shutdown::Write).unwrap();
/// server.shutdown(Shutdown::Write).unwrap();
/// let mut got = String::new();
/// server.read_to_string(&mut got).unwrap();
/// assert_eq!(got, "hi");
///
/// let mut done = Vec::new();
/// while done.is_empty() {
///     engine.wait(1000);
///     engine.poll(&mut done, 16);
/// }
/// assert_eq!((done[0].id, done[0].forward.bytes_out, done[0].error), (7, 2, None));
/// ```
pub struct Engine {
    workers: Vec<WorkerHandle>,
    shared: Arc<Shared>,
    max_jobs: usize,
}

impl Engine {
    /// Starts the worker threads.
    pub fn new(cfg: EngineConfig) -> Result<Engine, Error> {
        if cfg.workers == 0 || cfg.workers > MAX_WORKERS || cfg.max_jobs == 0 {
            return Err(Error::InvalidArgument);
        }
        let shared = Arc::new(Shared {
            completions: Mutex::new(Vec::new()),
            session_returns: Mutex::new(HashMap::new()),
            ready: sys::eventfd().map_err(Error::from_errno)?,
            stop: AtomicBool::new(false),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
        });
        let mut engine = Engine {
            workers: Vec::new(),
            shared,
            max_jobs: cfg.max_jobs,
        };
        for i in 0..cfg.workers {
            let ep = sys::epoll_create().map_err(Error::from_errno)?;
            let wake = Arc::new(sys::eventfd().map_err(Error::from_errno)?);
            sys::epoll_add(ep.as_fd(), wake.as_fd(), libc::EPOLLIN as u32, WAKE)
                .map_err(Error::from_errno)?;
            let inbox = Arc::new(Mutex::new(Inbox::default()));
            let mut worker = Worker {
                ep,
                wake: wake.clone(),
                inbox: inbox.clone(),
                shared: engine.shared.clone(),
                slots: Vec::new(),
                free: Vec::new(),
                ids: HashMap::new(),
                again: Vec::new(),
                sessions: 0,
                swept: std::time::Instant::now(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("offheap-relay-{i}"))
                .spawn(move || worker.run())
                .map_err(|_| Error::ResourceExhausted)?;
            engine.workers.push(WorkerHandle {
                inbox,
                wake,
                thread: Some(thread),
            });
        }
        Ok(engine)
    }

    /// Hands a job to a worker (chosen by `id`). Its completion, with this `id`, comes out
    /// of [`Engine::poll`]. Ids should be unique among jobs in flight (for [`Engine::cancel`]).
    pub fn submit(&self, id: u64, job: Job) -> Result<(), Error> {
        self.submit_or_return(id, job).map_err(|(e, _)| e)
    }

    /// Like [`Engine::submit`], but a refused job comes back with the error (a session's
    /// buffers hold bytes its caller needs).
    pub fn submit_or_return(&self, id: u64, job: Job) -> Result<(), (Error, Job)> {
        if let Err(e) = self.admit() {
            return Err((e, job));
        }
        let w = self.enqueue(id, job);
        let _ = sys::eventfd_signal(self.workers[w].wake.as_fd());
        Ok(())
    }

    /// Counts one more job in flight, or says why the engine refuses it.
    fn admit(&self) -> Result<(), Error> {
        if self.shared.stop.load(Ordering::Acquire) {
            return Err(Error::Canceled);
        }
        let n = self.shared.in_flight.fetch_add(1, Ordering::Relaxed);
        if n >= self.max_jobs {
            self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
            return Err(Error::ResourceExhausted);
        }
        Ok(())
    }

    /// Puts an admitted job in its worker's inbox; returns the worker (to wake).
    fn enqueue(&self, id: u64, job: Job) -> usize {
        let w = self.worker_index(id);
        self.workers[w].inbox.lock().submit.push((id, job));
        w
    }

    /// Hands many jobs to the workers at once: each worker that gets jobs is woken once, not
    /// once per job. `done(tag, result)` reports each job, by the tag it came with, as
    /// [`Engine::submit`] would; a job that is refused is dropped (its fds closed).
    pub fn submit_batch<T>(
        &self,
        jobs: impl IntoIterator<Item = (T, u64, Job)>,
        mut done: impl FnMut(T, Result<(), Error>),
    ) {
        let mut woken = [false; MAX_WORKERS];
        for (tag, id, job) in jobs {
            if let Err(e) = self.admit() {
                done(tag, Err(e));
                continue;
            }
            woken[self.enqueue(id, job)] = true;
            done(tag, Ok(()));
        }
        for (worker, _) in self.workers.iter().zip(woken).filter(|(_, w)| *w) {
            let _ = sys::eventfd_signal(worker.wake.as_fd());
        }
    }

    /// Asks the worker running job `id` to stop it; it completes with [`Error::Canceled`]
    /// (unless it finished first). A session job in the middle of an exchange finishes the
    /// exchange first and stops at the next request boundary (with no error). Unknown ids are
    /// ignored.
    pub fn cancel(&self, id: u64) {
        let w = self.worker(id);
        w.inbox.lock().cancel.push(id);
        let _ = sys::eventfd_signal(w.wake.as_fd());
    }

    fn worker(&self, id: u64) -> &WorkerHandle {
        &self.workers[self.worker_index(id)]
    }

    fn worker_index(&self, id: u64) -> usize {
        (id % self.workers.len().max(1) as u64) as usize
    }

    /// The fd that is readable while completions are queued (an eventfd; reading it
    /// resets it). Watch it with Go's netpoller or an epoll, then call [`Engine::poll`].
    pub fn ready_fd(&self) -> BorrowedFd<'_> {
        self.shared.ready.as_fd()
    }

    /// Jobs submitted and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::Relaxed)
    }

    /// Moves up to `max` queued completions to `out` (oldest first); returns how many.
    /// Resets the ready fd when the queue is emptied.
    pub fn poll(&self, out: &mut Vec<Completion>, max: usize) -> usize {
        let mut q = self.shared.completions.lock();
        if q.len() <= max {
            let _ = sys::eventfd_drain(self.shared.ready.as_fd());
        }
        let n = q.len().min(max);
        out.extend(q.drain(..n));
        n
    }

    /// Takes what the finished session job `id` gives back: its two connections (the engine's
    /// duplicates, now the caller's) and its two buffers, with the bytes its [`Stop`] left in
    /// them. What is not taken is closed and freed with the engine.
    pub fn take_session(&self, id: u64) -> Option<SessionReturn> {
        self.shared.session_returns.lock().remove(&id)
    }

    /// Blocks up to `timeout_ms` for completions (for callers without their own poller).
    pub fn wait(&self, timeout_ms: i32) -> bool {
        let fd = std::os::fd::AsRawFd::as_raw_fd(&self.shared.ready);
        let mut p = [libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        }];
        sys::poll(&mut p, timeout_ms)
            .map(|n| n > 0)
            .unwrap_or(false)
    }
}

impl Drop for Engine {
    /// Stops the workers, joins them and closes every fd; jobs still running complete with
    /// [`Error::Canceled`] (left in the queue, unread).
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for w in &self.workers {
            let _ = sys::eventfd_signal(w.wake.as_fd());
        }
        for w in &mut self.workers {
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
        }
        // Jobs that raced the stop flag into an inbox are closed here.
        for w in &self.workers {
            w.inbox.lock().submit.clear();
        }
    }
}

/// Epoll token of a worker's wake eventfd.
const WAKE: u64 = u64::MAX;
const EVENTS: u32 = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

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
    swept: std::time::Instant,
}

/// How often a worker with session jobs checks their deadlines.
const SWEEP_MS: i32 = 25;

impl Worker {
    fn run(&mut self) {
        sys::block_sigpipe();
        let mut events = [Event::default(); 64];
        while !self.shared.stop.load(Ordering::Acquire) {
            let timeout = match (self.again.is_empty(), self.sessions) {
                (false, _) => 0,
                (true, 0) => -1,
                (true, _) => SWEEP_MS,
            };
            let n = sys::epoll_wait(self.ep.as_fd(), &mut events, timeout).unwrap_or(0);
            for ev in &events[..n] {
                if ev.token == WAKE {
                    let _ = sys::eventfd_drain(self.wake.as_fd());
                    self.take_inbox();
                } else {
                    self.step_token(ev.token);
                }
            }
            for token in std::mem::take(&mut self.again) {
                self.step_token(token);
            }
            if self.sessions > 0 && self.swept.elapsed().as_millis() >= SWEEP_MS as u128 {
                self.sweep();
            }
        }
        for i in 0..self.slots.len() {
            self.finish(i, Err(Error::Canceled));
        }
    }

    fn take_inbox(&mut self) {
        let inbox = std::mem::take(&mut *self.inbox.lock());
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
            Job::Tunnel { a, b } => (a, b, Work::Tunnel(Tunnel::new())),
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
                    since: std::time::Instant::now(),
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
        let token = (u64::from(generation) << 32) | i as u64;
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
        if u64::from(*generation) != token >> 32 {
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
        let now = std::time::Instant::now();
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
