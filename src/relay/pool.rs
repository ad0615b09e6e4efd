//! Pools of the relay's two resources: kernel pipes (for splice) and Rust-owned buffers.
//!
//! The pools are process-wide, bounded (at most [`MAX_IDLE_PIPES`] / [`MAX_IDLE_BUFFERS`] /
//! [`MAX_IDLE_SMALL_BUFFERS`] idle entries; the rest are freed on release) and can be emptied
//! with [`trim`], which leak tests call to return to their baseline of fds and heap.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use parking_lot::Mutex;

use super::counters::{COUNTERS, add, sub};
use super::error::Error;
use crate::sys;

/// Pipe buffer size asked for with `F_SETPIPE_SZ` (the kernel may grant less).
pub const PIPE_SIZE: usize = 1 << 20;
/// Size of every pooled buffer, in bytes (Pingora reads 64 KiB at a time too).
pub const BUFFER_SIZE: usize = 64 * 1024;
/// Idle pipes kept for reuse.
pub const MAX_IDLE_PIPES: usize = 64;
/// Idle buffers kept for reuse.
pub const MAX_IDLE_BUFFERS: usize = 256;
/// Size of a small buffer: what an exchange's heads are read into first (one page, as
/// nginx's `proxy_buffer_size`). Most heads fit, so thousands of exchanges in flight hold a
/// page each rather than [`BUFFER_SIZE`] bytes each, memory the allocator would otherwise
/// fault in and give back to the kernel over and over (`make bench-proxy`, 5,000
/// connections). A read that fills one moves on to a [`BUFFER_SIZE`] buffer
/// ([`Buffer::grow`]).
pub const SMALL_BUFFER_SIZE: usize = 4 * 1024;
/// Idle small buffers kept for reuse (4 MiB).
pub const MAX_IDLE_SMALL_BUFFERS: usize = 1024;
/// Size of a bulk buffer: what a copying relay reads into once a read has filled a whole
/// [`BUFFER_SIZE`] buffer (a bulk flow). Fewer, larger reads and writes mean fewer wake-ups of
/// the peers on each side. BENCHMARKS.md's bulk rows (`make bench`) measure copying relays
/// that use it, and the native copy loop with a buffer of this size.
pub const BULK_BUFFER_SIZE: usize = 4 << 20;
/// Most bulk buffers alive at once, process-wide (held by relays or idle in the pool): at
/// most `MAX_BULK_BUFFERS * BULK_BUFFER_SIZE` bytes. Beyond it, relays copy through
/// [`BUFFER_SIZE`] buffers as before.
pub const MAX_BULK_BUFFERS: usize = 16;
/// Idle bulk buffers kept for reuse.
pub const MAX_IDLE_BULK_BUFFERS: usize = 4;

/// A kernel pipe used as the splice intermediary.
#[derive(Debug)]
pub struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
    capacity: usize,
}

impl Pipe {
    /// The read end.
    pub fn reader(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// The write end.
    pub fn writer(&self) -> BorrowedFd<'_> {
        self.write.as_fd()
    }

    /// The pipe's buffer size in bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        sub(&COUNTERS.pipes_live, 1);
    }
}

static PIPES: Mutex<Vec<Pipe>> = Mutex::new(Vec::new());
static BUFFERS: Mutex<Vec<Box<[u8]>>> = Mutex::new(Vec::new());
/// Idle small buffers, and how many small buffers are alive (idle ones included).
static SMALL: Mutex<(Vec<Box<[u8]>>, usize)> = Mutex::new((Vec::new(), 0));
/// Idle bulk buffers, and how many bulk buffers are alive (idle ones included).
static BULK: Mutex<(Vec<Box<[u8]>>, usize)> = Mutex::new((Vec::new(), 0));

/// Takes an empty pipe from the pool, or creates one (1 MiB when the kernel allows).
pub fn take_pipe() -> Result<Pipe, Error> {
    if let Some(p) = PIPES.lock().pop() {
        return Ok(p);
    }
    let (read, write) = sys::pipe().map_err(Error::from_errno)?;
    // Not fatal: without CAP_SYS_RESOURCE past the per-user limit, pipes stay small.
    let capacity = sys::set_pipe_size(write.as_fd(), PIPE_SIZE)
        .or_else(|_| sys::pipe_size(write.as_fd()))
        .unwrap_or(4096)
        .max(4096);
    add(&COUNTERS.pipes_created, 1);
    add(&COUNTERS.pipes_live, 1);
    Ok(Pipe {
        read,
        write,
        capacity,
    })
}

