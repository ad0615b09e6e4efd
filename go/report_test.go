package offheap

import (
	"bytes"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var sink [][]byte

func TestHeapReportSeesGoGarbageAndGC(t *testing.T) {
	before := ReadHeapReport()
	for i := 0; i < 200000; i++ {
		sink = append(sink, make([]byte, 64))
	}
	runtime.GC()
	after := ReadHeapReport()
	sink = nil
	d := after.Since(before)
	if d.Go.Mallocs < 200000 {
		t.Errorf("Mallocs over the interval = %d, want >= 200000", d.Go.Mallocs)
	}
	if d.Go.NumGC < 1 {
		t.Errorf("NumGC over the interval = %d, want >= 1", d.Go.NumGC)
	}
	if after.Go.HeapAlloc < 200000*64 {
		t.Errorf("HeapAlloc = %d, want >= %d", after.Go.HeapAlloc, 200000*64)
	}
	if d.Go.GCPauseP99 < d.Go.GCPauseP50 || d.Go.GCPauseP99 <= 0 {
		t.Errorf("pause p50 %v, p99 %v", d.Go.GCPauseP50, d.Go.GCPauseP99)
	}
	var b bytes.Buffer
	if err := before.WriteSideBySide(&b, "before", after, "after"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, row := range []string{"Go HeapAlloc", "Go HeapObjects", "Go NumGC", "Go GC CPU", "Go GC pause p99", "before", "after", "delta"} {
		if !strings.Contains(out, row) {
			t.Errorf("side-by-side output lacks %q:\n%s", row, out)
		}
	}
	if after.RustErr == nil && !strings.Contains(out, "Rust heap live") {
		t.Errorf("side-by-side output lacks the Rust heap:\n%s", out)
	}
	t.Logf("\n%s", out)
}

func TestSideBySideRowsComeFirstInTheSameColumns(t *testing.T) {
	var r HeapReport
	rows := []SideBySideRow{
		{Name: "wall time", R: float64(2 * time.Second), Other: float64(500 * time.Millisecond),
			Format: func(v float64) string { return time.Duration(v).String() }},
		{Name: "ops", R: 10, Other: 40},
	}
	var b bytes.Buffer
	if err := r.WriteSideBySide(&b, "one", r, "two", rows...); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	cellSep := regexp.MustCompile(`\s{2,}`)
	for i, want := range [][]string{
		{"one", "two", "delta", "ratio"},
		{"wall time", "2s", "500ms", "-1.5s", "1/4.00x"},
		{"ops", "10", "40", "+30", "4.00x"},
		{"Go HeapAlloc", "0 B", "0 B", "0 B", "-"},
	} {
		got := cellSep.Split(strings.TrimSpace(lines[i]), -1)
		if !slices.Equal(got, want) {
			t.Errorf("line %d = %q, want %q\n%s", i, got, want, b.String())
		}
	}
	// Every row shares the header's columns: its last cell ends where the header's does.
	if len(lines[1]) != len(lines[0]) || len(lines[3]) != len(lines[0]) {
		t.Errorf("rows are not aligned:\n%s", b.String())
	}
}
