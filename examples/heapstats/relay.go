package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"

	offheap "github.com/offheap/offheap/go"
)

// The relay workload: o.bytes bytes relayed over loopback TCP as Content-Length bodies of
// o.bodySize bytes on one keep-alive connection, sender → proxy → receiver. The proxy is what
// is measured: in pure Go it copies each body with io.Copy from the connection's bufio.Reader
// (as net/http's body path does); with offheap, Relay.Copy with Exact framing. The receiver
// counts the bytes and checksums a sample of them (the first 4 KiB of every 256 KiB).

const (
	patternLen   = 65521 // prime, so the pattern does not line up with bodies or samples
	sampleStride = 256 << 10
	sampleLen    = 4 << 10
)

var pattern = func() []byte {
	p := make([]byte, patternLen)
	x := uint32(2463534242)
	for i := range p {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		p[i] = byte(x)
	}
	return p
}()

// sampleSum checksums the bytes of a stream at offsets [k*sampleStride, k*sampleStride+sampleLen).
type sampleSum struct {
	off int64
	crc uint32
}

func (s *sampleSum) write(p []byte) {
	for len(p) > 0 {
		pos := s.off % sampleStride
		n := int64(len(p))
		if pos < sampleLen {
			n = min(n, sampleLen-pos)
			s.crc = crc32.Update(s.crc, crc32.IEEETable, p[:n])
		} else {
			n = min(n, sampleStride-pos)
		}
		p = p[n:]
		s.off += n
	}
}

// expectedSum is the sample checksum of total bytes of the pattern stream.
func expectedSum(total int64) uint32 {
	var s sampleSum
	for s.off < total {
		start := s.off % patternLen
		n := min(int64(patternLen)-start, total-s.off)
		s.write(pattern[start : start+n])
	}
	return s.crc
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(l net.Listener) (*net.TCPConn, *net.TCPConn, error) {
	ch := make(chan net.Conn, 1)
	errc := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			errc <- err
			return
		}
		ch <- c
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	select {
	case s := <-ch:
		return c.(*net.TCPConn), s.(*net.TCPConn), nil
	case err := <-errc:
		c.Close()
		return nil, nil, err
	}
}

func relayWorkload(o options) (workload, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return workload{}, err
	}
	want := expectedSum(o.bytes)
	bodies := (o.bytes + o.bodySize - 1) / o.bodySize
	check := func(n int64, crc uint32) string {
		return fmt.Sprintf("%d bytes received, sample crc32 %08x", n, crc)
	}
	// phase runs sender and receiver around copyBody, which relays one body of n bytes from
	// in to out.
	phase := func(setup func(out, in *net.TCPConn) (copyBody func(n int64) error, done func(), err error)) (result, error) {
		sender, in, err := tcpPair(l)
		if err != nil {
			return result{}, err
		}
		out, receiver, err := tcpPair(l)
		if err != nil {
			sender.Close()
			in.Close()
			return result{}, err
		}
		defer sender.Close()
		defer in.Close()
		defer receiver.Close()
		copyBody, done, err := setup(out, in)
		if err != nil {
			out.Close()
			return result{}, err
		}
		senderErr := make(chan error, 1)
		go func() {
			var sent int64
			for sent < o.bytes {
				start := sent % patternLen
				n, err := sender.Write(pattern[start:min(int64(patternLen), start+o.bytes-sent)])
				sent += int64(n)
				if err != nil {
					senderErr <- err
					return
				}
			}
			senderErr <- nil
		}()
		type recv struct {
			n   int64
			crc uint32
			err error
		}
		recvc := make(chan recv, 1)
		go func() {
			buf := make([]byte, 256<<10)
			var s sampleSum
			for {
				n, err := receiver.Read(buf)
				s.write(buf[:n])
				if err != nil {
					if errors.Is(err, io.EOF) {
						err = nil
					}
					recvc <- recv{s.off, s.crc, err}
					return
				}
			}
		}()
		var copyErr error
		for left := o.bytes; left > 0 && copyErr == nil; left -= o.bodySize {
			copyErr = copyBody(min(left, o.bodySize))
		}
		done()
		out.Close() // the receiver sees EOF after the last body
		if copyErr != nil {
			sender.Close() // unblock the sender: the proxy stopped reading
			in.Close()
		}
		r := <-recvc
		if err := errors.Join(copyErr, <-senderErr, r.err); err != nil {
			return result{}, err
		}
		if r.n != o.bytes || r.crc != want {
			return result{}, fmt.Errorf("received %d bytes with sample crc32 %08x, want %d bytes with %08x", r.n, r.crc, o.bytes, want)
		}
		return result{amount: float64(r.n), check: check(r.n, r.crc)}, nil
	}
	return workload{
		name:    "relay",
		title:   fmt.Sprintf("relay: %s over loopback TCP as %d bodies of %s (Content-Length), sender → proxy → receiver", size(o.bytes), bodies, size(o.bodySize)),
		unit:    "bytes",
		cleanup: func() { l.Close() },
		pure: func() (result, error) {
			return phase(func(out, in *net.TCPConn) (func(int64) error, func(), error) {
				br := bufio.NewReader(in) // per connection, as net/http's server does
				return func(n int64) error {
					m, err := io.Copy(out, io.LimitReader(br, n))
					if err == nil && m != n {
						err = io.ErrUnexpectedEOF
					}
					return err
				}, func() {}, nil
			})
		},
		off: func() (result, error) {
			return phase(func(out, in *net.TCPConn) (func(int64) error, func(), error) {
				r, err := offheap.NewRelay()
				if err != nil {
					return nil, nil, err
				}
				if err := r.Bind(in, out); err != nil {
					r.Close()
					return nil, nil, err
				}
				ctx := context.Background()
				return func(n int64) error {
					st, err := r.Copy(ctx, offheap.Exact(n))
					if err == nil && int64(st.BytesOut) != n {
						err = io.ErrUnexpectedEOF
					}
					return err
				}, func() { r.Close() }, nil
			})
		},
	}, nil
}

func size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
