//go:build cgo

package proxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingUpstream starts a net/http upstream serving h that counts the connections it
// accepted; it is closed when the test ends (or before, by the caller).
func countingUpstream(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	accepted := new(atomic.Int64)
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			accepted.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s, accepted
}

// get sends GET path on conn (kept alive) and returns the response's status and body.
func get(conn net.Conn, br *bufio.Reader, path string) (int, string, error) {
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body), err
}

// clients runs n clients at once, each sending GET /client<i>/request<j> for j < requests on a
// kept-alive connection to addr; ok judges each answer (false: an error, and that client stops).
func clients(t *testing.T, addr string, n, requests int, ok func(path string, status int, body string, err error) bool) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			for j := range requests {
				path := fmt.Sprintf("/client%d/request%d", i, j)
				if status, body, err := get(conn, br, path); !ok(path, status, body, err) {
					t.Errorf("%s: %d %q, %v", path, status, body, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// waitCounters polls the proxy's counters until ok accepts them (or 5 s pass: the last ones).
func waitCounters(p *Proxy, ok func(Counters) bool) Counters {
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := p.Counters()
		if ok(c) || time.Now().After(deadline) {
			return c
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Eight clients, four requests each, to an upstream that takes 20-40 ms, through a limit of
// two connections: every request is answered, over exactly two upstream connections, the
// others waiting in turn instead of dialling or failing.
func TestMaxConnsPerUpstreamQueues(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		up, accepted := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Duration(20+rand.IntN(21)) * time.Millisecond)
			io.WriteString(w, r.URL.Path)
		})
		f := newFixture(t, allInGo, func(c *Config) {
			// One engine worker: its limit is the whole proxy's.
			c.Upstreams, c.MaxConnsPerUpstream, c.Workers = []string{up.Listener.Addr().String()}, 2, 1
		})
		clients(t, f.addr, 8, 4, func(path string, status int, body string, err error) bool {
			return status == 200 && body == path && err == nil
		})
		c := waitCounters(f.p, func(c Counters) bool { return c.UpstreamOpen == c.UpstreamIdle })
		if n := accepted.Load(); n != 2 || c.BadGateway != 0 || c.UpstreamQueued == 0 || c.UpstreamWaiting != 0 ||
			c.UpstreamOpen != 2 || c.UpstreamIdle != 2 {
			t.Fatalf("limit 2: the upstream accepted %d connections, %d 502s, %d requests queued, %d waiting, "+
				"%d upstream connections open, %d idle; want 2, 0, some, 0, 2, 2", n, c.BadGateway, c.UpstreamQueued,
				c.UpstreamWaiting, c.UpstreamOpen, c.UpstreamIdle)
		}
	})
}

// With a limit of one connection, a request waits for the connection a slow exchange holds
// at most DialTimeout, then fails as a failed dial does (502, or the ErrorHandler's answer
// with ErrBadGateway); its client connection goes on, and its next request takes the
// connection once it is given back. Nothing is left behind.
func TestMaxConnsPerUpstreamWaitTimesOut(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		for _, handler := range []bool{false, true} {
			base := takeBaseline()
			held := make(chan struct{}, 1)
			up, accepted := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/hold" {
					held <- struct{}{}
					time.Sleep(1500 * time.Millisecond)
				}
				io.WriteString(w, r.URL.Path)
			})
			var seen atomic.Value
			f := newFixture(t, allInGo, func(c *Config) {
				c.Upstreams, c.MaxConnsPerUpstream, c.Workers = []string{up.Listener.Addr().String()}, 1, 1
				c.DialTimeout = 300 * time.Millisecond
				if handler {
					c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
						seen.Store(fmt.Sprint(r.URL.Path, " ", errors.Is(err, ErrBadGateway)))
						w.WriteHeader(http.StatusServiceUnavailable)
						io.WriteString(w, "busy")
					}
				}
			})
			first := f.dial(t)
			firstDone := make(chan string, 1)
			go func() {
				status, body, err := get(first, bufio.NewReader(first), "/hold")
				firstDone <- fmt.Sprint(status, " ", body, " ", err)
			}()
			select {
			case <-held:
			case <-time.After(5 * time.Second):
				t.Fatal("the held request did not reach the upstream")
			}
			second := f.dial(t)
			br := bufio.NewReader(second)
			start := time.Now()
			status, body, err := get(second, br, "/waits")
			took := time.Since(start)
			want, wantBody := 502, ""
			if handler {
				want, wantBody = 503, "busy"
			}
			if status != want || body != wantBody || err != nil || took < 250*time.Millisecond || took > 1400*time.Millisecond {
				t.Fatalf("handler %v: a request behind the held connection: %d %q, %v after %v; want %d within "+
					"250 ms-1.4 s", handler, status, body, err, took, want)
			}
			if s, _ := seen.Load().(string); handler && s != "/waits true" {
				t.Fatalf("the ErrorHandler saw %q, want the request and ErrBadGateway", s)
			}
			if got := <-firstDone; got != "200 /hold <nil>" {
				t.Fatalf("the held request: %s", got)
			}
			// The client may read the response before the proxy takes the connection back.
			waitCounters(f.p, func(c Counters) bool { return c.UpstreamIdle == 1 })
			if status, body, err := get(second, br, "/after"); status != 200 || body != "/after" || err != nil {
				t.Fatalf("handler %v: the next request on the same connection: %d %q, %v", handler, status, body, err)
			}
			c := f.p.Counters()
			if n := accepted.Load(); n != 1 || c.ConnsAccepted != 2 || c.BadGateway != 1 || c.UpstreamQueued != 1 ||
				c.UpstreamWaiting != 0 {
				t.Fatalf("handler %v: the upstream accepted %d connections; %d client connections, %d 502s, %d queued, "+
					"%d waiting; want 1, 2, 1, 1, 0", handler, n, c.ConnsAccepted, c.BadGateway, c.UpstreamQueued,
					c.UpstreamWaiting)
			}
			first.Close()
			second.Close()
			ctx, cancel := contextTimeout(5 * time.Second)
			err = f.p.Shutdown(ctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			up.Close()
			f.up.Close()
			if msg := base.wait(10 * time.Second); msg != "" {
				t.Fatalf("handler %v: %s", handler, msg)
			}
		}
	})
}

