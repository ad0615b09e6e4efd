//! Prometheus exposition of a snapshot in three formats, rendered in chunks into reusable
//! buffers.
//!
//! | [`Format`] | content type |
//! |---|---|
//! | `Text` | `text/plain; version=0.0.4; charset=utf-8` |
//! | `OpenMetrics` | `application/openmetrics-text; version=1.0.0; charset=utf-8` |
//! | `Protobuf` | `application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited` |
//!
//! Series are grouped by metric family (the metric name: [`Config::name`], or the name part of
//! [`KeyFormat::Series`](super::KeyFormat::Series) keys), families in name order, each with its
//! type and help ([`Aggregator::set_family`], else [`Config::metric_type`] and, for
//! [`Config::name`], [`Config::help`]). What each type renders is in `expo_text.rs` and
//! `expo_proto.rs`.
//!
//! Summaries' `_count` and `_sum` and counters' totals are their series' lifetime totals
//! (monotonic across window rotations, as client_golang's); histograms' are their window's,
//! which their buckets hold. A protobuf exposition carries native histograms when the snapshot
//! holds buckets ([`SnapshotOptions::buckets`](super::SnapshotOptions::buckets); the C ABI's
//! scrape asks for them).
//!
//! An [`Exposition`] renders about [`CHUNK`] bytes at a time into its own buffer and hands them
//! out through [`Exposition::read`] into any caller buffer, down to one byte at a time: the
//! memory a scrape holds is the snapshot and one chunk, however slowly the client reads.

use super::Error;
use super::aggregator::Aggregator;
use super::config::{MetricType, Mode};
use super::expo_proto as proto;
use super::expo_row::RowSource;
use super::expo_text::{self as text, Dialect};
use super::families::{Grouping, metric_name};
use super::snapshot::Snapshot;

/// Bytes of output rendered at a time (a chunk ends after the series that reaches it).
pub const CHUNK: usize = 16 << 10;

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
    /// The Prometheus protobuf format, length-delimited `MetricFamily` messages (the format
    /// that carries native histograms).
    Protobuf,
}

impl Format {
    /// The HTTP `Content-Type` of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Protobuf => {
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; \
                 encoding=delimited"
            }
        }
    }
}

/// A rendering in progress: the families of one snapshot, where rendering stands, and the
/// chunk being handed out. Reusable: [`begin`](Self::begin) starts over, keeping the memory.
#[derive(Debug, Default)]
pub struct Exposition {
    format: Option<Format>,
    grouping: Grouping,
    /// Rows and `now` of the snapshot `begin` saw (`read` refuses another).
    rows: usize,
    now: i64,
    /// The next family, and its next position in `grouping.order`.
    group: usize,
    at: u32,
    /// Whether the next family's header (text) or first message (protobuf) is still due.
    fresh: bool,
    eof_done: bool,
    finished: bool,
    chunk: Vec<u8>,
    sent: usize,
    scratch: proto::Scratch,
}

impl Exposition {
    /// An exposition with nothing to render.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Forgets the rendering in progress (keeping the memory): [`read`](Self::read) fails
    /// until the next [`begin`](Self::begin).
    pub fn reset(&mut self) {
        self.format = None;
    }

    /// Starts rendering `snap`, a snapshot of `agg`, in `format`.
    pub fn begin(&mut self, agg: &Aggregator, snap: &Snapshot, format: Format) {
        self.grouping.build(agg.config(), agg.families(), snap);
        self.format = Some(format);
        self.rows = snap.len();
        self.now = snap.now();
        self.group = 0;
        self.at = self.grouping.groups.first().map_or(0, |g| g.start);
        self.fresh = true;
        self.eof_done = false;
        self.finished = false;
        self.chunk.clear();
        self.sent = 0;
    }

