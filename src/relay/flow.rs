//! [`Relay`]: the non-blocking state machine that moves one body (or one direction of a
//! tunnel) from a source fd to a destination fd.

use std::os::fd::{AsFd, BorrowedFd};

use super::counters::{COUNTERS, add};
use super::error::Error;
use super::framer::{Framer, Framing};
use super::pool::{self, Buffer, Pipe};
use super::stats::RelayStats;
use crate::sys::{self, Errno, FdKind};

/// Options of a [`Relay`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Where the body ends.
    pub framing: Framing,
    /// Use splice(2) when both fds allow it (stream sockets, pipes). Off by default: copying
    /// through pooled buffers (bulk ones for bulk flows) moved more bytes per second with
    /// less CPU between loopback sockets (BENCHMARKS.md, buffer relay rows).
    pub splice: bool,
    /// `shutdown(dst, SHUT_WR)` once the body is complete (half-close, for tunnels).
    pub shutdown_on_done: bool,
}

impl Options {
    /// Options for `framing`: copying (no splice) and no half-close.
    pub const fn new(framing: Framing) -> Options {
        Options {
            framing,
            splice: false,
            shutdown_on_done: false,
        }
    }
}

/// What a relay needs before it can make progress again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The source has no data now: wait until it is readable, then step again.
    WantRead,
    /// The destination is full: wait until it is writable, then step again.
    WantWrite,
    /// The body is complete and fully written.
    Done,
    /// The step reached its byte limit ([`STEP_LIMIT`], or the budget of
    /// [`Relay::step_budget`]) or its read limit ([`STEP_READS`]) without either fd running
    /// dry: step again without waiting (an edge-triggered poller would not wake the caller
    /// again). Bounding each step keeps a step from never returning when bytes flow in a
    /// circle (a relay between the two ends of one socket pair), from running for seconds
    /// when a peer trickles a large body a few bytes per read, and one busy relay from
    /// holding its thread (the engine's workers move on to other jobs).
    Again,
}

/// Bytes one [`Relay::step`] moves at most before it returns [`Progress::Again`].
pub const STEP_LIMIT: u64 = 4 << 20;

/// Reads of the source (or takes of pending bytes) one step makes at most before it returns
/// [`Progress::Again`]. The byte limit alone let a step whose reads each return a few bytes
/// (a peer that trickles, or bytes in a circle) run 400,000 read/write rounds and seconds of
/// syscalls; at most 1024 rounds keep a step within milliseconds whatever the peer does,
/// while a relay at full speed meets the byte limit first (64 full reads of a
/// [`BUFFER_SIZE`](super::BUFFER_SIZE) buffer, or one of a bulk one, make 4 MiB).
pub const STEP_READS: u32 = 1024;

/// Capacity of the pending-bytes store ([`Relay::set_pending`]) a relay keeps across bodies;
/// a larger one, for a large prefix, is freed when the next body starts.
const PENDING_KEEP: usize = 64 << 10;

/// What [`Relay::feed`] did with the bytes it was handed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fed {
    /// Bytes at the front of the input that belong to the body; the bytes after them do not.
    pub taken: usize,
    /// Bytes now at the front of the input, framed, that go to the destination (fewer than
    /// `taken` when de-chunking drops the framing).
    pub kept: usize,
    /// The most bytes the caller may read from the source next without reading past the
    /// body: 0 once it is complete.
    pub read_bound: u64,
    /// The body is complete and every kept byte was reported written: the relay is done.
    pub done: bool,
}

/// Splice state: untried, usable, or off for this relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SpliceMode {
    Unknown,
    On,
    Off,
}

