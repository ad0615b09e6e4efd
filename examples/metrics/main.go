// Command metrics is an ingestion service built on offheap: clients POST batches of samples,
// the service parses them without allocating on the Go heap, and offheap's aggregator keeps a
// sliding window of every series on the Rust heap (count, sum, quantiles), served as
// Prometheus text at /metrics. `metrics load` is its load generator.
//
// # Formats
//
// POST /ingest with Content-Type text/plain: one sample per line,
//
//	<series> <value> [<unix-ms>]
//
// where <series> is a Prometheus-style name with optional labels, `name` or
// `name{label="value",...}` (label values escape only \\, \" and \n), <value> a decimal float
// or NaN, +Inf, -Inf, and <unix-ms> an integer timestamp in milliseconds (default: the time
// the request arrived). Fields are separated by spaces or tabs; blank lines and lines
// starting with # are skipped; "\r\n" line ends are accepted.
//
// With Content-Type application/json: an array of sample objects,
//
//	[{"series":"http_latency_seconds{route=\"/a\"}","value":0.25,"ts":1700000000000}, ...]
//
// with "ts" optional. A syntax error rejects the whole body; a valid element that is not such
// an object (another type, a missing, mistyped or unknown field, a bad series) is rejected and
// counted. JSON has no NaN or Inf; numbers beyond float64 become ±Inf.
//
// Both parsers are written by hand over the request body, read into a reused buffer: no
// encoding/json, no allocation per sample or field. Numbers are checked against the format's
// grammar, then converted by strconv.ParseFloat through a string view of the body bytes
// (unsafe.String; strconv keeps no reference, it copies the text into the errors it returns).
// Each series becomes the aggregator key `metric="name",label="value",...` with its labels
// sorted, so label order does not make another series; samples go into a reused offheap.SampleBatch
// and cross to Rust in one Ingest call per request. NaN and ±Inf values reach the aggregator,
// which counts them as invalid.
//
// # Responses and limits
//
// 200 with the accounting, {"accepted":N,"overflow":..,"late":..,"future":..,"invalid":..,
// "bad_key":..,"rejected_lines":R} and, when R > 0, "first_error":{"line":L,"error":"..."}
// (for JSON, the line where the rejected element starts). Malformed lines are skipped and
// counted; the request fails with 400 {"error":..,"line":..} only when nothing could be
// parsed, on a JSON syntax error, or, with -strict, when any line is malformed (then nothing
// is ingested). Other errors: 405 (not POST), 413 (body over -body-limit, or more than
// -max-samples samples), 415 (another Content-Type). Lines are at most -max-line bytes,
// series keys at most -max-key bytes and 32 labels; the labels metric and quantile are
// reserved.
//
// # Endpoints
//
//	POST /ingest        samples, as above
//	GET  /metrics       the service's counters (requests, samples by outcome, rejected lines,
//	                    body bytes, Go heap allocations and GC cycles), then the aggregator's
//	                    exposition: a summary per series, rendered in Rust
//	GET  /debug/heap    offheap's heap report: Go heap and GC and the Rust heap, at start and now
//	GET  /debug/gcstats the Go runtime's MemStats counters as JSON (examples/internal/debugstats)
//
// # Example
//
//	metrics -listen 127.0.0.1:9091 &
//	curl -s --data-binary $'http_latency_seconds{route="/a"} 0.25\nhttp_latency_seconds{route="/a"} 0.75\n' \
//	    -H 'Content-Type: text/plain' 127.0.0.1:9091/ingest
//	{"accepted":2,"overflow":0,"late":0,"future":0,"invalid":0,"bad_key":0,"rejected_lines":0}
//	curl -s -H 'Content-Type: application/json' -d '[{"series":"up","value":1}]' 127.0.0.1:9091/ingest
//	{"accepted":1,"overflow":0,"late":0,"future":0,"invalid":0,"bad_key":0,"rejected_lines":0}
//	curl -s 127.0.0.1:9091/metrics | grep 'route="/a"'
//	ingest_window{metric="http_latency_seconds",route="/a",quantile="0.5"} 0.25
//	ingest_window{metric="http_latency_seconds",route="/a",quantile="0.9"} 0.25
//	ingest_window{metric="http_latency_seconds",route="/a",quantile="0.99"} 0.25
//	ingest_window_sum{metric="http_latency_seconds",route="/a"} 1.0
//	ingest_window_count{metric="http_latency_seconds",route="/a"} 2
//	metrics load -addr 127.0.0.1:9091 -c 4 -batch 500 -series 10000 -d 10s
//
// With -engine go the service aggregates in a pure-Go map of structs instead (the same
// accounting and exposition), so that /debug/heap shows what the Go heap and GC carry then.
//
// The load generator POSTs from -c goroutines batches of -batch samples over -series series
// for -d (or -n requests), prints requests and samples per second and the service's Go heap
// allocations per request, then checks that the service accepted exactly what it sent
// (exit status 1 otherwise) and prints /debug/heap.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "load" {
		err = loadMain(os.Args[2:], os.Stdout)
	} else {
		err = serveMain(os.Args[1:], os.Stdout)
	}
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		log.Fatal(err)
	}
}

