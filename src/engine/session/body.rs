//! Writing an exchange out: the rewritten head with the body bytes read along with it, then
//! the rest of the body through the session's [`Relay`](crate::relay::Relay).

use std::os::fd::BorrowedFd;

use super::{Frame, Phase, Session, SessionProgress, Side, Stop};
use crate::relay::{Framing, Options, Progress, write_vectored};

impl Session {
    /// Writes a frame (head in `out`, then body bytes from the source buffer) to `fd`.
    pub(super) fn send(
        &mut self,
        mut f: Frame,
        to: Side,
        fd: BorrowedFd<'_>,
    ) -> Option<SessionProgress> {
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
                return Some(self.stop(Stop::Request {
                    upstream_reusable: false,
                }));
            }
            return Some(self.stop(Stop::Failed(e)));
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
        src.consume(f.body);
        if f.rest > 0 {
            self.relay.reset(Options::new(Framing::Exact(f.rest)));
            self.phase = match to {
                Side::Upstream => Phase::RequestBody,
                Side::Client => Phase::ResponseBody,
            };
            return None;
        }
        self.sent(to)
    }

    /// A request or response went out in full.
    pub(super) fn sent(&mut self, to: Side) -> Option<SessionProgress> {
        match to {
            Side::Upstream => {
                self.stats.requests += 1;
                self.phase = Phase::ReadResponse;
                None
            }
            Side::Client => {
                self.stats.responses += 1;
                let reusable = self.upstream_reusable;
                if self.close_client {
                    return Some(self.stop(Stop::Done {
                        upstream_reusable: reusable,
                    }));
                }
                if !reusable {
                    return Some(self.stop(Stop::Request {
                        upstream_reusable: false,
                    }));
                }
                self.phase = Phase::ReadRequest;
                None
            }
        }
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
            Err(e) => Some(self.stop(Stop::Failed(e))),
        }
    }
}
