//go:build !cgo

package offheap

import (
	"errors"
	"testing"
)

func TestHeadersWithoutCgoAreUnavailable(t *testing.T) {
	b := NewRequestBatch(4)
	if _, err := b.Parse([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("RequestBatch.Parse = %v, want ErrUnavailable", err)
	}
	if b.Len() != 0 {
		t.Fatalf("Len = %d", b.Len())
	}
	r := NewResponseBatch(4)
	if err := r.ParseEach([]byte("HTTP/1.1 200 OK\r\n\r\n"), []uint32{0}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ResponseBatch.ParseEach = %v, want ErrUnavailable", err)
	}
}
