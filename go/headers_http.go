package offheap

import (
	"net/http"
	"net/url"
	"strings"
)

// Interop with net/http. These conversions copy every byte into Go strings and maps, so
// they allocate (about as much as http.ReadRequest); use them at the edges, not per request
// on a hot path.

// HTTPHeader returns the header lines of head i as an [http.Header] with canonical keys, in
// order. It allocates.
func (h *heads) HTTPHeader(i int) http.Header {
	hdr := make(http.Header, h.NumHeaders(i))
	for name, value := range h.All(i) {
		key := http.CanonicalHeaderKey(string(name))
		hdr[key] = append(hdr[key], string(value))
	}
	return hdr
}

// Request returns request i as an [*http.Request] with the fields http.ReadRequest sets:
// Method, URL, RequestURI, Proto, Header (without Host), Host, ContentLength (-1 for
// chunked), TransferEncoding, Close; its Body is http.NoBody (the body follows the head in
// the caller's stream). It allocates.
func (b *RequestBatch) Request(i int) (*http.Request, error) {
	if err := b.Err(i); err != nil {
		return nil, err
	}
	target := string(b.Target(i))
	method := string(b.Method(i))
	var u *url.URL
	var err error
	if method == http.MethodConnect && !strings.HasPrefix(target, "/") {
		u = &url.URL{Host: target}
	} else if u, err = url.ParseRequestURI(target); err != nil {
		return nil, &Error{Op: "RequestBatch.Request", Err: ErrMalformed}
	}
	hdr := b.HTTPHeader(i)
	req := &http.Request{
		Method:     method,
		URL:        u,
		RequestURI: target,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: b.ProtoMinor(i),
		Header:     hdr,
		Host:       u.Host,
		Close:      !b.KeepAlive(i),
		Body:       http.NoBody,
	}
	if req.ProtoMinor == 0 {
		req.Proto = "HTTP/1.0"
	}
	if req.Host == "" {
		req.Host = hdr.Get("Host")
	}
	delete(hdr, "Host")
	switch b.Body(i) {
	case BodyLength:
		req.ContentLength = b.ContentLength(i)
	case BodyChunked:
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
		delete(hdr, "Transfer-Encoding")
	}
	return req, nil
}
