// Package payload defines the response bodies of the proxy benchmarks and tests, shared by the
// upstream (which serves them) and the clients (which check them).
package payload

// Size is one response body served by the upstream.
type Size struct {
	Name string // as shown in tables: "2 B", "16 KiB", "1 MiB"
	Path string // request path on the upstream
	N    int    // body length in bytes
}

// Sizes are the bodies of the benchmark, smallest first.
var Sizes = []Size{{"2 B", "/2", 2}, {"16 KiB", "/16k", 16 << 10}, {"1 MiB", "/1m", 1 << 20}}

// Body returns the body of n bytes: "OK" for 2 bytes, otherwise the letters a-z repeated.
func Body(n int) []byte {
	if n == 2 {
		return []byte("OK")
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}
