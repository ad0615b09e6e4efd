package offheap

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// ProxyConfig makes an [Engine] a reverse proxy ([Engine.StartProxy]): its workers accept the
// client connections themselves and serve them in Rust (heads parsed and rewritten as
// [RewriteOptions] says, bodies of every framing relayed), with keep-alive upstream
// connections from each worker's pool. Zero durations mean no deadline; zero sizes take the
// defaults.
type ProxyConfig struct {
	Upstreams          []netip.AddrPort // at least one
	LeastInFlight      bool             // pick the upstream with the fewest exchanges in progress (default: round robin)
	MaxIdlePerUpstream int              // idle keep-alive connections kept per upstream, by each worker (default 64)
	// MaxConnsPerUpstream limits the connections open to each upstream (connecting, carrying
	// an exchange or idle), by each worker; 0: no limit. At the limit a request waits, in
	// the order requests came, for a connection another exchange gives back, at most
	// DialTimeout (then 502). Under a burst of clients the upstream connections stay in use
	// instead of being opened and closed by the thousand.
	MaxConnsPerUpstream int
	// UnhealthyFor is how long an upstream that failed to connect is skipped (passive health;
	// 0: never skipped).
	UnhealthyFor time.Duration

	Proto           string // X-Forwarded-Proto (empty: none)
	SetHost         bool   // replace the Host header with Host
	Host            string
	Via             string // this proxy's pseudonym for Via (empty: none)
	AppendForwarded bool   // trust and append to the client's X-Forwarded-* headers
	MaxHeaderBytes  int    // the longest head (default 1 MiB, net/http's DefaultMaxHeaderBytes)
	MaxHeaders      int    // the most header lines in a head (default 100, at most 254)

	// Hook makes every rewritten request head an event ([Engine.WaitProxyEvents]) to answer
	// with [Engine.ProxyReplyHead] before it is sent.
	Hook bool
	// ErrorEvents makes upstream failures events to answer with [Engine.ProxyRespond],
	// instead of the proxy's own 502 and 504.
	ErrorEvents bool

	DialTimeout           time.Duration // connecting to an upstream (then the next, or 502)
	ReadHeaderTimeout     time.Duration // reading a request head once its first byte came (then 408)
	IdleTimeout           time.Duration // a client connection waiting for its next request (then closed)
	ResponseHeaderTimeout time.Duration // waiting for a response head (then 504)
	BodyTimeout           time.Duration // a head or body that moves no byte (then both connections close)
}

// ProxyCounters are the engine proxy's cumulative counters, summed over its workers.
type ProxyCounters struct {
	ConnsAccepted, ConnsOpen, ConnsActive   uint64 // client connections; active: in an exchange
	Requests, Responses                     uint64 // forwarded and relayed in full
	BadRequests, BadGateway, GatewayTimeout uint64 // answered by the proxy: 4xx/501, 502, 504
	Upgrades                                uint64 // connections that became tunnels (101)
	UpstreamDials, UpstreamReused           uint64 // upstream connections dialled; exchanges on a pooled one
	UpstreamRetries, UpstreamFailures       uint64 // requests sent again; connects that failed
	UpstreamOpen, UpstreamIdle              uint64 // upstream connections open now; idle in the pools now
	Events                                  uint64 // events handed to the caller
	UpstreamQueued, UpstreamWaiting         uint64 // requests that waited for an upstream connection (MaxConnsPerUpstream); waiting now
}

// ProxyCause says what failed, for an error [ProxyEvent].
type ProxyCause uint8

const (
	// ProxyCauseDial: no upstream could be connected to.
	ProxyCauseDial ProxyCause = proxyCauseDial
	// ProxyCauseUpstream: the upstream closed, reset or failed before a valid response head.
	ProxyCauseUpstream ProxyCause = proxyCauseUpstream
	// ProxyCauseTimeout: the response head did not come in time.
	ProxyCauseTimeout ProxyCause = proxyCauseTimeout
)