// Waits that time out while connections are being given back, many times over: each request
// is answered by its own response or a 502, no connection is lost or lent twice (the places
// under the limit all come back: a request after the storm is served), and nothing leaks.
func TestMaxConnsPerUpstreamTimeoutRace(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		base := takeBaseline()
		up, _ := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Duration(5+rand.IntN(15)) * time.Millisecond)
			io.WriteString(w, r.URL.Path)
		})
		f := newFixture(t, allInGo, func(c *Config) {
			c.Upstreams, c.MaxConnsPerUpstream, c.Workers = []string{up.Listener.Addr().String()}, 2, 1
			c.DialTimeout = 30 * time.Millisecond
		})
		var ok, failed atomic.Int64
		clients(t, f.addr, 16, 10, func(path string, status int, body string, err error) bool {
			switch {
			case err == nil && status == 200 && body == path:
				ok.Add(1)
			case err == nil && status == 502:
				failed.Add(1)
			default:
				return false
			}
			return true
		})
		t.Logf("%d answered, %d timed out in the queue", ok.Load(), failed.Load())
		c := waitCounters(f.p, func(c Counters) bool { return c.UpstreamOpen == c.UpstreamIdle })
		if c.UpstreamWaiting != 0 || c.UpstreamOpen != c.UpstreamIdle || c.UpstreamOpen > 2 || c.UpstreamQueued == 0 {
			t.Fatalf("after the storm: %d waiting, %d upstream connections open, %d idle, %d queued; want 0, "+
				"all idle, <= 2, some", c.UpstreamWaiting, c.UpstreamOpen, c.UpstreamIdle, c.UpstreamQueued)
		}
		conn := f.dial(t)
		br := bufio.NewReader(conn)
		for _, path := range []string{"/after1", "/after2"} {
			if status, body, err := get(conn, br, path); status != 200 || body != path || err != nil {
				t.Fatalf("after the storm: %s: %d %q, %v", path, status, body, err)
			}
		}
		conn.Close()
		ctx, cancel := contextTimeout(5 * time.Second)
		defer cancel()
		if err := f.p.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		up.Close()
		f.up.Close()
		if msg := base.wait(10 * time.Second); msg != "" {
			t.Fatal(msg)
		}
	})
}

// The limit's queue itself: oldest first, and a waiter leaves from anywhere.
func TestWaitQueueOrder(t *testing.T) {
	var q waitQueue
	ws := make([]*waiter, 5)
	for i := range ws {
		ws[i] = &waiter{}
		q.push(ws[i])
	}
	q.remove(ws[2])
	q.remove(ws[4])
	q.remove(ws[0])
	q.push(ws[4])
	var got []string
	for w := q.pop(); w != nil; w = q.pop() {
		for i := range ws {
			if ws[i] == w {
				got = append(got, fmt.Sprint(i))
			}
		}
		if w.queued {
			t.Fatal("a popped waiter is still marked queued")
		}
	}
	if s := strings.Join(got, " "); s != "1 3 4" || q.head != nil || q.tail != nil {
		t.Fatalf("queue order %q (head %p, tail %p), want \"1 3 4\" and empty", s, q.head, q.tail)
	}
}
