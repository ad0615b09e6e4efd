package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LoadConfig configures the load generator.
type LoadConfig struct {
	Addr     string        // the service, host:port on the loopback interface
	Conns    int           // goroutines, each with its own keep-alive connection
	Batch    int           // samples per request
	Series   int           // distinct series
	Format   string        // "lines" or "json"
	Duration time.Duration // how long to send (the run stops at Duration or Requests, first reached)
	Requests int           // requests in all (0: no limit but Duration)
	Heap     bool          // print the service's /debug/heap at the end
	Wait     time.Duration // how long to wait for the service to answer /metrics first
}

// LoadResult is what a load run sent and what the service says it accepted.
type LoadResult struct {
	Requests, Samples uint64        // requests answered 200 and their samples
	Failed            uint64        // requests that failed or were not answered 200
	Accepted          uint64        // the sum of "accepted" over the responses
	ServiceAccepted   uint64        // the service's accepted counter, after - before
	ServiceRequests   uint64        // the service's ingest request counter, after - before
	ServiceAllocs     uint64        // the service's Go heap allocations, after - before
	WindowCount       uint64        // the sum of load_latency_seconds_count over its series, after
	Elapsed           time.Duration // sending time
}

// Check reports whether every sample sent was answered accepted and counted by the service.
func (r LoadResult) Check() error {
	switch {
	case r.Failed > 0:
		return fmt.Errorf("load: %d requests failed", r.Failed)
	case r.Accepted != r.Samples:
		return fmt.Errorf("load: sent %d samples, responses accepted %d", r.Samples, r.Accepted)
	case r.ServiceAccepted != r.Samples:
		return fmt.Errorf("load: sent %d samples, the service's accepted counter grew by %d", r.Samples, r.ServiceAccepted)
	}
	return nil
}

func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("load: %s is not a loopback address", addr)
	}
	return nil
}

// bodies makes n request bodies of cfg.Batch samples; body i starts at series i*Batch.
func bodies(cfg LoadConfig, first, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		var b bytes.Buffer
		if cfg.Format == "json" {
			b.WriteByte('[')
		}
		for j := range cfg.Batch {
			k := ((first+i)*cfg.Batch + j) % cfg.Series
			v := strconv.FormatFloat(float64((k*7+j)%1000)/1000, 'g', -1, 64)
			series := fmt.Sprintf(loadMetric+`{route="/r%d",code="%d"}`, k, 200+k%3)
			if cfg.Format == "json" {
				if j > 0 {
					b.WriteByte(',')
				}
				q, _ := json.Marshal(series)
				fmt.Fprintf(&b, `{"series":%s,"value":%s}`, q, v)
			} else {
				fmt.Fprintf(&b, "%s %s\n", series, v)
			}
		}
		if cfg.Format == "json" {
			b.WriteByte(']')
		}
		out[i] = b.Bytes()
	}
	return out
}

type serviceCounters struct{ accepted, requests, allocs, windowCount uint64 }

// loadMetric is the metric the load generator sends.
const loadMetric = "load_latency_seconds"

