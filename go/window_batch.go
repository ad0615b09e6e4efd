package offheap

// SampleBatch is a reusable, pointer-free batch of samples for [Aggregator.Ingest]. Keys can
// be uint64s, byte strings, or series ids ([SeriesID]), mixed freely (each kind crosses to
// Rust in one call). Timestamps are nanoseconds (time.Time.UnixNano). Adding to a batch
// allocates nothing once its slices have grown to the batch size; Reset keeps them.
type SampleBatch struct {
	u64     columns
	u64Keys []uint64
	ids     columns
	idKeys  []uint64
	bytes   columns
	keys    []byte
	ends    []uint32
}

// columns are the timestamps, values and (once a weight other than 1 was added) weights of
// the samples of one kind of key.
type columns struct {
	ts       []int64
	values   []float64
	weights  []uint32
	weighted bool
}

func (c *columns) add(ts int64, v float64, w uint32) {
	c.ts = append(c.ts, ts)
	c.values = append(c.values, v)
	if w != 1 && !c.weighted {
		c.weighted = true
		c.weights = c.weights[:0]
		for range len(c.ts) - 1 {
			c.weights = append(c.weights, 1)
		}
	}
	if c.weighted {
		c.weights = append(c.weights, w)
	}
}

// weightsOrNil returns the weights column, or nil (every weight 1) when none was added.
func (c *columns) weightsOrNil() []uint32 {
	if !c.weighted {
		return nil
	}
	return c.weights
}

func (c *columns) reset() {
	c.ts, c.values, c.weights, c.weighted = c.ts[:0], c.values[:0], c.weights[:0], false
}

// Add adds a sample of the series with the uint64 key.
func (b *SampleBatch) Add(key uint64, ts int64, value float64) {
	b.u64Keys = append(b.u64Keys, key)
	b.u64.add(ts, value, 1)
}

// AddWeighted adds a sample that counts weight times (weight 0 is dropped as Invalid).
func (b *SampleBatch) AddWeighted(key uint64, ts int64, value float64, weight uint32) {
	b.u64Keys = append(b.u64Keys, key)
	b.u64.add(ts, value, weight)
}

// AddKey adds a sample of the series with the byte-string key (copied into the batch).
func (b *SampleBatch) AddKey(key []byte, ts int64, value float64) {
	b.keys = append(b.keys, key...)
	b.ends = append(b.ends, uint32(len(b.keys)))
	b.bytes.add(ts, value, 1)
}

// AddString is AddKey for a string key.
func (b *SampleBatch) AddString(key string, ts int64, value float64) {
	b.keys = append(b.keys, key...)
	b.ends = append(b.ends, uint32(len(b.keys)))
	b.bytes.add(ts, value, 1)
}

// AddKeyWeighted adds a weighted sample of the series with the byte-string key.
func (b *SampleBatch) AddKeyWeighted(key []byte, ts int64, value float64, weight uint32) {
	b.keys = append(b.keys, key...)
	b.ends = append(b.ends, uint32(len(b.keys)))
	b.bytes.add(ts, value, weight)
}

// AddIDWeighted adds a weighted sample of the series with the id.
func (b *SampleBatch) AddIDWeighted(id SeriesID, ts int64, value float64, weight uint32) {
	b.idKeys = append(b.idKeys, uint64(id))
	b.ids.add(ts, value, weight)
}

// AddID adds a sample of the series with the id.
func (b *SampleBatch) AddID(id SeriesID, ts int64, value float64) {
	b.idKeys = append(b.idKeys, uint64(id))
	b.ids.add(ts, value, 1)
}

// Len returns the number of samples in the batch.
func (b *SampleBatch) Len() int { return len(b.u64Keys) + len(b.idKeys) + len(b.ends) }

// Reset empties the batch, keeping its memory.
func (b *SampleBatch) Reset() {
	b.u64.reset()
	b.ids.reset()
	b.bytes.reset()
	b.u64Keys, b.idKeys, b.keys, b.ends = b.u64Keys[:0], b.idKeys[:0], b.keys[:0], b.ends[:0]
}
