//! The heads of an exchange: reading and parsing the request head and forwarding it
//! rewritten, or stopping at a request that is not the session's; then the same for the
//! response head.

use std::os::fd::BorrowedFd;

use super::{Frame, Phase, Session, SessionProgress, Side, Stop};
use crate::headers::{
    self, Body, Head, RewriteOptions, flags, parse_requests, parse_responses, rewrite_request,
    rewrite_response,
};

/// What parsing the first head in a buffer found.
enum Parsed {
    Complete,
    /// More bytes are needed.
    Incomplete,
    Invalid,
}

/// Classifies the first head of a parse (`heads[0]`, here `h`).
fn first_head(parsed: Result<headers::Batch, headers::BatchError>, h: &Head) -> Parsed {
    match (parsed, h.result()) {
        (Ok(b), Ok(())) if b.heads > 0 => Parsed::Complete,
        (Ok(b), Err(headers::Error::Incomplete)) if b.heads > 0 => Parsed::Incomplete,
        _ => Parsed::Invalid,
    }
}

/// Whether an idle connection is still open: nothing to read yet (a closed one reads end of
/// file, one with stray bytes is no clean HTTP connection either).
fn upstream_open(fd: BorrowedFd<'_>) -> bool {
    matches!(crate::sys::peek(fd, &mut [0u8; 1]), Err(e) if e.would_block())
}

impl Session {
    /// Parses the client buffer; forwards a request the session takes, reads when the head is
    /// not all there. `None`: the phase moved on, step again.
    pub(super) fn read_request(
        &mut self,
        client: BorrowedFd<'_>,
        upstream: BorrowedFd<'_>,
    ) -> Option<SessionProgress> {
        if self.draining {
            return Some(self.stop(Stop::Request {
                upstream_reusable: true,
            }));
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
                    Parsed::Invalid => {
                        return Some(self.stop(Stop::Request {
                            upstream_reusable: true,
                        }));
                    }
                }
            }
            match self.client.read_from(client) {
                Ok(None) => {
                    return Some(SessionProgress::Wait {
                        side: Side::Client,
                        write: false,
                    });
                }
                Ok(Some(0)) | Err(_) if self.client.is_empty() => {
                    return Some(self.stop(Stop::ClientClosed {
                        upstream_reusable: true,
                    }));
                }
                // End of file inside a head, a full buffer, or an error: the caller answers.
                Ok(Some(0)) | Err(_) => {
                    return Some(self.stop(Stop::Request {
                        upstream_reusable: true,
                    }));
                }
                Ok(Some(_)) => self.activity += 1,
            }
        }
    }

    /// Rewrites a complete request head into `out` and starts sending it, or stops when the
    /// request is not the session's.
    pub(super) fn forward_request(
        &mut self,
        h: &Head,
        upstream: BorrowedFd<'_>,
    ) -> Option<SessionProgress> {
        let f = h.flags;
        let theirs =
            f & (flags::UPGRADE | flags::EXPECT_CONTINUE | flags::CONNECT | flags::TE_OTHER) != 0
                || h.version == 0
                || !matches!(h.body(), Body::None | Body::Length);
        let opts = RewriteOptions {
            client_ip: &self.opts.client_ip,
            proto: &self.opts.proto,
            host: self.opts.host.as_deref(),
            via: &self.opts.via,
            append_forwarded: self.opts.append_forwarded,
        };
        let input = self.client.filled();
        let head_len = if theirs {
            None
        } else {
            rewrite_request(input, h, &self.headers, &opts, &mut self.out).ok()
        };
        let Some(head_len) = head_len else {
            return Some(self.stop(Stop::Request {
                upstream_reusable: true,
            }));
        };
        let length = if h.body() == Body::Length {
            h.content_length
        } else {
            0
        };
        if length > 0 && !upstream_open(upstream) {
            // A body cannot be sent twice: a connection the upstream closed is the caller's
            // to replace before anything is sent.
            return Some(self.stop(Stop::Request {
                upstream_reusable: false,
            }));
        }
        self.head_method = f & flags::HEAD_METHOD != 0;
        self.close_client = f & flags::KEEP_ALIVE == 0;
        let end = (h.start + h.len) as usize;
        if length == 0 {
            self.pending_request = end; // dropped when the response starts
        } else {
            self.client.consume(end);
        }
        let frame = Frame::new(head_len, self.client.filled().len(), length);
        self.phase = Phase::SendRequest(frame);
        None
    }

    pub(super) fn read_response(&mut self, upstream: BorrowedFd<'_>) -> Option<SessionProgress> {
        loop {
            if !self.upstream.is_empty() {
                self.response_started();
                let input = self.upstream.filled();
                let parsed = parse_responses(
                    input,
                    &self.opts.head,
                    self.head_method,
                    &mut self.heads,
                    &mut self.headers,
                );
                let h = self.heads[0];
                match first_head(parsed, &h) {
                    Parsed::Complete => return self.relay_response(&h),
                    Parsed::Incomplete => {}
                    Parsed::Invalid => return Some(self.stop(Stop::Response)),
                }
            }
            match self.upstream.read_from(upstream) {
                Ok(None) => {
                    return Some(SessionProgress::Wait {
                        side: Side::Upstream,
                        write: false,
                    });
                }
                Ok(Some(0)) | Err(_) if self.upstream.is_empty() && self.pending_request > 0 => {
                    // Closed before answering a bodiless request: hand the request back
                    // whole, to be sent again on another connection.
                    self.pending_request = 0;
                    self.stats.requests -= 1;
                    return Some(self.stop(Stop::Request {
                        upstream_reusable: false,
                    }));
                }
                Ok(Some(0)) | Err(_) => {
                    self.response_started();
                    return Some(self.stop(Stop::Response));
                }
                Ok(Some(_)) => self.activity += 1,
            }
        }
    }

    pub(super) fn relay_response(&mut self, h: &Head) -> Option<SessionProgress> {
        let status = h.status_code;
        let no_body = self.head_method || status == 204 || status == 304;
        let kind = if no_body { Body::None } else { h.body() };
        if (100..200).contains(&status) || !matches!(kind, Body::None | Body::Length) {
            return Some(self.stop(Stop::Response));
        }
        let input = self.upstream.filled();
        let Ok(mut head_len) =
            rewrite_response(input, h, &self.headers, &self.opts.via, &mut self.out)
        else {
            return Some(self.stop(Stop::Response));
        };
        self.upstream_reusable = h.flags & flags::KEEP_ALIVE != 0;
        if self.close_client {
            // Tell the client this connection ends: Connection: close before the final CRLF.
            const CLOSE: &[u8] = b"Connection: close\r\n\r\n";
            if head_len >= 2 && head_len - 2 + CLOSE.len() <= self.out.len() {
                self.out[head_len - 2..head_len - 2 + CLOSE.len()].copy_from_slice(CLOSE);
                head_len += CLOSE.len() - 2;
            }
        }
        let end = (h.start + h.len) as usize;
        self.upstream.consume(end);
        let length = if kind == Body::Length {
            h.content_length
        } else {
            0
        };
        let frame = Frame::new(head_len, self.upstream.filled().len(), length);
        self.phase = Phase::SendResponse(frame);
        None
    }
}
