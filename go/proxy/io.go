package proxy

import (
	"net"
	"syscall"
	"time"
	"unsafe"
)

// sockConn is a TCP connection with its RawConn fetched once: it satisfies offheap.Conn, so
// binding a relay to it (once per request, as upstream connections change) allocates nothing.
type sockConn struct {
	tc  *net.TCPConn
	raw syscall.RawConn
	vw  vecWriter
}

func newSockConn(tc *net.TCPConn) (*sockConn, error) {
	s := &sockConn{}
	s.vw.fn = s.vw.step
	return s, s.attach(tc)
}

// attach makes s the wrapper of tc (a sockConn is reused for another connection this way).
func (s *sockConn) attach(tc *net.TCPConn) error {
	raw, err := tc.SyscallConn()
	if err != nil {
		return err
	}
	s.tc, s.raw = tc, raw
	return nil
}

// SyscallConn returns the RawConn fetched once.
func (s *sockConn) SyscallConn() (syscall.RawConn, error) { return s.raw, nil }

// SetReadDeadline sets the connection's read deadline.
func (s *sockConn) SetReadDeadline(t time.Time) error { return s.tc.SetReadDeadline(t) }

// SetWriteDeadline sets the connection's write deadline.
func (s *sockConn) SetWriteDeadline(t time.Time) error { return s.tc.SetWriteDeadline(t) }

// write writes a then b with writev (one syscall when the socket has room), waiting in the
// netpoller while the socket is full. b may be a view into Rust memory. It allocates nothing.
func (s *sockConn) write(a, b []byte) error {
	if len(b) == 0 {
		_, err := s.tc.Write(a)
		return err
	}
	w := &s.vw
	w.bufs[0], w.bufs[1], w.err = a, b, nil
	for len(w.bufs[0])+len(w.bufs[1]) > 0 {
		if err := s.raw.Write(w.fn); err != nil {
			w.bufs[0], w.bufs[1] = nil, nil
			return err
		}
		if w.err != nil {
			w.bufs[0], w.bufs[1] = nil, nil
			return w.err
		}
	}
	w.bufs[0], w.bufs[1] = nil, nil
	return nil
}

// vecWriter is the state of one writev step, with its method value made once.
type vecWriter struct {
	iov  [2]syscall.Iovec
	bufs [2][]byte
	err  error
	fn   func(uintptr) bool
}

func (w *vecWriter) step(fd uintptr) bool {
	n := 0
	for _, b := range w.bufs {
		if len(b) > 0 {
			w.iov[n].Base = &b[0]
			w.iov[n].SetLen(len(b))
			n++
		}
	}
	for {
		r, _, e := syscall.Syscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(n))
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait until writable
		default:
			w.err = e
			return true
		}
		for i := range w.bufs {
			k := min(int(r), len(w.bufs[i]))
			w.bufs[i] = w.bufs[i][k:]
			r -= uintptr(k)
		}
		w.iov[0].Base, w.iov[1].Base = nil, nil
		return true
	}
}

// recv reads once into b, with MSG_PEEK when peek (the bytes stay in the socket), waiting in
// the netpoller (and its deadline) while nothing is there. For the rare head longer than a
// buffer: it allocates.
func (s *sockConn) recv(b []byte, peek bool) (int, error) {
	flags := 0
	if peek {
		flags = syscall.MSG_PEEK
	}
	var n int
	var rerr error
	err := s.raw.Read(func(fd uintptr) bool {
		n, _, rerr = syscall.Recvfrom(int(fd), b, flags|syscall.MSG_DONTWAIT)
		return rerr != syscall.EAGAIN
	})
	if err != nil {
		return 0, err
	}
	return n, rerr
}
