//! Batch entry points: pipelined heads of one connection, or one head per region of an
//! offsets array (the heads of many connections).

use super::parse::parse_head;
use super::record::{Full, Kind, Region};
use super::{BatchError, Body, Config, Head, HeaderSpan, flags};

/// What a batch call filled in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// Number of [`Head`] records written (the last may be incomplete or an error).
    pub heads: usize,
    /// Number of [`HeaderSpan`] records written.
    pub headers: usize,
    /// Pipelined calls: where the caller resumes reading. It is past every complete head
    /// and past each `Content-Length` body that is entirely in the input; it stops at the
    /// start of an incomplete or invalid head, and at the end of a head whose body is not
    /// entirely there or not length-delimited (chunked, close-delimited, upgrade, CONNECT),
    /// or after which the connection closes. Offsets calls: the end of the last region
    /// parsed.
    pub consumed: usize,
}

/// What every head of one batch call shares: the kind of head, the input and the clamped
/// configuration.
struct Call<'a> {
    kind: Kind,
    input: &'a [u8],
    cfg: Config,
}

impl<'a> Call<'a> {
    /// Refuses an input whose offsets do not fit the records' `u32` fields.
    fn new(kind: Kind, input: &'a [u8], cfg: &Config) -> Result<Self, BatchError> {
        if u32::try_from(input.len()).is_err() {
            return Err(BatchError::InputTooLarge);
        }
        Ok(Call {
            kind,
            input,
            cfg: cfg.clamped(),
        })
    }
}

impl Batch {
    /// Parses the head in `input[start..end]` into `head`, its lines after the ones the batch
    /// holds, and counts it. `Ok(false)`: its lines do not fit in `headers`, so the batch ends
    /// before it; an error when that happens to the first head.
    #[inline(always)]
    fn parse(
        &mut self,
        call: &Call<'_>,
        start: usize,
        end: usize,
        headers: &mut [HeaderSpan],
        head: &mut Head,
    ) -> Result<bool, BatchError> {
        let at = Region {
            kind: call.kind,
            input: call.input,
            start,
            end,
            cfg: &call.cfg,
            first: self.headers as u32,
        };
        let out = headers.get_mut(self.headers..).unwrap_or(&mut []);
        if let Err(Full) = parse_head(&at, out, head) {
            return if self.heads == 0 {
                Err(BatchError::HeadersFull)
            } else {
                Ok(false)
            };
        }
        self.heads += 1;
        Ok(true)
    }
}

/// Parses pipelined request heads from the start of `input` (one connection's bytes),
/// skipping the Content-Length bodies between them, until `heads` is full, the input ends,
/// or a head is incomplete, invalid, or followed by a body that is not length-delimited.
///
/// Give `headers` at least [`Config::max_headers`] entries: a head whose headers do not fit
/// ends the batch before it, and if it is the first one the call fails with
/// [`BatchError::HeadersFull`].
pub fn parse_requests(
    input: &[u8],
    cfg: &Config,
    heads: &mut [Head],
    headers: &mut [HeaderSpan],
) -> Result<Batch, BatchError> {
    pipelined(Call::new(Kind::Request, input, cfg)?, heads, headers)
}

/// [`parse_requests`] for response heads. `head_request` says the requests were HEAD (then
/// no response has a body).
pub fn parse_responses(
    input: &[u8],
    cfg: &Config,
    head_request: bool,
    heads: &mut [Head],
    headers: &mut [HeaderSpan],
) -> Result<Batch, BatchError> {
    let call = Call::new(Kind::Response { head_request }, input, cfg)?;
    pipelined(call, heads, headers)
}

/// Parses one request head at each offset of `offsets`: region `i` is
/// `input[offsets[i] .. offsets[i + 1]]` (the last runs to the end of the input), so the
/// heads of many connections can be parsed in one call. Offsets must be non-decreasing and
/// within the input.
pub fn parse_requests_at(
    input: &[u8],
    offsets: &[u32],
    cfg: &Config,
    heads: &mut [Head],
    headers: &mut [HeaderSpan],
) -> Result<Batch, BatchError> {
    regions(
        Call::new(Kind::Request, input, cfg)?,
        offsets,
        heads,
        headers,
    )
}

/// [`parse_requests_at`] for response heads (see [`parse_responses`] for `head_request`).
pub fn parse_responses_at(
    input: &[u8],
    offsets: &[u32],
    cfg: &Config,
    head_request: bool,
    heads: &mut [Head],
    headers: &mut [HeaderSpan],
) -> Result<Batch, BatchError> {
    let call = Call::new(Kind::Response { head_request }, input, cfg)?;
    regions(call, offsets, heads, headers)
}

fn pipelined(
    call: Call<'_>,
    heads: &mut [Head],
    headers: &mut [HeaderSpan],
) -> Result<Batch, BatchError> {
    let (kind, input) = (call.kind, call.input);
    let mut batch = Batch::default();
    let mut pos = 0usize;
    for head in heads.iter_mut() {
        if pos >= input.len() {
            break;
        }
        if !batch.parse(&call, pos, input.len(), headers, head)? {
            break;
        }
        if head.status != 0 {
            break;
        }
        batch.headers += head.header_count as usize;
        pos += head.len as usize;
        match head.body() {
            Body::None => {}
            Body::Length => match usize::try_from(head.content_length)
                .ok()
                .and_then(|n| pos.checked_add(n))
            {
                Some(end) if end <= input.len() => pos = end,
                _ => break,
            },
            Body::Chunked | Body::Close => break,
        }
        let informational = matches!(kind, Kind::Response { .. }) && head.status_code < 200;
        if head.flags & (flags::UPGRADE | flags::CONNECT) != 0
            || (head.flags & flags::KEEP_ALIVE == 0 && !informational)
        {
            break;
        }
    }
    batch.consumed = pos;
    Ok(batch)
}

fn regions(
    call: Call<'_>,
    offsets: &[u32],
    heads: &mut [Head],
    headers: &mut [HeaderSpan],
) -> Result<Batch, BatchError> {
    let input = call.input;
    let n = offsets.len().min(heads.len());
    let mut prev = 0u32;
    for &off in offsets {
        if off < prev || off as usize > input.len() {
            return Err(BatchError::BadOffsets);
        }
        prev = off;
    }
    let mut batch = Batch::default();
    for (i, head) in heads.iter_mut().enumerate().take(n) {
        let start = offsets[i] as usize;
        let end = offsets.get(i + 1).map_or(input.len(), |&e| e as usize);
        if !batch.parse(&call, start, end, headers, head)? {
            break;
        }
        batch.consumed = end;
        if head.status == 0 {
            batch.headers += head.header_count as usize;
        }
    }
    Ok(batch)
}
