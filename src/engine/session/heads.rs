//! The heads of an exchange: reading and parsing the request head and forwarding it
//! rewritten, or stopping at a request that is not the session's; then reading the response
//! head and, in pair mode, relaying it or stopping (proxy mode: `proxy.rs`).

use std::os::fd::BorrowedFd;

use super::{
    Frame, Phase, Refusal, Session, SessionProgress, Side, Stop, rewrite_grow, upstream_open,
};
use crate::headers::{
    self, Body, Head, RewriteOptions, flags, parse_requests, parse_responses, rewrite_request,
    rewrite_response,
};
use crate::relay::{BUFFER_SIZE, Buffer, Error, Framing, Options};

/// What parsing the first head in a buffer found.
enum Parsed {
    Complete,
    /// More bytes are needed.
    Incomplete,
    Invalid(Refusal),
}

/// Classifies the first head of a parse (`heads[0]`, here `h`).
fn first_head(parsed: Result<headers::Batch, headers::BatchError>, h: &Head) -> Parsed {
    match (parsed, h.result()) {
        (Ok(b), Ok(())) if b.heads > 0 => Parsed::Complete,
        (Ok(b), Err(headers::Error::Incomplete)) if b.heads > 0 => Parsed::Incomplete,
        (_, Err(headers::Error::HeadTooLarge | headers::Error::TooManyHeaders)) => {
            Parsed::Invalid(Refusal::TooLarge)
        }
        _ => Parsed::Invalid(Refusal::Malformed),
    }
}

/// What reading more of a head into a buffer came to.
pub(super) enum Read {
    /// Bytes arrived: parse again. `drained`: fewer than there was room for, so the
    /// connection had no more then (the next bytes or end of file come with a new readiness
    /// event).
    More { drained: bool },
    /// Nothing to read now.
    Blocked,
    /// End of file, or an error.
    Closed,
    /// The buffer is full and may not grow: the head is too large.
    Full,
}

/// Reads more of a head into `buf`, taking a small buffer from the pool when it has no
/// storage. A read that fills a small buffer goes on at once in a [`BUFFER_SIZE`] one (a
/// long head, or a body behind the head: as much as one read into a full-size buffer would
/// have found). A full buffer grows while the head may still be longer (up to `max_head` and
/// a buffer's worth of body after it).
pub(super) fn read_head(buf: &mut Buffer, fd: BorrowedFd<'_>, max_head: u32) -> Read {
    buf.ensure_small();
    let r = read_once(buf, fd, max_head);
    if !buf.is_small() || !matches!(r, Read::More { drained: false }) {
        return r;
    }
    buf.grow(BUFFER_SIZE);
    match read_once(buf, fd, max_head) {
        Read::Blocked => Read::More { drained: true },
        // Bytes came: the end of file (or error) is found again by the next read.
        Read::Closed | Read::Full => Read::More { drained: false },
        more => more,
    }
}

/// Reads once more of a head into `buf`, which has storage (see [`read_head`]).
fn read_once(buf: &mut Buffer, fd: BorrowedFd<'_>, max_head: u32) -> Read {
    if buf.filled().len() == buf.capacity() {
        let cap = buf.capacity();
        if cap > max_head as usize {
            return Read::Full;
        }
        buf.grow((cap * 4).clamp(BUFFER_SIZE, max_head as usize + BUFFER_SIZE));
    }
    // The room the read has: after the filled bytes, or all but them when `read_from` moves
    // them to the front first (it does when they reach the end).
    let room = match buf.spare_mut().len() {
        0 => buf.capacity() - buf.filled().len(),
        r => r,
    };
    match buf.read_from(fd) {
        Ok(None) => Read::Blocked,
        Ok(Some(0)) | Err(_) => Read::Closed,
        Ok(Some(n)) => Read::More { drained: n < room },
    }
}

impl Session {
    /// Reads more of a head from `side` ([`read_head`]); in proxy mode only when the
    /// connection may have bytes ([`Session::set_ready`]), and a read that finds none clears
    /// that.
    fn read_head(&mut self, side: Side, fd: BorrowedFd<'_>) -> Read {
        let i = side as usize;
        if self.opts.proxy && !self.ready[i] {
            return Read::Blocked;
        }
        let buf = match side {
            Side::Client => &mut self.client,
            Side::Upstream => &mut self.upstream,
        };
        let r = read_head(buf, fd, self.opts.head.max_head_len);
        if matches!(r, Read::Blocked | Read::More { drained: true }) {
            self.ready[i] = false;
        }
        r
    }