/// Moves one body from a source to a destination, non-blocking, a step at a time.
///
/// [`Relay::step`] moves as many bytes as the fds allow (read/write through a pooled buffer,
/// a bulk one once a read fills the small one; or, with [`Options::splice`], splice through a
/// pooled pipe when both are stream sockets or pipes) and says what it waits for. The relay
/// keeps no fd: the caller passes both on every step, so the fd can be the one a Go
/// `syscall.RawConn` lends inside its callback. It holds at most one pipe and one buffer (of
/// at most [`BULK_BUFFER_SIZE`](super::BULK_BUFFER_SIZE) bytes), so a slow reader bounds the
/// memory a relay uses.
///
/// ```
/// use offheap::relay::{Framing, Options, Progress, Relay};
/// use std::io::{Read, Write};
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
///
/// let (mut client, src) = UnixStream::pair().unwrap();
/// let (dst, mut server) = UnixStream::pair().unwrap();
/// src.set_nonblocking(true).unwrap();
/// dst.set_nonblocking(true).unwrap();
/// client.write_all(b"hello world, and more").unwrap();
///
/// let mut relay = Relay::new(Options::new(Framing::Exact(11)));
/// assert_eq!(relay.step(src.as_fd(), dst.as_fd()), Ok(Progress::Done));
/// let mut got = [0u8; 11];
/// server.read_exact(&mut got).unwrap();
/// assert_eq!(&got, b"hello world");
/// assert_eq!(relay.stats().bytes_out, 11);
/// ```
#[derive(Debug)]
pub struct Relay {
    framer: Framer,
    /// `shutdown(dst, SHUT_WR)` once done ([`Options::shutdown_on_done`]).
    shutdown_on_done: bool,
    /// Bytes read from the source before this body started, taken as its start
    /// ([`Relay::set_pending`]), and how many of them were taken so far.
    pending: Vec<u8>,
    pending_at: usize,
    /// Bytes [`Relay::feed`] handed back to write that the caller has not reported written.
    owed: u64,
    splice: SpliceMode,
    pipe: Option<Pipe>,
    /// Bytes in the pipe, not yet written.
    in_pipe: usize,
    /// The copy buffer; without storage until a step needs one. Not an `Option<Buffer>`:
    /// that adds a tag beside the buffer's own `Option`, the optimiser then tests the
    /// (uninitialised) payload of `None` ahead of the tag, and valgrind reports every step.
    buf: Buffer,
    /// The last copying read filled a whole [`BUFFER_SIZE`](super::BUFFER_SIZE) buffer and
    /// the body wants more: the next read goes into a bulk buffer (while the process-wide
    /// bound allows one). Kept across [`Relay::reset`], like `probed`: a connection pair
    /// tends to carry one kind of traffic.
    bulk: bool,
    stats: RelayStats,
    result: Option<Result<(), Error>>,
    errno: i32,
    started: bool,
    /// The last fd pair probed for splice support, kept across [`Relay::reset`] so a relay
    /// reused on one connection pair probes once. A stale entry (a reused fd number) is
    /// harmless: splice on an fd that does not support it fails with EINVAL and the relay
    /// falls back to copying. `(-1, -1, _)` means none yet (no fd is -1). A plain tuple rather
    /// than an `Option`: every byte is initialised, which keeps valgrind's memcheck exact.
    probed: (i32, i32, bool),
}

impl Relay {
    /// A relay that has not moved anything yet.
    pub fn new(opts: Options) -> Relay {
        Relay {
            framer: Framer::new(opts.framing),
            shutdown_on_done: opts.shutdown_on_done,
            pending: Vec::new(),
            pending_at: 0,
            owed: 0,
            splice: if opts.splice {
                SpliceMode::Unknown
            } else {
                SpliceMode::Off
            },
            pipe: None,
            in_pipe: 0,
            buf: Buffer::none(),
            bulk: false,
            stats: RelayStats::default(),
            result: None,
            errno: 0,
            started: false,
            probed: (-1, -1, false),
        }
    }

    /// Starts over with new options, keeping nothing of the previous body.
    pub fn reset(&mut self, opts: Options) {
        self.release();
        let (probed, bulk) = (self.probed, self.bulk);
        let mut pending = std::mem::take(&mut self.pending);
        pending.clear();
        if pending.capacity() > PENDING_KEEP {
            pending = Vec::new();
        }
        *self = Relay::new(opts);
        self.probed = probed;
        self.bulk = bulk;
        self.pending = pending;
    }

    /// Takes `bytes`, read from the source before the body started (with its head, say), as
    /// the start of the body: steps relay them (framed as the rest, a chunked body picked up
    /// wherever they end, even inside a chunk) before reading the source. Bytes after the end
    /// of the body are not taken: the body took the first `stats().bytes_in` of them (all, when
    /// `bytes_in` is larger). Call it before the first step of the body; it copies `bytes`.
    pub fn set_pending(&mut self, bytes: &[u8]) {
        self.pending.clear();
        self.pending.extend_from_slice(bytes);
        self.pending_at = 0;
    }

