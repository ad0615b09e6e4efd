package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/offheap/offheap/go/proxy"
)

// slowHeads is how many connections send their head at a byte per second in the slowheads
// workload (`make soak` raises it to 10,000; the smoke in `make test` keeps it small).
var slowHeads = flag.Int("slow-heads", 1000, "slowheads workload: connections sending a head at a byte per second")

func init() {
	l := &slowLoad{}
	register(&workload{name: "slowheads", start: l.start, run: l.run, finish: l.finish})
}

// slowLoad: an engine-mode proxy (ReadHeaderTimeout 2 s) with -slow-heads connections sending
// their head at a byte per second (held by a child process, so neither process runs out of
// fds), while the workers send normal requests and time them: the deadline must cut the slow
// ones and the others must not starve.
type slowLoad struct {
	front proxyFront
	addr  string // the proxy's
	child *exec.Cmd
	out   strings.Builder
	mu    sync.Mutex
	lat   []time.Duration
}

const slowReadHeaderTimeout = 2 * time.Second

func (l *slowLoad) start() error {
	if err := l.front.start(proxy.Config{Workers: 2, ReadHeaderTimeout: slowReadHeaderTimeout}); err != nil {
		return err
	}
	l.addr = l.front.addrs[0]
	self, err := os.Executable()
	if err != nil {
		return err
	}
	l.out.Reset()
	l.lat = l.lat[:0]
	l.child = exec.Command(self, "slowclients", l.addr, fmt.Sprint(*slowHeads))
	l.child.Stdout, l.child.Stderr = &l.out, os.Stderr
	l.child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return l.child.Start()
}

// run sends one normal keep-alive request and times it.
func (l *slowLoad) run(ctx context.Context, rng *rand.Rand, _ float64, t *tally) {
	conn, br, err := dialProxy(l.addr, 10*time.Second)
	if err != nil {
		t.fail("dial: %v", err)
		return
	}
	defer conn.Close()
	for range 10 {
		start := time.Now()
		fmt.Fprintf(conn, "GET /get/%d/1 HTTP/1.1\r\nHost: s\r\n\r\n", rng.IntN(4096))
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
		}
		if err != nil || resp.StatusCode != 200 {
			t.fail("a normal request among slow heads: %v", err)
			return
		}
		d := time.Since(start)
		l.mu.Lock()
		l.lat = append(l.lat, d)
		l.mu.Unlock()
		t.ops.Add(1)
		if ctx.Err() != nil {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func (l *slowLoad) finish(t *tally) {
	l.child.Process.Signal(syscall.SIGTERM)
	l.child.Wait()
	l.front.stop(t)
	var opened, cut, held, longestMs int
	if _, err := fmt.Sscanf(l.out.String(), "opened %d cut %d held %d longest-ms %d", &opened, &cut, &held, &longestMs); err != nil {
		t.fail("the slow clients reported %q: %v", l.out.String(), err)
		return
	}
	longest := time.Duration(longestMs) * time.Millisecond
	slices.Sort(l.lat)
	p99 := time.Duration(0)
	if len(l.lat) > 0 {
		p99 = l.lat[len(l.lat)*99/100]
	}
	fmt.Printf("soak: slowheads: %d slow connections held (%d opened, %d cut by ReadHeaderTimeout %v, the longest lived %v); "+
		"%d normal requests meanwhile, p99 %v\n", held, opened, cut, slowReadHeaderTimeout, longest.Round(time.Millisecond),
		len(l.lat), p99.Round(time.Microsecond))
	if longest > slowReadHeaderTimeout+2*time.Second {
		t.fail("a slow head lived %v, past ReadHeaderTimeout %v", longest, slowReadHeaderTimeout)
	}
	if p99 > 500*time.Millisecond {
		t.fail("normal requests among slow heads: p99 %v", p99)
	}
}

// slowClients is the child process: n connections to addr, each sending a request head a
// byte per second and opening again when the proxy closes it; on SIGTERM it prints what it
// saw.
func slowClients(addr string, n int) {
	var opened, cut, held atomic.Int64
	var longest atomic.Int64
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	done := make(chan struct{})
	head := "GET /slow HTTP/1.1\r\nHost: s\r\nX-Slow: " + strings.Repeat("s", 64)
	var wg sync.WaitGroup
	for i := range n {
		if i%500 == 499 {
			time.Sleep(100 * time.Millisecond) // a ramp: the listener's backlog is finite
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64)
			for {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					select {
					case <-done:
						return
					case <-time.After(100 * time.Millisecond):
						continue
					}
				}
				opened.Add(1)
				held.Add(1)
				began := time.Now()
				for j := 0; ; j++ {
					if _, err := c.Write([]byte{head[j%len(head)]}); err != nil {
						break
					}
					c.SetReadDeadline(time.Now().Add(time.Second))
					if k, err := c.Read(buf); k > 0 || (err != nil && !os.IsTimeout(err)) {
						cut.Add(1)
						break
					}
					select {
					case <-done:
						c.Close()
						held.Add(-1)
						return
					default:
					}
				}
				life := int64(time.Since(began))
				for cur := longest.Load(); life > cur && !longest.CompareAndSwap(cur, life); cur = longest.Load() {
				}
				held.Add(-1)
				c.Close()
			}
		}()
	}
	var peak int64
	for sampling := true; sampling; {
		select {
		case <-stop:
			sampling = false
		case <-time.After(100 * time.Millisecond):
			peak = max(peak, held.Load())
		}
	}
	close(done)
	wg.Wait()
	fmt.Printf("opened %d cut %d held %d longest-ms %d\n", opened.Load(), cut.Load(), peak, longest.Load()/int64(time.Millisecond))
}
