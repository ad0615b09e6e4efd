package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/offheap/offheap/examples/internal/payload"
)

// The Go client (`benchproxy client ...`) is the load generator for what wrk cannot do: hold
// thousands of connections open before a measured run starts (so the run measures requests, not
// a connect storm) or keep them idle after one request. The driver starts it as a child process,
// pinned like wrk, and talks to it over stdin and stdout:
//
//	client: opens the connections (one request each; none with -close), warms up, prints "ready N"
//	driver: takes its readings, writes "run" (a measured closed loop) or "check" (are the
//	        connections still open?)
//	client: prints the result as one JSON line
//	driver: takes its readings, closes stdin; the client closes its connections and exits
//
// It is also the loader of the smoke run in `make test` (-loader go), where wrk may be missing.

// clientDialers bounds the dials in flight while the connections open, so a proxy's accept
// backlog (nginx: 511) never overflows and no SYN waits for a retransmission.
const clientDialers = 64

// clientTimeout bounds each request (dial, write, response), as wrk's --timeout.
const clientTimeout = 10 * time.Second

// clientResult is the client's answer to "run" or "check".
type clientResult struct {
	loadResult
	Open       int64  // connections open when it printed "ready"
	Dropped    int64  // "check": connections the server had closed (counted in Errors too)
	FirstError string // the first error seen, if any
}

// args returns the command line of the client for s.
func (s loadSpec) args() []string {
	a := []string{"client", "-addr", s.addr, "-path", s.path, "-c", strconv.Itoa(s.conns),
		"-warmup", s.warmup.String(), "-d", s.d.String(), "-requests", strconv.FormatInt(s.requests, 10),
		"-want", strconv.Itoa(s.want), "-upload", strconv.Itoa(s.upload)}
	if s.close {
		a = append(a, "-close")
	}
	return a
}

// parseClientArgs is the inverse of loadSpec.args (without the "client" word).
func parseClientArgs(args []string) (loadSpec, error) {
	var s loadSpec
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.StringVar(&s.addr, "addr", "", "host:port to send requests to")
	fs.StringVar(&s.path, "path", "/2", "request path")
	fs.IntVar(&s.conns, "c", 32, "connections")
	fs.DurationVar(&s.warmup, "warmup", 0, "closed loop before \"ready\"")
	fs.DurationVar(&s.d, "d", 5*time.Second, "measured closed loop after \"run\"")
	fs.Int64Var(&s.requests, "requests", 1<<40, "requests per loop at most")
	fs.IntVar(&s.want, "want", 2, "response body length every response must have")
	fs.IntVar(&s.upload, "upload", 0, "POST a body of this many bytes (package payload's) instead of GET")
	fs.BoolVar(&s.close, "close", false, "Connection: close: a new connection per request")
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if s.addr == "" || s.conns <= 0 || s.want < 0 || s.upload < 0 {
		return s, fmt.Errorf("client: want -addr, -c > 0, -want >= 0 and -upload >= 0")
	}
	return s, nil
}

// request returns the bytes of the request s sends, head and body.
func (s loadSpec) request() []byte {
	method := http.MethodGet
	if s.upload > 0 {
		method = http.MethodPost
	}
	b := fmt.Appendf(nil, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: benchproxy\r\n", method, s.path, s.addr)
	if s.close {
		b = append(b, "Connection: close\r\n"...)
	}
	if s.upload > 0 {
		b = fmt.Appendf(b, "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", s.upload)
		return append(b, payload.Body(s.upload)...)
	}
	return append(b, "\r\n"...)
}

// clientMain runs the client side of the protocol above.
func clientMain(args []string, stdin io.Reader, stdout io.Writer) error {
	s, err := parseClientArgs(args)
	if err != nil {
		return err
	}
	if err := raiseNofile(); err != nil {
		return err
	}
	c := newClient(s)
	defer c.closeAll()
	c.open()
	if s.warmup > 0 {
		c.loop(s.warmup)
	}
	if _, err := fmt.Fprintf(stdout, "ready %d\n", c.openCount()); err != nil {
		return err
	}
	in := bufio.NewScanner(stdin)
	if !in.Scan() {
		return fmt.Errorf("client: stdin closed before a command")
	}
	var res clientResult
	res.Open = c.openCount()
	switch in.Text() {
	case "run":
		res.loadResult = c.loop(s.d)
	case "check":
		res.Dropped = c.check()
	default:
		return fmt.Errorf("client: unknown command %q", in.Text())
	}
	res.Errors = c.errors.Load() // every phase's: opening, warm-up, the run, the check
	if e := c.firstErr.Load(); e != nil {
		res.FirstError = (*e).Error()
	}
	if err := json.NewEncoder(stdout).Encode(res); err != nil {
		return err
	}
	for in.Scan() { // the driver closes stdin once it has taken its readings
	}
	return nil
}

// client holds the connections of one client process.
type client struct {
	spec     loadSpec
	req      []byte
	conns    []*clientConn
	errors   atomic.Int64
	firstErr atomic.Pointer[error] // the first error (errors of any type: atomic.Value takes one)
}

type clientConn struct {
	nc      net.Conn
	br      *bufio.Reader
	scratch []byte
}

func newClient(s loadSpec) *client {
	c := &client{spec: s, req: s.request(), conns: make([]*clientConn, s.conns)}
	scratch := min(64<<10, max(4<<10, s.want))
	for i := range c.conns {
		c.conns[i] = &clientConn{br: bufio.NewReaderSize(nil, 4<<10), scratch: make([]byte, scratch)}
	}
	return c
}

func (c *client) fail(err error) {
	c.errors.Add(1)
	c.firstErr.CompareAndSwap(nil, &err)
}

// open connects every connection and sends one request on each (clientDialers at a time);
// with -close there is nothing to hold, and every request dials its own connection.
func (c *client) open() {
	if c.spec.close {
		return
	}
	sem := make(chan struct{}, clientDialers)
	var wg sync.WaitGroup
	for _, cc := range c.conns {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := c.do(cc); err != nil {
				c.fail(err)
			}
		}()
	}
	wg.Wait()
}

