//! Export and merge of window state in a versioned little-endian binary format.
//!
//! An export holds, per series, its window at the export's `now` merged into one record:
//! moments, counter state and sketch buckets. Importing it into another aggregator adds each
//! record to the series of the same key in the slice holding the importer's `now`, so counts,
//! sums, min, max and sketch buckets merge exactly (mean and stddev up to rounding) and
//! instances that each saw part of a stream merge into what one instance fed it all holds.
//!
//! # Format version 3
//!
//! ```text
//! header  magic "OHWS" | version u16 = 3 | flags u16 (bit 0: sketches present, others 0)
//!         | alpha f64 | max_buckets u32 | reserved u32 = 0 | records u64
//! record  kind u8 (0 = u64 key, 1 = byte key, 2 = overflow series)
//!         | key (kind 0: u64; kind 1: len u32 (<= 4096) + UTF-8 bytes; kind 2: nothing)
//!         | count u64 (>= 1) | sum f64 | mean f64 | m2 f64 | min f64 | max f64
//!         | first f64 | last f64 | increase f64 | first_ts i64 | last_ts i64
//!         | (if sketches) zero u64 | positive store | negative store
//! store   offset i32 | len u32 (<= 65536) | len × count u64   (buckets offset.. of the
//!         exponential schema of α, as in `mapping.rs`; indices within ±2^23)
//! ```
//!
//! Import checks everything before changing anything: magic, version, flags, α (must equal the
//! importer's bit for bit), sketch presence, lengths against the remaining input, key limits,
//! NaN-free moments with `min <= max`, and bucket counts that add up to the record's count.
//! Bad input is an error, never a panic or an unbounded allocation.

use super::bucket::Bucket;
use super::config::Config;
use super::hash::{hash_bytes, hash_u64};
use super::rings::Rings;
use super::shard::KeyRef;
use super::sketch::{BucketIter, Sketch, SketchParams};
use super::slice::{Sketched, SliceRef};
use super::store::Store;
use super::{Error, MAX_KEY_LEN_LIMIT};

/// First bytes of an export.
pub const FORMAT_MAGIC: [u8; 4] = *b"OHWS";
/// The format version written (and the only one read).
pub const FORMAT_VERSION: u16 = 3;
const FLAG_SKETCH: u16 = 1;
const MAX_STORE_LEN: u32 = 65536;
/// Bucket indices of every schema are within `±2^22` (+1): a store outside `±2^23` is corrupt.
const MAX_INDEX: i32 = 1 << 23;

/// What an import did with its records; the fields add up to the number of records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportAccounting {
    /// Merged into a series of the same key (made if needed).
    pub merged: u64,
    /// Merged into the overflow series (series cap, or an overflow record).
    pub overflowed: u64,
    /// Dropped because the slice holding `now` was already reused for a later time.
    pub late: u64,
    /// Dropped because the key is invalid for this aggregator (label syntax or length).
    pub bad_key: u64,
}

