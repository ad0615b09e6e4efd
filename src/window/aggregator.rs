//! The aggregator: sharded series state, batched ingest, ids, eviction and deletion.

use super::batch::{Drop, Rec, ScratchPool, Step};
use super::config::{Config, Derived, Mode, valid_label_list};
use super::hash::{hash_bytes, hash_u64, shard_of};
use super::shard::{KeyRef, Shard};
use super::sketch::{Bucket, SketchParams};
use super::slice::Slice;
use super::{Error, INVALID_ID, MAX_BATCH, OVERFLOW_ID};
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The value columns of a batch: one timestamp (ns), value and optional weight per sample.
#[derive(Clone, Copy, Debug)]
pub struct Samples<'a> {
    /// Sample timestamps in nanoseconds.
    pub timestamps: &'a [i64],
    /// Sample values (NaN and ±Inf are dropped and counted as invalid).
    pub values: &'a [f64],
    /// Optional weights (a sample of weight `w` counts as `w` samples; 0 is invalid).
    pub weights: Option<&'a [u32]>,
}

impl<'a> Samples<'a> {
    /// Unweighted samples.
    pub fn new(timestamps: &'a [i64], values: &'a [f64]) -> Samples<'a> {
        Samples {
            timestamps,
            values,
            weights: None,
        }
    }

    /// Weighted samples.
    pub fn weighted(timestamps: &'a [i64], values: &'a [f64], weights: &'a [u32]) -> Samples<'a> {
        Samples {
            timestamps,
            values,
            weights: Some(weights),
        }
    }
}

/// What happened to each sample of a batch; the fields add up to the batch length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accounting {
    /// Recorded into their own series.
    pub accepted: u64,
    /// Recorded into the overflow series because the series cap was reached.
    pub overflowed: u64,
    /// Dropped: older than the allowed lateness or than the window.
    pub late: u64,
    /// Dropped: newer than `now + max_future`.
    pub future: u64,
    /// Dropped: NaN or infinite value, or weight 0.
    pub invalid: u64,
    /// Dropped: key too long, not UTF-8, or (raw label mode) not a valid label list.
    pub bad_key: u64,
    /// Dropped: the id names an evicted or deleted series.
    pub stale: u64,
}

impl Accounting {
    /// Number of samples accounted for.
    pub fn total(&self) -> u64 {
        self.accepted
            + self.overflowed
            + self.late
            + self.future
            + self.invalid
            + self.bad_key
            + self.stale
    }

    /// Adds `o` field by field.
    pub fn add(&mut self, o: &Accounting) {
        self.accepted += o.accepted;
        self.overflowed += o.overflowed;
        self.late += o.late;
        self.future += o.future;
        self.invalid += o.invalid;
        self.bad_key += o.bad_key;
        self.stale += o.stale;
    }
}

/// Counters of an aggregator since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live series (not counting the overflow series).
    pub series: u64,
    /// Sum of the accounting of every batch.
    pub samples: Accounting,
    /// Series evicted for being idle.
    pub evicted: u64,
    /// Series removed by delete or clear.
    pub deleted: u64,
    /// Snapshots taken.
    pub snapshots: u64,
    /// Bytes of interned byte keys.
    pub key_bytes: u64,
}

#[derive(Default)]
pub(crate) struct Totals {
    fields: [AtomicU64; 7],
    pub(crate) evicted: AtomicU64,
    pub(crate) deleted: AtomicU64,
    snapshots: AtomicU64,
}

impl Totals {
    fn add(&self, a: &Accounting) {
        let v = [
            a.accepted,
            a.overflowed,
            a.late,
            a.future,
            a.invalid,
            a.bad_key,
            a.stale,
        ];
        for (f, x) in self.fields.iter().zip(v) {
            if x != 0 {
                f.fetch_add(x, Relaxed);
            }
        }
    }

    fn get(&self) -> Accounting {
        let f = |i: usize| self.fields[i].load(Relaxed);
        Accounting {
            accepted: f(0),
            overflowed: f(1),
            late: f(2),
            future: f(3),
            invalid: f(4),
            bad_key: f(5),
            stale: f(6),
        }
    }
}