    /// Copies the next bytes of the exposition into `out` and returns how many: 0 when it is
    /// complete (or `out` is empty). [`Error::NotBegun`] if [`begin`](Self::begin) was not
    /// called with this snapshot, or the snapshot was taken again since.
    pub fn read(
        &mut self,
        agg: &Aggregator,
        snap: &Snapshot,
        out: &mut [u8],
    ) -> Result<usize, Error> {
        let Some(format) = self.format else {
            return Err(Error::NotBegun);
        };
        if snap.len() != self.rows || snap.now() != self.now {
            return Err(Error::NotBegun);
        }
        let mut written = 0;
        loop {
            let pending = &self.chunk[self.sent..];
            let n = pending.len().min(out.len() - written);
            out[written..written + n].copy_from_slice(&pending[..n]);
            written += n;
            self.sent += n;
            if written == out.len() || (self.sent == self.chunk.len() && self.finished) {
                return Ok(written);
            }
            self.chunk.clear();
            self.sent = 0;
            let src = RowSource {
                cfg: agg.config(),
                snap,
                windowed: agg.config().mode != Mode::Cumulative,
            };
            match format {
                Format::Protobuf => self.proto_chunk(&src),
                Format::Text => self.text_chunk(&src, Dialect::Text),
                Format::OpenMetrics => self.text_chunk(&src, Dialect::OpenMetrics),
            }
        }
    }

    /// Renders the text of rows until the chunk is full or the exposition ends.
    fn text_chunk(&mut self, src: &RowSource<'_>, d: Dialect) {
        while self.chunk.len() < CHUNK {
            let Some(g) = self.grouping.groups.get(self.group) else {
                if d == Dialect::OpenMetrics && !self.eof_done {
                    self.chunk.extend_from_slice(b"# EOF\n");
                    self.eof_done = true;
                }
                self.finished = true;
                return;
            };
            let name = metric_name(src.cfg, src.snap, g.first_row as usize);
            if self.fresh
                && d == Dialect::OpenMetrics
                && g.metric_type == MetricType::Counter
                && text::openmetrics_clash(name, |n| self.grouping.has_family(src.cfg, src.snap, n))
            {
                self.next_group();
                continue;
            }
            if self.fresh {
                let help = g.help.as_deref().unwrap_or(&src.cfg.help);
                text::header(&mut self.chunk, name, g.metric_type, help, src.windowed, d);
                self.fresh = false;
            }
            let (end, t) = (g.end, g.metric_type);
            if self.at < end {
                let i = self.grouping.order[self.at as usize] as usize;
                text::row(
                    &mut self.chunk,
                    src,
                    name,
                    t,
                    i,
                    d,
                    &mut self.scratch.labels,
                );
                self.at += 1;
            } else {
                self.next_group();
            }
        }
    }

    /// Renders one `MetricFamily` message (length-prefixed) of the next rows of the current
    /// family.
    fn proto_chunk(&mut self, src: &RowSource<'_>) {
        let Some(g) = self.grouping.groups.get(self.group) else {
            self.finished = true;
            return;
        };
        let (end, t) = (g.end, g.metric_type);
        // Room for the length prefix (at most 5 bytes: a chunk is far below 2^35 bytes).
        const PREFIX: usize = 5;
        self.chunk.resize(PREFIX, 0);
        let name = metric_name(src.cfg, src.snap, g.first_row as usize);
        let help = if self.fresh {
            g.help.as_deref().unwrap_or(&src.cfg.help)
        } else {
            ""
        };
        self.fresh = false;
        proto::family_fields(&mut self.chunk, name, help, t, src.windowed);
        // At least one series per message, however long the help text.
        let first = self.at;
        while self.at < end && (self.at == first || self.chunk.len() < CHUNK) {
            let i = self.grouping.order[self.at as usize] as usize;
            proto::row(&mut self.chunk, src, t, i, &mut self.scratch);
            self.at += 1;
        }
        let mut len = Vec::with_capacity(PREFIX);
        proto::varint(&mut len, (self.chunk.len() - PREFIX) as u64);
        self.sent = PREFIX - len.len();
        self.chunk[self.sent..PREFIX].copy_from_slice(&len);
        if self.at >= end {
            self.next_group();
        }
    }

    fn next_group(&mut self) {
        self.group += 1;
        self.fresh = true;
        if let Some(g) = self.grouping.groups.get(self.group) {
            self.at = g.start;
        }
    }
}

/// Appends the whole exposition of `snap`, a snapshot of `agg`, in `format` to `out`.
pub fn render_all(agg: &Aggregator, snap: &Snapshot, format: Format, out: &mut Vec<u8>) {
    let mut e = Exposition::new();
    e.begin(agg, snap, format);
    let mut buf = vec![0u8; CHUNK];
    // `begin` was just called with `snap`: `read` cannot fail.
    while let Ok(n @ 1..) = e.read(agg, snap, &mut buf) {
        out.extend_from_slice(&buf[..n]);
    }
}
