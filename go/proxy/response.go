package proxy

import (
	"bytes"
	"context"
	"errors"
	"os"
	"runtime"
	"time"

	offheap "github.com/offheap/offheap/go"
)

var http10 = []byte("HTTP/1.0 ")

// sendPendingBody sends a body that waited for 100 Continue (or for its time to pass); false
// means the exchange ends (the client is gone, or the upstream failed: 502).
func (c *clientConn) sendPendingBody(up *upstreamConn, kind offheap.BodyKind, n int64) bool {
	err := c.sendBody(up, nil, kind, n)
	switch {
	case err == nil:
		return true
	case errors.Is(err, errClient):
		c.closeNext = true
	default:
		c.fail(502, errUpstream, true)
	}
	return false
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
	up.buf.SetReadDeadline(time.Now().Add(timeout))
	gotBytes := false
	for {
		// Read a complete response head into up.buf.
		view := up.buf.UnsafeBytes()
		if len(view) > 0 {
			gotBytes = true
			c.resp.Parse(view)
			if c.resp.Len() == 0 || (!c.resp.Complete(0) && !c.resp.Incomplete(0)) {
				c.fail(502, errUpstream, bodyPending)
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
				c.fail(502, errUpstream, bodyPending)
				return done, false
			}
			if err != nil {
				if errors.Is(err, os.ErrDeadlineExceeded) {
					if bodyPending && !gotBytes {
						// No 100 Continue in time: send the body anyway.
						if !c.sendPendingBody(up, kind, n) {
							return done, false
						}
						bodyPending = false
						up.buf.SetReadDeadline(time.Now().Add(c.p.cfg.ResponseHeaderTimeout))
						continue
					}
					c.fail(504, errTimeout, bodyPending)
					return done, false
				}
				if mayRetry && up.reused && !gotBytes {
					return retry, false // the caller closes up and dials in its place
				}
				c.fail(502, errUpstream, bodyPending)
				return done, false
			}
			continue
		}
		status := c.resp.StatusCode(0)
		headEnd := c.resp.Start(0) + c.resp.HeadLen(0)
		if status >= 100 && status < 200 && status != 101 {
			// Interim response: forward it, and send a waiting body on 100 Continue.
			var err error
			c.reqHead = 0
			if c.out, err = c.resp.RewriteResponse(c.out[:0], 0, c.p.cfg.Via); err != nil {
				c.fail(502, errUpstream, bodyPending)
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
				if !c.sendPendingBody(up, kind, n) {
					return done, false
				}
				bodyPending = false
			}
			up.buf.SetReadDeadline(time.Now().Add(c.p.cfg.ResponseHeaderTimeout))
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
	c.reqHead = 0
	if c.out, err = resp.RewriteResponse(c.out[:0], 0, c.p.cfg.Via); err != nil {
		c.fail(502, errUpstream, true)
		return false
	}
	if bytes.HasPrefix(c.out, http10) {
		// The proxy answers in its own version (RFC 9110 §6.2): an HTTP/1.1 client keeps its
		// connection whatever the upstream spoke.
		c.out[len("HTTP/1.")] = '1'
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
	c.p.c.responses.Add(1)
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
		if err := c.bindRelay(c.toClient, up.sockConn, c.client); err != nil {
			c.closeNext = true
			return false
		}
		if _, err := c.toClient.Copy(context.Background(), framing); err != nil {
			c.closeNext = true // the client got a truncated body: close so it notices
			return false
		}
		return reusable
	case offheap.BodyChunked:
		if err := c.client.write(c.out, nil); err != nil {
			c.closeNext = true
			return false
		}
		up.buf.SetReadDeadline(time.Now().Add(c.p.cfg.BodyTimeout))
		if err := c.bindRelay(c.toClient, up.sockConn, c.client); err != nil {
			c.closeNext = true
			return false
		}
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
	c.p.c.upgrades.Add(1)
	c.p.c.responses.Add(1)
	var err error
	c.reqHead = 0
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