/// A reader for each fixed-width little-endian field type of the format, named after its type.
macro_rules! le_readers {
    ($($t:ident),*) => {$(
        fn $t(&mut self) -> Result<$t, Error> {
            Ok($t::from_le_bytes(self.arr()?))
        }
    )*};
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.b.len() < n {
            return Err(Error::Corrupt);
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    le_readers!(u8, u16, u32, i32, u64, i64, f64);
}

/// A decoded record key.
enum RecKey<'a> {
    U64(u64),
    Bytes(&'a [u8]),
    Overflow,
}

/// Writes one sign's buckets as a contiguous range (empty buckets inside it as zeros).
fn write_store(buckets: BucketIter<'_>, out: &mut Vec<u8>) {
    let (lo, hi) = match (buckets.clone().next(), buckets.clone().next_back()) {
        (Some((lo, _)), Some((hi, _))) => (lo, hi),
        _ => (0, -1),
    };
    out.extend_from_slice(&lo.to_le_bytes());
    out.extend_from_slice(&((i64::from(hi) - i64::from(lo) + 1) as u32).to_le_bytes());
    let mut at = lo;
    for (i, c) in buckets {
        for _ in at..i {
            out.extend_from_slice(&0u64.to_le_bytes());
        }
        out.extend_from_slice(&c.to_le_bytes());
        at = i + 1;
    }
}

/// Reads one sign's buckets into `s` (as `make(index)` says); returns their total count.
fn read_store(
    r: &mut Reader<'_>,
    s: &mut Sketch,
    p: &SketchParams,
    make: impl Fn(i32) -> Bucket,
) -> Result<u64, Error> {
    let offset = r.i32()?;
    let len = r.u32()?;
    let top = i64::from(offset) + i64::from(len);
    if len > MAX_STORE_LEN
        || top > i64::from(MAX_INDEX)
        || i64::from(offset) < -i64::from(MAX_INDEX)
    {
        return Err(Error::Corrupt);
    }
    // The length is checked against the input before anything is allocated.
    let bytes = r.take(len as usize * 8)?;
    let mut total = 0u64;
    for (j, c) in bytes.chunks_exact(8).enumerate() {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        let c = u64::from_le_bytes(a);
        total = total.checked_add(c).ok_or(Error::Corrupt)?;
        if c != 0 {
            s.add_bucket(p, make(offset + j as i32), c);
        }
    }
    Ok(total)
}

/// Writes the record of window `w` of the series of `key` (`None`: the overflow series).
fn write_record(key: Option<KeyRef<'_>>, w: SliceRef<'_>, sketches: bool, out: &mut Vec<u8>) {
    let a = w.moments;
    match key {
        None => out.push(2),
        Some(KeyRef::U64(k)) => {
            out.push(0);
            out.extend_from_slice(&k.to_le_bytes());
        }
        Some(KeyRef::Bytes(b)) => {
            out.push(1);
            out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            out.extend_from_slice(b);
        }
    }
    out.extend_from_slice(&a.count.to_le_bytes());
    for f in [
        a.sum,
        a.mean(),
        a.m2(),
        a.min,
        a.max,
        a.first,
        a.last,
        a.increase,
    ] {
        out.extend_from_slice(&f.to_le_bytes());
    }
    out.extend_from_slice(&a.first_ts.to_le_bytes());
    out.extend_from_slice(&a.last_ts.to_le_bytes());
    if let (true, Some(s)) = (sketches, w.sketch) {
        out.extend_from_slice(&s.zero_count().to_le_bytes());
        write_store(s.positive_buckets(), out);
        write_store(s.negative_buckets(), out);
    }
}

/// Reads one record into `tmp` (whose sketch is reused) and checks it; its buckets are added
/// with the importer's parameters `p` (a sketch-less importer checks and drops them).
fn read_record<'a>(
    r: &mut Reader<'a>,
    sketches: bool,
    p: &SketchParams,
    tmp: &mut Sketched,
) -> Result<RecKey<'a>, Error> {
    let key = match r.u8()? {
        0 => RecKey::U64(r.u64()?),
        1 => {
            let len = r.u32()?;
            if len > MAX_KEY_LEN_LIMIT {
                return Err(Error::Corrupt);
            }
            let b = r.take(len as usize)?;
            if std::str::from_utf8(b).is_err() {
                return Err(Error::Corrupt);
            }
            RecKey::Bytes(b)
        }
        2 => RecKey::Overflow,
        _ => return Err(Error::Corrupt),
    };
    let m = &mut tmp.moments;
    m.count = r.u64()?;
    m.sum = r.f64()?;
    let (mean, m2) = (r.f64()?, r.f64()?);
    m.min = r.f64()?;
    m.max = r.f64()?;
    m.first = r.f64()?;
    m.last = r.f64()?;
    m.increase = r.f64()?;
    m.first_ts = r.i64()?;
    m.last_ts = r.i64()?;
    m.set_moments(mean, m2);
    let moments = [m.sum, mean, m2, m.min, m.max, m.first, m.last, m.increase];
    if m.count == 0
        || moments.iter().any(|v| v.is_nan())
        || m.min > m.max
        || m2 < 0.0
        || m.first_ts > m.last_ts
    {
        return Err(Error::Corrupt);
    }
    let count = m.count;
    tmp.sketch.clear();
    if sketches {
        let zero = r.u64()?;
        tmp.sketch.add_bucket(p, Bucket::Zero, zero);
        let pos = read_store(r, &mut tmp.sketch, p, Bucket::Pos)?;
        let neg = read_store(r, &mut tmp.sketch, p, Bucket::Neg)?;
        let total = zero.checked_add(pos).and_then(|t| t.checked_add(neg));
        if total != Some(count) {
            return Err(Error::Corrupt);
        }
    }
    Ok(key)
}

