package promparse

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// smallBufferListener gives every accepted connection a 4 KiB kernel send buffer, so that a
// slow client holds the server back after a few KiB instead of after megabytes of socket
// buffer.
type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// slowReader hands out one byte per step until stall has passed, then calls onStall once and
// reads at full speed.
type slowReader struct {
	r       net.Conn
	step    time.Duration
	until   time.Time
	onStall func()
	once    sync.Once
}

func (s *slowReader) Read(p []byte) (int, error) {
	if time.Now().Before(s.until) {
		time.Sleep(s.step)
		return s.r.Read(p[:1])
	}
	s.once.Do(s.onStall)
	return s.r.Read(p)
}

// TestSlowScrapeHoldsOneChunkWhileIngestGoesOn starts a scrape of about 10 MB of exposition
// through a client that reads one byte per second for 3 s, with 4 KiB socket buffers on both
// sides (the server is held back as soon as they fill, whatever the client's rate). Meanwhile
// ingest keeps taking batches, and the Rust heap grows by no more than the snapshot and a
// chunk, not by the exposition; the exposition then reads whole at full speed.
func TestSlowScrapeHoldsOneChunkWhileIngestGoesOn(t *testing.T) {
	agg, err := offheap.NewAggregator(offheap.AggregatorConfig{Mode: offheap.Cumulative, KeyFormat: offheap.KeySeries,
		MaxKeyLen: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer agg.Close()
	const series = 2000
	pad := strings.Repeat("p", 1000)
	var batch offheap.SampleBatch
	for i := range series {
		batch.AddKey(offheap.AppendSeriesKey(nil, "slow", "pad", pad, "i", strconv.Itoa(i)), sec, float64(i))
	}
	if acc, err := agg.Ingest(&batch, sec); err != nil || acc.Accepted != series {
		t.Fatal(acc, err)
	}
	st, _ := agg.Stats()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(agg.Handler(offheap.HandlerOptions{Now: func() int64 { return 2 * sec }}))
	srv.Listener = smallBufferListener{ln}
	srv.Start()
	defer srv.Close()

	var ingests atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := agg.Ingest(&batch, sec); err != nil {
				t.Error(err)
				return
			}
			ingests.Add(1)
		}
	}()
	before, _ := offheap.ReadRustStats()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nAccept: text/plain\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	var during int64
	var rust offheap.RustStats
	sr := &slowReader{r: conn, step: time.Second, until: time.Now().Add(3 * time.Second), onStall: func() {
		during = ingests.Load()
		rust, _ = offheap.ReadRustStats()
	}}
	resp, err := http.ReadResponse(bufio.NewReaderSize(sr, 16), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Through the stall: then the client goes away (at 4 KiB a round trip the rest would take
	// minutes), and a client at full speed reads the whole exposition.
	for during == 0 && rust.LiveBytes == 0 {
		var one [1]byte
		if _, err := resp.Body.Read(one[:]); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	close(stop)
	<-done
	_, body := scrape(t, srv.Config.Handler, "text/plain", true)
	mfs := mustDecode(t, body, formats[0])
	if len(mfs) != 1 || len(mfs[0].GetMetric()) != series {
		t.Fatalf("the scrape read %d families, %d series", len(mfs), len(mfs[0].GetMetric()))
	}
	if during < 5 {
		t.Errorf("only %d ingest batches went through while the scrape stalled", during)
	}
	// The exposition is about 5 KiB per series (10 MB); the snapshot about 1.1 KiB per series
	// (its keys), and the library holds one 16 KiB chunk of output besides.
	grown := int64(rust.LiveBytes) - int64(before.LiveBytes)
	if limit := int64(series)*1300 + 1<<20; grown > limit {
		t.Errorf("the Rust heap grew by %d bytes during the stall (keys %d bytes), over %d", grown, st.KeyBytes, limit)
	}
	t.Logf("%d batches ingested while stalled; Rust heap +%d bytes", during, grown)
}
