//go:build cgo

package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// upstreamMux is the net/http upstream of the correctness suite.
func upstreamMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Request-Chunked", strconv.FormatBool(len(r.TransferEncoding) > 0))
		for k, v := range r.Trailer {
			w.Header().Set("X-Got-Trailer-"+k, strings.Join(v, ","))
		}
		w.Write(body)
	})
	mux.HandleFunc("/size/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write(pattern(n))
	})
	mux.HandleFunc("/chunked/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		b := pattern(n)
		for len(b) > 0 { // flushed pieces of varied sizes: a chunked response
			k := min(len(b), 1+len(b)%7000)
			w.Write(b[:k])
			w.(http.Flusher).Flush()
			b = b[k:]
		}
	})
	mux.HandleFunc("/trailers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		w.Write([]byte("body with a trailer"))
		w.(http.Flusher).Flush()
		w.Header().Set("X-Sum", "42")
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		fmt.Fprintf(&b, "Host: %s\n", r.Host)
		for k, v := range r.Header {
			fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(v, ","))
		}
		w.Write([]byte(b.String()))
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(400 * time.Millisecond)
		w.Write([]byte("slow"))
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Write([]byte("closing"))
	})
	mux.HandleFunc("/reject", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusExpectationFailed) // without reading the body
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		io.Copy(conn, brw) // echo until the client half-closes
		conn.(*net.TCPConn).CloseWrite()
	})
	mux.HandleFunc("/abort", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.Write(pattern(1000))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the upstream dies mid-body
	})
	return mux
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

type fixture struct {
	up    *httptest.Server
	p     *Proxy
	addr  string
	url   string
	serve chan error
}

// modes runs f in engine mode, then in Go mode (Config.AllInGo).
func modes(t *testing.T, f func(t *testing.T, allInGo bool)) {
	for _, allInGo := range []bool{false, true} {
		name := "engine"
		if allInGo {
			name = "go"
		}
		t.Run(name, func(t *testing.T) { f(t, allInGo) })
	}
}

func newFixture(t *testing.T, allInGo bool, tweak func(*Config)) *fixture {
	t.Helper()
	up := httptest.NewServer(upstreamMux())
	cfg := Config{Upstreams: []string{up.Listener.Addr().String()}, ResponseHeaderTimeout: 5 * time.Second,
		AllInGo: allInGo, Workers: 2}
	if tweak != nil {
		tweak(&cfg)
	}
	p := newProxy(t, cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{up: up, p: p, addr: ln.Addr().String(), url: "http://" + ln.Addr().String(), serve: make(chan error, 1)}
	go func() { f.serve <- p.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-f.serve; err != ErrShutdown {
			t.Errorf("Serve returned %v, want ErrShutdown", err)
		}
		up.Close()
	})
	return f
}

// dial opens a raw connection to the proxy, closed when the test ends.
func (f *fixture) dial(t *testing.T) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func client() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, ExpectContinueTimeout: 5 * time.Second}, Timeout: 20 * time.Second}
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return resp, body
}

