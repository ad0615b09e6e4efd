//go:build !cgo

package leakcheck_test

import (
	"errors"
	"testing"

	offheap "github.com/offheap/offheap/go"
	"github.com/offheap/offheap/go/leakcheck"
)

// Without cgo there is no library to check: Take says so.
func TestWithoutCgoTakeIsUnavailable(t *testing.T) {
	if _, err := leakcheck.Take(); !errors.Is(err, offheap.ErrUnavailable) {
		t.Fatalf("Take() = %v, want ErrUnavailable", err)
	}
}
