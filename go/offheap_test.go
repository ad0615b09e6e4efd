//go:build cgo

package offheap

import (
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

func TestVersionAndABI(t *testing.T) {
	if err := Available(); err != nil {
		t.Fatalf("Available() = %v", err)
	}
	if v := Version(); len(strings.Split(v, ".")) != 3 {
		t.Fatalf("Version() = %q, want major.minor.patch", v)
	}
	if got := ABIVersion(); got != headerABIVersion {
		t.Fatalf("ABIVersion() = %d, want the header's %d", got, headerABIVersion)
	}
}

func TestABIMismatchIsAClearError(t *testing.T) {
	if err := checkABI(1, 1); err != nil {
		t.Fatalf("checkABI(1, 1) = %v", err)
	}
	err := checkABI(2, 1)
	if !errors.Is(err, ErrABIMismatch) {
		t.Fatalf("checkABI(2, 1) = %v, want ErrABIMismatch", err)
	}
	for _, want := range []string{"ABI 2", "ABI 1", "make build"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func liveDebugHandles(t *testing.T) uint64 {
	t.Helper()
	s, err := ReadRustStats()
	if err != nil {
		t.Fatal(err)
	}
	return s.HandlesByKind[HandleKindDebug]
}

func TestCloseIsIdempotentAndLaterCallsFail(t *testing.T) {
	base := liveDebugHandles(t)
	o, err := newDebugObject()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := o.touch(0); err != nil || n != 1 {
		t.Fatalf("touch = %d, %v", n, err)
	}
	if got := liveDebugHandles(t); got != base+1 {
		t.Fatalf("live debug handles = %d, want %d", got, base+1)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if _, err := o.touch(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("touch after Close = %v, want ErrClosed", err)
	}
	if got := liveDebugHandles(t); got != base {
		t.Fatalf("live debug handles after Close = %d, want %d", got, base)
	}
}

func TestZeroForgedAndStaleHandlesAreRejected(t *testing.T) {
	o, err := newDebugObject()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := o.h.get()
	for name, h := range map[string]uint64{
		"zero":        0,
		"all ones":    ^uint64(0),
		"other gen":   id ^ 1<<40,
		"other slot":  id ^ 1<<20,
		"other kind":  id&^(0xff<<24) | 2<<24,
		"random":      0x9e3779b97f4a7c15,
		"kind only":   1 << 24,
		"gen is zero": id & 0xffffffff,
	} {
		var e *Error
		if err := touchRaw(h); !errors.Is(err, ErrClosed) || !errors.As(err, &e) || e.Status != 2 {
			t.Errorf("%s handle %#x: touch = %v, want status 2 (invalid handle)", name, h, err)
		}
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := touchRaw(id); !errors.Is(err, ErrClosed) {
		t.Errorf("stale handle: touch = %v, want ErrClosed", err)
	}
	if err := freeRaw(id); !errors.Is(err, ErrClosed) {
		t.Errorf("double free: %v, want ErrClosed", err)
	}
}

func TestCloseRacingWithCalls(t *testing.T) {
	base := liveDebugHandles(t)
	for round := 0; round < 50; round++ {
		o, err := newDebugObject()
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, 64)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < 200; i++ {
					if _, err := o.touch(100); err != nil {
						if !errors.Is(err, ErrClosed) {
							errs <- err
						}
						return
					}
				}
			}()
		}
		for g := 0; g < 3; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if err := o.Close(); err != nil {
					errs <- err
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: unexpected error %v", round, err)
		}
	}
	if got := liveDebugHandles(t); got != base {
		t.Fatalf("live debug handles = %d, want %d", got, base)
	}
}

func TestNullWithLengthIsAnError(t *testing.T) {
	if n, err := debugSum(nil, 0); err != nil || n != 0 {
		t.Fatalf("sum(NULL, 0) = %d, %v; want 0, nil", n, err)
	}
	var e *Error
	if _, err := debugSum(nil, 5); !errors.Is(err, ErrInvalidArgument) || !errors.As(err, &e) || e.Status != 3 {
		t.Fatalf("sum(NULL, 5) = %v; want ErrInvalidArgument with status 3 (NULL pointer)", err)
	}
	b := []byte{1, 2, 3}
	if n, err := debugSum(unsafe.SliceData(b), len(b)); err != nil || n != 6 {
		t.Fatalf("sum = %d, %v", n, err)
	}
	if err := debugFill(nil, 1); err != nil {
		t.Fatalf("fill(nil) = %v", err)
	}
	if err := debugFill(b, 7); err != nil || b[0] != 7 || b[2] != 7 {
		t.Fatalf("fill = %v, %v", err, b)
	}
}

func TestPanicsBecomeErrorsAndTheProcessLivesOn(t *testing.T) {
	o, err := newDebugObject()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()

	// A status-returning export.
	injectPanics(1)
	if _, err := o.touch(0); !errors.Is(err, ErrPanic) {
		t.Fatalf("touch under injected panic = %v, want ErrPanic", err)
	}
	// The panic happened before the lease was taken, so the object is not poisoned.
	if _, err := o.touch(0); err != nil {
		t.Fatalf("touch after a boundary panic = %v", err)
	}
	// A value-returning export returns its documented default.
	injectPanics(1)
	if got := ABIVersion(); got != 0 {
		t.Fatalf("ABIVersion under injected panic = %d, want the default 0", got)
	}
	// A string-returning export returns its documented default.
	injectPanics(1)
	if got := statusMessage(2); got != "offheap: unknown status" {
		t.Fatalf("status message under injected panic = %q", got)
	}
	// Stats.
	injectPanics(1)
	if _, err := ReadRustStats(); !errors.Is(err, ErrPanic) {
		t.Fatalf("ReadRustStats under injected panic = %v", err)
	}
	// A free that panics frees nothing: the object still works and Close still frees it.
	id, _ := o.h.get()
	injectPanics(1)
	if err := freeRaw(id); !errors.Is(err, ErrPanic) {
		t.Fatalf("free under injected panic = %v", err)
	}
	if _, err := o.touch(0); err != nil {
		t.Fatalf("touch after a panicking free = %v", err)
	}
	if got := ABIVersion(); got != headerABIVersion {
		t.Fatalf("ABIVersion after the panics = %d", got)
	}
	// A panic while the object is in use poisons it until Close.
	if _, err := o.touch(^uint32(0)); !errors.Is(err, ErrPanic) {
		t.Fatalf("touch panicking under the lease = %v, want ErrPanic", err)
	}
	if _, err := o.touch(0); !errors.Is(err, ErrPoisoned) {
		t.Fatalf("touch after a panic under the lease = %v, want ErrPoisoned", err)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("Close of a poisoned object = %v", err)
	}
}

func TestHotCallsAllocateNothing(t *testing.T) {
	o, err := newDebugObject()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	buf := make([]byte, 64)
	for name, f := range map[string]func(){
		"touch":          func() { _, _ = o.touch(0) },
		"ReadRustStats":  func() { _, _ = ReadRustStats() },
		"ABIVersion":     func() { _ = ABIVersion() },
		"slice argument": func() { _ = debugFill(buf, 1) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}

func TestCleanupFreesForgottenObjects(t *testing.T) {
	base := liveDebugHandles(t)
	func() {
		for i := 0; i < 10; i++ {
			if _, err := newDebugObject(); err != nil {
				t.Fatal(err)
			}
		}
	}()
	for i := 0; i < 20 && liveDebugHandles(t) != base; i++ {
		runtime.GC()
		runtime.Gosched()
	}
	if got := liveDebugHandles(t); got != base {
		t.Fatalf("live debug handles after GC = %d, want %d (cleanup backstop)", got, base)
	}
}

func TestStatusMessagesComeFromTheLibrary(t *testing.T) {
	if got := statusMessage(2); !strings.Contains(got, "invalid handle") {
		t.Fatalf("statusMessage(2) = %q", got)
	}
	if got := statusMessage(123456); got != "offheap: unknown status" {
		t.Fatalf("statusMessage(unknown) = %q", got)
	}
}
