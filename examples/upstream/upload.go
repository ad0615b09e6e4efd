package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
)

// UploadPrefix is the path prefix of the upload check: POST UploadPrefix+size.Path.
const UploadPrefix = "/upload"

// uploadCounters counts the checked uploads; the benchmark reads them from /debug/gcstats
// (uploads_ok, upload_failures) and reports failures as errors.
type uploadCounters struct {
	ok, failed atomic.Uint64
}

func (u *uploadCounters) counterMap() map[string]uint64 {
	return map[string]uint64{"uploads_ok": u.ok.Load(), "upload_failures": u.failed.Load()}
}

// chunkPool holds the read buffers of the upload check, so checking a 1 MiB body allocates
// nothing per request on the upstream (whose CPU shares a core with the load generator).
var chunkPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// handler answers POST with 200 "OK" when the request body is exactly want, and 400 with the
// reason (counted as a failure) otherwise.
func (u *uploadCounters) handler(want []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		buf := chunkPool.Get().(*[]byte)
		err := checkBody(r.Body, want, *buf)
		chunkPool.Put(buf)
		if err != nil {
			u.failed.Add(1)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		u.ok.Add(1)
		w.Header()["Content-Length"] = []string{"2"}
		_, _ = w.Write(okBody)
	})
}

var okBody = []byte("OK")

// checkBody reads r to its end through buf and returns an error unless it read exactly want.
func checkBody(r io.Reader, want, buf []byte) error {
	off := 0
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if off+n > len(want) {
				return fmt.Errorf("upload longer than the %d bytes expected", len(want))
			}
			if !bytes.Equal(buf[:n], want[off:off+n]) {
				i := 0
				for buf[i] == want[off+i] {
					i++
				}
				return fmt.Errorf("upload differs from the expected body at byte %d", off+i)
			}
			off += n
		}
		if errors.Is(err, io.EOF) {
			if off != len(want) {
				return fmt.Errorf("upload of %d bytes, want %d", off, len(want))
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the upload after %d bytes: %w", off, err)
		}
	}
}