func (c *client) openCount() int64 {
	var n int64
	for _, cc := range c.conns {
		if cc.nc != nil {
			n++
		}
	}
	return n
}

// loop runs every connection in a closed loop for d (or until spec.requests were started) and
// returns what it measured: latency from the request's first byte written (or its dial, for a
// connection that had to open) to its response's last byte read.
func (c *client) loop(d time.Duration) loadResult {
	var next atomic.Int64
	lat := make([][]time.Duration, len(c.conns))
	errs0 := c.errors.Load()
	begin := time.Now()
	deadline := begin.Add(d)
	var wg sync.WaitGroup
	for i, cc := range c.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= c.spec.requests && time.Now().Before(deadline) {
				t0 := time.Now()
				if err := c.do(cc); err != nil {
					c.fail(err)
					continue
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return summarize(slices.Concat(lat...), time.Since(begin), c.errors.Load()-errs0)
}

// summarize returns the figures of a run that completed the requests of lat in elapsed.
func summarize(lat []time.Duration, elapsed time.Duration, errs int64) loadResult {
	slices.Sort(lat)
	r := loadResult{Requests: int64(len(lat)), Seconds: elapsed.Seconds(), Errors: errs}
	if r.Seconds > 0 {
		r.RPS = float64(r.Requests) / r.Seconds
	}
	if len(lat) > 0 {
		r.P50, r.P99 = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)]
	}
	return r
}

// do sends one request on cc (dialing first if it is closed) and reads and checks the response.
// A failed connection is closed; the next request on it dials again.
func (c *client) do(cc *clientConn) error {
	err := c.exchange(cc)
	if err != nil && cc.nc != nil {
		cc.nc.Close()
		cc.nc = nil
	}
	return err
}

func (c *client) exchange(cc *clientConn) error {
	if cc.nc == nil {
		nc, err := net.DialTimeout("tcp", c.spec.addr, clientTimeout)
		if err != nil {
			return err
		}
		cc.nc = nc
		cc.br.Reset(nc)
	}
	if err := cc.nc.SetDeadline(time.Now().Add(clientTimeout)); err != nil {
		return err
	}
	if _, err := cc.nc.Write(c.req); err != nil {
		return err
	}
	resp, err := http.ReadResponse(cc.br, nil)
	if err != nil {
		return err
	}
	n, err := drain(resp.Body, cc.scratch)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("%s%s: reading the body: %w", c.spec.addr, c.spec.path, err)
	}
	if resp.StatusCode != http.StatusOK || n != c.spec.want {
		return fmt.Errorf("%s%s: %s with %d body bytes, want 200 with %d", c.spec.addr, c.spec.path, resp.Status, n, c.spec.want)
	}
	if c.spec.close || resp.Close {
		cc.nc.Close()
		cc.nc = nil
	}
	return nil
}

// drain reads r to its end through buf and returns how many bytes it read.
func drain(r io.Reader, buf []byte) (int, error) {
	n := 0
	for {
		k, err := r.Read(buf)
		n += k
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// check reports how many held connections the server has closed (or sent unasked bytes on):
// one non-blocking MSG_PEEK per connection.
func (c *client) check() int64 {
	var dropped int64
	for _, cc := range c.conns {
		if cc.nc == nil {
			continue // failed while opening: already an error
		}
		if err := peekIdle(cc.nc); err != nil || cc.br.Buffered() > 0 {
			if err == nil {
				err = fmt.Errorf("%d unasked bytes on an idle connection", cc.br.Buffered())
			}
			c.fail(err)
			dropped++
		}
	}
	return dropped
}

// peekIdle returns nil when nc is open with nothing to read.
func peekIdle(nc net.Conn) error {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return fmt.Errorf("%T has no file descriptor", nc)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var n int
	var perr error
	var b [1]byte
	if err := raw.Control(func(fd uintptr) {
		n, _, perr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	}); err != nil {
		return err
	}
	switch {
	case errors.Is(perr, syscall.EAGAIN):
		return nil
	case perr != nil:
		return fmt.Errorf("idle connection failed: %w", perr)
	case n == 0:
		return fmt.Errorf("the server closed an idle connection")
	default:
		return fmt.Errorf("unasked bytes on an idle connection")
	}
}

func (c *client) closeAll() {
	for _, cc := range c.conns {
		if cc.nc != nil {
			cc.nc.Close()
			cc.nc = nil
		}
	}
}

// raiseNofile sets the limit of open files for this process and the processes it starts (Go
// raises its own soft limit at start but gives children the old one back unless the program
// sets the limit itself): to nofileWant where the tool may raise the hard limit (root), else
// the soft limit to the hard one.
func raiseNofile() error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return err
	}
	// 5,000 held client connections, each with an upstream connection in flight and, in the
	// all-in-Go proxy, a poller fd per Rust buffer, pass a common hard limit of 20,000.
	if l.Max < nofileWant {
		raised := syscall.Rlimit{Cur: nofileWant, Max: nofileWant}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
			return nil
		}
	}
	l.Cur = l.Max
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
}

// nofileWant is the open files limit raiseNofile asks for when the hard limit is lower.
const nofileWant = 1 << 16

// nofile returns the soft limit of open files.
func nofile() uint64 {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return 0
	}
	return l.Cur
}
