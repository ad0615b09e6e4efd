package main

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	offheap "github.com/offheap/offheap/go"
)

var testLimits = Limits{MaxLine: 400, MaxKey: 300, MaxSamples: 50}

const testNow = int64(1_700_000_000_000_000_000)

// parseBoth parses body with the hand-written parser and the reference, and fails the test
// when they disagree on the fatal outcome or on the samples kept.
func parseBoth(t testing.TB, format string, body []byte, lim Limits) (result, []sample) {
	t.Helper()
	p := newParser(lim)
	var rec recorder
	var r result
	var ref refOutcome
	if format == "json" {
		r = p.json(body, testNow, &rec)
		ref = refJSON(body, lim, testNow)
	} else {
		r = p.lines(body, testNow, &rec)
		ref = refLines(string(body), lim, testNow)
	}
	if r.Samples != len(rec.got) {
		t.Fatalf("%q: result says %d samples, the sink got %d", body, r.Samples, len(rec.got))
	}
	if (r.Fatal != "") != ref.fatal || r.TooMany != ref.tooMany {
		t.Fatalf("%s %q: fatal %q (too many %v), reference fatal %v (too many %v)", format, body, r.Fatal, r.TooMany,
			ref.fatal, ref.tooMany)
	}
	if r.Fatal != "" {
		return r, nil
	}
	if r.Rejected != ref.rejected {
		t.Fatalf("%s %q: rejected %d (first %d: %s), reference %d", format, body, r.Rejected, r.FirstLine, r.FirstErr, ref.rejected)
	}
	if len(rec.got) != len(ref.samples) {
		t.Fatalf("%s %q: %d samples %v, reference %d %v", format, body, len(rec.got), rec.got, len(ref.samples), ref.samples)
	}
	for i := range rec.got {
		if !sameSample(rec.got[i], ref.samples[i]) {
			t.Fatalf("%s %q: sample %d is %+v, reference %+v", format, body, i, rec.got[i], ref.samples[i])
		}
	}
	if (r.Rejected > 0) != (r.FirstLine > 0 && r.FirstErr != "") {
		t.Fatalf("%q: %d rejected but first error %d %q", body, r.Rejected, r.FirstLine, r.FirstErr)
	}
	return r, rec.got
}