/// Appends the state of every series' window at `now` (series with samples in it) to `out`
/// in the [format](super#serialized-state-format-version-3); returns the number of records:
/// the body of [`Aggregator::export`](super::Aggregator::export).
pub(super) fn export(
    store: &Store,
    rings: &Rings,
    cfg: &Config,
    now: i64,
    out: &mut Vec<u8>,
) -> usize {
    let sketches = rings.params().is_some();
    let header_at = out.len();
    out.extend_from_slice(&FORMAT_MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(if sketches { FLAG_SKETCH } else { 0 }).to_le_bytes());
    out.extend_from_slice(&cfg.alpha.to_le_bytes());
    out.extend_from_slice(&cfg.max_buckets.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    let count_at = out.len();
    out.extend_from_slice(&0u64.to_le_bytes());
    let mut acc = Sketched::default();
    let mut overflow = Sketched::default();
    let mut records = 0u64;
    let _cut = store.cut();
    store.for_each_shard(|sh| {
        for slot in 0..sh.slot_count() {
            if !sh.is_live(slot) {
                continue;
            }
            acc.as_mut().reset(0);
            rings.read_window(sh.ring(slot), now, &mut acc);
            if acc.moments.count > 0 {
                write_record(sh.key(slot), acc.as_ref(), sketches, out);
                records += 1;
            }
        }
        rings.read_window(sh.overflow.ring(), now, &mut overflow);
    });
    if overflow.moments.count > 0 {
        write_record(None, overflow.as_ref(), sketches, out);
        records += 1;
    }
    out[count_at..count_at + 8].copy_from_slice(&records.to_le_bytes());
    debug_assert_eq!(&out[header_at..header_at + 4], &FORMAT_MAGIC);
    records as usize
}

/// Merges an [`export`] into the series at `now` after checking the whole input (on error
/// nothing has changed): the body of
/// [`Aggregator::merge_import`](super::Aggregator::merge_import).
pub(super) fn merge_import(
    store: &Store,
    rings: &Rings,
    cfg: &Config,
    data: &[u8],
    now: i64,
) -> Result<ImportAccounting, Error> {
    let mut r = Reader { b: data };
    if r.take(4)? != FORMAT_MAGIC {
        return Err(Error::BadMagic);
    }
    if r.u16()? != FORMAT_VERSION {
        return Err(Error::UnsupportedVersion);
    }
    let flags = r.u16()?;
    if flags & !FLAG_SKETCH != 0 {
        return Err(Error::Corrupt);
    }
    let alpha = r.f64()?;
    let _max_buckets = r.u32()?;
    if r.u32()? != 0 {
        return Err(Error::Corrupt);
    }
    let records = r.u64()?;
    let sketches = flags & FLAG_SKETCH != 0;
    let params = rings.params();
    if alpha.to_bits() != cfg.alpha.to_bits() || (params.is_some() && !sketches) {
        return Err(Error::AlphaMismatch);
    }
    // The buckets of the records are read with this aggregator's parameters (and merged
    // only when it keeps sketches).
    let p = SketchParams::new(cfg.alpha, cfg.max_buckets)?;
    // Pass 1: validate every record.
    let body = r.b;
    let mut tmp = Sketched::default();
    for _ in 0..records {
        read_record(&mut r, sketches, &p, &mut tmp)?;
    }
    if !r.b.is_empty() {
        return Err(Error::Corrupt);
    }
    // Pass 2: apply.
    let mut r = Reader { b: body };
    let mut acc = ImportAccounting::default();
    let _change = store.change();
    let generation = store.generation();
    for _ in 0..records {
        let key = read_record(&mut r, sketches, &p, &mut tmp)?;
        let key_ref = match key {
            RecKey::U64(k) => {
                if !cfg.accepts_u64_keys() {
                    acc.bad_key += 1;
                    continue;
                }
                Some((hash_u64(k), KeyRef::U64(k)))
            }
            RecKey::Bytes(b) => {
                if !cfg.accepts_key(b) {
                    acc.bad_key += 1;
                    continue;
                }
                Some((hash_bytes(b), KeyRef::Bytes(b)))
            }
            RecKey::Overflow => None,
        };
        let shard = key_ref.map_or(0, |(h, _)| store.shard_for(h));
        let mut sh = store.lock(shard);
        let slot = key_ref.and_then(|(h, k)| {
            sh.find(h, k)
                .or_else(|| store.create(&mut sh, h, k, generation))
        });
        let sh = &mut *sh;
        let (ring, folded) = match slot.and_then(|s| sh.ring_and_folded_mut(s)) {
            Some(r) => r,
            None => sh.overflow.ring_mut(),
        };
        let Some(mut target) = rings.slice_at(ring, now, folded) else {
            acc.late += 1;
            continue;
        };
        target.merge_from(tmp.as_ref(), params);
        // The slice notes the change (and, through its last_ts, the newest sample time).
        target.moments.changed_at = generation;
        match slot {
            Some(_) => {
                acc.merged += 1;
            }
            None => {
                sh.overflow.used = true;
                sh.overflow.changed_at = generation;
                acc.overflowed += 1;
            }
        }
    }
    Ok(acc)
}
