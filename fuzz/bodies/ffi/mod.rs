//! Body of the `ffi` fuzz target, shared by fuzz/fuzz_targets/ffi.rs (libFuzzer) and
//! tests/fuzz_smoke.rs (`make test`), both as a module (`#[path]` to this file).
//! A byte-driven interpreter: each input is a program of calls to every export of
//! include/offheap.h (debug objects, relays on socketpairs, Rust buffers, relay engines,
//! aggregators and snapshots, head parsing and rewriting, stats, injected panics), with live,
//! zero, random, stale and wrong-kind handles, NULL and misaligned pointers, NULL with lengths,
//! random lengths, negative and closed fds. It keeps a model of what must hold and asserts it
//! after every call:
//! - a bad handle never succeeds; a NULL out-parameter gives NULL_POINTER, a misaligned one
//!   MISALIGNED_POINTER; a failed call leaves its out-parameters untouched;
//! - an armed injected panic turns exactly the next calls into PANIC (or their defaults);
//! - a debug object poisoned by a panic under its lease answers POISONED until freed;
//! - `offheap_stats` counts exactly the live handles of each kind the model holds.
//!
//! At the end it frees everything, closes its fds, trims the pools and asserts that live
//! handles, the Rust heap (bytes), relay pipes and buffers and the process's open fds are all
//! back to their baseline (baseline.rs).
//!
//! This file holds the program reader, the model (live, stale and poisoned handles) and the
//! object lifecycle (new and free of every kind); each subsystem's operations are in the file
//! of its name. The exports, structs and statuses are the library's own (`offheap::ffi`, the
//! Rust side of the header), so the harness cannot drift from the ABI it checks.

mod baseline;
mod buffer;
mod debug;
mod engine;
mod headers;
mod relay;
mod window;

pub use baseline::run;

use std::ffi::CStr;
use std::fmt::Debug;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use offheap::ffi::*;

/// Object kinds, as `offheap_kind` numbers them (indices of `offheap_counters.handles_by_kind`).
const DEBUG: usize = offheap_kind::Debug as usize;
const AGGREGATOR: usize = offheap_kind::Aggregator as usize;
const SNAPSHOT: usize = offheap_kind::Snapshot as usize;
const BUFFER: usize = offheap_kind::Buffer as usize;
const RELAY: usize = offheap_kind::Relay as usize;
const ENGINE: usize = offheap_kind::Engine as usize;
const KINDS: [usize; 6] = [DEBUG, AGGREGATOR, SNAPSHOT, BUFFER, RELAY, ENGINE];

/// Most live objects of one kind (engines: 2), so the handle table never grows past the
/// warm-up and the heap baseline is exact.
const MAX_LIVE: usize = 12;
const MAX_ENGINES: usize = 2;
/// An fd number above any RLIMIT_NOFILE: never open.
const CLOSED_FD: i32 = i32::MAX - 3;

/// Reads program bytes; past the end it yields zeros.
pub struct Program<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Program<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Program { data, pos: 0 }
    }
    pub fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    pub fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }
    /// Up to `max` bytes of the program itself.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = (self.u8() as usize).min(max);
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = start + n;
        &self.data[start..end]
    }
}

/// How an out-parameter is passed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OutMode {
    Valid,
    Null,
    Misaligned,
}

/// A handle argument and what the model expects of it.
#[derive(Clone, Copy, Debug)]
struct Pick {
    handle: u64,
    /// Index into the live list of the wanted kind, if the handle is live and of that kind.
    live: Option<usize>,
}

/// How a call went, after the checks every call with out-parameters shares.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Outcome {
    /// It was an armed panic: it had no effect.
    Injected,
    /// An out-parameter was NULL or misaligned, and the call refused it.
    BadOut,
    /// It ran with good out-parameters.
    Ran,
}

/// The interpreter: the handles it holds, by kind, and what it expects of them.
pub struct Interp {
    live: [Vec<u64>; OFFHEAP_KIND_SLOTS],
    stale: Vec<u64>,
    poisoned: Vec<u64>,
    armed: u32,
    /// The next call may report PANIC on its own (a requested panic under a lease).
    panic_allowed: bool,
    socks: Vec<UnixStream>,
    ready_fds: Vec<OwnedFd>,
    /// The input, a complete request head and the header records of a successful parse.
    last_head: Option<(Vec<u8>, offheap_head, Vec<offheap_header>)>,
    /// The bytes of the last window export (for imports).
    last_export: Vec<u8>,
    /// 8-aligned scratch for misaligned out-parameters.
    scratch: [u64; 8],
    pub calls: u64,
}

/// Formats a status for assertion messages.
fn status_name(st: offheap_status) -> String {
    // SAFETY: offheap_status_str returns a static NUL-terminated string, never NULL.
    let s = unsafe { CStr::from_ptr(offheap_status_str(st as u32)) };
    format!("{st:?} ({})", s.to_string_lossy())
}

