package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/offheap/offheap/examples/internal/debugstats"
	offheap "github.com/offheap/offheap/go"
)

// Config configures a Service.
type Config struct {
	Name          string        // the aggregator's metric name in exposition
	Window        time.Duration // sliding window width
	Slices        int           // slices of the window
	Alpha         float64       // relative accuracy of quantiles
	MaxSeries     int           // series cap (samples of new series past it go to the overflow series)
	MaxFutureSkew time.Duration // samples up to now+MaxFutureSkew are accepted
	BodyLimit     int64         // bytes of one request body (413 beyond)
	Limits                      // line, key and sample-count limits
	Workers       int           // requests parsed at once (each holds a body buffer and a batch)
	Strict        bool          // reject the whole request (400) when any line is malformed
	Engine        string        // "offheap" (default) or "go": the pure-Go comparison engine
}

// DefaultConfig returns the defaults of the command's flags.
func DefaultConfig() Config {
	return Config{
		Name: "ingest_window", Engine: "offheap", Window: time.Minute, Slices: 6, Alpha: 0.01, MaxSeries: 1 << 20,
		MaxFutureSkew: 5 * time.Second, BodyLimit: 8 << 20, Workers: 8,
		Limits: Limits{MaxLine: 4096, MaxKey: 1024, MaxSamples: 200_000},
	}
}

// Service is the ingestion service: its HTTP handlers, its aggregator and its counters.
type Service struct {
	cfg     Config
	agg     *offheap.Aggregator // nil with the Go engine
	goAgg   *goAggregator       // the Go engine, or nil
	sem     chan struct{}       // a slot per worker: requests beyond Workers wait for one
	idleMu  sync.Mutex
	idle    []*worker // a stack: the most recently used worker, whose buffers are warm, goes next
	start   offheap.HeapReport
	started time.Time
	list    []counter // the service's own counters, in exposition order

	requests, failed, bodyBytes, rejected, stale atomic.Uint64
	accepted, overflow, late, future, invalid    atomic.Uint64
	badKey                                       atomic.Uint64

	expoMu   sync.Mutex // guards expo
	expo     []byte
	mallocs0 uint64 // runtime.MemStats.Mallocs at start
}

// worker holds what one request needs, reused from request to request: once its buffers have
// grown to the traffic's size, parsing and ingesting allocate nothing.
type worker struct {
	buf   []byte
	batch offheap.SampleBatch
	gb    goBatch // the Go engine's batch
	p     *parser
	resp  []byte
}

// NewService makes the aggregator and the service. Close it when done.
func NewService(cfg Config) (*Service, error) {
	if cfg.BodyLimit <= 0 || cfg.Workers <= 0 || cfg.MaxLine <= 0 || cfg.MaxSamples <= 0 {
		return nil, errors.New("metrics: body limit, workers, line and sample limits must be positive")
	}
	if cfg.MaxKey <= 0 || cfg.MaxKey+keyOverhead > 4096 {
		return nil, fmt.Errorf("metrics: key limit must be in [1, %d]", 4096-keyOverhead)
	}
	// The offheap aggregator checks the configuration for both engines.
	agg, err := offheap.NewAggregator(offheap.AggregatorConfig{
		Mode: offheap.Sliding, Width: cfg.Window, Slices: cfg.Slices, Alpha: cfg.Alpha, MaxSeries: cfg.MaxSeries,
		MaxFutureSkew: cfg.MaxFutureSkew, MaxKeyLen: cfg.MaxKey + keyOverhead, Name: cfg.Name,
		Help: "Samples ingested over the sliding window, per series.", RawLabelKeys: true,
	})
	if err != nil {
		return nil, err
	}
	var goAgg *goAggregator
	switch cfg.Engine {
	case "offheap", "":
	case "go":
		if err := agg.Close(); err != nil {
			return nil, err
		}
		agg, goAgg = nil, newGoAggregator(cfg)
	default:
		agg.Close()
		return nil, fmt.Errorf("metrics: unknown engine %q (offheap, go)", cfg.Engine)
	}
	s := &Service{cfg: cfg, agg: agg, goAgg: goAgg, sem: make(chan struct{}, cfg.Workers), start: offheap.ReadHeapReport(),
		started: time.Now()}
	s.list = s.counters()
	for range cfg.Workers {
		s.idle = append(s.idle, &worker{p: newParser(cfg.Limits)})
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.mallocs0 = ms.Mallocs
	return s, nil
}

// Close frees the aggregator. Call it after the HTTP server has shut down.
func (s *Service) Close() error {
	if s.agg == nil {
		return nil
	}
	return s.agg.Close()
}

// seriesCount returns the live series of the engine.
func (s *Service) seriesCount() (uint64, error) {
	if s.goAgg != nil {
		return uint64(s.goAgg.len()), nil
	}
	st, err := s.agg.Stats()
	return st.Series, err
}

// Handler returns the service's routes.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/ingest", s.ingest)
	mux.HandleFunc("/metrics", s.metrics)
	mux.HandleFunc("/debug/heap", s.heap)
	mux.Handle(debugstats.Path, debugstats.Handler(s.CounterMap))
	return mux
}

