//! Batched, zero-copy, strict HTTP/1.x head parsing with RFC 9112 §6 message framing.
//!
//! One call parses many request (or response) heads into flat, caller-owned arrays: a
//! fixed-size [`Head`] record per head and a [`HeaderSpan`] per header line, both plain
//! `u32`/`u64` data holding offsets into the caller's own input. Nothing is copied and
//! nothing is allocated. The input is either one connection's pipelined bytes
//! ([`parse_requests`]) or the heads of many connections concatenated, with an offsets array
//! ([`parse_requests_at`]).
//!
//! ```
//! use offheap::headers::{parse_requests, Body, Config, Head, HeaderSpan, Known, flags};
//!
//! let input = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi";
//! let mut heads = [Head::default(); 16];
//! let mut headers = [HeaderSpan::default(); 256];
//! let batch = parse_requests(input, &Config::default(), &mut heads, &mut headers).unwrap();
//! assert_eq!(batch.heads, 2);
//! assert_eq!(batch.consumed, input.len()); // the second body was skipped too
//! let post = &heads[1];
//! assert!(post.is_complete());
//! assert_eq!(post.method.of(input), b"POST");
//! assert_eq!(post.body(), Body::Length);
//! assert_eq!(post.content_length, 2);
//! assert!(post.flags & flags::KEEP_ALIVE != 0);
//! let host = post.header(&headers, Known::Host).unwrap();
//! assert_eq!(host.value(input), b"x");
//! ```
//!
//! # How it works
//!
//! A strict request head (the common case) goes through one fused pass (`fast.rs`): it
//! tokenizes, validates every byte, writes the span records, matches well-known names
//! ([`Known`], a perfect hash on length and first and last byte, then one exact compare of
//! overlapping words) and feeds the framing pass ([`Body`], [`flags`]) line by line. Long
//! runs (targets, values) are tested 16 bytes per step in plain code the compiler
//! vectorizes, and the hit is located with word (SWAR) arithmetic; nothing is stored twice
//! and no byte is re-read. Responses, heads with leading empty lines, and the bare-LF
//! leniency go through the general path: [httparse] tokenizes (SIMD where the CPU has it),
//! then one walk over its header list does the same work. Both paths are held to
//! httparse's spans and to each other by the differential tests.
//!
//! Only when a head is rejected does a third, byte-at-a-time scanner ([`diagnose()`]) run over
//! it to name the exact rule and byte offset, so the happy path never scans a byte twice.
//! The rules themselves, each with its RFC section, are the variants of [`Error`].

mod batch;
mod diagnose;
mod error;
mod fast;
mod framing;
mod head;
mod incomplete;
mod known;
mod parse;
mod record;
mod rewrite;
mod state;

pub use batch::{Batch, parse_requests, parse_requests_at, parse_responses, parse_responses_at};
pub use diagnose::diagnose;
pub use error::{BatchError, Error};
pub use framing::MAX_CONTENT_LENGTH;
pub use head::{Body, Head, HeaderSpan, Span, flags};
pub use known::{KNOWN_COUNT, Known, NOT_PRESENT};
pub use rewrite::{RewriteError, RewriteOptions, rewrite_request, rewrite_response};

/// Hard ceiling of [`Config::max_headers`] (the well-known index stores `u8` positions).
pub const MAX_HEADERS_LIMIT: usize = 254;

/// Hard ceiling of [`Config::max_head_len`].
pub const MAX_HEAD_LEN_LIMIT: u32 = 1 << 24;

/// Limits and leniency. The defaults are strict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Longest accepted head in bytes, from its first byte to the end of the empty line
    /// (default 64 KiB, at most [`MAX_HEAD_LEN_LIMIT`]). A longer head is
    /// [`Error::HeadTooLarge`].
    pub max_head_len: u32,
    /// Most header lines in one head (default 100, at most [`MAX_HEADERS_LIMIT`]). More is
    /// [`Error::TooManyHeaders`].
    pub max_headers: u16,
    /// Accept a line ended by LF alone (RFC 9112 §2.2 "MAY"); off by default. Real clients
    /// that need it: hand-typed requests (netcat, telnet) and some embedded stacks.
    pub allow_bare_lf: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_head_len: 64 * 1024,
            max_headers: 100,
            allow_bare_lf: false,
        }
    }
}

impl Config {
    /// The config with both limits clamped to their hard ceilings.
    #[inline]
    pub fn clamped(mut self) -> Config {
        self.max_head_len = self.max_head_len.min(MAX_HEAD_LEN_LIMIT);
        self.max_headers = self.max_headers.min(MAX_HEADERS_LIMIT as u16);
        self
    }
}
