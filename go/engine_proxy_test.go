//go:build cgo

package offheap

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// proxyRig is an engine serving as a reverse proxy to a net/http upstream.
func proxyRig(t *testing.T, tweak func(*ProxyConfig)) (*Engine, string) {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-Hooked", r.Header.Get("X-Hooked"))
		io.WriteString(w, "hello "+r.URL.Path)
	}))
	t.Cleanup(up.Close)
	e := newEngine(t, 2, 1024)
	t.Cleanup(func() { e.Close() })
	cfg := &ProxyConfig{Upstreams: []netip.AddrPort{netip.MustParseAddrPort(up.Listener.Addr().String())},
		Proto: "http", Via: "t", IdleTimeout: time.Minute}
	if tweak != nil {
		tweak(cfg)
	}
	if err := e.StartProxy(cfg); err != nil {
		t.Fatal(err)
	}
	if err := e.StartProxy(cfg); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("a second StartProxy: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close() // the engine serves its own duplicate
	if err := e.ProxyListen(ln.(*net.TCPListener), -1); err != nil {
		t.Fatal(err)
	}
	return e, "http://" + ln.Addr().String()
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestEngineProxy(t *testing.T) {
	e, url := proxyRig(t, nil)
	for i := range 5 {
		if resp, body := get(t, url+"/a"); body != "hello /a" || resp.Header.Get("Via") != "1.1 t" {
			t.Fatalf("request %d: %q, Via %q", i, body, resp.Header.Get("Via"))
		}
	}
	c, err := e.ProxyCounters()
	for start := time.Now(); c.Responses < 5 && time.Since(start) < 5*time.Second; {
		// The worker counts a response once it is written: right after the client read it.
		time.Sleep(time.Millisecond)
		c, err = e.ProxyCounters()
	}
	if err != nil || c.Requests != 5 || c.Responses != 5 || c.UpstreamDials != 1 {
		t.Fatalf("counters %+v, %v", c, err)
	}
	if n := testing.AllocsPerRun(100, func() { e.ProxyCounters() }); n != 0 {
		t.Errorf("ProxyCounters: %v allocations", n)
	}
	if err := e.ProxyShutdown(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.ConnsOpen != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		c, _ = e.ProxyCounters()
	}
	http.DefaultClient.CloseIdleConnections()
	if c.ConnsOpen != 0 {
		t.Fatalf("after shutdown: %+v", c)
	}
}

func TestEngineProxyHookEvents(t *testing.T) {
	e, url := proxyRig(t, func(c *ProxyConfig) { c.Hook = true })
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	for w := range e.Workers() {
		go func() {
			evs := make([]ProxyEvent, 8)
			for {
				n, err := e.WaitProxyEvents(ctx, w, evs)
				if err != nil {
					if !errors.Is(err, ErrCanceled) {
						t.Errorf("WaitProxyEvents: %v", err)
					}
					done <- struct{}{}
					return
				}
				for _, ev := range evs[:n] {
					head := strings.Replace(string(ev.Head), "\r\n\r\n", "\r\nX-Hooked: yes\r\n\r\n", 1)
					if err := e.ProxyReplyHead(w, ev.Token, []byte(head)); err != nil {
						t.Errorf("ProxyReplyHead: %v", err)
					}
				}
			}
		}()
	}
	if resp, body := get(t, url+"/h"); body != "hello /h" || resp.Header.Get("X-Seen-Hooked") != "yes" {
		t.Fatalf("hooked request: %q, upstream saw X-Hooked %q", body, resp.Header.Get("X-Seen-Hooked"))
	}
	cancel()
	for range e.Workers() {
		<-done
	}
	if _, err := e.WaitProxyEvents(context.Background(), 99, make([]ProxyEvent, 1)); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("an unknown worker: %v", err)
	}
}

// StartProxy refuses a configuration out of range with ErrInvalidArgument, starting nothing:
// the engine takes a valid one after.
func TestEngineProxyRejectsBadConfigs(t *testing.T) {
	e := newEngine(t, 1, 64)
	defer e.Close()
	up := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:9")}
	for _, cfg := range []ProxyConfig{
		{},
		{Upstreams: []netip.AddrPort{{}}},
		{Upstreams: up, MaxHeaders: 255},
		{Upstreams: up, MaxHeaders: -1},
		{Upstreams: up, MaxHeaderBytes: -1},
		{Upstreams: up, MaxIdlePerUpstream: -1},
		{Upstreams: up, MaxConnsPerUpstream: -1},
	} {
		if err := e.StartProxy(&cfg); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("StartProxy(%+v): %v, want ErrInvalidArgument", cfg, err)
		}
	}
	if err := e.StartProxy(&ProxyConfig{Upstreams: up, MaxConnsPerUpstream: 4}); err != nil {
		t.Fatalf("a valid configuration after the refused ones: %v", err)
	}
}
