// Package benches holds offheap's Go benchmarks beside their peers (plain Go, cgo, net/http,
// fasthttp, pure-Go aggregators, io.Copy). `make bench` runs them with the criterion benches and
// writes BENCHMARKS.md through ./cmd/benchreport.
package benches
