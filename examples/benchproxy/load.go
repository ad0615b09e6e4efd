package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loadResult is what one load run measured from the client side.
type loadResult struct {
	Requests int64
	Seconds  float64
	RPS      float64
	P50, P99 time.Duration
	Errors   int64 // socket errors, timeouts and non-2xx responses
}

// loadSpec is one run: url for d (wrk) or until requests are done (Go loader; d bounds it too).
type loadSpec struct {
	url      string
	conns    int
	d        time.Duration
	requests int64 // Go loader only
	bodyLen  int   // Go loader checks it
}

type loader func(loadSpec) (loadResult, error)

// wrkLoader runs wrk (one thread, pinned to cpu) with --latency and parses its report.
func wrkLoader(cpu string) loader {
	return func(s loadSpec) (loadResult, error) {
		secs := max(1, int(s.d.Round(time.Second)/time.Second))
		argv := pinned(cpu, "wrk", "-t1", "-c"+strconv.Itoa(s.conns), "-d"+strconv.Itoa(secs)+"s",
			"--timeout", "5s", "--latency", s.url)
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			return loadResult{}, fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
		return parseWrk(string(out))
	}
}

var (
	wrkPercentile = regexp.MustCompile(`(?m)^\s*(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$`)
	wrkTotal      = regexp.MustCompile(`(?m)^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),`)
	wrkRPS        = regexp.MustCompile(`(?m)^Requests/sec:\s+([\d.]+)`)
	wrkSocketErrs = regexp.MustCompile(`(?m)Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx     = regexp.MustCompile(`(?m)Non-2xx or 3xx responses: (\d+)`)
)

func wrkDuration(v, unit string) (time.Duration, error) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, err
	}
	scale := map[string]float64{"us": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9}[unit]
	return time.Duration(f * scale), nil
}

// parseWrk reads wrk 4's report (with --latency).
func parseWrk(out string) (loadResult, error) {
	var r loadResult
	m := wrkTotal.FindStringSubmatch(out)
	rps := wrkRPS.FindStringSubmatch(out)
	pct := wrkPercentile.FindAllStringSubmatch(out, -1)
	if m == nil || rps == nil || len(pct) != 2 {
		return r, fmt.Errorf("cannot parse wrk output:\n%s", out)
	}
	r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	d, err := wrkDuration(m[2], m[3])
	if err != nil {
		return r, err
	}
	r.Seconds = d.Seconds()
	r.RPS, _ = strconv.ParseFloat(rps[1], 64)
	for _, p := range pct {
		v, err := wrkDuration(p[2], p[3])
		if err != nil {
			return r, err
		}
		if p[1] == "50" {
			r.P50 = v
		} else {
			r.P99 = v
		}
	}
	if e := wrkSocketErrs.FindStringSubmatch(out); e != nil {
		for _, x := range e[1:] {
			n, _ := strconv.ParseInt(x, 10, 64)
			r.Errors += n
		}
	}
	if e := wrkNon2xx.FindStringSubmatch(out); e != nil {
		n, _ := strconv.ParseInt(e[1], 10, 64)
		r.Errors += n
	}
	return r, nil
}

// goLoader is a closed-loop Go client (net/http, keep-alive, s.conns goroutines) used for the
// smoke run in `make test`, where wrk may be missing. It checks every body's length.
func goLoader(s loadSpec) (loadResult, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: s.conns, MaxConnsPerHost: s.conns}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var next, errs atomic.Int64
	lat := make([][]time.Duration, s.conns)
	var firstErr atomic.Value
	deadline := time.Now().Add(s.d)
	begin := time.Now()
	var wg sync.WaitGroup
	for w := range s.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := bytes.NewBuffer(make([]byte, 0, s.bodyLen+512))
			for next.Add(1) <= s.requests && time.Now().Before(deadline) {
				t0 := time.Now()
				resp, err := client.Get(s.url)
				if err == nil {
					buf.Reset()
					_, err = io.Copy(buf, resp.Body)
					resp.Body.Close()
					if err == nil && (resp.StatusCode != http.StatusOK || buf.Len() != s.bodyLen) {
						err = fmt.Errorf("GET %s: %s, %d body bytes, want 200 and %d", s.url, resp.Status, buf.Len(), s.bodyLen)
					}
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begin)
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := loadResult{Requests: int64(len(all)), Seconds: elapsed.Seconds(), Errors: errs.Load()}
	r.RPS = float64(r.Requests) / r.Seconds
	if len(all) > 0 {
		r.P50, r.P99 = all[len(all)/2], all[min(len(all)-1, len(all)*99/100)]
	}
	if err, _ := firstErr.Load().(error); err != nil {
		return r, err
	}
	return r, nil
}
