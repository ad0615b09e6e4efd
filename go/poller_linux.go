//go:build linux

package offheap

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// epollET asks for edge-triggered events, as Go's netpoller does (syscall.EPOLLET is a negative
// int): a step runs until the fd would block, so the next event is a new edge.
const epollET = 1 << 31

// Events a source and a destination are watched for.
const (
	watchRead  = syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET
	watchWrite = syscall.EPOLLOUT | epollET
)

// poller is an epoll instance in Go's netpoller (see watch). A wait is a Read of its RawConn:
// the callback runs at once, then again each time a watched fd had an event (or a spurious
// time, which a step tolerates: it finds the fd would block and waits again).
type poller struct {
	file *os.File // nil until the first watch
	raw  syscall.RawConn
	op   ctlOp
	// Method values made once with the instance, so watching and unwatching (once per
	// connection) allocate nothing.
	outerFn, innerFn func(uintptr)
}

// ctlOp is the epoll_ctl the poller's next ctl runs: on the fd that orig lends, an ADD (or a
// MOD merging other's events when other watches the same fd) for watch, a DEL (or a MOD down to
// other's events) for unwatch.
type ctlOp struct {
	orig   syscall.RawConn
	other  *watch
	events uint32
	add    bool
	ep, fd int
	ev     syscall.EpollEvent
	err    error
}

// open makes the epoll instance, once.
func (p *poller) open() error {
	if p.file != nil {
		return nil
	}
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return os.NewSyscallError("epoll_create1", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(fd), "offheap-poller")
	// A file that takes no deadline is not in the netpoller, and a wait on it would block a
	// thread.
	if err := f.SetDeadline(time.Time{}); err != nil {
		f.Close()
		return fmt.Errorf("epoll instance not in Go's netpoller: %w", err)
	}
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return err
	}
	p.file, p.raw = f, raw
	p.outerFn, p.innerFn = p.outer, p.inner
	return nil
}

// ctl runs the epoll_ctl of p.op on the poller with the fd p.op.orig lends.
func (p *poller) ctl() error {
	p.op.err, p.op.fd = nil, -1
	if err := p.raw.Control(p.outerFn); err != nil {
		return err
	}
	return p.op.err
}

func (p *poller) outer(ep uintptr) {
	p.op.ep = int(ep)
	if err := p.op.orig.Control(p.innerFn); err != nil {
		p.op.err = err
	}
}

func (p *poller) inner(fd uintptr) {
	op := &p.op
	cfd := int(fd)
	op.fd = cfd
	shared := op.other.orig != nil && op.other.fd == cfd
	switch {
	case op.add && shared:
		op.ev = syscall.EpollEvent{Events: op.events | op.other.events, Fd: int32(cfd)}
		op.err = syscall.EpollCtl(op.ep, syscall.EPOLL_CTL_MOD, cfd, &op.ev)
		if op.err == syscall.ENOENT {
			// The other watch was of a connection closed since, whose fd number this one
			// reuses: its registration went with it.
			op.ev.Events = op.events
			op.err = syscall.EpollCtl(op.ep, syscall.EPOLL_CTL_ADD, cfd, &op.ev)
		}
	case op.add:
		op.ev = syscall.EpollEvent{Events: op.events, Fd: int32(cfd)}
		op.err = syscall.EpollCtl(op.ep, syscall.EPOLL_CTL_ADD, cfd, &op.ev)
		if op.err == syscall.EEXIST { // a registration left from a watch that could not remove it
			op.err = syscall.EpollCtl(op.ep, syscall.EPOLL_CTL_MOD, cfd, &op.ev)
		}
	case shared:
		op.ev = syscall.EpollEvent{Events: op.other.events, Fd: int32(cfd)}
		op.err = syscall.EpollCtl(op.ep, syscall.EPOLL_CTL_MOD, cfd, &op.ev)
	default:
		op.err = syscall.EpollCtl(op.ep, syscall.EPOLL_CTL_DEL, cfd, &op.ev)
	}
}

// watch makes w the connection of orig (which of identifies) watched for events, unless it
// already is. other is the poller's other watch: one connection can be both (a relay between
// the two directions of one socket), watched once for both kinds of events.
func (p *poller) watch(w, other *watch, of any, orig syscall.RawConn, events uint32) error {
	if w.is(of, orig) {
		return nil
	}
	p.unwatch(w, other)
	if err := p.open(); err != nil {
		return err
	}
	p.op = ctlOp{orig: orig, other: other, events: events, add: true}
	err := p.ctl()
	fd := p.op.fd
	p.op.orig, p.op.other = nil, nil
	if err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	*w = watch{of: of, orig: orig, fd: fd, events: events}
	return nil
}

// unwatch stops watching w's connection. A connection the caller closed cannot be named any
// more; its registration went with the socket, or goes when the socket's last fd closes.
func (p *poller) unwatch(w, other *watch) {
	if w.orig != nil && p.file != nil {
		p.op = ctlOp{orig: w.orig, other: other}
		p.ctl()
		p.op.orig, p.op.other = nil, nil
	}
	*w = watch{}
}

// wake ends every wait on the poller (they fail with a closed-file error); p keeps its fields,
// so a wait still running reads no changed field.
func (p *poller) wake() {
	if p.file != nil {
		p.file.Close()
	}
}

// setDeadline bounds the waits on the poller.
func (p *poller) setDeadline(t time.Time) error {
	if p.file == nil {
		return nil
	}
	return p.file.SetReadDeadline(t)
}
