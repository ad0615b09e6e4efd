//! The aggregator: a configuration, the series it holds ([`Store`]) and the layout of their
//! rings ([`Rings`]), and the public calls, each the entry of one part: ingest and resolve
//! (`ingest.rs`), snapshots (`snapshot.rs`), export and import (`codec.rs`), deletion and
//! eviction (`maintain.rs`). The parts reach the series only through [`Store`] and
//! [`Rings`].

use super::Error;
use super::accounting::{Accounting, Stats};
use super::batch::ScratchPool;
use super::codec::{self, ImportAccounting};
use super::config::{Config, MetricType};
use super::families::Families;
use super::ingest::{Ingest, Samples};
use super::keys::{ByteKeys, IdKeys, U64Keys};
use super::maintain;
use super::rings::Rings;
use super::sketch::SketchParams;
use super::snapshot::{self, Snapshot, SnapshotOptions};
use super::store::Store;

/// A windowed aggregator: see the [module docs](super).
pub struct Aggregator {
    cfg: Config,
    sketch_params: SketchParams,
    rings: Rings,
    store: Store,
    scratch: ScratchPool,
    families: Families,
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
        Ok(Aggregator {
            rings: Rings::new(&cfg, &derived, cfg.sketch.then_some(sketch_params)),
            store: Store::new(cfg.shards, derived.ring_len, cfg.sketch, cfg.max_series),
            scratch: ScratchPool::default(),
            families: Families::default(),
            sketch_params,
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Gives the metric family `name` a type and help text (replacing what it had), for every
    /// exposition from now on: its series render as that type under `# HELP name help`.
    /// Families not given one have [`Config::metric_type`] and no help ([`Config::name`]:
    /// [`Config::help`]). At most [`MAX_FAMILIES`](super::MAX_FAMILIES) names.
    pub fn set_family(&self, name: &str, metric_type: MetricType, help: &str) -> Result<(), Error> {
        self.families.set(name, metric_type, help)
    }

    /// Whether any series may expose as a summary (the default type is one, or a family was
    /// given it): only then does an exposition need the window's quantiles.
    pub fn may_have_summaries(&self) -> bool {
        self.cfg.metric_type == MetricType::Summary || self.families.any_of(MetricType::Summary)
    }

    /// The families given a type or help.
    pub(crate) fn families(&self) -> &Families {
        &self.families
    }

    /// The sketch parameters (α and bucket cap) of this aggregator's series.
    pub fn sketch_params(&self) -> SketchParams {
        self.sketch_params
    }

    fn ingest(&self) -> Ingest<'_> {
        Ingest {
            cfg: &self.cfg,
            rings: &self.rings,
            store: &self.store,
            scratch: &self.scratch,
        }
    }

    /// Ingests samples keyed by caller `u64` keys (a series per distinct key).
    pub fn ingest_u64(&self, keys: &[u64], s: Samples<'_>, now: i64) -> Result<Accounting, Error> {
        self.ingest().samples(U64Keys::new(keys), s, now)
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
        self.ingest().samples(ByteKeys { bytes, ends }, s, now)
    }

    /// Ingests samples keyed by ids from [`resolve_keys`](Self::resolve_keys) or
    /// [`resolve_u64`](Self::resolve_u64); ids of removed series are counted as `stale`.
    pub fn ingest_ids(&self, ids: &[u64], s: Samples<'_>, now: i64) -> Result<Accounting, Error> {
        self.ingest().samples(IdKeys::new(ids), s, now)
    }

    /// Finds or makes the series of each byte key and writes its id into `out`
    /// ([`OVERFLOW_ID`](super::OVERFLOW_ID) beyond the series cap,
    /// [`INVALID_ID`](super::INVALID_ID) for a rejected key). The
    /// returned accounting counts keys (`accepted`, `overflowed`, `bad_key`).
    pub fn resolve_keys(
        &self,
        bytes: &[u8],
        ends: &[u32],
        out: &mut [u64],
    ) -> Result<Accounting, Error> {
        self.ingest().resolve(ByteKeys { bytes, ends }, out)
    }

    /// Finds or makes the series of each caller `u64` key and writes its id into `out`.
    pub fn resolve_u64(&self, keys: &[u64], out: &mut [u64]) -> Result<Accounting, Error> {
        self.ingest().resolve(U64Keys::new(keys), out)
    }

    /// Takes a consistent cut of every series' window at `now` into `out` (replacing its
    /// rows). Ingest waits while it runs, so the cut holds whole batches. Idle series are
    /// evicted first. The overflow series, if it ever got samples, is the last row.
    pub fn snapshot(
        &self,
        now: i64,
        opts: &SnapshotOptions<'_>,
        out: &mut Snapshot,
    ) -> Result<(), Error> {
        snapshot::take(&self.store, &self.rings, self.cfg.idle_ttl, now, opts, out)
    }

    /// Appends the state of every series' window at `now` (series with samples in it) to
    /// `out` in the [format](super#serialized-state-format-version-3); returns the number of
    /// records. Holds the snapshot cut while it runs.
    pub fn export(&self, now: i64, out: &mut Vec<u8>) -> usize {
        codec::export(&self.store, &self.rings, &self.cfg, now, out)
    }

    /// Merges an [`export`](Self::export) into this aggregator at `now` (see the
    /// [format](super#serialized-state-format-version-3)). Checks the whole input first: on
    /// error nothing has changed.
    pub fn merge_import(&self, data: &[u8], now: i64) -> Result<ImportAccounting, Error> {
        codec::merge_import(&self.store, &self.rings, &self.cfg, data, now)
    }

    /// Deletes the series of a caller `u64` key ([`Error::StaleId`] if there is none).
    pub fn delete_u64(&self, key: u64) -> Result<(), Error> {
        maintain::delete_u64(&self.store, key)
    }

    /// Deletes the series of a byte key ([`Error::StaleId`] if there is none).
    pub fn delete_key(&self, key: &[u8]) -> Result<(), Error> {
        maintain::delete_key(&self.store, key)
    }

    /// Deletes the series of an id ([`Error::StaleId`] if it is not live).
    pub fn delete_id(&self, id: u64) -> Result<(), Error> {
        maintain::delete_id(&self.store, id)
    }

    /// Removes every series (and empties the overflow series); returns how many were removed.
    pub fn clear(&self) -> u64 {
        maintain::clear(&self.store)
    }

    /// Evicts series whose newest sample is older than `now - idle_ttl` (no-op when the TTL is
    /// 0); returns how many were evicted. Snapshots do this too.
    pub fn evict_idle(&self, now: i64) -> u64 {
        let _cut = self.store.cut();
        maintain::evict_idle(&self.store, self.cfg.idle_ttl, now)
    }

    /// Counters since creation (cheap: no series walk).
    pub fn stats(&self) -> Stats {
        self.store.stats()
    }

    /// Bytes of Rust heap the series state holds (walks every series).
    pub fn heap_bytes(&self) -> usize {
        self.store.heap_bytes() + std::mem::size_of::<Self>()
    }
}
