//go:build cgo

package offheap_test

import (
	"context"
	"fmt"
	"io"
	"net"

	offheap "github.com/offheap/offheap/go"
)

// pair returns both ends of a loopback TCP connection.
func pair() (*net.TCPConn, *net.TCPConn) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l.Close()
	ch := make(chan net.Conn)
	go func() { c, _ := l.Accept(); ch <- c }()
	c, _ := net.Dial("tcp", l.Addr().String())
	return c.(*net.TCPConn), (<-ch).(*net.TCPConn)
}

// A proxy relays a response body of known length from the upstream connection to the client:
// the bytes move in the kernel or through Rust buffers, never through the Go heap.
func ExampleRelay() {
	upstream, src := pair() // upstream writes a body; the proxy reads it from src
	dst, client := pair()   // the proxy writes to dst; the client reads it
	defer upstream.Close()
	defer src.Close()
	defer client.Close()

	go upstream.Write([]byte("hello, offheap!next message"))

	r, err := offheap.NewRelay()
	if err != nil {
		panic(err)
	}
	defer r.Close()
	r.Bind(dst, src)
	st, err := r.Copy(context.Background(), offheap.Exact(15))
	dst.Close()

	got, _ := io.ReadAll(client)
	fmt.Println(string(got), st.BytesOut, err)
	// Output: hello, offheap! 15 <nil>
}

// Chunked bodies are validated while they are relayed; Dechunked forwards only the payload.
func ExampleDechunked() {
	upstream, src := pair()
	dst, client := pair()
	defer upstream.Close()
	defer src.Close()
	defer client.Close()

	go upstream.Write([]byte("5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"))

	r, _ := offheap.NewRelay()
	defer r.Close()
	r.Bind(dst, src)
	_, err := r.Copy(context.Background(), offheap.Dechunked())
	dst.Close()

	got, _ := io.ReadAll(client)
	fmt.Println(string(got), err)
	// Output: hello, world <nil>
}
