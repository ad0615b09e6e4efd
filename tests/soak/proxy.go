package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/offheap/offheap/go/proxy"
)

func init() {
	l := &proxyLoad{}
	register(&workload{name: "proxy", start: l.start, run: l.run, finish: l.finish})
}

// proxyLoad runs the reverse proxy (go/proxy) in both of its modes in front of an upstream
// that misbehaves on request: keep-alive exchanges of random sizes and framings, checked by
// SHA-256, and faults on either side (clients that reset mid-upload or send their head a
// byte at a time, upstreams that reset or stall mid-response).
type proxyLoad struct {
	front proxyFront // engine mode, all in Go
}

const (
	// proxyBodyTimeout cuts the stalled upstreams of the faults. It is well above what a
	// normal exchange waits between two bytes on a busy 2-core machine: at 300 ms, with the
	// machine at a load of 6, 1-3 normal exchanges a 20 s run were cut (unexpected EOF at the
	// client) in 2 runs of 2, and none at 1.5 s.
	proxyBodyTimeout = 1500 * time.Millisecond
	proxyHeadTimeout = 300 * time.Millisecond
)

// proxyFront is a proxyUpstream on loopback and proxies (go/proxy) in front of it, each
// serving on a loopback listener of its own (addrs, in the order of proxies).
type proxyFront struct {
	up      net.Listener
	upConns sync.WaitGroup // the upstream's connections
	proxies []*proxy.Proxy
	addrs   []string
	served  sync.WaitGroup
}

// start starts the upstream, then a proxy of each configuration, its Upstreams set to it.
func (f *proxyFront) start(cfgs ...proxy.Config) error {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	f.up = up
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			f.upConns.Add(1)
			go func() {
				defer f.upConns.Done()
				defer c.Close()
				proxyUpstream(c.(*net.TCPConn))
			}()
		}
	}()
	f.proxies, f.addrs = nil, nil
	for _, cfg := range cfgs {
		cfg.Upstreams = []string{up.Addr().String()}
		p, err := proxy.New(cfg)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		f.proxies, f.addrs = append(f.proxies, p), append(f.addrs, ln.Addr().String())
		f.served.Add(1)
		go func() { defer f.served.Done(); p.Serve(ln) }()
	}
	return nil
}

// stop shuts the proxies down, then closes the upstream and waits for its connections.
func (f *proxyFront) stop(t *tally) {
	for _, p := range f.proxies {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := p.Shutdown(ctx); err != nil {
			t.fail("Shutdown: %v", err)
		}
		cancel()
	}
	f.served.Wait()
	f.up.Close()
	f.upConns.Wait()
}

// dialProxy connects a client to the proxy at addr, for exchanges due within d; br reads
// the responses.
func dialProxy(addr string, d time.Duration) (conn net.Conn, br *bufio.Reader, err error) {
	if conn, err = net.Dial("tcp", addr); err != nil {
		return nil, nil, err
	}
	conn.SetDeadline(time.Now().Add(d))
	return conn, bufio.NewReader(conn), nil
}

func (l *proxyLoad) start() error {
	var cfgs []proxy.Config
	for _, allInGo := range []bool{false, true} {
		cfgs = append(cfgs, proxy.Config{AllInGo: allInGo, Workers: 2, BodyTimeout: proxyBodyTimeout,
			ReadHeaderTimeout: proxyHeadTimeout, ResponseHeaderTimeout: 5 * time.Second})
	}
	return l.front.start(cfgs...)
}

func (l *proxyLoad) finish(t *tally) { l.front.stop(t) }

// proxyUpstream answers the requests of one connection by path: /get/<size>/<seed> (a
// seeded body, Content-Length), /chunked/<size>/<seed> (the same, chunked), /post (the
// SHA-256 of the body it read), /reset/<size> (part of the body, then a reset), /stall/<size>
// (part of the body, then nothing).
func proxyUpstream(c *net.TCPConn) {
	c.SetDeadline(time.Now().Add(time.Minute))
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		parts := strings.Split(req.URL.Path, "/")
		size := 0
		if len(parts) > 2 {
			size, _ = strconv.Atoi(parts[2])
		}
		var seed uint64
		if len(parts) > 3 {
			seed, _ = strconv.ParseUint(parts[3], 10, 64)
		}
		body := randomBytes(rand.New(rand.NewPCG(seed, 2)), size)
		switch parts[1] {
		case "post":
			h := sha256.New()
			if _, err := io.Copy(h, req.Body); err != nil {
				return
			}
			sum := hex.EncodeToString(h.Sum(nil))
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(sum), sum)
		case "chunked":
			c.Write([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
			c.Write(chunked(body, rand.New(rand.NewPCG(seed, 3))))
		case "reset":
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size+1)
			c.Write(body)
			c.SetLinger(0)
			return
		case "stall":
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size+1)
			c.Write(body)
			io.Copy(io.Discard, br) // until the proxy gives up and closes
			return
		default:
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)
			if _, err := c.Write(body); err != nil {
				return
			}
		}
		io.Copy(io.Discard, req.Body)
	}
}