/// Returns a pipe to the pool. The caller guarantees it is empty; a pipe that may hold
/// bytes must be dropped instead.
pub fn give_pipe(p: Pipe) {
    let mut idle = PIPES.lock();
    if idle.len() < MAX_IDLE_PIPES {
        idle.push(p);
    }
}

/// A fixed-size Rust-owned buffer with a filled window `[start, end)`.
///
/// ```
/// use offheap::relay::Buffer;
/// let mut b = Buffer::take();
/// b.spare_mut()[..5].copy_from_slice(b"hello");
/// b.fill(5);
/// b.consume(1);
/// assert_eq!(b.filled(), b"ello");
/// ```
#[derive(Debug)]
pub struct Buffer {
    data: Option<Box<[u8]>>,
    start: usize,
    end: usize,
    kind: Storage,
}

/// Where a buffer's storage came from, so it goes back there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Storage {
    /// The pool of [`BUFFER_SIZE`] buffers (or none).
    Pooled,
    /// The pool of [`SMALL_BUFFER_SIZE`] buffers.
    Small,
    /// The bounded pool of bulk buffers.
    Bulk,
    /// Allocated for one long head by [`Buffer::grow`]; freed when dropped.
    Grown,
}

impl Buffer {
    /// Takes a buffer of [`BUFFER_SIZE`] bytes from the pool (allocating on a miss).
    pub fn take() -> Buffer {
        let data = BUFFERS.lock().pop().unwrap_or_else(|| {
            add(&COUNTERS.buffers_live, 1);
            vec![0u8; BUFFER_SIZE].into_boxed_slice()
        });
        Buffer {
            data: Some(data),
            start: 0,
            end: 0,
            kind: Storage::Pooled,
        }
    }

    /// Takes a small buffer of [`SMALL_BUFFER_SIZE`] bytes from its pool (allocating on a
    /// miss).
    pub fn take_small() -> Buffer {
        // No bound on small buffers alive: `take_counted` always has one.
        let data = take_counted(&SMALL, SMALL_BUFFER_SIZE, usize::MAX);
        Buffer::over(data, Storage::Small).unwrap_or_else(Buffer::take)
    }

    /// Takes a bulk buffer of [`BULK_BUFFER_SIZE`] bytes from its pool, or allocates one
    /// while fewer than [`MAX_BULK_BUFFERS`] are alive; `None` beyond that bound.
    pub fn take_bulk() -> Option<Buffer> {
        Buffer::over(
            take_counted(&BULK, BULK_BUFFER_SIZE, MAX_BULK_BUFFERS),
            Storage::Bulk,
        )
    }

    /// An empty buffer over `data` from `kind`'s pool.
    fn over(data: Option<Box<[u8]>>, kind: Storage) -> Option<Buffer> {
        Some(Buffer {
            data: Some(data?),
            start: 0,
            end: 0,
            kind,
        })
    }

    /// Whether this buffer's storage is a bulk buffer.
    pub fn is_bulk(&self) -> bool {
        self.kind == Storage::Bulk
    }

    /// Moves the filled bytes into storage of `capacity` bytes when that is more than this
    /// buffer has: a [`BUFFER_SIZE`] buffer from the pool when that is enough (a small buffer
    /// a read filled), else storage allocated for this buffer alone (a head longer than
    /// [`BUFFER_SIZE`]), freed, not pooled, when the buffer is released or dropped. The old
    /// storage goes back where it came from.
    pub fn grow(&mut self, capacity: usize) {
        if capacity <= self.capacity() {
            return;
        }
        let mut bigger = if capacity <= BUFFER_SIZE {
            Buffer::take()
        } else {
            add(&COUNTERS.buffers_live, 1);
            Buffer {
                data: Some(vec![0u8; capacity].into_boxed_slice()),
                start: 0,
                end: 0,
                kind: Storage::Grown,
            }
        };
        let n = self.filled().len();
        bigger.spare_mut()[..n].copy_from_slice(self.filled());
        bigger.fill(n);
        *self = bigger;
    }

    /// A buffer without storage (capacity 0): what a relay holds while it needs none.
    /// [`Self::ensure`] takes storage from the pool on first use.
    pub const fn none() -> Buffer {
        Buffer {
            data: None,
            start: 0,
            end: 0,
            kind: Storage::Pooled,
        }
    }

    /// Takes storage from the pool if this buffer has none; returns the buffer.
    pub fn ensure(&mut self) -> &mut Buffer {
        if self.data.is_none() {
            *self = Buffer::take();
        }
        self
    }