/// `p`, or NULL when the program chose NULL.
fn or_null<T>(null: bool, p: *const T) -> *const T {
    if null { std::ptr::null() } else { p }
}

/// `p`, or NULL when the program chose NULL.
fn or_null_mut<T>(null: bool, p: *mut T) -> *mut T {
    if null { std::ptr::null_mut() } else { p }
}

/// Option strings laid end to end, as the session and rewrite options take them (one byte
/// array, each string a span of it): the bytes, and each string's span, so the options are
/// built from the strings rather than from counted offsets.
fn packed<const N: usize>(parts: [&str; N]) -> (Vec<u8>, [offheap_span; N]) {
    let mut bytes = Vec::new();
    let spans = parts.map(|s| {
        let off = bytes.len() as u32;
        bytes.extend_from_slice(s.as_bytes());
        offheap_span {
            off,
            len: s.len() as u32,
        }
    });
    (bytes, spans)
}

/// Asserts that a call that failed left an out-parameter as it was before the call. The C
/// structs have no `PartialEq`; their `Debug` forms name and show every field.
fn assert_untouched<T: Debug>(now: &T, before: &T, what: &str) {
    assert_eq!(format!("{now:?}"), format!("{before:?}"), "{what}");
}

impl Interp {
    pub fn new() -> Self {
        let mut socks = Vec::new();
        for _ in 0..2 {
            let (a, b) = UnixStream::pair().expect("socketpair");
            a.set_nonblocking(true).unwrap();
            b.set_nonblocking(true).unwrap();
            socks.push(a);
            socks.push(b);
        }
        Interp {
            live: Default::default(),
            stale: Vec::new(),
            poisoned: Vec::new(),
            armed: 0,
            panic_allowed: false,
            socks,
            ready_fds: Vec::new(),
            last_export: Vec::new(),
            last_head: None,
            scratch: [0; 8],
            calls: 0,
        }
    }

    /// Accounts for an armed injected panic: returns true (and checks the call said PANIC)
    /// when this call was one of the armed ones, so it had no effect.
    fn injected(&mut self, st: offheap_status) -> bool {
        self.calls += 1;
        if self.armed > 0 {
            self.armed -= 1;
            assert_eq!(
                st,
                offheap_status::Panic,
                "armed panic not reported: {}",
                status_name(st)
            );
            return true;
        }
        assert!(
            st != offheap_status::Panic || self.panic_allowed,
            "unexpected panic at the boundary"
        );
        self.panic_allowed = false;
        false
    }

    fn out_mode(&self, p: &mut Program) -> OutMode {
        match p.u8() % 16 {
            0 => OutMode::Null,
            1 => OutMode::Misaligned,
            _ => OutMode::Valid,
        }
    }

    /// A pointer for an out-parameter of type T: `valid` itself, NULL or misaligned.
    fn out_ptr<T>(&mut self, mode: OutMode, valid: &mut T) -> *mut T {
        match mode {
            OutMode::Valid => valid,
            OutMode::Null => std::ptr::null_mut(),
            OutMode::Misaligned if align_of::<T>() > 1 => {
                (self.scratch.as_mut_ptr() as *mut u8).wrapping_add(1) as *mut T
            }
            OutMode::Misaligned => valid,
        }
    }

    /// The status a call with these out-parameter modes must fail with, if any.
    fn out_failure(modes: &[(OutMode, usize)]) -> Option<offheap_status> {
        for &(m, align) in modes {
            match m {
                OutMode::Null => return Some(offheap_status::NullPointer),
                OutMode::Misaligned if align > 1 => return Some(offheap_status::MisalignedPointer),
                _ => {}
            }
        }
        None
    }

    fn pick(&mut self, p: &mut Program, kind: usize) -> Pick {
        let sel = p.u8();
        let handle = match sel % 8 {
            0 => 0,
            1 => p.u64(),
            2 => {
                let other = KINDS[(sel as usize / 8) % KINDS.len()];
                let l = &self.live[other];
                if l.is_empty() {
                    0
                } else {
                    l[(sel as usize / 32) % l.len()]
                }
            }
            3 => {
                if self.stale.is_empty() {
                    0
                } else {
                    self.stale[(sel as usize / 8) % self.stale.len()]
                }
            }
            _ => {
                let l = &self.live[kind];
                if l.is_empty() {
                    0
                } else {
                    l[(sel as usize / 8) % l.len()]
                }
            }
        };
        Pick {
            handle,
            live: self.live[kind].iter().position(|&h| h == handle),
        }
    }

    /// Whether `h` is live under any kind (a random u64 that happens to name a live object).
    fn is_live_anywhere(&self, h: u64) -> bool {
        KINDS.iter().any(|&k| self.live[k].contains(&h))
    }

