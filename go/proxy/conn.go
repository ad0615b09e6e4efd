package proxy

import (
	"bytes"
	"context"
	"errors"
	"log"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	offheap "github.com/offheap/offheap/go"
)

var (
	connClose = []byte("Connection: close\r\n")
	crlf      = []byte("\r\n")
)

// clientConn is one client connection of the Go mode: its Rust-owned read buffer, its parse
// batches, its rewrite buffer and its two relays, all made once per connection and reused
// per request.
type clientConn struct {
	p        *Proxy
	client   *sockConn
	buf      *offheap.Buffer
	req      *offheap.RequestBatch
	resp     *offheap.ResponseBatch
	out      []byte
	reqHead  int            // the rewritten request head's length in out (0 once out holds a response head)
	toUp     *offheap.Relay // client → upstream (request bodies)
	toClient *offheap.Relay // upstream → client (response bodies)
	opts     offheap.RewriteOptions
	idle     atomic.Bool
	// up is the upstream connection of the exchange in progress, for abort (another
	// goroutine) to end its waits too; aborted, set by abort before it reads up, stops an
	// exchange that took its upstream connection as abort ran.
	up      atomic.Pointer[upstreamConn]
	aborted atomic.Bool

	// A head longer than buf: read into big, parsed by bigReq (cur is the batch in use).
	big     []byte
	bigReq  *offheap.RequestBatch
	cur     *offheap.RequestBatch
	bigHead bool
	hook    *Request

	served    bool // a request was read: later waits are idle ones
	closeNext bool // close the client connection after this exchange
	http10    bool // the request in progress is HTTP/1.0
}

// maxSpareConns is how many connection records (with their buffer, batches and relays) the
// Go mode keeps for new connections to reuse.
const maxSpareConns = 256

// newClientConn returns the record of a new connection: a spare one reset, or a new one.
func (p *Proxy) newClientConn(tc *net.TCPConn) (*clientConn, error) {
	p.spareMu.Lock()
	var c *clientConn
	if n := len(p.spares); n > 0 {
		c, p.spares[n-1] = p.spares[n-1], nil
		p.spares = p.spares[:n-1]
	}
	p.spareMu.Unlock()
	if c == nil {
		var err error
		if c, err = p.makeClientConn(); err != nil {
			return nil, err
		}
	}
	if err := c.client.attach(tc); err != nil {
		c.release()
		return nil, err
	}
	if ap, ok := tc.RemoteAddr().(*net.TCPAddr); ok {
		c.opts.ClientIP = ap.IP.String()
	}
	c.served, c.closeNext, c.http10, c.reqHead, c.bigHead, c.cur = false, false, false, 0, false, c.req
	c.idle.Store(false)
	c.aborted.Store(false)
	c.up.Store(nil)
	return c, nil
}

// makeClientConn makes a connection record: the Rust-owned buffer, the batches and the relays
// every connection of the Go mode has.
func (p *Proxy) makeClientConn() (*clientConn, error) {
	s := &sockConn{}
	s.vw.fn = s.vw.step
	c := &clientConn{p: p, client: s, req: offheap.NewRequestBatch(1), resp: offheap.NewResponseBatch(1),
		out: make([]byte, 0, 4096)}
	c.cur = c.req
	var err error
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
	// Bodies beyond what came with their head move through a pipe (splice), as in engine
	// mode: between sockets it cost less CPU per large body than copying.
	c.toUp.SetSplice(true)
	c.toClient.SetSplice(true)
	c.opts.Proto = "http"
	c.opts.Via = p.cfg.Via
	c.opts.SetHost, c.opts.Host = p.cfg.SetHost, p.cfg.Upstreams[0]
	if p.cfg.Rewrite != nil {
		c.hook = newRequest(p.cfg.MaxHeaderBytes)
	}
	return c, nil
}

// close closes the connection and keeps its record for a new connection (or releases it).
// The record must no longer be in the proxy's set of connections.
func (c *clientConn) close() {
	c.disconnect()
	c.recycle()
}

