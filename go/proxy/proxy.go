package proxy

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// ErrShutdown is returned by Serve after Shutdown.
var ErrShutdown = errors.New("proxy: shut down")

// Counters are the proxy's cumulative counters (Proxy.Counters), over both modes.
type Counters struct {
	ConnsAccepted, ConnsOpen                uint64 // client connections
	ConnsActive                             uint64 // engine: of those, in an exchange (holding buffers)
	Requests, Responses                     uint64 // forwarded, and relayed
	BadRequests, BadGateway, GatewayTimeout uint64 // answered by the proxy: 4xx and 501, 502, 504
	Upgrades                                uint64 // connections that became tunnels
	UpstreamDials, UpstreamReused           uint64 // upstream connections dialled; exchanges on a pooled one
	UpstreamRetries, UpstreamFailures       uint64 // requests sent again; failed connects
	UpstreamOpen, UpstreamIdle              uint64 // upstream connections open, and idle in the pools, now
	HookCalls, ErrorHandlerCalls            uint64 // Config.Rewrite and Config.ErrorHandler calls
	// Requests that waited for an upstream connection (at MaxConnsPerUpstream), and that
	// wait now.
	UpstreamQueued, UpstreamWaiting uint64
}

// counters are the Go mode's counters and the hook calls of both modes.
type counters struct {
	connsAccepted, connsOpen                atomic.Int64
	requests, responses                     atomic.Int64
	badRequests, badGateway, gatewayTimeout atomic.Int64
	upgrades, upstreamDials, upstreamReused atomic.Int64
	upstreamRetries, upstreamFailures       atomic.Int64
	upstreamQueued, upstreamWaiting         atomic.Int64
	hookCalls, errorHandlerCalls            atomic.Int64
}

// Proxy is an HTTP/1.1 reverse proxy to one or more upstreams, built on offheap: heads are
// parsed and rewritten by offheap (with the semantics of httputil.ReverseProxy), bodies are
// relayed through Rust-owned buffers, and none of it reaches the Go heap.
//
// By default the proxy runs in an offheap engine ([offheap.Engine.StartProxy]): its worker
// threads (GOMAXPROCS of them) accept the connections of the listeners given to Serve and
// serve them entirely in Rust; Go only hears of a request when Config.Rewrite or
// Config.ErrorHandler asks for it. An idle client connection costs a small Rust record: no
// goroutine, no buffer, no upstream connection. With Config.AllInGo, or a listener that has no
// file descriptor (a TLS listener, say), connections are served by goroutines instead.
type Proxy struct {
	cfg   Config
	addrs []netip.AddrPort
	c     counters
	ups   *upstreams

	spareMu sync.Mutex
	spares  []*clientConn // Go mode: connection records for new connections to reuse

	mu        sync.Mutex
	eng       *engineServer // engine mode, started by the first Serve
	listeners map[net.Listener]struct{}
	conns     map[*clientConn]struct{}
	shutting  atomic.Bool
	done      chan struct{} // closed by Shutdown
	wg        sync.WaitGroup
}

// New returns a proxy for cfg. It resolves the upstreams' addresses.
func New(cfg Config) (*Proxy, error) {
	addrs, err := cfg.fill()
	if err != nil {
		return nil, err
	}
	p := &Proxy{cfg: cfg, addrs: addrs, listeners: map[net.Listener]struct{}{},
		conns: map[*clientConn]struct{}{}, done: make(chan struct{})}
	p.ups = newUpstreams(addrs, &p.cfg, &p.c)
	return p, nil
}

// Serve serves the connections of ln until Shutdown (then it returns ErrShutdown) or an
// accept error. In engine mode the engine accepts on its own duplicate of ln's socket, Serve
// closes ln (the engine's duplicate keeps the socket listening) and waits for Shutdown.
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
	p.mu.Unlock()
	if sc, ok := ln.(syscall.Conn); ok && !p.cfg.AllInGo {
		return p.serveEngine(sc, -1)
	}
	return p.serveGo(ln)
}

// ListenAndServe listens on the TCP address addr and serves it until Shutdown (then it returns
// ErrShutdown). With Config.ReusePort in engine mode every worker gets a socket of its own,
// bound to addr with SO_REUSEPORT.
func (p *Proxy) ListenAndServe(addr string) error {
	if !p.cfg.ReusePort || p.cfg.AllInGo {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		return p.Serve(ln)
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
		})
		return errors.Join(err, serr)
	}}
	errs := make(chan error, p.cfg.Workers)
	for w := range p.cfg.Workers {
		ln, err := lc.Listen(context.Background(), "tcp", addr)
		if err != nil {
			p.Shutdown(context.Background())
			return err
		}
		if w == 0 {
			addr = ln.Addr().String() // the same port for the others when addr asked for any
		}
		p.mu.Lock()
		p.listeners[ln] = struct{}{}
		p.mu.Unlock()
		go func() { errs <- p.serveEngine(ln.(*net.TCPListener), w) }()
	}
	return <-errs
}

