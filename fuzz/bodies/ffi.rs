// Body of the `ffi` fuzz target, shared by fuzz/fuzz_targets/ffi.rs (libFuzzer) and
// tests/fuzz_smoke.rs (`make test`). A byte-driven interpreter: each input is a program of
// calls to every export of include/offheap.h (debug objects, relays on socketpairs, Rust
// buffers, relay engines, stats, injected panics), with live, zero, random, stale and
// wrong-kind handles, NULL and misaligned pointers, NULL with lengths, random lengths,
// negative and closed fds. It keeps a model of what must hold and asserts it after every
// call:
// - a bad handle never succeeds; a NULL out-parameter gives NULL_POINTER, a misaligned one
//   MISALIGNED_POINTER; a failed call leaves its out-parameters untouched;
// - an armed injected panic turns exactly the next calls into PANIC (or their defaults);
// - a debug object poisoned by a panic under its lease answers POISONED until freed;
// - `offheap_stats` counts exactly the live handles of each kind the model holds.
// At the end it frees everything, closes its fds, trims the pools and asserts that live
// handles, the Rust heap (bytes), relay pipes and buffers and the process's open fds are all
// back to their baseline.
//
// The exports are declared here as C declares them; `use offheap as _` links the library.

use std::ffi::{CStr, c_char};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use offheap as _;