// run makes 1-6 exchanges on one client connection of a proxy picked at random; a fault
// replaces one of them.
func (l *proxyLoad) run(ctx context.Context, rng *rand.Rand, faults float64, t *tally) {
	mode := rng.IntN(2)
	conn, br, err := dialProxy(l.front.addrs[mode], 30*time.Second)
	if err != nil {
		t.fail("dial: %v", err)
		return
	}
	defer conn.Close()
	n := 1 + rng.IntN(6)
	fault := ""
	if rng.Float64() < faults {
		fault = []string{"client-reset-upload", "upstream-reset", "upstream-stall", "slow-head"}[rng.IntN(4)]
		t.fault(fault)
	}
	at := rng.IntN(n)
	for i := range n {
		if fault != "" && i == at {
			l.fault(conn, br, fault, rng, t)
			return
		}
		size, seed := randomSize(rng)%(1<<20), rng.Uint64()
		var want []byte
		switch rng.IntN(3) {
		case 0:
			body := randomBytes(rng, rng.IntN(300_000))
			fmt.Fprintf(conn, "POST /post HTTP/1.1\r\nHost: s\r\nContent-Length: %d\r\n\r\n", len(body))
			go conn.Write(body)
			sum := sha256.Sum256(body)
			want = []byte(hex.EncodeToString(sum[:]))
			t.bytes.Add(int64(len(body)))
		case 1:
			fmt.Fprintf(conn, "GET /chunked/%d/%d HTTP/1.1\r\nHost: s\r\n\r\n", size, seed)
			want = randomBytes(rand.New(rand.NewPCG(seed, 2)), size)
		default:
			fmt.Fprintf(conn, "GET /get/%d/%d HTTP/1.1\r\nHost: s\r\n\r\n", size, seed)
			want = randomBytes(rand.New(rand.NewPCG(seed, 2)), size)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.fail("mode %d, exchange %d: %v", mode, i, err)
			return
		}
		got, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 || sha256.Sum256(got) != sha256.Sum256(want) {
			t.fail("mode %d, exchange %d: %s, %d bytes, want %d (%v)", mode, i, resp.Status, len(got), len(want), err)
			return
		}
		t.ops.Add(1)
		t.bytes.Add(int64(len(got)))
	}
	if ctx.Err() != nil {
		return
	}
}

// fault makes one faulty exchange on conn and checks the proxy's answer to it.
func (l *proxyLoad) fault(conn net.Conn, br *bufio.Reader, kind string, rng *rand.Rand, t *tally) {
	size := 1 + rng.IntN(200_000)
	switch kind {
	case "client-reset-upload":
		fmt.Fprintf(conn, "POST /post HTTP/1.1\r\nHost: s\r\nContent-Length: %d\r\n\r\n", 10*size)
		conn.Write(randomBytes(rng, size))
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	case "upstream-reset", "upstream-stall":
		path := map[string]string{"upstream-reset": "reset", "upstream-stall": "stall"}[kind]
		start := time.Now()
		fmt.Fprintf(conn, "GET /%s/%d HTTP/1.1\r\nHost: s\r\n\r\n", path, size)
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
		}
		if err == nil {
			t.fail("%s: the client read a whole body", kind)
		} else if d := time.Since(start); kind == "upstream-stall" && d > proxyBodyTimeout+2*time.Second {
			t.fail("%s: cut after %v, want about %v", kind, d, proxyBodyTimeout)
		}
	case "slow-head":
		start := time.Now()
		head := "GET /get/1/1 HTTP/1.1\r\nHost: s\r\n"
		for i := 0; i < len(head) && time.Since(start) < 2*proxyHeadTimeout; i++ {
			if _, err := conn.Write([]byte{head[i]}); err != nil {
				break
			}
			time.Sleep(proxyHeadTimeout / 8)
		}
		line, _ := br.ReadString('\n')
		if line != "" && !strings.Contains(line, " 408 ") {
			t.fail("slow head: %q, want 408 or a close", line)
		}
	}
}
