//go:build debug

package offheap

// debugGC makes every handle access run a full GC (the debug build tag), as wasmtime-go does, so
// tests catch objects collected while Rust still uses their handle.
const debugGC = true
