package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// The proxy's own short responses.
var (
	resp400          = []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	resp405          = []byte("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	resp408          = []byte("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	resp431          = []byte("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	resp501          = []byte("HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	resp502          = []byte("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	resp502KeepAlive = []byte("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
	resp504          = []byte("HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	resp504KeepAlive = []byte("HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\n\r\n")
)

// responseBuffer is the http.ResponseWriter an ErrorHandler writes to: the response is
// collected, then sent as one whole message.
type responseBuffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseBuffer) Header() http.Header { return w.header }

func (w *responseBuffer) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *responseBuffer) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// bytes serializes the response (with Content-Length, and Connection: close when closing).
func (w *responseBuffer) bytes(closing bool) []byte {
	w.WriteHeader(http.StatusOK)
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	w.header.Del("Content-Length")
	w.header.Del("Transfer-Encoding")
	w.header.Del("Connection")
	keys := make([]string, 0, len(w.header))
	for k := range w.header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range w.header[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("Content-Length: " + strconv.Itoa(w.body.Len()) + "\r\n")
	if closing {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	b.Write(w.body.Bytes())
	return b.Bytes()
}

// errorResponse runs the ErrorHandler for a request the upstream failed (head: the request
// as it was sent, when known) and returns the response to send. It allocates: error paths
// only.
func (p *Proxy) errorResponse(head []byte, status int, cause error, closing bool) []byte {
	sentinel := ErrBadGateway
	if status == http.StatusGatewayTimeout {
		sentinel = ErrGatewayTimeout
	}
	err := fmt.Errorf("%w: %w", sentinel, cause)
	r, rerr := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
	if rerr != nil {
		r = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/"}, Proto: "HTTP/1.1",
			ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}, Body: http.NoBody}
	}
	w := &responseBuffer{header: http.Header{}}
	p.cfg.ErrorHandler(w, r, err)
	return w.bytes(closing)
}
