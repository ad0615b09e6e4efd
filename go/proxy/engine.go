package proxy

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"syscall"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// engineServer is the engine mode: an offheap engine serving the proxy, and a goroutine per
// worker answering its events when Config.Rewrite or Config.ErrorHandler asks for them.
type engineServer struct {
	e      *offheap.Engine
	cancel context.CancelFunc
	loops  chan struct{} // one value per event loop that returned
	nloops int
	once   sync.Once // shutdown
	err    error
}

// serveEngine hands ln's socket to the engine (started by the first call), for every worker
// (worker -1) or one, and waits for Shutdown.
func (p *Proxy) serveEngine(ln syscall.Conn, worker int) error {
	eng, err := p.engine()
	if err != nil {
		return err
	}
	if err := eng.e.ProxyListen(ln, worker); err != nil {
		return err
	}
	// The engine accepts on its own duplicate. ln's fd, still in Go's netpoller, would wake
	// the Go runtime at every connection the engine accepts (two epoll_pwait calls each):
	// closed, it leaves the netpoller, and the duplicate keeps the socket listening.
	if c, ok := ln.(io.Closer); ok {
		c.Close()
	}
	<-p.done
	return ErrShutdown
}

// engine returns the engine server, started on first use.
func (p *Proxy) engine() (*engineServer, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.eng == nil {
		eng, err := p.startEngine()
		if err != nil {
			return nil, err
		}
		p.eng = eng
	}
	return p.eng, nil
}

func (p *Proxy) startEngine() (*engineServer, error) {
	cfg := &p.cfg
	e, err := offheap.NewEngine(cfg.Workers, 1024)
	if err != nil {
		return nil, err
	}
	pc := &offheap.ProxyConfig{
		Upstreams: p.addrs, LeastInFlight: cfg.Balance == LeastInFlight,
		MaxIdlePerUpstream: cfg.MaxIdleUpstream, MaxConnsPerUpstream: cfg.MaxConnsPerUpstream,
		UnhealthyFor: positive(cfg.UnhealthyFor),
		Proto:        "http", SetHost: cfg.SetHost, Via: cfg.Via, MaxHeaderBytes: cfg.MaxHeaderBytes,
		Hook: cfg.Rewrite != nil, ErrorEvents: cfg.ErrorHandler != nil,
		DialTimeout: positive(cfg.DialTimeout), ReadHeaderTimeout: positive(cfg.ReadHeaderTimeout),
		IdleTimeout: positive(cfg.IdleTimeout), ResponseHeaderTimeout: positive(cfg.ResponseHeaderTimeout),
		BodyTimeout: positive(cfg.BodyTimeout),
	}
	if cfg.SetHost && len(cfg.Upstreams) > 0 {
		pc.Host = cfg.Upstreams[0]
	}
	if err := e.StartProxy(pc); err != nil {
		e.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &engineServer{e: e, cancel: cancel, loops: make(chan struct{}, e.Workers())}
	if pc.Hook || pc.ErrorEvents {
		for w := range e.Workers() {
			s.nloops++
			go p.events(ctx, s, w)
		}
	}
	return s, nil
}

// events answers worker w's events until ctx ends: hooks with the head Rewrite makes,
// upstream failures with the response ErrorHandler writes.
func (p *Proxy) events(ctx context.Context, s *engineServer, w int) {
	defer func() { s.loops <- struct{}{} }()
	evs := make([]offheap.ProxyEvent, 64)
	var req *Request
	if p.cfg.Rewrite != nil {
		req = newRequest(p.cfg.MaxHeaderBytes)
	}
	for {
		n, err := s.e.WaitProxyEvents(ctx, w, evs)
		if err != nil {
			return // cancelled, or the engine closed
		}
		for i := range n {
			ev := &evs[i]
			if ev.Hook {
				p.c.hookCalls.Add(1)
				head, err := req.run(p.cfg.Rewrite, ev.Head)
				if err != nil {
					s.e.ProxyRespond(w, ev.Token, resp400, true)
					continue
				}
				s.e.ProxyReplyHead(w, ev.Token, head)
				continue
			}
			p.c.errorHandlerCalls.Add(1)
			cause := errUpstream
			switch ev.Cause {
			case offheap.ProxyCauseDial:
				cause = errDial
			case offheap.ProxyCauseTimeout:
				cause = errTimeout
			}
			status := http.StatusBadGateway
			if ev.Status == http.StatusGatewayTimeout {
				status = http.StatusGatewayTimeout
			}
			s.e.ProxyRespond(w, ev.Token, p.errorResponse(ev.Head, status, cause, false), false)
		}
	}
}

// The causes ErrorHandler sees, wrapped in ErrBadGateway or ErrGatewayTimeout.
var (
	errDial     = errors.New("no upstream could be connected to")
	errUpstream = errors.New("the upstream failed before its response head")
	errTimeout  = errors.New("the upstream's response head did not come in time")
)

// shutdown drains the engine's connections until none is left or ctx is done (then they are
// closed), and stops the engine.
func (s *engineServer) shutdown(ctx context.Context) error {
	s.once.Do(func() { s.err = s.drain(ctx) })
	return s.err
}

func (s *engineServer) drain(ctx context.Context) error {
	var err error
	if err = s.e.ProxyShutdown(); err == nil {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			c, cerr := s.e.ProxyCounters()
			if cerr != nil || c.ConnsOpen == 0 {
				break
			}
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				err = ctx.Err()
				s.e.ProxyClose()
			}
			break
		}
	}
	s.cancel()
	for range s.nloops {
		<-s.loops
	}
	if cerr := s.e.Close(); err == nil {
		err = cerr
	}
	return err
}
