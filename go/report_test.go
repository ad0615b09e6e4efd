package offheap

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
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
