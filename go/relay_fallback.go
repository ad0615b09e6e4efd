package offheap

import (
	"errors"
	"io"
	"time"
)

// fallback relays between connections of which one has no file descriptor (a *tls.Conn): Copy
// reads the source and writes the destination in Go, through buf, and the library frames what
// passes (offheap_relay_feed): the same framing and counters as the library's own steps, and
// read bounds that keep every read within the body.
type fallback struct {
	src  io.Reader // nil: not bound
	dst  io.Writer
	ends [2]Endpoint // src and dst, whose deadlines end a wait
	buf  []byte      // BufferSize bytes, made by the relay's first fallback Bind
	fed  *relayFed   // its own allocation: see library_cgo.go
}

func (f *fallback) bound() bool { return f.src != nil }

// bind takes src and dst, which must read and write.
func (f *fallback) bind(src, dst Endpoint) error {
	r, ok := src.(io.Reader)
	if !ok {
		return errors.New("the source has no file descriptor (syscall.Conn) and does not read (io.Reader)")
	}
	w, ok := dst.(io.Writer)
	if !ok {
		return errors.New("the destination has no file descriptor (syscall.Conn) and does not write (io.Writer)")
	}
	if f.buf == nil {
		f.buf, f.fed = make([]byte, BufferSize), new(relayFed)
	}
	f.src, f.dst, f.ends = r, w, [2]Endpoint{src, dst}
	return nil
}

func (f *fallback) unbind() { f.src, f.dst, f.ends = nil, nil, [2]Endpoint{} }

// wake ends the Read or Write a Copy waits in, with past deadlines: Go has no other way.
func (f *fallback) wake() {
	if f.src == nil {
		return
	}
	past := time.Unix(1, 0)
	f.ends[0].SetReadDeadline(past)
	f.ends[1].SetWriteDeadline(past)
}

// copy relays one body over the fallback: the pending bytes (pending, or pb's) first, then the
// source, each piece framed by the library in buf before it is written. The relay id was reset
// for the body; deadline, when set, is put on the connections first.
func (f *fallback) copy(op string, id uint64, deadline time.Time, pending []byte, pb *Buffer) (RelayStats, error) {
	if !deadline.IsZero() {
		f.ends[0].SetReadDeadline(deadline)
		f.ends[1].SetWriteDeadline(deadline)
	}
	var written uint64
	var flags uint32
	var data []byte
	fromPending := false
	off, pendingDone := 0, pending == nil && pb == nil
	for {
		if st := relayFeed(id, written, data, flags, f.fed); st != statusOK {
			return f.fed.progress.stats, statusError(op, st)
		}
		fed := f.fed
		if fed.progress.state == relayStateDone {
			return fed.progress.stats, nil
		}
		if fromPending {
			off += int(fed.taken)
			pendingDone = int(fed.taken) < len(data) // the body ended inside them
		}
		written, flags, fromPending = 0, 0, false
		if fed.kept > 0 {
			n, err := f.dst.Write(data[:fed.kept])
			written = uint64(n)
			if err != nil {
				return fed.progress.stats, err
			}
		}
		data = nil
		if fed.readBound == 0 {
			continue // complete: the next feed reports the last write
		}
		if !pendingDone {
			n, err := f.pendingChunk(op, pending, pb, off)
			if err != nil {
				return fed.progress.stats, err
			}
			if n > 0 {
				data, fromPending = f.buf[:n], true
				continue
			}
			pendingDone = true
		}
		n, err := f.src.Read(f.buf[:min(fed.readBound, uint64(len(f.buf)))])
		data = f.buf[:n]
		switch {
		case err == io.EOF && n == 0:
			flags = relayFeedEOF
		case err != nil && err != io.EOF:
			return fed.progress.stats, err
		}
	}
}

// pendingChunk copies the pending bytes from off on into buf (as many as fit) and returns how
// many: from pending, or from pb's filled bytes under its lease.
func (f *fallback) pendingChunk(op string, pending []byte, pb *Buffer, off int) (int, error) {
	if pb == nil {
		return copy(f.buf, pending[off:]), nil
	}
	id, ok := pb.h.acquire()
	if !ok {
		return 0, opError(op, ErrClosed)
	}
	defer pb.h.release()
	view := pb.view(id)
	if off >= len(view) {
		return 0, nil
	}
	return copy(f.buf, view[off:]), nil
}
