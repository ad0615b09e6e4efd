package main

import (
	"bytes"
	"context"
	"errors"
	"log"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	offheap "github.com/offheap/offheap/go"
)

// Canned responses of the proxy itself.
var (
	resp400          = []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	resp405          = []byte("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	resp408          = []byte("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	resp431          = []byte("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	resp502          = []byte("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	resp502KeepAlive = []byte("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
	resp504          = []byte("HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	resp504KeepAlive = []byte("HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\n\r\n")
	connClose        = []byte("Connection: close\r\n")
	crlf             = []byte("\r\n")
)

// clientConn is one client connection: its Rust-owned read buffer, its parse batches, its
// rewrite buffer and its two relays, all made once per connection and reused per request.
type clientConn struct {
	p         *Proxy
	client    *sockConn
	buf       *offheap.Buffer
	req       *offheap.RequestBatch
	resp      *offheap.ResponseBatch
	out       []byte
	toUp      *offheap.Relay // client → upstream (request bodies)
	toClient  *offheap.Relay // upstream → client (response bodies)
	opts      offheap.RewriteOptions
	idle      atomic.Bool
	closeNext bool // close the client connection after this exchange
	http10    bool // the request in progress is HTTP/1.0

	// With Config.Sessions: the connection's session id, where its completion arrives, and
	// whether the engine has it now.
	sid       uint64
	sessDone  chan offheap.Completion
	inSession atomic.Bool
	sopts     offheap.SessionOptions
	tcMu      sync.Mutex // guards replacing client (after a session) against Shutdown's reads
}

func (p *Proxy) newClientConn(tc *net.TCPConn) (*clientConn, error) {
	s, err := newSockConn(tc)
	if err != nil {
		return nil, err
	}
	c := &clientConn{p: p, client: s, req: offheap.NewRequestBatch(1), resp: offheap.NewResponseBatch(1), out: make([]byte, 0, 4096)}
	if c.buf, err = offheap.NewBuffer(); err != nil {
		return nil, err
	}
	if c.toUp, err = offheap.NewRelay(); err != nil {
		c.buf.Close()
		return nil, err
	}
	if c.toClient, err = offheap.NewRelay(); err != nil {
		c.buf.Close()
		c.toUp.Close()
		return nil, err
	}
	if ap, ok := tc.RemoteAddr().(*net.TCPAddr); ok {
		c.opts.ClientIP = ap.IP.String()
	}
	c.opts.Proto = "http"
	c.opts.Via = p.cfg.Via
	c.opts.SetHost, c.opts.Host = p.cfg.SetHost, p.cfg.Upstream
	if p.cfg.Sessions {
		c.sid = p.nextSID.Add(1)
		c.sessDone = make(chan offheap.Completion, 1)
		c.sopts = offheap.SessionOptions{
			ClientIP: c.opts.ClientIP, Proto: c.opts.Proto, Via: c.opts.Via,
			SetHost: c.opts.SetHost, Host: c.opts.Host,
			// Idle connections and slow responses come back to the Go code, whose deadlines
			// (IdleTimeout, ResponseHeaderTimeout) then apply; a stalled body fails.
			RequestTimeout: 250 * time.Millisecond, ResponseTimeout: 250 * time.Millisecond,
			StallTimeout: p.cfg.BodyTimeout,
		}
		p.sessMu.Lock()
		p.sessions[c.sid] = c
		p.sessMu.Unlock()
	}
	return c, nil
}

func (c *clientConn) close() {
	c.client.tc.Close()
	c.buf.Close()
	c.toUp.Close()
	c.toClient.Close()
}

// wakeIfIdle ends the wait of a connection idle between requests (graceful shutdown).
func (c *clientConn) wakeIfIdle() {
	if c.idle.Load() {
		c.tcMu.Lock()
		c.client.tc.SetReadDeadline(time.Now())
		c.tcMu.Unlock()
	}
}

func (c *clientConn) serve() {
	defer c.p.forget(c)
	defer c.close()
	for !c.closeNext {
		if c.sessDone != nil && !c.p.shutting.Load() {
			if !c.session() || c.closeNext {
				return
			}
		}
		if !c.readRequestHead() {
			return
		}
		c.p.counters.Requests.Add(1)
		c.exchange()
	}
}

// session lets the engine run the connection's exchanges with an upstream connection until it
// hands them back, then carries on where it stopped: false means close the client connection.
func (c *clientConn) session() bool {
	up, err := c.p.getUpstream(true) // a session cannot retry a request whose body it sent
	if err != nil {
		return true // the Go path answers the request (502)
	}
	c.inSession.Store(true)
	if err := c.p.engine.SubmitSession(c.sid, c.client, up.sockConn, c.buf, up.buf, &c.sopts); err != nil {
		c.inSession.Store(false)
		c.p.putUpstream(up)
		return true
	}
	// The engine works on its own duplicates: close these, or Go's netpoller would wake on
	// every exchange. The completion gives the duplicates back.
	c.client.tc.Close()
	up.tc.Close()
	if c.p.shutting.Load() {
		c.p.engine.Cancel(c.sid) // raced with Shutdown
	}
	comp := <-c.sessDone
	c.inSession.Store(false)
	c.p.counters.Requests.Add(int64(comp.Requests))
	c.p.counters.Responses.Add(int64(comp.Responses))
	keepClient := comp.Session == offheap.SessionRequest || comp.Session == offheap.SessionResponse
	keepUp := comp.Session == offheap.SessionResponse || comp.UpstreamReusable
	client, clientOK := adopt(comp.ClientFd, keepClient)
	upc, upOK := adopt(comp.UpstreamFd, keepUp)
	if clientOK {
		c.tcMu.Lock()
		c.client = client
		c.tcMu.Unlock()
	}
	if upOK {
		up.sockConn = upc
	}
	switch {
	case comp.Session == offheap.SessionResponse && clientOK && upOK:
		// The request went out; the response is this code's (interim, chunked or
		// close-delimited, slow, or missing).
		c.closeNext, c.http10 = comp.CloseClient, false
		now := time.Now()
		up.tc.SetWriteDeadline(now.Add(c.p.cfg.BodyTimeout))
		c.client.tc.SetWriteDeadline(now.Add(c.p.cfg.BodyTimeout))
		c.toUp.Bind(up.sockConn, c.client)
		c.toClient.Bind(c.client, up.sockConn)
		if _, ok := c.forwardResponse(up, offheap.BodyNone, 0, false, comp.HeadMethod, false, false); ok {
			c.p.putUpstream(up)
		} else {
			up.close()
		}
		return !c.closeNext
	case upOK:
		c.p.putUpstream(up)
	default:
		if upc != nil {
			upc.tc.Close()
		}
		up.buf.Close()
	}
	return comp.Session == offheap.SessionRequest && clientOK
}

// adopt takes back a connection a session job gave back: a new sockConn over it when keep,
// else it is closed.
func adopt(fd int, keep bool) (*sockConn, bool) {
	if fd < 0 {
		return nil, false
	}
	if !keep {
		syscall.Close(fd)
		return nil, false
	}
	f := os.NewFile(uintptr(fd), "session")
	nc, err := net.FileConn(f) // a duplicate, registered with the netpoller
	f.Close()
	if err != nil {
		return nil, false
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		return nil, false
	}
	s, err := newSockConn(tc)
	if err != nil {
		tc.Close()
		return nil, false
	}
	return s, true
}

// readRequestHead reads until buf starts with a complete request head; false means close
// (after answering 400/408/431 where it is due).
func (c *clientConn) readRequestHead() bool {
	for {
		view := c.buf.UnsafeBytes()
		if len(view) > 0 {
			c.req.Parse(view)
			if c.req.Len() > 0 && c.req.Complete(0) {
				c.idle.Store(false)
				return true
			}
			if c.req.Len() == 0 || !c.req.Incomplete(0) {
				c.p.counters.BadRequests.Add(1)
				if errors.Is(c.req.Err(0), offheap.ErrTooLarge) {
					c.reply(resp431)
				} else {
					c.reply(resp400)
				}
				return false
			}
		}
		if len(view) == 0 {
			// Deadline first, then the idle flag, then the shutdown check: either Shutdown
			// sees the flag and its wake-up deadline overrides this one, or this sees Shutdown.
			c.client.tc.SetReadDeadline(time.Now().Add(c.p.cfg.IdleTimeout))
			c.idle.Store(true)
			if c.p.shutting.Load() {
				return false
			}
		} else {
			c.idle.Store(false)
			c.client.tc.SetReadDeadline(time.Now().Add(c.p.cfg.ReadHeaderTimeout))
		}
		if len(view) == 0 {
			runtime.Gosched() // as in forwardResponse: the next request is rarely there yet
		}
		n, err := c.buf.ReadFrom(c.client.raw)
		switch {
		case err != nil && len(view) > 0 && errors.Is(err, os.ErrDeadlineExceeded) && !c.p.shutting.Load():
			c.reply(resp408)
			return false
		case err != nil:
			return false // EOF, reset, idle timeout or shutdown between requests
		case n == 0:
			c.p.counters.BadRequests.Add(1)
			c.reply(resp431) // the buffer is full and the head incomplete
			return false
		}
	}
}

func (c *clientConn) reply(b []byte) {
	c.client.tc.SetWriteDeadline(time.Now().Add(c.p.cfg.BodyTimeout))
	c.client.tc.Write(b)
}

// exchange forwards the request at the start of buf and its response; it sets closeNext when
// the client connection cannot carry another request.
func (c *clientConn) exchange() {
	req := c.req
	flags := req.Flags(0)
	if flags&offheap.FlagConnect != 0 || flags&offheap.FlagTEOther != 0 {
		c.p.counters.BadRequests.Add(1)
		if flags&offheap.FlagConnect != 0 {
			c.reply(resp405)
		} else {
			c.reply(resp400)
		}
		c.closeNext = true
		return
	}
	headEnd := req.Start(0) + req.HeadLen(0)
	c.http10 = req.ProtoMinor(0) == 0
	bodyKind, bodyLen := req.Body(0), req.ContentLength(0)
	hasBody := bodyKind == offheap.BodyChunked || (bodyKind == offheap.BodyLength && bodyLen > 0)
	expect := hasBody && req.ExpectContinue(0)
	upgrade := req.Upgrade(0)
	headMethod := flags&offheap.FlagHeadMethod != 0
	if !req.KeepAlive(0) || c.p.shutting.Load() {
		c.closeNext = true
	}
	var err error
	c.out, err = req.RewriteRequest(c.out[:0], 0, &c.opts)
	if err != nil {
		c.p.counters.BadRequests.Add(1)
		c.reply(resp400)
		c.closeNext = true
		return
	}
	// The request head is rewritten into c.out: drop it from buf.
	if err := c.buf.Consume(headEnd); err != nil {
		c.closeNext = true
		return
	}

	// Send the request; a reused pooled connection that turns out closed is retried once on a
	// new connection when nothing of the request could have been consumed by the upstream.
	var up *upstreamConn
	for attempt := 0; ; attempt++ {
		if attempt == 0 {
			up, err = c.p.getUpstream(hasBody)
		} else {
			up, err = c.p.dialUpstream() // a retry never takes another possibly stale pooled one
		}
		if err != nil {
			c.fail(resp502, resp502KeepAlive, &c.p.counters.BadGateway, hasBody)
			return
		}
		now := time.Now()
		up.tc.SetWriteDeadline(now.Add(c.p.cfg.BodyTimeout))
		c.client.tc.SetWriteDeadline(now.Add(c.p.cfg.BodyTimeout))
		c.toUp.Bind(up.sockConn, c.client)
		c.toClient.Bind(c.client, up.sockConn)
		var sent bool
		sent, err = c.sendRequest(up, bodyKind, bodyLen, expect)
		if err == nil {
			status, ok := c.forwardResponse(up, bodyKind, bodyLen, expect && !sent, headMethod, upgrade, attempt == 0 && !hasBody)
			if status == retry {
				c.p.counters.UpstreamRetries.Add(1)
				continue
			}
			if !ok {
				up.close()
				return
			}
			c.p.putUpstream(up)
			return
		}
		up.close()
		debugf("send request: %v", err)
		if up.reused && attempt == 0 && !hasBody && !errors.Is(err, errClient) {
			c.p.counters.UpstreamRetries.Add(1)
			continue
		}
		if errors.Is(err, errClient) {
			c.closeNext = true
			return
		}
		c.fail(resp502, resp502KeepAlive, &c.p.counters.BadGateway, hasBody)
		return
	}
}

// fail answers the client with a proxy error; the connection stays open only when the
// request had no body (so nothing of it is left unread).
func (c *clientConn) fail(closing, keepAlive []byte, counter *atomic.Int64, hasBody bool) {
	counter.Add(1)
	if hasBody || c.closeNext {
		c.closeNext = true
		c.reply(closing)
		return
	}
	c.reply(keepAlive)
}

// errClient marks a failure on the client's side of a relay (the client is gone or broke the
// framing): no response can be sent.
var errClient = errors.New("client side failed")

// sendRequest writes the rewritten head (c.out) and, unless expect (then the body waits for
// the upstream's 100 Continue), the body. sent reports whether the body went out.
func (c *clientConn) sendRequest(up *upstreamConn, kind offheap.BodyKind, n int64, expect bool) (sent bool, err error) {
	if expect {
		return false, up.write(c.out, nil)
	}
	return true, c.sendBody(up, c.out, kind, n)
}

// sendBody writes head (may be empty) and the request body of kind/n from the client to up.
func (c *clientConn) sendBody(up *upstreamConn, head []byte, kind offheap.BodyKind, n int64) error {
	switch kind {
	case offheap.BodyLength:
		view := c.buf.UnsafeBytes()
		inBuf := int(min(int64(len(view)), n))
		if len(head) > 0 || inBuf > 0 {
			if err := up.write(head, view[:inBuf]); err != nil {
				return err
			}
		}
		if err := c.buf.Consume(inBuf); err != nil {
			return err
		}
		if rest := n - int64(inBuf); rest > 0 {
			c.client.tc.SetReadDeadline(time.Now().Add(c.p.cfg.BodyTimeout))
			st, err := c.toUp.Copy(context.Background(), offheap.Exact(rest))
			c.p.counters.BytesSpliced.Add(int64(st.Spliced))
			if err != nil {
				return relayErr(err, st.BytesIn < uint64(rest))
			}
		}
		return nil
	case offheap.BodyChunked:
		if len(head) > 0 {
			if err := up.write(head, nil); err != nil {
				return err
			}
		}
		c.client.tc.SetReadDeadline(time.Now().Add(c.p.cfg.BodyTimeout))
		if err := relayChunked(c.buf, c.client, up.sockConn, c.toUp, true, false); err != nil {
			return err
		}
		return nil
	default:
		if len(head) > 0 {
			return up.write(head, nil)
		}
		return nil
	}
}

// relayErr classifies a request-body relay error: a short source is the client's fault.
func relayErr(err error, short bool) error {
	if short && (errors.Is(err, offheap.ErrUnexpectedEOF) || errors.Is(err, offheap.ErrConnectionReset)) {
		return errors.Join(errClient, err)
	}
	return err
}

type respStatus int

const (
	done respStatus = iota
	retry
)

// forwardResponse reads the upstream's response (forwarding 1xx heads, sending the request
// body on 100 Continue or after ExpectContinueTimeout when bodyPending), rewrites its head and
// relays its body. ok reports whether up can be reused.
func (c *clientConn) forwardResponse(up *upstreamConn, kind offheap.BodyKind, n int64, bodyPending, headMethod, upgrade, mayRetry bool) (respStatus, bool) {
	timeout := c.p.cfg.ResponseHeaderTimeout
	if bodyPending {
		timeout = c.p.cfg.ExpectContinueTimeout
	}
	up.tc.SetReadDeadline(time.Now().Add(timeout))
	gotBytes := false
	for {
		// Read a complete response head into up.buf.
		view := up.buf.UnsafeBytes()
		if len(view) > 0 {
			gotBytes = true
			c.resp.Parse(view)
			if c.resp.Len() == 0 || (!c.resp.Complete(0) && !c.resp.Incomplete(0)) {
				c.fail(resp502, resp502KeepAlive, &c.p.counters.BadGateway, bodyPending)
				return done, false
			}
		}
		if len(view) == 0 || !c.resp.Complete(0) {
			if len(view) == 0 {
				// The upstream has had no time to answer yet: let other connections run
				// first, so the read below mostly finds the response instead of failing with
				// EAGAIN and parking (a syscall and a netpoller round trip per request).
				runtime.Gosched()
			}
			nr, err := up.buf.ReadFrom(up.raw)
			if err == nil && nr == 0 {
				c.fail(resp502, resp502KeepAlive, &c.p.counters.BadGateway, bodyPending)
				return done, false
			}
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					if bodyPending && !gotBytes {
						// No 100 Continue in time: send the body anyway.
						if err := c.sendBody(up, nil, kind, n); err != nil {
							if errors.Is(err, errClient) {
								c.closeNext = true
							} else {
								c.fail(resp502, resp502KeepAlive, &c.p.counters.BadGateway, true)
							}
							return done, false
						}
						bodyPending = false
						up.tc.SetReadDeadline(time.Now().Add(c.p.cfg.ResponseHeaderTimeout))
						continue
					}
					c.fail(resp504, resp504KeepAlive, &c.p.counters.GatewayTimeout, bodyPending)
					return done, false
				}
				if mayRetry && up.reused && !gotBytes {
					up.close()
					return retry, false
				}
				c.fail(resp502, resp502KeepAlive, &c.p.counters.BadGateway, bodyPending)
				return done, false
			}
			continue
		}
		status := c.resp.StatusCode(0)
		headEnd := c.resp.Start(0) + c.resp.HeadLen(0)
		if status >= 100 && status < 200 && status != 101 {
			// Interim response: forward it, and send a waiting body on 100 Continue.
			var err error
			if c.out, err = c.resp.RewriteResponse(c.out[:0], 0, c.p.cfg.Via); err != nil {
				c.fail(resp502, resp502KeepAlive, &c.p.counters.BadGateway, bodyPending)
				return done, false
			}
			if err := up.buf.Consume(headEnd); err != nil {
				return done, false
			}
			if err := c.client.write(c.out, nil); err != nil {
				c.closeNext = true
				return done, false
			}
			if status == 100 && bodyPending {
				if err := c.sendBody(up, nil, kind, n); err != nil {
					if errors.Is(err, errClient) {
						c.closeNext = true
					} else {
						c.fail(resp502, resp502KeepAlive, &c.p.counters.BadGateway, true)
					}
					return done, false
				}
				bodyPending = false
			}
			up.tc.SetReadDeadline(time.Now().Add(c.p.cfg.ResponseHeaderTimeout))
			continue
		}
		if status == 101 && upgrade && c.resp.Upgrade(0) {
			c.tunnel(up, headEnd)
			return done, false
		}
		return done, c.relayResponse(up, headEnd, status, headMethod, bodyPending)
	}
}

// relayResponse writes the rewritten final response head and relays its body to the client.
func (c *clientConn) relayResponse(up *upstreamConn, headEnd, status int, headMethod, bodyPending bool) bool {
	resp := c.resp
	kind, n := resp.Body(0), resp.ContentLength(0)
	if headMethod || status == 204 || status == 304 {
		kind, n = offheap.BodyNone, 0
	}
	reusable := resp.KeepAlive(0) && kind != offheap.BodyClose && !bodyPending
	if bodyPending {
		c.closeNext = true // the client may still send the body the upstream did not want
	}
	if kind == offheap.BodyClose {
		c.closeNext = true // the body ends when the upstream closes: so must the client's
	}
	if kind == offheap.BodyChunked && c.http10 {
		c.closeNext = true // an HTTP/1.0 client gets the payload, ended by closing
	}
	var err error
	if c.out, err = resp.RewriteResponse(c.out[:0], 0, c.p.cfg.Via); err != nil {
		c.fail(resp502, resp502KeepAlive, &c.p.counters.BadGateway, true)
		return false
	}
	if c.closeNext || c.p.shutting.Load() {
		c.closeNext = true
		// Insert Connection: close before the final CRLF.
		if len(c.out) >= 2 && bytes.HasSuffix(c.out, crlf) {
			c.out = append(c.out[:len(c.out)-2], connClose...)
			c.out = append(c.out, crlf...)
		}
	}
	if kind == offheap.BodyChunked && c.http10 {
		c.out = dropHeader(c.out, "Transfer-Encoding")
	}
	if err := up.buf.Consume(headEnd); err != nil {
		return false
	}
	c.p.counters.Responses.Add(1)
	switch kind {
	case offheap.BodyLength, offheap.BodyClose:
		view := up.buf.UnsafeBytes()
		inBuf := len(view)
		if kind == offheap.BodyLength {
			inBuf = int(min(int64(inBuf), n))
		}
		if err := c.client.write(c.out, view[:inBuf]); err != nil {
			c.closeNext = true
			return false
		}
		if err := up.buf.Consume(inBuf); err != nil {
			return false
		}
		var framing offheap.Framing
		if kind == offheap.BodyClose {
			framing = offheap.UntilEOF()
		} else if rest := n - int64(inBuf); rest > 0 {
			framing = offheap.Exact(rest)
		} else {
			return reusable
		}
		up.tc.SetReadDeadline(time.Now().Add(c.p.cfg.BodyTimeout))
		st, err := c.toClient.Copy(context.Background(), framing)
		c.p.counters.BodiesRelayed.Add(1)
		c.p.counters.BytesSpliced.Add(int64(st.Spliced))
		if err != nil {
			c.closeNext = true // the client got a truncated body: close so it notices
			return false
		}
		return reusable
	case offheap.BodyChunked:
		if err := c.client.write(c.out, nil); err != nil {
			c.closeNext = true
			return false
		}
		up.tc.SetReadDeadline(time.Now().Add(c.p.cfg.BodyTimeout))
		c.p.counters.BodiesRelayed.Add(1)
		if err := relayChunked(up.buf, up.sockConn, c.client, c.toClient, false, c.http10); err != nil {
			c.closeNext = true
			return false
		}
		return reusable
	default:
		if err := c.client.write(c.out, nil); err != nil {
			c.closeNext = true
			return false
		}
		return reusable
	}
}

// tunnel forwards a 101 Switching Protocols head, then relays both directions until both
// sides close (WebSocket and other upgrades). Neither connection is reused.
func (c *clientConn) tunnel(up *upstreamConn, headEnd int) {
	c.closeNext = true
	c.p.counters.Upgrades.Add(1)
	c.p.counters.Responses.Add(1)
	var err error
	if c.out, err = c.resp.RewriteResponse(c.out[:0], 0, c.p.cfg.Via); err != nil {
		c.reply(resp502)
		return
	}
	if up.buf.Consume(headEnd) != nil {
		return
	}
	// Bytes that came after the 101 head (upstream) or after the request (client) go first.
	if c.client.write(c.out, up.buf.UnsafeBytes()) != nil || up.buf.Consume(up.buf.Len()) != nil {
		return
	}
	if rest := c.buf.UnsafeBytes(); len(rest) > 0 {
		if up.write(rest, nil) != nil || c.buf.Consume(len(rest)) != nil {
			return
		}
	}
	var zero time.Time
	c.client.tc.SetDeadline(zero)
	up.tc.SetDeadline(zero)
	offheap.Tunnel(context.Background(), c.client, up.sockConn)
}

var debugLog = os.Getenv("PROXY_DEBUG") != ""

func debugf(format string, args ...any) {
	if debugLog {
		log.Printf("proxy: "+format, args...)
	}
}
