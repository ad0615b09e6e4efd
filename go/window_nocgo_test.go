//go:build !cgo

package offheap

import (
	"errors"
	"testing"
)

func TestWindowWithoutCgoIsUnavailable(t *testing.T) {
	if _, err := NewAggregator(AggregatorConfig{Width: 1}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("NewAggregator = %v, want ErrUnavailable", err)
	}
	if _, err := NewSnapshot(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("NewSnapshot = %v, want ErrUnavailable", err)
	}
}
