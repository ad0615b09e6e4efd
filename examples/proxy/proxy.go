package main

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// Config is the proxy's configuration. Zero durations and sizes take the defaults of
// DefaultConfig.
type Config struct {
	Upstream              string        // host:port of the upstream
	DialTimeout           time.Duration // connecting to the upstream (then 502)
	ResponseHeaderTimeout time.Duration // waiting for the upstream's response head (then 504)
	ReadHeaderTimeout     time.Duration // reading a request head once its first byte arrived (then 408)
	IdleTimeout           time.Duration // a keep-alive client connection waiting for its next request
	BodyTimeout           time.Duration // relaying one request or response body
	ExpectContinueTimeout time.Duration // waiting for the upstream's 100 Continue before sending the body anyway
	MaxIdleUpstream       int           // idle keep-alive connections kept to the upstream
	Via                   string        // pseudonym appended to Via (empty: none, like httputil.ReverseProxy)
	SetHost               bool          // send Host: Upstream instead of the client's Host
	// Sessions runs keep-alive exchanges on an offheap engine thread (Engine.SubmitSession):
	// Rust reads, parses, rewrites and relays requests without a body or with Content-Length
	// and responses with Content-Length, and hands everything else, and idle connections,
	// back to the Go code here.
	Sessions bool
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		DialTimeout: 5 * time.Second, ResponseHeaderTimeout: 30 * time.Second,
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second, BodyTimeout: 5 * time.Minute,
		ExpectContinueTimeout: time.Second, MaxIdleUpstream: 64,
	}
}

func (c *Config) fill() {
	d := DefaultConfig()
	for _, p := range []struct{ v, def *time.Duration }{
		{&c.DialTimeout, &d.DialTimeout}, {&c.ResponseHeaderTimeout, &d.ResponseHeaderTimeout},
		{&c.ReadHeaderTimeout, &d.ReadHeaderTimeout}, {&c.IdleTimeout, &d.IdleTimeout},
		{&c.BodyTimeout, &d.BodyTimeout}, {&c.ExpectContinueTimeout, &d.ExpectContinueTimeout},
	} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	if c.MaxIdleUpstream <= 0 {
		c.MaxIdleUpstream = d.MaxIdleUpstream
	}
}

// Counters are the proxy's cumulative counters (read with Proxy.Counters).
type Counters struct {
	ConnsAccepted, ConnsOpen                     atomic.Int64
	Requests, Responses                          atomic.Int64
	BadRequests, BadGateway, GatewayTimeout      atomic.Int64
	Upgrades, UpstreamDials, UpstreamReused      atomic.Int64
	UpstreamRetries, BodiesRelayed, BytesSpliced atomic.Int64
}

// Proxy is an HTTP/1.1 reverse proxy to one upstream. Request and response heads are parsed
// and rewritten by offheap (RequestBatch, ResponseBatch), and read into Rust-owned buffers;
// bodies are relayed by offheap.Relay (splice) except for the bytes that arrived with the head,
// which are written from the Rust-owned buffer together with the head in one writev.
type Proxy struct {
	cfg      Config
	counters Counters

	poolMu sync.Mutex
	idle   []*upstreamConn

	engine   *offheap.Engine // with Config.Sessions
	sessMu   sync.Mutex
	sessions map[uint64]*clientConn
	nextSID  atomic.Uint64

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*clientConn]struct{}
	shutting  atomic.Bool
	wg        sync.WaitGroup
}

// New returns a proxy for cfg.
func New(cfg Config) *Proxy {
	cfg.fill()
	return &Proxy{cfg: cfg, listeners: map[net.Listener]struct{}{}, conns: map[*clientConn]struct{}{},
		sessions: map[uint64]*clientConn{}}
}

// ErrShutdown is returned by Serve after Shutdown.
var ErrShutdown = errors.New("proxy: shut down")

// Serve accepts connections on ln until Shutdown (then it returns ErrShutdown) or an accept
// error. Connections must be TCP.
func (p *Proxy) Serve(ln net.Listener) error {
	if err := offheap.Available(); err != nil {
		return err
	}
	p.mu.Lock()
	if p.shutting.Load() {
		p.mu.Unlock()
		return ErrShutdown
	}
	p.listeners[ln] = struct{}{}
	if p.cfg.Sessions && p.engine == nil {
		e, err := offheap.NewEngine(1, 65536)
		if err != nil {
			p.mu.Unlock()
			return err
		}
		p.engine = e
		go p.dispatch(e)
	}
	p.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if p.shutting.Load() {
				return ErrShutdown
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		tc, ok := nc.(*net.TCPConn)
		if !ok {
			nc.Close()
			continue
		}
		c, err := p.newClientConn(tc)
		if err != nil {
			tc.Close()
			continue
		}
		p.mu.Lock()
		if p.shutting.Load() {
			p.mu.Unlock()
			c.close()
			return ErrShutdown
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		p.counters.ConnsAccepted.Add(1)
		p.counters.ConnsOpen.Add(1)
		go c.serve()
	}
}

// Shutdown stops accepting, closes idle client connections, lets the others finish the
// request in progress (their response then carries Connection: close), and waits for them
// until ctx is done; then it closes what is left. Idle upstream connections are closed.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.shutting.Store(true)
	for ln := range p.listeners {
		ln.Close()
	}
	for c := range p.conns {
		c.wakeIfIdle()
		if p.engine != nil && c.inSession.Load() {
			p.engine.Cancel(c.sid) // stops at the next request boundary
		}
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		if p.engine != nil {
			p.engine.Close() // sessions still running end here, with their connections
		}
		p.mu.Lock()
		for c := range p.conns {
			c.tcMu.Lock()
			c.client.tc.Close()
			c.tcMu.Unlock()
			if c.sessDone != nil && c.inSession.Load() {
				select { // the engine's completion is gone with it: end the wait
				case c.sessDone <- offheap.Completion{Session: offheap.SessionFailed, ClientFd: -1, UpstreamFd: -1}:
				default:
				}
			}
		}
		p.mu.Unlock()
		<-done
	}
	p.poolMu.Lock()
	for _, u := range p.idle {
		u.close()
	}
	p.idle = nil
	p.poolMu.Unlock()
	if p.engine != nil {
		p.engine.Close() // every session came back: their connections waited for that
	}
	return err
}