// disconnect closes the client connection. The relays let go of it first, while its fd can
// still be named: the next Bind of the reused wrapper would otherwise name the closed one to
// unwatch it, and that failure allocates its error.
func (c *clientConn) disconnect() {
	c.toUp.Bind(nil, nil)
	c.toClient.Bind(nil, nil)
	c.client.tc.Close()
}

// recycle keeps the record of a closed connection for a new connection (or releases it).
func (c *clientConn) recycle() {
	c.buf.Consume(c.buf.Len()) // what the next read will drop
	p := c.p
	p.spareMu.Lock()
	if len(p.spares) < maxSpareConns && !p.shutting.Load() {
		p.spares = append(p.spares, c)
		c = nil
	}
	p.spareMu.Unlock()
	if c != nil {
		c.release()
	}
}

// release frees the record's Rust objects.
func (c *clientConn) release() {
	c.buf.Close()
	c.toUp.Close()
	c.toClient.Close()
}

// abort ends the connection from another goroutine (Shutdown past its deadline): the buffer
// and the relays wait through pollers of their own, which closing the connection does not
// wake, so their deadlines end those waits, and those of the upstream connection in use.
func (c *clientConn) abort() {
	c.aborted.Store(true)
	c.client.tc.Close()
	now := time.Now()
	c.buf.SetReadDeadline(now)
	c.toUp.SetDeadline(now)
	c.toClient.SetDeadline(now)
	if up := c.up.Load(); up != nil { // waiting for a response head, or writing to it
		up.buf.SetReadDeadline(now)
		up.tc.SetDeadline(now)
	}
}

// wakeIfIdle ends the wait of a connection idle between requests (graceful shutdown).
func (c *clientConn) wakeIfIdle() {
	if c.idle.Load() {
		c.buf.SetReadDeadline(time.Now())
	}
}

func (c *clientConn) serve() {
	defer func() {
		c.disconnect()
		c.p.forget(c) // before the record can be reused
		c.recycle()
	}()
	for !c.closeNext {
		if !c.readRequestHead() {
			return
		}
		c.served = true
		c.p.c.requests.Add(1)
		c.exchange()
	}
}