func TestMethodsAndBodies(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		f := newFixture(t, allInGo, nil)
		c := client()
		rng := rand.New(rand.NewPCG(1, 2))
		methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
		sizes := []int{0, 1, 2, 100, 16 << 10, 64<<10 + 3, 1<<20 + 1}
		if debugBuild {
			methods, sizes = methods[:2], []int{0, 2, 64<<10 + 3}
		}
		for _, method := range methods {
			for _, n := range sizes {
				for _, chunked := range []bool{false, true} {
					body := make([]byte, n)
					for i := range body {
						body[i] = byte(rng.Uint32())
					}
					var rd io.Reader = bytes.NewReader(body)
					if chunked {
						rd = io.MultiReader(rd) // unknown length: the Go client sends it chunked
					}
					req, _ := http.NewRequest(method, f.url+"/echo", rd)
					if n == 0 && !chunked {
						req.Body = nil
					}
					resp, got := do(t, c, req)
					if resp.StatusCode != 200 || !bytes.Equal(got, body) || resp.Header.Get("X-Method") != method {
						t.Fatalf("%s %d bytes chunked=%v: %s, %d bytes back (equal %v), method %q", method, n, chunked,
							resp.Status, len(got), bytes.Equal(got, body), resp.Header.Get("X-Method"))
					}
					if chunked && n > 0 && resp.Header.Get("X-Request-Chunked") != "true" {
						t.Fatalf("%s %d bytes: the upstream did not get a chunked body", method, n)
					}
				}
			}
		}
		// Responses: Content-Length and chunked of many sizes, HEAD, 204, 304.
		for _, n := range []int{0, 2, 4095, 16 << 10, 70000, 1 << 20} {
			for _, path := range []string{"/size/", "/chunked/"} {
				req, _ := http.NewRequest("GET", f.url+path+strconv.Itoa(n), nil)
				resp, got := do(t, c, req)
				if resp.StatusCode != 200 || !bytes.Equal(got, pattern(n)) {
					t.Fatalf("GET %s%d: %s, %d bytes", path, n, resp.Status, len(got))
				}
			}
		}
		req, _ := http.NewRequest("HEAD", f.url+"/size/5000", nil)
		if resp, got := do(t, c, req); resp.StatusCode != 200 || len(got) != 0 || resp.ContentLength != 5000 {
			t.Fatalf("HEAD: %s, %d bytes, Content-Length %d", resp.Status, len(got), resp.ContentLength)
		}
		for _, code := range []int{204, 304, 404, 500} {
			req, _ := http.NewRequest("GET", f.url+"/status/"+strconv.Itoa(code), nil)
			if resp, _ := do(t, c, req); resp.StatusCode != code {
				t.Fatalf("GET /status/%d: %s", code, resp.Status)
			}
		}
		// All of it went over a few kept-alive connections both sides.
		if acc, dials := f.p.Counters().ConnsAccepted, f.p.Counters().UpstreamDials; acc > 2 || dials > 2 {
			t.Errorf("keep-alive: %d client connections accepted, %d upstream dials, want <= 2 each", acc, dials)
		}
	})
}

func TestTrailers(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		f := newFixture(t, allInGo, nil)
		c := client()
		req, _ := http.NewRequest("GET", f.url+"/trailers", nil)
		resp, got := do(t, c, req)
		if string(got) != "body with a trailer" || resp.Trailer.Get("X-Sum") != "42" {
			t.Fatalf("response trailers: body %q, trailer %v", got, resp.Trailer)
		}
		req, _ = http.NewRequest("POST", f.url+"/echo", io.MultiReader(strings.NewReader("payload")))
		req.Trailer = http.Header{"X-Check": nil}
		req.Body = &trailerBody{r: strings.NewReader("payload"), req: req}
		resp, got = do(t, c, req)
		if string(got) != "payload" || resp.Header.Get("X-Got-Trailer-X-Check") != "ok" {
			t.Fatalf("request trailers: body %q, upstream saw trailer %q", got, resp.Header.Get("X-Got-Trailer-X-Check"))
		}
	})
}

// trailerBody sets the request's trailer when the body is done, as http.Request.Trailer says.
type trailerBody struct {
	r   io.Reader
	req *http.Request
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.req.Trailer.Set("X-Check", "ok")
	}
	return n, err
}
func (b *trailerBody) Close() error { return nil }

func TestDropHeader(t *testing.T) {
	head := []byte("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nX: 1\r\nTransfer-Encoding: x\r\n\r\n")
	if got := string(dropHeader(head, "Transfer-Encoding")); got != "HTTP/1.1 200 OK\r\nX: 1\r\n\r\n" {
		t.Fatalf("dropHeader = %q", got)
	}
}

