// Package loopback gives the test programs (tests/soak, tests/exercise) and the Go benchmarks
// (benches/go) connected TCP sockets on 127.0.0.1: the ends that relays, tunnels and engine
// sessions run between.
package loopback

import (
	"errors"
	"fmt"
	"net"

	offheap "github.com/offheap/offheap/go"
)

// Pair returns both ends of a new loopback TCP connection: the dialed end, then the accepted
// one.
func Pair() (*net.TCPConn, *net.TCPConn, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("tcp pair: %w", err)
	}
	defer l.Close() // also ends the Accept below when Dial fails
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		return nil, nil, fmt.Errorf("tcp pair: %w", err)
	}
	s := <-accepted
	if s == nil {
		c.Close()
		return nil, nil, errors.New("tcp pair: accept failed")
	}
	return c.(*net.TCPConn), s.(*net.TCPConn), nil
}

// Ends returns the four ends of two loopback connections, the shape of a relay hop: client
// and its peer in (what the relay reads), out (what it writes) and its peer server. When the
// second connection fails it closes the first.
func Ends() (client, in, out, server *net.TCPConn, err error) {
	if client, in, err = Pair(); err != nil {
		return nil, nil, nil, nil, err
	}
	if out, server, err = Pair(); err != nil {
		client.Close()
		in.Close()
		return nil, nil, nil, nil, err
	}
	return client, in, out, server, nil
}

// Handed returns the outer ends (client and server) of two loopback connections whose inner
// ends it gave to hand: an engine's submit, which relays over duplicates of their fds. It
// closes the inner ends whatever hand returns, and the outer ones too when hand fails, so a
// failed submit leaves no socket open.
func Handed(hand func(in, out offheap.Conn) error) (client, server *net.TCPConn, err error) {
	client, in, out, server, err := Ends()
	if err != nil {
		return nil, nil, err
	}
	err = hand(in, out)
	in.Close()
	out.Close()
	if err != nil {
		client.Close()
		server.Close()
		return nil, nil, err
	}
	return client, server, nil
}
