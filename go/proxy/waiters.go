package proxy

import "container/list"

// waiter is a request waiting for a connection to an upstream whose connections are at
// Config.MaxConnsPerUpstream. It is served once, under its upstream's mu: taken out of the
// queue, handed a connection given back (conn) or room for a dial of its own (conn nil),
// then ready is closed. A waiter that gives up looks, under the same mu, whether it is still
// queued: if not, it was served at that moment and what it was handed is its own.
type waiter struct {
	ready chan struct{}
	conn  *upstreamConn
	elem  *list.Element // its place in the queue; nil once taken out
}

// queued reports whether w is still in its upstream's queue.
func (w *waiter) queued() bool { return w.elem != nil }

// waitQueue is an upstream's waiters, oldest first (guarded by the upstream's mu); one that
// gives up leaves from the middle.
type waitQueue struct{ l list.List }

func (q *waitQueue) push(w *waiter) { w.elem = q.l.PushBack(w) }

// pop takes out the oldest waiter (nil: none).
func (q *waitQueue) pop() *waiter {
	e := q.l.Front()
	if e == nil {
		return nil
	}
	w := e.Value.(*waiter)
	q.remove(w)
	return w
}

// remove takes w, which is queued, out of the queue.
func (q *waitQueue) remove(w *waiter) {
	q.l.Remove(w.elem)
	w.elem = nil
}
