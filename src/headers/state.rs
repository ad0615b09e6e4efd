//! The framing accumulator: fed one header line at a time, it fills the well-known index
//! and decides the message framing once the head is complete (RFC 9112 §6, §9.3).

use super::framing::{self, ConnectionOptions, TransferCodings};
use super::known::Known;
use super::record::Kind;
use super::{Body, Error, Head, NOT_PRESENT, flags};

/// What the header lines of one head said about framing so far.
#[derive(Default)]
pub(crate) struct Framing {
    host_count: u32,
    content_length: Option<u64>,
    cl_name: usize,
    te: TransferCodings,
    te_name: usize,
    te_value: usize,
    conn: ConnectionOptions,
    has_upgrade: bool,
    expect_continue: bool,
}

impl Framing {
    /// Takes line `i` (absolute offsets `name_off`, `value_off`); `Err` names a rule broken
    /// by this line and the offending byte.
    #[inline(always)]
    pub(crate) fn line(
        &mut self,
        head: &mut Head,
        i: usize,
        name: &[u8],
        name_off: usize,
        value: &[u8],
        value_off: usize,
    ) -> Result<(), (Error, usize)> {
        match Known::classify_token(name) {
            Some(k) => self.known_line(head, i, k, name_off, value, value_off),
            None => Ok(()),
        }
    }

    /// [`Framing::line`] for a line whose name is already classified as `k`.
    #[inline(always)]
    pub(crate) fn known_line(
        &mut self,
        head: &mut Head,
        i: usize,
        k: Known,
        name_off: usize,
        value: &[u8],
        value_off: usize,
    ) -> Result<(), (Error, usize)> {
        let slot = &mut head.known[k as usize];
        if *slot == NOT_PRESENT {
            *slot = i as u8;
        }
        match k {
            Known::Host => {
                self.host_count += 1;
                if self.host_count > 1 {
                    return Err((Error::HostRepeated, name_off));
                }
                if let Some(j) = framing::invalid_host_byte(value) {
                    return Err((Error::HostInvalid, value_off + j));
                }
            }
            Known::ContentLength => {
                if self.content_length.is_some() {
                    return Err((Error::ContentLengthRepeated, name_off));
                }
                match framing::content_length(value) {
                    Ok(len) => self.content_length = Some(len),
                    Err((e, j)) => return Err((e, value_off + j)),
                }
                self.cl_name = name_off;
            }
            Known::TransferEncoding => {
                if let Err(j) = self.te.add(value) {
                    return Err((Error::TransferEncodingInvalid, value_off + j));
                }
                self.te_name = name_off;
                self.te_value = value_off;
            }
            Known::Connection => self.conn.add(value),
            Known::Upgrade => self.has_upgrade = true,
            Known::Expect => self.expect_continue |= framing::is_100_continue(value),
            _ => {}
        }
        Ok(())
    }

    /// Decides the framing of the complete head (`head.version`, `head.status_code` and the
    /// method flags already set); `empty_line` is the offset of its final empty line.
    #[inline]
    pub(crate) fn finish(
        self,
        kind: Kind,
        head: &mut Head,
        empty_line: usize,
    ) -> Result<(), (Error, usize)> {
        let version = head.version;
        if self.host_count > 0 {
            head.flags |= flags::HAS_HOST;
        }
        if self.te.other {
            head.flags |= flags::TE_OTHER;
        }
        if self.conn.close {
            head.flags |= flags::CONNECTION_CLOSE;
        }
        if self.te.present {
            if version == 0 {
                return Err((Error::TransferEncodingHttp10, self.te_name));
            }
            if self.content_length.is_some() {
                return Err((
                    Error::ContentLengthWithTransferEncoding,
                    self.cl_name.max(self.te_name),
                ));
            }
        }
        let mut keep_alive = !self.conn.close && (version == 1 || self.conn.keep_alive);
        let body = match kind {
            Kind::Request => {
                if version == 1 && self.host_count == 0 {
                    return Err((Error::HostMissing, empty_line));
                }
                if version == 1 {
                    if self.conn.upgrade && self.has_upgrade {
                        head.flags |= flags::UPGRADE;
                    }
                    if self.expect_continue {
                        head.flags |= flags::EXPECT_CONTINUE;
                    }
                }
                if self.te.present {
                    if !self.te.chunked_last {
                        return Err((Error::ChunkedNotLast, self.te_value));
                    }
                    Body::Chunked
                } else if self.content_length.is_some() {
                    Body::Length
                } else {
                    Body::None
                }
            }
            Kind::Response { head_request } => {
                let code = head.status_code;
                if code == 101 && self.has_upgrade {
                    head.flags |= flags::UPGRADE;
                }
                if head_request || code < 200 || code == 204 || code == 304 {
                    Body::None
                } else if self.te.present {
                    if self.te.chunked_last {
                        Body::Chunked
                    } else {
                        Body::Close
                    }
                } else if self.content_length.is_some() {
                    Body::Length
                } else {
                    Body::Close
                }
            }
        };
        if body == Body::Close {
            keep_alive = false;
        }
        if body == Body::Length {
            head.content_length = self.content_length.unwrap_or(0);
        }
        if keep_alive {
            head.flags |= flags::KEEP_ALIVE;
        }
        head.body_kind = body as u8;
        Ok(())
    }
}
