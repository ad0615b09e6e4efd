//go:build cgo

package offheap

import (
	"bufio"
	"bytes"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// goRejectsWhatWeAccept lists why net/http may refuse a head that strict offheap accepts;
// every entry is a rule where net/http is stricter than RFC 9112 or checks semantics.
var goRejectsWhatWeAccept = []string{
	"unsupported transfer encoding", // net/http knows only the exact coding "chunked"
	"too many transfer encodings",   // net/http allows one Transfer-Encoding line, RFC 9110 §5.3 a list
	"invalid URI",                   // url.ParseRequestURI checks percent-escapes, offheap only bytes
	"invalid URL escape",
	"invalid port",
	"invalid character", // url.Parse on odd but RFC-valid absolute-form or authority-form targets
	"missing protocol scheme",
	"first path segment in URL cannot contain colon",
	"malformed HTTP request", // an empty line before the request-line (offheap skips it)
	"invalid method",
}

// FuzzParseRequest checks, on any input, that the parser never fails the call, that every
// span lies inside the input, and that a head offheap accepts and net/http also accepts gets
// the same method, target and header values from both (the differential test against a
// second implementation).
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte(kittyhell))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\nPOST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx"))
	for _, c := range readCorpus(f) {
		if c.request {
			f.Add(c.head)
		}
	}
	b := NewRequestBatch(8)
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := b.Parse(data); err != nil {
			t.Fatalf("Parse: %v", err)
		}
		for i := range b.Len() {
			r := &b.recs[i]
			if int(r.start) > len(data) {
				t.Fatalf("start %d beyond %d", r.start, len(data))
			}
			if !b.Complete(i) {
				if b.Incomplete(i) {
					continue
				}
				if int(r.errorOffset) >= len(data) {
					t.Fatalf("error offset %d beyond %d", r.errorOffset, len(data))
				}
				continue
			}
			head := b.Head(i)
			for name, value := range b.All(i) {
				_, _ = name, value // slicing checks the spans
			}
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
			if err != nil {
				if !slices.ContainsFunc(goRejectsWhatWeAccept, func(s string) bool { return strings.Contains(err.Error(), s) }) {
					t.Fatalf("offheap accepts %q, net/http rejects: %v", head, err)
				}
				continue
			}
			if req.Method != string(b.Method(i)) || req.RequestURI != string(b.Target(i)) {
				t.Fatalf("request-line: net/http %q %q, offheap %q %q", req.Method, req.RequestURI, b.Method(i), b.Target(i))
			}
			for name, value := range b.All(i) {
				key := http.CanonicalHeaderKey(string(name))
				if key == "Host" || key == "Transfer-Encoding" {
					continue // net/http moves these out of the map
				}
				if !slices.Contains(req.Header[key], string(value)) {
					t.Fatalf("%s: net/http %q, offheap %q", key, req.Header[key], value)
				}
			}
		}
	})
}