// readRequestHead reads until the next request head is complete (in buf, or in big for a
// head longer than buf); false means close (after answering 400/408/431 where it is due).
func (c *clientConn) readRequestHead() bool {
	c.cur, c.bigHead = c.req, false
	headStarted := false
	for {
		view := c.buf.UnsafeBytes()
		if len(view) > 0 {
			c.req.Parse(view)
			if c.req.Len() > 0 && c.req.Complete(0) {
				c.idle.Store(false)
				return true
			}
			if c.req.Len() == 0 || !c.req.Incomplete(0) {
				c.p.c.badRequests.Add(1)
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
			// The first request of a connection gets ReadHeaderTimeout, as in net/http.
			wait := c.p.cfg.IdleTimeout
			if !c.served {
				wait = c.p.cfg.ReadHeaderTimeout
			}
			c.buf.SetReadDeadline(deadline(wait))
			c.idle.Store(true)
			if c.p.shutting.Load() {
				return false
			}
			runtime.Gosched() // as in forwardResponse: the next request is rarely there yet
		} else if !headStarted {
			// ReadHeaderTimeout runs from the head's first bytes: a head that trickles in a
			// byte at a time does not restart it.
			headStarted = true
			c.idle.Store(false)
			c.buf.SetReadDeadline(deadline(c.p.cfg.ReadHeaderTimeout))
		}
		n, err := c.buf.ReadFrom(c.client.raw)
		switch {
		case err != nil && len(view) > 0 && errors.Is(err, os.ErrDeadlineExceeded) && !c.p.shutting.Load():
			c.reply(resp408)
			return false
		case err != nil:
			return false // EOF, reset, idle timeout or shutdown between requests
		case n == 0:
			return c.readBigHead() // the buffer is full and the head incomplete
		}
	}
}

// readBigHead reads a head longer than buf into big: the bytes buf holds, then from the
// socket exactly up to the head's end (peeked first, so the body stays in the socket for the
// relay), up to MaxHeaderBytes. It allocates (once per connection, then reuses big).
func (c *clientConn) readBigHead() bool {
	tooLarge := func() bool {
		c.p.c.badRequests.Add(1)
		c.reply(resp431)
		return false
	}
	maxHead := c.p.cfg.MaxHeaderBytes
	if maxHead <= offheap.BufferSize {
		return tooLarge()
	}
	c.big = append(c.big[:0], c.buf.UnsafeBytes()...)
	if c.buf.Consume(len(c.big)) != nil {
		return false
	}
	peek := make([]byte, 64<<10)
	for {
		n, err := c.client.recv(peek, true)
		if err != nil || n == 0 {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.reply(resp408)
			}
			return false
		}
		// The head ends at the first CRLF CRLF, which may straddle what big holds already.
		tail := max(len(c.big)-3, 0)
		joined := append(c.big[tail:len(c.big):len(c.big)], peek[:n]...)
		take := n
		if i := bytes.Index(joined, []byte("\r\n\r\n")); i >= 0 {
			take = i + 4 - (len(c.big) - tail)
		}
		if len(c.big)+take > maxHead {
			return tooLarge()
		}
		start := len(c.big)
		c.big = append(c.big, peek[:take]...)
		if got, err := c.client.recv(c.big[start:], false); err != nil || got != take {
			return false
		}
		if take < n || bytes.HasSuffix(c.big, []byte("\r\n\r\n")) {
			break
		}
	}
	if c.bigReq == nil {
		c.bigReq = offheap.NewRequestBatch(1)
		c.bigReq.Config.MaxHeadLen = uint32(maxHead)
	}
	c.bigReq.Parse(c.big)
	if c.bigReq.Len() == 0 || !c.bigReq.Complete(0) {
		c.p.c.badRequests.Add(1)
		if c.bigReq.Len() > 0 && errors.Is(c.bigReq.Err(0), offheap.ErrTooLarge) {
			return tooLarge()
		}
		c.reply(resp400)
		return false
	}
	c.cur, c.bigHead = c.bigReq, true
	c.idle.Store(false)
	return true
}

func (c *clientConn) reply(b []byte) {
	c.client.tc.SetWriteDeadline(deadline(c.p.cfg.BodyTimeout))
	c.client.tc.Write(b)
}