    /// Bytes moved so far.
    pub fn stats(&self) -> RelayStats {
        self.stats
    }

    /// The OS error number behind the last [`Error::Io`] (or other OS-level error), or 0.
    pub fn last_errno(&self) -> i32 {
        self.errno
    }

    /// The outcome, once the relay has finished.
    pub fn result(&self) -> Option<Result<(), Error>> {
        self.result
    }

    /// Takes the first bytes of the body that the caller read along with its head and writes
    /// itself (with the head, in one writev): feeds `buffered` through the framing and returns
    /// `(taken, write)`, the bytes of `buffered` that belong to the body and how many bytes to
    /// write from its front. They are the same except when de-chunking, which moves the
    /// payload among the taken bytes to the front of `buffered`. The relay then reads the rest
    /// of the body from its source. These bytes are not counted in [`Relay::stats`]; call this
    /// before the first step.
    ///
    /// ```
    /// use offheap::relay::{Framing, Options, Relay};
    /// let mut r = Relay::new(Options::new(Framing::Chunked { dechunk: true }));
    /// let mut buffered = *b"3\r\nabc\r\n0\r\n\r\nNEXT";
    /// assert_eq!(r.preface(&mut buffered), Ok((13, 3)));
    /// assert_eq!(&buffered[..3], b"abc");
    /// assert!(r.is_complete());
    /// ```
    pub fn preface(&mut self, buffered: &mut [u8]) -> Result<(usize, usize), Error> {
        self.framer.frame(buffered)
    }

    /// Whether the whole body has been read (by [`Relay::preface`] or the steps so far).
    pub fn is_complete(&self) -> bool {
        self.complete()
    }

    /// Moves bytes from `src` to `dst` (both must be non-blocking) until one would block, the
    /// body is done, [`STEP_LIMIT`] bytes were written or [`STEP_READS`] reads made, and says
    /// what the relay needs next.
    /// After `Done` or an error, further steps return the same outcome without touching the
    /// fds; the pipe and buffer are back in their pools.
    pub fn step(&mut self, src: BorrowedFd<'_>, dst: BorrowedFd<'_>) -> Result<Progress, Error> {
        self.step_budget(src, dst, STEP_LIMIT)
    }

    /// Like [`Relay::step`], but returns [`Progress::Again`] once about `budget` bytes were
    /// written in this step (or [`STEP_READS`] reads made).
    pub fn step_budget(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        budget: u64,
    ) -> Result<Progress, Error> {
        if let Some(r) = self.result {
            return r.map(|()| Progress::Done);
        }
        if !self.started {
            self.started = true;
            add(&COUNTERS.relays_started, 1);
        }
        let r = self.run(src, dst, budget);
        match r {
            Ok(Progress::Done) => self.finish(Ok(())),
            Err(e) => self.finish(Err(e)),
            Ok(_) => {}
        }
        r
    }

    /// Steps until done, blocking in `poll(2)` (at most `timeout_ms` per wait, -1: no
    /// limit) for whichever fd the relay waits on. For callers without an event loop (tools,
    /// tests, the native baseline bench); Go uses [`Relay::step`] from its netpoller.
    pub fn drive(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        timeout_ms: i32,
    ) -> Result<(), Error> {
        loop {
            let progress = self.step(src, dst)?;
            if progress == Progress::Done {
                return Ok(());
            }
            if !wait_ready(src, dst, progress, timeout_ms)? {
                self.abort(Error::TimedOut);
                return Err(Error::TimedOut);
            }
        }
    }

    /// Ends the relay with `e` (a cancellation, the caller's fd closing, a deadline) and
    /// returns its pipe and buffer. No-op on a finished relay.
    pub fn abort(&mut self, e: Error) {
        if self.result.is_none() {
            self.finish(Err(e));
        }
    }

    fn finish(&mut self, r: Result<(), Error>) {
        self.result = Some(r);
        // Only a relay that started has an outcome to count (an abort before the first step
        // would otherwise count a failure without a start: done + failed > started).
        if self.started {
            add(
                if r.is_ok() {
                    &COUNTERS.relays_done
                } else {
                    &COUNTERS.relays_failed
                },
                1,
            );
        }
        self.release();
    }

