package offheap

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// mustPanic runs f and fails unless it panics with a message containing want.
func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want one with %q", want)
		}
		if msg, _ := r.(string); !strings.Contains(msg, want) {
			t.Fatalf("panic %v, want one with %q", r, want)
		}
	}()
	f()
}

func TestIndexOutOfRangePanicsLikeASlice(t *testing.T) {
	mustPanic(t, "offheap: index 2 out of range [0:2]", func() { checkIndex(2, 2) })
	mustPanic(t, "offheap: index -1 out of range [0:2]", func() { checkIndex(-1, 2) })
	mustPanic(t, "offheap: index 0 out of range [0:0]", func() { checkIndex(0, 0) })
	checkIndex(1, 2)
}

func TestConnClosedIsNotAClosedObject(t *testing.T) {
	err := &Error{Op: "Relay.Copy", Err: ErrConnClosed}
	if !errors.Is(err, ErrConnClosed) || !errors.Is(err, net.ErrClosed) || errors.Is(err, ErrClosed) {
		t.Fatalf("%v: want ErrConnClosed and net.ErrClosed, not ErrClosed", err)
	}
	if !strings.Contains(err.Error(), "connection closed") {
		t.Fatalf("message %q does not say the connection was closed", err)
	}
	if errors.Is(opError("Relay.Copy", ErrClosed), net.ErrClosed) {
		t.Fatal("a closed offheap object must not read as a closed connection")
	}
}

func TestUnavailableStatusIsErrUnavailable(t *testing.T) {
	if err := statusError("Op", statusUnavailable); err != ErrUnavailable {
		t.Fatalf("statusError(statusUnavailable) = %v, want ErrUnavailable itself", err)
	}
	if err := sentinelOf(123456); err != ErrInternal {
		t.Fatalf("sentinelOf(unknown) = %v, want ErrInternal", err)
	}
}
