//go:build cgo

package offheap_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"

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
	r.Bind(src, dst)
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
	r.Bind(src, dst)
	_, err := r.Copy(context.Background(), offheap.Dechunked())
	dst.Close()

	got, _ := io.ReadAll(client)
	fmt.Println(string(got), err)
	// Output: hello, world <nil>
}

// An Engine takes whole connection pairs off Go's hands: after SubmitTunnel, Go closes its
// side and keeps no goroutine or buffer for the tunnel; completions arrive in batches.
func ExampleEngine() {
	engine, err := offheap.NewEngine(1, 1024)
	if err != nil {
		panic(err)
	}
	defer engine.Close()

	client, a := pair() // client ↔ proxy
	b, server := pair() // proxy ↔ upstream
	if err := engine.SubmitTunnel(1, a, b); err != nil {
		panic(err)
	}
	a.Close() // the engine relays over its own duplicates
	b.Close()

	go func() { // upstream: echo in upper case, then half-close
		buf, _ := io.ReadAll(server)
		server.Write([]byte(strings.ToUpper(string(buf))))
		server.CloseWrite()
	}()
	client.Write([]byte("ping"))
	client.CloseWrite() // half-close: the reply still flows back
	reply, _ := io.ReadAll(client)

	done := make([]offheap.Completion, 8)
	n, _ := engine.Wait(context.Background(), done)
	fmt.Println(string(reply), n, done[0].ID, done[0].Forward, done[0].Backward, done[0].Err)
	client.Close()
	server.Close()
	// Output: PING 1 1 4 4 <nil>
}

// Many connection pairs handed over in one call: each job is taken or refused on its own.
func ExampleEngine_SubmitBatch() {
	engine, err := offheap.NewEngine(2, 1024)
	if err != nil {
		panic(err)
	}
	defer engine.Close()

	var clients, servers []*net.TCPConn
	var jobs []offheap.EngineJob
	for i := range 3 {
		client, src := pair()
		dst, server := pair()
		clients, servers = append(clients, client), append(servers, server)
		jobs = append(jobs, offheap.EngineJob{ID: uint64(i), A: src, B: dst, Framing: offheap.Exact(5)})
		defer src.Close() // the engine relays over its own duplicates
		defer dst.Close()
	}
	jobs = append(jobs, offheap.EngineJob{ID: 9, Tunnel: true}) // no connections: refused
	accepted, err := engine.SubmitBatch(jobs)
	fmt.Println(accepted, err, jobs[3].Err != nil)

	for i, c := range clients {
		fmt.Fprintf(c, "body%d and the next request", i)
	}
	for _, s := range servers {
		body := make([]byte, 5)
		io.ReadFull(s, body)
		fmt.Print(string(body), " ")
	}
	fmt.Println()
	done := make([]offheap.Completion, 8)
	for got := 0; got < accepted; {
		n, _ := engine.Wait(context.Background(), done)
		got += n
	}
	for _, c := range append(clients, servers...) {
		c.Close()
	}
	// Output:
	// 3 <nil> true
	// body0 body1 body2
}
