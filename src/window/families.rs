//! Metric families: the type and help text given to a metric name, and the grouping of a
//! snapshot's rows by metric name that every exposition format needs (a family's series must
//! be contiguous, under one `# TYPE` line or one protobuf `MetricFamily`).

use super::config::{Config, KeyFormat, MetricType, check_family};
use super::hash::hash_bytes;
use super::names::split_series;
use super::snapshot::{KeyKind, Snapshot};
use super::{Error, MAX_FAMILIES};
use parking_lot::RwLock;
use std::collections::HashMap;
use std::sync::Arc;

/// What was given for one metric name.
#[derive(Clone, Debug)]
pub(crate) struct Family {
    pub metric_type: MetricType,
    pub help: Arc<str>,
}

/// The types and help texts given to metric names ([`Aggregator::set_family`]), at most
/// [`MAX_FAMILIES`]. Read once per family and exposition, written rarely.
///
/// [`Aggregator::set_family`]: super::Aggregator::set_family
#[derive(Debug, Default)]
pub(crate) struct Families {
    map: RwLock<HashMap<Box<[u8]>, Family>>,
}

impl Families {
    /// Gives `name` a type and help text (replacing what it had).
    pub(crate) fn set(&self, name: &str, metric_type: MetricType, help: &str) -> Result<(), Error> {
        check_family(name, help)?;
        let mut map = self.map.write();
        if map.len() >= MAX_FAMILIES && !map.contains_key(name.as_bytes()) {
            return Err(Error::TooManyFamilies);
        }
        map.insert(
            name.as_bytes().into(),
            Family {
                metric_type,
                help: help.into(),
            },
        );
        Ok(())
    }

    /// Whether some family was given type `t`.
    pub(crate) fn any_of(&self, t: MetricType) -> bool {
        self.map.read().values().any(|f| f.metric_type == t)
    }

    /// What `name` was given, if anything.
    pub(crate) fn get(&self, name: &[u8]) -> Option<Family> {
        self.map.read().get(name).cloned()
    }
}

/// One metric family of a snapshot: its rows are `order[start..end]`.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    /// A row whose series belongs to the family (its metric name is read from it).
    pub first_row: u32,
    pub start: u32,
    pub end: u32,
    pub metric_type: MetricType,
    /// The family's help, `None` for [`Config::help`].
    pub help: Option<Arc<str>>,
}

/// The rows of a snapshot grouped by metric family, families in name order; reusable.
#[derive(Debug, Default)]
pub(crate) struct Grouping {
    pub groups: Vec<Group>,
    pub order: Vec<u32>,
    /// Family of each row (scratch).
    of_row: Vec<u32>,
    /// Name hash -> first family with it; families with equal hashes chain through `next`.
    index: HashMap<u64, u32>,
    next: Vec<u32>,
}

/// The metric name of row `i` of `snap`.
pub(crate) fn metric_name<'a>(cfg: &'a Config, snap: &'a Snapshot, i: usize) -> &'a [u8] {
    if cfg.key_format == KeyFormat::Series
        && snap.kind(i) == Some(KeyKind::Bytes)
        && let Some((name, _)) = split_series(snap.key(i))
    {
        return name;
    }
    cfg.name.as_bytes()
}

impl Grouping {
    /// Groups the rows of `snap` (taken from an aggregator with `cfg` and `families`).
    pub(crate) fn build(&mut self, cfg: &Config, families: &Families, snap: &Snapshot) {
        self.groups.clear();
        self.order.clear();
        let n = snap.len();
        if cfg.key_format != KeyFormat::Series {
            // One family: the order is the snapshot's.
            if n > 0 {
                self.order.extend(0..n as u32);
                self.push_group(cfg, families, snap, 0, n as u32);
            }
            return;
        }
        self.index.clear();
        self.next.clear();
        self.of_row.clear();
        let mut counts: Vec<u32> = Vec::new();
        for i in 0..n {
            let name = metric_name(cfg, snap, i);
            let h = hash_bytes(name);
            let mut g = self.index.get(&h).copied();
            while let Some(k) = g {
                let first = self.groups[k as usize].first_row as usize;
                if metric_name(cfg, snap, first) == name {
                    break;
                }
                g = match self.next[k as usize] {
                    u32::MAX => None,
                    x => Some(x),
                };
            }
            let g = match g {
                Some(g) => g,
                None => {
                    let g = self.groups.len() as u32;
                    self.push_group(cfg, families, snap, i as u32, 0);
                    self.next.push(self.index.insert(h, g).unwrap_or(u32::MAX));
                    counts.push(0);
                    g
                }
            };
            counts[g as usize] += 1;
            self.of_row.push(g);
        }
        // Families in name order (stable output between scrapes), then a counting sort of the
        // rows by family.
        let mut by_name: Vec<u32> = (0..self.groups.len() as u32).collect();
        by_name.sort_unstable_by(|&a, &b| {
            let (ra, rb) = (
                self.groups[a as usize].first_row,
                self.groups[b as usize].first_row,
            );
            metric_name(cfg, snap, ra as usize).cmp(metric_name(cfg, snap, rb as usize))
        });
        let mut rank = vec![0u32; by_name.len()];
        let mut groups = Vec::with_capacity(by_name.len());
        let mut at = 0u32;
        for (r, &g) in by_name.iter().enumerate() {
            rank[g as usize] = r as u32;
            let mut grp = self.groups[g as usize].clone();
            grp.start = at;
            at += counts[g as usize];
            grp.end = grp.start;
            groups.push(grp);
        }
        self.groups = groups;
        self.order.resize(n, 0);
        for (i, &g) in self.of_row.iter().enumerate() {
            let grp = &mut self.groups[rank[g as usize] as usize];
            self.order[grp.end as usize] = i as u32;
            grp.end += 1;
        }
    }

    /// Whether a family of `snap` is named `name` (the families are in name order).
    pub(crate) fn has_family(&self, cfg: &Config, snap: &Snapshot, name: &[u8]) -> bool {
        self.groups
            .binary_search_by(|g| metric_name(cfg, snap, g.first_row as usize).cmp(name))
            .is_ok()
    }

    fn push_group(
        &mut self,
        cfg: &Config,
        families: &Families,
        snap: &Snapshot,
        first_row: u32,
        end: u32,
    ) {
        let name = metric_name(cfg, snap, first_row as usize);
        let (metric_type, help) = match families.get(name) {
            Some(f) => (f.metric_type, Some(f.help)),
            None if name == cfg.name.as_bytes() => (cfg.metric_type, None),
            None => (cfg.metric_type, Some(Arc::from(""))),
        };
        self.groups.push(Group {
            first_row,
            start: 0,
            end,
            metric_type,
            help,
        });
    }
}
