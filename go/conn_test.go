//go:build cgo

package offheap

import (
	"io"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

// The connections and the baseline (fds, goroutines, Rust heap) shared by the relay, buffer
// and engine tests.

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := l.Accept()
		ch <- res{c, err}
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		t.Fatal(r.err)
	}
	return c.(*net.TCPConn), r.c.(*net.TCPConn)
}

// relayConns returns the four ends of a relay's two connections, closed when the test ends:
// client writes what the relay reads from src, the relay writes to dst what server reads.
func relayConns(t testing.TB) (client, src, dst, server *net.TCPConn) {
	t.Helper()
	client, src = tcpPair(t)
	dst, server = tcpPair(t)
	t.Cleanup(func() {
		for _, c := range [...]*net.TCPConn{client, src, dst, server} {
			c.Close()
		}
	})
	return client, src, dst, server
}

func unixPair(t testing.TB) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("unix", dir+"/s")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		ch <- c
	}()
	c, err := net.Dial("unix", dir+"/s")
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.UnixConn), (<-ch).(*net.UnixConn)
}

// duplex is a connection the tests write to and read from.
type duplex interface {
	Conn
	io.ReadWriteCloser
	CloseWrite() error
}

// baseline records open fds, goroutines and the Rust heap; check asserts they came back.
type baseline struct {
	fds, goroutines int
	rust            uint64
}

func openFds() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

func takeBaseline(t *testing.T) baseline {
	t.Helper()
	TrimRelayPools()
	s, err := ReadRustStats()
	if err != nil {
		t.Fatal(err)
	}
	return baseline{fds: openFds(), goroutines: runtime.NumGoroutine(), rust: s.LiveBytes}
}

func (b baseline) check(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		// Go's own splice (io.Copy between TCP conns) caches pipes in a sync.Pool that only
		// GC empties: collect twice so they are closed before counting fds.
		runtime.GC()
		runtime.GC()
		TrimRelayPools()
		s, _ := ReadRustStats()
		rc, _ := ReadRelayCounters()
		fds, g := openFds(), runtime.NumGoroutine()
		// The Rust heap may keep a little (a handle table segment, 16 KiB): 32 KiB slack, less
		// than one relay buffer (64 KiB), and no pipe or buffer may be alive.
		if fds <= b.fds && g <= b.goroutines && s.LiveBytes <= b.rust+32<<10 && rc.PipesLive == 0 && rc.BuffersLive == 0 {
			return
		}
		if time.Now().After(deadline) {
			ents, _ := os.ReadDir("/proc/self/fd")
			for _, e := range ents {
				l, _ := os.Readlink("/proc/self/fd/" + e.Name())
				t.Logf("fd %s -> %s", e.Name(), l)
			}
			t.Logf("relay counters %+v", rc)
			t.Fatalf("not back to baseline: fds %d (was %d), goroutines %d (was %d), rust heap %d (was %d)",
				fds, b.fds, g, b.goroutines, s.LiveBytes, b.rust)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
