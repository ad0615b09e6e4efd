// Command proxy is an HTTP/1.1 reverse proxy built on offheap: a thin main over the package
// github.com/offheap/offheap/go/proxy (see its documentation). By default the connections are
// served by offheap engine threads (-workers, GOMAXPROCS by default): heads parsed and
// rewritten, bodies relayed, upstream connections pooled, all in Rust; -all-in-go serves them
// with goroutines instead. It shuts down gracefully on SIGINT/SIGTERM and serves its counters
// with Go's heap statistics at -debug /debug/gcstats.
//
//	proxy -listen 127.0.0.1:8080 -upstream 127.0.0.1:8081,127.0.0.1:8082 -debug 127.0.0.1:6060
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/offheap/offheap/examples/internal/debugstats"
	"github.com/offheap/offheap/go/proxy"
)

func main() {
	d := proxy.DefaultConfig()
	cfg := d
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	debug := flag.String("debug", "", "address for "+debugstats.Path+" (empty: none)")
	upstreams := flag.String("upstream", "127.0.0.1:8081", "upstream host:port; several, comma-separated, are balanced")
	balance := flag.String("balance", "round-robin", "how an upstream is picked: round-robin or least-in-flight")
	flag.DurationVar(&cfg.UnhealthyFor, "unhealthy-for", d.UnhealthyFor, "how long an upstream that failed to connect is skipped")
	flag.DurationVar(&cfg.DialTimeout, "dial-timeout", d.DialTimeout, "connecting to an upstream (then the next one, or 502)")
	flag.DurationVar(&cfg.ResponseHeaderTimeout, "response-header-timeout", d.ResponseHeaderTimeout, "waiting for the upstream's response head (then 504)")
	flag.DurationVar(&cfg.ReadHeaderTimeout, "read-header-timeout", d.ReadHeaderTimeout, "reading a request head (then 408)")
	flag.DurationVar(&cfg.IdleTimeout, "idle-timeout", d.IdleTimeout, "keep-alive client connection idle between requests")
	flag.DurationVar(&cfg.BodyTimeout, "body-timeout", d.BodyTimeout, "a body that moves no byte this long is cut")
	flag.DurationVar(&cfg.ExpectContinueTimeout, "expect-continue-timeout", d.ExpectContinueTimeout, "all in Go: waiting for 100 Continue before sending the body")
	flag.IntVar(&cfg.MaxIdleUpstream, "idle", d.MaxIdleUpstream, "idle keep-alive connections kept per upstream (per engine worker)")
	flag.IntVar(&cfg.MaxConnsPerUpstream, "max-conns", d.MaxConnsPerUpstream, "connections open per upstream at most (per engine worker; 0: no limit); requests beyond wait for one")
	flag.IntVar(&cfg.MaxHeaderBytes, "max-header-bytes", d.MaxHeaderBytes, "longest request head (then 431)")
	flag.StringVar(&cfg.Via, "via", "", "pseudonym appended to Via (empty: none)")
	flag.BoolVar(&cfg.SetHost, "set-host", false, "send the upstream's address as Host (default: the client's Host)")
	flag.IntVar(&cfg.Workers, "workers", d.Workers, "engine worker threads")
	flag.BoolVar(&cfg.ReusePort, "reuseport", false, "a listening socket per engine worker (SO_REUSEPORT) instead of one they share")
	flag.BoolVar(&cfg.AllInGo, "all-in-go", false, "serve connections with goroutines instead of engine threads")
	grace := flag.Duration("grace", 10*time.Second, "graceful shutdown: how long requests in progress may finish")
	flag.Parse()

	cfg.Upstreams = strings.Split(*upstreams, ",")
	switch *balance {
	case "round-robin":
	case "least-in-flight":
		cfg.Balance = proxy.LeastInFlight
	default:
		log.Fatalf("proxy: -balance %q: want round-robin or least-in-flight", *balance)
	}
	p, err := proxy.New(cfg)
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
	mode := fmt.Sprintf("%d engine workers", cfg.Workers)
	if cfg.AllInGo {
		mode = "all in Go"
	}
	if cfg.ReusePort {
		fmt.Printf("proxy: serving on %s (SO_REUSEPORT), upstreams %s, %s\n", *listen, *upstreams, mode)
		err = p.ListenAndServe(*listen)
	} else {
		var ln net.Listener
		if ln, err = net.Listen("tcp", *listen); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("proxy: serving on %s, upstreams %s, %s\n", ln.Addr(), *upstreams, mode)
		err = p.Serve(ln)
	}
	if err != proxy.ErrShutdown {
		log.Fatal(err)
	}
	<-finished // Serve returns when Shutdown closes the listener; wait for it to finish
	fmt.Println("proxy: shut down")
}
