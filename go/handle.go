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
}

// attach stores id and registers free as a backstop for owners dropped without Close. free must
// not reference owner.
func attach[T any](h *handle, owner *T, id uint64, free func(uint64)) {
	h.id.Store(id)
	h.cleanup = runtime.AddCleanup(owner, free, id)
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