    /// Takes a small buffer ([`Buffer::take_small`]) if this buffer has no storage; returns
    /// the buffer.
    pub fn ensure_small(&mut self) -> &mut Buffer {
        if self.data.is_none() {
            *self = Buffer::take_small();
        }
        self
    }

    /// Whether this buffer's storage is a small buffer.
    pub fn is_small(&self) -> bool {
        self.kind == Storage::Small && self.data.is_some()
    }

    /// Returns the storage to the pool, leaving a buffer without storage.
    pub fn release(&mut self) {
        *self = Buffer::none();
    }

    fn bytes(&self) -> &[u8] {
        self.data.as_deref().unwrap_or(&[])
    }

    /// The filled bytes (written by [`Self::fill`] and not yet consumed).
    pub fn filled(&self) -> &[u8] {
        self.bytes().get(self.start..self.end).unwrap_or(&[])
    }

    /// The filled bytes, mutable (for in-place rewriting).
    pub fn filled_mut(&mut self) -> &mut [u8] {
        let (s, e) = (self.start, self.end);
        self.data
            .as_deref_mut()
            .and_then(|d| d.get_mut(s..e))
            .unwrap_or(&mut [])
    }

    /// The free space after the filled bytes.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        let e = self.end;
        self.data
            .as_deref_mut()
            .and_then(|d| d.get_mut(e..))
            .unwrap_or(&mut [])
    }

    /// Marks `n` more bytes of the spare space as filled (clamped to the capacity).
    pub fn fill(&mut self, n: usize) {
        self.end = (self.end + n).min(self.capacity());
    }

    /// Drops `n` bytes from the front of the filled window (clamped); an emptied buffer
    /// starts over at offset 0.
    pub fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.clear();
        }
    }

    /// Moves the filled bytes to the front when they reach the end of the buffer.
    fn compact_if_at_end(&mut self) {
        let (s, e) = (self.start, self.end);
        if s > 0
            && e == self.capacity()
            && let Some(d) = self.data.as_deref_mut()
        {
            d.copy_within(s..e, 0);
            self.start = 0;
            self.end = e - s;
        }
    }

    /// Empties the buffer.
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Sets the filled window to the first `n` bytes (clamped).
    pub fn set_filled(&mut self, n: usize) {
        self.start = 0;
        self.end = n.min(self.capacity());
    }

    /// Total size in bytes.
    pub fn capacity(&self) -> usize {
        self.bytes().len()
    }

    /// Whether nothing is filled.
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Reads once from non-blocking `fd` into the spare space; returns the bytes read
    /// (`Some(0)`: end of file, or the buffer is full), or `None` when `fd` has nothing now.
    /// When the filled bytes reach the end of the buffer but do not start at its front (a
    /// partial head or chunk line left after consuming), they are first moved to the front so
    /// the read has room: a buffer holding less than its capacity is never reported full.
    pub fn read_from(&mut self, fd: BorrowedFd<'_>) -> Result<Option<usize>, Error> {
        self.compact_if_at_end();
        let spare = self.spare_mut();
        if spare.is_empty() {
            return Ok(Some(0));
        }
        match sys::read(fd, spare) {
            Ok(n) => {
                self.fill(n);
                Ok(Some(n))
            }
            Err(e) if e.would_block() => Ok(None),
            Err(e) => Err(Error::from_errno(e)),
        }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        let Some(d) = self.data.take() else {
            return;
        };
        let kept = match self.kind {
            Storage::Grown => false,
            Storage::Bulk => keep(&BULK, d, MAX_IDLE_BULK_BUFFERS),
            Storage::Small => keep(&SMALL, d, MAX_IDLE_SMALL_BUFFERS),
            Storage::Pooled => {
                let mut idle = BUFFERS.lock();
                idle.len() < MAX_IDLE_BUFFERS && {
                    idle.push(d);
                    true
                }
            }
        };
        if !kept {
            sub(&COUNTERS.buffers_live, 1);
        }
    }
}

/// Takes idle storage from the counted pool `pool` (its idle buffers and how many are alive),
/// or allocates `size` bytes while fewer than `max_live` are alive; `None` beyond that.
fn take_counted(
    pool: &Mutex<(Vec<Box<[u8]>>, usize)>,
    size: usize,
    max_live: usize,
) -> Option<Box<[u8]>> {
    let mut p = pool.lock();
    if let Some(d) = p.0.pop() {
        return Some(d);
    }
    if p.1 >= max_live {
        return None;
    }
    p.1 += 1;
    drop(p);
    add(&COUNTERS.buffers_live, 1);
    Some(vec![0u8; size].into_boxed_slice())
}

