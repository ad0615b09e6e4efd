package benches

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"

	offheap "github.com/offheap/offheap/go"
	"github.com/offheap/offheap/tests/requests"
	"github.com/valyala/fasthttp"
)

// httparse's benchmark requests, the same bytes as offheap's Go tests and httparse's own
// benchmarks measure (tests/requests).
var (
	kittyhell = requests.Kittyhell
	reqShort  = requests.ReqShort
)

const batchLen = 16

var sinkInt int

// perRequest reports the cost of one request head when each op parses batchLen of them.
func perRequest(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batchLen), "ns/req")
}

// BenchmarkHeaders parses 16 request heads per op (one connection's pipelined requests, or
// the heads of 16 connections) with offheap, net/http and fasthttp; the criterion bench
// headers/*_batch/httparse_x16 is native httparse over the same 16 heads. Every variant
// checks what it parsed.
func BenchmarkHeaders(b *testing.B) {
	if err := offheap.Available(); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name, req, host string
		pipelined       bool // REQ_SHORT is HTTP/1.0 without keep-alive: nothing may follow it
	}{
		{"kittyhell_x16", kittyhell, "www.kittyhell.com", true},
		{"req_short_x16", reqShort, "example.com", false},
	} {
		input := []byte(strings.Repeat(tc.req, batchLen))
		offsets := make([]uint32, batchLen)
		for i := range offsets {
			offsets[i] = uint32(i * len(tc.req))
		}
		// REQ_SHORT is not a pipelined connection (HTTP/1.0, no keep-alive): only ParseEach
		// below measures it.
		runIf(b, tc.pipelined, tc.name+"/offheap", func(b *testing.B) {
			batch := offheap.NewRequestBatch(batchLen)
			b.SetBytes(int64(len(input)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := batch.Parse(input); err != nil || batch.Len() != batchLen {
					b.Fatalf("parsed %d: %v", batch.Len(), err)
				}
				sinkInt += len(batch.Known(batchLen-1, offheap.KnownHost))
			}
			perRequest(b)
			if string(batch.Header(batchLen-1, "Host")) != tc.host || !batch.Complete(batchLen-1) {
				b.Fatal("wrong parse")
			}
		})
		b.Run(tc.name+"/offheap_each", func(b *testing.B) {
			batch := offheap.NewRequestBatch(batchLen)
			b.SetBytes(int64(len(input)))
			b.ReportAllocs()
			for b.Loop() {
				if err := batch.ParseEach(input, offsets); err != nil || batch.Len() != batchLen {
					b.Fatalf("parsed %d: %v", batch.Len(), err)
				}
				sinkInt += len(batch.Known(batchLen-1, offheap.KnownHost))
			}
			perRequest(b)
			if string(batch.Header(batchLen-1, "Host")) != tc.host {
				b.Fatal("wrong parse")
			}
		})
		b.Run(tc.name+"/offheap_one_per_call", func(b *testing.B) {
			batch := offheap.NewRequestBatch(1)
			one := []byte(tc.req)
			b.SetBytes(int64(len(input)))
			b.ReportAllocs()
			for b.Loop() {
				for range batchLen {
					if _, err := batch.Parse(one); err != nil || !batch.Complete(0) {
						b.Fatal("parse failed")
					}
				}
			}
			perRequest(b)
		})
		b.Run(tc.name+"/nethttp", func(b *testing.B) {
			conn := newReplay(input)
			b.SetBytes(int64(len(input)))
			b.ReportAllocs()
			for b.Loop() {
				br := conn.rewind()
				for range batchLen {
					req, err := http.ReadRequest(br)
					if err != nil || req.Host != tc.host {
						b.Fatalf("ReadRequest: %v", err)
					}
				}
			}
			perRequest(b)
		})
		b.Run(tc.name+"/fasthttp", func(b *testing.B) {
			conn := newReplay(input)
			var h fasthttp.RequestHeader
			b.SetBytes(int64(len(input)))
			b.ReportAllocs()
			for b.Loop() {
				br := conn.rewind()
				for range batchLen {
					if err := h.Read(br); err != nil || string(h.Host()) != tc.host {
						b.Fatalf("RequestHeader.Read: %v", err)
					}
				}
			}
			perRequest(b)
		})
	}
}

// replay feeds a batch's bytes to a reader-based peer (net/http, fasthttp) the way a server's
// connection does: one bufio.Reader of the usual 4 KiB, reused, that each op rewinds to the
// first head.
type replay struct {
	input []byte
	rd    *bytes.Reader
	br    *bufio.Reader
}

func newReplay(input []byte) *replay {
	rd := bytes.NewReader(input)
	return &replay{input: input, rd: rd, br: bufio.NewReaderSize(rd, 4096)}
}

// rewind returns the connection's reader at the batch's first head.
func (r *replay) rewind() *bufio.Reader {
	r.rd.Reset(r.input)
	r.br.Reset(r.rd)
	return r.br
}

// runIf runs the sub-benchmark only when cond holds, so a case that does not apply reports
// no row instead of an empty one.
func runIf(b *testing.B, cond bool, name string, f func(*testing.B)) {
	if cond {
		b.Run(name, f)
	}
}
