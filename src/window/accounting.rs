//! Counting samples: what happened to each sample of a batch ([`Accounting`]), why a sample
//! was dropped ([`DropReason`]), and an aggregator's running totals ([`Totals`], read as
//! [`Stats`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// What happened to each sample of a batch; the fields add up to the batch length.
// `repr(C)`: the C ABI's `offheap_ingest_accounting` is this record (build.rs, cbindgen.toml),
// so its fields and their docs are written once.
#[repr(C)]
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
        self.fields().iter().sum()
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

    /// The fields in declaration order (the order of [`Totals`]' counters).
    fn fields(&self) -> [u64; 7] {
        [
            self.accepted,
            self.overflowed,
            self.late,
            self.future,
            self.invalid,
            self.bad_key,
            self.stale,
        ]
    }

    fn from_fields(f: [u64; 7]) -> Accounting {
        let [accepted, overflowed, late, future, invalid, bad_key, stale] = f;
        Accounting {
            accepted,
            overflowed,
            late,
            future,
            invalid,
            bad_key,
            stale,
        }
    }
}

/// Why a sample was dropped before reaching a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum DropReason {
    /// NaN or infinite value, or weight 0.
    Invalid,
    /// Newer than `now + max_future`.
    Future,
    /// Older than the allowed lateness or than the window.
    Late,
    /// A byte key that is too long, not UTF-8 or (raw label mode) not a label list.
    BadKey,
    /// An id of a removed series.
    Stale,
}

impl DropReason {
    /// Counts one sample dropped for this reason.
    #[inline]
    pub(super) fn count(self, acc: &mut Accounting) {
        match self {
            DropReason::Invalid => acc.invalid += 1,
            DropReason::Future => acc.future += 1,
            DropReason::Late => acc.late += 1,
            DropReason::BadKey => acc.bad_key += 1,
            DropReason::Stale => acc.stale += 1,
        }
    }
}

/// Counters of an aggregator since it was made.
// `repr(C)`: the C ABI's `offheap_aggregator_counters` is this record (build.rs,
// cbindgen.toml), so its fields and their docs are written once.
#[repr(C)]
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

/// An aggregator's running totals, added to by concurrent calls.
#[derive(Default)]
pub(super) struct Totals {
    samples: [AtomicU64; 7],
    evicted: AtomicU64,
    deleted: AtomicU64,
    snapshots: AtomicU64,
}

impl Totals {
    /// Adds the accounting of one batch.
    pub(super) fn add(&self, a: &Accounting) {
        for (f, x) in self.samples.iter().zip(a.fields()) {
            if x != 0 {
                f.fetch_add(x, Relaxed);
            }
        }
    }

    /// Counts series evicted for being idle.
    pub(super) fn evicted(&self, n: u64) {
        self.evicted.fetch_add(n, Relaxed);
    }

    /// Counts series removed by delete or clear.
    pub(super) fn deleted(&self, n: u64) {
        self.deleted.fetch_add(n, Relaxed);
    }

    /// Counts one snapshot.
    pub(super) fn snapshot(&self) {
        self.snapshots.fetch_add(1, Relaxed);
    }

    /// The totals, with the series count and key bytes the caller read from the series.
    pub(super) fn stats(&self, series: u64, key_bytes: u64) -> Stats {
        Stats {
            series,
            samples: Accounting::from_fields(self.samples.each_ref().map(|f| f.load(Relaxed))),
            evicted: self.evicted.load(Relaxed),
            deleted: self.deleted.load(Relaxed),
            snapshots: self.snapshots.load(Relaxed),
            key_bytes,
        }
    }
}