// ProxyEvent is an exchange the engine's proxy hands to its caller.
type ProxyEvent struct {
	Token  uint64     // the connection, for the reply
	Hook   bool       // a hook event (ProxyConfig.Hook); else an upstream failure
	Status int        // errors: the status the proxy would answer (502, 504)
	Cause  ProxyCause // errors: what failed
	// Head is the rewritten request head (hooks), or the request as it was sent (errors,
	// when the proxy still has it). It is a view into the waiter's array, valid until the
	// next WaitProxyEvents on the same worker.
	Head []byte
}

// The library's proxy structs, mirrored field by field (abi_cgo_gen.go pins the layouts).
type (
	// proxyUpstream is offheap_proxy_upstream.
	proxyUpstream struct {
		addr     [16]byte
		port     uint16
		family   uint8
		reserved uint8
	}
	// proxyOptions is offheap_proxy_options.
	proxyOptions struct {
		balance, maxIdlePerUpstream, unhealthyMs               uint32
		dialMs, readHeaderMs, idleMs, responseHeaderMs, bodyMs uint32
		maxHeadLen, maxHeaders, flags                          uint32
		maxConnsPerUpstream                                    uint32
		rewrite                                                rewriteOptions
	}
	// proxyEvent is offheap_proxy_event.
	proxyEvent struct {
		token                                           uint64
		kind, status, cause, headOff, headLen, reserved uint32
	}
)

// engineProxy is an Engine's proxy state on the Go side: a waiter per worker.
type engineProxy struct {
	waiters []*proxyWaiter
}

// proxyWaiter waits for one worker's events: its ready fd, and the arrays the library fills
// (allocations of their own, without Go pointers).
type proxyWaiter struct {
	mu     sync.Mutex // serialises WaitProxyEvents on this worker
	ready  *os.File
	tick   [8]byte
	events *[64]proxyEvent
	heads  []byte
}

func durationMs(d time.Duration) uint32 {
	if d <= 0 {
		return 0
	}
	return uint32(min(max(d.Milliseconds(), 1), math.MaxUint32))
}

// Workers returns the number of worker threads the engine was made with (also after Close).
func (e *Engine) Workers() int { return e.workers }

// StartProxy makes the engine a reverse proxy for cfg (once per engine): give it listeners
// with [Engine.ProxyListen]. Idle client connections then live in the engine's epoll as small
// Rust records (no goroutine, no buffer, no upstream connection); an exchange takes a session
// and an upstream connection from its worker and gives both back when its response is out.
func (e *Engine) StartProxy(cfg *ProxyConfig) error {
	const op = "Engine.StartProxy"
	h, ok := e.h.get()
	if !ok {
		return opError(op, ErrClosed)
	}
	if len(cfg.Upstreams) == 0 || cfg.MaxHeaders < 0 || cfg.MaxHeaders > 254 || cfg.MaxHeaderBytes < 0 ||
		cfg.MaxIdlePerUpstream < 0 || cfg.MaxConnsPerUpstream < 0 {
		return opError(op, ErrInvalidArgument)
	}
	ups := make([]proxyUpstream, len(cfg.Upstreams))
	for i, ap := range cfg.Upstreams {
		a := ap.Addr()
		if !ap.IsValid() {
			return &Error{Op: op, Err: fmt.Errorf("%w: upstream %d is not an address", ErrInvalidArgument, i)}
		}
		ups[i].port, ups[i].family = ap.Port(), 6
		if a.Is4() || a.Is4In6() {
			a = a.Unmap()
			ups[i].family = 4
		}
		b := a.AsSlice()
		copy(ups[i].addr[:], b)
	}
	idle := cfg.MaxIdlePerUpstream
	if idle == 0 {
		idle = 64
	}
	rw := RewriteOptions{Proto: cfg.Proto, Host: cfg.Host, SetHost: cfg.SetHost, Via: cfg.Via,
		AppendForwarded: cfg.AppendForwarded}
	strs, r := rw.record(nil)
	opts := &proxyOptions{
		maxIdlePerUpstream: uint32(min(idle, math.MaxUint32)), unhealthyMs: durationMs(cfg.UnhealthyFor),
		dialMs: durationMs(cfg.DialTimeout), readHeaderMs: durationMs(cfg.ReadHeaderTimeout),
		idleMs: durationMs(cfg.IdleTimeout), responseHeaderMs: durationMs(cfg.ResponseHeaderTimeout),
		bodyMs: durationMs(cfg.BodyTimeout), maxHeadLen: uint32(min(cfg.MaxHeaderBytes, math.MaxUint32)),
		maxHeaders: uint32(cfg.MaxHeaders), maxConnsPerUpstream: uint32(min(cfg.MaxConnsPerUpstream, math.MaxUint32)),
		rewrite: r,
	}
	if cfg.LeastInFlight {
		opts.balance = proxyLeastInFlight
	}
	for _, f := range [...]struct {
		on  bool
		bit uint32
	}{{cfg.Hook, proxyHook}, {cfg.ErrorEvents, proxyErrorEvents}} {
		if f.on {
			opts.flags |= f.bit
		}
	}
	e.pmu.Lock()
	defer e.pmu.Unlock()
	if e.proxy != nil {
		return &Error{Op: op, Err: fmt.Errorf("%w: the engine is a proxy already", ErrInvalidArgument)}
	}
	st := engineProxyStart(h, opts, strs, ups)
	runtime.KeepAlive(e)
	if st != statusOK {
		return statusError(op, st)
	}
	p := &engineProxy{waiters: make([]*proxyWaiter, e.workers)}
	for w := range p.waiters {
		fd, st := engineProxyReadyFd(h, uint32(w))
		if st != statusOK {
			p.close()
			return statusError(op, st)
		}
		p.waiters[w] = &proxyWaiter{ready: os.NewFile(uintptr(fd), "offheap-proxy-ready"),
			events: new([64]proxyEvent), heads: make([]byte, 16<<10)}
	}
	e.proxy = p
	return nil
}

