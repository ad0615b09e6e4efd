package offheap

import (
	"compress/gzip"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HandlerOptions configure [Aggregator.Handler].
type HandlerOptions struct {
	// Now returns the time of a scrape in nanoseconds (default time.Now().UnixNano()).
	Now func() int64
	// DisableOpenMetrics leaves OpenMetrics out of the negotiation (as promhttp does unless
	// its EnableOpenMetrics is set); protobuf and text stay.
	DisableOpenMetrics bool
	// DisableCompression never gzips the response.
	DisableCompression bool
	// Before, when set, writes more metric families ahead of the aggregator's, in the
	// negotiated format f (for OpenMetrics without "# EOF", which comes after the aggregator's
	// families; for protobuf as length-delimited MetricFamily messages): a service's own
	// counters, say. Their names must differ from the aggregator's families.
	Before func(w io.Writer, f ExpositionFormat) error
}

// Handler returns an [http.Handler] that serves the aggregator's exposition: the format
// negotiated from the scrape's Accept header as promhttp negotiates it (OpenMetrics 1.0 or
// 0.0.1, the protobuf format, else text 0.0.4), gzipped when the Accept-Encoding header
// accepts gzip. Scrapes run concurrently, each through its own snapshot arena and buffers,
// kept in pools: a scrape allocates nothing per series on the Go heap, and a slow client
// holds one 32 KiB buffer and one rendered chunk while ingest goes on. Once the aggregator is
// closed, the handler answers 500 before writing any exposition.
func (a *Aggregator) Handler(opts HandlerOptions) http.Handler {
	if opts.Now == nil {
		opts.Now = func() int64 { return time.Now().UnixNano() }
	}
	return &expoHandler{agg: a, opts: opts}
}

type expoHandler struct {
	agg   *Aggregator
	opts  HandlerOptions
	pool  sync.Pool // *scrapeState
	gzips sync.Pool // *gzip.Writer
}

// scrapeState is what one scrape uses: a snapshot arena and the buffer the exposition is
// copied through.
type scrapeState struct {
	snap *Snapshot
	buf  []byte
}

// Header values, shared (net/http does not change them).
var (
	hdrText          = []string{ContentTypeText}
	hdrOpenMetrics   = []string{ContentTypeOpenMetrics}
	hdrOpenMetrics01 = []string{"application/openmetrics-text; version=0.0.1; charset=utf-8"}
	hdrProtobuf      = []string{ContentTypeProtobuf}
	hdrGzip          = []string{"gzip"}
	hdrVary          = []string{"Accept-Encoding"}
	hdrAllow         = []string{"GET, HEAD"}
)

func (h *expoHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header()["Allow"] = hdrAllow
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		return
	}
	offer := negotiate(r.Header.Get("Accept"), !h.opts.DisableOpenMetrics)
	st, _ := h.pool.Get().(*scrapeState)
	if st == nil {
		snap, err := NewSnapshot()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		st = &scrapeState{snap: snap, buf: make([]byte, expoChunk)}
	}
	defer h.pool.Put(st)
	hdr := w.Header()
	switch offer {
	case offerOpenMetrics:
		hdr["Content-Type"] = hdrOpenMetrics
	case offerOpenMetrics01:
		hdr["Content-Type"] = hdrOpenMetrics01
	case offerProtobuf:
		hdr["Content-Type"] = hdrProtobuf
	default:
		hdr["Content-Type"] = hdrText
	}
	hdr["Vary"] = hdrVary
	if r.Method == http.MethodHead {
		return
	}
	var out io.Writer = w
	var gz *gzip.Writer
	if !h.opts.DisableCompression && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		hdr["Content-Encoding"] = hdrGzip
		gz, _ = h.gzips.Get().(*gzip.Writer)
		if gz == nil {
			gz = gzip.NewWriter(w)
		} else {
			gz.Reset(w)
		}
		out = gz
	}
	_, err := h.agg.expose(out, st.snap, st.buf, h.opts.Now(), offer.format(), h.opts.Before)
	if gz != nil {
		if err == nil {
			err = gz.Close()
		}
		gz.Reset(io.Discard)
		h.gzips.Put(gz)
	}
	if err != nil {
		// Nothing was written when the scrape itself failed (a closed aggregator: the gzip
		// writer writes nothing before its first Write); otherwise the client went away and
		// the response is cut short.
		if _, ok := err.(*Error); ok {
			delete(hdr, "Content-Encoding")
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}
}

// offer is a format the handler offers, in promhttp's order of preference.
type offer uint8

const (
	offerOpenMetrics offer = iota
	offerOpenMetrics01
	offerProtobuf
	offerText
)

func (o offer) format() ExpositionFormat {
	switch o {
	case offerOpenMetrics, offerOpenMetrics01:
		return FormatOpenMetrics
	case offerProtobuf:
		return FormatProtobuf
	}
	return FormatText
}

