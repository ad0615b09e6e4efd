package offheap

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "unsafe" // go:linkname
)

// procPin and procUnpin are the runtime's (sync.Pool uses them the same way): procPin returns
// the id of the P the goroutine runs on. The Recorder only reads the id, to pick that P's
// buffer: the buffer's own mutex makes it correct when the goroutine moves on.
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// RecorderConfig configures a [Recorder]. The zero value of a field selects its default.
type RecorderConfig struct {
	// Labels are the label names of the series made by [Recorder.WithLabelValues], in order.
	// The aggregator must take label lists as keys (AggregatorConfig.KeyFormat KeyLabels) when
	// it has any, and they must be in ascending order (KeyLabels refuses other keys).
	Labels []string
	// BufferSamples is how many samples a per-P buffer holds before it is handed to the
	// aggregator (default 1024).
	BufferSamples int
	// FlushInterval bounds how long an observation waits in a buffer (default 250ms). The
	// timer runs only while some buffer holds samples.
	FlushInterval time.Duration
	// MaxHandles caps the series handles WithLabelValues keeps (default: the aggregator's
	// MaxSeries); label values past it share one handle of the overflow series.
	MaxHandles int
}

// RecorderStats counts what became of every observation: after Close, Observed equals
// Accepted + Overflowed + Invalid + Dropped exactly; before it, the difference is what is
// still buffered.
type RecorderStats struct {
	Observed   uint64 // calls of Observe, ObserveAt, ObserveString and Series.Observe(At)
	Accepted   uint64 // recorded into their own series
	Overflowed uint64 // recorded into the overflow series (the series cap was reached)
	Invalid    uint64 // NaN or ±Inf values, keys or label values the aggregator rejects
	Dropped    uint64 // observed after Close, too late or too far in the future, of a removed series, or not delivered (the aggregator was closed)
	Buffered   uint64 // observations in buffers or on their way to the aggregator (0 after Close)
}

// now marks an observation without a timestamp: it takes the time of its flush.
const now = math.MinInt64

// recSlot is one P's buffer; 128 bytes, so that the fields of two slots never share a cache
// line wherever the array starts.
type recSlot struct {
	mu       sync.Mutex
	buf      *SampleBatch // nil once the Recorder is closed
	observed uint64
	invalid  uint64 // observations counted without reaching a buffer
	dropped  uint64
	_        [128 - 8 - 8 - 24]byte
}

// Recorder records single observations from any number of goroutines (HTTP handlers, say)
// into an [Aggregator], the way client_golang's Observe does, without a lock shared by the
// goroutines and without allocating: each P (GOMAXPROCS of them) appends to its own reusable
// [SampleBatch], which goes to the aggregator in one cgo call when it is full, after
// RecorderConfig.FlushInterval at most, and on Flush and Close. Full buffers are ingested by
// the Recorder's flushing goroutine, which runs only while there is something to flush.
//
// Observations without a timestamp are stamped when their buffer is flushed. A snapshot or
// scrape sees what has been flushed: call Flush first to include everything observed before
// it (an exposition handler does). Observe returns nothing; what could not be recorded is
// counted in Stats.
type Recorder struct {
	agg      *Aggregator
	labels   []string
	size     int
	interval time.Duration
	slots    []recSlot

	free    chan *SampleBatch // empty buffers
	work    chan *SampleBatch // full buffers for the flushing goroutine
	done    chan struct{}
	timer   *time.Timer
	armed   atomic.Bool
	closed  atomic.Bool
	flushMu sync.Mutex // one flush of every buffer at a time
	// handoffs counts full buffers on their way to the aggregator (Close waits for them);
	// inflight the observations in them.
	handoffs sync.WaitGroup
	inflight atomic.Uint64

	accepted, overflowed, invalid, dropped atomic.Uint64

	// The series handles of WithLabelValues: a read-only map swapped as a whole (reads take
	// no lock), with the handles made since the last swap in pending.
	index      atomic.Pointer[map[string]*Series]
	mu         sync.Mutex
	pending    map[string]*Series
	slowHits   int // lookups answered from pending since the last publication
	handles    int
	maxHandles int
	overflow   *Series
	rejected   *Series
}

// Series is a cached handle of one labelled series of a Recorder (what
// [Recorder.WithLabelValues] returns): keep it and observe through it, and no label is
// looked up or hashed again. It is safe for concurrent use.
type Series struct {
	r      *Recorder
	id     SeriesID
	reject bool // the label values were rejected: observations count as Invalid
}

