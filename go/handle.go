package offheap

import (
	"runtime"
	"sync/atomic"
)

// handle owns one Rust handle. The zero handle means closed. Close and calls may race from any
// goroutines: the Rust handle table makes a call on a handle being freed either complete on the
// live object or fail with an invalid-handle status, which callers report as ErrClosed.
type handle struct {
	id      atomic.Uint64
	cleanup runtime.Cleanup
	free    func(uint64) uint32 // the library's free for this kind of handle
}

// handleFree is what the cleanup backstop needs: no reference to the owner.
type handleFree struct {
	id   uint64
	free func(uint64) uint32
}

// attach stores id and registers free as a backstop for owners dropped without Close.
func attach[T any](h *handle, owner *T, id uint64, free func(uint64) uint32) {
	h.id.Store(id)
	h.free = free
	h.cleanup = runtime.AddCleanup(owner, func(f handleFree) { f.free(f.id) }, handleFree{id, free})
}

// get returns the live id, or false once closed. Callers runtime.KeepAlive their owner after
// the cgo call so the cleanup cannot run during it. The debug build tag forces a GC here, which
// surfaces missing KeepAlives and lifetime bugs in tests.
func (h *handle) get() (uint64, bool) {
	if debugGC {
		runtime.GC()
	}
	id := h.id.Load()
	return id, id != 0
}

// release takes the id for freeing; only the first caller gets it (Close is idempotent).
func (h *handle) release() (uint64, bool) {
	id := h.id.Swap(0)
	if id == 0 {
		return 0, false
	}
	h.cleanup.Stop()
	return id, true
}

// close frees the handle the first time it is called, and reports the library's error for op;
// later calls (and calls on a handle never attached) return nil.
func (h *handle) close(op string) error {
	id, ok := h.release()
	if !ok {
		return nil
	}
	if st := h.free(id); st != statusOK {
		return statusError(op, st)
	}
	return nil
}
