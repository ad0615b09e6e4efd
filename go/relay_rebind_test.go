//go:build cgo

package offheap

import (
	"bytes"
	"context"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// reusedConn is a connection wrapper that a service reuses for connection after connection
// (as go/proxy's records do): it fetches its RawConn once per connection.
type reusedConn struct {
	*net.TCPConn
	raw syscall.RawConn
}

func (c *reusedConn) attach(tc *net.TCPConn) {
	raw, err := tc.SyscallConn()
	if err != nil {
		panic(err)
	}
	c.TCPConn, c.raw = tc, raw
}

func (c *reusedConn) SyscallConn() (syscall.RawConn, error) { return c.raw, nil }

// TestRebindAWrapperRepointedAtANewConnection: a relay bound to wrappers that are then
// re-pointed at new connections (the old ones closed, nothing unbound) relays between the new
// ones: it knows a connection by its wrapper and its RawConn, not by the wrapper alone, whose
// old fd the poller no longer watches.
func TestRebindAWrapperRepointedAtANewConnection(t *testing.T) {
	src, dst := new(reusedConn), new(reusedConn)
	r, err := NewRelay()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for round := range 3 {
		client, s, d, server := relayConns(t)
		src.attach(s)
		dst.attach(d)
		if err := r.Bind(src, dst); err != nil {
			t.Fatalf("round %d: Bind: %v", round, err)
		}
		if err := r.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		body := bytes.Repeat([]byte{byte('a' + round)}, 100<<10)
		go func() {
			time.Sleep(10 * time.Millisecond) // the relay waits for the first bytes
			client.Write(body)
		}()
		got := make(chan []byte, 1)
		go func() { b, _ := io.ReadAll(io.LimitReader(server, int64(len(body)))); got <- b }()
		st, err := r.Copy(context.Background(), Exact(int64(len(body))))
		if err != nil || st.BytesOut != uint64(len(body)) {
			t.Fatalf("round %d: Copy = %+v, %v", round, st, err)
		}
		if b := <-got; !bytes.Equal(b, body) {
			t.Fatalf("round %d: the server got %d bytes, not the body", round, len(b))
		}
		for _, c := range [...]*net.TCPConn{client, s, d, server} {
			c.Close()
		}
	}
}