// NewRecorder makes a Recorder that feeds agg. Close it before agg.
func NewRecorder(agg *Aggregator, cfg RecorderConfig) (*Recorder, error) {
	const op = "NewRecorder"
	if agg == nil {
		return nil, opError(op, ErrInvalidArgument)
	}
	if _, ok := agg.h.get(); !ok {
		return nil, opError(op, ErrClosed)
	}
	if cfg.BufferSamples < 0 || cfg.FlushInterval < 0 || cfg.MaxHandles < 0 {
		return nil, &Error{Op: op, Err: fmt.Errorf("%w: negative RecorderConfig field", ErrInvalidConfig)}
	}
	for _, l := range cfg.Labels {
		if !validLabelName(l) {
			return nil, &Error{Op: op, Err: fmt.Errorf("%w: label name %q", ErrInvalidConfig, l)}
		}
	}
	r := &Recorder{
		agg:        agg,
		labels:     append([]string(nil), cfg.Labels...),
		size:       cfg.BufferSamples,
		interval:   cfg.FlushInterval,
		maxHandles: cfg.MaxHandles,
		pending:    map[string]*Series{},
		done:       make(chan struct{}),
	}
	if r.size == 0 {
		r.size = 1024
	}
	if r.interval == 0 {
		r.interval = 250 * time.Millisecond
	}
	if r.maxHandles == 0 {
		r.maxHandles = agg.maxSeries
	}
	procs := runtime.GOMAXPROCS(0)
	r.slots = make([]recSlot, procs)
	r.work = make(chan *SampleBatch, procs+1)
	// Room for every buffer there can be: one per slot, the queued ones, and one being
	// ingested by each of the flushing goroutine, a flush and the observers (bounded by the
	// slots), so that recycling never drops one and steady state allocates none.
	r.free = make(chan *SampleBatch, 3*procs+4)
	for i := range r.slots {
		r.slots[i].buf = r.newBuffer()
	}
	r.overflow = &Series{r: r, id: OverflowID}
	r.rejected = &Series{r: r, reject: true}
	empty := map[string]*Series{}
	r.index.Store(&empty)
	r.timer = time.AfterFunc(time.Hour, r.tick)
	r.timer.Stop()
	go r.flusher()
	return r, nil
}

func (r *Recorder) newBuffer() *SampleBatch {
	b := &SampleBatch{}
	b.idKeys = make([]uint64, 0, r.size)
	b.ids.ts = make([]int64, 0, r.size)
	b.ids.values = make([]float64, 0, r.size)
	return b
}

// slot returns the buffer of the P the caller runs on (any, if GOMAXPROCS grew since).
func (r *Recorder) slot() *recSlot {
	p := procPin()
	procUnpin()
	return &r.slots[uint(p)%uint(len(r.slots))]
}

// begin counts an observation and returns the caller's P's buffer, locked, to append it to
// (nil, unlocked, when the Recorder is closed: the observation is counted as dropped).
func (r *Recorder) begin() (*recSlot, *SampleBatch) {
	s := r.slot()
	s.mu.Lock()
	s.observed++
	if s.buf == nil {
		s.dropped++
		s.mu.Unlock()
		return s, nil
	}
	return s, s.buf
}

// end unlocks a buffer an observation was appended to; a full buffer goes to the aggregator,
// a first observation starts the flush timer.
func (r *Recorder) end(s *recSlot, b *SampleBatch) {
	n := b.Len()
	if n < r.size {
		s.mu.Unlock()
		if n == 1 {
			r.arm()
		}
		return
	}
	s.buf = r.spare()
	r.handoffs.Add(1)
	r.inflight.Add(uint64(n))
	s.mu.Unlock()
	r.handOff(b)
}

// Observe records value for the series of the uint64 key.
func (r *Recorder) Observe(key uint64, value float64) {
	if s, b := r.begin(); b != nil {
		b.Add(key, now, value)
		r.end(s, b)
	}
}

// ObserveAt records value at ts (Unix nanoseconds; math.MinInt64 means the time of the flush)
// for the series of the uint64 key.
func (r *Recorder) ObserveAt(key uint64, value float64, ts int64) {
	if s, b := r.begin(); b != nil {
		b.Add(key, ts, value)
		r.end(s, b)
	}
}