    fn fd(&self, p: &mut Program) -> (i32, bool) {
        match p.u8() % 8 {
            0 => (-1, false),
            1 => (CLOSED_FD, true),
            k => (
                self.socks[(k as usize - 2) % self.socks.len()].as_raw_fd(),
                true,
            ),
        }
    }

    /// Checks a call that took `pick`: a handle that is not live with the wanted kind (zero,
    /// random, stale, or live with another kind) never succeeds, and fails only with
    /// INVALID_HANDLE or an argument error checked before it.
    fn check_pick(&self, pick: Pick, st: offheap_status, what: &str) {
        if pick.live.is_none() {
            assert!(
                [
                    offheap_status::InvalidHandle,
                    offheap_status::NullPointer,
                    offheap_status::MisalignedPointer,
                    offheap_status::InvalidArgument,
                    offheap_status::TooLarge
                ]
                .contains(&st),
                "{what} on a bad handle {:#x}: {}",
                pick.handle,
                status_name(st)
            );
        }
    }

    /// The checks every call with out-parameters shares (`modes`: how each was passed, and
    /// the alignment it needs): an armed panic said PANIC and had no effect, and a NULL or
    /// misaligned out-parameter was refused with its status.
    fn check_outs(&mut self, st: offheap_status, modes: &[(OutMode, usize)]) -> Outcome {
        if self.injected(st) {
            return Outcome::Injected;
        }
        match Self::out_failure(modes) {
            Some(want) => {
                assert_eq!(st, want, "a call with out-parameters {modes:?}");
                Outcome::BadOut
            }
            None => Outcome::Ran,
        }
    }

    /// [`Self::check_outs`], then, when the call ran, [`Self::check_pick`].
    fn check_call(
        &mut self,
        pick: Pick,
        st: offheap_status,
        modes: &[(OutMode, usize)],
        what: &str,
    ) -> Outcome {
        let outcome = self.check_outs(st, modes);
        if outcome == Outcome::Ran {
            self.check_pick(pick, st, what);
        }
        outcome
    }

    fn add(&mut self, kind: usize, h: u64) {
        assert_ne!(h, 0, "a new handle is never zero");
        assert!(
            !self.is_live_anywhere(h) && !self.stale.contains(&h),
            "handle {h:#x} reused"
        );
        self.live[kind].push(h);
    }

    fn remove(&mut self, kind: usize, idx: usize) {
        let h = self.live[kind].swap_remove(idx);
        self.poisoned.retain(|&x| x != h);
        if self.stale.len() < 64 {
            self.stale.push(h);
        }
    }

    /// Runs one operation chosen by the program.
    pub fn step(&mut self, p: &mut Program) {
        let op = p.u8();
        if std::env::var_os("OFFHEAP_FUZZ_TRACE").is_some() {
            eprintln!(
                "op {} armed {} live {:?}",
                op % 35,
                self.armed,
                KINDS.map(|k| self.live[k].len())
            );
        }
        match op % 35 {
            0 => self.op_new(p, DEBUG),
            1 => self.op_new(p, BUFFER),
            2 => self.op_new(p, RELAY),
            3 => self.op_new(p, ENGINE),
            4 => self.op_free(p, DEBUG),
            5 => self.op_free(p, BUFFER),
            6 => self.op_free(p, RELAY),
            7 => self.op_free(p, ENGINE),
            8 => self.op_touch(p),
            9 => self.op_slices(p),
            10 => self.op_stats(p),
            11 => self.op_inject(p),
            12 => self.op_relay_reset(p),
            13 => self.op_relay_step(p),
            14 => self.op_relay_abort(p),
            15 => self.op_buffer_read(p),
            16 => self.op_buffer_view_consume(p),
            17 => self.op_writev(p),
            18 => self.op_engine_submit(p),
            19 => self.op_engine_poll(p),
            20 => self.op_engine_misc(p),
            21 => self.op_socket_io(p),
            22 => self.op_versions(p),
            23 => self.op_relay_globals(p),
            24 => self.op_new(p, AGGREGATOR),
            25 => self.op_new(p, SNAPSHOT),
            26 => {
                let kind = [AGGREGATOR, SNAPSHOT][usize::from(p.u8() % 2)];
                self.op_free(p, kind)
            }
            27 => self.op_window_ingest(p),
            28 => self.op_window_maintain(p),
            29 => self.op_window_snapshot(p),
            30 => self.op_window_prometheus(p),
            31 => self.op_window_export_import(p),
            32 => self.op_headers_parse(p),
            33 => self.op_headers_rewrite(p),
            _ => self.op_buffer_fill(p),
        }
    }

