//go:build !cgo

package offheap

import (
	"errors"
	"strings"
	"testing"
)

func TestWithoutCgoEverythingIsUnavailable(t *testing.T) {
	err := Available()
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Available() = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "CGO_ENABLED=1") {
		t.Fatalf("the message must say how to build with cgo: %q", err)
	}
	if _, err := ReadRustStats(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("ReadRustStats() = %v, want ErrUnavailable", err)
	}
	if r := ReadHeapReport(); !errors.Is(r.RustErr, ErrUnavailable) {
		t.Fatalf("ReadHeapReport().RustErr = %v, want ErrUnavailable", r.RustErr)
	}
	if Version() != "" || ABIVersion() != 0 {
		t.Fatal("Version/ABIVersion must be empty without cgo")
	}
}
