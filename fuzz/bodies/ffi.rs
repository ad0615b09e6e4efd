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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferIo {
    pub consume: usize,
    pub n: usize,
    pub data: *const u8,
    pub len: usize,
    pub state: u32,
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

/// The ABI version whose structs this harness mirrors: when the library's differs, the
/// mirrors below must be brought up to date with include/offheap.h.
pub const MIRRORED_ABI_VERSION: u32 = 4;

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
    pub bulk_buffers_live: u64,
}

/// `offheap_engine_job`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct EngineJob {
    pub id: u64,
    pub fd_a: i32,
    pub fd_b: i32,
    pub framing: u32,
    pub flags: u32,
    pub length: u64,
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
    pub session_stop: u32,
    pub session_flags: u32,
    pub requests: u64,
    pub responses: u64,
    pub client_fd: i32,
    pub upstream_fd: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    pub client_ip_len: u32,
    pub proto_len: u32,
    pub host_len: u32,
    pub via_len: u32,
    pub flags: u32,
    pub request_ms: u32,
    pub response_ms: u32,
    pub stall_ms: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq)]
pub struct WindowConfig {
    pub mode: u32,
    pub slices: u32,
    pub width_ns: u64,
    pub alpha: f64,
    pub max_buckets: u32,
    pub shards: u32,
    pub max_series: u64,
    pub idle_ttl_ns: u64,
    pub allowed_lateness_ns: u64,
    pub max_future_ns: u64,
    pub max_key_len: u32,
    pub sketch: u32,
    pub key_format: u32,
    pub metric_type: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct WindowAccounting {
    pub accepted: u64,
    pub overflowed: u64,
    pub late: u64,
    pub future: u64,
    pub invalid: u64,
    pub bad_key: u64,
    pub stale: u64,
}

impl WindowAccounting {
    fn total(&self) -> u64 {
        self.accepted
            + self.overflowed
            + self.late
            + self.future
            + self.invalid
            + self.bad_key
            + self.stale
    }
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct WindowCounters {
    pub series: u64,
    pub samples: WindowAccounting,
    pub evicted: u64,
    pub deleted: u64,
    pub snapshots: u64,
    pub key_bytes: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct WindowView {
    pub rows: u64,
    pub nquantiles: u32,
    pub reserved: u32,
    pub now: i64,
    pub next_since: u64,
    pub ids: *const u64,
    pub kinds: *const u8,
    pub raw_keys: *const u64,
    pub key_ends: *const u32,
    pub key_bytes: *const u8,
    pub key_bytes_len: u64,
    pub counts: *const u64,
    pub sums: *const f64,
    pub mins: *const f64,
    pub maxs: *const f64,
    pub lasts: *const f64,
    pub means: *const f64,
    pub stddevs: *const f64,
    pub increases: *const f64,
    pub rates: *const f64,
    pub quantiles: [*const f64; 16],
    pub export_bytes: *const u8,
    pub export_len: u64,
    pub total_counts: *const u64,
    pub total_sums: *const f64,
    pub zero_counts: *const u64,
    pub neg_bucket_ends: *const u32,
    pub bucket_ends: *const u32,
    pub bucket_indexes: *const i32,
    pub bucket_counts: *const u64,
    pub buckets: u64,
    pub schema: i32,
    pub reserved2: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct WindowImport {
    pub merged: u64,
    pub overflowed: u64,
    pub late: u64,
    pub bad_key: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct HeadersConfig {
    pub max_head_len: u32,
    pub max_headers: u16,
    pub allow_bare_lf: u8,
    pub head_request: u8,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct HeadRecord {
    pub status: u32,
    pub start: u32,
    pub len: u32,
    pub error_offset: u32,
    pub method_off: u32,
    pub method_len: u32,
    pub target_off: u32,
    pub target_len: u32,
    pub reason_off: u32,
    pub reason_len: u32,
    pub first_header: u32,
    pub header_count: u32,
    pub content_length: u64,
    pub flags: u32,
    pub status_code: u16,
    pub version: u8,
    pub body_kind: u8,
    pub known: [u8; 32],
    pub reserved: [u32; 8],
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct HeaderRecord {
    pub name_off: u32,
    pub name_len: u32,
    pub value_off: u32,
    pub value_len: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct HeadersResult {
    pub heads: u64,
    pub headers: u64,
    pub consumed: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct RewriteOptions {
    pub client_ip_off: u32,
    pub client_ip_len: u32,
    pub proto_off: u32,
    pub proto_len: u32,
    pub host_off: u32,
    pub host_len: u32,
    pub via_off: u32,
    pub via_len: u32,
    pub set_host: u8,
    pub append_forwarded: u8,
    pub reserved: [u8; 6],
}

const _: () = assert!(size_of::<HeadRecord>() == 128);

unsafe extern "C" {
    pub fn offheap_headers_parse_requests(
        input: *const u8,
        input_len: usize,
        offsets: *const u32,
        offsets_len: usize,
        cfg: *const HeadersConfig,
        heads: *mut HeadRecord,
        heads_len: usize,
        headers: *mut HeaderRecord,
        headers_len: usize,
        result: *mut HeadersResult,
    ) -> u32;
    pub fn offheap_headers_parse_responses(
        input: *const u8,
        input_len: usize,
        offsets: *const u32,
        offsets_len: usize,
        cfg: *const HeadersConfig,
        heads: *mut HeadRecord,
        heads_len: usize,
        headers: *mut HeaderRecord,
        headers_len: usize,
        result: *mut HeadersResult,
    ) -> u32;
    pub fn offheap_headers_rewrite_request(
        input: *const u8,
        input_len: usize,
        head: *const HeadRecord,
        headers: *const HeaderRecord,
        headers_len: usize,
        strings: *const u8,
        strings_len: usize,
        opts: *const RewriteOptions,
        out: *mut u8,
        out_len: usize,
        written: *mut usize,
    ) -> u32;
}

unsafe extern "C" {
    pub fn offheap_aggregator_new(
        config: *const WindowConfig,
        name: *const u8,
        name_len: usize,
        help: *const u8,
        help_len: usize,
        key_label: *const u8,
        key_label_len: usize,
        out: *mut u64,
    ) -> u32;
    pub fn offheap_aggregator_free(aggregator: u64) -> u32;
    pub fn offheap_aggregator_ingest_u64(
        aggregator: u64,
        keys: *const u64,
        ts: *const i64,
        values: *const f64,
        weights: *const u32,
        n: usize,
        now: i64,
        out: *mut WindowAccounting,
    ) -> u32;
    pub fn offheap_aggregator_ingest_ids(
        aggregator: u64,
        ids: *const u64,
        ts: *const i64,
        values: *const f64,
        weights: *const u32,
        n: usize,
        now: i64,
        out: *mut WindowAccounting,
    ) -> u32;
    pub fn offheap_aggregator_ingest_keys(
        aggregator: u64,
        key_bytes: *const u8,
        key_bytes_len: usize,
        key_ends: *const u32,
        ts: *const i64,
        values: *const f64,
        weights: *const u32,
        n: usize,
        now: i64,
        out: *mut WindowAccounting,
    ) -> u32;
    pub fn offheap_aggregator_resolve_u64(
        aggregator: u64,
        keys: *const u64,
        n: usize,
        ids_out: *mut u64,
        out: *mut WindowAccounting,
    ) -> u32;
    pub fn offheap_aggregator_delete(
        aggregator: u64,
        kind: u32,
        key: u64,
        key_bytes: *const u8,
        len: usize,
    ) -> u32;
    pub fn offheap_aggregator_remove(aggregator: u64, what: u32, now: i64, out: *mut u64) -> u32;
    pub fn offheap_aggregator_stats(aggregator: u64, out: *mut WindowCounters) -> u32;
    pub fn offheap_snapshot_new(out: *mut u64) -> u32;
    pub fn offheap_snapshot_free(snapshot: u64) -> u32;
    pub fn offheap_snapshot_take(
        aggregator: u64,
        snapshot: u64,
        now: i64,
        quantiles: *const f64,
        nquantiles: usize,
        since: u64,
        delta: u32,
        rows_out: *mut u64,
    ) -> u32;
    pub fn offheap_snapshot_view(snapshot: u64, out: *mut WindowView) -> u32;
    pub fn offheap_aggregator_scrape(
        aggregator: u64,
        snapshot: u64,
        now: i64,
        quantiles: *const f64,
        nquantiles: usize,
        format: u32,
        rows_out: *mut u64,
    ) -> u32;
    pub fn offheap_snapshot_read(
        aggregator: u64,
        snapshot: u64,
        buf: *mut u8,
        cap: usize,
        written: *mut usize,
    ) -> u32;
    pub fn offheap_aggregator_export(
        aggregator: u64,
        snapshot: u64,
        now: i64,
        records: *mut u64,
    ) -> u32;
    pub fn offheap_aggregator_merge_import(
        aggregator: u64,
        data: *const u8,
        len: usize,
        now: i64,
        out: *mut WindowImport,
    ) -> u32;
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
    pub fn offheap_buffer_fill(buffer: u64, fd: i32, io: *mut BufferIo) -> u32;
    pub fn offheap_engine_submit_session(
        engine: u64,
        id: u64,
        client_fd: i32,
        upstream_fd: i32,
        client_buffer: u64,
        upstream_buffer: u64,
        opts: *const SessionOptions,
        strings: *const u8,
        strings_len: usize,
    ) -> u32;
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
    pub fn offheap_engine_submit_batch(
        engine: u64,
        jobs: *const EngineJob,
        n: usize,
        statuses: *mut u32,
        accepted: *mut usize,
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
pub const AGGREGATOR: usize = 2;
pub const SNAPSHOT: usize = 3;
pub const BUFFER: usize = 4;
pub const RELAY: usize = 5;
pub const ENGINE: usize = 6;
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

pub struct Interp {
    live: [Vec<u64>; 16],
    stale: Vec<u64>,
    poisoned: Vec<u64>,
    armed: u32,
    /// The next call may report PANIC on its own (a requested panic under a lease).
    panic_allowed: bool,
    socks: Vec<UnixStream>,
    ready_fds: Vec<OwnedFd>,
    /// The input, a complete request head and the header records of a successful parse.
    last_head: Option<(Vec<u8>, HeadRecord, Vec<HeaderRecord>)>,
    /// The bytes of the last window export (for imports).
    last_export: Vec<u8>,
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
            last_export: Vec::new(),
            last_head: None,
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
        let (mut framing, mut length, mut flags, mut workers, mut jobs) = (0, 0, 0, 1, 1);
        let mut wcfg = WindowConfig::default();
        let mut wcfg_valid = true;
        let names: [&[u8]; 4] = [b"fuzz_metric", b"9bad", b"", b"ok_name"];
        let (mut name, mut help, mut label): (&[u8], &[u8], &[u8]) = (b"m", b"", b"key");
        let mut null_strings = false;
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
                    u32::from(p.u8() % 8)
                };
            }
            AGGREGATOR => {
                let sel = p.u8();
                wcfg = WindowConfig {
                    mode: u32::from(sel % 3),
                    slices: [1, 2, 4][usize::from(p.u8() % 3)],
                    width_ns: 1 << 20,
                    alpha: 0.01,
                    max_buckets: 64,
                    shards: [1, 4, 16][usize::from(p.u8() % 3)],
                    max_series: u64::from(1 + p.u8() % 8),
                    idle_ttl_ns: [0, 10_000][usize::from(p.u8() % 2)],
                    allowed_lateness_ns: u64::MAX,
                    max_future_ns: 1 << 20,
                    max_key_len: 64,
                    sketch: u32::from(p.u8() % 2),
                    key_format: [0, 1, 2][usize::from(p.u8() % 3)],
                    metric_type: [0, 1, 2, 3][usize::from(p.u8() % 4)],
                };
                match p.u8() % 8 {
                    0 => (wcfg.mode, wcfg_valid) = (3 + u32::from(p.u8()), false),
                    1 => (wcfg.alpha, wcfg_valid) = (f64::NAN, false),
                    2 => (wcfg.shards, wcfg_valid) = (3, false),
                    3 => (wcfg.max_buckets, wcfg_valid) = (1, false),
                    4 => (wcfg.max_key_len, wcfg_valid) = (0, false),
                    _ => {}
                }
                if wcfg.mode < 2 && wcfg.width_ns % u64::from(wcfg.slices) != 0 {
                    wcfg_valid = false;
                }
                name = names[usize::from(p.u8() % 4)];
                if name != b"fuzz_metric" && name != b"ok_name" {
                    wcfg_valid = false;
                }
                if p.u8().is_multiple_of(4) {
                    help = b"help text";
                    label = b"";
                    // Label values need a key label; label lists and series keys do not.
                    if wcfg.key_format == 0 {
                        wcfg_valid = false;
                    }
                }
                match p.u8() % 16 {
                    0 => (wcfg.key_format, wcfg_valid) = (3 + u32::from(p.u8()), false),
                    1 => (wcfg.metric_type, wcfg_valid) = (4 + u32::from(p.u8()), false),
                    _ => {}
                }
                null_strings = p.u8().is_multiple_of(8);
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
                AGGREGATOR => {
                    let np = if null_strings {
                        std::ptr::null()
                    } else {
                        name.as_ptr()
                    };
                    offheap_aggregator_new(
                        &wcfg,
                        np,
                        name.len(),
                        help.as_ptr(),
                        help.len(),
                        label.as_ptr(),
                        label.len(),
                        ptr,
                    )
                }
                SNAPSHOT => offheap_snapshot_new(ptr),
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
            RELAY => framing > 3 || flags > 7,
            AGGREGATOR => !wcfg_valid || (null_strings && !name.is_empty()),
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
                if kind != AGGREGATOR {
                    assert_eq!(st, INVALID_ARGUMENT);
                }
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
                AGGREGATOR => offheap_aggregator_free(pick.handle),
                SNAPSHOT => offheap_snapshot_free(pick.handle),
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
            u32::from(p.u8() % 8)
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
            let bad = framing > 3 || flags > 7;
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
            assert!(out.state <= 3);
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

    fn op_buffer_fill(&mut self, p: &mut Program) {
        let pick = self.pick(p, BUFFER);
        let (fd, fd_ok) = match p.u8() % 4 {
            0 => (-1, true), // no read: consume and view only
            1 => (-2, false),
            _ => match self.fd(p) {
                (-1, _) => (-1, true), // valid here, unlike for offheap_buffer_read
                other => other,
            },
        };
        let m = self.out_mode(p);
        let consume = match p.u8() % 4 {
            0 => usize::MAX,
            1 => 0,
            _ => usize::from(p.u8()) * 16,
        };
        let sentinel = 0x1000 as *const u8;
        let mut io = BufferIo {
            consume,
            n: 7,
            data: sentinel,
            len: 12345,
            state: 99,
        };
        let pio = self.out_ptr(m, &mut io);
        // SAFETY: fd -1, open, or never open; `io` NULL, misaligned or valid.
        let st = unsafe { offheap_buffer_fill(pick.handle, fd, pio) };
        if self.injected(st) {
            return;
        }
        if let Some(want) = Self::out_failure(&[(m, 8)]) {
            assert_eq!(st, want);
            return;
        }
        if !fd_ok {
            assert_eq!(st, INVALID_ARGUMENT);
            return;
        }
        self.check_pick(pick, st, "buffer_fill");
        if st != OK {
            assert_eq!(
                (io.n, io.data, io.len, io.state),
                (7, sentinel, 12345, 99),
                "outputs written on failure"
            );
            if pick.live.is_none() {
                assert_eq!(io.consume, consume, "consume applied to a bad handle");
            }
            return;
        }
        assert_eq!(io.consume, 0, "consume not acknowledged");
        assert!(io.n <= 65536 && io.len <= 65536 && (io.state == 0 || io.state == 2));
        if fd == -1 {
            assert_eq!((io.n, io.state), (0, 2));
        }
        if io.len == 0 {
            assert!(io.data.is_null());
        } else {
            // SAFETY: the view is valid until the next call naming this buffer; nothing runs
            // in between. Reading it all lets ASan check it.
            let view = unsafe { std::slice::from_raw_parts(io.data, io.len) };
            std::hint::black_box(view.iter().fold(0u8, |a, &b| a ^ b));
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
        match p.u8() % 8 {
            0 | 1 => return self.op_engine_submit_batch(p),
            2 => return self.op_engine_submit_session(p),
            _ => {}
        }
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

    /// A session job: bad handles, fds, options or string lengths are refused; a valid one
    /// takes the two buffers' storage until its completion is polled.
    fn op_engine_submit_session(&mut self, p: &mut Program) {
        let pick = self.pick(p, ENGINE);
        let cb = self.pick(p, BUFFER);
        let ub = self.pick(p, BUFFER);
        let id = u64::from(p.u8());
        let (c, c_ok) = self.fd(p);
        let (u, u_ok) = self.fd(p);
        let strings = b"192.0.2.1httpupstream:80offheap";
        let mut opts = SessionOptions {
            client_ip_len: 9,
            proto_len: 4,
            host_len: 11,
            via_len: 7,
            flags: u32::from(p.u8() % 5),
            request_ms: u32::from(p.u8() % 4) * 10,
            response_ms: u32::from(p.u8() % 4) * 10,
            stall_ms: u32::from(p.u8() % 4) * 10,
        };
        let lens_ok = !p.u8().is_multiple_of(8);
        if !lens_ok {
            opts.via_len += 1 + u32::from(p.u8() % 4);
        }
        let null_opts = p.u8().is_multiple_of(16);
        let o = if null_opts {
            std::ptr::null()
        } else {
            &opts as *const SessionOptions
        };
        // SAFETY: `o` NULL or valid; `strings` valid for its length; the fds are open
        // sockets, -1 or never open.
        let st = unsafe {
            offheap_engine_submit_session(
                pick.handle,
                id,
                c,
                u,
                cb.handle,
                ub.handle,
                o,
                strings.as_ptr(),
                strings.len(),
            )
        };
        if self.injected(st) {
            return;
        }
        let valid = pick.live.is_some()
            && cb.live.is_some()
            && ub.live.is_some()
            && cb.handle != ub.handle
            && c_ok
            && u_ok
            && c >= 0
            && u >= 0
            && !null_opts
            && lens_ok
            && opts.flags <= 3;
        if !valid {
            assert_ne!(st, OK, "an invalid session job was accepted");
        }
        assert_ne!(st, PANIC);
    }

    /// Up to four jobs in one `offheap_engine_submit_batch`: each refused on its own for a bad
    /// fd or framing, the call refused as a whole for a bad handle or NULL arrays.
    fn op_engine_submit_batch(&mut self, p: &mut Program) {
        let pick = self.pick(p, ENGINE);
        let n = usize::from(p.u8() % 5);
        let mut jobs = [EngineJob::default(); 4];
        let mut fds_ok = [false; 4];
        for (j, ok) in jobs.iter_mut().zip(fds_ok.iter_mut()).take(n) {
            let (a, a_ok) = self.fd(p);
            let (b, b_ok) = self.fd(p);
            *j = EngineJob {
                id: u64::from(p.u8()),
                fd_a: a,
                fd_b: b,
                framing: match p.u8() % 6 {
                    k @ 0..=3 => u32::from(k),
                    4 => 0xffff_ffff,
                    _ => p.u32(),
                },
                flags: u32::from(p.u8() % 5),
                length: u64::from(p.u32() % 8192),
            };
            *ok = a_ok && b_ok;
        }
        let null_statuses = n > 0 && p.u8().is_multiple_of(8);
        let mut statuses = [u32::MAX; 4];
        let mut accepted = usize::MAX;
        let st_ptr = if null_statuses {
            std::ptr::null_mut()
        } else {
            statuses.as_mut_ptr()
        };
        // SAFETY: `jobs` and `statuses` hold at least `n` elements (or statuses is NULL, which
        // the library refuses); the fds are open sockets, -1 or never open.
        let st = unsafe {
            offheap_engine_submit_batch(pick.handle, jobs.as_ptr(), n, st_ptr, &mut accepted)
        };
        if self.injected(st) {
            return;
        }
        if null_statuses {
            assert_eq!(st, NULL_POINTER);
            assert_eq!(accepted, usize::MAX, "out-parameter written on failure");
            return;
        }
        self.check_pick(pick, st, "engine_submit_batch");
        if st != OK {
            assert_eq!(accepted, usize::MAX, "out-parameter written on failure");
            return;
        }
        let taken = statuses[..n].iter().filter(|&&s| s == OK).count();
        assert_eq!(accepted, taken);
        for (s, ok) in statuses.iter().zip(fds_ok).take(n) {
            if !ok {
                assert_eq!(*s, INVALID_ARGUMENT, "a job with a bad fd");
            }
        }
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
                assert!(c.session_stop <= 5);
                // Session jobs give their connections back: the caller closes them.
                for fd in [c.client_fd, c.upstream_fd] {
                    if fd >= 0 {
                        // SAFETY: the completion handed this fd over; nothing else owns it.
                        drop(unsafe {
                            <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
                        });
                    }
                }
                if c.session_stop == 0 {
                    assert_eq!((c.client_fd, c.upstream_fd), (-1, -1));
                }
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
            assert_eq!(a, MIRRORED_ABI_VERSION, "the harness's struct mirrors are out of date");
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

    fn op_window_ingest(&mut self, p: &mut Program) {
        let pick = self.pick(p, AGGREGATOR);
        let n = usize::from(p.u8() % 20);
        let kind = p.u8() % 3;
        let null_sel = p.u8() % 16;
        let mode = self.out_mode(p);
        let now = 1_000_000 + i64::from(p.u32() % 1_000_000);
        let mut keys = [0u64; 20];
        let mut ts = [0i64; 20];
        let mut vs = [0f64; 20];
        let mut ws = [0u32; 20];
        let mut ends = [0u32; 20];
        let mut kb = Vec::new();
        for i in 0..n {
            keys[i] = u64::from(p.u8() % 8);
            ts[i] = now - i64::from(p.u8()) * 100;
            vs[i] = match p.u8() % 8 {
                0 => f64::NAN,
                1 => f64::INFINITY,
                k => f64::from(k) * 1.5,
            };
            ws[i] = u32::from(p.u8() % 3);
            kb.extend_from_slice(
                [b"a".as_slice(), b"route", b"\xff", b""][usize::from(p.u8() % 4)],
            );
            ends[i] = kb.len() as u32;
        }
        let bad_ends = kind == 1 && n > 0 && p.u8().is_multiple_of(8);
        if bad_ends {
            ends[0] = kb.len() as u32 + 10;
        }
        let weighted = p.u8().is_multiple_of(3);
        // NULL for one column (with n > 0: NULL_POINTER).
        let col = |i: u8, ptr: *const u8| if null_sel == i { std::ptr::null() } else { ptr };
        let mut acc = WindowAccounting {
            accepted: 99,
            ..Default::default()
        };
        let out = self.out_ptr(mode, &mut acc);
        let w = if weighted {
            ws.as_ptr()
        } else {
            std::ptr::null()
        };
        // SAFETY: every column is NULL or valid for n (≤ 20) elements; `out` NULL, misaligned
        // or valid.
        let st = unsafe {
            let t = col(1, ts.as_ptr().cast()).cast();
            let v = col(2, vs.as_ptr().cast()).cast();
            match kind {
                0 => offheap_aggregator_ingest_u64(
                    pick.handle,
                    col(0, keys.as_ptr().cast()).cast(),
                    t,
                    v,
                    w,
                    n,
                    now,
                    out,
                ),
                1 => offheap_aggregator_ingest_keys(
                    pick.handle,
                    col(3, kb.as_ptr()),
                    kb.len(),
                    col(0, ends.as_ptr().cast()).cast(),
                    t,
                    v,
                    w,
                    n,
                    now,
                    out,
                ),
                _ => offheap_aggregator_ingest_ids(
                    pick.handle,
                    col(0, keys.as_ptr().cast()).cast(),
                    t,
                    v,
                    w,
                    n,
                    now,
                    out,
                ),
            }
        };
        if self.injected(st) {
            return;
        }
        if st != OK {
            assert_eq!(acc.accepted, 99, "accounting written on failure");
        }
        if let Some(want) = Self::out_failure(&[(mode, 8)]) {
            assert_eq!(st, want);
            return;
        }
        let null_col = n > 0 && (null_sel <= 2 || (null_sel == 3 && kind == 1 && !kb.is_empty()));
        if null_col {
            assert_eq!(st, NULL_POINTER, "NULL column with n > 0");
            return;
        }
        self.check_pick(pick, st, "window_ingest");
        if pick.live.is_some() {
            if bad_ends {
                assert_ne!(st, OK, "bad key offsets accepted");
            } else {
                assert_eq!(st, OK, "ingest: {}", status_name(st));
                assert_eq!(acc.total(), n as u64, "accounting {acc:?} of {n} samples");
            }
        }
    }

    fn op_window_maintain(&mut self, p: &mut Program) {
        let pick = self.pick(p, AGGREGATOR);
        let mode = self.out_mode(p);
        match p.u8() % 4 {
            0 => {
                let mut keys = [0u64; 8];
                let n = usize::from(p.u8() % 9);
                for k in keys.iter_mut() {
                    *k = u64::from(p.u8() % 8);
                }
                let mut ids = [7u64; 8];
                let mut acc = WindowAccounting::default();
                let out = self.out_ptr(mode, &mut acc);
                // SAFETY: arrays valid for n (≤ 8) elements; `out` NULL, misaligned or valid.
                let st = unsafe {
                    offheap_aggregator_resolve_u64(pick.handle, keys.as_ptr(), n, ids.as_mut_ptr(), out)
                };
                if !self.injected(st) {
                    if let Some(want) = Self::out_failure(&[(mode, 8)]) {
                        assert_eq!(st, want);
                    } else {
                        self.check_pick(pick, st, "window_resolve_u64");
                        if st == OK {
                            assert_eq!(acc.total(), n as u64);
                        } else {
                            assert!(ids.iter().all(|&i| i == 7), "ids written on failure");
                        }
                    }
                }
            }
            1 => {
                let kind = u32::from(p.u8() % 4);
                let key = if p.u8().is_multiple_of(2) {
                    u64::from(p.u8() % 8)
                } else {
                    p.u64()
                };
                let bytes = p.bytes(8);
                let null = p.u8().is_multiple_of(4);
                let bp = if null {
                    std::ptr::null()
                } else {
                    bytes.as_ptr()
                };
                let len = if null {
                    usize::from(p.u8() % 3)
                } else {
                    bytes.len()
                };
                // SAFETY: `bp` NULL or valid for `len` bytes.
                let st = unsafe { offheap_aggregator_delete(pick.handle, kind, key, bp, len) };
                if !self.injected(st) {
                    self.check_pick(pick, st, "window_delete");
                }
            }
            2 => {
                let what = u32::from(p.u8() % 3);
                let mut removed = u64::MAX;
                let out = self.out_ptr(mode, &mut removed);
                // SAFETY: `out` NULL, misaligned or valid.
                let st = unsafe { offheap_aggregator_remove(pick.handle, what, 2_000_000, out) };
                if !self.injected(st) {
                    if let Some(want) = Self::out_failure(&[(mode, 8)]) {
                        assert_eq!(st, want);
                    } else {
                        self.check_pick(pick, st, "window_remove");
                        if pick.live.is_some() && what > 1 {
                            assert_ne!(st, OK, "remove with what = {what}");
                        }
                    }
                    if st != OK {
                        assert_eq!(removed, u64::MAX);
                    }
                }
            }
            _ => {
                let mut c = WindowCounters {
                    series: 12345,
                    ..Default::default()
                };
                let out = self.out_ptr(mode, &mut c);
                // SAFETY: `out` NULL, misaligned or valid.
                let st = unsafe { offheap_aggregator_stats(pick.handle, out) };
                if !self.injected(st) {
                    if let Some(want) = Self::out_failure(&[(mode, 8)]) {
                        assert_eq!(st, want);
                    } else {
                        self.check_pick(pick, st, "window_stats");
                        if pick.live.is_some() {
                            assert_eq!(st, OK);
                        }
                    }
                    if st != OK {
                        assert_eq!(c.series, 12345);
                    }
                }
            }
        }
    }

    /// Reads every column of a snapshot view (so ASan checks the memory behind it).
    fn read_view(v: &WindowView) {
        let rows = v.rows as usize;
        assert!(rows < 1 << 20);
        // SAFETY: the view's columns are valid for `rows` elements (NULL only when empty)
        // until the snapshot is filled again or freed; nothing runs in between.
        unsafe {
            let col = |p: *const u64| {
                if p.is_null() {
                    0
                } else {
                    std::slice::from_raw_parts(p, rows)
                        .iter()
                        .fold(0u64, |a, &x| a ^ x)
                }
            };
            let colf = |p: *const f64| {
                if p.is_null() {
                    0.0
                } else {
                    std::slice::from_raw_parts(p, rows)
                        .iter()
                        .fold(0.0, |a, &x| if x.is_finite() { a + x } else { a })
                }
            };
            let mut acc = col(v.ids) ^ col(v.raw_keys) ^ col(v.counts);
            for p in [
                v.sums,
                v.mins,
                v.maxs,
                v.lasts,
                v.means,
                v.stddevs,
                v.increases,
                v.rates,
            ] {
                acc ^= colf(p).to_bits();
            }
            for q in &v.quantiles[..(v.nquantiles as usize).min(16)] {
                acc ^= colf(*q).to_bits();
            }
            if rows > 0 {
                assert!(!v.ids.is_null() && !v.counts.is_null() && !v.kinds.is_null());
                let kinds = std::slice::from_raw_parts(v.kinds, rows);
                assert!(kinds.iter().all(|&k| k <= 2));
                let ends = std::slice::from_raw_parts(v.key_ends, rows);
                assert!(ends.windows(2).all(|w| w[0] <= w[1]));
                assert!(ends.last().is_none_or(|&e| u64::from(e) <= v.key_bytes_len));
            }
            if v.key_bytes_len > 0 {
                let kb = std::slice::from_raw_parts(v.key_bytes, v.key_bytes_len as usize);
                acc ^= kb.iter().map(|&b| u64::from(b)).sum::<u64>();
            }
            if v.export_len > 0 {
                let eb = std::slice::from_raw_parts(v.export_bytes, v.export_len as usize);
                acc ^= eb.iter().map(|&b| u64::from(b)).sum::<u64>();
            }
            if rows > 0 {
                let totals = std::slice::from_raw_parts(v.total_counts, rows);
                let counts = std::slice::from_raw_parts(v.counts, rows);
                assert!(totals.iter().zip(counts).all(|(t, c)| t >= c));
                acc ^= colf(v.total_sums).to_bits();
            }
            if !v.bucket_ends.is_null() {
                let ends = std::slice::from_raw_parts(v.bucket_ends, rows);
                assert!(ends.last().is_some_and(|&e| u64::from(e) == v.buckets));
                if v.buckets > 0 {
                    let c = std::slice::from_raw_parts(v.bucket_counts, v.buckets as usize);
                    let i = std::slice::from_raw_parts(v.bucket_indexes, v.buckets as usize);
                    acc ^= c.iter().sum::<u64>() ^ i.iter().map(|&x| x as u64).sum::<u64>();
                }
            }
            std::hint::black_box(acc);
        }
    }

    fn op_window_snapshot(&mut self, p: &mut Program) {
        let agg = self.pick(p, AGGREGATOR);
        let snap = self.pick(p, SNAPSHOT);
        let mode = self.out_mode(p);
        let qsets: [&[f64]; 5] = [&[0.5, 0.9, 0.99], &[], &[2.0], &[f64::NAN], &[0.1; 17]];
        let qs = qsets[usize::from(p.u8() % 5)];
        let null_q = p.u8().is_multiple_of(8);
        let qp = if null_q {
            std::ptr::null()
        } else {
            qs.as_ptr()
        };
        let since = u64::from(p.u8() % 3);
        // Flags: 1 delta, 2 bucket columns, 4 unknown (refused).
        let delta = u32::from(p.u8() % 5);
        let mut rows = u64::MAX;
        let out = self.out_ptr(mode, &mut rows);
        // SAFETY: `qp` NULL or valid for qs.len() doubles; `out` NULL, misaligned or valid.
        let st = unsafe {
            offheap_snapshot_take(
                agg.handle,
                snap.handle,
                2_000_000,
                qp,
                qs.len(),
                since,
                delta,
                out,
            )
        };
        if !self.injected(st) {
            if let Some(want) = Self::out_failure(&[(mode, 8)]) {
                assert_eq!(st, want);
            } else if null_q && !qs.is_empty() {
                assert_eq!(st, NULL_POINTER);
            } else {
                self.check_pick(agg, st, "snapshot_take (aggregator)");
                self.check_pick(snap, st, "snapshot_take (snapshot)");
                let valid_q = qs.len() <= 16 && qs.iter().all(|q| (0.0..=1.0).contains(q));
                if agg.live.is_some() && snap.live.is_some() && valid_q && delta <= 3 {
                    assert_eq!(st, OK, "snapshot_take: {}", status_name(st));
                }
                if delta > 3 {
                    assert_ne!(st, OK, "unknown snapshot flags accepted");
                }
                if !valid_q {
                    assert_ne!(st, OK, "invalid quantiles accepted");
                }
            }
            if st != OK {
                assert_eq!(rows, u64::MAX);
            }
        }
        // View whatever the snapshot holds now.
        let snap = self.pick(p, SNAPSHOT);
        let mode = self.out_mode(p);
        let mut v = WindowView {
            rows: 0,
            nquantiles: 0,
            reserved: 0,
            now: 0,
            next_since: 0,
            ids: std::ptr::null(),
            kinds: std::ptr::null(),
            raw_keys: std::ptr::null(),
            key_ends: std::ptr::null(),
            key_bytes: std::ptr::null(),
            key_bytes_len: 0,
            counts: std::ptr::null(),
            sums: std::ptr::null(),
            mins: std::ptr::null(),
            maxs: std::ptr::null(),
            lasts: std::ptr::null(),
            means: std::ptr::null(),
            stddevs: std::ptr::null(),
            increases: std::ptr::null(),
            rates: std::ptr::null(),
            quantiles: [std::ptr::null(); 16],
            export_bytes: std::ptr::null(),
            export_len: 0,
            total_counts: std::ptr::null(),
            total_sums: std::ptr::null(),
            zero_counts: std::ptr::null(),
            neg_bucket_ends: std::ptr::null(),
            bucket_ends: std::ptr::null(),
            bucket_indexes: std::ptr::null(),
            bucket_counts: std::ptr::null(),
            buckets: 0,
            schema: 0,
            reserved2: 0,
        };
        v.rows = 4242;
        let out = self.out_ptr(mode, &mut v);
        // SAFETY: `out` NULL, misaligned or valid.
        let st = unsafe { offheap_snapshot_view(snap.handle, out) };
        if !self.injected(st) {
            if let Some(want) = Self::out_failure(&[(mode, 8)]) {
                assert_eq!(st, want);
            } else {
                self.check_pick(snap, st, "snapshot_view");
            }
            if st == OK {
                Self::read_view(&v);
            } else {
                assert_eq!(v.rows, 4242, "view written on failure");
            }
        }
    }

    fn op_window_prometheus(&mut self, p: &mut Program) {
        let agg = self.pick(p, AGGREGATOR);
        let snap = self.pick(p, SNAPSHOT);
        // Formats 0..=2 exist; 3 is refused.
        let format = u32::from(p.u8() % 4);
        let qs = [0.5, 0.99];
        let mut rows = u64::MAX;
        // SAFETY: `qs` holds 2 quantiles and `rows` is valid.
        let st = unsafe {
            offheap_aggregator_scrape(
                agg.handle,
                snap.handle,
                2_000_000,
                qs.as_ptr(),
                2,
                format,
                &mut rows,
            )
        };
        if self.injected(st) {
            return;
        }
        self.check_pick(agg, st, "window_scrape (aggregator)");
        self.check_pick(snap, st, "window_scrape (snapshot)");
        if st != OK {
            assert_eq!(rows, u64::MAX, "rows written on failure");
            return;
        }
        assert!(format < 3, "format {format} accepted");
        let cap = [4096usize, 64, 0, 1][usize::from(p.u8() % 4)];
        let null_buf = p.u8().is_multiple_of(8);
        let mut buf = [0u8; 4096];
        let mut whole = Vec::new();
        for _ in 0..64 {
            let mut written = usize::MAX;
            let bp = if null_buf {
                std::ptr::null_mut()
            } else {
                buf.as_mut_ptr()
            };
            // SAFETY: `bp` NULL or valid for `cap` (≤ 4096) bytes; `written` is valid.
            let st = unsafe {
                offheap_snapshot_read(agg.handle, snap.handle, bp, cap, &mut written)
            };
            if self.injected(st) {
                return;
            }
            if null_buf && cap > 0 {
                assert_eq!(st, NULL_POINTER);
                return;
            }
            assert_eq!(st, OK, "read after a scrape: {}", status_name(st));
            assert!(written <= cap);
            if written == 0 {
                break;
            }
            whole.extend_from_slice(&buf[..written]);
        }
        if format < 2 {
            assert!(
                std::str::from_utf8(&whole).is_ok(),
                "text exposition is not UTF-8"
            );
        }
    }

    fn op_window_export_import(&mut self, p: &mut Program) {
        let agg = self.pick(p, AGGREGATOR);
        if p.u8().is_multiple_of(2) {
            let snap = self.pick(p, SNAPSHOT);
            let mut records = u64::MAX;
            // SAFETY: `records` is valid.
            let st =
                unsafe { offheap_aggregator_export(agg.handle, snap.handle, 2_000_000, &mut records) };
            if self.injected(st) {
                return;
            }
            self.check_pick(agg, st, "window_export (aggregator)");
            self.check_pick(snap, st, "window_export (snapshot)");
            if st == OK {
                let mut v = std::mem::MaybeUninit::<WindowView>::uninit();
                // SAFETY: `v` is valid for one write.
                let st = unsafe { offheap_snapshot_view(snap.handle, v.as_mut_ptr()) };
                if !self.injected(st) {
                    assert_eq!(st, OK);
                    // SAFETY: written by the successful call.
                    let v = unsafe { v.assume_init() };
                    Self::read_view(&v);
                    self.last_export = if v.export_len == 0 {
                        Vec::new()
                    } else {
                        // SAFETY: valid for export_len bytes until the snapshot changes.
                        unsafe { std::slice::from_raw_parts(v.export_bytes, v.export_len as usize) }
                            .to_vec()
                    };
                }
            }
            return;
        }
        let mut data = self.last_export.clone();
        match p.u8() % 4 {
            0 if !data.is_empty() => {
                let at = usize::from(p.u8()) % data.len();
                data[at] ^= p.u8() | 1;
            }
            1 => data = p.bytes(64).to_vec(),
            _ => {}
        }
        let null = p.u8().is_multiple_of(8);
        let mode = self.out_mode(p);
        let mut imp = WindowImport {
            merged: 77,
            ..Default::default()
        };
        let out = self.out_ptr(mode, &mut imp);
        let dp = if null {
            std::ptr::null()
        } else {
            data.as_ptr()
        };
        // SAFETY: `dp` NULL or valid for data.len() bytes; `out` NULL, misaligned or valid.
        let st = unsafe { offheap_aggregator_merge_import(agg.handle, dp, data.len(), 2_000_000, out) };
        if self.injected(st) {
            return;
        }
        if let Some(want) = Self::out_failure(&[(mode, 8)]) {
            assert_eq!(st, want);
        } else if null && !data.is_empty() {
            assert_eq!(st, NULL_POINTER);
        } else {
            self.check_pick(agg, st, "window_merge_import");
        }
        if st != OK {
            assert_eq!(imp.merged, 77, "import accounting written on failure");
        }
    }

    fn op_headers_parse(&mut self, p: &mut Program) {
        const CANNED: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n\r\nPOST /b HTTP/1.1\r\nHost: y\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let own;
        let input: &[u8] = match p.u8() % 3 {
            0 => CANNED,
            1 => {
                let cut = usize::from(p.u8()) % (CANNED.len() + 1);
                &CANNED[..cut]
            }
            _ => {
                own = p.bytes(200).to_vec();
                &own
            }
        };
        let responses = p.u8().is_multiple_of(4);
        let mut offsets = [0u32; 4];
        let noffsets = usize::from(p.u8() % 5);
        for o in offsets.iter_mut() {
            *o = u32::from(p.u8()) % (input.len() as u32 + 8);
        }
        let sorted = !p.u8().is_multiple_of(4);
        if sorted {
            offsets.sort_unstable();
        }
        let cfg = HeadersConfig {
            max_head_len: [0, 40, 1 << 25][usize::from(p.u8() % 3)],
            max_headers: [0, 1, 300][usize::from(p.u8() % 3)],
            allow_bare_lf: p.u8() % 2,
            head_request: p.u8() % 2,
        };
        let null_cfg = p.u8().is_multiple_of(16);
        let nheads = usize::from(p.u8() % 9);
        let nhdrs = usize::from(p.u8() % 33);
        let null_arrays = p.u8().is_multiple_of(16);
        let mode = self.out_mode(p);
        let mut heads = [HeadRecord::default(); 8];
        let mut hdrs = [HeaderRecord::default(); 32];
        let mut res = HeadersResult {
            heads: 999,
            ..Default::default()
        };
        let out = self.out_ptr(mode, &mut res);
        let (hp, hdp) = if null_arrays {
            (std::ptr::null_mut(), std::ptr::null_mut())
        } else {
            (heads.as_mut_ptr(), hdrs.as_mut_ptr())
        };
        let cp = if null_cfg {
            std::ptr::null()
        } else {
            &cfg as *const HeadersConfig
        };
        let op = if noffsets == 0 {
            std::ptr::null()
        } else {
            offsets.as_ptr()
        };
        // SAFETY: every array is NULL or valid for its length; `out` NULL, misaligned or valid.
        let st = unsafe {
            if responses {
                offheap_headers_parse_responses(
                    input.as_ptr(),
                    input.len(),
                    op,
                    noffsets,
                    cp,
                    hp,
                    nheads,
                    hdp,
                    nhdrs,
                    out,
                )
            } else {
                offheap_headers_parse_requests(
                    input.as_ptr(),
                    input.len(),
                    op,
                    noffsets,
                    cp,
                    hp,
                    nheads,
                    hdp,
                    nhdrs,
                    out,
                )
            }
        };
        if self.injected(st) {
            return;
        }
        if let Some(want) = Self::out_failure(&[(mode, 8)]) {
            assert_eq!(st, want);
            return;
        }
        if null_arrays && (nheads > 0 || nhdrs > 0) {
            assert_eq!(st, NULL_POINTER, "NULL head arrays with lengths");
            return;
        }
        if st != OK {
            assert_eq!(res.heads, 999, "result written on failure");
            return;
        }
        assert!(
            res.heads as usize <= nheads
                && res.headers as usize <= nhdrs
                && res.consumed as usize <= input.len()
        );
        for h in &heads[..res.heads as usize] {
            if h.status != OK {
                continue;
            }
            let within =
                |off: u32, len: u32| (off as usize).saturating_add(len as usize) <= input.len();
            assert!(within(h.start, h.len), "head outside the input");
            assert!(within(h.method_off, h.method_len) && within(h.target_off, h.target_len));
            assert!(within(h.reason_off, h.reason_len));
            let (first, count) = (h.first_header as usize, h.header_count as usize);
            assert!(
                first + count <= res.headers as usize,
                "header records past the result"
            );
            for x in &hdrs[first..first + count] {
                assert!(
                    within(x.name_off, x.name_len) && within(x.value_off, x.value_len),
                    "header span outside the input"
                );
            }
            if !responses && self.last_head.is_none() && noffsets == 0 {
                self.last_head = Some((input.to_vec(), *h, hdrs[..res.headers as usize].to_vec()));
            }
        }
    }

    fn op_headers_rewrite(&mut self, p: &mut Program) {
        let Some((input, head, hdrs)) = self.last_head.clone() else {
            return;
        };
        let strings = b"192.0.2.1httpsproxy.examplefuzz-via";
        let mut opts = RewriteOptions {
            client_ip_off: 0,
            client_ip_len: 9,
            proto_off: 9,
            proto_len: 5,
            host_off: 14,
            host_len: 13,
            via_off: 27,
            via_len: 8,
            set_host: p.u8() % 2,
            append_forwarded: p.u8() % 2,
            reserved: [0; 6],
        };
        let bad_span = p.u8().is_multiple_of(8);
        if bad_span {
            opts.via_len = 100;
        }
        let cap = [4096usize, 64, 0, 200][usize::from(p.u8() % 4)];
        let mut out = vec![0u8; 4096];
        let mut written = usize::MAX;
        // SAFETY: all spans and arrays are valid for their lengths.
        let st = unsafe {
            offheap_headers_rewrite_request(
                input.as_ptr(),
                input.len(),
                &head,
                hdrs.as_ptr(),
                hdrs.len(),
                strings.as_ptr(),
                strings.len(),
                &opts,
                out.as_mut_ptr(),
                cap,
                &mut written,
            )
        };
        if self.injected(st) {
            return;
        }
        if bad_span {
            assert_ne!(st, OK, "an option span out of range accepted");
        }
        if st == OK {
            assert!(written <= cap);
            // The rewritten head parses again, complete.
            let cfg = HeadersConfig::default();
            let mut heads = [HeadRecord::default(); 1];
            let mut hs = [HeaderRecord::default(); 64];
            let mut res = HeadersResult::default();
            // SAFETY: every array is valid for its length.
            let st = unsafe {
                offheap_headers_parse_requests(
                    out.as_ptr(),
                    written,
                    std::ptr::null(),
                    0,
                    &cfg,
                    heads.as_mut_ptr(),
                    1,
                    hs.as_mut_ptr(),
                    64,
                    &mut res,
                )
            };
            if !self.injected(st) {
                assert_eq!(st, OK);
                assert!(
                    res.heads == 1 && heads[0].status == OK,
                    "a rewritten head does not parse: {:?}",
                    String::from_utf8_lossy(&out[..written])
                );
            }
        }
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
                        AGGREGATOR => offheap_aggregator_free(h),
                        SNAPSHOT => offheap_snapshot_free(h),
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
        // The aggregator keeps per-thread scratch sized by the largest batch: grow it once, to
        // the interpreter's largest batches, with every kind of key and on 16 shards.
        // SAFETY: every pointer is valid for the lengths given.
        unsafe {
            let cfg = WindowConfig {
                mode: 2,
                slices: 1,
                width_ns: 1 << 20,
                alpha: 0.01,
                max_buckets: 64,
                shards: 16,
                max_series: 64,
                idle_ttl_ns: 0,
                allowed_lateness_ns: u64::MAX,
                max_future_ns: 1 << 20,
                max_key_len: 64,
                sketch: 1,
                key_format: 0,
                metric_type: 0,
            };
            let (mut agg, mut snap) = (0u64, 0u64);
            assert_eq!(
                offheap_aggregator_new(
                    &cfg,
                    b"m".as_ptr(),
                    1,
                    std::ptr::null(),
                    0,
                    b"key".as_ptr(),
                    3,
                    &mut agg
                ),
                OK
            );
            assert_eq!(offheap_snapshot_new(&mut snap), OK);
            let keys: Vec<u64> = (0..64).collect();
            let ts = [1_000_000i64; 64];
            let vs = [1.0f64; 64];
            let ws = [1u32; 64];
            let kb: Vec<u8> = (0..64u8)
                .flat_map(|k| [b'k', b'a' + k % 26, b'0' + k / 26])
                .collect();
            let ends: Vec<u32> = (1..=64).map(|i| i * 3).collect();
            let mut acc = WindowAccounting::default();
            let mut ids = [0u64; 64];
            for w in [std::ptr::null(), ws.as_ptr()] {
                assert_eq!(
                    offheap_aggregator_ingest_u64(
                        agg,
                        keys.as_ptr(),
                        ts.as_ptr(),
                        vs.as_ptr(),
                        w,
                        64,
                        1_000_000,
                        &mut acc
                    ),
                    OK
                );
                assert_eq!(
                    offheap_aggregator_ingest_keys(
                        agg,
                        kb.as_ptr(),
                        kb.len(),
                        ends.as_ptr(),
                        ts.as_ptr(),
                        vs.as_ptr(),
                        w,
                        64,
                        1_000_000,
                        &mut acc
                    ),
                    OK
                );
                assert_eq!(
                    offheap_aggregator_resolve_u64(agg, keys.as_ptr(), 64, ids.as_mut_ptr(), &mut acc),
                    OK
                );
                assert_eq!(
                    offheap_aggregator_ingest_ids(
                        agg,
                        ids.as_ptr(),
                        ts.as_ptr(),
                        vs.as_ptr(),
                        w,
                        64,
                        1_000_000,
                        &mut acc
                    ),
                    OK
                );
            }
            let qs = [0.5, 0.9, 0.99];
            let mut rows = 0;
            assert_eq!(
                offheap_snapshot_take(agg, snap, 2_000_000, qs.as_ptr(), 3, 0, 0, &mut rows),
                OK
            );
            for format in 0..3 {
                assert_eq!(
                    offheap_aggregator_scrape(
                        agg,
                        snap,
                        2_000_000,
                        qs.as_ptr(),
                        3,
                        format,
                        &mut rows
                    ),
                    OK
                );
                let mut buf = [0u8; 4096];
                let mut written = 1usize;
                while written > 0 {
                    assert_eq!(
                        offheap_snapshot_read(agg, snap, buf.as_mut_ptr(), 4096, &mut written),
                        OK
                    );
                }
            }
            assert_eq!(offheap_aggregator_export(agg, snap, 2_000_000, &mut rows), OK);
            let mut removed = 0;
            assert_eq!(offheap_aggregator_remove(agg, 0, 2_000_000, &mut removed), OK);
            assert_eq!(offheap_snapshot_free(snap), OK);
            assert_eq!(offheap_aggregator_free(agg), OK);
        }
        let mut interp = Interp::new();
        interp.free_all();
    });
}

/// The fuzz target body.
/// Runs the program once and checks the baseline; returns the Rust heap growth in bytes.
fn run_once(data: &[u8]) -> i64 {
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
    let mut rc = RelayCounters::default();
    // SAFETY: `rc` is valid.
    assert_eq!(unsafe { offheap_relay_global_stats(&mut rc) }, OK);
    assert_eq!(
        (rc.pipes_live, rc.buffers_live, rc.bulk_buffers_live),
        (0, 0, 0),
        "relay pools not empty after trim"
    );
    assert_eq!(open_fds(), base_fds, "open fds not back to baseline");
    end.heap_live_bytes as i64 - base.heap_live_bytes as i64
}

/// The fuzz target body. The Rust heap must come back exactly to its baseline; a run that
/// leaves bytes behind is run again, and must then leave nothing: a one-time allocation of
/// lazily initialised process state (std or thread machinery reached for the first time by a
/// path the warm-up did not take) is not a leak, while a leak grows on every run.
pub fn run(data: &[u8]) {
    warm_up();
    let grown = run_once(data);
    if grown != 0 {
        let again = run_once(data);
        assert_eq!(
            again, 0,
            "Rust heap not back to baseline: {grown} bytes left by the first run, {again} by the second"
        );
    }
}