// ObserveString records value for the series of the byte-string key (copied).
func (r *Recorder) ObserveString(key string, value float64) {
	if s, b := r.begin(); b != nil {
		b.AddString(key, now, value)
		r.end(s, b)
	}
}

// Observe records value for the series.
func (s *Series) Observe(value float64) {
	s.ObserveAt(value, now)
}

// ObserveAt records value at ts (Unix nanoseconds; math.MinInt64 means the time of the flush)
// for the series.
func (s *Series) ObserveAt(value float64, ts int64) {
	if s.reject {
		s.r.reject()
		return
	}
	if sl, b := s.r.begin(); b != nil {
		b.idKeys = append(b.idKeys, uint64(s.id))
		b.ids.ts = append(b.ids.ts, ts)
		b.ids.values = append(b.ids.values, value)
		s.r.end(sl, b)
	}
}

// reject counts an observation of rejected label values.
func (r *Recorder) reject() {
	s := r.slot()
	s.mu.Lock()
	s.observed++
	s.invalid++
	s.mu.Unlock()
}

// WithLabelValues returns the handle of the series with these label values (one per
// RecorderConfig.Labels, of any bytes), made on first use. Keep the handle to skip the lookup.
// Label values the aggregator rejects (not UTF-8, too long) give a handle whose observations
// count as Invalid; past RecorderConfig.MaxHandles, new label values share the overflow
// series' handle. After Close it still returns a handle, whose observations count as Dropped.
func (r *Recorder) WithLabelValues(values ...string) *Series {
	if len(values) == 1 {
		// One value is its own key: nothing to copy.
		if s := (*r.index.Load())[values[0]]; s != nil {
			return s
		}
		return r.makeSeries(values[0], values)
	}
	var arr [128]byte
	key := r.lookupKey(arr[:0], values)
	if s := (*r.index.Load())[string(key)]; s != nil {
		return s
	}
	return r.makeSeries(string(key), values)
}

// lookupKey encodes several label values unambiguously (each with its length) for the handle
// map.
func (r *Recorder) lookupKey(buf []byte, values []string) []byte {
	for _, v := range values {
		buf = append(buf, byte(len(v)>>24), byte(len(v)>>16), byte(len(v)>>8), byte(len(v)))
		buf = append(buf, v...)
	}
	return buf
}

// makeSeries finds or makes the handle of key (label values values), under r.mu.
func (r *Recorder) makeSeries(key string, values []string) *Series {
	r.mu.Lock()
	defer r.mu.Unlock()
	if s := (*r.index.Load())[key]; s != nil {
		return s
	}
	if s := r.pending[key]; s != nil {
		r.slowHits++
		r.publish(false)
		return s
	}
	if len(values) != len(r.labels) {
		return r.rejected
	}
	if r.handles >= r.maxHandles {
		return r.overflow
	}
	id, err := r.agg.ResolveKey([]byte(r.labelList(values)))
	s := &Series{r: r, id: id}
	if err != nil {
		s = r.rejected
	}
	r.pending[key] = s
	r.handles++
	r.publish(true)
	return s
}

// publish makes a new read map of every handle when enough handles were made, or enough
// lookups took the lock, since the last one (a quarter of the map's size either way): each
// copy of the map is paid for by that many calls. r.mu is held.
func (r *Recorder) publish(made bool) {
	index := *r.index.Load()
	due := len(index)/4 + 8
	if (made && len(r.pending) <= due) || (!made && r.slowHits <= due) {
		return
	}
	next := make(map[string]*Series, len(index)+len(r.pending))
	for k, v := range index {
		next[k] = v
	}
	for k, v := range r.pending {
		next[k] = v
	}
	r.index.Store(&next)
	clear(r.pending)
	r.slowHits = 0
}