// serveMain runs the service until SIGINT or SIGTERM.
func serveMain(args []string, out io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("metrics", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9091", "address to serve on")
	fs.StringVar(&cfg.Name, "name", cfg.Name, "metric name of the aggregated series in /metrics")
	fs.DurationVar(&cfg.Window, "window", cfg.Window, "sliding window width")
	fs.IntVar(&cfg.Slices, "slices", cfg.Slices, "slices of the sliding window")
	fs.Float64Var(&cfg.Alpha, "alpha", cfg.Alpha, "relative accuracy of quantiles")
	fs.IntVar(&cfg.MaxSeries, "max-series", cfg.MaxSeries, "series cap (then samples of new series go to the overflow series)")
	fs.DurationVar(&cfg.MaxFutureSkew, "max-future-skew", cfg.MaxFutureSkew, "accept timestamps up to this far in the future")
	fs.Int64Var(&cfg.BodyLimit, "body-limit", cfg.BodyLimit, "bytes of one request body (413 beyond)")
	fs.IntVar(&cfg.MaxLine, "max-line", cfg.MaxLine, "bytes of one line")
	fs.IntVar(&cfg.MaxKey, "max-key", cfg.MaxKey, "bytes of one series key")
	fs.IntVar(&cfg.MaxSamples, "max-samples", cfg.MaxSamples, "samples in one request (413 beyond)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "requests parsed at once (each holds up to -body-limit bytes)")
	fs.StringVar(&cfg.Engine, "engine", cfg.Engine, "aggregate with offheap, or go: a pure-Go map of structs, for comparison")
	fs.BoolVar(&cfg.Strict, "strict", false, "reject a request (400) when any line is malformed")
	addrFile := fs.String("addr-file", "", "write the address served on to this file (with -listen 127.0.0.1:0)")
	grace := fs.Duration("grace", 10*time.Second, "graceful shutdown: how long requests in progress may finish")
	if err := fs.Parse(args); err != nil {
		return err
	}
	svc, err := NewService(cfg)
	if err != nil {
		return err
	}
	defer svc.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           svc.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	if *addrFile != "" { // after Notify: whoever reads it may signal at once
		if err := os.WriteFile(*addrFile, []byte(ln.Addr().String()+"\n"), 0o644); err != nil {
			ln.Close()
			return err
		}
	}
	done := make(chan error, 1)
	go func() {
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), *grace)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	fmt.Fprintf(out, "metrics: serving on %s (%s engine, window %v, %d slices)\n", ln.Addr(), cfg.Engine, cfg.Window, cfg.Slices)
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	if err := <-done; err != nil {
		return fmt.Errorf("metrics: shutdown: %w", err)
	}
	fmt.Fprintln(out, "metrics: shut down")
	return nil
}
