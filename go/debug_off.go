//go:build !debug

package offheap

const debugGC = false