// labelList renders the label values as the aggregator's key: name="value" pairs, escaped.
func (r *Recorder) labelList(values []string) string {
	var b strings.Builder
	for i, v := range values {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(r.labels[i])
		b.WriteString(`="`)
		for j := 0; j < len(v); j++ {
			switch c := v[j]; c {
			case '\\':
				b.WriteString(`\\`)
			case '"':
				b.WriteString(`\"`)
			case '\n':
				b.WriteString(`\n`)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('"')
	}
	return b.String()
}

// validLabelName is [a-zA-Z_][a-zA-Z0-9_]*, not "quantile".
func validLabelName(s string) bool {
	if s == "" || s == "quantile" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// spare returns an empty buffer (a new one only when every buffer is in use).
func (r *Recorder) spare() *SampleBatch {
	select {
	case b := <-r.free:
		return b
	default:
		return r.newBuffer()
	}
}

// handOff gives a full buffer to the flushing goroutine, or ingests it here when that
// goroutine is behind (so that buffers never pile up).
func (r *Recorder) handOff(b *SampleBatch) {
	select {
	case r.work <- b:
	default:
		r.ingest(b)
		r.handoffs.Done()
	}
}

// arm starts the flush timer when it is not running.
func (r *Recorder) arm() {
	if !r.armed.Load() && r.armed.CompareAndSwap(false, true) {
		r.timer.Reset(r.interval)
	}
}

// tick flushes every buffer when the timer fires.
func (r *Recorder) tick() {
	// Cleared first: an observation into a buffer this flush has emptied arms it again.
	r.armed.Store(false)
	r.flushAll(false)
}

func (r *Recorder) flusher() {
	for {
		select {
		case b := <-r.work:
			r.ingest(b)
			r.handoffs.Done()
		case <-r.done:
			return
		}
	}
}

// ingest sends a buffer to the aggregator, counts what became of its samples, and returns it
// to the free buffers.
func (r *Recorder) ingest(b *SampleBatch) {
	n := uint64(b.Len())
	if n == 0 {
		r.recycle(b)
		return
	}
	t := time.Now().UnixNano()
	for _, c := range []*columns{&b.u64, &b.ids, &b.bytes} {
		for i, ts := range c.ts {
			if ts == now {
				c.ts[i] = t
			}
		}
	}
	acc, err := r.agg.Ingest(b, t)
	defer r.inflight.Add(^(n - 1)) // after the outcome is counted
	if err != nil {
		// The aggregator is closed (or a batch was refused whole): nothing was recorded.
		r.dropped.Add(n - acc.Total())
	}
	r.accepted.Add(acc.Accepted)
	r.overflowed.Add(acc.Overflowed)
	r.invalid.Add(acc.Invalid + acc.BadKey)
	r.dropped.Add(acc.Late + acc.Future + acc.Stale)
	r.recycle(b)
}

func (r *Recorder) recycle(b *SampleBatch) {
	b.Reset()
	select {
	case r.free <- b:
	default:
	}
}

// flushAll ingests every buffer's samples; closing, it also closes every buffer.
func (r *Recorder) flushAll(closing bool) {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	for i := range r.slots {
		s := &r.slots[i]
		s.mu.Lock()
		b := s.buf
		if b == nil || (b.Len() == 0 && !closing) {
			s.mu.Unlock()
			continue
		}
		if closing {
			s.buf = nil
		} else {
			s.buf = r.spare()
		}
		r.inflight.Add(uint64(b.Len()))
		s.mu.Unlock()
		r.ingest(b)
	}
}

// Flush sends every buffered observation to the aggregator now (a scrape that must see
// everything observed before it calls this first). Safe from any goroutine.
func (r *Recorder) Flush() {
	if r.closed.Load() {
		return
	}
	r.flushAll(false)
}

// Close flushes what is buffered and stops the Recorder; later observations are counted as
// Dropped. Idempotent, safe from any goroutine; it does not close the aggregator.
func (r *Recorder) Close() error {
	if !r.closed.CompareAndSwap(false, true) {
		return nil
	}
	r.timer.Stop()
	// Every buffer closed: no observation reaches one after this, so no buffer fills again.
	r.flushAll(true)
	// Full buffers already on their way are ingested (by the flushing goroutine, still
	// running) before the Recorder reports itself closed.
	r.handoffs.Wait()
	close(r.done)
	return nil
}

// Stats returns what became of the observations so far.
func (r *Recorder) Stats() RecorderStats {
	var st RecorderStats
	// The flush lock orders this read after any flush in progress has counted its samples.
	r.flushMu.Lock()
	for i := range r.slots {
		s := &r.slots[i]
		s.mu.Lock()
		st.Observed += s.observed
		st.Invalid += s.invalid
		st.Dropped += s.dropped
		if s.buf != nil {
			st.Buffered += uint64(s.buf.Len())
		}
		s.mu.Unlock()
	}
	st.Buffered += r.inflight.Load()
	st.Accepted += r.accepted.Load()
	st.Overflowed += r.overflowed.Load()
	st.Invalid += r.invalid.Load()
	st.Dropped += r.dropped.Load()
	r.flushMu.Unlock()
	return st
}
