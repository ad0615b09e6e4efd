//go:build cgo

package offheap

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
	"unsafe"
)

// Go fuzz tests of the relay API (make fuzz runs each with -fuzz for a set time; plain
// `go test` runs their seeds). The bodies cross real sockets, so every input also exercises
// the cgo crossing, the netpoller wait and the splice/copy paths.

// refChunked parses a chunked body at the start of in per RFC 9112 §7.1 (no size limits):
// ok with the payload and the bytes the body spans, or !ok when in is invalid or ends first.
func refChunked(in []byte) (payload []byte, n int, ok bool) {
	i := 0
	line := func() ([]byte, bool) {
		j := bytes.Index(in[i:], []byte("\r\n"))
		if j < 0 {
			return nil, false
		}
		l := in[i : i+j]
		i += j + 2
		return l, true
	}
	ctl := func(b byte) bool { return (b < 0x20 && b != '\t') || b == 0x7f }
	for {
		l, ok := line()
		if !ok {
			return nil, 0, false
		}
		var size uint64
		digits := 0
		for digits < len(l) {
			c := l[digits]
			var v byte
			switch {
			case c >= '0' && c <= '9':
				v = c - '0'
			case c >= 'a' && c <= 'f':
				v = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				v = c - 'A' + 10
			default:
				goto end
			}
			if digits == 16 {
				return nil, 0, false
			}
			size = size<<4 | uint64(v)
			digits++
		}
	end:
		if digits == 0 {
			return nil, 0, false
		}
		if rest := l[digits:]; len(rest) > 0 {
			if rest[0] != ';' && rest[0] != ' ' && rest[0] != '\t' {
				return nil, 0, false
			}
			for _, c := range rest {
				if ctl(c) || c == '\n' {
					return nil, 0, false
				}
			}
		}
		if size == 0 {
			for {
				t, ok := line()
				if !ok {
					return nil, 0, false
				}
				if len(t) == 0 {
					return payload, i, true
				}
				if t[0] == ' ' || t[0] == '\t' {
					return nil, 0, false
				}
				for _, c := range t {
					if ctl(c) || c == '\n' {
						return nil, 0, false
					}
				}
			}
		}
		// size+2 may wrap around for a size near 2^64: compare without adding to it.
		if avail := uint64(len(in) - i); size > avail || avail-size < 2 || in[i+int(size)] != '\r' || in[i+int(size)+1] != '\n' {
			return nil, 0, false
		}
		payload = append(payload, in[i:i+int(size)]...)
		i += int(size) + 2
	}
}

// encodeChunked frames data as chunks whose sizes come from sizes (cycled; 1 byte each when
// empty).
func encodeChunked(data, sizes []byte) []byte {
	k := 0
	return chunkFrame(data, func() int {
		n := 1
		if len(sizes) > 0 {
			n = 1 + int(sizes[k%len(sizes)])
		}
		k++
		return n
	}, "")
}

var next = []byte("GET /next HTTP/1.1\r\n\r\n")

// FuzzRelayChunked relays fuzzed chunked bodies, verbatim and de-chunked: a valid body comes
// out exactly (payload or framing) with the next request left unread; an invalid one fails
// with ErrBadChunk or ErrUnexpectedEOF; whatever Rust accepts, the Go reference accepts with
// the same length and payload.
func FuzzRelayChunked(f *testing.F) {
	f.Add([]byte("hello, world"), []byte{3, 0, 200}, true, false, false)
	f.Add([]byte("4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\nT: 1\r\n\r\n"), []byte{}, false, true, true)
	f.Add([]byte("1\nA\r\n0\r\n\r\n"), []byte{}, true, true, true)
	f.Add([]byte("ffffffffffffffff\r\nabc"), []byte{}, false, false, true)
	f.Add(bytes.Repeat([]byte("z"), 70000), []byte{255, 17}, false, false, false)
	f.Fuzz(func(t *testing.T, data, sizes []byte, useUnix, noSplice, raw bool) {
		wire := data
		if !raw {
			wire = encodeChunked(data, sizes)
		}
		input := append(append([]byte{}, wire...), next...)
		got, left, st, err := relayOnce(t, useUnix, noSplice, Chunked(), input)
		refPayload, refN, refOK := refChunked(input)
		if !raw && (!refOK || refN != len(wire) || !bytes.Equal(refPayload, data)) {
			t.Fatalf("reference rejects a valid body: ok=%v n=%d (want %d)", refOK, refN, len(wire))
		}
		if err != nil {
			if !errors.Is(err, ErrBadChunk) && !errors.Is(err, ErrUnexpectedEOF) {
				t.Fatalf("chunked relay: unexpected error %v", err)
			}
			if !raw {
				t.Fatalf("chunked relay of a valid body: %v", err)
			}
			return
		}
		if !refOK || refN != len(got) || !bytes.Equal(got, input[:refN]) || !bytes.Equal(left, input[refN:]) {
			t.Fatalf("relay accepted %d bytes (left %d); reference ok=%v n=%d", len(got), len(left), refOK, refN)
		}
		if st.BytesIn != uint64(refN) || st.BytesOut != uint64(refN) || st.Spliced+st.Copied != st.BytesOut {
			t.Fatalf("stats %+v for a %d-byte body", st, refN)
		}
		dgot, dleft, _, err := relayOnce(t, useUnix, noSplice, Dechunked(), input)
		if err != nil || !bytes.Equal(dgot, refPayload) || !bytes.Equal(dleft, input[refN:]) {
			t.Fatalf("dechunked relay: %v, %d payload bytes (want %d)", err, len(dgot), len(refPayload))
		}
	})
}

