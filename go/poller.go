package offheap

import (
	"reflect"
	"sync"
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
// caller closes ends as usual (its peer sees the end). It does not wake a wait either: a closed
// fd reports no more events, and the next step, if one comes, finds it closed.

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

// is reports whether w watches what of identifies (false for a value that cannot be compared).
func (w *watch) is(of any) bool {
	return w.orig != nil && reflect.TypeOf(of).Comparable() && w.of == of
}

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
