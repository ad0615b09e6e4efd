//go:build cgo

package offheap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
)

// rawCached is a connection whose RawConn is fetched once, so handing it to the engine
// allocates nothing.
type rawCached struct {
	*net.TCPConn
	raw syscall.RawConn
}

func (c rawCached) SyscallConn() (syscall.RawConn, error) { return c.raw, nil }

func cached(t *testing.T, c *net.TCPConn) Conn {
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return rawCached{c, raw}
}

// drain waits for n completions and returns them by id.
func drain(t *testing.T, e *Engine, n int) map[uint64]Completion {
	t.Helper()
	got := map[uint64]Completion{}
	comps := make([]Completion, 16)
	for len(got) < n {
		k, err := e.Wait(context.Background(), comps)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range comps[:k] {
			got[c.ID] = c
		}
	}
	return got
}

// TestEngineSubmitBatch: more jobs than one cgo call carries, bodies and tunnels mixed, with
// jobs refused on their own (nil and closed connections, the in-flight cap) while the rest
// relay their bytes intact; then the Rust heap and fds are back to their baseline.
func TestEngineSubmitBatch(t *testing.T) {
	base := takeBaseline(t)
	const total, cap = 2*submitChunk + 7, 2*submitChunk + 4
	e := newEngine(t, 2, cap)
	type pair struct{ client, src, dst, server *net.TCPConn }
	pairs := make([]pair, total)
	jobs := make([]EngineJob, total)
	closed, _ := tcpPair(t)
	closed.Close()
	for i := range jobs {
		client, src := tcpPair(t)
		dst, server := tcpPair(t)
		pairs[i] = pair{client, src, dst, server}
		jobs[i] = EngineJob{ID: uint64(i), A: src, B: dst, Tunnel: i%3 == 0, Framing: Exact(int64(10 + i))}
	}
	jobs[5].A = nil                      // refused: no connection
	jobs[70].B = closed                  // refused: a closed connection has no fd to lend
	jobs[10].Framing = Framing{kind: 99} // refused: framing the library does not know
	refused := map[int]error{5: ErrInvalidArgument, 70: ErrInvalidArgument, 10: ErrInvalidArgument}
	// The in-flight cap: the last jobs past it are refused.
	accepted, err := e.SubmitBatch(jobs)
	if err != nil {
		t.Fatal(err)
	}
	over := total - len(refused) - cap
	for i := total - over; i < total; i++ {
		refused[i] = ErrOutOfMemory
	}
	if accepted != total-len(refused) {
		t.Fatalf("accepted %d, want %d", accepted, total-len(refused))
	}
	for i, j := range jobs {
		if want, bad := refused[i]; bad {
			if !errors.Is(j.Err, want) {
				t.Fatalf("job %d: Err = %v, want %v", i, j.Err, want)
			}
			continue
		}
		if j.Err != nil {
			t.Fatalf("job %d: %v", i, j.Err)
		}
	}
	if n, _ := e.InFlight(); n != accepted {
		t.Fatalf("in flight %d, want %d", n, accepted)
	}
	// The engine holds duplicates: the caller's connections can go.
	for _, p := range pairs {
		p.src.Close()
		p.dst.Close()
	}
	for i, p := range pairs {
		if _, bad := refused[i]; bad {
			continue
		}
		msg := fmt.Sprintf("%0*d", 10+i, i)
		go func() {
			p.client.Write([]byte(msg + "and more"))
			p.client.CloseWrite()
			if jobs[i].Tunnel {
				p.server.Write([]byte("back"))
				p.server.CloseWrite()
			}
		}()
	}
	got := drain(t, e, accepted)
	for i, p := range pairs {
		if _, bad := refused[i]; bad {
			p.client.Close()
			p.server.Close()
			continue
		}
		out, _ := io.ReadAll(p.server)
		want := fmt.Sprintf("%0*d", 10+i, i)
		if jobs[i].Tunnel {
			want += "and more"
			if back, _ := io.ReadAll(p.client); string(back) != "back" {
				t.Errorf("tunnel %d: back %q", i, back)
			}
		}
		if c := got[uint64(i)]; c.Err != nil || string(out) != want || c.Forward != uint64(len(want)) {
			t.Errorf("job %d: got %q (%+v), want %q", i, out, c, want)
		}
		p.client.Close()
		p.server.Close()
	}
	e.Close()
	if _, err := e.SubmitBatch(jobs[:1]); !errors.Is(err, ErrClosed) {
		t.Fatalf("SubmitBatch after Close = %v", err)
	}
	base.check(t)
}

// TestEngineSubmitBatchAllocs: a batch over connections that lend their RawConn without
// allocating costs no Go allocation (Exact(0) bodies complete at once, so each round drains).
func TestEngineSubmitBatchAllocs(t *testing.T) {
	e := newEngine(t, 1, 64)
	defer e.Close()
	jobs := make([]EngineJob, 8)
	for i := range jobs {
		_, src, dst, _ := relayConns(t)
		jobs[i] = EngineJob{ID: uint64(i), A: cached(t, src), B: cached(t, dst), Framing: Exact(0)}
	}
	comps := make([]Completion, len(jobs))
	ctx := context.Background()
	allocs := testing.AllocsPerRun(50, func() {
		if n, err := e.SubmitBatch(jobs); err != nil || n != len(jobs) {
			t.Fatalf("SubmitBatch = %d, %v", n, err)
		}
		for got := 0; got < len(jobs); {
			n, err := e.Wait(ctx, comps)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	})
	if allocs != 0 {
		t.Fatalf("SubmitBatch + Wait: %v allocations per batch", allocs)
	}
}
