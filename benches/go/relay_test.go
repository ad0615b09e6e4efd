package benches

import (
	"bufio"
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	offheap "github.com/offheap/offheap/go"
	"github.com/offheap/offheap/tests/loopback"
)

// relayRig is a source connection fed endlessly by a writer goroutine and a destination
// connection drained (and counted) by a reader goroutine; benchmarks relay from src to dst.
type relayRig struct {
	src, dst       *net.TCPConn
	client, server *net.TCPConn
	received       atomic.Int64
	done           chan struct{}
}

func newRelayRig(b *testing.B) *relayRig {
	r := &relayRig{done: make(chan struct{})}
	var err error
	if r.client, r.src, r.dst, r.server, err = loopback.Ends(); err != nil {
		b.Fatal(err)
	}
	go func() {
		block := make([]byte, 1<<20)
		for {
			if _, err := r.client.Write(block); err != nil {
				return
			}
		}
	}()
	go func() {
		defer close(r.done)
		buf := make([]byte, 1<<20)
		for {
			n, err := r.server.Read(buf)
			r.received.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	return r
}

// finish closes the rig and checks that exactly want bytes arrived.
func (r *relayRig) finish(b *testing.B, want int64) {
	r.dst.Close()
	<-r.done
	r.client.Close()
	r.src.Close()
	r.server.Close()
	if got := r.received.Load(); got != want {
		b.Fatalf("destination received %d bytes, want %d", got, want)
	}
}

// cpuTime is the process's user+system CPU time in seconds.
func cpuTime() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// meterBytes sets the benchmark's bytes per operation and allocation reporting and starts
// the CPU clock; the returned report(ops) adds the CPU per GiB for ops operations of size
// bytes (the whole process: feeder and drain included, the same for every peer).
func meterBytes(b *testing.B, size int) (report func(ops int64)) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	cpu0 := cpuTime()
	return func(ops int64) {
		cpu := cpuTime() - cpu0
		b.ReportMetric(cpu*1e3/(float64(ops*int64(size))/(1<<30)), "cpu-ms/GiB")
	}
}

// measure runs relayOne(size) per iteration and reports MB/s, allocations and CPU per GiB
// (the whole process: feeder and drain included, the same for every peer).
func measure(b *testing.B, size int, relayOne func(r *relayRig, size int) error) {
	rig := newRelayRig(b)
	report := meterBytes(b, size)
	var n int64
	for b.Loop() {
		if err := relayOne(rig, size); err != nil {
			b.Fatal(err)
		}
		n++
	}
	report(n)
	rig.finish(b, n*int64(size))
}

// onlyReader and onlyWriter hide ReadFrom/WriteTo, as an HTTP body and a ResponseWriter do:
// this is the copy path of httputil.ReverseProxy.
type onlyReader struct{ io.Reader }
type onlyWriter struct{ io.Writer }

var copyPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// offheapRelay relays with an offheap Relay: copying (the default), or with splice(2).
func offheapRelay(b *testing.B, splice bool) func(r *relayRig, size int) error {
	rl, err := offheap.NewRelay()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rl.Close() })
	var bound *relayRig
	ctx := context.Background()
	return func(r *relayRig, size int) error {
		if bound != r {
			rl.Bind(r.src, r.dst)
			rl.SetSplice(splice)
			bound = r
		}
		_, err := rl.Copy(ctx, offheap.Exact(int64(size)))
		return err
	}
}

// BenchmarkRelayBulk: bulk throughput of 1 MiB per operation over loopback TCP: offheap,
// Go's io.Copy through a bufio.Reader (the path of HTTP bodies), Go's own splice
// (io.CopyN between two *net.TCPConn), and the bound of any relay: the same feeder and a
// reader with no relay hop between them. The native Rust loops are the criterion benches
// relay_native/{splice,copy}_loop_1MiB.
func BenchmarkRelayBulk(b *testing.B) {
	if err := offheap.Available(); err != nil {
		b.Fatal(err)
	}
	const size = 1 << 20
	b.Run("offheap_copy", func(b *testing.B) { measure(b, size, offheapRelay(b, false)) })
	b.Run("offheap_splice", func(b *testing.B) { measure(b, size, offheapRelay(b, true)) })
	b.Run("offheap_engine_tunnel", func(b *testing.B) { engineTunnel(b, size) })
	b.Run("go_bufio_copy", func(b *testing.B) {
		var br *bufio.Reader
		var bound *relayRig
		measure(b, size, func(r *relayRig, size int) error {
			if bound != r {
				br, bound = bufio.NewReader(r.src), r
			}
			_, err := io.Copy(onlyWriter{r.dst}, io.LimitReader(br, int64(size)))
			return err
		})
	})
	b.Run("no_relay", func(b *testing.B) { noRelay(b, size) })
	b.Run("go_splice", func(b *testing.B) {
		measure(b, size, func(r *relayRig, size int) error {
			_, err := io.CopyN(r.dst, r.src, int64(size))
			return err
		})
	})
}

