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
	up      net.Listener
	upConns sync.WaitGroup
	proxies [2]*proxy.Proxy // engine mode, all in Go
	addrs   [2]string
	served  sync.WaitGroup
}

const (
	proxyBodyTimeout = 300 * time.Millisecond
	proxyHeadTimeout = 300 * time.Millisecond
)

// listenUpstream starts a proxyUpstream on loopback; conns counts its connections, to wait
// for after closing the listener.
func listenUpstream(conns *sync.WaitGroup) (net.Listener, error) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				defer c.Close()
				proxyUpstream(c.(*net.TCPConn))
			}()
		}
	}()
	return up, nil
}

func (l *proxyLoad) start() error {
	up, err := listenUpstream(&l.upConns)
	if err != nil {
		return err
	}
	l.up = up
	for i, allInGo := range []bool{false, true} {
		p, err := proxy.New(proxy.Config{Upstreams: []string{up.Addr().String()}, AllInGo: allInGo, Workers: 2,
			BodyTimeout: proxyBodyTimeout, ReadHeaderTimeout: proxyHeadTimeout, ResponseHeaderTimeout: 5 * time.Second})
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		l.proxies[i], l.addrs[i] = p, ln.Addr().String()
		l.served.Add(1)
		go func() { defer l.served.Done(); p.Serve(ln) }()
	}
	return nil
}

func (l *proxyLoad) finish(t *tally) {
	for _, p := range l.proxies {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := p.Shutdown(ctx); err != nil {
			t.fail("Shutdown: %v", err)
		}
		cancel()
	}
	l.served.Wait()
	l.up.Close()
	l.upConns.Wait()
}

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
	conn, err := net.Dial("tcp", l.addrs[mode])
	if err != nil {
		t.fail("dial: %v", err)
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)
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
