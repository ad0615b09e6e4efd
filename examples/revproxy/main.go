// Command revproxy is the pure-Go peer of the proxy benchmark: net/http/httputil.ReverseProxy
// as a Go service would deploy it, tuned fairly (a keep-alive pool of up to -idle connections
// to the upstream, as nginx's "keepalive 64", and a sync.Pool of 32 KiB copy buffers).
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/offheap/offheap/examples/internal/debugstats"
)

type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte  { return *(b.p.Get().(*[]byte)) }
func (b *bufferPool) Put(x []byte) { b.p.Put(&x) }

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	upstream := flag.String("upstream", "127.0.0.1:8081", "upstream host:port")
	debug := flag.String("debug", "", "address for "+debugstats.Path+" (empty: none)")
	idle := flag.Int("idle", 64, "idle keep-alive connections kept to the upstream")
	maxConns := flag.Int("max-conns", 0, "connections open to the upstream at most (http.Transport.MaxConnsPerHost; 0: no limit); requests beyond wait for one")
	flag.Parse()

	target := &url.URL{Scheme: "http", Host: *upstream}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        *idle,
		MaxIdleConnsPerHost: *idle,
		MaxConnsPerHost:     *maxConns,
		IdleConnTimeout:     90 * time.Second,
	}
	pool := &bufferPool{}
	pool.p.New = func() any { b := make([]byte, 32<<10); return &b }
	rp.BufferPool = pool

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := debugstats.Serve(*debug, nil); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stdout, "revproxy: serving on %s, upstream %s\n", ln.Addr(), target.Host)
	srv := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 90 * time.Second}
	log.Fatal(srv.Serve(ln))
}