func TestHopByHopAndForwarded(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		f := newFixture(t, allInGo, nil)
		conn := f.dial(t)
		fmt.Fprintf(conn, "GET /headers HTTP/1.1\r\nHost: example.test\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nProxy-Authorization: x\r\nX-End: kept\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		s := string(body)
		for _, want := range []string{"Host: example.test\n", "X-End: kept\n", "X-Forwarded-For: 127.0.0.1\n", "X-Forwarded-Host: example.test\n", "X-Forwarded-Proto: http\n"} {
			if !strings.Contains(s, want) {
				t.Errorf("upstream did not see %q in:\n%s", want, s)
			}
		}
		for _, bad := range []string{"X-Hop", "Keep-Alive", "Proxy-Authorization"} {
			if strings.Contains(s, bad+":") {
				t.Errorf("upstream saw hop-by-hop %s:\n%s", bad, s)
			}
		}
	})
}

func TestPipelining(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		f := newFixture(t, allInGo, nil)
		conn := f.dial(t)
		var reqs bytes.Buffer
		paths := []string{"/size/3", "/chunked/20000", "/echo", "/size/70000", "/size/1"}
		for _, p := range paths {
			if p == "/echo" {
				fmt.Fprintf(&reqs, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
			} else {
				fmt.Fprintf(&reqs, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", p)
			}
		}
		if _, err := conn.Write(reqs.Bytes()); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		for _, p := range paths {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			want := "hello"
			if p != "/echo" {
				n, _ := strconv.Atoi(p[strings.LastIndexByte(p, '/')+1:])
				want = string(pattern(n))
			}
			if string(body) != want {
				t.Fatalf("%s: %d bytes, want %d", p, len(body), len(want))
			}
		}
	})
}

func TestExpectContinue(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		f := newFixture(t, allInGo, nil)
		c := client()
		body := pattern(200000)
		req, _ := http.NewRequest("POST", f.url+"/echo", bytes.NewReader(body))
		req.Header.Set("Expect", "100-continue")
		if resp, got := do(t, c, req); resp.StatusCode != 200 || !bytes.Equal(got, body) {
			t.Fatalf("100-continue echo: %s, %d bytes", resp.Status, len(got))
		}
		// The upstream refuses without reading: the client gets its answer, not a hang.
		req, _ = http.NewRequest("POST", f.url+"/reject", bytes.NewReader(body))
		req.Header.Set("Expect", "100-continue")
		if resp, _ := do(t, c, req); resp.StatusCode != http.StatusExpectationFailed {
			t.Fatalf("rejected 100-continue: %s", resp.Status)
		}
	})
}

func TestUpgradeTunnel(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		f := newFixture(t, allInGo, nil)
		conn := f.dial(t)
		fmt.Fprintf(conn, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "echo" {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		msg := pattern(300000)
		go func() {
			conn.Write(msg)
			conn.(*net.TCPConn).CloseWrite()
		}()
		got, err := io.ReadAll(br)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("tunnel echo: %d bytes of %d, %v", len(got), len(msg), err)
		}
		if f.p.Counters().Upgrades != 1 {
			t.Errorf("upgrades counter = %d", f.p.Counters().Upgrades)
		}
	})
}