// FuzzRelayExact relays exactly n bytes of fuzzed data: the first n arrive and the rest
// stays in the source, or the body is short and the relay says ErrUnexpectedEOF after
// forwarding all it had.
func FuzzRelayExact(f *testing.F) {
	f.Add([]byte("0123456789"), uint32(4), false, false)
	f.Add([]byte("short"), uint32(100), true, false)
	f.Add(bytes.Repeat([]byte{0xa5}, 100000), uint32(99999), false, true)
	f.Add([]byte{}, uint32(0), true, true)
	f.Fuzz(func(t *testing.T, data []byte, n uint32, useUnix, noSplice bool) {
		got, left, st, err := relayOnce(t, useUnix, noSplice, Exact(int64(n)), data)
		if int(n) <= len(data) {
			if err != nil || !bytes.Equal(got, data[:n]) || !bytes.Equal(left, data[n:]) {
				t.Fatalf("Exact(%d) of %d bytes: %v, got %d, left %d", n, len(data), err, len(got), len(left))
			}
		} else if !errors.Is(err, ErrUnexpectedEOF) || !bytes.Equal(got, data) {
			t.Fatalf("Exact(%d) of %d bytes: %v, got %d", n, len(data), err, len(got))
		}
		if st.Spliced+st.Copied != st.BytesOut || (noSplice && st.Spliced != 0) {
			t.Fatalf("stats %+v", st)
		}
	})
}

// FuzzBuffers drives Rust-owned buffers with a fuzzed program (read from a socket, consume,
// view, writev several at once) against a Go model of their contents: views always equal
// the model, and what WriteBuffers sends is the models' concatenation.
func FuzzBuffers(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody"), []byte{0, 1, 5, 2, 0, 3, 1, 4})
	f.Add(bytes.Repeat([]byte("x"), 5000), []byte{0, 0, 0, 16, 2, 255, 3, 3})
	f.Fuzz(func(t *testing.T, data, prog []byte) {
		// Bounded so the writer never fills the loopback socket while nothing reads.
		data = data[:min(len(data), 128<<10)]
		client, src := tcpPair(t)
		dst, server := tcpPair(t)
		defer func() {
			for _, c := range []duplex{client, src, dst, server} {
				c.Close()
			}
		}()
		rawSrc, _ := src.SyscallConn()
		rawDst, _ := dst.SyscallConn()
		var bufs [3]*Buffer
		var models [3][]byte
		for i := range bufs {
			b := newBuffer(t)
			defer b.Close()
			bufs[i] = b
		}
		sent := 0
		var wrote []byte
		for pc := 0; pc+1 < len(prog) && pc < 64; pc += 2 {
			op, arg := prog[pc], int(prog[pc+1])
			k := arg % len(bufs)
			switch op % 4 {
			case 0: // feed the socket, then read once into buffer k
				if sent < len(data) {
					end := min(len(data), sent+1+arg*64)
					client.Write(data[sent:end])
					sent = end
				}
				if len(models[k]) == BufferSize {
					continue
				}
				// One read takes what is there (never waiting for bytes that are not coming).
				if pendingIn(src) {
					if _, err := bufs[k].ReadFrom(rawSrc); err != nil {
						t.Fatalf("ReadFrom: %v", err)
					}
				}
				// A read appends: what the buffer held (after any Consume) comes first.
				if v := bufs[k].UnsafeBytes(); !bytes.HasPrefix(v, models[k]) {
					t.Fatalf("buffer %d: read changed the %d bytes before it", k, len(models[k]))
				}
				models[k] = append([]byte{}, bufs[k].UnsafeBytes()...)
			case 1: // consume
				c := arg * 37
				if err := bufs[k].Consume(c); err != nil {
					t.Fatal(err)
				}
				models[k] = models[k][min(c, len(models[k])):]
			case 2: // writev 1..3 buffers
				m := 1 + arg%3
				var want []byte
				for i := range m {
					want = append(want, models[i]...)
				}
				n, err := WriteBuffers(bufs[:m], rawDst)
				if err != nil || n != int64(len(want)) {
					t.Fatalf("WriteBuffers = %d, %v; want %d", n, err, len(want))
				}
				wrote = append(wrote, want...)
				for i := range m {
					models[i] = nil
				}
			}
			for i, b := range bufs {
				if !bytes.Equal(b.UnsafeBytes(), models[i]) {
					t.Fatalf("buffer %d: view of %d bytes differs from the model's %d", i, b.Len(), len(models[i]))
				}
			}
		}
		dst.CloseWrite()
		got := make([]byte, 0, len(wrote))
		tmp := make([]byte, 64<<10)
		for {
			n, err := server.Read(tmp)
			got = append(got, tmp[:n]...)
			if err != nil {
				break
			}
		}
		if !bytes.Equal(got, wrote) {
			t.Fatalf("received %d bytes, WriteBuffers sent %d", len(got), len(wrote))
		}
	})
}

// pendingIn says whether the socket has unread bytes (FIONREAD), so the fuzz program never
// waits for bytes that were all read already.
func pendingIn(c duplex) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var n int32
	raw.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	})
	return n > 0
}
