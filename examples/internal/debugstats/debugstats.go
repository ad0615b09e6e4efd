// Package debugstats serves a process's Go heap and GC counters, and offheap's Rust heap, as
// JSON, so a benchmark driver can read them before and after a measured run and compute GC
// cycles and allocations per request of the process under test, or the memory each idle
// connection holds.
package debugstats

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"

	offheap "github.com/offheap/offheap/go"
)

// Path is where Handler is mounted by Serve.
const Path = "/debug/gcstats"

// Stats is the JSON document served at Path. Counters are cumulative since the process started.
type Stats struct {
	NumGC        uint32  `json:"num_gc"`
	Mallocs      uint64  `json:"mallocs"`
	Frees        uint64  `json:"frees"`
	TotalAlloc   uint64  `json:"total_alloc"`
	HeapAlloc    uint64  `json:"heap_alloc"`
	StackInuse   uint64  `json:"stack_inuse"` // goroutine stacks (MemStats.StackInuse)
	PauseTotalNs uint64  `json:"pause_total_ns"`
	GCCPUFrac    float64 `json:"gc_cpu_fraction"`
	// CgoCalls is runtime.NumCgoCall: calls from Go into C (into offheap) since the start.
	CgoCalls uint64 `json:"cgo_calls"`
	// RustLiveBytes is offheap's Rust heap in use (offheap.ReadRustStats); RustErr says why it
	// could not be read (a build without cgo). A process that never calls offheap reads 0.
	RustLiveBytes uint64 `json:"rust_live_bytes"`
	RustErr       string `json:"rust_err,omitempty"`
	// Extra holds counters of the program (requests proxied, upstream errors, ...).
	Extra map[string]uint64 `json:"extra,omitempty"`
}

// Read returns the current counters (runtime.ReadMemStats: a short stop of the world; the
// Rust heap costs one cgo call, which CgoCalls includes).
func Read() Stats {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s := Stats{NumGC: m.NumGC, Mallocs: m.Mallocs, Frees: m.Frees, TotalAlloc: m.TotalAlloc,
		HeapAlloc: m.HeapAlloc, StackInuse: m.StackInuse, PauseTotalNs: m.PauseTotalNs,
		GCCPUFrac: m.GCCPUFraction, CgoCalls: uint64(runtime.NumCgoCall())}
	if rs, err := offheap.ReadRustStats(); err != nil {
		s.RustErr = err.Error()
	} else {
		s.RustLiveBytes = rs.LiveBytes
	}
	return s
}

// Handler serves Read() as JSON, with the counters extra returns (extra may be nil).
func Handler(extra func() map[string]uint64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s := Read()
		if extra != nil {
			s.Extra = extra()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	})
}

// Serve starts an HTTP server for Handler (and net/http/pprof under /debug/pprof/) on addr in
// the background; an empty addr does nothing.
// It returns the listener's address.
func Serve(addr string, extra func() map[string]uint64) (string, error) {
	if addr == "" {
		return "", nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	mux := http.NewServeMux()
	mux.Handle(Path, Handler(extra))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go func() { _ = http.Serve(ln, mux) }()
	return ln.Addr().String(), nil
}