func TestUpstreamFailures(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		// Nothing listens: 502.
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		dead := ln.Addr().String()
		ln.Close()
		f := newFixture(t, allInGo, func(c *Config) { c.Upstreams = []string{dead} })
		c := client()
		req, _ := http.NewRequest("GET", f.url+"/x", nil)
		if resp, _ := do(t, c, req); resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("dead upstream: %s", resp.Status)
		}
		// Slow upstream: 504; a connection closed by the upstream: retried or 502, never a hang.
		f = newFixture(t, allInGo, func(c *Config) { c.ResponseHeaderTimeout = 100 * time.Millisecond })
		req, _ = http.NewRequest("GET", f.url+"/slow", nil)
		if resp, _ := do(t, c, req); resp.StatusCode != http.StatusGatewayTimeout {
			t.Fatalf("slow upstream: %s", resp.Status)
		}
		for range 3 {
			req, _ = http.NewRequest("GET", f.url+"/close", nil)
			if resp, got := do(t, c, req); resp.StatusCode != 200 || string(got) != "closing" {
				t.Fatalf("upstream Connection: close: %s %q", resp.Status, got)
			}
		}
		// Requests after the upstream closed the pooled connections: a GET is retried, a POST
		// (whose body cannot be replayed) finds its pooled connection dead before sending.
		for _, method := range []string{"GET", "POST", "POST"} {
			req, _ = http.NewRequest("GET", f.url+"/size/5", nil)
			do(t, c, req)
			f.up.CloseClientConnections()
			time.Sleep(20 * time.Millisecond)
			req, _ = http.NewRequest(method, f.url+"/echo", strings.NewReader("body"))
			if resp, got := do(t, c, req); resp.StatusCode != 200 || string(got) != "body" {
				t.Fatalf("%s after the upstream closed pooled connections: %s %q", method, resp.Status, got)
			}
		}
		// The upstream dies mid-body: the client sees a truncated body, not a complete one.
		req, _ = http.NewRequest("GET", f.url+"/abort", nil)
		resp, err := c.Do(req)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if err == nil {
			t.Fatal("upstream abort mid-body: the client read a complete body")
		}
		// After all that the proxy still serves.
		req, _ = http.NewRequest("GET", f.url+"/size/10", nil)
		if resp, got := do(t, c, req); resp.StatusCode != 200 || len(got) != 10 {
			t.Fatalf("after failures: %s %d", resp.Status, len(got))
		}
		if f.p.Counters().GatewayTimeout != 1 {
			t.Errorf("504 counter = %d", f.p.Counters().GatewayTimeout)
		}
	})
}

func TestBadRequests(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		f := newFixture(t, allInGo, nil)
		for _, tc := range []struct{ raw, want string }{
			{"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "400"},
			// Longer than MaxHeaderBytes (1 MB, as net/http).
			{"GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 1<<20) + "\r\n\r\n", "431"},
			{"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
			{"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", "405"},
			{"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "501"},
		} {
			conn, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			go conn.Write([]byte(tc.raw))
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if err != nil || !strings.Contains(line, " "+tc.want+" ") {
				t.Errorf("%.40q: got %q, %v; want %s", tc.raw, line, err, tc.want)
			}
		}
		if n := f.p.Counters().BadRequests; n != 5 {
			t.Errorf("bad requests counter = %d, want 5", n)
		}
	})
}

// A request head of 100 KB goes through (net/http accepts 1 MB), with a body after it, on a
// connection that goes on.
func TestLargeHead(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		f := newFixture(t, allInGo, nil)
		c := client()
		for _, n := range []int{60 << 10, 100 << 10, 900 << 10} {
			req, _ := http.NewRequest("POST", f.url+"/echo", strings.NewReader("after the head"))
			req.Header.Set("X-Big", strings.Repeat("b", n))
			if resp, got := do(t, c, req); resp.StatusCode != 200 || string(got) != "after the head" {
				t.Fatalf("%d-byte header: %s %q", n, resp.Status, got)
			}
			req, _ = http.NewRequest("GET", f.url+"/size/3", nil)
			if resp, got := do(t, c, req); resp.StatusCode != 200 || string(got) != "abc" {
				t.Fatalf("after a %d-byte header: %s %q", n, resp.Status, got)
			}
		}
		if acc := f.p.Counters().ConnsAccepted; acc != 1 {
			t.Errorf("%d connections accepted, want 1 (keep-alive after long heads)", acc)
		}
	})
}