    /// Parses the client buffer; forwards a request the session takes, reads when the head is
    /// not all there. `None`: the phase moved on, step again.
    pub(super) fn read_request(
        &mut self,
        client: BorrowedFd<'_>,
        upstream: Option<BorrowedFd<'_>>,
    ) -> Option<SessionProgress> {
        if self.draining {
            return self.refuse(Refusal::Stopped, true);
        }
        loop {
            if !self.client.is_empty() {
                let input = self.client.filled();
                let parsed =
                    parse_requests(input, &self.opts.head, &mut self.heads, &mut self.headers);
                let h = self.heads[0];
                match first_head(parsed, &h) {
                    Parsed::Complete => return self.forward_request(&h, upstream),
                    Parsed::Incomplete => {}
                    Parsed::Invalid(why) => return self.refuse(why, true),
                }
            }
            match self.read_head(Side::Client, client) {
                Read::Blocked => {
                    return Some(SessionProgress::Wait {
                        side: Side::Client,
                        write: false,
                    });
                }
                Read::Closed if self.client.is_empty() => {
                    return self.stop(Stop::ClientClosed {
                        upstream_reusable: true,
                    });
                }
                // End of file inside a head, or an error: the caller answers.
                Read::Closed => return self.refuse(Refusal::Truncated, true),
                Read::Full => {
                    return self.refuse(Refusal::TooLarge, true);
                }
                Read::More { .. } => self.activity += 1,
            }
        }
    }

    /// Whether the session takes request `h`, or why not.
    fn takes(&self, h: &Head) -> Result<(), Refusal> {
        let f = h.flags;
        if !self.opts.proxy && f & (flags::CONNECT | flags::TE_OTHER) != 0 {
            return Err(Refusal::NotTaken);
        }
        if f & flags::CONNECT != 0 {
            return Err(Refusal::Connect);
        }
        if f & flags::TE_OTHER != 0 {
            return Err(Refusal::Coding);
        }
        let pair_only = f & (flags::UPGRADE | flags::EXPECT_CONTINUE) != 0
            || h.version == 0
            || !matches!(h.body(), Body::None | Body::Length);
        if pair_only && !self.opts.proxy {
            return Err(Refusal::NotTaken);
        }
        Ok(())
    }

    /// Rewrites a complete request head into `out` and starts sending it, or stops when the
    /// request is not the session's.
    pub(super) fn forward_request(
        &mut self,
        h: &Head,
        upstream: Option<BorrowedFd<'_>>,
    ) -> Option<SessionProgress> {
        if let Err(why) = self.takes(h) {
            return self.refuse(why, true);
        }
        let opts = RewriteOptions {
            client_ip: &self.opts.client_ip,
            proto: &self.opts.proto,
            host: self.opts.host.as_deref(),
            via: &self.opts.via,
            append_forwarded: self.opts.append_forwarded,
        };
        let input = self.client.filled();
        let headers = &self.headers;
        let Ok(head_len) = rewrite_grow(&mut self.out, |out| {
            rewrite_request(input, h, headers, &opts, out)
        }) else {
            return self.refuse(Refusal::Malformed, true);
        };
        let framing = match h.body() {
            Body::Length if h.content_length > 0 => Some(Framing::Exact(h.content_length)),
            Body::Chunked => Some(Framing::Chunked { dechunk: false }),
            _ => None,
        };
        if !self.opts.proxy && framing.is_some() && !upstream.is_some_and(|u| upstream_open(u)) {
            // A body cannot be sent twice: a connection the upstream closed is the caller's
            // to replace before anything is sent.
            return self.refuse(Refusal::NotTaken, false);
        }
        let f = h.flags;
        self.x = super::Exchange {
            head_method: f & flags::HEAD_METHOD != 0,
            close_client: f & flags::KEEP_ALIVE == 0,
            upstream_reusable: true,
            http10: h.version == 0,
            continued: self.opts.proxy && f & flags::EXPECT_CONTINUE != 0 && framing.is_some(),
            upgrade: f & flags::UPGRADE != 0,
            request_body: framing.is_some(),
            request_head: head_len,
            out_request: true,
            ..super::Exchange::default()
        };
        let end = (h.start + h.len) as usize;
        if framing.is_none() && !self.opts.proxy {
            self.pending_request = end; // dropped when the response starts
        } else {
            self.client.consume(end);
        }
        let frame = match self.body_frame(head_len, framing, Side::Client) {
            Ok(frame) => frame,
            Err(_) => return self.refuse(Refusal::Malformed, true),
        };
        self.phase = if self.opts.hook {
            Phase::Hook(frame)
        } else if self.x.continued {
            Phase::SendContinue { done: 0, frame }
        } else {
            Phase::SendRequest(frame)
        };
        None
    }

