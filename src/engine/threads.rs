//! [`Engine`]: starts the worker threads, hands them jobs, and collects their completions.

use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use super::job::{Completion, EngineConfig, Job, MAX_WORKERS, SessionReturn};
use super::proxy::{ProxyConfig, ProxyCounters, ProxyEvent, ProxyMsg, ProxyShared, Reply};
use super::worker::{Shared, WorkerHandle};
use crate::relay::Error;
use crate::sys;

/// Worker threads, each with its own epoll, that run relays, tunnels and sessions over fds
/// the engine owns, and report their completions in batches through one eventfd.
///
/// ```
/// use offheap::engine::{Engine, EngineConfig, Job};
/// use offheap::relay::duplicate;
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
    /// The reverse proxy, once started ([`Engine::start_proxy`]).
    proxy: OnceLock<Arc<ProxyShared>>,
}

impl Engine {
    /// Starts the worker threads.
    pub fn new(cfg: EngineConfig) -> Result<Engine, Error> {
        if cfg.workers == 0 || cfg.workers > MAX_WORKERS || cfg.max_jobs == 0 {
            return Err(Error::InvalidArgument);
        }
        let mut engine = Engine {
            workers: Vec::with_capacity(cfg.workers),
            shared: Arc::new(Shared::new()?),
            max_jobs: cfg.max_jobs,
            proxy: OnceLock::new(),
        };
        for i in 0..cfg.workers {
            // On an error, dropping `engine` stops the workers started so far.
            let worker = WorkerHandle::spawn(i, engine.shared.clone())?;
            engine.workers.push(worker);
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
        self.workers[w].wake();
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
        self.workers[w].submit(id, job);
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
            worker.wake();
        }
    }