func TestGracefulShutdown(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		up := httptest.NewServer(upstreamMux())
		defer up.Close()
		p := newProxy(t, Config{Upstreams: []string{up.Listener.Addr().String()}, AllInGo: allInGo, Workers: 2})
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		served := make(chan error, 1)
		go func() { served <- p.Serve(ln) }()
		idle, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer idle.Close()
		busy, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		fmt.Fprintf(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
		for p.Counters().Requests == 0 || p.Counters().ConnsAccepted < 2 {
			time.Sleep(time.Millisecond)
		}
		shut := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			shut <- p.Shutdown(ctx)
		}()
		resp, err := http.ReadResponse(bufio.NewReader(busy), nil)
		if err != nil {
			t.Fatalf("request in progress during shutdown: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "slow" || !resp.Close {
			t.Fatalf("request in progress: %q, Connection: close = %v", body, resp.Close)
		}
		if err := <-shut; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if err := <-served; err != ErrShutdown {
			t.Fatalf("Serve: %v", err)
		}
		idle.SetReadDeadline(time.Now().Add(2 * time.Second))
		if n, err := idle.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("idle connection after shutdown: read %d, %v; want EOF", n, err)
		}
	})
}

// Shutdown past its deadline ends the exchanges still in progress, also one that waits for a
// response head the upstream never sends and the requests queued behind it for a connection
// (MaxConnsPerUpstream): it returns soon after its deadline.
func TestShutdownPastItsDeadline(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		release := make(chan struct{})
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		defer up.Close()
		defer close(release) // before up.Close, which waits for its handlers
		p := newProxy(t, Config{Upstreams: []string{up.Listener.Addr().String()}, AllInGo: allInGo, Workers: 1,
			MaxConnsPerUpstream: 1})
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		go p.Serve(ln)
		var clients []net.Conn
		for range 3 {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "GET /never HTTP/1.1\r\nHost: x\r\n\r\n")
			clients = append(clients, c)
		}
		for c := p.Counters(); c.Requests == 0 || c.UpstreamWaiting < 2; c = p.Counters() {
			time.Sleep(time.Millisecond)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := p.Shutdown(ctx); err != context.DeadlineExceeded {
			t.Fatalf("Shutdown: %v, want the context's deadline", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Shutdown returned %v after its start, past a 200 ms deadline", d)
		}
		for i, c := range clients {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil && resp.StatusCode == http.StatusOK {
				t.Fatalf("client %d of an aborted proxy got a 200", i)
			}
		}
	})
}

func TestCurl(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Fatal("curl not installed: .ci/run installs it (apt-get install curl)")
		}
		f := newFixture(t, allInGo, nil)
		body := pattern(300000)
		sum := sha256.Sum256(body)
		for _, args := range [][]string{
			{"-sS", f.url + "/size/300000"},
			{"-sS", f.url + "/chunked/300000"},
			{"-sS", "--data-binary", "@-", f.url + "/echo"},
			{"-sS", "-H", "Transfer-Encoding: chunked", "--data-binary", "@-", f.url + "/echo"},
			{"-sS", "-H", "Expect: 100-continue", "--data-binary", "@-", f.url + "/echo"},
			{"-sS", "--http1.0", f.url + "/size/300000"},
			{"-sS", "--http1.0", f.url + "/chunked/300000"},
		} {
			cmd := exec.Command("curl", args...)
			cmd.Stdin = bytes.NewReader(body)
			out, err := cmd.Output()
			if err != nil || sha256.Sum256(out) != sum {
				t.Errorf("curl %s: %v, %d bytes (want %d, same sha256: %v)", strings.Join(args, " "), err, len(out), len(body), sha256.Sum256(out) == sum)
			}
		}
	})
}

// TestZeroAllocsPerRequest proxies requests from a raw client to a raw upstream (neither
// allocates per request) and counts the process's Go allocations: the proxy's share.
// acceptLoop serves every connection ln accepts with serve, on a goroutine of its own that
// closes the connection after, until ln is closed. conns, when not nil, counts those goroutines.
func acceptLoop(ln net.Listener, conns *sync.WaitGroup, serve func(c net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if conns != nil {
			conns.Add(1)
		}
		go func() {
			if conns != nil {
				defer conns.Done()
			}
			defer c.Close()
			serve(c)
		}()
	}
}