    /// The frame of a head of `head` bytes whose body (`framing`; `None`: no body) comes from
    /// the `from` side's buffer: the body bytes already read go out with the head, the relay
    /// is set up for the rest.
    pub(super) fn body_frame(
        &mut self,
        head: usize,
        framing: Option<Framing>,
        from: Side,
    ) -> Result<Frame, Error> {
        let Some(framing) = framing else {
            return Ok(Frame::head(head));
        };
        // Proxy mode splices the rest of a body (through a pooled pipe, copying when the fds
        // do not allow it): between sockets, a proxy's large bodies took about a third less
        // CPU per request so than copied through a buffer (make bench-proxy, 1 MiB).
        let mut o = Options::new(framing);
        o.splice = self.opts.proxy;
        self.relay.reset(o);
        let src = match from {
            Side::Client => &mut self.client,
            Side::Upstream => &mut self.upstream,
        };
        let (taken, body) = self.relay.preface(src.filled_mut())?;
        Ok(Frame {
            done: 0,
            head,
            body,
            taken,
            more: !self.relay.is_complete(),
        })
    }

    pub(super) fn read_response(&mut self, upstream: BorrowedFd<'_>) -> Option<SessionProgress> {
        loop {
            if !self.upstream.is_empty() {
                self.response_started();
                let input = self.upstream.filled();
                let parsed = parse_responses(
                    input,
                    &self.opts.head,
                    self.x.head_method,
                    &mut self.heads,
                    &mut self.headers,
                );
                let h = self.heads[0];
                match first_head(parsed, &h) {
                    Parsed::Complete if self.opts.proxy => return self.proxy_response(&h),
                    Parsed::Complete => return self.relay_response(&h),
                    Parsed::Incomplete => {}
                    Parsed::Invalid(_) => return self.stop(Stop::Response),
                }
            }
            match self.read_head(Side::Upstream, upstream) {
                Read::Blocked => {
                    return Some(SessionProgress::Wait {
                        side: Side::Upstream,
                        write: false,
                    });
                }
                Read::Closed if self.upstream.is_empty() && self.pending_request > 0 => {
                    // Closed before answering a bodiless request: hand the request back
                    // whole, to be sent again on another connection.
                    self.pending_request = 0;
                    self.stats.requests -= 1;
                    return self.refuse(Refusal::NotTaken, false);
                }
                Read::Closed
                    if self.opts.proxy && self.upstream.is_empty() && !self.x.request_body =>
                {
                    // The same in proxy mode: the request goes again from `out`.
                    self.stats.requests -= 1;
                    self.phase = Phase::SendRequest(Frame::head(self.x.request_head));
                    return Some(SessionProgress::UpstreamLost);
                }
                Read::Closed | Read::Full => {
                    self.response_started();
                    return self.stop(Stop::Response);
                }
                Read::More { .. } => self.activity += 1,
            }
        }
    }

    /// Pair mode: relays a response head the session takes, or stops at one it does not.
    pub(super) fn relay_response(&mut self, h: &Head) -> Option<SessionProgress> {
        let status = h.status_code;
        let no_body = self.x.head_method || status == 204 || status == 304;
        let kind = if no_body { Body::None } else { h.body() };
        if (100..200).contains(&status) || !matches!(kind, Body::None | Body::Length) {
            return self.stop(Stop::Response);
        }
        let Some(mut head_len) = self.rewrite_response_head(h) else {
            return self.stop(Stop::Response);
        };
        self.x.upstream_reusable = h.flags & flags::KEEP_ALIVE != 0;
        if self.x.close_client {
            head_len = self.say_close(head_len);
        }
        self.upstream.consume((h.start + h.len) as usize);
        let framing = (kind == Body::Length && h.content_length > 0)
            .then_some(Framing::Exact(h.content_length));
        match self.body_frame(head_len, framing, Side::Upstream) {
            Ok(frame) => self.phase = Phase::SendResponse(frame),
            Err(_) => return self.stop(Stop::Response),
        }
        None
    }

    /// Rewrites response head `h` (at the front of the upstream buffer) into `out`; returns
    /// its length, or `None` when it cannot be rewritten.
    pub(super) fn rewrite_response_head(&mut self, h: &Head) -> Option<usize> {
        let input = self.upstream.filled();
        let headers = &self.headers;
        let via = &self.opts.via;
        self.x.out_request = false;
        rewrite_grow(&mut self.out, |out| {
            rewrite_response(input, h, headers, via, out)
        })
        .ok()
    }

    /// Tells the client the connection closes: `Connection: close` before the final CRLF of
    /// the head of `head_len` bytes in `out`. Returns the new length.
    pub(super) fn say_close(&mut self, head_len: usize) -> usize {
        const CLOSE: &[u8] = b"Connection: close\r\n\r\n";
        if head_len < 2 {
            return head_len;
        }
        let end = head_len - 2 + CLOSE.len();
        if self.out.len() < end {
            self.out.resize(end, 0);
        }
        self.out[head_len - 2..end].copy_from_slice(CLOSE);
        end
    }
}