// dispatch hands session completions to the connections waiting for them.
func (p *Proxy) dispatch(e *offheap.Engine) {
	comps := make([]offheap.Completion, 64)
	for {
		n, err := e.Wait(context.Background(), comps)
		if err != nil {
			return // the engine is closed
		}
		for i := range n {
			p.sessMu.Lock()
			c := p.sessions[comps[i].ID]
			p.sessMu.Unlock()
			if c != nil {
				c.sessDone <- comps[i]
			}
		}
	}
}

func (p *Proxy) forget(c *clientConn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	if c.sessDone != nil {
		p.sessMu.Lock()
		delete(p.sessions, c.sid)
		p.sessMu.Unlock()
	}
	p.counters.ConnsOpen.Add(-1)
	p.wg.Done()
}

// CounterMap returns the counters by name (for /debug/gcstats; allocates).
func (p *Proxy) CounterMap() map[string]uint64 {
	c := &p.counters
	m := map[string]uint64{
		"conns_accepted": uint64(c.ConnsAccepted.Load()), "conns_open": uint64(c.ConnsOpen.Load()),
		"requests": uint64(c.Requests.Load()), "responses": uint64(c.Responses.Load()),
		"bad_requests": uint64(c.BadRequests.Load()), "bad_gateway_502": uint64(c.BadGateway.Load()),
		"gateway_timeout_504": uint64(c.GatewayTimeout.Load()), "upgrades": uint64(c.Upgrades.Load()),
		"upstream_dials": uint64(c.UpstreamDials.Load()), "upstream_reused": uint64(c.UpstreamReused.Load()),
		"upstream_retries": uint64(c.UpstreamRetries.Load()), "bodies_relayed": uint64(c.BodiesRelayed.Load()),
		"body_bytes_spliced": uint64(c.BytesSpliced.Load()),
	}
	if rc, err := offheap.ReadRelayCounters(); err == nil {
		m["relay_bytes_spliced"], m["relay_bytes_copied"] = rc.BytesSpliced, rc.BytesCopied
		m["relay_pipes_live"], m["relay_buffers_live"] = rc.PipesLive, rc.BuffersLive
		m["relay_bulk_buffers_live"] = rc.BulkBuffersLive
	}
	return m
}

// upstreamConn is a keep-alive connection to the upstream with its Rust-owned read buffer.
type upstreamConn struct {
	*sockConn
	buf     *offheap.Buffer
	reused  bool
	peekOK  bool
	peekBuf [1]byte
	peekFn  func(uintptr)
}

// alive reports whether an idle connection is still open with nothing to read (the upstream
// may have closed it while it was pooled): one non-blocking MSG_PEEK, no allocation.
func (u *upstreamConn) alive() bool {
	u.peekOK = false
	if u.raw.Control(u.peekFn) != nil {
		return false
	}
	return u.peekOK
}

func (u *upstreamConn) peek(fd uintptr) {
	_, _, err := syscall.Recvfrom(int(fd), u.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	u.peekOK = err == syscall.EAGAIN
}

func (u *upstreamConn) close() {
	u.tc.Close()
	u.buf.Close()
}

// getUpstream returns an idle pooled connection, or dials one. With check (a request that
// cannot be retried, because its body is consumed while sending), pooled connections are
// first checked to be still open.
func (p *Proxy) getUpstream(check bool) (*upstreamConn, error) {
	for {
		p.poolMu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.poolMu.Unlock()
			return p.dialUpstream()
		}
		u := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.poolMu.Unlock()
		if check && !u.alive() {
			u.close()
			continue
		}
		u.reused = true
		p.counters.UpstreamReused.Add(1)
		return u, nil
	}
}

func (p *Proxy) dialUpstream() (*upstreamConn, error) {
	p.counters.UpstreamDials.Add(1)
	nc, err := net.DialTimeout("tcp", p.cfg.Upstream, p.cfg.DialTimeout)
	if err != nil {
		return nil, err
	}
	tc := nc.(*net.TCPConn)
	s, err := newSockConn(tc)
	if err != nil {
		tc.Close()
		return nil, err
	}
	buf, err := offheap.NewBuffer()
	if err != nil {
		tc.Close()
		return nil, err
	}
	u := &upstreamConn{sockConn: s, buf: buf}
	u.peekFn = u.peek
	return u, nil
}

// putUpstream returns a connection whose last response completed to the pool.
func (p *Proxy) putUpstream(u *upstreamConn) {
	if u.buf.Len() != 0 || p.shutting.Load() {
		u.close() // bytes after the response: not a clean HTTP connection
		return
	}
	p.poolMu.Lock()
	if len(p.idle) < p.cfg.MaxIdleUpstream {
		p.idle = append(p.idle, u)
		p.poolMu.Unlock()
		return
	}
	p.poolMu.Unlock()
	u.close()
}