    /// Returns the buffer and an empty pipe to their pools; a pipe that holds bytes is closed.
    fn release(&mut self) {
        self.buf.release();
        if let Some(p) = self.pipe.take()
            && self.in_pipe == 0
        {
            pool::give_pipe(p);
        }
        self.in_pipe = 0;
    }

    fn os_error(&mut self, e: Errno) -> Error {
        self.errno = e.0;
        Error::from_errno(e)
    }

    fn complete(&self) -> bool {
        self.framer.complete()
    }

    /// Relays without fds, for a caller that reads the source and writes the destination
    /// itself (a connection without a file descriptor, such as a TLS stream): records that it
    /// wrote `written` more bytes to the destination, then takes the body's bytes at the front of
    /// `data`, which it read from the source, and frames them in place (`Fed::kept` bytes at the
    /// front of `data` are for the destination). `eof` says the source reached end of file
    /// (`data` is then ignored). The caller reads at most `Fed::read_bound` bytes at a time, so
    /// it never reads past the body, and feeds until `Fed::done`, reporting every kept byte as
    /// written. The counters are those of [`Relay::step`]: what the caller wrote counts as
    /// copied.
    pub fn feed(&mut self, written: u64, data: &mut [u8], eof: bool) -> Result<Fed, Error> {
        if let Some(r) = self.result {
            return r.map(|()| Fed {
                done: true,
                ..Fed::default()
            });
        }
        if !self.started {
            self.started = true;
            add(&COUNTERS.relays_started, 1);
        }
        let r = self.feed_inner(written, data, eof);
        match r {
            Ok(Fed { done: true, .. }) => self.finish(Ok(())),
            Err(e) => self.finish(Err(e)),
            Ok(_) => {}
        }
        r
    }

    fn feed_inner(&mut self, written: u64, data: &mut [u8], eof: bool) -> Result<Fed, Error> {
        if written > self.owed {
            return Err(Error::InvalidArgument);
        }
        self.owed -= written;
        self.stats.bytes_out += written;
        self.stats.copied += written;
        add(&COUNTERS.bytes_copied, written);
        let (taken, kept) = if eof {
            self.framer.moved(0)?;
            (0, 0)
        } else {
            self.framer.frame(data)?
        };
        self.stats.bytes_in += taken as u64;
        self.owed += kept as u64;
        Ok(Fed {
            taken,
            kept,
            read_bound: self.framer.read_bound(),
            done: self.framer.complete() && self.owed == 0,
        })
    }

    fn run(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        budget: u64,
    ) -> Result<Progress, Error> {
        if self.splice == SpliceMode::Unknown {
            use std::os::fd::AsRawFd;
            let key = (src.as_raw_fd(), dst.as_raw_fd());
            let usable = match self.probed {
                (s, d, usable) if (s, d) == key => usable,
                _ => {
                    let ok = |k: Result<FdKind, Errno>| {
                        matches!(k, Ok(FdKind::StreamSocket | FdKind::Pipe))
                    };
                    let usable = ok(sys::fd_kind(src)) && ok(sys::fd_kind(dst));
                    self.probed = (key.0, key.1, usable);
                    usable
                }
            };
            self.splice = if usable {
                SpliceMode::On
            } else {
                SpliceMode::Off
            };
        }
        let start = self.stats.bytes_out;
        let mut reads = 0;
        loop {
            if !self.flush(dst)? {
                return Ok(Progress::WantWrite);
            }
            if (self.stats.bytes_out - start >= budget || reads >= STEP_READS) && !self.complete() {
                return Ok(Progress::Again);
            }
            if self.complete() {
                if self.shutdown_on_done {
                    // ENOTCONN when the peer is gone already: nothing left to tell it.
                    let _ = sys::shutdown_write(dst);
                }
                return Ok(Progress::Done);
            }
            if !self.fill(src)? {
                // An empty bulk buffer goes back to its pool while the relay waits: idle
                // relays hold no bulk memory.
                if self.buf.is_bulk() && self.buf.is_empty() {
                    self.buf.release();
                }
                return Ok(Progress::WantRead);
            }
            reads += 1;
        }
    }

