//! Response heads in proxy mode: every response HTTP/1.1 allows is relayed. Interim
//! responses go to the client and the session reads on; a `101` to an upgrade request turns
//! the connections into a tunnel; the final response is answered to the client in HTTP/1.1
//! (an HTTP/1.0 upstream's too), with a chunked body de-chunked for an HTTP/1.0 client and a
//! close-delimited body ending the client's connection.

use super::{Frame, Phase, Session, SessionProgress, Side, Stop};
use crate::headers::{Body, Head, flags};
use crate::relay::Framing;

/// Removes the header lines named `name` (any ASCII case) from the head `head[..len]`;
/// returns the new length. The start line is kept.
fn drop_header(head: &mut [u8], mut len: usize, name: &[u8]) -> usize {
    let Some(first) = memchr::memmem::find(&head[..len], b"\r\n") else {
        return len;
    };
    let mut i = first + 2;
    while i < len {
        let Some(eol) = memchr::memmem::find(&head[i..len], b"\r\n") else {
            return len;
        };
        if eol == 0 {
            return len; // the final empty line
        }
        let line = &head[i..i + eol];
        if line.len() > name.len()
            && line[name.len()] == b':'
            && line[..name.len()].eq_ignore_ascii_case(name)
        {
            head.copy_within(i + eol + 2..len, i);
            len -= eol + 2;
            continue;
        }
        i += eol + 2;
    }
    len
}

impl Session {
    /// Relays a complete response head of the exchange in progress (proxy mode).
    pub(super) fn proxy_response(&mut self, h: &Head) -> Option<SessionProgress> {
        let status = h.status_code;
        let end = (h.start + h.len) as usize;
        if status == 100 && self.x.continued {
            // The client had its 100 Continue from the session already.
            self.upstream.consume(end);
            return None;
        }
        let Some(mut head_len) = self.rewrite_response_head(h) else {
            return self.stop(Stop::Response);
        };
        if h.version == 0 && head_len >= 8 {
            // The proxy answers its client in its own version (RFC 9110 §6.2): an HTTP/1.1
            // client keeps its connection whatever the upstream spoke.
            self.out[5..8].copy_from_slice(b"1.1");
        }
        self.upstream.consume(end);
        if status == 101 {
            if !self.x.upgrade || h.flags & flags::UPGRADE == 0 {
                return self.stop(Stop::Response);
            }
            // The tunnel starts with whatever the upstream sent after its head.
            self.x.upgraded = true;
            let n = self.upstream.filled().len();
            self.phase = Phase::SendResponse(Frame {
                body: n,
                taken: n,
                ..Frame::head(head_len)
            });
            return None;
        }
        if (100..200).contains(&status) {
            self.x.interim = true;
            self.phase = Phase::SendResponse(Frame::head(head_len));
            return None;
        }
        self.x.interim = false;
        let no_body = self.x.head_method || status == 204 || status == 304;
        let kind = if no_body { Body::None } else { h.body() };
        self.x.upstream_reusable = h.flags & flags::KEEP_ALIVE != 0 && kind != Body::Close;
        let framing = match kind {
            Body::None => None,
            Body::Length => (h.content_length > 0).then_some(Framing::Exact(h.content_length)),
            Body::Chunked => Some(Framing::Chunked {
                dechunk: self.x.http10,
            }),
            Body::Close => Some(Framing::UntilEof),
        };
        if kind == Body::Chunked && self.x.http10 {
            // An HTTP/1.0 client cannot read chunked: it gets the payload, ended by closing.
            head_len = drop_header(&mut self.out, head_len, b"Transfer-Encoding");
            self.x.close_client = true;
        }
        if kind == Body::Close || self.draining {
            self.x.close_client = true;
        }
        if self.x.close_client {
            head_len = self.say_close(head_len);
        }
        match self.body_frame(head_len, framing, Side::Upstream) {
            Ok(frame) => self.phase = Phase::SendResponse(frame),
            Err(_) => return self.stop(Stop::Response),
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::drop_header;

    #[test]
    fn drop_header_removes_every_line_of_the_name_and_keeps_the_rest() {
        let mut head =
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nX: 1\r\nTransfer-Encoding: x\r\n\r\n"
                .to_vec();
        let n = head.len();
        let n = drop_header(&mut head, n, b"Transfer-Encoding");
        assert_eq!(&head[..n], b"HTTP/1.1 200 OK\r\nX: 1\r\n\r\n");
        let n = drop_header(&mut head, n, b"X-Absent");
        assert_eq!(&head[..n], b"HTTP/1.1 200 OK\r\nX: 1\r\n\r\n");
    }
}
