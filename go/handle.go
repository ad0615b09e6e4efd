package offheap

import (
	"runtime"
	"sync/atomic"
)

// handle owns one Rust handle. Close and calls may race from any goroutines; a call uses the
// handle in one of two ways:
//
//   - get: the id for a call whose Go side reads no Rust memory. The Rust handle table makes
//     such a call, racing Close, either complete on the live object or fail with an
//     invalid-handle status, which callers report as ErrClosed.
//   - acquire and release: a lease, for a call that builds or reads a view of Rust memory in Go
//     (a snapshot's columns, a buffer's bytes) or waits on resources of the object (a relay's
//     duplicated fds). Close wakes such waits, then waits until every lease is released before
//     it frees, so no view is built from memory a racing Close freed.
type handle struct {
	state   atomic.Uint64 // handleClosing, plus the number of leases held
	id      uint64        // written by attach before the owner is shared, then read-only
	drained chan struct{} // closed by the release that ends the last lease once closing
	cleanup runtime.Cleanup
	free    func(uint64) uint32 // the library's free for this kind of handle
}

// handleClosing marks a handle Close has started on: no new lease or get succeeds.
const handleClosing = 1 << 63

// handleFree is what the cleanup backstop needs: no reference to the owner.
type handleFree struct {
	id   uint64
	free func(uint64) uint32
}

// create makes owner's library object with newFn, for constructor op, and attaches it to h
// with free as the backstop. It returns initErr, without calling the library, when the library
// did not load, and newFn's failure as op's error.
func create[T any](op string, owner *T, h *handle, newFn func() (uint64, uint32), free func(uint64) uint32) error {
	if initErr != nil {
		return initErr
	}
	id, st := newFn()
	if st != statusOK {
		return statusError(op, st)
	}
	attach(h, owner, id, free)
	return nil
}

// attach stores id and registers free as a backstop for owners dropped without Close.
func attach[T any](h *handle, owner *T, id uint64, free func(uint64) uint32) {
	h.id = id
	h.free = free
	h.drained = make(chan struct{})
	h.cleanup = runtime.AddCleanup(owner, func(f handleFree) { f.free(f.id) }, handleFree{id, free})
}

// get returns the live id, or false once closed. Callers runtime.KeepAlive their owner after
// the cgo call so the cleanup cannot run during it. The debug build tag forces a GC here, which
// surfaces missing KeepAlives and lifetime bugs in tests.
func (h *handle) get() (uint64, bool) {
	if debugGC {
		runtime.GC()
	}
	if h.state.Load()&handleClosing != 0 || h.id == 0 {
		return 0, false
	}
	return h.id, true
}

// call makes one library call, f, on the live id for op: [ErrClosed] once closed, otherwise f's
// status as op's error. h lies inside its owner, so keeping h alive past f keeps the owner
// reachable and its cleanup from freeing the id during the call. f does not escape, so the
// closure a caller passes stays on its stack: hot calls through call allocate nothing.
func (h *handle) call(op string, f func(id uint64) uint32) error {
	id, ok := h.get()
	if !ok {
		return opError(op, ErrClosed)
	}
	st := f(id)
	runtime.KeepAlive(h)
	if st != statusOK {
		return statusError(op, st)
	}
	return nil
}

// acquire takes a lease and returns the id, or false once closed (then hold no lease). Every
// successful acquire is followed by exactly one release. The caller's receiver keeps the owner
// reachable, so the cleanup cannot run while a lease is held; the debug build forces no GC
// here (only in get): a GC forced on every lease, while another goroutine closes the object,
// stalled the Go 1.26 runtime in a stop-the-world that never completed (one M spinning in
// runtime.unlock2 under goschedImpl), even at GOMAXPROCS=1.
func (h *handle) acquire() (uint64, bool) {
	for {
		s := h.state.Load()
		if s&handleClosing != 0 || h.id == 0 {
			return 0, false
		}
		if h.state.CompareAndSwap(s, s+1) {
			return h.id, true
		}
	}
}

// release ends a lease; the last one to end after Close started lets Close go on.
func (h *handle) release() {
	if h.state.Add(^uint64(0)) == handleClosing {
		close(h.drained)
	}
}

// closed reports whether Close has started.
func (h *handle) closed() bool { return h.state.Load()&handleClosing != 0 }

// close frees the handle the first time it is called, and reports the library's error for op;
// later calls (and calls on a handle never attached) return nil. wake, when not nil, runs first
// and ends the waits of calls holding a lease (closing the object's own fds, say); close then
// waits for their leases to end before it frees.
func (h *handle) close(op string, wake func()) error {
	s := h.state.Or(handleClosing)
	if s&handleClosing != 0 || h.id == 0 {
		return nil
	}
	h.cleanup.Stop()
	if wake != nil {
		wake()
	}
	if s != 0 { // leases were held: the release of the last one closes drained
		<-h.drained
	}
	if st := h.free(h.id); st != statusOK {
		return statusError(op, st)
	}
	return nil
}
