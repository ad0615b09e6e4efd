package proxy

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// upstream is one upstream of the Go mode: its address, its pool of idle keep-alive
// connections, its connections open and the requests waiting for one, its exchanges in
// flight and its health.
type upstream struct {
	addr string
	mu   sync.Mutex
	idle []*upstreamConn
	// open counts the connections dialling, lent or idle. A connection closed or a dial that
	// failed frees its place for the oldest waiter, which then dials in it (open unchanged).
	// Waiters exist only while open is at the limit and idle is empty.
	open      int
	waiters   waitQueue
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
	list     []*upstream
	rr       atomic.Uint64
	least    bool
	maxIdle  int
	maxConns int // per upstream; 0: no limit
	downFor  time.Duration
	dialTO   time.Duration
	c        *counters
	stopped  chan struct{} // closed by stop: waiters give up
	stopOnce sync.Once
}

// errWaitTimeout: a request waited DialTimeout in an upstream's queue and no connection came
// free (answered as a failed dial: 502).
var errWaitTimeout = errors.New("no upstream connection came free in time")

func newUpstreams(addrs []netip.AddrPort, cfg *Config, c *counters) *upstreams {
	s := &upstreams{least: cfg.Balance == LeastInFlight, maxIdle: cfg.MaxIdleUpstream,
		maxConns: cfg.MaxConnsPerUpstream, downFor: positive(cfg.UnhealthyFor),
		dialTO: positive(cfg.DialTimeout), c: c, stopped: make(chan struct{})}
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
// when check is set: a request whose body cannot be sent twice), or a new dial, or, at the
// upstream's limit, one given back or closed while it waits; a failed dial marks its upstream
// down and tries another, up to once per upstream. A wait that timed out fails at once.
func (s *upstreams) get(check bool) (*upstreamConn, error) {
	var err error
	for range len(s.list) {
		u := s.pick()
		var c *upstreamConn
		if c, err = u.get(s, check); err == nil {
			u.inFlight.Add(1)
			return c, nil
		}
		if err == errWaitTimeout {
			return nil, err
		}
		s.c.upstreamFailures.Add(1)
		if s.downFor > 0 {
			u.downUntil.Store(time.Now().Add(s.downFor).UnixNano())
		}
	}
	return nil, err
}

// redial closes old, a connection lent to an exchange that failed in a way worth one retry,
// and returns a new connection to its upstream in its place (a retry never takes another
// possibly stale pooled connection, and does not wait behind the upstream's queue).
func (s *upstreams) redial(old *upstreamConn) (*upstreamConn, error) {
	u := old.up
	old.close()
	c, err := u.dialIn(s)
	if err != nil {
		u.inFlight.Add(-1)
		return nil, err
	}
	return c, nil
}

func (u *upstream) get(s *upstreams, check bool) (*upstreamConn, error) {
	u.mu.Lock()
	if n := len(u.idle); n > 0 {
		c := u.idle[n-1]
		u.idle[n-1] = nil
		u.idle = u.idle[:n-1]
		u.mu.Unlock()
		return u.reuse(s, c, check)
	}
	if s.maxConns == 0 || u.open < s.maxConns {
		u.open++
		u.mu.Unlock()
		return u.dialIn(s)
	}
	w := &waiter{ready: make(chan struct{})}
	u.waiters.push(w)
	s.c.upstreamQueued.Add(1)
	s.c.upstreamWaiting.Add(1)
	u.mu.Unlock()
	return u.wait(s, w, check)
}

// wait waits for w to be served, at most DialTimeout (or until stop), and returns the
// connection it was handed or dials in the place it was given.
func (u *upstream) wait(s *upstreams, w *waiter, check bool) (*upstreamConn, error) {
	var timeout <-chan time.Time
	if s.dialTO > 0 {
		t := time.NewTimer(s.dialTO)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-w.ready:
	case <-timeout:
	case <-s.stopped:
	}
	u.mu.Lock()
	if w.queued() {
		u.waiters.remove(w)
		s.c.upstreamWaiting.Add(-1)
		u.mu.Unlock()
		return nil, errWaitTimeout
	}
	u.mu.Unlock()
	// Served, perhaps as the wait ended: what it was handed is its own, never lost.
	if w.conn != nil {
		return u.reuse(s, w.conn, check)
	}
	return u.dialIn(s)
}

// reuse returns a connection that was idle or given back (checked to be still open when
// check is set); one the upstream closed is replaced by a new dial in its place.
func (u *upstream) reuse(s *upstreams, c *upstreamConn, check bool) (*upstreamConn, error) {
	if check && !c.alive() {
		// The most recently used connection was closed: the older ones most likely were too.
		c.close()
		return u.dialIn(s)
	}
	c.reused = true
	s.c.upstreamReused.Add(1)
	return c, nil
}

// dialIn dials a connection in a place already counted in open; a failed dial frees it.
func (u *upstream) dialIn(s *upstreams) (*upstreamConn, error) {
	c, err := u.dial(s)
	if err != nil {
		u.free(s)
	}
	return c, err
}

// free gives up a place in open: to the oldest waiter, which dials in it, or back.
func (u *upstream) free(s *upstreams) {
	u.mu.Lock()
	if w := u.waiters.pop(); w != nil {
		s.c.upstreamWaiting.Add(-1)
		close(w.ready)
	} else {
		u.open--
	}
	u.mu.Unlock()
}

// discard closes a connection and frees its place.
func (s *upstreams) discard(c *upstreamConn) {
	c.close()
	c.up.free(s)
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

// put takes back a connection after an exchange: when reusable, to the oldest request
// waiting for one, else to its pool (when the pool has room and the proxy is not shutting
// down); else it is closed.
func (s *upstreams) put(c *upstreamConn, reusable, shutting bool) {
	u := c.up
	u.inFlight.Add(-1)
	if !reusable || c.buf.Len() != 0 {
		s.discard(c) // bytes after the response: not a clean HTTP connection
		return
	}
	u.mu.Lock()
	if w := u.waiters.pop(); w != nil {
		s.c.upstreamWaiting.Add(-1)
		w.conn = c
		close(w.ready)
		u.mu.Unlock()
		return
	}
	if !shutting && len(u.idle) < s.maxIdle {
		u.idle = append(u.idle, c)
		u.mu.Unlock()
		return
	}
	u.open--
	u.mu.Unlock()
	c.close()
}

// closeIdle closes every pooled connection.
func (s *upstreams) closeIdle() {
	for _, u := range s.list {
		u.mu.Lock()
		idle := u.idle
		u.idle = nil
		u.mu.Unlock()
		for _, c := range idle {
			s.discard(c)
		}
	}
}

// stop makes the requests waiting for a connection give up (Shutdown past its deadline).
func (s *upstreams) stop() {
	s.stopOnce.Do(func() { close(s.stopped) })
}

// gauges returns the upstream connections open and idle now.
func (s *upstreams) gauges() (open, idle uint64) {
	for _, u := range s.list {
		u.mu.Lock()
		open += uint64(u.open)
		idle += uint64(len(u.idle))
		u.mu.Unlock()
	}
	return open, idle
}
