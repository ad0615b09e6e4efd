//go:build cgo

package leakcheck_test

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	offheap "github.com/offheap/offheap/go"
	"github.com/offheap/offheap/go/leakcheck"
)

// notBack is the limit of a Wait that must fail: what is left open stays open that long.
const notBack = 100 * time.Millisecond

func take(t *testing.T) leakcheck.Baseline {
	t.Helper()
	base, err := leakcheck.Take()
	if err != nil {
		t.Fatal(err)
	}
	if base.FDs <= 0 || base.Goroutines <= 0 {
		t.Fatalf("baseline %+v: want the process's fds and goroutines", base)
	}
	return base
}

// wantNamed fails unless err names each of want.
func wantNamed(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Wait returned nil; want an error naming %q", want)
	}
	t.Logf("Wait: %v", err)
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Wait's error does not name %q: %v", w, err)
		}
	}
}

// A connection, a goroutine serving it, a Buffer that read from it: once all are closed and
// the goroutine ended, Wait finds everything back.
func TestWaitIsNilOnceEverythingIsClosed(t *testing.T) {
	base := take(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, err = c.Write([]byte("hello"))
			c.Close()
		}
		served <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	b, err := offheap.NewBuffer()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for b.Len() < len("hello") {
		if _, err := b.ReadFrom(raw); err != nil {
			t.Fatal(err)
		}
	}
	if got := string(b.UnsafeBytes()); got != "hello" {
		t.Fatalf("read %q, want hello", got)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	b.Close()
	c.Close()
	ln.Close()
	if err := base.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// Buffers left open: Wait names the handles (by kind), the Rust heap and the relay buffers, and
// finds everything back once they are closed.
func TestWaitNamesObjectsLeftOpen(t *testing.T) {
	base := take(t)
	was := base.Rust.HandlesByKind[offheap.HandleKindBuffer]
	var open []*offheap.Buffer
	// Two buffers of 64 KiB hold more than the heap's slack.
	for range 2 {
		b, err := offheap.NewBuffer()
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, b)
	}
	wantNamed(t, base.Wait(notBack), "handles", "buffer "+itoa(was+2)+" (was "+itoa(was)+")",
		"Rust heap", "relay buffers 2")
	for _, b := range open {
		b.Close()
	}
	if err := base.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// A file left open: Wait names the fds and the file's path.
func TestWaitNamesANewFD(t *testing.T) {
	base := take(t)
	f, err := os.CreateTemp(t.TempDir(), "left-open")
	if err != nil {
		t.Fatal(err)
	}
	err = base.Wait(notBack)
	f.Close()
	wantNamed(t, err, "fds "+itoa(uint64(base.FDs+1))+" (was "+itoa(uint64(base.FDs))+"; new: fd ", "-> "+f.Name())
	if err := base.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// A goroutine still running: Wait names the goroutines.
func TestWaitNamesAGoroutineLeftRunning(t *testing.T) {
	base := take(t)
	stop := make(chan struct{})
	go func() { <-stop }()
	err := base.Wait(notBack)
	close(stop)
	wantNamed(t, err, "goroutines "+itoa(uint64(base.Goroutines+1))+" (was "+itoa(uint64(base.Goroutines))+")")
	if err := base.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}

// A Baseline made by hand has no record of which fds were open: every fd open now is named.
func TestABaselineByHandNamesEveryFD(t *testing.T) {
	err := leakcheck.Baseline{Goroutines: 1 << 20, Rust: offheap.RustStats{LiveHandles: 1 << 40, LiveBytes: 1 << 40}}.Wait(0)
	wantNamed(t, err, "fds ", "(was 0; new: fd 0 -> ")
	for _, quiet := range []string{"goroutines", "handles", "Rust heap"} {
		if strings.Contains(err.Error(), quiet) {
			t.Errorf("Wait names %q, which is below its baseline: %v", quiet, err)
		}
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