func (p *engineProxy) close() {
	for _, w := range p.waiters {
		if w != nil {
			w.ready.Close()
		}
	}
}

// ProxyListen hands the engine's proxy a listening socket (a *net.TCPListener, or anything
// with a SyscallConn): it serves its own duplicate, so closing ln afterwards does not stop it
// (Engine.ProxyShutdown does). Close ln once this returns: left open, it stays in Go's
// netpoller, which then wakes at every connection the engine accepts. worker -1: every worker
// accepts on it (the kernel wakes one per connection); 0 or more: only that worker (for one
// SO_REUSEPORT listener per worker).
func (e *Engine) ProxyListen(ln syscall.Conn, worker int) error {
	const op = "Engine.ProxyListen"
	h, ok := e.h.get()
	if !ok {
		return opError(op, ErrClosed)
	}
	if worker < -1 || worker >= e.workers {
		return opError(op, ErrInvalidArgument)
	}
	raw, err := ln.SyscallConn()
	if err != nil {
		return &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrInvalidArgument, err)}
	}
	st := uint32(statusOK)
	if err := raw.Control(func(fd uintptr) { st = engineProxyListen(h, int32(fd), int32(worker)) }); err != nil {
		return &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrInvalidArgument, err)}
	}
	runtime.KeepAlive(e)
	if st != statusOK {
		return statusError(op, st)
	}
	return nil
}

// ProxyCounters returns the proxy's counters. One cgo call; it allocates nothing.
func (e *Engine) ProxyCounters() (ProxyCounters, error) {
	h, ok := e.h.get()
	if !ok {
		return ProxyCounters{}, opError("Engine.ProxyCounters", ErrClosed)
	}
	var c ProxyCounters
	st := engineProxyCounters(h, &c)
	runtime.KeepAlive(e)
	if st != statusOK {
		return ProxyCounters{}, statusError("Engine.ProxyCounters", st)
	}
	return c, nil
}

// ProxyShutdown starts a graceful shutdown of the proxy: its listeners close, idle client
// connections close now, the others after the exchange in progress (whose response says
// Connection: close). Watch ConnsOpen fall to 0, then Close the engine (or ProxyClose first).
func (e *Engine) ProxyShutdown() error {
	return e.h.call("Engine.ProxyShutdown", engineProxyShutdown)
}