pub const OK: u32 = 0;
pub const PANIC: u32 = 1;
pub const INVALID_HANDLE: u32 = 2;
pub const NULL_POINTER: u32 = 3;
pub const INVALID_ARGUMENT: u32 = 4;
pub const MISALIGNED: u32 = 5;
pub const TOO_LARGE: u32 = 6;
pub const POISONED: u32 = 7;

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Counters {
    pub heap_live_bytes: u64,
    pub heap_peak_bytes: u64,
    pub heap_allocations: u64,
    pub heap_frees: u64,
    pub handles_live: u64,
    pub handles_by_kind: [u64; 16],
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct RelayProgress {
    pub state: u32,
    pub os_errno: i32,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub spliced: u64,
    pub copied: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct RelayCounters {
    pub relays_started: u64,
    pub relays_done: u64,
    pub relays_failed: u64,
    pub bytes_spliced: u64,
    pub bytes_copied: u64,
    pub pipes_created: u64,
    pub pipes_live: u64,
    pub buffers_live: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Completion {
    pub id: u64,
    pub bytes_forward: u64,
    pub bytes_backward: u64,
    pub spliced: u64,
    pub copied: u64,
    pub status: u32,
    pub os_errno: i32,
}

unsafe extern "C" {
    pub fn offheap_version() -> u32;
    pub fn offheap_version_str() -> *const c_char;
    pub fn offheap_abi_version() -> u32;
    pub fn offheap_stats(out: *mut Counters) -> u32;
    pub fn offheap_status_str(status: u32) -> *const c_char;
    pub fn offheap_debug_inject_panics(count: u32);
    pub fn offheap_debug_object_new(out: *mut u64) -> u32;
    pub fn offheap_debug_object_touch(object: u64, spin: u32, out: *mut u64) -> u32;
    pub fn offheap_debug_object_free(object: u64) -> u32;
    pub fn offheap_debug_sum(data: *const u8, len: usize, out: *mut u64) -> u32;
    pub fn offheap_debug_fill(dst: *mut u8, len: usize, value: u8) -> u32;
    pub fn offheap_relay_new(framing: u32, length: u64, flags: u32, out: *mut u64) -> u32;
    pub fn offheap_relay_reset(relay: u64, framing: u32, length: u64, flags: u32) -> u32;
    pub fn offheap_relay_step(relay: u64, src: i32, dst: i32, out: *mut RelayProgress) -> u32;
    pub fn offheap_relay_abort(relay: u64, status: u32) -> u32;
    pub fn offheap_relay_free(relay: u64) -> u32;
    pub fn offheap_relay_global_stats(out: *mut RelayCounters) -> u32;
    pub fn offheap_relay_trim() -> u32;
    pub fn offheap_buffer_new(out: *mut u64) -> u32;
    pub fn offheap_buffer_free(buffer: u64) -> u32;
    pub fn offheap_buffer_read(buffer: u64, fd: i32, out_n: *mut usize, out_state: *mut u32)
    -> u32;
    pub fn offheap_buffer_view(buffer: u64, out_ptr: *mut *const u8, out_len: *mut usize) -> u32;
    pub fn offheap_buffer_consume(buffer: u64, n: usize) -> u32;
    pub fn offheap_buffer_writev(
        fd: i32,
        buffers: *const u64,
        count: usize,
        out_n: *mut usize,
        out_state: *mut u32,
    ) -> u32;
    pub fn offheap_engine_new(workers: u32, max_jobs: u32, out: *mut u64) -> u32;
    pub fn offheap_engine_ready_fd(engine: u64, out_fd: *mut i32) -> u32;
    pub fn offheap_engine_submit(
        engine: u64,
        id: u64,
        fd_a: i32,
        fd_b: i32,
        framing: u32,
        length: u64,
        flags: u32,
    ) -> u32;
    pub fn offheap_engine_cancel(engine: u64, id: u64) -> u32;
    pub fn offheap_engine_poll(
        engine: u64,
        out: *mut Completion,
        cap: usize,
        out_n: *mut usize,
    ) -> u32;
    pub fn offheap_engine_in_flight(engine: u64, out: *mut u64) -> u32;
    pub fn offheap_engine_free(engine: u64) -> u32;
}

/// Object kinds, as `offheap_kind` numbers them.
pub const DEBUG: usize = 1;
pub const BUFFER: usize = 4;
pub const RELAY: usize = 5;
pub const ENGINE: usize = 6;
const KINDS: [usize; 4] = [DEBUG, BUFFER, RELAY, ENGINE];
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

pub struct Interp {
    live: [Vec<u64>; 16],
    stale: Vec<u64>,
    poisoned: Vec<u64>,
    armed: u32,
    /// The next call may report PANIC on its own (a requested panic under a lease).
    panic_allowed: bool,
    socks: Vec<UnixStream>,
    ready_fds: Vec<OwnedFd>,
    /// 8-aligned scratch for misaligned out-parameters.
    scratch: [u64; 8],
    pub calls: u64,
}

/// Formats a status for assertion messages.
pub fn status_name(st: u32) -> String {
    // SAFETY: offheap_status_str returns a static NUL-terminated string.
    let s = unsafe { CStr::from_ptr(offheap_status_str(st)) };
    format!("{st} ({})", s.to_string_lossy())
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
            scratch: [0; 8],
            calls: 0,
        }
    }

    /// Accounts for an armed injected panic: returns true (and checks the call said PANIC)
    /// when this call was one of the armed ones, so it had no effect.
    fn injected(&mut self, st: u32) -> bool {
        self.calls += 1;
        if self.armed > 0 {
            self.armed -= 1;
            assert_eq!(st, PANIC, "armed panic not reported: {}", status_name(st));
            return true;
        }
        assert!(
            st != PANIC || self.panic_allowed,
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
    fn out_failure(modes: &[(OutMode, usize)]) -> Option<u32> {
        for &(m, align) in modes {
            match m {
                OutMode::Null => return Some(NULL_POINTER),
                OutMode::Misaligned if align > 1 => return Some(MISALIGNED),
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
    fn check_pick(&self, pick: Pick, st: u32, what: &str) {
        if pick.live.is_none() {
            assert!(
                [
                    INVALID_HANDLE,
                    NULL_POINTER,
                    MISALIGNED,
                    INVALID_ARGUMENT,
                    TOO_LARGE
                ]
                .contains(&st),
                "{what} on a bad handle {:#x}: {}",
                pick.handle,
                status_name(st)
            );
        }
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
                op % 24,
                self.armed,
                KINDS.map(|k| self.live[k].len())
            );
        }
        match op % 24 {
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
            _ => self.op_relay_globals(p),
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
        let (mut framing, mut length, mut flags, mut workers, mut jobs) = (0, 0, 0, 1, 1);
        match kind {
            RELAY => {
                framing = match p.u8() % 6 {
                    k @ 0..=3 => u32::from(k),
                    4 => 0xffff_ffff,
                    _ => p.u32(),
                };
                length = p.u64() >> (p.u8() % 64);
                flags = if p.u8().is_multiple_of(4) {
                    p.u32()
                } else {
                    u32::from(p.u8() % 4)
                };
            }
            ENGINE => {
                workers = [0, 1, 2, 65, u32::MAX][p.u8() as usize % 5];
                jobs = [0, 1, 4, 64, u32::MAX][p.u8() as usize % 5];
            }
            _ => {}
        }
        let ptr = self.out_ptr(mode, &mut out);
        // SAFETY: `ptr` is NULL, misaligned (rejected before use) or points to `out`.
        let st = unsafe {
            match kind {
                DEBUG => offheap_debug_object_new(ptr),
                BUFFER => offheap_buffer_new(ptr),
                RELAY => offheap_relay_new(framing, length, flags, ptr),
                _ => offheap_engine_new(workers, jobs, ptr),
            }
        };
        if self.injected(st) {
            assert_eq!(out, 0xdead_beef);
            return;
        }
        if let Some(want) = Self::out_failure(&[(mode, 8)]) {
            assert_eq!(st, want, "new with a {mode:?} out-parameter");
        }
        let bad_args = match kind {
            RELAY => framing > 3 || flags > 3,
            ENGINE => workers == 0 || workers > 64 || jobs == 0,
            _ => false,
        };
        if st == OK {
            assert!(!bad_args, "new accepted bad arguments");
            self.add(kind, out);
        } else {
            assert_eq!(out, 0xdead_beef, "out-parameter written on failure");
            if mode == OutMode::Valid {
                assert!(bad_args, "new failed: {}", status_name(st));
                assert_eq!(st, INVALID_ARGUMENT);
            }
        }
    }

    fn op_free(&mut self, p: &mut Program, kind: usize) {
        let pick = self.pick(p, kind);
        // SAFETY: any handle value may be passed.
        let st = unsafe {
            match kind {
                DEBUG => offheap_debug_object_free(pick.handle),
                BUFFER => offheap_buffer_free(pick.handle),
                RELAY => offheap_relay_free(pick.handle),
                _ => offheap_engine_free(pick.handle),
            }
        };
        if self.injected(st) {
            return;
        }
        match pick.live {
            Some(i) => {
                assert_eq!(st, OK, "free of a live handle");
                self.remove(kind, i);
            }
            None => {
                if self.is_live_anywhere(pick.handle) {
                    assert_eq!(st, INVALID_HANDLE, "free of a live handle of another kind");
                } else {
                    assert_eq!(st, INVALID_HANDLE, "free of a bad handle");
                }
            }
        }
    }

    fn op_touch(&mut self, p: &mut Program) {
        let pick = self.pick(p, DEBUG);
        let mode = self.out_mode(p);
        let spin = [0, 1, 100, u32::MAX][p.u8() as usize % 4];
        let mut out = 7u64;
        let ptr = self.out_ptr(mode, &mut out);
        // SAFETY: `ptr` is NULL, misaligned or points to `out`.
        let st = unsafe { offheap_debug_object_touch(pick.handle, spin, ptr) };
        self.panic_allowed = spin == u32::MAX;
        if self.injected(st) {
            return;
        }
        if st != OK {
            assert_eq!(out, 7, "out-parameter written on failure");
        }
        if let Some(want) = Self::out_failure(&[(mode, 8)]) {
            assert_eq!(st, want);
            return;
        }
        self.check_pick(pick, st, "touch");
        if pick.live.is_some() {
            if self.poisoned.contains(&pick.handle) {
                assert_eq!(st, POISONED, "touch of a poisoned object");
            } else if spin == u32::MAX {
                assert_eq!(st, PANIC, "a panic under a lease");
                self.poisoned.push(pick.handle);
            } else {
                assert_eq!(st, OK, "touch: {}", status_name(st));
            }
        }
    }

    fn op_slices(&mut self, p: &mut Program) {
        let bytes = p.bytes(200);
        let len_sel = p.u8();
        let null = len_sel.is_multiple_of(4);
        let len = if null {
            usize::from(len_sel / 4)
        } else {
            usize::from(len_sel) % (bytes.len() + 1)
        };
        let mode = self.out_mode(p);
        let mut out = 9u64;
        let data = if null {
            std::ptr::null()
        } else {
            bytes.as_ptr()
        };
        let ptr = self.out_ptr(mode, &mut out);
        // SAFETY: `data` is NULL or valid for `len` (≤ bytes.len()) bytes; `ptr` as above.
        let st = unsafe { offheap_debug_sum(data, len, ptr) };
        if !self.injected(st) {
            if let Some(want) = Self::out_failure(&[(mode, 8)]) {
                assert_eq!(st, want);
                assert_eq!(out, 9);
            } else if null && len > 0 {
                assert_eq!(st, NULL_POINTER);
                assert_eq!(out, 9);
            } else {
                assert_eq!(st, OK);
                let want: u64 = if null {
                    0
                } else {
                    bytes[..len].iter().map(|&b| u64::from(b)).sum()
                };
                assert_eq!(out, want);
            }
        }
        let mut dst = [0x55u8; 64];
        let fill_len = usize::from(p.u8()) % 65;
        let value = p.u8();
        let null = p.u8().is_multiple_of(4);
        let dptr = if null {
            std::ptr::null_mut()
        } else {
            dst.as_mut_ptr()
        };
        // SAFETY: `dptr` is NULL or valid for `fill_len` (≤ 64) bytes.
        let st = unsafe { offheap_debug_fill(dptr, fill_len, value) };
        if !self.injected(st) {
            if null && fill_len > 0 {
                assert_eq!(st, NULL_POINTER);
            } else {
                assert_eq!(st, OK);
                let n = if null { 0 } else { fill_len };
                assert!(
                    dst[..n].iter().all(|&b| b == value) && dst[n..].iter().all(|&b| b == 0x55)
                );
            }
        }
    }

    pub fn stats(&mut self) -> Option<Counters> {
        let mut c = Counters::default();
        // SAFETY: `c` is a valid offheap_counters.
        let st = unsafe { offheap_stats(&mut c) };
        if self.injected(st) {
            return None;
        }
        assert_eq!(st, OK);
        Some(c)
    }

    fn op_stats(&mut self, p: &mut Program) {
        let mode = self.out_mode(p);
        let mut c = Counters::default();
        let ptr = self.out_ptr(mode, &mut c);
        // SAFETY: NULL, misaligned or valid.
        let st = unsafe { offheap_stats(ptr) };
        if self.injected(st) {
            return;
        }
        if let Some(want) = Self::out_failure(&[(mode, 8)]) {
            assert_eq!(st, want);
            assert_eq!(c, Counters::default());
            return;
        }
        assert_eq!(st, OK);
        assert!(c.heap_peak_bytes >= c.heap_live_bytes);
        assert_eq!(c.handles_live, c.handles_by_kind.iter().sum::<u64>());
    }

    /// Checks the per-kind handle counts against the model (`base` is the count before the
    /// program started).
    pub fn check_counts(&mut self, base: &Counters) {
        let Some(c) = self.stats() else { return };
        for k in KINDS {
            assert_eq!(
                c.handles_by_kind[k],
                base.handles_by_kind[k] + self.live[k].len() as u64,
                "live handles of kind {k}"
            );
        }
    }

    fn op_inject(&mut self, p: &mut Program) {
        let n = u32::from(p.u8() % 4);
        // SAFETY: no pointers.
        unsafe { offheap_debug_inject_panics(n) };
        self.armed = n;
    }

    fn relay_args(p: &mut Program) -> (u32, u64, u32) {
        let framing = if p.u8().is_multiple_of(8) {
            p.u32()
        } else {
            u32::from(p.u8() % 4)
        };
        let length = u64::from(p.u32() % 4096);
        let flags = if p.u8().is_multiple_of(8) {
            p.u32()
        } else {
            u32::from(p.u8() % 4)
        };
        (framing, length, flags)
    }

    fn op_relay_reset(&mut self, p: &mut Program) {
        let pick = self.pick(p, RELAY);
        let (framing, length, flags) = Self::relay_args(p);
        // SAFETY: no pointers.
        let st = unsafe { offheap_relay_reset(pick.handle, framing, length, flags) };
        if self.injected(st) {
            return;
        }
        self.check_pick(pick, st, "relay_reset");
        if pick.live.is_some() {
            let bad = framing > 3 || flags > 3;
            assert_eq!(st, if bad { INVALID_ARGUMENT } else { OK });
        }
    }

    fn op_relay_step(&mut self, p: &mut Program) {
        let pick = self.pick(p, RELAY);
        let (src, src_ok) = self.fd(p);
        let (dst, dst_ok) = self.fd(p);
        let mode = self.out_mode(p);
        let sentinel = RelayProgress {
            state: 77,
            ..Default::default()
        };
        let mut out = sentinel;
        let ptr = self.out_ptr(mode, &mut out);
        // SAFETY: the fds are open sockets, -1 or never open; `ptr` NULL, misaligned or valid.
        let st = unsafe { offheap_relay_step(pick.handle, src, dst, ptr) };
        if self.injected(st) {
            return;
        }
        if st != OK {
            assert_eq!(out, sentinel, "out-parameter written on failure");
        }
        if let Some(want) = Self::out_failure(&[(mode, 8)]) {
            assert_eq!(st, want);
            return;
        }
        if !src_ok || !dst_ok {
            assert_eq!(st, INVALID_ARGUMENT, "negative fd");
            return;
        }
        self.check_pick(pick, st, "relay_step");
        if st == OK {
            assert!(out.state <= 2);
            assert_eq!(out.bytes_out, out.spliced + out.copied);
        }
    }

    fn op_relay_abort(&mut self, p: &mut Program) {
        let pick = self.pick(p, RELAY);
        let status = if p.u8().is_multiple_of(2) {
            p.u32()
        } else {
            200 + u32::from(p.u8() % 16)
        };
        // SAFETY: no pointers.
        let st = unsafe { offheap_relay_abort(pick.handle, status) };
        if self.injected(st) {
            return;
        }
        self.check_pick(pick, st, "relay_abort");
        if pick.live.is_some() {
            assert_eq!(st, OK);
        }
    }

    fn op_buffer_read(&mut self, p: &mut Program) {
        let pick = self.pick(p, BUFFER);
        let (fd, fd_ok) = self.fd(p);
        let (m1, m2) = (self.out_mode(p), self.out_mode(p));
        let (mut n, mut state) = (usize::MAX, 99u32);
        let pn = self.out_ptr(m1, &mut n);
        let ps = self.out_ptr(m2, &mut state);
        // SAFETY: fd open, -1 or never open; out-parameters NULL, misaligned or valid.
        let st = unsafe { offheap_buffer_read(pick.handle, fd, pn, ps) };
        if self.injected(st) {
            return;
        }
        if st != OK {
            assert_eq!(
                (n, state),
                (usize::MAX, 99),
                "out-parameters written on failure"
            );
        }
        if let Some(want) = Self::out_failure(&[(m1, 8), (m2, 4)]) {
            assert_eq!(st, want);
            return;
        }
        if !fd_ok {
            assert_eq!(st, INVALID_ARGUMENT);
            return;
        }
        self.check_pick(pick, st, "buffer_read");
        if st == OK {
            assert!(n <= 65536 && (state == 0 || state == 2));
        }
    }

    fn op_buffer_view_consume(&mut self, p: &mut Program) {
        let pick = self.pick(p, BUFFER);
        let (m1, m2) = (self.out_mode(p), self.out_mode(p));
        let sentinel = 0x1000 as *const u8;
        let (mut ptr, mut len) = (sentinel, 12345usize);
        let pp = self.out_ptr(m1, &mut ptr);
        let pl = self.out_ptr(m2, &mut len);
        // SAFETY: out-parameters NULL, misaligned or valid.
        let st = unsafe { offheap_buffer_view(pick.handle, pp, pl) };
        if !self.injected(st) {
            if st != OK {
                assert_eq!(
                    (ptr, len),
                    (sentinel, 12345),
                    "out-parameters written on failure"
                );
            }
            if let Some(want) = Self::out_failure(&[(m1, 8), (m2, 8)]) {
                assert_eq!(st, want);
            } else {
                self.check_pick(pick, st, "buffer_view");
                if st == OK {
                    assert!(len <= 65536);
                    if len == 0 {
                        assert!(ptr.is_null());
                    } else {
                        // SAFETY: the view is valid until the next consume/writev/free of this
                        // buffer; nothing runs in between. Reading it all lets ASan check it.
                        let view = unsafe { std::slice::from_raw_parts(ptr, len) };
                        std::hint::black_box(view.iter().fold(0u8, |a, &b| a ^ b));
                    }
                }
            }
        }
        let pick = self.pick(p, BUFFER);
        let n = match p.u8() % 4 {
            0 => usize::MAX,
            _ => usize::from(p.u8()) * 16,
        };
        // SAFETY: no pointers.
        let st = unsafe { offheap_buffer_consume(pick.handle, n) };
        if !self.injected(st) {
            self.check_pick(pick, st, "buffer_consume");
            if pick.live.is_some() {
                assert_eq!(st, OK);
            }
        }
    }

    fn op_writev(&mut self, p: &mut Program) {
        let count = usize::from(p.u8()) % 21;
        let mut ids = [0u64; 20];
        let mut all_live = true;
        for id in ids.iter_mut().take(count) {
            let pick = self.pick(p, BUFFER);
            all_live &= pick.live.is_some();
            *id = pick.handle;
        }
        let null = p.u8().is_multiple_of(8);
        let (fd, fd_ok) = self.fd(p);
        let (m1, m2) = (self.out_mode(p), self.out_mode(p));
        let (mut n, mut state) = (usize::MAX, 99u32);
        let pn = self.out_ptr(m1, &mut n);
        let ps = self.out_ptr(m2, &mut state);
        let arr = if null { std::ptr::null() } else { ids.as_ptr() };
        // SAFETY: `arr` NULL or valid for `count` (≤ 20) handles; fd open, -1 or never open.
        let st = unsafe { offheap_buffer_writev(fd, arr, count, pn, ps) };
        if self.injected(st) {
            return;
        }
        if st != OK {
            assert_eq!(
                (n, state),
                (usize::MAX, 99),
                "out-parameters written on failure"
            );
        }
        if let Some(want) = Self::out_failure(&[(m1, 8), (m2, 4)]) {
            assert_eq!(st, want);
            return;
        }
        if null && count > 0 {
            assert_eq!(st, NULL_POINTER);
            return;
        }
        if count > 16 {
            assert_eq!(st, TOO_LARGE);
            return;
        }
        if !fd_ok {
            assert_eq!(st, INVALID_ARGUMENT);
            return;
        }
        let dup = (1..count).any(|i| ids[..i].contains(&ids[i]));
        if !all_live {
            assert_ne!(st, OK, "writev with a bad handle");
        } else if dup {
            assert_eq!(st, INVALID_ARGUMENT, "writev naming a buffer twice");
        }
        if st == OK {
            assert!(state == 1 || state == 2);
        }
    }

    fn op_engine_submit(&mut self, p: &mut Program) {
        let pick = self.pick(p, ENGINE);
        let id = u64::from(p.u8());
        let (a, a_ok) = self.fd(p);
        let (b, b_ok) = self.fd(p);
        let framing = match p.u8() % 6 {
            k @ 0..=3 => u32::from(k),
            4 => 0xffff_ffff,
            _ => p.u32(),
        };
        let length = u64::from(p.u32() % 8192);
        let flags = u32::from(p.u8() % 5);
        // SAFETY: the fds are open sockets, -1 or never open.
        let st = unsafe { offheap_engine_submit(pick.handle, id, a, b, framing, length, flags) };
        if self.injected(st) {
            return;
        }
        if !a_ok || !b_ok {
            assert_eq!(st, INVALID_ARGUMENT);
            return;
        }
        self.check_pick(pick, st, "engine_submit");
    }

    fn op_engine_poll(&mut self, p: &mut Program) {
        let pick = self.pick(p, ENGINE);
        let cap = usize::from(p.u8() % 10);
        let null = p.u8().is_multiple_of(8);
        let mode = self.out_mode(p);
        let mut comps = [Completion {
            id: 1234,
            ..Default::default()
        }; 9];
        let mut n = usize::MAX;
        let pn = self.out_ptr(mode, &mut n);
        let arr = if null {
            std::ptr::null_mut()
        } else {
            comps.as_mut_ptr()
        };
        // SAFETY: `arr` NULL or valid for `cap` (≤ 9) completions; `pn` NULL, misaligned or valid.
        let st = unsafe { offheap_engine_poll(pick.handle, arr, cap, pn) };
        if self.injected(st) {
            return;
        }
        if st != OK {
            assert_eq!(n, usize::MAX);
            assert!(
                comps.iter().all(|c| c.id == 1234),
                "completions written on failure"
            );
        }
        if null && cap > 0 {
            assert_eq!(st, NULL_POINTER);
            return;
        }
        if let Some(want) = Self::out_failure(&[(mode, 8)]) {
            assert_eq!(st, want);
            return;
        }
        self.check_pick(pick, st, "engine_poll");
        if st == OK {
            assert!(n <= cap);
            assert!(comps[n..].iter().all(|c| c.id == 1234), "written past n");
            for c in &comps[..n] {
                assert!(c.id < 256 && c.status != PANIC);
            }
        }
    }

    fn op_engine_misc(&mut self, p: &mut Program) {
        let pick = self.pick(p, ENGINE);
        let mode = self.out_mode(p);
        match p.u8() % 3 {
            0 => {
                // SAFETY: no pointers.
                let st = unsafe { offheap_engine_cancel(pick.handle, p.u64() % 300) };
                if !self.injected(st) {
                    self.check_pick(pick, st, "engine_cancel");
                    if pick.live.is_some() {
                        assert_eq!(st, OK);
                    }
                }
            }
            1 => {
                let mut n = u64::MAX;
                let ptr = self.out_ptr(mode, &mut n);
                // SAFETY: NULL, misaligned or valid.
                let st = unsafe { offheap_engine_in_flight(pick.handle, ptr) };
                if !self.injected(st) {
                    if let Some(want) = Self::out_failure(&[(mode, 8)]) {
                        assert_eq!(st, want);
                    } else {
                        self.check_pick(pick, st, "engine_in_flight");
                    }
                    if st != OK {
                        assert_eq!(n, u64::MAX);
                    }
                }
            }
            _ => {
                if self.ready_fds.len() >= 4 {
                    return;
                }
                let mut fd = -7i32;
                let ptr = self.out_ptr(mode, &mut fd);
                // SAFETY: NULL, misaligned or valid.
                let st = unsafe { offheap_engine_ready_fd(pick.handle, ptr) };
                if !self.injected(st) {
                    if let Some(want) = Self::out_failure(&[(mode, 4)]) {
                        assert_eq!(st, want);
                    } else {
                        self.check_pick(pick, st, "engine_ready_fd");
                    }
                    if st == OK {
                        assert!(fd >= 0);
                        // SAFETY: the call hands us a new fd that we own.
                        self.ready_fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                    } else {
                        assert_eq!(fd, -7);
                    }
                }
            }
        }
    }

    fn op_socket_io(&mut self, p: &mut Program) {
        let k = usize::from(p.u8()) % self.socks.len();
        let data = p.bytes(255);
        match p.u8() % 4 {
            0 | 1 => {
                let _ = self.socks[k].write(data);
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

    fn op_versions(&mut self, p: &mut Program) {
        let injected_default = self.armed > 0;
        // SAFETY: no arguments.
        let v = unsafe { offheap_version() };
        self.calls += 1;
        if injected_default {
            self.armed -= 1;
            assert_eq!(v, 0);
        } else {
            assert_ne!(v, 0);
        }
        let injected_default = self.armed > 0;
        // SAFETY: no arguments.
        let a = unsafe { offheap_abi_version() };
        if injected_default {
            self.armed -= 1;
            assert_eq!(a, 0);
        } else {
            assert_eq!(a, 1);
        }
        // SAFETY: no arguments; the result is a static NUL-terminated string.
        let s = unsafe { CStr::from_ptr(offheap_version_str()) };
        if self.armed > 0 {
            self.armed -= 1;
            assert!(s.is_empty());
        } else {
            assert!(!s.is_empty());
        }
        let st = p.u32();
        let armed = self.armed > 0;
        // SAFETY: the result is a static NUL-terminated string, never NULL.
        let msg = unsafe { CStr::from_ptr(offheap_status_str(st)) };
        if armed {
            self.armed -= 1;
        }
        assert!(!msg.is_empty());
    }

    fn op_relay_globals(&mut self, p: &mut Program) {
        let mode = self.out_mode(p);
        let mut c = RelayCounters {
            relays_started: 5,
            ..Default::default()
        };
        let ptr = self.out_ptr(mode, &mut c);
        // SAFETY: NULL, misaligned or valid.
        let st = unsafe { offheap_relay_global_stats(ptr) };
        if !self.injected(st) {
            if let Some(want) = Self::out_failure(&[(mode, 8)]) {
                assert_eq!(st, want);
                assert_eq!(c.relays_started, 5);
            } else {
                assert_eq!(st, OK);
                assert!(c.relays_done + c.relays_failed <= c.relays_started);
            }
        }
        if p.u8().is_multiple_of(4) {
            // SAFETY: no arguments.
            let st = unsafe { offheap_relay_trim() };
            if !self.injected(st) {
                assert_eq!(st, OK);
            }
        }
    }

    /// Disarms injected panics and frees every live object (poisoned ones too).
    pub fn free_all(&mut self) {
        // SAFETY: no pointers.
        unsafe { offheap_debug_inject_panics(0) };
        self.armed = 0;
        for k in KINDS {
            while let Some(h) = self.live[k].pop() {
                // SAFETY: any handle value may be passed.
                let st = unsafe {
                    match k {
                        DEBUG => offheap_debug_object_free(h),
                        BUFFER => offheap_buffer_free(h),
                        RELAY => offheap_relay_free(h),
                        _ => offheap_engine_free(h),
                    }
                };
                assert_eq!(st, OK, "freeing live handle {h:#x} of kind {k}");
                self.stale.push(h);
            }
        }
        // Freed handles stay invalid.
        for &h in &self.stale {
            // SAFETY: any handle value may be passed.
            let st = unsafe { offheap_debug_object_free(h) };
            assert_eq!(st, INVALID_HANDLE);
        }
        self.poisoned.clear();
        self.ready_fds.clear();
        self.socks.clear();
        // SAFETY: no arguments.
        assert_eq!(unsafe { offheap_relay_trim() }, OK);
    }
}

impl Default for Interp {
    fn default() -> Self {
        Self::new()
    }
}

pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Panics the library raises on purpose (injected, or requested under a lease) are caught at
/// the boundary; keep them quiet (no message, no backtrace capture, which would allocate and
/// cache megabytes) and hand every other panic to the previous hook (libFuzzer's aborts).
fn quiet_intended_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| info.payload().downcast_ref::<String>().map(|s| s.as_str()))
                .unwrap_or("");
            let loud = std::env::var_os("OFFHEAP_FUZZ_LOUD").is_some();
            if !loud && msg.starts_with("offheap: panic injected")
                || msg.starts_with("offheap: panic requested")
            {
                return;
            }
            previous(info);
        }));
    });
}

/// Creates and frees enough objects of every kind once, so lazily built process state (handle
/// table segments, the free list, pools, thread machinery) is part of the baseline.
fn warm_up() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        quiet_intended_panics();
        // SAFETY: no pointers; the next call panics inside the boundary.
        unsafe {
            offheap_debug_inject_panics(1);
            assert_eq!(offheap_relay_trim(), PANIC);
        }
        let mut hs = Vec::new();
        for _ in 0..(MAX_LIVE * 3 + MAX_ENGINES + 8) {
            let mut h = 0;
            // SAFETY: `h` is a valid out-parameter.
            assert_eq!(unsafe { offheap_debug_object_new(&mut h) }, OK);
            hs.push(h);
        }
        for h in hs {
            // SAFETY: any handle value.
            assert_eq!(unsafe { offheap_debug_object_free(h) }, OK);
        }
        // One of each kind, used once: an engine tunnel, a relay step, a buffer read.
        let mut e = 0;
        let (mut r, mut b) = (0, 0);
        let (x, y) = UnixStream::pair().unwrap();
        let (z, w) = UnixStream::pair().unwrap();
        for s in [&x, &y, &z, &w] {
            s.set_nonblocking(true).unwrap();
        }
        (&x).write_all(b"warm").unwrap();
        let mut prog = RelayProgress::default();
        let (mut n, mut state) = (0usize, 0u32);
        let mut comps = [Completion::default(); 4];
        // SAFETY: every pointer is a valid out-parameter; the fds are open sockets.
        unsafe {
            assert_eq!(offheap_engine_new(1, 4, &mut e), OK);
            assert_eq!(offheap_relay_new(3, 0, 0, &mut r), OK);
            assert_eq!(offheap_buffer_new(&mut b), OK);
            assert_eq!(
                offheap_relay_step(r, y.as_raw_fd(), z.as_raw_fd(), &mut prog),
                OK
            );
            (&x).write_all(b"warm").unwrap();
            assert_eq!(
                offheap_buffer_read(b, y.as_raw_fd(), &mut n, &mut state),
                OK
            );
            assert_eq!(
                offheap_engine_submit(e, 1, y.as_raw_fd(), z.as_raw_fd(), 0xffff_ffff, 0, 0),
                OK
            );
            drop((x, w));
            for _ in 0..1000 {
                assert_eq!(offheap_engine_poll(e, comps.as_mut_ptr(), 4, &mut n), OK);
                if n > 0 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            assert_eq!(offheap_engine_free(e), OK);
            assert_eq!(offheap_relay_free(r), OK);
            assert_eq!(offheap_buffer_free(b), OK);
            assert_eq!(offheap_relay_trim(), OK);
        }
        let mut interp = Interp::new();
        interp.free_all();
    });
}