    fn op_new(&mut self, p: &mut Program, kind: usize) {
        let mode = self.out_mode(p);
        let mut out = 0xdead_beef_u64;
        let cap = if kind == ENGINE {
            MAX_ENGINES
        } else {
            MAX_LIVE
        };
        if self.live[kind].len() >= cap {
            return;
        }
        let ptr = self.out_ptr(mode, &mut out);
        // SAFETY: `ptr` is NULL, misaligned (both rejected before use) or points to `out`,
        // which outlives the call: what every `_new` (and the readers that call one) needs.
        let (st, bad_args) = unsafe {
            match kind {
                DEBUG => (offheap_debug_object_new(ptr), false),
                BUFFER => (offheap_buffer_new(ptr), false),
                RELAY => relay::new_relay(p, ptr),
                AGGREGATOR => window::new_aggregator(p, ptr),
                SNAPSHOT => (offheap_snapshot_new(ptr), false),
                _ => engine::new_engine(p, ptr),
            }
        };
        if self.injected(st) {
            assert_eq!(out, 0xdead_beef);
            return;
        }
        if let Some(want) = Self::out_failure(&[(mode, 8)]) {
            assert_eq!(st, want, "new with a {mode:?} out-parameter");
        }
        if st == offheap_status::Ok {
            assert!(!bad_args, "new accepted bad arguments");
            self.add(kind, out);
        } else {
            assert_eq!(out, 0xdead_beef, "out-parameter written on failure");
            if mode == OutMode::Valid {
                assert!(bad_args, "new failed: {}", status_name(st));
                if kind != AGGREGATOR {
                    assert_eq!(st, offheap_status::InvalidArgument);
                }
            }
        }
    }

    fn op_free(&mut self, p: &mut Program, kind: usize) {
        let pick = self.pick(p, kind);
        let st = free(kind, pick.handle);
        if self.injected(st) {
            return;
        }
        match pick.live {
            Some(i) => {
                assert_eq!(st, offheap_status::Ok, "free of a live handle");
                self.remove(kind, i);
            }
            None => {
                if self.is_live_anywhere(pick.handle) {
                    assert_eq!(
                        st,
                        offheap_status::InvalidHandle,
                        "free of a live handle of another kind"
                    );
                } else {
                    assert_eq!(st, offheap_status::InvalidHandle, "free of a bad handle");
                }
            }
        }
    }

    fn op_socket_io(&mut self, p: &mut Program) {
        let k = usize::from(p.u8()) % self.socks.len();
        let data = p.bytes(255);
        match p.u8() % 4 {
            0 | 1 => {
                // send(2) with MSG_NOSIGNAL, not write(2): a socket shut down (by this program
                // or its peer) then fails with EPIPE instead of raising SIGPIPE, which is a
                // finding only when the library raises it (see baseline.rs).
                // SAFETY: `data` is a live slice of `data.len()` bytes for the call, which only
                // reads it; the fd is that of `socks[k]`, open while `self` holds it.
                let _ = unsafe {
                    libc::send(
                        self.socks[k].as_raw_fd(),
                        data.as_ptr().cast(),
                        data.len(),
                        libc::MSG_NOSIGNAL,
                    )
                };
            }
            2 => {
                let mut buf = [0u8; 512];
                let _ = self.socks[k].read(&mut buf);
            }
            _ => {
                let how =
                    [std::net::Shutdown::Write, std::net::Shutdown::Read][usize::from(p.u8() % 2)];
                let _ = self.socks[k].shutdown(how);
            }
        }
    }

    /// Disarms injected panics and frees every live object (poisoned ones too).
    pub fn free_all(&mut self) {
        offheap_debug_inject_panics(0);
        self.armed = 0;
        for k in KINDS {
            while let Some(h) = self.live[k].pop() {
                let st = free(k, h);
                assert_eq!(
                    st,
                    offheap_status::Ok,
                    "freeing live handle {h:#x} of kind {k}"
                );
                self.stale.push(h);
            }
        }
        // Freed handles stay invalid.
        for &h in &self.stale {
            assert_eq!(offheap_debug_object_free(h), offheap_status::InvalidHandle);
        }
        self.poisoned.clear();
        self.ready_fds.clear();
        self.socks.clear();
        assert_eq!(offheap_relay_trim(), offheap_status::Ok);
    }
}

impl Default for Interp {
    fn default() -> Self {
        Self::new()
    }
}

/// The `offheap_<kind>_free` of an object kind, called with any handle value.
fn free(kind: usize, h: u64) -> offheap_status {
    match kind {
        DEBUG => offheap_debug_object_free(h),
        BUFFER => offheap_buffer_free(h),
        RELAY => offheap_relay_free(h),
        AGGREGATOR => offheap_aggregator_free(h),
        SNAPSHOT => offheap_snapshot_free(h),
        _ => offheap_engine_free(h),
    }
}

/// The number of open fds of this process (the listing's own fd included, as at the baseline).
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}
