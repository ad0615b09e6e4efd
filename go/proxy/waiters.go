package proxy

// waiter is a request waiting for a connection to an upstream whose connections are at
// Config.MaxConnsPerUpstream. It is served once, under its upstream's mu: taken out of the
// queue, handed a connection given back (conn) or room for a dial of its own (conn nil),
// then ready is closed. A waiter that gives up looks, under the same mu, whether it is still
// queued: if not, it was served at that moment and what it was handed is its own.
type waiter struct {
	ready      chan struct{}
	conn       *upstreamConn
	prev, next *waiter
	queued     bool
}

// waitQueue is an upstream's waiters, oldest first (guarded by the upstream's mu). Linked
// through the waiters, so one that gives up leaves from the middle at no cost.
type waitQueue struct {
	head, tail *waiter
}

func (q *waitQueue) push(w *waiter) {
	w.prev, w.next, w.queued = q.tail, nil, true
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
}

// pop takes out the oldest waiter (nil: none).
func (q *waitQueue) pop() *waiter {
	w := q.head
	if w != nil {
		q.remove(w)
	}
	return w
}

// remove takes w, which is queued, out of the queue.
func (q *waitQueue) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
}