// acceptCanRetry reports whether a failed Accept may succeed later, as net/http's Serve
// retries: out of fds or memory (connections closing free them) or a connection aborted
// before it was taken.
func acceptCanRetry(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// soReusePort is SO_REUSEPORT on Linux (the syscall package does not name it).
const soReusePort = 0xf

// serveGo accepts in Go: a goroutine per connection.
func (p *Proxy) serveGo(ln net.Listener) error {
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if p.shutting.Load() {
				return ErrShutdown
			}
			if acceptCanRetry(err) {
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
		p.c.connsAccepted.Add(1)
		p.c.connsOpen.Add(1)
		go c.serve()
	}
}

// Shutdown stops accepting, closes idle client connections, lets the others finish the
// exchange in progress (their response then says Connection: close), and waits for them
// until ctx is done; then it closes what is left. Idle upstream connections are closed.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if !p.shutting.Swap(true) {
		close(p.done)
	}
	for ln := range p.listeners {
		ln.Close()
	}
	for c := range p.conns {
		c.wakeIfIdle()
	}
	eng := p.eng
	p.mu.Unlock()
	var err error
	if eng != nil {
		err = eng.shutdown(ctx)
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		p.ups.stop() // first: no waiter dials once the connections are aborted
		p.mu.Lock()
		for c := range p.conns {
			c.abort()
		}
		p.mu.Unlock()
		<-done
	}
	p.ups.closeIdle()
	p.spareMu.Lock()
	for _, c := range p.spares {
		c.release()
	}
	p.spares = nil
	p.spareMu.Unlock()
	return err
}

// Counters returns the proxy's counters.
func (p *Proxy) Counters() Counters {
	c := &p.c
	n := Counters{
		ConnsAccepted: uint64(c.connsAccepted.Load()), ConnsOpen: uint64(c.connsOpen.Load()),
		Requests: uint64(c.requests.Load()), Responses: uint64(c.responses.Load()),
		BadRequests: uint64(c.badRequests.Load()), BadGateway: uint64(c.badGateway.Load()),
		GatewayTimeout: uint64(c.gatewayTimeout.Load()), Upgrades: uint64(c.upgrades.Load()),
		UpstreamDials: uint64(c.upstreamDials.Load()), UpstreamReused: uint64(c.upstreamReused.Load()),
		UpstreamRetries: uint64(c.upstreamRetries.Load()), UpstreamFailures: uint64(c.upstreamFailures.Load()),
		HookCalls: uint64(c.hookCalls.Load()), ErrorHandlerCalls: uint64(c.errorHandlerCalls.Load()),
		UpstreamQueued: uint64(c.upstreamQueued.Load()), UpstreamWaiting: uint64(c.upstreamWaiting.Load()),
	}
	n.UpstreamOpen, n.UpstreamIdle = p.ups.gauges()
	p.mu.Lock()
	eng := p.eng
	p.mu.Unlock()
	if eng != nil {
		if e, err := eng.e.ProxyCounters(); err == nil {
			n.ConnsAccepted += e.ConnsAccepted
			n.ConnsOpen += e.ConnsOpen
			n.ConnsActive += e.ConnsActive
			n.Requests += e.Requests
			n.Responses += e.Responses
			n.BadRequests += e.BadRequests
			n.BadGateway += e.BadGateway
			n.GatewayTimeout += e.GatewayTimeout
			n.Upgrades += e.Upgrades
			n.UpstreamDials += e.UpstreamDials
			n.UpstreamReused += e.UpstreamReused
			n.UpstreamRetries += e.UpstreamRetries
			n.UpstreamFailures += e.UpstreamFailures
			n.UpstreamOpen += e.UpstreamOpen
			n.UpstreamIdle += e.UpstreamIdle
			n.UpstreamQueued += e.UpstreamQueued
			n.UpstreamWaiting += e.UpstreamWaiting
		}
	}
	return n
}

// CounterMap returns the counters by name, with offheap's relay counters (for a debug
// endpoint; it allocates).
func (p *Proxy) CounterMap() map[string]uint64 {
	c := p.Counters()
	m := map[string]uint64{
		"conns_accepted": c.ConnsAccepted, "conns_open": c.ConnsOpen, "conns_active": c.ConnsActive,
		"requests": c.Requests, "responses": c.Responses, "bad_requests": c.BadRequests,
		"bad_gateway_502": c.BadGateway, "gateway_timeout_504": c.GatewayTimeout, "upgrades": c.Upgrades,
		"upstream_dials": c.UpstreamDials, "upstream_reused": c.UpstreamReused,
		"upstream_retries": c.UpstreamRetries, "upstream_failures": c.UpstreamFailures,
		"upstream_open": c.UpstreamOpen, "upstream_idle": c.UpstreamIdle,
		"upstream_queued": c.UpstreamQueued, "upstream_waiting": c.UpstreamWaiting,
		"hook_calls": c.HookCalls, "error_handler_calls": c.ErrorHandlerCalls,
	}
	if rc, err := offheap.ReadRelayCounters(); err == nil {
		m["relay_bytes_spliced"], m["relay_bytes_copied"] = rc.BytesSpliced, rc.BytesCopied
		m["relay_pipes_live"], m["relay_buffers_live"] = rc.PipesLive, rc.BuffersLive
		m["relay_bulk_buffers_live"] = rc.BulkBuffersLive
	}
	return m
}

func (p *Proxy) forget(c *clientConn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	p.c.connsOpen.Add(-1)
	p.wg.Done()
}
