//go:build cgo

package proxy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/offheap/offheap/go/proxy"
)

// A proxy in front of one upstream, with a Rewrite hook that adds a header to every request.
func Example() {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s, X-Team %q", r.Method, r.URL.Path, r.Header.Get("X-Team"))
	}))
	defer up.Close()

	p, err := proxy.New(proxy.Config{
		Upstreams: []string{up.Listener.Addr().String()},
		Rewrite:   func(r *proxy.Request) { r.SetHeader("X-Team", "payments") },
	})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(ln) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/checkout")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status)
	fmt.Println(string(body))

	p.Shutdown(context.Background())
	fmt.Println(<-served)
	// Output:
	// 200 OK
	// GET /checkout, X-Team "payments"
	// proxy: shut down
}