/// The keys of a batch.
#[derive(Clone, Copy)]
pub(crate) enum Keys<'a> {
    Ids(&'a [u64]),
    U64(&'a [u64]),
    Bytes { bytes: &'a [u8], ends: &'a [u32] },
}

impl Keys<'_> {
    fn len(&self) -> usize {
        match self {
            Keys::Ids(k) | Keys::U64(k) => k.len(),
            Keys::Bytes { ends, .. } => ends.len(),
        }
    }

    /// The `u64` key or id of sample `i`, or for byte keys `i` itself (see `target`).
    #[inline(always)]
    fn word(&self, i: usize) -> u64 {
        match *self {
            Keys::U64(k) | Keys::Ids(k) => k[i],
            Keys::Bytes { .. } => i as u64,
        }
    }

    /// Byte key `i` (offsets validated beforehand).
    #[inline]
    fn bytes(&self, i: usize) -> &[u8] {
        match *self {
            Keys::Bytes { bytes, ends } => {
                let start = if i == 0 { 0 } else { ends[i - 1] as usize };
                &bytes[start..ends[i] as usize]
            }
            _ => &[],
        }
    }
}

/// Checks that key end offsets never decrease and stay within the bytes.
pub(crate) fn check_offsets(bytes: &[u8], ends: &[u32]) -> Result<(), Error> {
    let mut prev = 0u32;
    for &e in ends {
        if e < prev {
            return Err(Error::BadOffsets);
        }
        prev = e;
    }
    if prev as usize > bytes.len() {
        Err(Error::BadOffsets)
    } else {
        Ok(())
    }
}

/// Where a sample goes.
enum Target {
    Slot(u32),
    Overflow,
    Rejected(Drop),
}

/// One shard's run of a batch: the batch's keys and weights, the records of pass 1, and the
/// indices of the run's samples.
#[derive(Clone, Copy)]
struct Run<'a> {
    keys: Keys<'a>,
    weights: Option<&'a [u32]>,
    recs: &'a [Rec],
    order: &'a [u32],
}

/// `Step::slot` of a sample bound for the overflow series (slots are below `MAX_SLOTS`).
const TO_OVERFLOW: u32 = u32::MAX - 1;
/// `Step::slot` of a sample whose id names no live series.
const STALE: u32 = u32::MAX - 2;
/// `Step::slot` of a sample whose byte key was rejected.
const BAD_KEY: u32 = u32::MAX - 3;

/// Size of the per-route tables of a batch: routes are shards (at most 256) plus one for
/// dropped samples, a power of two so that masking an index proves it in range.
const ROUTES: usize = 512;

/// Per-shard-run counts of an ingest, added to its accounting at the end.
#[derive(Default)]
struct Tally {
    accepted: u64,
    overflowed: u64,
    late: u64,
    stale: u64,
    bad_key: u64,
}

impl Tally {
    fn add_to(&self, acc: &mut Accounting) {
        acc.accepted += self.accepted;
        acc.overflowed += self.overflowed;
        acc.late += self.late;
        acc.stale += self.stale;
        acc.bad_key += self.bad_key;
    }
}

/// The time checks of one ingest, derived once from `now`.
struct Clock {
    windowed: bool,
    slice_width: i64,
    ring_len: i64,
    late_before: i64,
    future_after: i64,
    oldest_epoch: i64,
    now_epoch: i64,
    /// The slice of `now` is `[now_lo, now_hi)` (clamped to the `i64` range).
    now_lo: i64,
    now_hi: i64,
    now_pos: u32,
    /// Timestamps in `[fast_lo, fast_hi]` are neither late nor future, and of a windowed
    /// series fall into the slice of `now` (empty when `fast_lo > fast_hi`).
    fast_lo: i64,
    fast_hi: i64,
}

impl Clock {
    fn new(cfg: &Config, derived: &Derived, now: i64) -> Clock {
        let late_before =
            now.saturating_sub(i64::try_from(cfg.allowed_lateness).unwrap_or(i64::MAX));
        let future_after = now.saturating_add(i64::try_from(cfg.max_future).unwrap_or(i64::MAX));
        let windowed = cfg.mode != Mode::Cumulative;
        let sw = derived.slice_width;
        let ring_len = derived.ring_len as i64;
        let now_epoch = now.div_euclid(sw);
        let now_lo = now_epoch.saturating_mul(sw);
        let now_hi = now_lo.saturating_add(sw);
        let (fast_lo, fast_hi) = if windowed {
            (now_lo.max(late_before), (now_hi - 1).min(future_after))
        } else {
            (late_before, future_after)
        };
        Clock {
            windowed,
            slice_width: sw,
            ring_len,
            late_before,
            future_after,
            oldest_epoch: now_epoch.saturating_sub(derived.slices as i64 - 1),
            now_epoch,
            now_lo,
            now_hi,
            now_pos: now_epoch.rem_euclid(ring_len) as u32,
            fast_lo,
            fast_hi,
        }
    }

