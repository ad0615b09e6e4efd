// Command proxy is an HTTP/1.1 reverse proxy built on offheap: request and response heads are
// read into Rust-owned buffers, parsed and rewritten by offheap's header parser (the semantics
// of httputil.ReverseProxy: hop-by-hop headers dropped, X-Forwarded-* set), and bodies are
// relayed by offheap's relay (splice(2) in the kernel; the bytes that arrived with a head are
// written from the Rust-owned buffer together with the head in one writev). Go keeps only the
// control decisions, and allocates nothing per proxied request in steady state.
//
// It keeps connections alive on both sides (a pool of idle upstream connections), tunnels
// Upgrade (WebSocket) connections, forwards 1xx responses and 100-continue, answers 502 when
// the upstream fails and 504 when it times out, shuts down gracefully on SIGINT/SIGTERM, and
// serves its counters with Go's heap statistics at -debug /debug/gcstats.
//
//	proxy -listen 127.0.0.1:8080 -upstream 127.0.0.1:8081 -debug 127.0.0.1:6060
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/offheap/offheap/examples/internal/debugstats"
)

func main() {
	d := DefaultConfig()
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	debug := flag.String("debug", "", "address for "+debugstats.Path+" (empty: none)")
	cfg := Config{}
	flag.StringVar(&cfg.Upstream, "upstream", "127.0.0.1:8081", "upstream host:port")
	flag.DurationVar(&cfg.DialTimeout, "dial-timeout", d.DialTimeout, "connecting to the upstream (then 502)")
	flag.DurationVar(&cfg.ResponseHeaderTimeout, "response-header-timeout", d.ResponseHeaderTimeout, "waiting for the upstream's response head (then 504)")
	flag.DurationVar(&cfg.ReadHeaderTimeout, "read-header-timeout", d.ReadHeaderTimeout, "reading a request head (then 408)")
	flag.DurationVar(&cfg.IdleTimeout, "idle-timeout", d.IdleTimeout, "keep-alive client connection idle between requests")
	flag.DurationVar(&cfg.BodyTimeout, "body-timeout", d.BodyTimeout, "relaying one body")
	flag.DurationVar(&cfg.ExpectContinueTimeout, "expect-continue-timeout", d.ExpectContinueTimeout, "waiting for 100 Continue before sending the body")
	flag.IntVar(&cfg.MaxIdleUpstream, "idle", d.MaxIdleUpstream, "idle keep-alive connections kept to the upstream")
	flag.StringVar(&cfg.Via, "via", "", "pseudonym appended to Via (empty: none)")
	flag.BoolVar(&cfg.SetHost, "set-host", false, "send the upstream's address as Host (default: the client's Host)")
	flag.BoolVar(&cfg.Sessions, "sessions", true, "run keep-alive exchanges on an offheap engine thread (Go handles the rest); -sessions=false: all in Go")
	grace := flag.Duration("grace", 10*time.Second, "graceful shutdown: how long requests in progress may finish")
	flag.Parse()

	p := New(cfg)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := debugstats.Serve(*debug, p.CounterMap); err != nil {
		log.Fatal(err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		<-sig
		ctx, cancel := context.WithTimeout(context.Background(), *grace)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			log.Printf("proxy: shutdown: %v", err)
		}
	}()
	fmt.Printf("proxy: serving on %s, upstream %s\n", ln.Addr(), cfg.Upstream)
	if err := p.Serve(ln); err != ErrShutdown {
		log.Fatal(err)
	}
	<-finished // Serve returns when Shutdown closes the listener; wait for it to finish
	fmt.Println("proxy: shut down")
}
