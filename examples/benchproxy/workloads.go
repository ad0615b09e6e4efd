package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/offheap/offheap/examples/internal/payload"
)

// workload is one kind of traffic every proxy is measured in, one after the other in one run.
type workload struct {
	key      string         // as in -workloads
	title    string         // heading in the report
	sizes    []payload.Size // response bodies, or request bodies for uploads
	conns    int
	close    bool // Connection: close: a new connection per request
	upload   bool // POST sizes to the upstream's upload check (responses are 2 bytes)
	cores    int  // CPUs the proxy gets: 1 (-proxy-cpu), or 2 (-proxy-cpu and -load-cpu)
	goClient bool // loaded by the Go client even with -loader wrk
	idle     bool // memory per idle connection instead of a load
	warmup   time.Duration
	d        time.Duration
	method   string // what the report says of the load
}

// Workload keys, in the order they run.
const (
	wKeepalive = "keepalive"
	wChurn     = "churn"
	wUpload    = "upload"
	wC5000     = "c5000"
	wCores2    = "cores2"
	wIdle      = "idle"
)

var workloadKeys = []string{wKeepalive, wChurn, wUpload, wC5000, wCores2, wIdle}

// uploadPrefix is the path prefix of examples/upstream's upload check (POST /upload/16k).
const uploadPrefix = "/upload"

// workloadOptions are the flags the workloads are built from.
type workloadOptions struct {
	sizes               []payload.Size // keepalive and cores2
	conns               int            // -c
	many                int            // -many: c5000 and idle
	warmup, d           time.Duration  // keepalive
	warmupOther, dOther time.Duration  // the others
	keys                []string
}

// sizesOf returns payload's sizes named by paths without the slash ("2", "16k", "1m").
func sizesOf(list string) ([]payload.Size, error) {
	var sizes []payload.Size
	for _, s := range strings.Split(list, ",") {
		found := false
		for _, p := range payload.Sizes {
			if p.Path == "/"+strings.TrimSpace(s) {
				sizes, found = append(sizes, p), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown size %q (have 2, 16k, 1m)", s)
		}
	}
	return sizes, nil
}

// buildWorkloads returns the workloads of o.keys, in the order of workloadKeys.
func buildWorkloads(o workloadOptions) ([]*workload, error) {
	churnSizes, _ := sizesOf("2,16k")
	uploadSizes, _ := sizesOf("16k,1m")
	small, _ := sizesOf("2")
	all := map[string]*workload{
		wKeepalive: {title: "Keep-alive GETs", sizes: o.sizes, conns: o.conns, warmup: o.warmup, d: o.d,
			method: fmt.Sprintf("%d keep-alive connections sending GETs", o.conns)},
		wChurn: {title: "Churn: a new connection per request", sizes: churnSizes, conns: o.conns, close: true,
			method: fmt.Sprintf("%d connections sending GETs with `Connection: close` (wrk -H): every request opens a new connection; "+
				"Go allocations per new connection are Go allocations / connections opened (one request each)", o.conns)},
		wUpload: {title: "Uploads: POST bodies checked upstream", sizes: uploadSizes, conns: o.conns, upload: true,
			method: fmt.Sprintf("%d keep-alive connections sending POSTs (wrk with a Lua script) of the body size shown; the upstream "+
				"reads every body, compares its length and every byte with the expected pattern, answers 200 with 2 bytes or 400, "+
				"and counts failures, which the errors column includes", o.conns)},
		wC5000: {title: fmt.Sprintf("%d concurrent connections", o.many), sizes: small, conns: o.many, goClient: true,
			method: fmt.Sprintf("the Go client (examples/benchproxy client, pinned like wrk) opens %d keep-alive connections, %d dials at a time, "+
				"with one GET each, warms up, then runs the measured closed loop on all of them; its latency runs from a request's first "+
				"byte written to its response's last byte read. Open files: RLIMIT_NOFILE raised to the hard limit for the driver and its "+
				"children, nginx worker_rlimit_nofile and worker_connections to match", o.many, clientDialers)},
		wCores2: {title: "The proxy given 2 cores", sizes: o.sizes, conns: o.conns, cores: 2,
			method: fmt.Sprintf("%d keep-alive connections sending GETs, as keepalive, with the proxy on both CPUs", o.conns)},
		wIdle: {title: fmt.Sprintf("Memory per idle connection (%d idle keep-alive clients)", o.many), conns: o.many, idle: true},
	}
	var out []*workload
	for _, k := range workloadKeys {
		if !slices.Contains(o.keys, k) {
			continue
		}
		w := all[k]
		w.key = k
		if w.cores == 0 {
			w.cores = 1
		}
		if k != wKeepalive {
			w.warmup, w.d = o.warmupOther, o.dOther
		}
		out = append(out, w)
	}
	for _, k := range o.keys {
		if all[k] == nil {
			return nil, fmt.Errorf("unknown workload %q (have %s)", k, strings.Join(workloadKeys, ","))
		}
	}
	return out, nil
}

// has reports whether target t is measured in w: the native ceiling handles only GETs on
// kept-alive connections, each with an upstream connection of its own (keepalive); "no proxy"
// has no cores to be given nor idle connections of its own to measure.
func (w *workload) has(t target) bool {
	switch t.key {
	case "ceiling":
		return w.key == wKeepalive
	case "direct":
		return w.cores == 1 && !w.idle
	}
	return true
}

// spec returns the load of w with body size s against addr.
func (w *workload) spec(addr string, s payload.Size, requests int64) loadSpec {
	l := loadSpec{addr: addr, path: s.Path, conns: w.conns, warmup: w.warmup, d: w.d, requests: requests,
		want: s.N, close: w.close}
	if w.upload {
		l.path, l.upload, l.want = uploadPrefix+s.Path, s.N, 2
	}
	return l
}