func TestLinesExact(t *testing.T) {
	body := "# a comment\n\n" +
		"http_latency_seconds{route=\"/a\",code=\"200\"} 0.25 1700000000123\r\n" +
		"  http_latency_seconds{code=\"200\",route=\"/a\"}\t-1.5e3  \n" +
		"up 1\n" +
		"x{v=\"q\\\"\\\\\\n\"} NaN\n" +
		"y +Inf 5\n"
	r, got := parseBoth(t, "lines", []byte(body), testLimits)
	want := []sample{
		{`metric="http_latency_seconds",code="200",route="/a"`, 1700000000123 * 1e6, 0.25},
		{`metric="http_latency_seconds",code="200",route="/a"`, testNow, -1500},
		{`metric="up"`, testNow, 1},
		{`metric="x",v="q\"\\\n"`, testNow, math.NaN()},
		{`metric="y"`, 5e6, math.Inf(1)},
	}
	if r.Rejected != 0 || len(got) != len(want) {
		t.Fatalf("rejected %d (%s), got %v", r.Rejected, r.FirstErr, got)
	}
	for i := range want {
		if !sameSample(got[i], want[i]) {
			t.Errorf("sample %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestLinesMalformed(t *testing.T) {
	long := "a{l=\"" + strings.Repeat("x", 400) + "\"} 1"
	key := "a{l=\"" + strings.Repeat("x", 300) + "\"} 1"
	var many []string
	for i := range 33 {
		many = append(many, fmt.Sprintf("l%d=\"v\"", i))
	}
	for _, tc := range []struct {
		line string
		msg  string // the first error's message, in part
	}{
		{"a", "space"},
		{"a ", "space"},
		{"a 1x", "bad value"},
		{"a 1 2 3", "timestamp"},
		{"a 0x10", "bad value"},
		{"a inf", "bad value"},
		{"a nan", "bad value"},
		{"a 1_000", "bad value"},
		{"a .", "bad value"},
		{"a 1e", "bad value"},
		{"a 1 1.5", "timestamp"},
		{"a 1 99999999999999999999", "timestamp"},
		{"a 1 9223372036855", "timestamp"},
		{"a 1 -", "timestamp"},
		{"1a 1", "name"},
		{"a{ 1", "label name"},
		{"a{b} 1", "'='"},
		{"a{b=c} 1", "quoted"},
		{"a{b=\"c} 1", "unterminated"},
		{"a{b=\"c\" 1", "','"},
		{"a{b=\"c\",} 1", "label name"},
		{"a{b=\"\\x\"} 1", "escape"},
		{"a{b=\"c\"}x 1", "space"},
		{"a{quantile=\"1\"} 1", "reserved"},
		{"a{metric=\"1\"} 1", "reserved"},
		{"a{b=\"1\",b=\"2\"} 1", "duplicate"},
		{"a{b=\"\xff\"} 1", "UTF-8"},
		{"a{" + strings.Join(many, ",") + "} 1", "too many labels"},
		{long, "line too long"},
		{key, "too long"},
	} {
		body := "ok 1\n" + tc.line + "\nok 2\n"
		r, got := parseBoth(t, "lines", []byte(body), testLimits)
		if r.Rejected != 1 || r.FirstLine != 2 || !strings.Contains(r.FirstErr, tc.msg) || len(got) != 2 {
			t.Errorf("%q: rejected %d, first error line %d %q (want %q), %d samples", tc.line, r.Rejected, r.FirstLine,
				r.FirstErr, tc.msg, len(got))
		}
	}
}

func TestLinesEdges(t *testing.T) {
	for _, body := range []string{"", "\n\n", "# only\n", "a 1", "a 1\n", "a 1\r", "\ta\t1\t", "a{} 1", "a:b_c{_x=\"\"} -0"} {
		parseBoth(t, "lines", []byte(body), testLimits)
	}
	var b strings.Builder
	for i := range 51 {
		fmt.Fprintf(&b, "s%d 1\n", i)
	}
	r, _ := parseBoth(t, "lines", []byte(b.String()), testLimits)
	if !r.TooMany || r.FatalLine != 51 {
		t.Errorf("51 samples over a limit of 50: %+v", r)
	}
}

func TestJSONExact(t *testing.T) {
	body := ` [ {"series":"http_latency_seconds{route=\"/a\",code=\"200\"}","value":0.25,"ts":1700000000123},
	{"value":-1.5E3, "series":"up"}, {"series":"\u0061\ud83d\ude00x", "value":1} ,
	{"series":"b{l=\"\\\"\u00e9\"}","value":1e400,"ts":-5}, {"series":"c", "value":1, "series":"d"} ] `
	r, got := parseBoth(t, "json", []byte(body), testLimits)
	if r.Rejected != 1 || r.FirstLine != 2 {
		t.Fatalf("want the emoji series rejected on line 2: %+v", r)
	}
	want := []sample{
		{`metric="http_latency_seconds",code="200",route="/a"`, 1700000000123 * 1e6, 0.25},
		{`metric="up"`, testNow, -1500},
		{`metric="b",l="\"é"`, -5e6, math.Inf(1)},
		{`metric="d"`, testNow, 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if !sameSample(got[i], want[i]) {
			t.Errorf("sample %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestJSONMalformed(t *testing.T) {
	// Elements rejected, the others kept.
	for _, e := range []string{
		`1`, `null`, `"s"`, `[]`, `{}`, `{"value":1}`, `{"series":"a"}`, `{"series":1,"value":1}`,
		`{"series":"a","value":"1"}`, `{"series":"a","value":null}`, `{"series":"a","value":1,"ts":1.5}`,
		`{"series":"a","value":1,"ts":1e3}`, `{"series":"a","value":1,"ts":"1"}`, `{"series":"a","value":1,"x":1}`,
		`{"series":"a","value":1,"ts":99999999999999999999}`, `{"series":"a b","value":1}`,
		`{"series":"a{b=\"\\x\"}","value":1}`, `{"series":"a\u0000","value":1}`, `{"series":"` + "\xff" + `","value":1}`,
		`{"series":"a","value":1,"seriesx":{"nested":[1,{"a":null}]}}`,
		`{"series":"` + strings.Repeat("a", 301) + `","value":1}`,
		`{"series":"a{quantile=\"1\"}","value":1}`,
	} {
		body := `[{"series":"ok","value":1},` + e + `,{"series":"ok","value":2}]`
		r, got := parseBoth(t, "json", []byte(body), testLimits)
		if r.Rejected != 1 || len(got) != 2 {
			t.Errorf("%s: rejected %d (%s), %d samples", e, r.Rejected, r.FirstErr, len(got))
		}
	}
	// The whole body rejected.
	for _, body := range []string{
		``, ` `, `{}`, `null`, `[`, `[{"series":"a","value":1}`, `[{"series":"a","value":1},]`,
		`[{"series":"a","value":1}] x`, `[{"series":"a,"value":1}]`, `[{"series":"a","value":01}]`,
		`[{"series":"a","value":1.}]`, `[{"series":"a","value":-}]`, `[{"series":"a","value":NaN}]`,
		`[{"series":"a","value":Infinity}]`, `[{"series":"a\q","value":1}]`, `[{"series":"a\u12","value":1}]`,
		`[{"series":"a` + "\n" + `","value":1}]`, `[{series:"a","value":1}]`, `[{"series" "a","value":1}]`,
		`[{"series":"a","value":1,}]`, `[{"series":"a","value":tru}]`, `[{"series":"a"` + "\x00",
		`[` + strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70) + `]`,
		`[{"series":"a","value":1,"x":` + strings.Repeat(`[`, 70) + strings.Repeat(`]`, 70) + `}]`,
	} {
		r, got := parseBoth(t, "json", []byte(body), testLimits)
		if r.Fatal == "" {
			t.Errorf("%q: not rejected as a whole: %+v %v", body, r, got)
		}
	}
	deep := `[{"series":"a","value":1,"x":` + strings.Repeat(`[`, 60) + strings.Repeat(`]`, 60) + `}]`
	if r, _ := parseBoth(t, "json", []byte(deep), testLimits); r.Fatal != "" || r.Rejected != 1 {
		t.Errorf("nesting within the limit: %+v", r)
	}
	var b strings.Builder
	b.WriteString("[")
	for i := range 51 {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `{"series":"s%d","value":1}`, i)
	}
	b.WriteString("]")
	if r, _ := parseBoth(t, "json", []byte(b.String()), testLimits); !r.TooMany || r.FatalLine != 51 {
		t.Errorf("51 samples over a limit of 50: %+v", r)
	}
}

// loadBody makes a body of n samples over distinct series in the format.
func loadBody(format string, n int) []byte {
	return bodies(LoadConfig{Format: format, Batch: n, Series: n}, 0, 1)[0]
}

// TestParseIngestAllocs proves that parsing a batch of each format into the reused Batch and
// ingesting it allocates nothing on the Go heap.
func TestParseIngestAllocs(t *testing.T) {
	agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Width: time.Minute, RawLabelKeys: true})
	if err != nil {
		t.Fatal(err)
	}
	defer agg.Close()
	for _, format := range []string{"lines", "json"} {
		body := loadBody(format, 1000)
		p := newParser(DefaultConfig().Limits)
		var batch offheap.SampleBatch
		now := time.Now().UnixNano()
		var accepted uint64
		run := func() {
			var r result
			if format == "json" {
				r = p.json(body, now, &batch)
			} else {
				r = p.lines(body, now, &batch)
			}
			acc, err := agg.Ingest(&batch, now)
			if err != nil || r.Samples != 1000 || acc.Accepted != 1000 {
				panic(fmt.Sprintf("%s: %v %+v %+v", format, err, r, acc))
			}
			accepted += acc.Accepted
			batch.Reset()
		}
		run() // grow the batch and the parser's buffers
		if allocs := testing.AllocsPerRun(50, run); allocs != 0 {
			t.Errorf("%s: %.1f allocations per parsed and ingested batch of 1000 samples, want 0", format, allocs)
		}
		if accepted != 52*1000 { // the run above, AllocsPerRun's warm-up and its 50 runs
			t.Errorf("%s: accepted %d", format, accepted)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for _, format := range []string{"lines", "json"} {
		b.Run(format, func(b *testing.B) {
			body := loadBody(format, 1000)
			p := newParser(DefaultConfig().Limits)
			var batch offheap.SampleBatch
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				var r result
				if format == "json" {
					r = p.json(body, 1, &batch)
				} else {
					r = p.lines(body, 1, &batch)
				}
				if r.Samples != 1000 {
					b.Fatal(r)
				}
				batch.Reset()
			}
			b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
