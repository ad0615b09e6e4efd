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
	return nil
}

// ctl runs epoll_ctl on the poller with the fd orig lends.
func (p *poller) ctl(orig syscall.RawConn, do func(ep, fd int) error) error {
	var inner error
	err := p.raw.Control(func(ep uintptr) {
		inner = orig.Control(func(fd uintptr) { inner = do(int(ep), int(fd)) })
	})
	if err != nil {
		return err
	}
	return inner
}

// watch makes w the connection of orig (which of identifies) watched for events, unless it
// already is. other is the poller's other watch: one connection can be both (a relay between
// the two directions of one socket), watched once for both kinds of events.
func (p *poller) watch(w, other *watch, of any, orig syscall.RawConn, events uint32) error {
	if w.is(of) {
		return nil
	}
	p.unwatch(w, other)
	if err := p.open(); err != nil {
		return err
	}
	fd := -1
	err := p.ctl(orig, func(ep, cfd int) error {
		fd = cfd
		ev := syscall.EpollEvent{Events: events, Fd: int32(cfd)}
		if other.orig != nil && other.fd == cfd {
			ev.Events |= other.events
			return syscall.EpollCtl(ep, syscall.EPOLL_CTL_MOD, cfd, &ev)
		}
		err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, cfd, &ev)
		if err == syscall.EEXIST { // a registration left from a watch that could not remove it
			err = syscall.EpollCtl(ep, syscall.EPOLL_CTL_MOD, cfd, &ev)
		}
		return err
	})
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
		p.ctl(w.orig, func(ep, fd int) error {
			if other.orig != nil && other.fd == fd {
				return syscall.EpollCtl(ep, syscall.EPOLL_CTL_MOD, fd, &syscall.EpollEvent{Events: other.events, Fd: int32(fd)})
			}
			return syscall.EpollCtl(ep, syscall.EPOLL_CTL_DEL, fd, nil)
		})
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
