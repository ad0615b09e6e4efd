package proxy

import (
	"bytes"
	"context"
	"errors"

	offheap "github.com/offheap/offheap/go"
)

// Limits of the chunk framing read in Go (the same as the relay's).
const (
	maxChunkLine = 4 << 10
	maxTrailers  = 16 << 10
)

var errBadChunk = errors.New("proxy: malformed chunked body")

// relayChunked forwards a chunked body from src to dst whose first bytes may already sit in
// buf (read with the head). Those bytes are framed here, in Go, only as far as the next chunk
// boundary; from there offheap's relay takes over (offheap.Chunked(), validated while relayed),
// and the data of a chunk cut by the end of buf goes through the relay too (offheap.Exact).
// fromClient marks request bodies: a failure reading the source is then the client's.
// dechunk writes only the payload (for an HTTP/1.0 client, which cannot read chunked).
func relayChunked(buf *offheap.Buffer, src, dst *sockConn, relay *offheap.Relay, fromClient, dechunk bool) error {
	srcErr := func(err error) error {
		if fromClient {
			return errors.Join(errClient, err)
		}
		return err
	}
	// fill reads more into buf; limit bounds what may be buffered while looking for a line.
	fill := func(limit int) error {
		if buf.Len() >= limit {
			return srcErr(errBadChunk)
		}
		n, err := buf.ReadFrom(src.raw)
		if err != nil {
			return srcErr(err)
		}
		if n == 0 {
			return srcErr(errBadChunk)
		}
		return nil
	}
	for {
		view := buf.UnsafeBytes()
		if len(view) == 0 {
			// At a chunk boundary with nothing buffered: the relay does the rest.
			framing := offheap.Chunked()
			if dechunk {
				framing = offheap.Dechunked()
			}
			_, err := relay.Copy(context.Background(), framing)
			if err != nil && fromClient && !errors.Is(err, offheap.ErrBrokenPipe) {
				return errors.Join(errClient, err)
			}
			return err
		}
		eol := bytes.Index(view, crlf)
		if eol < 0 {
			if err := fill(maxChunkLine); err != nil {
				return err
			}
			continue
		}
		size, ok := parseChunkSize(view[:eol])
		if !ok {
			return srcErr(errBadChunk)
		}
		if size == 0 {
			// Last chunk: forward it with the trailer section up to its empty line.
			rest := view[eol+2:]
			end := -1
			if bytes.HasPrefix(rest, crlf) {
				end = eol + 4
			} else if i := bytes.Index(rest, []byte("\r\n\r\n")); i >= 0 {
				end = eol + 2 + i + 4
			}
			if end < 0 {
				if err := fill(maxTrailers); err != nil {
					return err
				}
				continue
			}
			if !dechunk {
				if err := dst.write(view[:end], nil); err != nil {
					return err
				}
			}
			return buf.Consume(end)
		}
		line := eol + 2
		take := int(min(uint64(len(view)-line), size))
		out := view[:line+take]
		if dechunk {
			out = view[line : line+take]
		}
		if len(out) > 0 {
			if err := dst.write(out, nil); err != nil {
				return err
			}
		}
		if err := buf.Consume(line + take); err != nil {
			return err
		}
		if rest := size - uint64(take); rest > 0 {
			if _, err := relay.Copy(context.Background(), offheap.Exact(int64(rest))); err != nil {
				return srcErr(err)
			}
		}
		// The CRLF after the chunk data.
		for buf.Len() < 2 {
			if err := fill(2); err != nil {
				return err
			}
		}
		if !bytes.HasPrefix(buf.UnsafeBytes(), crlf) {
			return srcErr(errBadChunk)
		}
		if !dechunk {
			if err := dst.write(crlf, nil); err != nil {
				return err
			}
		}
		if err := buf.Consume(2); err != nil {
			return err
		}
	}
}

// parseChunkSize parses a chunk-size line (hex digits, then optional extensions after ';').
func parseChunkSize(line []byte) (uint64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t")
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n uint64
	for _, b := range line {
		switch {
		case b >= '0' && b <= '9':
			n = n<<4 | uint64(b-'0')
		case b >= 'a' && b <= 'f':
			n = n<<4 | uint64(b-'a'+10)
		case b >= 'A' && b <= 'F':
			n = n<<4 | uint64(b-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

// dropHeader removes the header lines named name (ASCII case-insensitive) from the head in
// place and returns the shortened head.
func dropHeader(head []byte, name string) []byte {
	i := bytes.Index(head, crlf) + 2 // skip the start line
	if i < 2 {
		return head
	}
	for i < len(head) {
		eol := bytes.Index(head[i:], crlf)
		if eol <= 0 { // the final empty line, or no line end
			return head
		}
		line := head[i : i+eol]
		if len(line) > len(name) && line[len(name)] == ':' && bytes.EqualFold(line[:len(name)], []byte(name)) {
			head = append(head[:i], head[i+eol+2:]...)
			continue
		}
		i += eol + 2
	}
	return head
}