/// The fuzz target body.
pub fn run(data: &[u8]) {
    warm_up();
    let base_fds = open_fds();
    let base = {
        let mut c = Counters::default();
        // SAFETY: `c` is valid.
        assert_eq!(unsafe { offheap_stats(&mut c) }, OK);
        c
    };
    {
        let mut interp = Interp::new();
        let mut p = Program::new(data);
        let mut ops = 0;
        while !p.done() && ops < 256 {
            interp.step(&mut p);
            ops += 1;
            if ops % 8 == 0 {
                interp.check_counts(&base);
            }
        }
        interp.check_counts(&base);
        interp.free_all();
    }
    let mut end = Counters::default();
    // SAFETY: `end` is valid.
    assert_eq!(unsafe { offheap_stats(&mut end) }, OK);
    assert_eq!(
        end.handles_by_kind, base.handles_by_kind,
        "live handles not back to baseline"
    );
    assert_eq!(
        end.heap_live_bytes, base.heap_live_bytes,
        "Rust heap not back to baseline"
    );
    let mut rc = RelayCounters::default();
    // SAFETY: `rc` is valid.
    assert_eq!(unsafe { offheap_relay_global_stats(&mut rc) }, OK);
    assert_eq!(
        (rc.pipes_live, rc.buffers_live),
        (0, 0),
        "relay pools not empty after trim"
    );
    assert_eq!(open_fds(), base_fds, "open fds not back to baseline");
}
