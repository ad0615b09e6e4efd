//go:build cgo

package proxy

import (
	"context"
	"net"
	"testing"
	"time"

	offheap "github.com/offheap/offheap/go"
	"github.com/offheap/offheap/go/leakcheck"
)

// takeBaseline is leakcheck.Take for a test: what a test compares with, through
// leakcheck's Wait, once everything it started is closed.
func takeBaseline(t *testing.T) leakcheck.Baseline {
	t.Helper()
	base, err := leakcheck.Take()
	if err != nil {
		t.Fatal(err)
	}
	return base
}

func contextTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}

// In engine mode a head is read into a 4 KiB small buffer (RelayCounters.SmallBuffersLive),
// not a 64 KiB one: a client that sent part of its head holds a small buffer and no bulk
// buffer, and gives it back when it goes.
func TestAPartialHeadHoldsASmallBuffer(t *testing.T) {
	base := takeBaseline(t)
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
	if err := base.Wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
}
