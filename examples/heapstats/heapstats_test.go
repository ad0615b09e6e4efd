package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	offheap "github.com/offheap/offheap/go"
)

// TestHeapstatsSmall runs the three workloads at tiny sizes: a table per workload with the
// time, throughput and heap rows, and a PNG chart that decodes.
func TestHeapstatsSmall(t *testing.T) {
	if _, err := offheap.ReadRustStats(); err != nil {
		t.Fatal("offheap unavailable:", err)
	}
	out := filepath.Join(t.TempDir(), "chart", "heapstats.png")
	var buf bytes.Buffer
	err := run([]string{"-series", "5000", "-samples", "2", "-heads", "5000", "-bytes", "8MiB", "-body", "64KiB",
		"-interval", "5ms", "-out", out}, &buf)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, buf.String())
	}
	text := buf.String()
	for _, want := range []string{
		"== window: 10000 samples into 5000 series",
		"both runs: 10000 samples in 5000 series",
		"== heads: 5000 HTTP/1.1 request heads",
		"both runs: 5000 heads",
		"== relay: 8 MiB over loopback TCP as 128 bodies of 64 KiB",
		"both runs: 8388608 bytes received, sample crc32 ",
		"throughput (samples/s)", "throughput (heads/s)", "throughput (bytes/s)",
		"Relay bytes spliced",
		"targets:", "Rust heap (live) against pure Go's HeapInuse: 1/", "Rust allocations per 100 samples: ",
		"speed against pure Go (time of the phase): ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for _, row := range []string{"wall time", "Go HeapAlloc", "Go HeapObjects", "Go NumGC", "Go GC CPU", "Go GC pause p99", "Rust heap live"} {
		if n := strings.Count(text, row); n != 3 {
			t.Errorf("row %q appears %d times, want 3 (one per workload)", row, n)
		}
	}
	// Every table row has its name, the two values, a delta and a ratio (or "-"): the cells
	// stand apart by two or more spaces (a cell holds at most single spaces).
	cellSep := regexp.MustCompile(`\s{2,}`)
	for _, line := range strings.Split(text, "\n") {
		for _, row := range []string{"wall time", "throughput", "Go HeapAlloc"} {
			if !strings.HasPrefix(strings.TrimSpace(line), row) {
				continue
			}
			if cells := cellSep.Split(strings.TrimSpace(line), -1); len(cells) != 5 {
				t.Errorf("row %q has %d cells, want 5", line, len(cells))
			}
		}
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("chart does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 800 || b.Dy() < 800 {
		t.Errorf("chart is %v, want at least 800x800", b)
	}
	if t.Failed() {
		t.Log(text)
	}
}

func TestByteSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{"1GiB": 1 << 30, "512MiB": 512 << 20, "64KiB": 64 << 10, "1000": 1000, "2G": 2 << 30} {
		var v int64
		if err := (byteSize{&v}).Set(in); err != nil || v != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, v, err, want)
		}
	}
	var v int64
	if err := (byteSize{&v}).Set("-1"); err == nil {
		t.Error("Set(-1) succeeded")
	}
	if _, err := parseFlags([]string{"-series", "0"}, &bytes.Buffer{}); err == nil {
		t.Error("-series 0 accepted")
	}
}