var (
	jsonType  = []string{"application/json"}
	textType  = []string{"text/plain; version=0.0.4; charset=utf-8"}
	allowPost = []string{"POST"}
	allowGet  = []string{"GET, HEAD"}
)

const (
	formatNone = iota
	formatLines
	formatJSON
)

// mediaType reads a Content-Type without allocating: the type before any parameters, matched
// case-insensitively.
func mediaType(v string) int {
	for i := 0; i < len(v); i++ {
		if v[i] == ';' {
			v = v[:i]
			break
		}
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	switch {
	case equalFold(v, "text/plain"):
		return formatLines
	case equalFold(v, "application/json"):
		return formatJSON
	}
	return formatNone
}

func equalFold(a, lower string) bool {
	if len(a) != len(lower) {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

var errTooLarge = errors.New("body too large")

// read reads the body into the worker's buffer, at most limit bytes.
func (wk *worker) read(body io.Reader, limit, hint int64) ([]byte, error) {
	buf := wk.buf[:0]
	if hint > 0 && int64(cap(buf)) < hint+1 {
		buf = make([]byte, 0, hint+1) // +1: room to see EOF without growing
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		wk.buf = buf
		if int64(len(buf)) > limit {
			return nil, errTooLarge
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func (s *Service) ingest(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if r.Method != http.MethodPost {
		w.Header()["Allow"] = allowPost
		s.fail(w, nil, http.StatusMethodNotAllowed, "use POST", 0, 0)
		return
	}
	format := mediaType(r.Header.Get("Content-Type"))
	if format == formatNone {
		s.fail(w, nil, http.StatusUnsupportedMediaType, "Content-Type must be text/plain or application/json", 0, 0)
		return
	}
	if r.ContentLength > s.cfg.BodyLimit {
		s.fail(w, nil, http.StatusRequestEntityTooLarge, "body too large", 0, 0)
		return
	}
	select {
	case s.sem <- struct{}{}:
	case <-r.Context().Done():
		s.failed.Add(1)
		return
	}
	s.idleMu.Lock()
	wk := s.idle[len(s.idle)-1]
	s.idle = s.idle[:len(s.idle)-1]
	s.idleMu.Unlock()
	defer s.release(wk)
	body, err := wk.read(r.Body, s.cfg.BodyLimit, r.ContentLength)
	s.bodyBytes.Add(uint64(len(wk.buf)))
	switch {
	case err == errTooLarge:
		s.fail(w, wk, http.StatusRequestEntityTooLarge, "body too large", 0, 0)
		return
	case err != nil:
		s.fail(w, wk, http.StatusBadRequest, "reading the body failed", 0, 0)
		return
	}
	now := time.Now().UnixNano()
	var out sink = &wk.batch
	if s.goAgg != nil {
		out = &wk.gb
	}
	var res result
	if format == formatLines {
		res = wk.p.lines(body, now, out)
	} else {
		res = wk.p.json(body, now, out)
	}
	defer wk.batch.Reset()
	defer wk.gb.reset()
	s.rejected.Add(uint64(res.Rejected))
	switch {
	case res.TooMany:
		s.fail(w, wk, http.StatusRequestEntityTooLarge, res.Fatal, res.FatalLine, res.Rejected)
		return
	case res.Fatal != "":
		s.fail(w, wk, http.StatusBadRequest, res.Fatal, res.FatalLine, res.Rejected)
		return
	case res.Rejected > 0 && (s.cfg.Strict || res.Samples == 0):
		s.fail(w, wk, http.StatusBadRequest, res.FirstErr, res.FirstLine, res.Rejected)
		return
	case res.Samples == 0:
		s.fail(w, wk, http.StatusBadRequest, "no samples", 0, 0)
		return
	}
	var acc offheap.IngestAccounting
	if s.goAgg != nil {
		acc = s.goAgg.ingest(&wk.gb, now)
	} else {
		acc, err = s.agg.Ingest(&wk.batch, now)
	}
	if err != nil {
		s.fail(w, wk, http.StatusInternalServerError, "ingest failed", 0, res.Rejected)
		return
	}
	s.accepted.Add(acc.Accepted)
	s.overflow.Add(acc.Overflowed)
	s.late.Add(acc.Late)
	s.future.Add(acc.Future)
	s.invalid.Add(acc.Invalid)
	s.badKey.Add(acc.BadKey)
	s.stale.Add(acc.Stale)
	b := append(wk.resp[:0], `{"accepted":`...)
	b = strconv.AppendUint(b, acc.Accepted, 10)
	b = appendField(b, "overflow", acc.Overflowed)
	b = appendField(b, "late", acc.Late)
	b = appendField(b, "future", acc.Future)
	b = appendField(b, "invalid", acc.Invalid)
	b = appendField(b, "bad_key", acc.BadKey)
	b = appendField(b, "rejected_lines", uint64(res.Rejected))
	if res.FirstLine > 0 {
		b = append(b, `,"first_error":{"line":`...)
		b = strconv.AppendInt(b, int64(res.FirstLine), 10)
		b = append(b, `,"error":`...)
		b = appendJSONString(b, res.FirstErr)
		b = append(b, '}')
	}
	b = append(b, "}\n"...)
	wk.resp = b
	w.Header()["Content-Type"] = jsonType
	_, _ = w.Write(b)
}

func (s *Service) engineName() string {
	if s.goAgg != nil {
		return "go"
	}
	return "offheap"
}

func (s *Service) release(wk *worker) {
	s.idleMu.Lock()
	s.idle = append(s.idle, wk)
	s.idleMu.Unlock()
	<-s.sem
}

// fail answers an ingest request with status and {"error":msg,"line":line,"rejected_lines":n}.
func (s *Service) fail(w http.ResponseWriter, wk *worker, status int, msg string, line, rejected int) {
	s.failed.Add(1)
	var b []byte
	if wk != nil {
		b = wk.resp[:0]
	}
	b = append(b, `{"error":`...)
	b = appendJSONString(b, msg)
	if line > 0 {
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(line), 10)
	}
	b = appendField(b, "rejected_lines", uint64(rejected))
	b = append(b, "}\n"...)
	if wk != nil {
		wk.resp = b
	}
	w.Header()["Content-Type"] = jsonType
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func appendField(b []byte, name string, v uint64) []byte {
	b = append(b, `,"`...)
	b = append(b, name...)
	b = append(b, `":`...)
	return strconv.AppendUint(b, v, 10)
}

func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// counter is one of the service's own counters in exposition.
type counter struct {
	name, labels, help string
	v                  *atomic.Uint64
}

func (s *Service) counters() []counter {
	const samples = "Samples by what the aggregator did with them (outcome), or rejected by the parser."
	return []counter{
		{"ingest_requests_total", "", "Requests to /ingest.", &s.requests},
		{"ingest_requests_failed_total", "", "Requests to /ingest answered with an error status.", &s.failed},
		{"ingest_body_bytes_total", "", "Request body bytes read.", &s.bodyBytes},
		{"ingest_rejected_lines_total", "", "Lines or JSON elements rejected as malformed.", &s.rejected},
		{"ingest_samples_total", `outcome="accepted"`, samples, &s.accepted},
		{"ingest_samples_total", `outcome="overflow"`, "", &s.overflow},
		{"ingest_samples_total", `outcome="late"`, "", &s.late},
		{"ingest_samples_total", `outcome="future"`, "", &s.future},
		{"ingest_samples_total", `outcome="invalid"`, "", &s.invalid},
		{"ingest_samples_total", `outcome="bad_key"`, "", &s.badKey},
		{"ingest_samples_total", `outcome="stale"`, "", &s.stale},
	}
}

// CounterMap returns the service's counters (for debugstats).
func (s *Service) CounterMap() map[string]uint64 {
	m := map[string]uint64{}
	for _, c := range s.list {
		name := c.name
		if c.labels != "" {
			name += "{" + c.labels + "}"
		}
		m[name] = c.v.Load()
	}
	return m
}

// metrics serves the service's counters, the Go runtime's allocation and GC counters, then
// the aggregator's exposition (rendered in Rust).
func (s *Service) metrics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header()["Allow"] = allowGet
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	s.expoMu.Lock()
	defer s.expoMu.Unlock()
	b := s.expo[:0]
	for _, c := range s.list {
		if c.help != "" {
			b = append(b, "# HELP "...)
			b = append(b, c.name...)
			b = append(b, ' ')
			b = append(b, c.help...)
			b = append(b, "\n# TYPE "...)
			b = append(b, c.name...)
			b = append(b, " counter\n"...)
		}
		b = append(b, c.name...)
		if c.labels != "" {
			b = append(b, '{')
			b = append(b, c.labels...)
			b = append(b, '}')
		}
		b = append(b, ' ')
		b = strconv.AppendUint(b, c.v.Load(), 10)
		b = append(b, '\n')
	}
	// MemStats (a short stop of the world) rather than runtime/metrics: its Mallocs counts
	// every allocation up to now, where the runtime/metrics count lags by the cached spans.
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b = append(b, "# HELP ingest_go_mallocs_total Go heap objects allocated by the process (runtime.MemStats.Mallocs).\n"+
		"# TYPE ingest_go_mallocs_total counter\ningest_go_mallocs_total "...)
	b = strconv.AppendUint(b, ms.Mallocs, 10)
	b = append(b, "\n# HELP ingest_go_gc_cycles_total Go GC cycles completed.\n"+
		"# TYPE ingest_go_gc_cycles_total counter\ningest_go_gc_cycles_total "...)
	b = strconv.AppendUint(b, uint64(ms.NumGC), 10)
	b = append(b, '\n')
	if n, err := s.seriesCount(); err == nil {
		b = append(b, "# HELP ingest_series Live series in the aggregator.\n# TYPE ingest_series gauge\ningest_series "...)
		b = strconv.AppendUint(b, n, 10)
		b = append(b, '\n')
	}
	s.expo = b
	w.Header()["Content-Type"] = textType
	if r.Method == http.MethodHead {
		return
	}
	if _, err := w.Write(b); err != nil {
		return
	}
	if s.goAgg != nil {
		_ = s.goAgg.writePrometheus(w, time.Now().UnixNano())
		return
	}
	_, _ = s.agg.WritePrometheus(w, time.Now().UnixNano())
}

// heap serves offheap's heap report: the process at start beside now (Go heap and GC, Rust
// heap), and the Go allocations per ingest request since start.
func (s *Service) heap(w http.ResponseWriter, r *http.Request) {
	now := offheap.ReadHeapReport()
	w.Header()["Content-Type"] = []string{"text/plain; charset=utf-8"}
	fmt.Fprintf(w, "offheap heap report, %s engine (uptime %v)\n", s.engineName(), time.Since(s.started).Round(time.Millisecond))
	_ = s.start.WriteSideBySide(w, "at start", now, "now")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	reqs := s.requests.Load()
	fmt.Fprintf(w, "\ningest requests %d, samples accepted %d, rejected lines %d\n", reqs, s.accepted.Load(), s.rejected.Load())
	if reqs > 0 {
		fmt.Fprintf(w, "Go heap objects allocated per ingest request since start: %.1f (MemStats.Mallocs; all endpoints, net/http included)\n",
			float64(ms.Mallocs-s.mallocs0)/float64(reqs))
	}
	if s.goAgg != nil {
		fmt.Fprintf(w, "aggregator: %d series (on the Go heap)\n", s.goAgg.len())
	} else if st, err := s.agg.Stats(); err == nil {
		fmt.Fprintf(w, "aggregator: %d series, %d bytes of keys (on the Rust heap)\n", st.Series, st.KeyBytes)
	}
}