/// Puts `d` back into the counted pool `pool` when it has fewer than `max` idle buffers;
/// else frees it and counts one buffer less. Returns whether it was kept.
fn keep(pool: &Mutex<(Vec<Box<[u8]>>, usize)>, d: Box<[u8]>, max: usize) -> bool {
    let mut p = pool.lock();
    if p.0.len() < max {
        p.0.push(d);
        return true;
    }
    p.1 -= 1;
    drop(p);
    drop(d);
    false
}

/// Bulk buffers alive now: held by relays or idle in their pool (at most
/// [`MAX_BULK_BUFFERS`]).
pub fn bulk_buffers_live() -> usize {
    BULK.lock().1
}

/// Small buffers alive now: held by buffers or idle in their pool.
pub fn small_buffers_live() -> usize {
    SMALL.lock().1
}

/// Frees every idle pipe and buffer (for leak checks and memory pressure).
pub fn trim() {
    let pipes = std::mem::take(&mut *PIPES.lock());
    drop(pipes);
    let bufs = std::mem::take(&mut *BUFFERS.lock());
    sub(&COUNTERS.buffers_live, bufs.len() as u64);
    for pool in [&BULK, &SMALL] {
        let mut p = pool.lock();
        let idle = std::mem::take(&mut p.0);
        p.1 -= idle.len();
        drop(p);
        sub(&COUNTERS.buffers_live, idle.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn read_from_makes_room_for_a_partial_head_at_the_end() {
        let (mut tx, rx) = UnixStream::pair().unwrap();
        rx.set_nonblocking(true).unwrap();
        let mut b = Buffer::take();
        b.fill(BUFFER_SIZE);
        b.filled_mut()[BUFFER_SIZE - 2..].copy_from_slice(b"94");
        b.consume(BUFFER_SIZE - 2); // a partial chunk line is left at the very end
        tx.write_all(b"10\r\n").unwrap();
        assert_eq!(b.read_from(rx.as_fd()).unwrap(), Some(4));
        assert_eq!(b.filled(), b"9410\r\n");
        // A buffer that is really full still reports it.
        b.fill(BUFFER_SIZE);
        tx.write_all(b"x").unwrap();
        assert_eq!(b.read_from(rx.as_fd()).unwrap(), Some(0));
    }

    #[test]
    fn a_grown_buffer_keeps_its_bytes_and_is_freed_not_pooled() {
        let live = crate::relay::stats().buffers_live;
        let mut b = Buffer::take();
        b.spare_mut()[..3].copy_from_slice(b"abc");
        b.fill(3);
        b.consume(1);
        b.grow(BUFFER_SIZE / 2); // smaller: nothing changes
        assert_eq!((b.capacity(), b.filled()), (BUFFER_SIZE, &b"bc"[..]));
        b.grow(3 * BUFFER_SIZE);
        assert_eq!((b.capacity(), b.filled()), (3 * BUFFER_SIZE, &b"bc"[..]));
        assert!(!b.is_bulk());
        drop(b);
        assert!(BUFFERS.lock().iter().all(|d| d.len() == BUFFER_SIZE));
        assert!(crate::relay::stats().buffers_live <= live + 1);
    }

    #[test]
    fn a_filled_small_buffer_grows_into_a_pooled_one_and_goes_back_to_its_pool() {
        let mut b = Buffer::take_small();
        assert!(b.is_small() && !b.is_bulk());
        assert_eq!(b.capacity(), SMALL_BUFFER_SIZE);
        b.spare_mut().fill(b'x');
        b.fill(SMALL_BUFFER_SIZE);
        b.consume(10);
        b.grow(BUFFER_SIZE);
        assert_eq!(b.capacity(), BUFFER_SIZE);
        assert!(!b.is_small());
        assert_eq!(b.filled(), &[b'x'; SMALL_BUFFER_SIZE - 10][..]);
        // The small storage went back to its pool, and the full-size one goes back to the pool
        // of full-size buffers, not freed as a grown one is.
        assert!(SMALL.lock().0.iter().all(|d| d.len() == SMALL_BUFFER_SIZE));
        drop(b);
        assert!(BUFFERS.lock().iter().all(|d| d.len() == BUFFER_SIZE));
        let mut none = Buffer::none();
        assert!(!none.is_small());
        assert_eq!(none.ensure_small().capacity(), SMALL_BUFFER_SIZE);
    }
}