// acceptClause is one media range of an Accept header.
type acceptClause struct {
	typ, sub string
	q        float64
	// version, proto and encoding parameters ("" when absent); offers have no others but
	// charset, which matching ignores.
	version, proto, encoding string
}

// maxClauses is how many media ranges of an Accept header are read (Prometheus sends 6).
const maxClauses = 16

// negotiate picks the format for an Accept header as expfmt.NegotiateIncludingOpenMetrics
// (withOpenMetrics) or expfmt.Negotiate picks it among the formats offered here: clauses by
// quality (a stable sort that also puts concrete types before wildcards, as goautoneg's),
// the first clause that matches an offer in order of preference wins, else text. Nothing is
// allocated.
func negotiate(accept string, withOpenMetrics bool) offer {
	var clauses [maxClauses]acceptClause
	n := 0
	for rest := accept; rest != "" && n < maxClauses; {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		if c, ok := parseClause(part); ok {
			clauses[n] = c
			n++
		}
	}
	// Insertion sort (stable) with goautoneg's order: higher q first, then a concrete type
	// before "*", then a concrete subtype before "*".
	for i := 1; i < n; i++ {
		c := clauses[i]
		j := i
		for j > 0 && clauseLess(&c, &clauses[j-1]) {
			clauses[j] = clauses[j-1]
			j--
		}
		clauses[j] = c
	}
	for i := range n {
		c := &clauses[i]
		for _, o := range [...]offer{offerOpenMetrics, offerOpenMetrics01, offerProtobuf, offerText} {
			if (o == offerOpenMetrics || o == offerOpenMetrics01) && !withOpenMetrics {
				continue
			}
			if c.matches(o) {
				return o
			}
		}
	}
	return offerText
}

func clauseLess(a, b *acceptClause) bool {
	switch {
	case a.q > b.q:
		return true
	case a.typ != "*" && b.typ == "*":
		return true
	case a.sub != "*" && b.sub == "*":
		return true
	}
	return false
}

// parseClause reads one media range as goautoneg does: "type/subtype" (or "*") and
// "; key=value" parameters, spaces trimmed; false for a range it skips.
func parseClause(part string) (acceptClause, bool) {
	c := acceptClause{q: 1}
	media, params, _ := strings.Cut(strings.Trim(part, " "), ";")
	typ, sub, hasSub := strings.Cut(media, "/")
	c.typ = strings.Trim(typ, " ")
	switch {
	case !hasSub:
		if c.typ != "*" {
			return c, false
		}
		c.sub = "*"
	case strings.Contains(sub, "/"):
		return c, false
	default:
		c.sub = strings.Trim(sub, " ")
	}
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, ok := strings.Cut(p, "=")
		if !ok || strings.Contains(v, "=") {
			continue
		}
		k, v = strings.Trim(k, " "), strings.Trim(v, " ")
		switch k {
		case "q":
			// goautoneg parses q as a float32 and keeps 0 on a syntax error.
			q, err := strconv.ParseFloat(v, 32)
			if err != nil {
				q = 0
			}
			c.q = q
		case "version":
			c.version = v
		case "proto":
			c.proto = v
		case "encoding":
			c.encoding = v
		}
	}
	return c, true
}

// matches says whether the clause accepts offer o, with expfmt's rules: wildcards for type
// and subtype, and every parameter of the offer but charset equal (a missing version of
// OpenMetrics meaning 0.0.1, of text/plain 0.0.4).
func (c *acceptClause) matches(o offer) bool {
	typ, sub, version, proto, encoding := "text", "plain", "0.0.4", "", ""
	switch o {
	case offerOpenMetrics:
		typ, sub, version = "application", "openmetrics-text", "1.0.0"
	case offerOpenMetrics01:
		typ, sub, version = "application", "openmetrics-text", "0.0.1"
	case offerProtobuf:
		typ, sub = "application", "vnd.google.protobuf"
		proto, encoding = "io.prometheus.client.MetricFamily", "delimited"
	}
	if (c.typ != "*" && c.typ != typ) || (c.sub != "*" && c.sub != sub) {
		return false
	}
	v := c.version
	if v == "" && c.typ == "application" && c.sub == "openmetrics-text" {
		v = "0.0.1"
	}
	if v == "" && c.typ == "text" && c.sub == "plain" {
		v = "0.0.4"
	}
	if o == offerProtobuf {
		return c.proto == proto && c.encoding == encoding
	}
	return v == version
}

// acceptsGzip says whether an Accept-Encoding header lists gzip with a quality above 0.
func acceptsGzip(h string) bool {
	for rest := h; rest != ""; {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		name, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.Trim(name, " \t"), "gzip") {
			continue
		}
		_, q, ok := strings.Cut(params, "q=")
		if !ok {
			return true
		}
		v, err := strconv.ParseFloat(strings.Trim(q, " \t"), 64)
		return err == nil && v > 0
	}
	return false
}
