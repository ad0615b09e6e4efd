//! The ingest pipeline: a batch of samples checked, routed to shards and recorded in three
//! passes, and keys resolved to series ids.
//!
//! Pass 1 ([`Ingest::route`]) checks each sample's value, weight and time, counts what is
//! dropped before reaching a series, and computes the shard and hash of the rest; pass 2
//! groups the sample indices by shard (a counting sort); pass 3 ([`Ingest::apply_run`]) takes
//! each shard's lock once and records the shard's run in steps that overlap the cache misses
//! of many samples. Every pass is generic over the key column and the weights (`keys.rs`):
//! the public entry point picks the key kind, [`Ingest::samples`] the weighting, and each
//! combination is compiled into its own loops.

use super::accounting::{Accounting, DropReason};
use super::batch::{Rec, ScratchPool, Step};
use super::bucket::Bucket;
use super::clock::Clock;
use super::config::Config;
use super::id::MAX_SHARDS;
use super::keys::{KeyColumn, Lookup, Unweighted, Weights};
use super::rings::Rings;
use super::shard::{KeyRef, Shard};
use super::sketch::SketchParams;
use super::slice::{Lifetime, SliceMut};
use super::store::Store;
use super::{Error, INVALID_ID, MAX_BATCH, OVERFLOW_ID};

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

/// Where a sample goes.
enum Target {
    Slot(u32),
    Overflow,
    Rejected(DropReason),
}

/// One shard's run of a batch: the batch's keys and weights, the records of pass 1, and the
/// indices of the run's samples.
#[derive(Clone, Copy)]
struct Run<'a, K, W> {
    keys: K,
    weights: W,
    recs: &'a [Rec],
    order: &'a [u32],
}

/// `Step::slot` of a sample bound for the overflow series (slots are below `id::MAX_SLOTS`).
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

/// The parts of an aggregator an ingest or a resolve uses, borrowed for one call.
#[derive(Clone, Copy)]
pub(super) struct Ingest<'a> {
    pub(super) cfg: &'a Config,
    pub(super) rings: &'a Rings,
    pub(super) store: &'a Store,
    pub(super) scratch: &'a ScratchPool,
}