// serveLoopback listens on 127.0.0.1 and serves every connection with serve (see acceptLoop)
// until the test ends; it returns the address.
func serveLoopback(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go acceptLoop(ln, nil, serve)
	return ln.Addr().String()
}

// keepAliveUpstream answers every request head (ending in an empty line) with resp, on
// kept-alive connections, allocating nothing per request.
func keepAliveUpstream(t *testing.T, resp string) string {
	t.Helper()
	uln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { uln.Close() })
	respBytes := []byte(resp)
	go acceptLoop(uln, nil, func(c net.Conn) {
		buf := make([]byte, 8192)
		have := 0
		for {
			n, err := c.Read(buf[have:])
			if err != nil {
				return
			}
			have += n
			for {
				i := bytes.Index(buf[:have], []byte("\r\n\r\n"))
				if i < 0 {
					break
				}
				c.Write(respBytes)
				have = copy(buf, buf[i+4:have])
			}
		}
	})
	return uln.Addr().String()
}

func TestZeroAllocsPerRequest(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		up := keepAliveUpstream(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
		p := newProxy(t, Config{Upstreams: []string{up}, AllInGo: allInGo, Workers: 2})
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		go p.Serve(ln)
		defer p.Shutdown(context.Background())
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		req := []byte("GET /x HTTP/1.1\r\nHost: x\r\nUser-Agent: t\r\n\r\n")
		buf := make([]byte, 4096)
		roundTrip := func() {
			if _, err := conn.Write(req); err != nil {
				t.Fatal(err)
			}
			have := 0
			for !bytes.HasSuffix(buf[:have], []byte("\r\n\r\nOK")) {
				n, err := conn.Read(buf[have:])
				if err != nil {
					t.Fatal(err)
				}
				have += n
			}
		}
		warm, n := 200, 3000
		if debugBuild {
			warm, n = 20, 100
		}
		for range warm {
			roundTrip()
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			roundTrip()
		}
		runtime.ReadMemStats(&after)
		perReq := float64(after.Mallocs-before.Mallocs) / float64(n)
		t.Logf("%.3f Go allocations per proxied request (client and upstream included)", perReq)
		if perReq > 0.5 {
			t.Fatalf("%.3f Go allocations per proxied request, want ~0 (target: <= 2)", perReq)
		}
	})
}

// rawUpstream answers every connection with resp after reading one request head, then closes.
func rawUpstream(t *testing.T, resp string) string {
	t.Helper()
	return serveLoopback(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		io.WriteString(c, resp)
	})
}

func TestCloseDelimitedAndHTTP10(t *testing.T) {
	modes(t, func(t *testing.T, allInGo bool) {
		body := strings.Repeat("close-delimited ", 10000)
		f := newFixture(t, allInGo, func(c *Config) {
			c.Upstreams = []string{rawUpstream(t, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"+body)}
		})
		req, _ := http.NewRequest("GET", f.url+"/", nil)
		resp, got := do(t, client(), req)
		if resp.StatusCode != 200 || string(got) != body || !resp.Close {
			t.Fatalf("close-delimited: %s, %d bytes of %d, Connection: close %v", resp.Status, len(got), len(body), resp.Close)
		}
		// An upstream answering chunked to an HTTP/1.0 client: the client gets the payload,
		// without Transfer-Encoding, ended by closing.
		chunks := "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n"
		f = newFixture(t, allInGo, func(c *Config) {
			c.Upstreams = []string{rawUpstream(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"+chunks)}
		})
		conn, err := net.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		io.WriteString(conn, "GET / HTTP/1.0\r\n\r\n")
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		all, err := io.ReadAll(conn)
		if err != nil {
			t.Fatal(err)
		}
		s := string(all)
		if !strings.HasSuffix(s, "\r\n\r\nhello, world") || strings.Contains(strings.ToLower(s), "transfer-encoding") {
			t.Fatalf("chunked to HTTP/1.0: %q", s)
		}
	})
}

func newProxy(t *testing.T, cfg Config) *Proxy {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
