//go:build cgo

package offheap_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// A Recorder inside net/http handlers: a handler observes its latency through a cached series
// handle (as with client_golang's WithLabelValues), and the /metrics handler flushes what is
// buffered before it renders, so the scrape sees every request made before it.
func ExampleRecorder_handler() {
	agg, err := offheap.NewAggregator(offheap.AggregatorConfig{
		Mode: offheap.Cumulative, KeyFormat: offheap.KeyLabels,
		Name: "http_request_duration_seconds", Quantiles: []float64{0.5, 0.99},
	})
	if err != nil {
		panic(err)
	}
	defer agg.Close()
	rec, err := offheap.NewRecorder(agg, offheap.RecorderConfig{Labels: []string{"route"}})
	if err != nil {
		panic(err)
	}
	defer rec.Close()

	mux := http.NewServeMux()
	hello := rec.WithLabelValues("/hello") // looked up once, kept
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		fmt.Fprintln(w, "hello")
		hello.Observe(time.Since(start).Seconds())
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		rec.Flush()
		agg.WritePrometheus(w, time.Now().UnixNano())
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for range 3 {
		resp, err := http.Get(srv.URL + "/hello")
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "# TYPE") || strings.Contains(line, "_count") {
			fmt.Println(line)
		}
	}
	st := rec.Stats()
	fmt.Println("observed", st.Observed, "accepted", st.Accepted)
	// Output:
	// # TYPE http_request_duration_seconds summary
	// http_request_duration_seconds_count{route="/hello"} 3
	// observed 3 accepted 3
}