impl Ingest<'_> {
    /// Ingests a batch keyed by `keys`: the body of the `Aggregator::ingest_*` calls.
    pub(super) fn samples<'k, K: KeyColumn<'k>>(
        &self,
        keys: K,
        s: Samples<'_>,
        now: i64,
    ) -> Result<Accounting, Error> {
        let n = keys.len();
        if s.timestamps.len() != n || s.values.len() != n || s.weights.is_some_and(|w| w.len() != n)
        {
            return Err(Error::LengthMismatch);
        }
        if n > MAX_BATCH {
            return Err(Error::BatchTooLarge);
        }
        keys.check()?;
        if n == 0 {
            return Ok(Accounting::default());
        }
        match s.weights {
            None => Ok(self.run(keys, Unweighted, s.timestamps, s.values, now)),
            Some(w) => Ok(self.run(keys, w, s.timestamps, s.values, now)),
        }
    }

    /// Finds or makes the series of each key and writes its id into `out`: the body of the
    /// `Aggregator::resolve_*` calls.
    pub(super) fn resolve<'k, K: KeyColumn<'k>>(
        &self,
        keys: K,
        out: &mut [u64],
    ) -> Result<Accounting, Error> {
        let n = keys.len();
        if out.len() != n {
            return Err(Error::LengthMismatch);
        }
        if n > MAX_BATCH {
            return Err(Error::BatchTooLarge);
        }
        keys.check()?;
        let mut acc = Accounting::default();
        let _change = self.store.change();
        let generation = self.store.generation();
        let (shards, max_key_len) = (self.store.shard_map(), self.cfg.max_key_len as usize);
        // Resolving happens once per series, not per sample: a lock per key is fine here.
        for (i, id) in out.iter_mut().enumerate() {
            *id = match keys.route(i, shards, max_key_len) {
                Err(_) => {
                    acc.bad_key += 1;
                    INVALID_ID
                }
                Ok((shard, h)) => {
                    let mut sh = self.store.lock(shard);
                    match self.target(&mut sh, keys, keys.word(i), h, generation) {
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

    /// The three passes over a checked, non-empty batch of `ts.len()` samples.
    fn run<'k, K: KeyColumn<'k>, W: Weights>(
        &self,
        keys: K,
        weights: W,
        ts: &[i64],
        v: &[f64],
        now: i64,
    ) -> Accounting {
        let n = ts.len();
        let mut acc = Accounting::default();
        let clock = Clock::new(self.cfg, self.rings, now);
        let _change = self.store.change();
        let generation = self.store.generation();
        let mut scratch = self.scratch.take();
        let sc = &mut scratch;
        let shards = self.store.shard_count();
        // Pass 1: check each sample, drop what needs no series, and route the rest.
        sc.route.resize(n, 0);
        sc.recs.resize(n, Rec::default());
        sc.order.resize(n, 0);
        let mut counts = [0u32; ROUTES];
        self.route(
            keys,
            weights,
            ts,
            v,
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
        // Pass 3: one lock per shard. Batches running at once (goroutines ingesting into one
        // aggregator) would walk the shards in the same order, each waiting on every shard the
        // one ahead of it holds: a batch starts at a shard of its own, applies the runs of the
        // shards no other batch holds, and waits only for the busy ones, at the end.
        let mut tally = Tally::default();
        let run_of = |shard: usize| Run {
            keys,
            weights,
            recs: &sc.recs[..n],
            order: &sc.order[starts[shard] as usize..starts[shard + 1] as usize],
        };
        let first = self.store.first_shard();
        let mut busy = [0u16; MAX_SHARDS];
        let mut waiting = 0;
        for i in 0..shards {
            let shard = (first + i) & (shards - 1);
            if starts[shard] == starts[shard + 1] {
                continue;
            }
            match self.store.try_lock(shard) {
                Some(mut sh) => {
                    let run = run_of(shard);
                    self.apply_run(&mut sh, run, &mut sc.steps, &clock, generation, &mut tally);
                }
                None => {
                    busy[waiting] = shard as u16;
                    waiting += 1;
                }
            }
        }
        for &shard in &busy[..waiting] {
            let shard = usize::from(shard);
            let mut sh = self.store.lock(shard);
            let run = run_of(shard);
            self.apply_run(&mut sh, run, &mut sc.steps, &clock, generation, &mut tally);
        }
        tally.add_to(&mut acc);
        self.scratch.put(scratch);
        self.store.totals().add(&acc);
        acc
    }

    /// Pass 1: checks each sample, counts the dropped ones, and writes the shard (`route`, the
    /// shard count for a dropped sample) and record of the others. Samples inside the current
    /// slice and the time limits take one range check.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn route<'k, K: KeyColumn<'k>, W: Weights>(
        &self,
        keys: K,
        w_col: W,
        ts_col: &[i64],
        v_col: &[f64],
        clock: &Clock,
        route: &mut [u16],
        recs: &mut [Rec],
        counts: &mut [u32; ROUTES],
        acc: &mut Accounting,
    ) {
        let n = route.len().min(recs.len());
        let (keys, w_col) = (keys.first(n), w_col.first(n));
        let (ts_col, v_col) = (&ts_col[..n], &v_col[..n]);
        let shards = self.store.shard_map();
        let dropped = shards.count();
        let max_key_len = self.cfg.max_key_len as usize;
        let (fast_lo, fast_hi) = (clock.fast_lo, clock.fast_hi);
        for (i, (route, rec)) in route[..n].iter_mut().zip(&mut recs[..n]).enumerate() {
            let (ts, v) = (ts_col[i], v_col[i]);
            let w = w_col.weight(i);
            let fast = (ts >= fast_lo) & (ts <= fast_hi) & v.is_finite() & (w != 0);
            let checked = if fast { Ok(()) } else { clock.check(ts, v, w) };
            let r = match checked {
                Ok(()) => keys.route(i, shards, max_key_len),
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

    /// Pass 3 over one shard's run, in steps over the whole run so that the cache misses of
    /// many samples overlap: find (or make) each sample's series, compute its bucket and
    /// prefetch its slice; then (with sketches, in large shards) prefetch each dense store's
    /// header, then each bucket's counter; then record each sample.
    #[inline(never)]
    fn apply_run<'k, K: KeyColumn<'k>, W: Weights>(
        &self,
        sh: &mut Shard,
        run: Run<'_, K, W>,
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
        let params = self.rings.params();
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
            let (at, slot) = match find_slot(sh, keys, r.key, r.hash) {
                Some(slot) => (sh.slice_index(slot, pos), slot),
                None => self.target_slow(sh, keys, r, pos, generation),
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
            sh.prefetch_slice(at);
        }
        // The dense stores of a small shard stay in cache, and inline buckets come with their
        // slice: only large shards prefetch store headers, then bucket counters.
        if params.is_some() && sh.live() >= FAR {
            for step in steps.iter() {
                sh.prefetch_sketch(step.at);
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
            let w = w_col.weight(i);
            if let Some((mut sl, folded)) = sh.slice_mut(step.at) {
                if record(
                    &mut sl,
                    folded,
                    windowed,
                    step.epoch,
                    r,
                    w,
                    params,
                    step.bucket,
                ) {
                    // The series' newest sample time and change time are read from its
                    // slices (`Shard::last_ts`, `Shard::changed_at`): no `Meta` to update.
                    sl.moments.changed_at = generation;
                    accepted += 1;
                } else {
                    late += 1;
                }
            } else {
                apply_other(sh, step, r, w, clock, params, generation, tally);
            }
        }
        tally.accepted += accepted;
        tally.late += late;
    }

    /// Where a sample without a live series goes: a new series (its slice index at ring
    /// position `pos` and slot), or no slice and [`TO_OVERFLOW`], [`STALE`] or [`BAD_KEY`].
    #[cold]
    #[inline(never)]
    fn target_slow<'k, K: KeyColumn<'k>>(
        &self,
        sh: &mut Shard,
        keys: K,
        r: &Rec,
        pos: u32,
        generation: u64,
    ) -> (usize, u32) {
        match self.target(sh, keys, r.key, r.hash, generation) {
            Target::Slot(slot) => (sh.slice_index(slot, pos), slot),
            Target::Overflow => (usize::MAX, TO_OVERFLOW),
            Target::Rejected(DropReason::Stale) => (usize::MAX, STALE),
            Target::Rejected(_) => (usize::MAX, BAD_KEY),
        }
    }

    /// Finds (or makes) the series of a sample whose record word is `word` and key hash `h`.
    #[inline(always)]
    fn target<'k, K: KeyColumn<'k>>(
        &self,
        sh: &mut Shard,
        keys: K,
        word: u64,
        h: u64,
        generation: u64,
    ) -> Target {
        let key = match keys.lookup(word) {
            Lookup::Id(OVERFLOW_ID) => return Target::Overflow,
            Lookup::Id(id) => {
                return match sh.slot_of_id(id) {
                    Some(slot) => Target::Slot(slot),
                    None => Target::Rejected(DropReason::Stale),
                };
            }
            Lookup::Key(key) => key,
        };
        if let Some(slot) = sh.find(h, key) {
            return Target::Slot(slot);
        }
        self.create(sh, h, key, generation)
    }

    /// Makes the series of a key, or says why it has none.
    #[cold]
    #[inline(never)]
    fn create(&self, sh: &mut Shard, h: u64, key: KeyRef<'_>, generation: u64) -> Target {
        let accepted = match key {
            KeyRef::Bytes(b) => self.cfg.accepts_key(b),
            KeyRef::U64(_) => self.cfg.accepts_u64_keys(),
        };
        if !accepted {
            return Target::Rejected(DropReason::BadKey);
        }
        match self.store.create(sh, h, key, generation) {
            Some(slot) => Target::Slot(slot),
            None => Target::Overflow,
        }
    }
}

/// The slot of the live series of a sample (its record `word` and key hash `h`), if it has
/// one; ids of removed series have none.
#[inline(always)]
fn find_slot<'k, K: KeyColumn<'k>>(sh: &Shard, keys: K, word: u64, h: u64) -> Option<u32> {
    match keys.lookup(word) {
        Lookup::Id(id) => sh.slot_of_id(id),
        Lookup::Key(key) => sh.find(h, key),
    }
}

/// Records a sample of the overflow series, or counts why a sample was rejected.
#[allow(clippy::too_many_arguments)]
#[cold]
#[inline(never)]
fn apply_other(
    sh: &mut Shard,
    step: &Step,
    rec: &Rec,
    w: u32,
    clock: &Clock,
    params: Option<&SketchParams>,
    generation: u64,
    tally: &mut Tally,
) {
    match step.slot {
        TO_OVERFLOW => {
            let (epoch, pos) = clock.epoch_pos(rec.ts);
            let sl = sh.overflow.slice_mut(pos as usize);
            if sl.is_some_and(|(mut sl, folded)| {
                record(
                    &mut sl,
                    folded,
                    clock.windowed,
                    epoch,
                    rec,
                    w,
                    params,
                    step.bucket,
                )
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

/// Records a sample with weight `w` into its slice (for `epoch`; cumulative series have
/// one epoch), and into its sketch at `bucket` when the aggregator keeps sketches;
/// `false` if that slice was already reused for a later epoch. A slice emptied for the
/// sample's later epoch adds what it held to `folded`, its series' lifetime totals.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn record(
    sl: &mut SliceMut<'_>,
    folded: &mut Lifetime,
    windowed: bool,
    epoch: i64,
    rec: &Rec,
    w: u32,
    params: Option<&SketchParams>,
    bucket: Bucket,
) -> bool {
    if windowed && sl.moments.epoch != epoch {
        if sl.moments.epoch > epoch {
            return false;
        }
        sl.rotate(epoch, folded);
    }
    sl.record_bucket(rec.ts, rec.v, u64::from(w), params.map(|p| (p, bucket)));
    true
}