    /// Asks the worker running job `id` to stop it; it completes with [`Error::Canceled`]
    /// (unless it finished first). A session job in the middle of an exchange finishes the
    /// exchange first and stops at the next request boundary (with no error). Unknown ids are
    /// ignored.
    pub fn cancel(&self, id: u64) {
        self.workers[self.worker_index(id)].cancel(id);
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
    /// duplicates, now the caller's) and its two buffers, with the bytes its [`Stop`](super::Stop) left in
    /// them. What is not taken is closed and freed with the engine.
    pub fn take_session(&self, id: u64) -> Option<SessionReturn> {
        self.shared.session_returns.lock().remove(&id)
    }

    /// Worker threads of the engine.
    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// Makes the engine a reverse proxy for `cfg` (once per engine; its jobs run as before):
    /// each worker accepts on the listeners given to [`Engine::listen`] and serves the
    /// connections it accepted (see the `proxy` module docs of [`crate::engine`]).
    pub fn start_proxy(&self, cfg: ProxyConfig) -> Result<(), Error> {
        let shared = Arc::new(ProxyShared::new(cfg, self.workers.len())?);
        self.proxy
            .set(shared.clone())
            .map_err(|_| Error::InvalidArgument)?;
        for w in &self.workers {
            w.start_proxy(shared.clone());
        }
        Ok(())
    }

    fn proxy_shared(&self) -> Result<&Arc<ProxyShared>, Error> {
        self.proxy.get().ok_or(Error::InvalidArgument)
    }

    /// Accepts connections on `listener` (a listening stream socket, made non-blocking and
    /// `TCP_NODELAY` here, for the connections it accepts) for the proxy: in every worker (the kernel wakes one at a time), or in worker
    /// `worker` alone (one of several `SO_REUSEPORT` sockets, one per worker).
    pub fn listen(&self, listener: OwnedFd, worker: Option<usize>) -> Result<(), Error> {
        self.proxy_shared()?;
        if worker.is_some_and(|w| w >= self.workers.len()) {
            return Err(Error::InvalidArgument);
        }
        sys::set_nonblocking(listener.as_fd()).map_err(Error::from_errno)?;
        // Accepted sockets inherit TCP_NODELAY from their listener: one setsockopt here
        // instead of one per connection. (Not a TCP socket: nothing to set.)
        let _ = sys::set_nodelay(listener.as_fd());
        let fd = Arc::new(listener);
        for (i, w) in self.workers.iter().enumerate() {
            if worker.is_none_or(|only| only == i) {
                w.proxy(ProxyMsg::Listen(fd.clone()));
            }
        }
        Ok(())
    }

    /// Accepts connections on `addr` for the proxy with a listening socket of each worker's
    /// own (`SO_REUSEPORT`, as the Go package's `Config.ReusePort` sets up): the kernel spreads
    /// new connections over the workers by a hash of their addresses, where one shared
    /// listener wakes an idle worker first. Port 0 picks a free port, the same for every
    /// worker. Returns the address the sockets listen on; on an error none listens.
    pub fn listen_reuseport(&self, addr: SocketAddr) -> Result<SocketAddr, Error> {
        self.proxy_shared()?;
        let mut at = addr;
        let mut fds = Vec::with_capacity(self.workers.len());
        for _ in &self.workers {
            let fd = sys::listen_reuseport(&at).map_err(Error::from_errno)?;
            if fds.is_empty() {
                let l = std::net::TcpListener::from(fd);
                at = l.local_addr().map_err(|_| Error::Io)?;
                fds.push(OwnedFd::from(l));
            } else {
                fds.push(fd);
            }
        }
        for (i, fd) in fds.into_iter().enumerate() {
            self.listen(fd, Some(i))?;
        }
        Ok(at)
    }

    /// The proxy's counters (summed over the workers).
    pub fn proxy_counters(&self) -> Result<ProxyCounters, Error> {
        Ok(self.proxy_shared()?.counters())
    }

    /// The counters of worker `worker` alone (`InvalidArgument` past the last worker): how
    /// the kernel spread the connections (`conns_accepted`) and the load over the workers.
    pub fn proxy_worker_counters(&self, worker: usize) -> Result<ProxyCounters, Error> {
        self.proxy_shared()?
            .worker_counters(worker)
            .ok_or(Error::InvalidArgument)
    }

    /// Graceful shutdown of the proxy: its listeners close, idle client connections close
    /// now, the others after their exchange in progress (whose response says
    /// `Connection: close`); idle upstream connections close. Watch
    /// [`ProxyCounters::conns_open`] fall to 0, then drop the engine, or
    /// [`Engine::proxy_close`] what is left.
    pub fn proxy_shutdown(&self) -> Result<(), Error> {
        self.proxy_shared()?;
        for w in &self.workers {
            w.proxy(ProxyMsg::Shutdown);
        }
        Ok(())
    }

    /// Closes every connection of the proxy now (after [`Engine::proxy_shutdown`], when its
    /// grace period ran out).
    pub fn proxy_close(&self) -> Result<(), Error> {
        self.proxy_shared()?;
        for w in &self.workers {
            w.proxy(ProxyMsg::CloseAll);
        }
        Ok(())
    }

    /// The fd that is readable while worker `worker` has proxy events queued (hooks, errors
    /// handed to the caller); then [`Engine::proxy_events`] takes them.
    pub fn proxy_ready_fd(&self, worker: usize) -> Result<BorrowedFd<'_>, Error> {
        let p = self.proxy_shared()?;
        let w = p.workers.get(worker).ok_or(Error::InvalidArgument)?;
        Ok(w.ready.as_fd())
    }

    /// Moves queued events of worker `worker` to `out` (oldest first), at most `max` of them
    /// and as many as have heads of `head_budget` bytes together. Returns how many, and when
    /// none fit although some are queued, the head length the first needs (else 0). Answer
    /// each with [`Engine::proxy_reply`] on the same worker.
    pub fn proxy_events(
        &self,
        worker: usize,
        out: &mut Vec<ProxyEvent>,
        max: usize,
        head_budget: usize,
    ) -> Result<(usize, usize), Error> {
        let p = self.proxy_shared()?;
        if worker >= p.workers.len() {
            return Err(Error::InvalidArgument);
        }
        Ok(p.take_events(worker, out, max, head_budget))
    }

    /// The caller's answer to the event with `token` of worker `worker`. A reply about a
    /// connection that has moved on (it closed, or a deadline passed) is ignored.
    pub fn proxy_reply(&self, worker: usize, token: u64, reply: Reply) -> Result<(), Error> {
        self.proxy_shared()?;
        let w = self.workers.get(worker).ok_or(Error::InvalidArgument)?;
        w.proxy(ProxyMsg::Reply(token, reply));
        Ok(())
    }

    /// Blocks up to `timeout_ms` for completions (for callers without their own poller).
    pub fn wait(&self, timeout_ms: i32) -> bool {
        let fd = self.shared.ready.as_raw_fd();
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
            w.wake();
        }
        for w in &mut self.workers {
            w.join();
        }
    }
}
