package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestKeptSections(t *testing.T) {
	old := "# x\n| a |\n<!-- bench-proxy:start -->\n## Proxy\n| r |\n<!-- bench-proxy:end -->\ntail\n<!-- other:start -->o<!-- other:end -->"
	got := keptSections(old)
	want := []string{"<!-- bench-proxy:start -->\n## Proxy\n| r |\n<!-- bench-proxy:end -->", "<!-- other:start -->o<!-- other:end -->"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("keptSections = %q, want %q", got, want)
	}
	if got := keptSections("no markers"); len(got) != 0 {
		t.Fatalf("keptSections without markers = %q", got)
	}
}

func TestTargets(t *testing.T) {
	if !AtMost(1.1)(1/1.05) || AtMost(1.1)(1/1.2) {
		t.Fatal("AtMost")
	}
	if !AtLeast(15)(16) || AtLeast(15)(14) {
		t.Fatal("AtLeast")
	}
}

// TestDeclaredRows checks the rows of rows.txt: it parses, unique names, bounds that name rows,
// every "0 allocs" target checked, and that each row missing its target in the last recorded
// run states its bound.
func TestDeclaredRows(t *testing.T) {
	if err := errors.Join(rowsErr, checkRows(rows)); err != nil {
		t.Fatal(err)
	}
	byName := map[string]Row{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	for _, name := range []string{
		"handle lookup (lease taken and released)",
		"kittyhell ×16, pipelined, one cgo call, framing included",
		"kittyhell ×16, heads of 16 connections (offsets), one cgo call",
		"kittyhell ×16 vs net/http ReadRequest",
		"REQ_SHORT ×16 vs fasthttp RequestHeader.Read",
		"offheap Engine tunnel vs io.Copy through bufio.Reader",
		"offheap Relay (netpoller), copy, vs io.Copy through bufio.Reader",
		"16 KiB body, offheap Relay (copy, the default)",
	} {
		r, ok := byName[name]
		if !ok || r.Bound.Row == "" {
			t.Errorf("%q: declared %v, bound %q", name, ok, r.Bound.Row)
		}
	}
}

// TestParseRows reads every key of the format into its field, and rejects what it cannot read.
func TestParseRows(t *testing.T) {
	rs, err := parseRows(`# a comment

section: S
row: a
bench: go:A
peer: criterion:p
metric: ns/sample
peer-metric: ns/req
target: ≥ 2x p, 0 allocs
met: at least 2
max: 20
min-mbs: 200.5
zero-allocs: yes
bound: b
why: because

section: T
row: b
bench: criterion:b
met: at most 1.1
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].Met == nil || rs[1].Met == nil {
		t.Fatalf("rows = %+v", rs)
	}
	want := Row{Section: "S", Name: "a", Bench: "go:A", Peer: "criterion:p", Metric: "ns/sample", PeerMetric: "ns/req",
		Target: "≥ 2x p, 0 allocs", Max: 20, MinMBs: 200.5, ZeroAllocs: true, Bound: Bound{Row: "b", Why: "because"}}
	got := rs[0]
	got.Met = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("row a = %+v\nwant %+v", got, want)
	}
	if !rs[0].Met(2) || rs[0].Met(1.9) || !rs[1].Met(1/1.05) || rs[1].Met(1/1.2) {
		t.Error("met targets not read")
	}
	if rs[1].Section != "T" || rs[1].Name != "b" || rs[1].Bench != "criterion:b" {
		t.Errorf("row b = %+v", rs[1])
	}
	for _, tc := range []struct{ text, want string }{
		{"bench: go:A", "before the first row"},
		{"row: a\nbench: go:A\nbench: go:B", "set twice"},
		{"row: a\ncolour: red", "unknown key"},
		{"row: a\nno colon", "want \"key: value\""},
		{"row: a\ntarget:", "want \"key: value\""},
		{"row: a\nmet: about 2", "at most X"},
		{"row: a\nmet: at least two", "met:"},
		{"row: a\nmax: ten", "invalid syntax"},
		{"row: a\nzero-allocs: no", "want yes"},
	} {
		if _, err := parseRows(tc.text); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseRows(%q) = %v, want an error with %q", tc.text, err, tc.want)
		}
	}
}

func TestCheckRowsFindsMistakes(t *testing.T) {
	ok := Row{Name: "a", Bench: "go:A", Target: "≤ 1x, 0 allocs", ZeroAllocs: true}
	for _, tc := range []struct {
		rows []Row
		want string
	}{
		{[]Row{ok, ok}, "declared twice"},
		{[]Row{{Name: "b", Bound: Bound{Row: "nowhere", Why: "x"}}}, "names no row"},
		{[]Row{ok, {Name: "b", Bound: Bound{Row: "a"}}}, "both Row and Why"},
		{[]Row{{Name: "b", Bench: "go:B", Target: "fast, 0 allocs"}}, "0 allocations exactly when"},
		{[]Row{{Name: "b", Bench: "go:B", Target: "0 Go allocations per series"}}, "0 allocations exactly when"},
		{[]Row{{Name: "b", Bench: "go:B", ZeroAllocs: true}}, "0 allocations exactly when"},
		{[]Row{{Name: "b", Bench: "criterion:b", Target: "0 allocs", ZeroAllocs: true}}, "needs a Go benchmark"},
		{[]Row{{Name: "a | b"}}, "no \"|\""},
	} {
		err := checkRows(tc.rows)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkRows(%v) = %v, want %q", tc.rows, err, tc.want)
		}
	}
	if err := checkRows([]Row{ok, {Name: "b", Bound: Bound{Row: "a", Why: "x"}}}); err != nil {
		t.Fatal(err)
	}
}

func res(kv ...any) *result {
	r := &result{metrics: map[string][]float64{}}
	for i := 0; i < len(kv); i += 2 {
		r.metrics[kv[i].(string)] = kv[i+1].([]float64)
	}
	return r
}

// testRows is a small table: a met row, rows missing their ratio or absolute target with a
// bound, one missing only its allocations, one without a bound, a peer in another unit, and a
// bench and a peer that did not run.
func testRows() ([]Row, map[string]*result) {
	rs := []Row{
		{Section: "S", Name: "fast", Bench: "go:Fast", Peer: "go:Peer", Target: "≥ 2x peer, 0 allocs", Met: AtLeast(2), ZeroAllocs: true},
		{Section: "S", Name: "slow", Bench: "go:Slow", Peer: "go:Peer", Target: "≥ 2x peer", Met: AtLeast(2),
			Bound: Bound{Row: "bound: floor", Why: "the floor of the work"}},
		{Section: "S", Name: "allocating", Bench: "go:Alloc", Peer: "go:Peer", Target: "≥ 1x peer, 0 allocs", Met: AtLeast(1), ZeroAllocs: true},
		{Section: "S", Name: "unbounded", Bench: "go:Slow", Target: "≤ 10 ns", Max: 10},
		{Section: "S", Name: "capped", Bench: "go:Slow", Target: "≤ 20 ns", Max: 20,
			Bound: Bound{Row: "bound: floor", Why: "the floor of the work"}},
		{Section: "S", Name: "bound: floor", Bench: "criterion:floor", Peer: "go:Peer", PeerMetric: "ns/req"},
		{Section: "T", Name: "absent", Bench: "go:Absent", Target: "≤ 1 ns", Max: 1},
		{Section: "T", Name: "peerless", Bench: "go:Fast", Peer: "go:Absent", Target: "≥ 1x", Met: AtLeast(1)},
	}
	results := map[string]*result{
		"go:Fast":         res("ns/op", []float64{10, 11, 12}, "allocs/op", []float64{0, 0, 0}),
		"go:Slow":         res("ns/op", []float64{30, 30, 31}, "MB/s", []float64{100}),
		"go:Alloc":        res("ns/op", []float64{5}, "allocs/op", []float64{2, 3, 2}),
		"go:Peer":         res("ns/op", []float64{44, 45, 46}, "ns/req", []float64{90}),
		"criterion:floor": res("ns/op", []float64{60}),
	}
	return rs, results
}

func TestEvaluate(t *testing.T) {
	rs, results := testRows()
	lines, missing := evaluate(rs, results)
	if missing != 2 {
		t.Errorf("missing = %d, want 2 (a bench and a peer)", missing)
	}
	got := map[string]line{}
	for _, l := range lines {
		got[l.row.Name] = l
	}
	for name, want := range map[string]struct{ met, speedup string }{
		"fast":         {"yes", "4.09x"},
		"slow":         {"no", "1.50x"},
		"allocating":   {"no", "9.00x"},
		"unbounded":    {"no", ""},
		"bound: floor": {"", "1.50x"}, // peer in ns/req: 90 / 60
		"absent":       {"no", ""},
		"peerless":     {"no", "**peer not run**"},
		"capped":       {"no", ""},
	} {
		if l := got[name]; l.met != want.met || l.speedup != want.speedup {
			t.Errorf("%s: met %q speedup %q, want %q %q", name, l.met, l.speedup, want.met, want.speedup)
		}
	}
	if l := got["allocating"]; !l.allocsMissed || l.allocs != "2" {
		t.Errorf("allocating: allocsMissed %v allocs %q", l.allocsMissed, l.allocs)
	}
	if got["slow"].allocsMissed || got["slow"].mbs != "100" {
		t.Errorf("slow: %+v", got["slow"])
	}
}

func TestRenderNamesBoundsAndChanges(t *testing.T) {
	rs, results := testRows()
	lines, _ := evaluate(rs, results)
	prev := parseSummary("Written by `make bench` on 2026-01-02 03:04 UTC.\n\n## S\n\n" +
		"| benchmark | result | MB/s | allocs/op | peer | speedup | target | met |\n|---|---|---|---|---|---|---|---|\n" +
		"| fast | 9 ns | | 0 | Peer | 1.80x | ≥ 2x peer | no; bound: x |\n" +
		"| slow | 20 ns | | | Peer | 2.20x | ≥ 2x peer | yes |\n" +
		"| unbounded | 30 ns | | | | | ≤ 10 ns | no |\n")
	md := render(runInfo{when: "2026-02-03 04:05 UTC", machine: "a machine", commit: "abc1234"}, lines, prev, []string{"<!-- x:start -->kept<!-- x:end -->"})
	wantAll(t, "report", md,
		"Written by `make bench` on 2026-02-03 04:05 UTC, code at commit abc1234.\n\nMachine: a machine.\n\nHow to read the tables:",
		"docs/bench-history.md",
		"| fast | 11 ns |  | 0 | Peer | 4.09x | ≥ 2x peer, 0 allocs | yes; was no (1.80x) on 2026-01-02 03:04 UTC |",
		"| ≥ 2x peer | no; bound: the floor of the work (row \"bound: floor\": 1.50x); was yes (2.20x) on 2026-01-02 03:04 UTC |",
		"| allocating | 5 ns |  | 2 | Peer | 9.00x | ≥ 1x peer, 0 allocs | no: 2 allocs/op |",
		"| unbounded | 30 ns | 100 |  |  |  | ≤ 10 ns | no; bound not stated |",
		"| absent | **not run** (`go:Absent`) | | | | | ≤ 1 ns | no |",
		"| ≤ 20 ns | no; bound: the floor of the work (row \"bound: floor\": 60 ns) |", // an absolute target quotes the bound's value
		"| peerless | 11 ns |  | 0 | Absent | **peer not run** | ≥ 1x | no: peer not run |",
		"\n## T\n",
		"\n<!-- x:start -->kept<!-- x:end -->\n",
	)
	if strings.Contains(md, "| unbounded | 30 ns | 100 |  |  |  | ≤ 10 ns | no; bound not stated; was") {
		t.Error("an unchanged verdict is reported as a change")
	}
}

func TestSummaryReadsWhatRenderWrites(t *testing.T) {
	rs, results := testRows()
	lines, _ := evaluate(rs, results)
	md := render(runInfo{when: "2026-02-03 04:05 UTC", machine: "a machine", commit: "abc1234 with uncommitted changes"}, lines, summary{},
		[]string{"<!-- bench-proxy:start -->\nWritten by `make bench` on 1999-01-01 00:00 UTC.\n| benchmark | x |\n| proxy row | 1 |\n<!-- bench-proxy:end -->"})
	s := parseSummary(md)
	if s.when != "2026-02-03 04:05 UTC" || s.machine != "a machine" || s.commit != "abc1234 with uncommitted changes" {
		t.Fatalf("summary header: %q %q %q", s.when, s.machine, s.commit)
	}
	if len(s.order) != len(rs) {
		t.Fatalf("summary has %d rows, want %d (none from the kept block)", len(s.order), len(rs))
	}
	want := map[string]summaryRow{
		"slow":   {section: "S", name: "slow", result: "30 ns", peer: "Peer", speedup: "1.50x", met: "no"},
		"fast":   {section: "S", name: "fast", result: "11 ns", peer: "Peer", speedup: "4.09x", met: "yes"},
		"absent": {section: "T", name: "absent", result: "not run", met: "no"},
	}
	for name, w := range want {
		if got := s.rows[name]; got != w {
			t.Errorf("%s: %+v, want %+v", name, got, w)
		}
	}
}

// TestSummaryOfTheCommittedFile reads the BENCHMARKS.md of the repository, whatever its
// numbers: a file this tool wrote must summarize with a date and every row it shows.
func TestSummaryOfTheCommittedFile(t *testing.T) {
	b, err := os.ReadFile("../../../../BENCHMARKS.md")
	if err != nil {
		t.Skip(err)
	}
	md := string(b)
	s := parseSummary(md)
	if s.when == "" || s.machine == "" {
		t.Fatalf("no run date or machine in BENCHMARKS.md: %q %q", s.when, s.machine)
	}
	head, _, _ := strings.Cut(md, "<!-- ")
	if n := strings.Count(head, "\n| ") - strings.Count(head, "\n| benchmark |"); len(s.order) != n || n == 0 {
		t.Fatalf("summary has %d rows, the tables %d", len(s.order), n)
	}
}

func TestHistoryNewestFirstOnce(t *testing.T) {
	one := parseSummary("Written by `make bench` on 2026-01-01 00:00 UTC.\n\nMachine: m1.\n\n## S\n\n| benchmark | result | peer | speedup | met |\n|---|---|---|---|---|\n| a | 1 ns | P | 2.00x | yes |\n")
	two := parseSummary("Written by `make bench` on 2026-01-02 00:00 UTC, code at commit 1234567.\n\nMachine: m2.\n\n## S\n\n| benchmark | result | peer | speedup | met |\n|---|---|---|---|---|\n| a | 3 ns | P | 0.67x | no; bound: x (row \"y\": 1x) |\n")
	h, added := withEntry("", one)
	if !added || !strings.HasPrefix(h, historyIntro) {
		t.Fatalf("first entry: added %v:\n%s", added, h)
	}
	h, added = withEntry(h, two)
	if !added {
		t.Fatal("second entry not added")
	}
	if _, again := withEntry(h, one); again {
		t.Fatal("a run already in the history was added again")
	}
	i, j := strings.Index(h, "## make bench of 2026-01-02 00:00 UTC"), strings.Index(h, "## make bench of 2026-01-01 00:00 UTC")
	if i < 0 || j < 0 || i > j {
		t.Fatalf("entries not newest first:\n%s", h)
	}
	wantAll(t, "history", h,
		"m2; code at commit 1234567.\n\n| benchmark | result | peer | speedup | met |\n|---|---|---|---|---|\n| **S** | | | | |\n| a | 3 ns | P | 0.67x | no |\n",
		"m1.\n\n| benchmark",
		"| a | 1 ns | P | 2.00x | yes |\n",
	)
}

// TestGenerateKeepsHistory runs the tool's whole write: the previous file's summary lands in
// the history, the new file shows the guide, what changed since, and the kept block.
func TestGenerateKeepsHistory(t *testing.T) {
	saved := rows
	defer func() { rows = saved }()
	rows = []Row{
		{Section: "S", Name: "fast", Bench: "go:Fast", Peer: "go:Peer", Target: "≥ 2x peer", Met: AtLeast(2)},
	}
	dir := t.TempDir()
	goOut := filepath.Join(dir, "go.txt")
	out := filepath.Join(dir, "BENCHMARKS.md")
	history := filepath.Join(dir, "docs", "bench-history.md")
	must(t, os.WriteFile(goOut, []byte("goos: linux\nBenchmarkFast-2   100   10.0 ns/op   0 B/op   0 allocs/op\n"+
		"BenchmarkPeer-2   100   15.0 ns/op\nPASS\n"), 0o644))
	must(t, os.WriteFile(out, []byte("# offheap benchmarks\n\nWritten by `make bench` on 2026-01-01 00:00 UTC.\n\nMachine: old.\n\n## S\n\n"+
		"| benchmark | result | MB/s | allocs/op | peer | speedup | target | met |\n|---|---|---|---|---|---|---|---|\n"+
		"| fast | 5 ns | | 0 | Peer | 3.00x | ≥ 2x peer | yes |\n\n<!-- bench-proxy:start -->\nproxy\n<!-- bench-proxy:end -->\n"), 0o644))

	missing, err := generate(filepath.Join(dir, "no-criterion"), goOut, out, history, time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC))
	if err != nil || missing != 0 {
		t.Fatalf("generate: missing %d, %v", missing, err)
	}
	md, _ := os.ReadFile(out)
	h, _ := os.ReadFile(history)
	wantAll(t, "BENCHMARKS.md", string(md), "on 2026-02-01 12:00 UTC", "How to read the tables:",
		"| fast | 10 ns |  | 0 | Peer | 1.50x | ≥ 2x peer | no; bound not stated; was yes (3.00x) on 2026-01-01 00:00 UTC |",
		"<!-- bench-proxy:start -->\nproxy\n<!-- bench-proxy:end -->")
	if !strings.Contains(string(h), "## make bench of 2026-01-01 00:00 UTC\n\nold.\n") || !strings.Contains(string(h), "| fast | 5 ns | Peer | 3.00x | yes |") {
		t.Errorf("history:\n%s", h)
	}

	// The next run adds the run just written, newest first, and not the older one again.
	_, err = generate(filepath.Join(dir, "no-criterion"), goOut, out, history, time.Date(2026, 2, 2, 12, 0, 0, 0, time.UTC))
	must(t, err)
	h, _ = os.ReadFile(history)
	if strings.Count(string(h), "## make bench of") != 2 || strings.Index(string(h), "2026-02-01 12:00") > strings.Index(string(h), "2026-01-01 00:00") {
		t.Errorf("history after two runs:\n%s", h)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantAll fails the test for each of wants that s, the output named what, lacks.
func wantAll(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(s, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, s)
		}
	}
}