// BenchmarkRelayBody: one body per operation (16 KiB, 1 MiB): offheap (copying, the default,
// and with splice) beside io.CopyBuffer with sync.Pool buffers between a plain reader and
// writer (httputil.ReverseProxy's way).
func BenchmarkRelayBody(b *testing.B) {
	if err := offheap.Available(); err != nil {
		b.Fatal(err)
	}
	for _, sz := range []struct {
		name string
		size int
	}{{"16KiB", 16 << 10}, {"1MiB", 1 << 20}} {
		b.Run(sz.name+"/offheap", func(b *testing.B) { measure(b, sz.size, offheapRelay(b, false)) })
		b.Run(sz.name+"/offheap_splice", func(b *testing.B) { measure(b, sz.size, offheapRelay(b, true)) })
		b.Run(sz.name+"/go_copybuffer_pool", func(b *testing.B) {
			measure(b, sz.size, func(r *relayRig, size int) error {
				buf := copyPool.Get().(*[]byte)
				_, err := io.CopyBuffer(onlyWriter{r.dst}, onlyReader{io.LimitReader(r.src, int64(size))}, *buf)
				copyPool.Put(buf)
				return err
			})
		})
	}
}

// engineTunnel measures a tunnel on the relay engine: the benchmark goroutine writes size
// bytes per operation into one end, a goroutine drains the other end, and the engine's Rust
// worker relays between them with no Go involvement. At the end the writer half-closes, the
// tunnel finishes, and every byte is checked to have arrived.
func engineTunnel(b *testing.B, size int) {
	e, err := offheap.NewEngine(1, 16)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	client, a, bb, server, err := loopback.Ends()
	if err != nil {
		b.Fatal(err)
	}
	if err := e.SubmitTunnel(1, a, bb); err != nil {
		b.Fatal(err)
	}
	a.Close()
	bb.Close()
	var received atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1<<20)
		for {
			n, err := server.Read(buf)
			received.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	block := make([]byte, size)
	report := meterBytes(b, size)
	var n int64
	for b.Loop() {
		if _, err := client.Write(block); err != nil {
			b.Fatal(err)
		}
		n++
	}
	client.CloseWrite()
	<-done
	report(n)
	server.Close()
	comps := make([]offheap.Completion, 1)
	if _, err := e.Wait(context.Background(), comps); err != nil || comps[0].Err != nil {
		b.Fatalf("tunnel completion: %v %+v", err, comps[0])
	}
	client.Close()
	if got := received.Load(); got != n*int64(size) || comps[0].Forward != uint64(got) {
		b.Fatalf("received %d bytes, relayed %d, want %d", got, comps[0].Forward, n*int64(size))
	}
}

// noRelay is the bound of every relay in BenchmarkRelayBulk: the same feeder goroutine
// writes 1 MiB blocks into one connection, and the benchmark goroutine reads size bytes per
// operation straight from its other end. A relay adds a second loopback hop to this.
func noRelay(b *testing.B, size int) {
	client, server, err := loopback.Pair()
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		block := make([]byte, 1<<20)
		for i := range block {
			block[i] = 0x5a
		}
		for {
			if _, err := client.Write(block); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, size)
	report := meterBytes(b, size)
	var n int64
	for b.Loop() {
		buf[0], buf[size-1] = 0, 0
		if _, err := io.ReadFull(server, buf); err != nil {
			b.Fatal(err)
		}
		if buf[0] != 0x5a || buf[size-1] != 0x5a {
			b.Fatal("the bytes written did not arrive")
		}
		n++
	}
	report(n)
	server.Close()
	client.Close()
}