    /// Writes everything held (buffer, then pipe) to `dst`. `Ok(false)`: `dst` is full.
    fn flush(&mut self, dst: BorrowedFd<'_>) -> Result<bool, Error> {
        loop {
            if !self.buf.is_empty() {
                let b = &mut self.buf;
                match sys::write(dst, b.filled()) {
                    Ok(n) => {
                        b.consume(n);
                        self.stats.bytes_out += n as u64;
                        self.stats.copied += n as u64;
                        add(&COUNTERS.bytes_copied, n as u64);
                        continue;
                    }
                    Err(e) if e.would_block() => return Ok(false),
                    Err(e) => return Err(self.os_error(e)),
                }
            }
            if self.in_pipe == 0 {
                return Ok(true);
            }
            let Some(pipe) = self.pipe.as_ref() else {
                return Ok(true);
            };
            if self.splice == SpliceMode::Off {
                // Splice to dst failed earlier: drain the pipe through the buffer.
                let b = self.buf.ensure();
                let want = self.in_pipe.min(b.spare_mut().len());
                let n = sys::read(pipe.reader(), &mut b.spare_mut()[..want])
                    .map_err(Error::from_errno)?;
                b.fill(n);
                self.in_pipe -= n;
                continue;
            }
            // splice(2) into a socket the peer closed raises SIGPIPE (it has no MSG_NOSIGNAL),
            // which would end a C caller's process: it fails with EPIPE only.
            match sys::quiet_sigpipe(|| sys::splice(pipe.reader(), dst, self.in_pipe)) {
                Ok(n) => {
                    self.in_pipe -= n;
                    self.stats.bytes_out += n as u64;
                    self.stats.spliced += n as u64;
                    add(&COUNTERS.bytes_spliced, n as u64);
                }
                Err(e) if e.would_block() => return Ok(false),
                Err(Errno(libc::EINVAL)) => self.splice = SpliceMode::Off,
                Err(e) => return Err(self.os_error(e)),
            }
        }
    }

    /// Reads the next part of the body (splice into the pipe, or read into the buffer), from
    /// the pending bytes first. `Ok(false)`: `src` has nothing now. Called only when nothing
    /// is held.
    fn fill(&mut self, src: BorrowedFd<'_>) -> Result<bool, Error> {
        if self.pending_at < self.pending.len() {
            return self.fill_pending();
        }
        let Some(want) = self.framer.want() else {
            return self.fill_chunk_framing(src);
        };
        if self.splice == SpliceMode::On {
            if self.pipe.is_none() {
                match pool::take_pipe() {
                    Ok(p) => self.pipe = Some(p),
                    Err(_) => self.splice = SpliceMode::Off,
                }
            }
            if let Some(pipe) = self.pipe.as_ref() {
                let len = want.min(pipe.capacity() as u64) as usize;
                match sys::splice(src, pipe.writer(), len) {
                    Ok(n) => {
                        self.in_pipe += n;
                        return self.got(n);
                    }
                    Err(e) if e.would_block() => return Ok(false),
                    Err(Errno(libc::EINVAL)) => self.splice = SpliceMode::Off,
                    Err(e) => return Err(self.os_error(e)),
                }
            }
        }
        // Only an empty buffer is swapped (fill is called when nothing is held), and only
        // for more than a small buffer's worth: a short body after a bulk one stays small.
        if self.bulk
            && want > super::BUFFER_SIZE as u64
            && !self.buf.is_bulk()
            && self.buf.is_empty()
            && let Some(big) = Buffer::take_bulk()
        {
            self.buf = big;
        }
        let b = self.buf.ensure();
        let spare = b.spare_mut();
        let len = want.min(spare.len() as u64) as usize;
        match sys::read(src, &mut spare[..len]) {
            Ok(n) => {
                b.fill(n);
                self.bulk = n >= super::BUFFER_SIZE && want > n as u64;
                self.got(n)
            }
            Err(e) if e.would_block() => Ok(false),
            Err(e) => Err(self.os_error(e)),
        }
    }

    /// Accounts for `n` body bytes read from the source (`n == 0`: end of file).
    fn got(&mut self, n: usize) -> Result<bool, Error> {
        self.framer.moved(n as u64)?;
        self.stats.bytes_in += n as u64;
        Ok(true)
    }

