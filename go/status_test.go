//go:build cgo

package offheap

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every status the library has a message for maps to a sentinel, and its error prints the
// library's message with the status.
func TestEveryLibraryStatusHasASentinelAndItsMessage(t *testing.T) {
	named := 0
	for st := uint32(1); st < 1000; st++ {
		msg := statusMessage(st)
		if msg == "offheap: unknown status" {
			continue
		}
		named++
		sentinel := sentinelOf(st)
		if sentinel == ErrInternal {
			t.Errorf("status %d (%q) has no sentinel", st, msg)
		}
		err := statusError("Op", st)
		if !errors.Is(err, sentinel) {
			t.Errorf("status %d: %v does not match %v", st, err, sentinel)
		}
		if want := "Op: " + msg + " (status " + strconv.Itoa(int(st)) + ")"; err.Error() != want {
			t.Errorf("status %d prints %q, want %q", st, err, want)
		}
	}
	if named < 60 {
		t.Fatalf("the library named only %d statuses", named)
	}
}

// The reason of a failed call is the library's message, not only a number.
func TestErrorsCarryTheLibraryMessage(t *testing.T) {
	_, err := NewAggregator(AggregatorConfig{Mode: Sliding, Width: time.Minute, Slices: 6, MaxFutureSkew: time.Hour})
	var e *Error
	if !errors.Is(err, ErrInvalidConfig) || !errors.As(err, &e) || e.Status != statusWindowInvalidFutureSkew {
		t.Fatalf("NewAggregator = %v, want ErrInvalidConfig with status %d", err, statusWindowInvalidFutureSkew)
	}
	for _, want := range []string{"NewAggregator", "AggregatorConfig.MaxFutureSkew: offheap: window: the maximum future skew spans more than 64 slices", "(status 306)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}
