package proxy

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// upstream is one upstream of the Go mode: its address, its pool of idle keep-alive
// connections, its exchanges in flight and its health.
type upstream struct {
	addr      string
	mu        sync.Mutex
	idle      []*upstreamConn
	inFlight  atomic.Int64
	downUntil atomic.Int64 // unix nanoseconds: skipped until then after a failed connect
}

// upstreamConn is a keep-alive connection to an upstream with its Rust-owned read buffer.
type upstreamConn struct {
	*sockConn
	up      *upstream
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

// upstreams picks upstreams for the Go mode.
type upstreams struct {
	list    []*upstream
	rr      atomic.Uint64
	least   bool
	maxIdle int
	downFor time.Duration
	dialTO  time.Duration
	c       *counters
}

func newUpstreams(addrs []netip.AddrPort, cfg *Config, c *counters) *upstreams {
	s := &upstreams{least: cfg.Balance == LeastInFlight, maxIdle: cfg.MaxIdleUpstream,
		downFor: positive(cfg.UnhealthyFor), dialTO: positive(cfg.DialTimeout), c: c}
	for _, a := range addrs {
		s.list = append(s.list, &upstream{addr: a.String()})
	}
	return s
}

// pick chooses an upstream for a new exchange: in turn, or the least busy, among the ones
// that did not fail to connect lately (all of them when every one did).
func (s *upstreams) pick() *upstream {
	n := uint64(len(s.list))
	start := s.rr.Add(1) - 1
	now := time.Now().UnixNano()
	var best *upstream
	for k := range n {
		u := s.list[(start+k)%n]
		if u.downUntil.Load() > now {
			continue
		}
		if !s.least {
			return u
		}
		if best == nil || u.inFlight.Load() < best.inFlight.Load() {
			best = u
		}
	}
	if best == nil {
		best = s.list[start%n]
	}
	return best
}

// get returns a connection to a chosen upstream: an idle pooled one (checked to be still open
// when check is set: a request whose body cannot be sent twice), or a new dial; a failed dial
// marks its upstream down and tries another, up to once per upstream.
func (s *upstreams) get(check bool) (*upstreamConn, error) {
	var err error
	for range len(s.list) {
		u := s.pick()
		var c *upstreamConn
		if c, err = u.get(s, check); err == nil {
			u.inFlight.Add(1)
			return c, nil
		}
		s.c.upstreamFailures.Add(1)
		if s.downFor > 0 {
			u.downUntil.Store(time.Now().Add(s.downFor).UnixNano())
		}
	}
	return nil, err
}

// dial returns a new connection to the upstream of c (a retry, which never takes another
// possibly stale pooled connection).
func (s *upstreams) redial(old *upstreamConn) (*upstreamConn, error) {
	u := old.up
	c, err := u.dial(s)
	if err != nil {
		return nil, err
	}
	u.inFlight.Add(1)
	return c, nil
}

func (u *upstream) get(s *upstreams, check bool) (*upstreamConn, error) {
	for {
		u.mu.Lock()
		n := len(u.idle)
		if n == 0 {
			u.mu.Unlock()
			return u.dial(s)
		}
		c := u.idle[n-1]
		u.idle[n-1] = nil
		u.idle = u.idle[:n-1]
		u.mu.Unlock()
		if check && !c.alive() {
			c.close()
			continue
		}
		c.reused = true
		s.c.upstreamReused.Add(1)
		return c, nil
	}
}

func (u *upstream) dial(s *upstreams) (*upstreamConn, error) {
	s.c.upstreamDials.Add(1)
	nc, err := net.DialTimeout("tcp", u.addr, s.dialTO)
	if err != nil {
		return nil, err
	}
	tc := nc.(*net.TCPConn)
	sc, err := newSockConn(tc)
	if err != nil {
		tc.Close()
		return nil, err
	}
	buf, err := offheap.NewBuffer()
	if err != nil {
		tc.Close()
		return nil, err
	}
	c := &upstreamConn{sockConn: sc, up: u, buf: buf}
	c.peekFn = c.peek
	return c, nil
}

// put takes back a connection after an exchange: to its pool when reusable (and the pool has
// room and the proxy is not shutting down), else it is closed.
func (s *upstreams) put(c *upstreamConn, reusable, shutting bool) {
	c.up.inFlight.Add(-1)
	if !reusable || c.buf.Len() != 0 || shutting {
		c.close() // bytes after the response: not a clean HTTP connection
		return
	}
	u := c.up
	u.mu.Lock()
	if len(u.idle) < s.maxIdle {
		u.idle = append(u.idle, c)
		u.mu.Unlock()
		return
	}
	u.mu.Unlock()
	c.close()
}

// closeIdle closes every pooled connection.
func (s *upstreams) closeIdle() {
	for _, u := range s.list {
		u.mu.Lock()
		for _, c := range u.idle {
			c.close()
		}
		u.idle = nil
		u.mu.Unlock()
	}
}
