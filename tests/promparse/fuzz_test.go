package promparse

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	offheap "github.com/offheap/offheap/go"
)

// bytes of a fuzz input, read from the front; zeros past the end.
type input struct {
	b []byte
	i int
}

func (in *input) byte() byte {
	if in.i >= len(in.b) {
		in.i++
		return 0
	}
	in.i++
	return in.b[in.i-1]
}

func (in *input) done() bool { return in.i >= len(in.b) }

// text takes up to max bytes of the input as a string (any bytes, valid UTF-8 or not).
func (in *input) text(max int) string {
	n := int(in.byte()) % (max + 1)
	start := min(in.i, len(in.b))
	end := min(start+n, len(in.b))
	in.i = start + n
	return string(in.b[start:end])
}

var fuzzNames = []string{"a", "http_latency_seconds", "x_total", "requests_total", "up", "a:b", "x_count", "9x",
	"__name__", "le", "quantile", "route", "code", "_", "é"}

// exercise builds an aggregator from a fuzz input (key format, types and help of families,
// series of random names, labels and values), scrapes it in every format and checks that
// expfmt reads each exposition; it returns the text expositions and the label values expfmt
// read from them, for parse.py.
func exercise(t testing.TB, data []byte) map[string][]byte {
	in := &input{b: data}
	mode := []offheap.WindowMode{offheap.Tumbling, offheap.Cumulative, offheap.Sliding}[in.byte()%3]
	kf := []offheap.KeyFormat{offheap.KeySeries, offheap.KeyLabels, offheap.KeyValue}[in.byte()%3]
	cfg := offheap.AggregatorConfig{
		Mode: mode, Width: time.Minute, KeyFormat: kf, MaxSeries: 1 + int(in.byte()%64),
		Quantiles: []float64{0, 0.5, 1}[:in.byte()%4%3+1], Help: in.text(40),
		MetricType: offheap.MetricType(in.byte() % 4), NoQuantiles: in.byte()%5 == 0,
	}
	agg, err := offheap.NewAggregator(cfg)
	if err != nil && !utf8.ValidString(cfg.Help) && strings.Contains(err.Error(), "AggregatorConfig.Help: ") {
		// A help text that is not UTF-8 is refused, naming the field.
		cfg.Help = strings.ToValidUTF8(cfg.Help, "?")
		agg, err = offheap.NewAggregator(cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer agg.Close()
	var batch offheap.SampleBatch
	for n := 0; !in.done() && n < 200; n++ {
		switch op := in.byte() % 8; {
		case op == 0:
			// A family's type and help (the name may be invalid: then an error, no change).
			name := fuzzNames[int(in.byte())%len(fuzzNames)]
			_ = agg.SetFamily(name, offheap.MetricType(in.byte()%4), in.text(30))
		case op == 1:
			batch.AddString(in.text(24), sec, value(in))
		default:
			// A series key built from names and values, in order or not.
			var key []byte
			name := fuzzNames[int(in.byte())%len(fuzzNames)]
			labels := make([]string, 0, 6)
			for range in.byte() % 4 {
				labels = append(labels, fuzzNames[int(in.byte())%len(fuzzNames)], in.text(12))
			}
			switch kf {
			case offheap.KeySeries:
				key = offheap.AppendSeriesKey(nil, name, labels...)
			case offheap.KeyLabels:
				key = offheap.AppendSeriesKey(nil, "", labels...)
				if len(key) > 1 {
					key = key[1 : len(key)-1]
				}
			default:
				key = []byte(in.text(12))
			}
			batch.AddKey(key, sec, value(in))
		}
	}
	if _, err := agg.Ingest(&batch, sec); err != nil {
		t.Fatal(err)
	}
	h := agg.Handler(offheap.HandlerOptions{Now: func() int64 { return sec + int64(in.byte())*int64(time.Second) }})
	out := map[string][]byte{}
	for _, f := range formats {
		_, body := scrape(t, h, f.accept, in.byte()%2 == 0)
		mfs, err := decode(body, f.expfmt)
		if err != nil {
			t.Fatalf("expfmt cannot read the %s exposition: %v\n%q", f.name, err, body)
		}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				if mf.GetType() == 0 && m.GetCounter() == nil {
					t.Fatalf("%s: counter without a value: %v", f.name, mf)
				}
			}
		}
		if f.ext != "" {
			out[f.name] = body
		}
	}
	return out
}

// value is a sample value: ordinary, huge, tiny, negative, zero, or not finite.
func value(in *input) float64 {
	switch b := in.byte(); b % 8 {
	case 0:
		return math.NaN()
	case 1:
		return math.Inf(int(b%2)*2 - 1)
	case 2:
		return -float64(b) * 1e300
	case 3:
		return float64(b) * 1e-310
	case 4:
		return 0
	default:
		return float64(int(b)-100) / 7
	}
}

// labelValues returns the label values expfmt reads from a text exposition.
func labelValues(t testing.TB, body []byte, f format) []string {
	mfs, err := decode(body, f.expfmt)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				set[l.GetValue()] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// FuzzExposition: random keys, labels, help texts and values; every exposition must parse.
// Its seeds run in `go test` (make test); `go test -fuzz FuzzExposition` explores.
func FuzzExposition(f *testing.F) {
	for _, seed := range [][]byte{
		{},
		[]byte("\x00\x00\x05hello\x02\x03\x07\x00a\"b\\c\n\x09"),
		[]byte("\x01\x01\x10\x00\x02\x00\x01\x03\x05\x01\x02\x0b\x05route\x06\x02\xff\xfe"),
		[]byte("\x02\x02\x3f\x02\x03\x00\x00\x00\x01\x05\x0a\x00\x00\x00\x01\x08\x01"),
		[]byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16"),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) { exercise(t, data) })
}

// TestRandomExpositions runs 300 pseudo-random inputs through exercise and hands their text
// expositions to parse.py, which must read the label values expfmt read.
func TestRandomExpositions(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for k := range 300 {
		data := make([]byte, rng.IntN(400))
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		for name, body := range exercise(t, data) {
			f := formats[0]
			if name == "openmetrics" {
				f = formats[1]
			}
			save(t, fmt.Sprintf("random_%03d", k), f, body, labelValues(t, body, f))
		}
	}
}