// scrape reads the service's counters (and the sum of loadMetric's _count lines) from /metrics.
func scrape(client *http.Client, base string) (serviceCounters, error) {
	var c serviceCounters
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return c, fmt.Errorf("load: /metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	seen := 0
	for sc.Scan() {
		line := sc.Text()
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		key, val := line[:sp], line[sp+1:]
		set := func(dst *uint64) {
			if v, err := strconv.ParseUint(val, 10, 64); err == nil {
				*dst = v
				seen++
			}
		}
		switch {
		case key == `ingest_samples_total{outcome="accepted"}`:
			set(&c.accepted)
		case key == "ingest_requests_total":
			set(&c.requests)
		case key == "ingest_go_mallocs_total":
			set(&c.allocs)
		case strings.HasPrefix(key, loadMetric+"_count{"):
			if v, err := strconv.ParseUint(val, 10, 64); err == nil {
				c.windowCount += v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	if seen != 3 {
		return c, errors.New("load: /metrics lacks the service's counters")
	}
	return c, nil
}

// RunLoad sends the load and checks it against the service's counters; it writes a summary
// to out.
func RunLoad(ctx context.Context, cfg LoadConfig, out io.Writer) (LoadResult, error) {
	var res LoadResult
	if err := loopback(cfg.Addr); err != nil {
		return res, err
	}
	if cfg.Conns <= 0 || cfg.Batch <= 0 || cfg.Series <= 0 || cfg.Duration <= 0 || cfg.Requests < 0 {
		return res, errors.New("load: conns, batch, series and duration must be positive")
	}
	ctype := "text/plain"
	switch cfg.Format {
	case "json":
		ctype = "application/json"
	case "lines":
	default:
		return res, fmt.Errorf("load: unknown format %q (lines, json)", cfg.Format)
	}
	base := "http://" + cfg.Addr
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Conns, Proxy: nil},
	}
	defer client.CloseIdleConnections()
	before, err := scrape(client, base)
	for deadline := time.Now().Add(cfg.Wait); err != nil && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		before, err = scrape(client, base)
	}
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	// Distinct bodies per goroutine, cycled: enough to cover every series (at most 1,000).
	perConn := min(max(8, (cfg.Series+cfg.Batch*cfg.Conns-1)/(cfg.Batch*cfg.Conns)), 1000)
	var budget atomic.Int64
	budget.Store(int64(cfg.Requests))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	start := time.Now()
	for g := range cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bs := bodies(cfg, g*perConn, perConn)
			var reqs, samples, accepted, failed uint64
			for i := 0; ctx.Err() == nil; i++ {
				if cfg.Requests > 0 && budget.Add(-1) < 0 {
					break
				}
				// Not ctx: a request in flight when the run ends finishes (the client's timeout
				// bounds it), so that what was sent is known exactly.
				a, err := post(client, base+"/ingest", ctype, bs[i%len(bs)])
				if err != nil {
					failed++
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				reqs++
				samples += uint64(cfg.Batch)
				accepted += a
			}
			mu.Lock()
			res.Requests += reqs
			res.Samples += samples
			res.Accepted += accepted
			res.Failed += failed
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	after, err := scrape(client, base)
	if err != nil {
		return res, err
	}
	res.ServiceAccepted = after.accepted - before.accepted
	res.ServiceRequests = after.requests - before.requests
	res.ServiceAllocs = after.allocs - before.allocs
	res.WindowCount = after.windowCount
	sec := res.Elapsed.Seconds()
	fmt.Fprintf(out, "load: %d requests of %d samples (%s) over %d series by %d connections in %v\n",
		res.Requests, cfg.Batch, cfg.Format, cfg.Series, cfg.Conns, res.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(out, "load: %.0f req/s, %.0f samples/s, %d failed\n", float64(res.Requests)/sec, float64(res.Samples)/sec, res.Failed)
	fmt.Fprintf(out, "service: accepted %d (responses %d, sent %d), window holds %d samples\n",
		res.ServiceAccepted, res.Accepted, res.Samples, res.WindowCount)
	if res.ServiceRequests > 0 {
		fmt.Fprintf(out, "service: %.2f Go heap allocations per request (%d allocations over %d requests, net/http included)\n",
			float64(res.ServiceAllocs)/float64(res.ServiceRequests), res.ServiceAllocs, res.ServiceRequests)
	}
	if cfg.Heap {
		resp, err := client.Get(base + "/debug/heap")
		if err != nil {
			return res, err
		}
		fmt.Fprintln(out)
		_, err = io.Copy(out, resp.Body)
		resp.Body.Close()
		if err != nil {
			return res, err
		}
	}
	if firstErr != nil {
		fmt.Fprintf(out, "load: first error: %v\n", firstErr)
	}
	return res, res.Check()
}

// post sends one batch and returns the accepted count of a 200 response.
func post(client *http.Client, url, ctype string, body []byte) (uint64, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("load: %s: %s", resp.Status, bytes.TrimSpace(data))
	}
	var a struct {
		Accepted *uint64 `json:"accepted"`
	}
	if err := json.Unmarshal(data, &a); err != nil || a.Accepted == nil {
		return 0, fmt.Errorf("load: bad response %q", data)
	}
	return *a.Accepted, nil
}

// loadMain is the load subcommand.
func loadMain(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	cfg := LoadConfig{}
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:9091", "the service (a loopback address; @file reads it from a file)")
	fs.IntVar(&cfg.Conns, "c", 4, "concurrent connections (goroutines)")
	fs.IntVar(&cfg.Batch, "batch", 500, "samples per request")
	fs.IntVar(&cfg.Series, "series", 10_000, "distinct series")
	fs.StringVar(&cfg.Format, "format", "lines", "body format: lines or json")
	fs.DurationVar(&cfg.Duration, "d", 10*time.Second, "how long to send (at most; also bounded by -n)")
	fs.IntVar(&cfg.Requests, "n", 0, "requests in all (0: until -d)")
	fs.BoolVar(&cfg.Heap, "heap", true, "print the service's /debug/heap at the end")
	fs.DurationVar(&cfg.Wait, "wait", 5*time.Second, "how long to wait for the service to come up")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.Duration > 10*time.Minute || cfg.Wait > time.Minute {
		return errors.New("load: -d is at most 10m, -wait at most 1m")
	}
	if name, ok := strings.CutPrefix(cfg.Addr, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return err
		}
		cfg.Addr = strings.TrimSpace(string(b))
	}
	_, err := RunLoad(context.Background(), cfg, out)
	return err
}