// deadline is the time d from now, or none for a negative d.
func deadline(d time.Duration) time.Time {
	if d < 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// exchange forwards the request at the start of buf (or in big) and its response; it sets
// closeNext when the client connection cannot carry another request.
func (c *clientConn) exchange() {
	req := c.cur
	flags := req.Flags(0)
	if flags&offheap.FlagConnect != 0 || flags&offheap.FlagTEOther != 0 {
		c.p.c.badRequests.Add(1)
		if flags&offheap.FlagConnect != 0 {
			c.reply(resp405)
		} else {
			c.reply(resp501)
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
		c.p.c.badRequests.Add(1)
		c.reply(resp400)
		c.closeNext = true
		return
	}
	// The request head is rewritten into c.out: drop it from buf.
	if !c.bigHead {
		if err := c.buf.Consume(headEnd); err != nil {
			c.closeNext = true
			return
		}
	}
	if c.hook != nil {
		c.p.c.hookCalls.Add(1)
		head, err := c.hook.run(c.p.cfg.Rewrite, c.out)
		if err != nil {
			c.p.c.badRequests.Add(1)
			c.reply(resp400)
			c.closeNext = true
			return
		}
		if head != nil {
			c.out = append(c.out[:0], head...)
		}
	}
	c.reqHead = len(c.out)

	// Send the request; a reused pooled connection that turns out closed is retried once on a
	// new connection when nothing of the request could have been consumed by the upstream
	// (redial closes the old one and dials in its place, under MaxConnsPerUpstream).
	var up *upstreamConn
	for attempt := 0; ; attempt++ {
		if attempt == 0 {
			up, err = c.p.ups.get(hasBody)
		} else {
			up, err = c.p.ups.redial(up)
		}
		if err != nil {
			c.up.Store(nil)
			c.fail(502, errDial, hasBody)
			return
		}
		c.up.Store(up)
		if c.aborted.Load() { // Shutdown ended the connection as it took up
			c.up.Store(nil)
			c.p.ups.put(up, false, true)
			return
		}
		now := time.Now()
		up.tc.SetWriteDeadline(now.Add(c.p.cfg.BodyTimeout))
		c.client.tc.SetWriteDeadline(now.Add(c.p.cfg.BodyTimeout))
		var sent bool
		sent, err = c.sendRequest(up, bodyKind, bodyLen, expect)
		if err == nil {
			status, ok := c.forwardResponse(up, bodyKind, bodyLen, expect && !sent, headMethod, upgrade, attempt == 0 && !hasBody)
			if status == retry {
				c.p.c.upstreamRetries.Add(1)
				continue
			}
			c.up.Store(nil)
			c.p.ups.put(up, ok, c.p.shutting.Load())
			return
		}
		debugf("send request: %v", err)
		if up.reused && attempt == 0 && !hasBody && !errors.Is(err, errClient) {
			c.p.c.upstreamRetries.Add(1)
			continue
		}
		c.up.Store(nil)
		c.p.ups.put(up, false, false)
		if errors.Is(err, errClient) {
			c.closeNext = true
			return
		}
		c.fail(502, errUpstream, hasBody)
		return
	}
}

// fail answers the client with a proxy error (502 or 504, or what ErrorHandler writes); the
// connection stays open only when the request had no body (so nothing of it is left unread).
func (c *clientConn) fail(status int, cause error, hasBody bool) {
	closing := hasBody || c.closeNext
	if closing {
		c.closeNext = true
	}
	if status == 504 {
		c.p.c.gatewayTimeout.Add(1)
	} else {
		c.p.c.badGateway.Add(1)
	}
	if c.p.cfg.ErrorHandler != nil {
		c.p.c.errorHandlerCalls.Add(1)
		c.reply(c.p.errorResponse(c.out[:c.reqHead], status, cause, closing))
		return
	}
	switch {
	case status == 504 && closing:
		c.reply(resp504)
	case status == 504:
		c.reply(resp504KeepAlive)
	case closing:
		c.reply(resp502)
	default:
		c.reply(resp502KeepAlive)
	}
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
			if err := c.bindRelay(c.toUp, c.client, up.sockConn); err != nil {
				return err
			}
			st, err := c.toUp.Copy(context.Background(), offheap.Exact(rest))
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
		c.buf.SetReadDeadline(time.Now().Add(c.p.cfg.BodyTimeout))
		if err := c.bindRelay(c.toUp, c.client, up.sockConn); err != nil {
			return err
		}
		return relayChunked(c.buf, c.client, up.sockConn, c.toUp, true, false)
	default:
		if len(head) > 0 {
			return up.write(head, nil)
		}
		return nil
	}
}

// bindRelay makes r relay from src to dst, with BodyTimeout as its deadline. A relay is bound
// only for a body that goes on past what came with its head: an exchange without one costs no
// epoll_ctl, and a record that never relayed a body holds no poller (no fd).
func (c *clientConn) bindRelay(r *offheap.Relay, src, dst *sockConn) error {
	if err := r.Bind(src, dst); err != nil {
		return err
	}
	return r.SetDeadline(time.Now().Add(c.p.cfg.BodyTimeout))
}

// relayErr classifies a request-body relay error: a short source is the client's fault.
func relayErr(err error, short bool) error {
	if short && (errors.Is(err, offheap.ErrUnexpectedEOF) || errors.Is(err, offheap.ErrConnectionReset)) {
		return errors.Join(errClient, err)
	}
	return err
}

var debugLog = os.Getenv("PROXY_DEBUG") != ""

func debugf(format string, args ...any) {
	if debugLog {
		log.Printf("proxy: "+format, args...)
	}
}
