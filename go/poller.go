package offheap

import (
	"errors"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// A poller lets relays and buffers wait for the caller's connections without waiting on the
// connections: an epoll instance of the package's own, registered with Go's netpoller as an
// *os.File, watches their fds, and a wait parks in Go's netpoller until one of them has an
// event. The package ends its own waits (Close, a cancelled context, its own deadlines) through
// the poller, never through the caller's connection, whose deadlines it neither reads nor
// changes: Go gives no way to read a deadline back, so a wait ended by a deadline set on the
// caller's connection could never put the caller's own deadline back.
//
// Watching is not owning: the registration does not keep a socket open, so a connection the
// caller closes ends as usual (its peer sees the end). A closed fd reports no more events, so
// nothing would wake a wait on it: a wait that blocks therefore also looks, now and then,
// whether the caller closed a connection it watches (its RawConn's Control fails), and the
// call then fails with [ErrConnClosed], as a Read of a net.Conn closed by another goroutine
// returns. The first look comes closedCheckEvery after the wait began, later ones twice as far
// apart each time up to closedCheckMax, so an idle connection costs a wake-up a second.

// watch is one connection a poller watches.
type watch struct {
	of     any             // the caller's connection or RawConn (nil: none)
	orig   syscall.RawConn // the caller's: lends its fd to steps; Control fails once closed
	fd     int             // the fd registered
	events uint32          // what it is watched for
}

// unwatched is the other watch of a poller that watches one connection (a buffer's): never
// written.
var unwatched watch

// is reports whether w watches what of identifies through the RawConn orig (false for a value
// that cannot be compared). Both must match: a wrapper re-pointed at another connection (the
// same of, another RawConn) is another connection, whose fd the poller has not registered.
func (w *watch) is(of any, orig syscall.RawConn) bool {
	return w.orig != nil && reflect.TypeOf(of).Comparable() && w.of == of && w.orig == orig
}

// A wait's first look for connections the caller closed, and the longest gap between looks.
const (
	closedCheckEvery = 50 * time.Millisecond
	closedCheckMax   = time.Second
)

// waitCheck arms the poller's deadline for one call's waits: the object's own deadline *own, or
// sooner, the next look for closed connections. A call arms it when it first waits (calls that
// never wait pay nothing) and again after each look, and puts *own back when it returns.
type waitCheck struct {
	armed bool
	gap   time.Duration // until the next look (0: closedCheckEvery)
}

// arm sets the poller's deadline before a wait, under the object's lock mu, unless woken (the
// call's context fired: its past deadline must stay). Inside a wait's callback (inWait) it only
// tries the lock: its holder may be Close, which closes the poller and waits for that very
// wait to return; the holder ends or bounds the wait itself (Close, a context's wake-up, a new
// deadline), and the wait goes unarmed.
func (c *waitCheck) arm(p *poller, mu *sync.Mutex, own *time.Time, woken *atomic.Bool, inWait bool) {
	if inWait {
		if !mu.TryLock() {
			return
		}
	} else {
		mu.Lock()
	}
	if !c.armed || c.gap == 0 {
		c.gap = closedCheckEvery
	} else {
		c.gap = min(2*c.gap, closedCheckMax)
	}
	c.armed = true
	if woken == nil || !woken.Load() {
		t := time.Now().Add(c.gap)
		if !own.IsZero() && own.Before(t) {
			t = *own
		}
		p.setDeadline(t)
	}
	mu.Unlock()
}

// tick reports whether a wait that failed with err was ended only by a look for closed
// connections: the deadline passed, but not the object's own.
func (c *waitCheck) tick(err error, mu *sync.Mutex, own *time.Time) bool {
	if !c.armed || !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	mu.Lock()
	d := *own
	mu.Unlock()
	return d.IsZero() || time.Now().Before(d)
}

// done puts the object's own deadline back on the poller after a call that armed a look.
func (c *waitCheck) done(p *poller, mu *sync.Mutex, own *time.Time, woken *atomic.Bool) {
	if !c.armed {
		return
	}
	c.armed, c.gap = false, 0
	mu.Lock()
	if woken == nil || !woken.Load() {
		p.setDeadline(*own)
	}
	mu.Unlock()
}

// connClosed reports whether the caller closed the connection of orig.
func connClosed(orig syscall.RawConn) bool { return orig.Control(noControl) != nil }

func noControl(uintptr) {}

// setPollerDeadline sets an object's own deadline *d to t and on its poller p, for op: under
// a lease of the object's handle h and its lock mu, which guard both against Close and a wait.
func setPollerDeadline(op string, h *handle, mu *sync.Mutex, p *poller, d *time.Time, t time.Time) error {
	if _, ok := h.acquire(); !ok {
		return opError(op, ErrClosed)
	}
	defer h.release()
	mu.Lock()
	defer mu.Unlock()
	*d = t
	if err := p.setDeadline(t); err != nil {
		return &Error{Op: op, Err: err}
	}
	return nil
}