// ProxyClose closes every connection of the proxy now.
func (e *Engine) ProxyClose() error {
	return e.h.call("Engine.ProxyClose", engineProxyClose)
}

func (e *Engine) waiter(op string, worker int) (*proxyWaiter, error) {
	if _, ok := e.h.get(); !ok {
		return nil, opError(op, ErrClosed)
	}
	e.pmu.Lock()
	p := e.proxy
	e.pmu.Unlock()
	if p == nil || worker < 0 || worker >= len(p.waiters) {
		return nil, opError(op, ErrInvalidArgument)
	}
	return p.waiters[worker], nil
}

// WaitProxyEvents blocks until worker worker has events for the caller (or ctx is done), then
// fills out with up to len(out) of them and returns how many. Answer each with
// [Engine.ProxyReplyHead] or [Engine.ProxyRespond] on the same worker. Their heads are views
// valid until the next call for this worker. One cgo call per batch; it allocates nothing in
// steady state.
func (e *Engine) WaitProxyEvents(ctx context.Context, worker int, out []ProxyEvent) (int, error) {
	const op = "Engine.WaitProxyEvents"
	w, err := e.waiter(op, worker)
	if err != nil {
		return 0, err
	}
	if len(out) == 0 {
		return 0, opError(op, ErrInvalidArgument)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { w.ready.SetReadDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() {
				w.ready.SetReadDeadline(time.Time{})
			}
		}()
	}
	for {
		h, ok := e.h.get()
		if !ok {
			return 0, opError(op, ErrClosed)
		}
		n, needed, st := engineProxyEvents(h, uint32(worker), w.events[:min(len(out), len(w.events))], w.heads)
		runtime.KeepAlive(e)
		if st != statusOK {
			return 0, statusError(op, st)
		}
		if needed > 0 {
			w.heads = make([]byte, needed+needed/2) // a head longer than any before
			continue
		}
		for i := range n {
			c := &w.events[i]
			out[i] = ProxyEvent{Token: c.token, Hook: c.kind == proxyEventHook, Status: int(c.status),
				Cause: ProxyCause(c.cause), Head: w.heads[c.headOff : c.headOff+c.headLen : c.headOff+c.headLen]}
		}
		if n > 0 {
			return n, nil
		}
		if err := ctx.Err(); err != nil {
			return 0, &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrCanceled, err)}
		}
		if _, err := w.ready.Read(w.tick[:]); err != nil {
			if ctx.Err() != nil {
				continue
			}
			if errors.Is(err, os.ErrClosed) {
				return 0, opError(op, ErrClosed)
			}
			return 0, &Error{Op: op, Err: fmt.Errorf("%w: %w", ErrRelayIO, err)}
		}
	}
}

// ProxyReplyHead answers a hook event: the engine sends head (nil: the rewritten head as it
// was) and goes on with the exchange. The caller keeps the head's framing headers
// (Content-Length, Transfer-Encoding) as they were. The bytes are copied.
func (e *Engine) ProxyReplyHead(worker int, token uint64, head []byte) error {
	return e.proxyReply("Engine.ProxyReplyHead", worker, token, proxyReplyHead, head)
}

// ProxyRespond answers an event with a whole response for the client (instead of the
// upstream's, or of the proxy's own 502/504); then the connection reads its next request, or
// closes when close is set (it also closes when the request's body was not read). The bytes
// are copied.
func (e *Engine) ProxyRespond(worker int, token uint64, resp []byte, close bool) error {
	kind := uint32(proxyReplyRespond)
	if close {
		kind = proxyReplyRespondClose
	}
	return e.proxyReply("Engine.ProxyRespond", worker, token, kind, resp)
}

func (e *Engine) proxyReply(op string, worker int, token uint64, kind uint32, b []byte) error {
	h, ok := e.h.get()
	if !ok {
		return opError(op, ErrClosed)
	}
	if worker < 0 || worker >= e.workers {
		return opError(op, ErrInvalidArgument)
	}
	st := engineProxyReply(h, uint32(worker), token, kind, b)
	runtime.KeepAlive(e)
	if st != statusOK {
		return statusError(op, st)
	}
	return nil
}