    /// The epoch of `ts` and its ring position (cumulative series record into ring[1]; ring[0]
    /// is their delta base).
    #[inline(always)]
    fn epoch_pos(&self, ts: i64) -> (i64, u32) {
        if !self.windowed {
            (0, 1)
        } else if ts >= self.now_lo && ts < self.now_hi {
            (self.now_epoch, self.now_pos)
        } else {
            self.epoch_pos_outside(ts)
        }
    }

    #[cold]
    #[inline(never)]
    fn epoch_pos_outside(&self, ts: i64) -> (i64, u32) {
        let epoch = ts.div_euclid(self.slice_width);
        (epoch, epoch.rem_euclid(self.ring_len) as u32)
    }

    /// Why a sample outside the fast range is dropped, if it is.
    #[cold]
    #[inline(never)]
    fn check(&self, ts: i64, v: f64, w: u32) -> Result<(), Drop> {
        if !v.is_finite() || w == 0 {
            Err(Drop::Invalid)
        } else if ts > self.future_after {
            Err(Drop::Future)
        } else if ts < self.late_before
            || (self.windowed && ts.div_euclid(self.slice_width) < self.oldest_epoch)
        {
            Err(Drop::Late)
        } else {
            Ok(())
        }
    }
}

/// A windowed aggregator: see the [module docs](super).
pub struct Aggregator {
    pub(crate) cfg: Config,
    pub(crate) derived: Derived,
    pub(crate) params: Option<SketchParams>,
    pub(crate) sketch_params: SketchParams,
    pub(crate) shard_mask: u64,
    pub(crate) shards: Box<[Mutex<Shard>]>,
    /// Ingest holds it shared; snapshots hold it exclusively, so they see whole batches.
    pub(crate) cut: RwLock<()>,
    pub(crate) generation: AtomicU64,
    pub(crate) live: AtomicU64,
    pub(crate) totals: Totals,
    scratch: ScratchPool,
}