    /// Takes the next pending bytes into the buffer, framed; once the body ends inside them,
    /// the rest is left (not the body's).
    fn fill_pending(&mut self) -> Result<bool, Error> {
        let b = self.buf.ensure();
        let rest = &self.pending[self.pending_at..];
        let spare = b.spare_mut();
        let n = rest.len().min(spare.len());
        spare[..n].copy_from_slice(&rest[..n]);
        let (taken, kept) = self.framer.frame(&mut spare[..n])?;
        b.fill(kept);
        self.stats.bytes_in += taken as u64;
        self.pending_at = if taken < n {
            self.pending.len()
        } else {
            self.pending_at + taken
        };
        Ok(true)
    }

    /// Chunk framing: peeks, decodes how far the body goes in what was peeked, then reads
    /// exactly that much, so bytes after the body are never consumed.
    fn fill_chunk_framing(&mut self, src: BorrowedFd<'_>) -> Result<bool, Error> {
        let b = self.buf.ensure();
        b.clear();
        let peeked = match sys::peek(src, b.spare_mut()) {
            Ok(0) => return Err(Error::UnexpectedEof),
            Ok(n) => n,
            Err(e) if e.would_block() => return Ok(false),
            Err(Errno(libc::ENOTSOCK)) => return Err(Error::Unsupported),
            Err(e) => {
                self.errno = e.0;
                return Err(Error::from_errno(e));
            }
        };
        let spare = b.spare_mut();
        let take = self.framer.body_len(&spare[..peeked])?;
        let mut got = 0;
        while got < take {
            match sys::read(src, &mut spare[got..take]) {
                Ok(0) => return Err(Error::UnexpectedEof),
                Ok(n) => got += n,
                // Peeked bytes vanished: someone else reads this fd.
                Err(e) if e.would_block() => return Err(Error::Io),
                Err(e) => {
                    self.errno = e.0;
                    return Err(Error::from_errno(e));
                }
            }
        }
        // Take the same bytes for real; de-chunking compacts the payload to the front.
        let (taken, kept) = self.framer.frame(&mut spare[..take])?;
        self.stats.bytes_in += taken as u64;
        b.set_filled(kept);
        Ok(true)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.release();
    }
}

/// Waits up to `timeout_ms` (-1: no limit) until the fd that `progress` names is ready:
/// `src` readable for [`Progress::WantRead`], `dst` writable for [`Progress::WantWrite`].
/// Returns `Ok(false)` on timeout and `Ok(true)` at once for [`Progress::Done`]. Errors and
/// hang-ups count as ready (the next step reports them).
pub fn wait_ready(
    src: BorrowedFd<'_>,
    dst: BorrowedFd<'_>,
    progress: Progress,
    timeout_ms: i32,
) -> Result<bool, Error> {
    use std::os::fd::AsRawFd;
    let (fd, events) = match progress {
        Progress::WantRead => (src.as_raw_fd(), libc::POLLIN),
        Progress::WantWrite => (dst.as_raw_fd(), libc::POLLOUT),
        Progress::Done | Progress::Again => return Ok(true),
    };
    let mut p = [libc::pollfd {
        fd,
        events,
        revents: 0,
    }];
    sys::poll(&mut p, timeout_ms)
        .map(|n| n > 0)
        .map_err(Error::from_errno)
}

/// Writes `bufs` to `fd` with one `writev` (up to 16 slices); returns the bytes written,
/// which may be fewer than their total on a non-blocking fd, or `None` when `fd` is full.
pub fn write_vectored(fd: BorrowedFd<'_>, bufs: &[&[u8]]) -> Result<Option<usize>, Error> {
    match sys::writev(fd, bufs) {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.would_block() => Ok(None),
        Err(e) => Err(Error::from_errno(e)),
    }
}

/// Duplicates `fd` (close-on-exec, same open file) so the relay engine can own it.
pub fn duplicate(fd: BorrowedFd<'_>) -> Result<std::os::fd::OwnedFd, Error> {
    let d = sys::dup(fd).map_err(Error::from_errno)?;
    sys::set_nonblocking(d.as_fd()).map_err(Error::from_errno)?;
    Ok(d)
}
