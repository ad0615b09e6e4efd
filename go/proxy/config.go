package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"time"
)

// Balance says how the proxy picks an upstream for a request.
type Balance uint8

const (
	// RoundRobin takes the upstreams in turn.
	RoundRobin Balance = iota
	// LeastInFlight takes the upstream with the fewest exchanges in progress (ties in turn).
	LeastInFlight
)

// Config is the proxy's configuration. Zero durations and sizes take the defaults of
// [DefaultConfig]; a negative duration means no deadline.
type Config struct {
	// Upstreams are the host:port addresses requests go to (at least one). Names are
	// resolved once, by New.
	Upstreams []string
	// Balance picks an upstream per request (default RoundRobin).
	Balance Balance
	// UnhealthyFor is how long an upstream that failed to connect is skipped (passive
	// health); the others take its requests meanwhile.
	UnhealthyFor time.Duration

	DialTimeout           time.Duration // connecting to an upstream (then the next one, or 502); 30 s as net/http's DefaultTransport
	ResponseHeaderTimeout time.Duration // waiting for the upstream's response head (then 504)
	ReadHeaderTimeout     time.Duration // reading a request head once its first byte arrived (then 408)
	IdleTimeout           time.Duration // a keep-alive client connection waiting for its next request
	BodyTimeout           time.Duration // a body that moves no byte this long is cut
	// ExpectContinueTimeout: in Go mode, how long a request with Expect: 100-continue waits
	// for the upstream's 100 Continue before its body is sent anyway. (The engine answers 100
	// Continue itself, as nginx does.)
	ExpectContinueTimeout time.Duration

	// MaxIdleUpstream is how many idle keep-alive connections are kept per upstream (by each
	// engine worker in engine mode).
	MaxIdleUpstream int
	// MaxConnsPerUpstream limits the connections open to each upstream (connecting, carrying
	// an exchange or idle): by each engine worker in engine mode, for the whole proxy in Go
	// mode; 0 (the default, as http.Transport's MaxConnsPerHost): no limit. At the limit a
	// request waits, in the order requests came, for a connection another exchange gives
	// back or closes, at most DialTimeout (then 502, with ErrBadGateway). Under a burst of
	// clients, the upstream connections stay in use instead of being dialled and closed by
	// the thousand, and the upstream sees no more than the limit.
	MaxConnsPerUpstream int
	// MaxHeaderBytes is the longest request head accepted (then 431); default 1 MB, as
	// net/http's DefaultMaxHeaderBytes.
	MaxHeaderBytes int

	Via     string // this proxy's pseudonym appended to Via (empty: none, as httputil.ReverseProxy)
	SetHost bool   // send the upstream's address as Host (default: the client's Host)

	// Rewrite, when set, is called with every request head before it is sent upstream,
	// after the standard rewrite (hop-by-hop headers dropped, X-Forwarded-* set): it may read
	// the head and change its target and headers (see [Request]). Unset, it costs nothing.
	// It may run on several goroutines at once.
	Rewrite func(*Request)
	// ErrorHandler, when set, answers the requests the upstream failed (502, 504) instead of
	// the proxy's own short responses, as httputil.ReverseProxy's ErrorHandler does. err
	// matches [ErrBadGateway] or [ErrGatewayTimeout]; r has the request's method, URL and
	// headers (as sent upstream) and no body.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// Workers is the number of engine worker threads (default GOMAXPROCS).
	Workers int
	// ReusePort: ListenAndServe gives each engine worker a listening socket of its own
	// (SO_REUSEPORT; the kernel spreads new connections over them) instead of one socket all
	// workers accept on.
	ReusePort bool
	// AllInGo serves every connection in Go (a goroutine per connection, heads parsed by
	// offheap, bodies relayed by offheap.Relay), instead of in the engine's workers.
	AllInGo bool
}

// DefaultConfig returns the defaults (with no upstream).
func DefaultConfig() Config {
	return Config{
		UnhealthyFor: 10 * time.Second,
		DialTimeout:  30 * time.Second, ResponseHeaderTimeout: 30 * time.Second,
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second, BodyTimeout: 5 * time.Minute,
		ExpectContinueTimeout: time.Second, MaxIdleUpstream: 64, MaxHeaderBytes: 1 << 20,
		Workers: runtime.GOMAXPROCS(0),
	}
}

// The errors ErrorHandler sees (wrapped with their cause).
var (
	// ErrBadGateway: the upstream could not be connected to, or failed before its response
	// head (502).
	ErrBadGateway = errors.New("proxy: bad gateway")
	// ErrGatewayTimeout: the upstream's response head did not come in time (504).
	ErrGatewayTimeout = errors.New("proxy: gateway timeout")
)

// fill sets the defaults of zero fields and resolves the upstreams.
func (c *Config) fill() ([]netip.AddrPort, error) {
	d := DefaultConfig()
	for _, p := range []struct{ v, def *time.Duration }{
		{&c.UnhealthyFor, &d.UnhealthyFor},
		{&c.DialTimeout, &d.DialTimeout}, {&c.ResponseHeaderTimeout, &d.ResponseHeaderTimeout},
		{&c.ReadHeaderTimeout, &d.ReadHeaderTimeout}, {&c.IdleTimeout, &d.IdleTimeout},
		{&c.BodyTimeout, &d.BodyTimeout}, {&c.ExpectContinueTimeout, &d.ExpectContinueTimeout},
	} {
		if *p.v == 0 {
			*p.v = *p.def
		}
	}
	if c.MaxIdleUpstream <= 0 {
		c.MaxIdleUpstream = d.MaxIdleUpstream
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = d.MaxHeaderBytes
	}
	c.MaxConnsPerUpstream = max(c.MaxConnsPerUpstream, 0)
	c.MaxHeaderBytes = min(c.MaxHeaderBytes, 16<<20)
	if c.Workers <= 0 {
		c.Workers = d.Workers
	}
	c.Workers = min(c.Workers, 64)
	if len(c.Upstreams) == 0 {
		return nil, errors.New("proxy: Config.Upstreams is empty")
	}
	addrs := make([]netip.AddrPort, len(c.Upstreams))
	for i, u := range c.Upstreams {
		ta, err := net.ResolveTCPAddr("tcp", u)
		if err != nil {
			return nil, fmt.Errorf("proxy: upstream %q: %w", u, err)
		}
		addrs[i] = ta.AddrPort()
		if !addrs[i].Addr().IsValid() || addrs[i].Addr().IsUnspecified() {
			addrs[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), addrs[i].Port())
		}
	}
	return addrs, nil
}

// positive maps a configured duration to what the engine takes: negative (no deadline) is 0.
func positive(d time.Duration) time.Duration { return max(d, 0) }
