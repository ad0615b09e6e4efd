//go:build !linux

package offheap

import (
	"errors"
	"syscall"
	"time"
)

// The library runs on Linux only; elsewhere the package compiles, and binding a relay or
// reading into a buffer fails.

const (
	watchRead  = 0
	watchWrite = 0
)

var errNoPoller = errors.New("relays and buffers wait with epoll, which needs Linux")

type poller struct{ raw syscall.RawConn }

func (p *poller) watch(w, other *watch, of any, orig syscall.RawConn, events uint32) error {
	return errNoPoller
}

func (p *poller) unwatch(w, other *watch) { *w = watch{} }

func (p *poller) wake() {}

func (p *poller) setDeadline(time.Time) error { return nil }
