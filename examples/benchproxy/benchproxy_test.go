package main

import (
	"strings"
	"testing"
	"time"

	"github.com/offheap/offheap/examples/internal/payload"
)

const wrkOutput = `Running 2s test @ http://127.0.0.1:40123/2
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.54ms    9.02ms 135.05ms   97.53%
    Req/Sec     7.54k     1.02k    8.50k    80.00%
  Latency Distribution
     50%    3.66ms
     75%    4.12ms
     90%    5.01ms
     99%  135.05ms
  14976 requests in 2.00s, 1.80MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   7488.00
Transfer/sec:      0.90MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkOutput)
	if err != nil {
		t.Fatal(err)
	}
	want := loadResult{Requests: 14976, Seconds: 2, RPS: 7488, P50: 3660 * time.Microsecond, P99: 135050 * time.Microsecond, Errors: 7}
	if r != want {
		t.Fatalf("parseWrk = %+v, want %+v", r, want)
	}
	r, err = parseWrk(strings.Replace(strings.Replace(wrkOutput, "50%    3.66ms", "50%  812.00us", 1), "99%  135.05ms", "99%    1.02s", 1))
	if err != nil || r.P50 != 812*time.Microsecond || r.P99 != 1020*time.Millisecond {
		t.Fatalf("parseWrk with us and s units = %+v, %v", r, err)
	}
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Fatal("parseWrk accepted a failed run")
	}
}

func TestReplaceBlock(t *testing.T) {
	block := markStart + "\nnew\n" + markEnd + "\n"
	cases := []struct{ old, want string }{
		{"", "# offheap benchmarks\n\n" + block},
		{"# b\n| x |", "# b\n| x |\n\n" + block},
		{"# b\n" + markStart + "\nold\n" + markEnd + "\n<!-- other:start -->o<!-- other:end -->\n",
			"# b\n" + block + "<!-- other:start -->o<!-- other:end -->\n"},
	}
	for _, c := range cases {
		if got := replaceBlock(c.old, block); got != c.want {
			t.Errorf("replaceBlock(%q) = %q, want %q", c.old, got, c.want)
		}
	}
}

func TestReportTargets(t *testing.T) {
	s := payload.Sizes[0]
	mk := func(key string, reqs int64, cpu float64, p99 time.Duration, allocs uint64) result {
		return result{target: target{key: key, label: key}, size: s, cpu: cpu, goStats: key != "nginx", allocs: allocs,
			load: loadResult{Requests: reqs, Seconds: 1, RPS: float64(reqs), P99: p99}}
	}
	out := report([]result{
		mk("httputil", 1000, 1, 10*time.Millisecond, 70000),
		mk("nginx", 1000, 0.4, 5*time.Millisecond, 0),
		mk("offheap", 1000, 0.25, 8*time.Millisecond, 1000),
	}, []payload.Size{s}, settings{loader: "go", conns: 1})
	for _, want := range []string{"| 4.00x: met |", "| 1.60x: met |", "| 8.00 ms vs 10.00 ms: met |", "| 1.0: met |", "| httputil | 2 B | 1000 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	out = report([]result{{target: target{key: "offheap"}, size: s, skip: "not built"}}, []payload.Size{s}, settings{loader: "go"})
	if !strings.Contains(out, "not measured (examples/proxy not built)") || !strings.HasPrefix(out, markStart) || !strings.HasSuffix(out, markEnd+"\n") {
		t.Errorf("report of a skipped offheap proxy:\n%s", out)
	}
}

func TestCPUSeconds(t *testing.T) {
	if _, err := cpuSeconds(1); err != nil {
		t.Fatal(err)
	}
}
