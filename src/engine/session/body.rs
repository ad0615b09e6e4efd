//! Writing an exchange out: the rewritten head with the body bytes read along with it, then
//! the rest of the body through the session's [`Relay`](crate::relay::Relay).

use std::os::fd::BorrowedFd;

use super::{Frame, Phase, Session, SessionProgress, Side, Stop, upstream_open};
use crate::relay::{Progress, write_vectored};

/// What proxy mode answers to `Expect: 100-continue` before it relays the body.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

impl Session {
    /// Writes a frame (head in `out`, then body bytes from the source buffer) to `fd`.
    pub(super) fn send(
        &mut self,
        mut f: Frame,
        to: Side,
        fd: BorrowedFd<'_>,
    ) -> Option<SessionProgress> {
        if self.opts.proxy && to == Side::Upstream && f.done == 0 && !self.x.upgraded {
            // The poller said nothing since a read came back empty: still open, nothing to
            // read, no need to look.
            let has_body = f.body > 0 || f.more;
            if has_body && self.ready[Side::Upstream as usize] && !upstream_open(fd) {
                // A pooled connection the upstream closed: nothing of the request was sent.
                return Some(SessionProgress::UpstreamLost);
            }
        }
        let src = if to == Side::Upstream {
            &mut self.client
        } else {
            &mut self.upstream
        };
        let mut failed = None;
        let mut moved = false;
        while f.done < f.head + f.body {
            let head = &self.out[f.done.min(f.head)..f.head];
            let body = &src.filled()[f.done.saturating_sub(f.head)..f.body];
            match write_vectored(fd, &[head, body]) {
                Ok(Some(n)) => {
                    f.done += n;
                    moved = true;
                }
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        if moved {
            self.activity += 1;
        }
        if let Some(e) = failed {
            if to == Side::Upstream && self.pending_request > 0 {
                // A bodiless request on a connection the upstream closed: hand it back whole.
                self.pending_request = 0;
                return self.refuse(super::Refusal::NotTaken, false);
            }
            if self.opts.proxy && to == Side::Upstream && !self.x.upgraded {
                if f.done == 0 {
                    self.phase = Phase::SendRequest(f);
                    return Some(SessionProgress::UpstreamLost);
                }
                // The client still sends the rest of its body: answer and close.
                self.x.close_client = true;
                return self.stop(Stop::Response);
            }
            return self.stop(Stop::Failed(e));
        }
        if f.done < f.head + f.body {
            self.phase = match to {
                Side::Upstream => Phase::SendRequest(f),
                Side::Client => Phase::SendResponse(f),
            };
            return Some(SessionProgress::Wait {
                side: to,
                write: true,
            });
        }
        src.consume(f.taken);
        if f.more {
            self.phase = match to {
                Side::Upstream => Phase::RequestBody,
                Side::Client => Phase::ResponseBody,
            };
            return None;
        }
        self.sent(to)
    }

    /// Proxy mode: writes `100 Continue` to the client (`done` bytes of it written so far),
    /// then goes on to send the request.
    pub(super) fn send_continue(
        &mut self,
        mut done: usize,
        frame: Frame,
        client: BorrowedFd<'_>,
    ) -> Option<SessionProgress> {
        while done < CONTINUE.len() {
            match write_vectored(client, &[&CONTINUE[done..]]) {
                Ok(Some(n)) => {
                    done += n;
                    self.activity += 1;
                }
                Ok(None) => {
                    self.phase = Phase::SendContinue { done, frame };
                    return Some(SessionProgress::Wait {
                        side: Side::Client,
                        write: true,
                    });
                }
                Err(e) => return self.stop(Stop::Failed(e)),
            }
        }
        self.phase = Phase::SendRequest(frame);
        None
    }

    /// A request or response went out in full.
    pub(super) fn sent(&mut self, to: Side) -> Option<SessionProgress> {
        if self.x.upgraded {
            return self.upgraded(to);
        }
        match to {
            Side::Upstream => {
                self.stats.requests += 1;
                self.phase = Phase::ReadResponse;
                None
            }
            Side::Client if self.x.interim => {
                self.x.interim = false;
                self.phase = Phase::ReadResponse;
                None
            }
            Side::Client => {
                self.stats.responses += 1;
                let reusable = self.x.upstream_reusable;
                if self.x.close_client {
                    return self.stop(Stop::Done {
                        upstream_reusable: reusable,
                    });
                }
                self.phase = Phase::ReadRequest;
                if self.opts.proxy {
                    return Some(SessionProgress::Exchanged {
                        upstream_reusable: reusable,
                    });
                }
                if !reusable {
                    return self.refuse(super::Refusal::NotTaken, false);
                }
                None
            }
        }
    }

    /// After the 101 went to the client: what the client sent after its request goes to the
    /// upstream, then the session is a tunnel.
    fn upgraded(&mut self, to: Side) -> Option<SessionProgress> {
        let rest = self.client.filled().len();
        if to == Side::Client && rest > 0 {
            self.phase = Phase::SendRequest(Frame {
                body: rest,
                taken: rest,
                ..Frame::head(0)
            });
            return None;
        }
        self.stats.responses += 1;
        self.stop(Stop::Upgraded)
    }

    pub(super) fn relay_body(
        &mut self,
        src: BorrowedFd<'_>,
        dst: BorrowedFd<'_>,
        from: Side,
    ) -> Option<SessionProgress> {
        let other = if from == Side::Client {
            Side::Upstream
        } else {
            Side::Client
        };
        let (out0, in0) = (self.relay.stats().bytes_out, self.relay.stats().bytes_in);
        let r = self.relay.step(src, dst);
        let (out1, in1) = (self.relay.stats().bytes_out, self.relay.stats().bytes_in);
        self.stats.body_bytes += out1 - out0;
        if out1 != out0 || in1 != in0 {
            self.activity += 1;
        }
        // A body relay reads its source until it would block or the body ends, when more
        // bytes (the next message) may follow: its source's readiness is known only then.
        self.ready[from as usize] = !matches!(r, Ok(Progress::WantRead));
        match r {
            Ok(Progress::Done) => self.sent(other),
            Ok(Progress::WantRead) => Some(SessionProgress::Wait {
                side: from,
                write: false,
            }),
            Ok(Progress::WantWrite) => Some(SessionProgress::Wait {
                side: other,
                write: true,
            }),
            Ok(Progress::Again) => Some(SessionProgress::Again),
            Err(e) => self.stop(Stop::Failed(e)),
        }
    }
}
