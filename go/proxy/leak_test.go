//go:build cgo

package proxy

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// baseline is what a test compares with once everything it started is closed.
type baseline struct {
	fds, goroutines int
	rust            offheap.RustStats
}

func openFds() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// takeBaseline settles the lazily built state (the netpoller, the handle table, the pools)
// first, so the baseline shows growth, not first use.
func takeBaseline() baseline {
	if b, err := offheap.NewBuffer(); err == nil {
		b.Close()
	}
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			c.Close()
		}
		ln.Close()
	}
	offheap.TrimRelayPools()
	runtime.GC()
	s, _ := offheap.ReadRustStats()
	return baseline{fds: openFds(), goroutines: runtime.NumGoroutine(), rust: s}
}

// wait polls until fds, goroutines, handles, relay buffers and the Rust heap are back to the
// baseline (or below it: objects an earlier test dropped may be collected meanwhile), or says
// what is not.
func (b baseline) wait(limit time.Duration) string {
	deadline := time.Now().Add(limit)
	for {
		runtime.GC()
		offheap.TrimRelayPools()
		s, _ := offheap.ReadRustStats()
		rc, _ := offheap.ReadRelayCounters()
		fds, g := openFds(), runtime.NumGoroutine()
		const slack = 64 << 10 // handle table segments kept for reuse
		if fds <= b.fds && g <= b.goroutines && s.LiveHandles <= b.rust.LiveHandles &&
			s.LiveBytes <= b.rust.LiveBytes+slack && rc.PipesLive == 0 && rc.BuffersLive == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("not back to baseline: fds %d (was %d), goroutines %d (was %d), handles %d (was %d), "+
				"Rust heap %d (was %d), pipes %d, buffers %d", fds, b.fds, g, b.goroutines, s.LiveHandles,
				b.rust.LiveHandles, s.LiveBytes, b.rust.LiveBytes, rc.PipesLive, rc.BuffersLive)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func contextTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// In engine mode a head is read into a 4 KiB small buffer (RelayCounters.SmallBuffersLive),
// not a 64 KiB one: a client that sent part of its head holds a small buffer and no bulk
// buffer, and gives it back when it goes.
func TestAPartialHeadHoldsASmallBuffer(t *testing.T) {
	base := takeBaseline()
	f := newFixture(t, false, func(c *Config) { c.ReadHeaderTimeout = 10 * time.Second })
	before, err := offheap.ReadRelayCounters()
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("GET /size/1 HTTP/1.1\r\nHost: a\r\nX-Part")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	rc, _ := offheap.ReadRelayCounters()
	for rc.SmallBuffersLive <= before.SmallBuffersLive && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		rc, _ = offheap.ReadRelayCounters()
	}
	if rc.SmallBuffersLive != before.SmallBuffersLive+1 || rc.BulkBuffersLive != before.BulkBuffersLive {
		t.Fatalf("a partial head: small buffers %d -> %d, bulk %d -> %d; want one more small and no more bulk",
			before.SmallBuffersLive, rc.SmallBuffersLive, before.BulkBuffersLive, rc.BulkBuffersLive)
	}
	if rc.BuffersLive < rc.SmallBuffersLive+rc.BulkBuffersLive {
		t.Errorf("buffers live %d < small %d + bulk %d", rc.BuffersLive, rc.SmallBuffersLive, rc.BulkBuffersLive)
	}
	c.Close()
	ctx, cancel := contextTimeout(5 * time.Second)
	defer cancel()
	if err := f.p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	f.up.Close()
	if msg := base.wait(10 * time.Second); msg != "" {
		t.Fatal(msg)
	}
}
