//! The aggregator: sharded series state, batched ingest, ids, eviction and deletion.

use super::batch::{DROPPED, Drop, NO_SLOT, Prepared, ScratchPool};
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
    Rejected,
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
        // One copy of the loop per key kind and weighting, so that the per-sample code has no
        // branch on either (the known variant folds away once inlined).
        match (keys, s.weights.is_some()) {
            (Keys::U64(k), false) => {
                self.ingest_as(Keys::U64(k), Samples::new(s.timestamps, s.values), now)
            }
            (Keys::Ids(k), false) => {
                self.ingest_as(Keys::Ids(k), Samples::new(s.timestamps, s.values), now)
            }
            (Keys::Bytes { bytes, ends }, false) => self.ingest_as(
                Keys::Bytes { bytes, ends },
                Samples::new(s.timestamps, s.values),
                now,
            ),
            (Keys::U64(k), true) => self.ingest_as(Keys::U64(k), s, now),
            (Keys::Ids(k), true) => self.ingest_as(Keys::Ids(k), s, now),
            (Keys::Bytes { bytes, ends }, true) => {
                self.ingest_as(Keys::Bytes { bytes, ends }, s, now)
            }
        }
    }

    #[inline(always)]
    fn ingest_as(&self, keys: Keys<'_>, s: Samples<'_>, now: i64) -> Result<Accounting, Error> {
        let n = self.validate_batch(&keys, &s)?;
        let mut acc = Accounting::default();
        if n == 0 {
            return Ok(acc);
        }
        let late_before =
            now.saturating_sub(i64::try_from(self.cfg.allowed_lateness).unwrap_or(i64::MAX));
        let future_after =
            now.saturating_add(i64::try_from(self.cfg.max_future).unwrap_or(i64::MAX));
        let windowed = self.cfg.mode != Mode::Cumulative;
        let sw = self.derived.slice_width;
        let oldest_epoch = now
            .div_euclid(sw)
            .saturating_sub(self.derived.slices as i64 - 1);
        let _cut = self.cut.read();
        let generation = self.generation.load(Relaxed);
        // Not a closure: this body must be inlined into each specialized copy.
        let mut scratch = self.scratch.take();
        let sc = &mut scratch;
        {
            // Pass 1: drop what needs no series, prepare the rest (hash, slice) and count them
            // per shard. The scratch columns are sized once and written by index.
            sc.route.resize(n, 0);
            sc.prepared.resize(n, Prepared::default());
            // Most samples fall in the slice of `now`: find that without a division.
            let now_epoch = now.div_euclid(sw);
            let now_lo = now_epoch.saturating_mul(sw);
            let now_hi = now_lo.saturating_add(sw);
            let ring_len = self.derived.ring_len as i64;
            let now_pos = now_epoch.rem_euclid(ring_len) as u32;
            let mut counts = [0u32; 257];
            let ts_col = &s.timestamps[..n];
            let v_col = &s.values[..n];
            let columns = sc.route[..n].iter_mut().zip(&mut sc.prepared[..n]);
            for (i, (route, prep)) in columns.enumerate() {
                let (ts, v) = (ts_col[i], v_col[i]);
                let w = s.weights.map_or(1, |w| w[i]);
                let epoch = if !windowed {
                    0
                } else if ts >= now_lo && ts < now_hi {
                    now_epoch
                } else {
                    ts.div_euclid(sw)
                };
                let r = if !v.is_finite() || w == 0 {
                    Err(Drop::Invalid)
                } else if ts > future_after {
                    Err(Drop::Future)
                } else if ts < late_before || (windowed && epoch < oldest_epoch) {
                    Err(Drop::Late)
                } else {
                    self.route(&keys, i)
                };
                match r {
                    Ok((shard, h)) => {
                        *route = shard as u32;
                        *prep = Prepared {
                            hash: h,
                            key: keys.word(i),
                            ts,
                            v,
                            epoch,
                            // Cumulative series record into ring[1] (ring[0] is the delta base).
                            pos: if !windowed {
                                1
                            } else if epoch == now_epoch {
                                now_pos
                            } else {
                                epoch.rem_euclid(ring_len) as u32
                            },
                            w,
                            slot: NO_SLOT,
                            bucket: match self.params.as_ref() {
                                Some(params) => params.bucket(v),
                                None => Bucket::None,
                            },
                        };
                        counts[shard + 1] += 1;
                    }
                    Err(d) => {
                        d.count(&mut acc);
                        *route = DROPPED;
                    }
                }
            }
            // Pass 2: counting sort of the prepared samples by shard (shards are at most 256,
            // so `shard + 1` < 257), into one contiguous run per shard.
            let shards = self.shards.len();
            let mut starts = [0u32; 257];
            for k in 1..=shards {
                starts[k] = starts[k - 1] + counts[k];
            }
            let routed = starts[shards] as usize;
            // Every position below `routed` is written once below: no need to clear.
            sc.sorted.resize(routed, Prepared::default());
            let mut next = starts;
            for (&r, p) in sc.route[..n].iter().zip(&sc.prepared[..n]) {
                if r != DROPPED {
                    let at = &mut next[r as usize & 0xff];
                    if let Some(o) = sc.sorted.get_mut(*at as usize) {
                        *o = *p;
                    }
                    *at += 1;
                }
            }
            // Pass 3: one lock per shard.
            for shard in 0..shards {
                let (a, b) = (starts[shard] as usize, starts[shard + 1] as usize);
                if a == b {
                    continue;
                }
                let mut sh = self.shards[shard].lock();
                let run = &mut sc.sorted[a..b];
                for j in 0..run.len() {
                    // A pipeline over the shard's samples, so that cache misses overlap: the key
                    // index entry of sample j+8 is prefetched, sample j+6 is looked up (its
                    // entry is in cache by now) and its series prefetched, the sketch header of
                    // j+3 and the bucket of j+1 are prefetched, and sample j is recorded.
                    if let Some(p) = run.get(j + 8) {
                        sh.prefetch_key(p.hash);
                    }
                    if let Some(p) = run.get_mut(j + 6) {
                        p.slot = self.lookup(&sh, &keys, p.key, p.hash);
                        sh.prefetch_series(p.slot, p.pos);
                    }
                    if self.params.is_some() {
                        if let Some(p) = run.get(j + 3) {
                            sh.prefetch_sketch(p.slot, p.pos);
                        }
                        if let Some(p) = run.get(j + 1) {
                            sh.prefetch_bucket(p.slot, p.pos, p.bucket);
                        }
                    }
                    let p = &run[j];
                    // A slot found ahead stays valid: ingest only adds series.
                    let target = if p.slot != NO_SLOT {
                        Target::Slot(p.slot)
                    } else {
                        self.target(&mut sh, &keys, p.key, p.hash, generation, &mut acc)
                    };
                    let w = u64::from(p.w);
                    match target {
                        Target::Slot(slot) => {
                            if self.record(sh.slice_mut(slot, p.pos), p, w) {
                                let m = &mut sh.metas[slot as usize];
                                m.last_ts = m.last_ts.max(p.ts);
                                m.changed_at = generation;
                                acc.accepted += 1;
                            } else {
                                acc.late += 1;
                            }
                        }
                        Target::Overflow => {
                            if self.record(sh.overflow.ring.get_mut(p.pos as usize), p, w) {
                                sh.overflow.used = true;
                                sh.overflow.changed_at = generation;
                                acc.overflowed += 1;
                            } else {
                                acc.late += 1;
                            }
                        }
                        Target::Rejected => {}
                    }
                }
            }
        }
        self.scratch.put(scratch);
        self.totals.add(&acc);
        Ok(acc)
    }

    /// The slot of an existing live series for a sample, or `NO_SLOT` (no side effects).
    #[inline(always)]
    fn lookup(&self, sh: &Shard, keys: &Keys<'_>, key: u64, h: u64) -> u32 {
        let found = match *keys {
            Keys::Ids(_) if key == OVERFLOW_ID => None,
            Keys::Ids(_) => sh.slot_of_id(key),
            Keys::U64(_) => sh.find(h, KeyRef::U64(key)),
            Keys::Bytes { .. } => sh.find(h, KeyRef::Bytes(keys.bytes(key as usize))),
        };
        found.unwrap_or(NO_SLOT)
    }

    /// Finds (or makes) the series for sample `i`; counts `stale` and `bad_key` drops.
    #[inline(always)]
    /// `key` is the sample's `u64` key or id, or for byte keys the sample's index.
    fn target(
        &self,
        sh: &mut Shard,
        keys: &Keys<'_>,
        key: u64,
        h: u64,
        generation: u64,
        acc: &mut Accounting,
    ) -> Target {
        let key = match *keys {
            Keys::Ids(_) => {
                let id = key;
                if id == OVERFLOW_ID {
                    return Target::Overflow;
                }
                return match sh.slot_of_id(id) {
                    Some(slot) => Target::Slot(slot),
                    None => {
                        acc.stale += 1;
                        Target::Rejected
                    }
                };
            }
            Keys::U64(_) => KeyRef::U64(key),
            Keys::Bytes { .. } => KeyRef::Bytes(keys.bytes(key as usize)),
        };
        if let Some(slot) = sh.find(h, key) {
            return Target::Slot(slot);
        }
        self.create(sh, h, key, generation, acc)
    }

    #[cold]
    fn create(
        &self,
        sh: &mut Shard,
        h: u64,
        key: KeyRef<'_>,
        generation: u64,
        acc: &mut Accounting,
    ) -> Target {
        if let KeyRef::Bytes(b) = key {
            let ok = std::str::from_utf8(b).is_ok()
                && (!self.cfg.key_label.is_empty() || valid_label_list(b));
            if !ok {
                acc.bad_key += 1;
                return Target::Rejected;
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

    /// Records a prepared sample with weight `w` into its slice (ring position `p.pos`, 1 for
    /// cumulative series); `false` if that slice was already reused for a later epoch.
    #[inline(always)]
    fn record(&self, sl: Option<&mut Slice>, p: &Prepared, w: u64) -> bool {
        let Some(sl) = sl else {
            return false;
        };
        if self.cfg.mode != Mode::Cumulative {
            if sl.epoch < p.epoch {
                sl.reset(p.epoch);
            } else if sl.epoch > p.epoch {
                return false;
            }
        }
        let sketch = self.params.as_ref().map(|params| (params, p.bucket));
        sl.record(p.ts, p.v, w, sketch);
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
                    match self.target(&mut sh, &keys, keys.word(i), h, generation, &mut acc) {
                        Target::Slot(slot) => {
                            acc.accepted += 1;
                            sh.id(slot)
                        }
                        Target::Overflow => {
                            acc.overflowed += 1;
                            OVERFLOW_ID
                        }
                        Target::Rejected => INVALID_ID,
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