impl std::fmt::Debug for Aggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Aggregator")
            .field("cfg", &self.cfg)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Aggregator {
    /// Makes an aggregator, or says which config field is invalid.
    pub fn new(cfg: Config) -> Result<Aggregator, Error> {
        let derived = cfg.validate()?;
        let sketch_params = SketchParams::new(cfg.alpha, cfg.max_buckets)?;
        let shards = (0..cfg.shards)
            .map(|i| Mutex::new(Shard::new(i, derived.ring_len)))
            .collect();
        Ok(Aggregator {
            params: cfg.sketch.then_some(sketch_params),
            sketch_params,
            shard_mask: u64::from(cfg.shards - 1),
            shards,
            cut: RwLock::new(()),
            generation: AtomicU64::new(1),
            live: AtomicU64::new(0),
            totals: Totals::default(),
            scratch: ScratchPool::default(),
            derived,
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The sketch parameters (α and bucket cap) of this aggregator's series.
    pub fn sketch_params(&self) -> SketchParams {
        self.sketch_params
    }

    /// Ingests samples keyed by caller `u64` keys (a series per distinct key).
    pub fn ingest_u64(&self, keys: &[u64], s: Samples<'_>, now: i64) -> Result<Accounting, Error> {
        self.ingest(Keys::U64(keys), s, now)
    }

    /// Ingests samples keyed by byte strings: key `i` is `bytes[ends[i-1]..ends[i]]` (with
    /// `ends[-1] = 0`).
    pub fn ingest_keys(
        &self,
        bytes: &[u8],
        ends: &[u32],
        s: Samples<'_>,
        now: i64,
    ) -> Result<Accounting, Error> {
        self.ingest(Keys::Bytes { bytes, ends }, s, now)
    }

    /// Ingests samples keyed by ids from [`resolve_keys`](Self::resolve_keys) or
    /// [`resolve_u64`](Self::resolve_u64); ids of removed series are counted as `stale`.
    pub fn ingest_ids(&self, ids: &[u64], s: Samples<'_>, now: i64) -> Result<Accounting, Error> {
        self.ingest(Keys::Ids(ids), s, now)
    }

    /// Finds or makes the series of each byte key and writes its id into `out`
    /// ([`OVERFLOW_ID`] beyond the series cap, [`INVALID_ID`] for a rejected key). The
    /// returned accounting counts keys (`accepted`, `overflowed`, `bad_key`).
    pub fn resolve_keys(
        &self,
        bytes: &[u8],
        ends: &[u32],
        out: &mut [u64],
    ) -> Result<Accounting, Error> {
        self.resolve(Keys::Bytes { bytes, ends }, out)
    }

    /// Finds or makes the series of each caller `u64` key and writes its id into `out`.
    pub fn resolve_u64(&self, keys: &[u64], out: &mut [u64]) -> Result<Accounting, Error> {
        self.resolve(Keys::U64(keys), out)
    }

    /// Counters since creation (cheap: no series walk).
    pub fn stats(&self) -> Stats {
        let key_bytes = self.shards.iter().map(|s| s.lock().key_bytes as u64).sum();
        Stats {
            series: self.live.load(Relaxed),
            samples: self.totals.get(),
            evicted: self.totals.evicted.load(Relaxed),
            deleted: self.totals.deleted.load(Relaxed),
            snapshots: self.totals.snapshots.load(Relaxed),
            key_bytes,
        }
    }

    /// Bytes of Rust heap the series state holds (walks every series).
    pub fn heap_bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().heap_bytes())
            .sum::<usize>()
            + std::mem::size_of::<Self>()
    }

    fn validate_batch(&self, keys: &Keys<'_>, s: &Samples<'_>) -> Result<usize, Error> {
        let n = keys.len();
        if s.timestamps.len() != n || s.values.len() != n || s.weights.is_some_and(|w| w.len() != n)
        {
            return Err(Error::LengthMismatch);
        }
        if n > MAX_BATCH {
            return Err(Error::BatchTooLarge);
        }
        if let Keys::Bytes { bytes, ends } = keys {
            check_offsets(bytes, ends)?;
        }
        Ok(n)
    }

    /// Shard and hash of key `i`, or `None` if the key is dropped before routing.
    #[inline(always)]
    fn route(&self, keys: &Keys<'_>, i: usize) -> Result<(usize, u64), Drop> {
        match *keys {
            Keys::Ids(ids) => {
                let id = ids[i];
                if id == OVERFLOW_ID {
                    Ok((0, 0))
                } else {
                    let shard = (id & 0xff) as usize;
                    if shard < self.shards.len() && id != INVALID_ID {
                        Ok((shard, 0))
                    } else {
                        Err(Drop::Stale)
                    }
                }
            }
            Keys::U64(k) => {
                let h = hash_u64(k[i]);
                Ok((shard_of(h, self.shard_mask), h))
            }
            Keys::Bytes { .. } => {
                let b = keys.bytes(i);
                if b.len() > self.cfg.max_key_len as usize {
                    return Err(Drop::BadKey);
                }
                let h = hash_bytes(b);
                Ok((shard_of(h, self.shard_mask), h))
            }
        }
    }

    fn ingest(&self, keys: Keys<'_>, s: Samples<'_>, now: i64) -> Result<Accounting, Error> {
        let n = self.validate_batch(&keys, &s)?;
        let mut acc = Accounting::default();
        if n == 0 {
            return Ok(acc);
        }
        let clock = Clock::new(&self.cfg, &self.derived, now);
        let _cut = self.cut.read();
        let generation = self.generation.load(Relaxed);
        let mut scratch = self.scratch.take();
        let sc = &mut scratch;
        let shards = self.shards.len();
        // Pass 1: check each sample, drop what needs no series, and route the rest.
        sc.route.resize(n, 0);
        sc.recs.resize(n, Rec::default());
        sc.order.resize(n, 0);
        let mut counts = [0u32; ROUTES];
        self.route_batch(
            keys,
            s,
            &clock,
            &mut sc.route[..n],
            &mut sc.recs[..n],
            &mut counts,
            &mut acc,
        );
        // Pass 2: counting sort of the sample indices by route (shards are at most 256, so
        // routes are at most 256 < ROUTES): one contiguous run per shard, then the dropped.
        let mut starts = [0u32; ROUTES];
        let mut total = 0u32;
        for (start, &c) in starts.iter_mut().zip(&counts).take(shards + 2) {
            *start = total;
            total += c;
        }
        let mut next = starts;
        for (i, &r) in sc.route[..n].iter().enumerate() {
            let at = &mut next[r as usize & (ROUTES - 1)];
            if let Some(o) = sc.order.get_mut(*at as usize) {
                *o = i as u32;
            }
            *at += 1;
        }
        // Pass 3: one lock per shard.
        let mut tally = Tally::default();
        for shard in 0..shards {
            let (a, b) = (starts[shard] as usize, starts[shard + 1] as usize);
            if a == b {
                continue;
            }
            let mut sh = self.shards[shard].lock();
            let run = Run {
                keys,
                weights: s.weights,
                recs: &sc.recs[..n],
                order: &sc.order[a..b],
            };
            self.apply_run(&mut sh, run, &mut sc.steps, &clock, generation, &mut tally);
        }
        tally.add_to(&mut acc);
        self.scratch.put(scratch);
        self.totals.add(&acc);
        Ok(acc)
    }

    /// Pass 1 of ingest: one copy of the loop per key kind and weighting, so that the
    /// per-sample code has no branch on either (the known variant folds away once inlined).
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn route_batch(
        &self,
        keys: Keys<'_>,
        s: Samples<'_>,
        clock: &Clock,
        route: &mut [u16],
        recs: &mut [Rec],
        counts: &mut [u32; ROUTES],
        acc: &mut Accounting,
    ) {
        let (ts, v) = (s.timestamps, s.values);
        match (keys, s.weights) {
            (Keys::U64(k), None) => {
                self.route_as(Keys::U64(k), ts, v, None, clock, route, recs, counts, acc)
            }
            (Keys::Ids(k), None) => {
                self.route_as(Keys::Ids(k), ts, v, None, clock, route, recs, counts, acc)
            }
            (Keys::Bytes { bytes, ends }, None) => {
                let keys = Keys::Bytes { bytes, ends };
                self.route_as(keys, ts, v, None, clock, route, recs, counts, acc)
            }
            (Keys::U64(k), Some(w)) => self.route_as(
                Keys::U64(k),
                ts,
                v,
                Some(w),
                clock,
                route,
                recs,
                counts,
                acc,
            ),
            (Keys::Ids(k), Some(w)) => self.route_as(
                Keys::Ids(k),
                ts,
                v,
                Some(w),
                clock,
                route,
                recs,
                counts,
                acc,
            ),
            (Keys::Bytes { bytes, ends }, Some(w)) => {
                let keys = Keys::Bytes { bytes, ends };
                self.route_as(keys, ts, v, Some(w), clock, route, recs, counts, acc)
            }
        }
    }

    /// Checks each sample, counts the dropped ones, and writes the shard (`route`, the shard
    /// count for a dropped sample) and record of the others. Samples inside the current slice
    /// and the time limits take one range check.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn route_as(
        &self,
        keys: Keys<'_>,
        ts_col: &[i64],
        v_col: &[f64],
        w_col: Option<&[u32]>,
        clock: &Clock,
        route: &mut [u16],
        recs: &mut [Rec],
        counts: &mut [u32; ROUTES],
        acc: &mut Accounting,
    ) {
        let n = route.len().min(recs.len());
        let (ts_col, v_col) = (&ts_col[..n], &v_col[..n]);
        let w_col = w_col.map(|w| &w[..n]);
        let dropped = self.shards.len();
        let (fast_lo, fast_hi) = (clock.fast_lo, clock.fast_hi);
        for (i, (route, rec)) in route[..n].iter_mut().zip(&mut recs[..n]).enumerate() {
            let (ts, v) = (ts_col[i], v_col[i]);
            let w = w_col.map_or(1, |w| w[i]);
            let fast = (ts >= fast_lo) & (ts <= fast_hi) & v.is_finite() & (w != 0);
            let checked = if fast { Ok(()) } else { clock.check(ts, v, w) };
            let r = match checked {
                Ok(()) => self.route(&keys, i),
                Err(d) => Err(d),
            };
            let shard = match r {
                Ok((shard, h)) => {
                    *rec = Rec {
                        hash: h,
                        key: keys.word(i),
                        ts,
                        v,
                    };
                    shard
                }
                Err(d) => {
                    d.count(acc);
                    dropped
                }
            };
            *route = shard as u16;
            counts[shard & (ROUTES - 1)] += 1;
        }
    }

    /// Pass 3 over one shard's run of samples: one copy per key kind and weighting, as in
    /// [`route_batch`](Self::route_batch).
    #[inline(never)]
    fn apply_run(
        &self,
        sh: &mut Shard,
        run: Run<'_>,
        steps: &mut Vec<Step>,
        clock: &Clock,
        generation: u64,
        tally: &mut Tally,
    ) {
        let Run {
            keys,
            weights,
            recs,
            order,
        } = run;
        let mut go = |keys: Keys<'_>, weights: Option<&[u32]>| {
            let run = Run {
                keys,
                weights,
                recs,
                order,
            };
            self.apply_run_as(sh, run, steps, clock, generation, tally)
        };
        match (keys, weights) {
            (Keys::U64(k), None) => go(Keys::U64(k), None),
            (Keys::Ids(k), None) => go(Keys::Ids(k), None),
            (Keys::Bytes { bytes, ends }, None) => go(Keys::Bytes { bytes, ends }, None),
            (Keys::U64(k), Some(w)) => go(Keys::U64(k), Some(w)),
            (Keys::Ids(k), Some(w)) => go(Keys::Ids(k), Some(w)),
            (Keys::Bytes { bytes, ends }, Some(w)) => go(Keys::Bytes { bytes, ends }, Some(w)),
        }
    }

    /// Applies a shard's run in steps over the whole run, so that the cache misses of many
    /// samples overlap: find (or make) each sample's series, compute its bucket and prefetch
    /// its slice and series record; then (with sketches) prefetch each slice's sketch header;
    /// then each bucket's counter; then record each sample.
    #[inline(always)]
    fn apply_run_as(
        &self,
        sh: &mut Shard,
        run: Run<'_>,
        steps: &mut Vec<Step>,
        clock: &Clock,
        generation: u64,
        tally: &mut Tally,
    ) {
        // Key index entries are prefetched this many samples ahead.
        const AHEAD: usize = 8;
        // Shards with this many series prefetch sketch headers too.
        const FAR: usize = 4096;
        let Run {
            keys,
            weights: w_col,
            recs,
            order,
        } = run;
        let params = self.params.as_ref();
        // Every step below order.len() is written: no need to clear.
        steps.resize(order.len(), Step::default());
        let steps = &mut steps[..order.len()];
        for (j, (&i, out)) in order.iter().zip(steps.iter_mut()).enumerate() {
            if let Some(r) = order.get(j + AHEAD).and_then(|&i| recs.get(i as usize)) {
                sh.prefetch_key(r.hash);
            }
            let Some(r) = recs.get(i as usize) else {
                *out = Step::default();
                continue;
            };
            let (epoch, pos) = clock.epoch_pos(r.ts);
            let (at, slot) = match self.find_slot(sh, &keys, r.key, r.hash) {
                Some(slot) => (sh.slice_index(slot, pos), slot),
                None => self.target_slow(sh, &keys, r, pos, generation),
            };
            let bucket = match params {
                Some(p) => p.bucket_finite(r.v),
                None => Bucket::None,
            };
            *out = Step {
                at,
                epoch,
                bucket,
                i,
                slot,
            };
            sh.prefetch_step(out);
        }
        if params.is_some() {
            // Sketch headers of a small shard stay in cache: the bucket step loads them.
            if sh.live >= FAR {
                for step in steps.iter() {
                    sh.prefetch_sketch(step.at);
                }
            }
            for step in steps.iter() {
                sh.prefetch_bucket(step.at, step.bucket);
            }
        }
        let windowed = clock.windowed;
        let (mut accepted, mut late) = (0, 0);
        for step in steps.iter() {
            let i = step.i as usize;
            let Some(r) = recs.get(i) else { continue };
            let w = w_col.map_or(1, |w| w.get(i).copied().unwrap_or(0));
            if let Some(sl) = sh.slices.get_mut(step.at) {
                if Self::record(sl, windowed, step.epoch, r, w, params, step.bucket) {
                    // The series' newest sample time and change time are read from its
                    // slices (`Shard::last_ts`, `Shard::changed_at`): no `Meta` to update.
                    sl.changed_at = generation;
                    accepted += 1;
                } else {
                    late += 1;
                }
            } else {
                self.apply_other(sh, step, r, w, clock, generation, tally);
            }
        }
        tally.accepted += accepted;
        tally.late += late;
    }

    /// Records a sample of the overflow series, or counts why a sample was rejected.
    #[allow(clippy::too_many_arguments)]
    #[cold]
    #[inline(never)]
    fn apply_other(
        &self,
        sh: &mut Shard,
        step: &Step,
        rec: &Rec,
        w: u32,
        clock: &Clock,
        generation: u64,
        tally: &mut Tally,
    ) {
        match step.slot {
            TO_OVERFLOW => {
                let (epoch, pos) = clock.epoch_pos(rec.ts);
                let params = self.params.as_ref();
                let sl = sh.overflow.ring.get_mut(pos as usize);
                if sl.is_some_and(|sl| {
                    Self::record(sl, clock.windowed, epoch, rec, w, params, step.bucket)
                }) {
                    sh.overflow.used = true;
                    sh.overflow.changed_at = generation;
                    tally.overflowed += 1;
                } else {
                    tally.late += 1;
                }
            }
            STALE => tally.stale += 1,
            BAD_KEY => tally.bad_key += 1,
            _ => tally.late += 1,
        }
    }

    /// The slot of the live series of a sample (`key` is its `u64` key or id, or for byte
    /// keys its index in the batch), if it has one; ids of removed series have none.
    #[inline(always)]
    fn find_slot(&self, sh: &Shard, keys: &Keys<'_>, key: u64, h: u64) -> Option<u32> {
        match *keys {
            Keys::Ids(_) => sh.slot_of_id(key),
            Keys::U64(_) => sh.find(h, KeyRef::U64(key)),
            Keys::Bytes { .. } => sh.find(h, KeyRef::Bytes(keys.bytes(key as usize))),
        }
    }

    /// Where a sample without a live series goes: a new series (its slice index at ring
    /// position `pos` and slot), or no slice and [`TO_OVERFLOW`], [`STALE`] or [`BAD_KEY`].
    #[cold]
    #[inline(never)]
    fn target_slow(
        &self,
        sh: &mut Shard,
        keys: &Keys<'_>,
        r: &Rec,
        pos: u32,
        generation: u64,
    ) -> (usize, u32) {
        match self.target(sh, keys, r.key, r.hash, generation) {
            Target::Slot(slot) => (sh.slice_index(slot, pos), slot),
            Target::Overflow => (usize::MAX, TO_OVERFLOW),
            Target::Rejected(Drop::Stale) => (usize::MAX, STALE),
            Target::Rejected(_) => (usize::MAX, BAD_KEY),
        }
    }

    /// Finds (or makes) the series of a sample: `key` is the sample's `u64` key or id, or for
    /// byte keys the sample's index.
    #[inline(always)]
    fn target(&self, sh: &mut Shard, keys: &Keys<'_>, key: u64, h: u64, generation: u64) -> Target {
        let key = match *keys {
            Keys::Ids(_) => {
                let id = key;
                if id == OVERFLOW_ID {
                    return Target::Overflow;
                }
                return match sh.slot_of_id(id) {
                    Some(slot) => Target::Slot(slot),
                    None => Target::Rejected(Drop::Stale),
                };
            }
            Keys::U64(_) => KeyRef::U64(key),
            Keys::Bytes { .. } => KeyRef::Bytes(keys.bytes(key as usize)),
        };
        if let Some(slot) = sh.find(h, key) {
            return Target::Slot(slot);
        }
        self.create(sh, h, key, generation)
    }

    #[cold]
    #[inline(never)]
    fn create(&self, sh: &mut Shard, h: u64, key: KeyRef<'_>, generation: u64) -> Target {
        if let KeyRef::Bytes(b) = key {
            let ok = std::str::from_utf8(b).is_ok()
                && (!self.cfg.key_label.is_empty() || valid_label_list(b));
            if !ok {
                return Target::Rejected(Drop::BadKey);
            }
        }
        if self.live.fetch_add(1, Relaxed) >= self.cfg.max_series {
            self.live.fetch_sub(1, Relaxed);
            return Target::Overflow;
        }
        match sh.insert(h, key, generation) {
            Some(slot) => Target::Slot(slot),
            None => {
                self.live.fetch_sub(1, Relaxed);
                Target::Overflow
            }
        }
    }

    /// Records a sample with weight `w` into its slice (for `epoch`; cumulative series have
    /// one epoch), and into its sketch at `bucket` when the aggregator keeps sketches;
    /// `false` if that slice was already reused for a later epoch.
    #[inline(always)]
    fn record(
        sl: &mut Slice,
        windowed: bool,
        epoch: i64,
        rec: &Rec,
        w: u32,
        params: Option<&SketchParams>,
        bucket: Bucket,
    ) -> bool {
        if windowed && sl.epoch != epoch {
            if sl.epoch > epoch {
                return false;
            }
            sl.reset(epoch);
        }
        sl.record_bucket(rec.ts, rec.v, u64::from(w), params.map(|p| (p, bucket)));
        true
    }

    /// The window of `ring` at `now`: the one slice inside it when only one holds samples (no
    /// copy), else the slices merged into `acc` (which must be empty).
    pub(crate) fn window_of<'a>(
        &self,
        ring: &'a [Slice],
        now: i64,
        acc: &'a mut Slice,
    ) -> &'a Slice {
        if self.cfg.mode != Mode::Cumulative {
            let now_epoch = now.div_euclid(self.derived.slice_width);
            let first = now_epoch.saturating_sub(self.derived.slices as i64 - 1);
            let mut only: Option<&Slice> = None;
            let mut many = false;
            for sl in ring {
                if sl.count > 0 && sl.epoch >= first && sl.epoch <= now_epoch {
                    many |= only.is_some();
                    only = Some(sl);
                }
            }
            match (only, many) {
                (None, _) => return acc,
                (Some(sl), false) => return sl,
                _ => {}
            }
        }
        self.read_window(ring, now, acc);
        acc
    }

    /// Merges the slices of `ring` inside the window at `now` into `acc` (in time order).
    pub(crate) fn read_window(&self, ring: &[Slice], now: i64, acc: &mut Slice) {
        let params = self.params.as_ref();
        if self.cfg.mode == Mode::Cumulative {
            acc.merge_from(&ring[0], params);
            acc.merge_from(&ring[1], params);
            return;
        }
        let now_epoch = now.div_euclid(self.derived.slice_width);
        let first = now_epoch.saturating_sub(self.derived.slices as i64 - 1);
        // Counted, not `while e <= now_epoch`, which would overflow at i64::MAX.
        for k in 0..=now_epoch.saturating_sub(first) {
            let e = first + k;
            let sl = &ring[e.rem_euclid(ring.len() as i64) as usize];
            if sl.epoch == e {
                acc.merge_from(sl, params);
            }
        }
    }

    fn resolve(&self, keys: Keys<'_>, out: &mut [u64]) -> Result<Accounting, Error> {
        let n = keys.len();
        if out.len() != n {
            return Err(Error::LengthMismatch);
        }
        if n > MAX_BATCH {
            return Err(Error::BatchTooLarge);
        }
        if let Keys::Bytes { bytes, ends } = keys {
            check_offsets(bytes, ends)?;
        }
        let mut acc = Accounting::default();
        let _cut = self.cut.read();
        let generation = self.generation.load(Relaxed);
        // Resolving happens once per series, not per sample: a lock per key is fine here.
        for (i, id) in out.iter_mut().enumerate() {
            *id = match self.route(&keys, i) {
                Err(_) => {
                    acc.bad_key += 1;
                    INVALID_ID
                }
                Ok((shard, h)) => {
                    let mut sh = self.shards[shard].lock();
                    match self.target(&mut sh, &keys, keys.word(i), h, generation) {
                        Target::Slot(slot) => {
                            acc.accepted += 1;
                            sh.id(slot)
                        }
                        Target::Overflow => {
                            acc.overflowed += 1;
                            OVERFLOW_ID
                        }
                        Target::Rejected(d) => {
                            d.count(&mut acc);
                            INVALID_ID
                        }
                    }
                }
            };
        }
        Ok(acc)
    }

    pub(crate) fn count_snapshot(&self) {
        self.totals.snapshots.fetch_add(1, Relaxed);
    }

    pub(crate) fn try_reserve_series(&self) -> bool {
        if self.live.fetch_add(1, Relaxed) >= self.cfg.max_series {
            self.live.fetch_sub(1, Relaxed);
            false
        } else {
            true
        }
    }

    pub(crate) fn release_series(&self) {
        self.live.fetch_sub(1, Relaxed);
    }

    pub(crate) fn shard_for(&self, h: u64) -> usize {
        shard_of(h, self.shard_mask)
    }
}
