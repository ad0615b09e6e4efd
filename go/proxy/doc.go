// Package proxy is an HTTP/1.1 reverse proxy built on offheap, for services that use
// httputil.ReverseProxy today: the same header semantics (hop-by-hop headers dropped,
// X-Forwarded-For, -Host and -Proto set, Via when asked), a Rewrite hook for the request head,
// an ErrorHandler for failed upstreams, several upstreams with round-robin or least-in-flight
// balancing and passive health, keep-alive on both sides with a pool of upstream connections,
// timeouts, and a graceful Shutdown.
//
//	p, err := proxy.New(proxy.Config{Upstreams: []string{"10.0.0.1:8080", "10.0.0.2:8080"}})
//	...
//	go p.Serve(ln) // returns ErrShutdown after p.Shutdown(ctx)
//
// # Where the work happens
//
// By default (engine mode) the proxy runs in an [offheap.Engine]: Config.Workers Rust threads
// (GOMAXPROCS by default), each with its own epoll, accept the connections of the listeners
// given to Serve and serve them entirely in Rust. A client connection at rest is a small
// record in a worker's epoll: no goroutine, no buffer, no upstream connection. When its bytes
// arrive it is lent a session (buffers, a parser state) and an upstream connection from its
// worker's pool, or a new one dialled without blocking; both go back when the response is
// out, so idle clients hold no upstream connection beyond the pool. The engine takes every
// exchange HTTP/1.1 allows: bodies with Content-Length or chunked both ways, close-delimited
// responses, interim responses, Expect: 100-continue (answered 100 Continue by the proxy, as
// nginx does), HTTP/1.0 on either side (an HTTP/1.0 upstream that closes after each response
// does not close the client's connection: the client is answered in HTTP/1.1), upgrades
// (WebSocket: a tunnel in Rust after the 101), request heads up to MaxHeaderBytes. It answers
// 400, 405, 408, 431, 501, 502 and 504 itself.
//
// Go sees a request only when the configuration asks for it: with Config.Rewrite, every request
// head goes to a goroutine of its worker and back; with Config.ErrorHandler, every failed
// upstream does. Without them, a request costs Go nothing at all.
//
// With Config.AllInGo (or for a listener without a file descriptor, such as a TLS listener),
// connections are served by goroutines instead: heads read into Rust-owned buffers and parsed
// by offheap, bodies relayed by [offheap.Relay], with the same behaviour and configuration.
//
// Counters reads what both modes counted.
package proxy
