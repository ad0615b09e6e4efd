//go:build !cgo

package offheap

// statusMessage has no library to ask without cgo; Error falls back to the sentinel's text.
func statusMessage(uint32) string { return "" }
