//! The native histograms of a snapshot's rows: each row's sketch buckets, copied at the cut,
//! in the columns the protobuf exposition reads.

/// The native histogram of a row: the sketch's buckets in ascending index order.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NativeRow<'a> {
    pub schema: i8,
    pub zero_threshold: f64,
    pub zero_count: u64,
    pub neg_index: &'a [i32],
    pub neg_count: &'a [u64],
    pub pos_index: &'a [i32],
    pub pos_count: &'a [u64],
}

/// Bucket columns of a snapshot's rows: row `i`'s negative buckets are
/// `index/count[ends[2i-1]..ends[2i]]` and its positive ones `[ends[2i]..ends[2i+1]]`
/// (`ends[-1] = 0`), each ascending by index.
#[derive(Clone, Debug, Default)]
pub(crate) struct NativeColumns {
    pub schema: i8,
    pub zero_threshold: f64,
    zero: Vec<u64>,
    ends: Vec<u32>,
    index: Vec<i32>,
    count: Vec<u64>,
}

// `push` is called by snapshots that keep buckets, once the sketch exposes its exponential
// schema; until then only the tests fill the columns.
#[cfg_attr(not(test), allow(dead_code))]
impl NativeColumns {
    /// Empties the columns for a snapshot whose sketches have `schema` and `zero_threshold`.
    pub(crate) fn begin(&mut self, schema: i8, zero_threshold: f64) {
        self.schema = schema;
        self.zero_threshold = zero_threshold;
        self.zero.clear();
        self.ends.clear();
        self.index.clear();
        self.count.clear();
    }

    /// Appends a row: its zero bucket count and non-empty buckets, each ascending by index.
    pub(crate) fn push(
        &mut self,
        zero: u64,
        neg: impl IntoIterator<Item = (i32, u64)>,
        pos: impl IntoIterator<Item = (i32, u64)>,
    ) {
        self.zero.push(zero);
        for (i, c) in neg {
            self.index.push(i);
            self.count.push(c);
        }
        self.end_side();
        for (i, c) in pos {
            self.index.push(i);
            self.count.push(c);
        }
        self.end_side();
    }

    fn end_side(&mut self) {
        // Buckets per snapshot stay far below 2^32 (series * max_buckets * 2 is capped by
        // memory first); saturate rather than wrap if not.
        self.ends
            .push(u32::try_from(self.index.len()).unwrap_or(u32::MAX));
    }

    /// The native histogram of row `i` (empty when the snapshot kept no buckets).
    pub(crate) fn row(&self, i: usize) -> NativeRow<'_> {
        let (Some(&zero), Some(&mid), Some(&end)) = (
            self.zero.get(i),
            self.ends.get(2 * i),
            self.ends.get(2 * i + 1),
        ) else {
            return NativeRow {
                schema: self.schema,
                zero_threshold: self.zero_threshold,
                ..NativeRow::default()
            };
        };
        let start = if i == 0 { 0 } else { self.ends[2 * i - 1] } as usize;
        let (mid, end) = (mid as usize, end as usize);
        NativeRow {
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: zero,
            neg_index: &self.index[start..mid],
            neg_count: &self.count[start..mid],
            pos_index: &self.index[mid..end],
            pos_count: &self.count[mid..end],
        }
    }

    /// Bytes of heap the columns hold.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.zero.capacity() * 8
            + self.ends.capacity() * 4
            + self.index.capacity() * 4
            + self.count.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back() {
        let mut c = NativeColumns::default();
        c.begin(3, 1e-9);
        c.push(2, [(-1, 4)], [(0, 1), (5, 2)]);
        c.push(0, [], []);
        c.push(1, [], [(7, 9)]);
        let r = c.row(0);
        assert_eq!((r.schema, r.zero_count), (3, 2));
        assert_eq!((r.neg_index, r.neg_count), (&[-1][..], &[4][..]));
        assert_eq!((r.pos_index, r.pos_count), (&[0, 5][..], &[1, 2][..]));
        assert!(c.row(1).pos_index.is_empty() && c.row(1).neg_index.is_empty());
        assert_eq!(c.row(2).pos_index, &[7]);
        assert!(c.row(3).pos_index.is_empty());
    }
}
