//! Well-known header names: a fixed id per name and a cheap length-then-first-byte dispatch.

/// A well-known header name with a fixed slot in [`Head::known`](super::Head::known).
///
/// The discriminant is the slot index. The framing pass uses the first eight; the rest are
/// the names proxies and handlers look up most, so that lookup is O(1).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Known {
    /// `Host`
    Host = 0,
    /// `Content-Length`
    ContentLength = 1,
    /// `Transfer-Encoding`
    TransferEncoding = 2,
    /// `Connection`
    Connection = 3,
    /// `Upgrade`
    Upgrade = 4,
    /// `Expect`
    Expect = 5,
    /// `Keep-Alive`
    KeepAlive = 6,
    /// `TE`
    Te = 7,
    /// `Trailer`
    Trailer = 8,
    /// `Proxy-Connection`
    ProxyConnection = 9,
    /// `Proxy-Authenticate`
    ProxyAuthenticate = 10,
    /// `Proxy-Authorization`
    ProxyAuthorization = 11,
    /// `X-Forwarded-For`
    XForwardedFor = 12,
    /// `X-Forwarded-Host`
    XForwardedHost = 13,
    /// `X-Forwarded-Proto`
    XForwardedProto = 14,
    /// `Forwarded`
    Forwarded = 15,
    /// `Via`
    Via = 16,
    /// `Content-Type`
    ContentType = 17,
    /// `User-Agent`
    UserAgent = 18,
    /// `Accept`
    Accept = 19,
    /// `Accept-Encoding`
    AcceptEncoding = 20,
    /// `Cookie`
    Cookie = 21,
    /// `Set-Cookie`
    SetCookie = 22,
    /// `Authorization`
    Authorization = 23,
    /// `Date`
    Date = 24,
    /// `Server`
    Server = 25,
    /// `Location`
    Location = 26,
    /// `Cache-Control`
    CacheControl = 27,
    /// `Origin`
    Origin = 28,
    /// `Referer`
    Referer = 29,
    /// `Content-Encoding`
    ContentEncoding = 30,
    /// `Accept-Language`
    AcceptLanguage = 31,
}

/// Number of well-known names (the length of [`Head::known`](super::Head::known)).
pub const KNOWN_COUNT: usize = 32;

/// The value of an empty slot in [`Head::known`](super::Head::known).
pub const NOT_PRESENT: u8 = 0xFF;

impl Known {
    /// Every well-known name, in slot order.
    pub const ALL: [Known; KNOWN_COUNT] = [
        Known::Host,
        Known::ContentLength,
        Known::TransferEncoding,
        Known::Connection,
        Known::Upgrade,
        Known::Expect,
        Known::KeepAlive,
        Known::Te,
        Known::Trailer,
        Known::ProxyConnection,
        Known::ProxyAuthenticate,
        Known::ProxyAuthorization,
        Known::XForwardedFor,
        Known::XForwardedHost,
        Known::XForwardedProto,
        Known::Forwarded,
        Known::Via,
        Known::ContentType,
        Known::UserAgent,
        Known::Accept,
        Known::AcceptEncoding,
        Known::Cookie,
        Known::SetCookie,
        Known::Authorization,
        Known::Date,
        Known::Server,
        Known::Location,
        Known::CacheControl,
        Known::Origin,
        Known::Referer,
        Known::ContentEncoding,
        Known::AcceptLanguage,
    ];

    /// The canonical spelling of the name.
    pub const fn name(self) -> &'static str {
        match self {
            Known::Host => "Host",
            Known::ContentLength => "Content-Length",
            Known::TransferEncoding => "Transfer-Encoding",
            Known::Connection => "Connection",
            Known::Upgrade => "Upgrade",
            Known::Expect => "Expect",
            Known::KeepAlive => "Keep-Alive",
            Known::Te => "TE",
            Known::Trailer => "Trailer",
            Known::ProxyConnection => "Proxy-Connection",
            Known::ProxyAuthenticate => "Proxy-Authenticate",
            Known::ProxyAuthorization => "Proxy-Authorization",
            Known::XForwardedFor => "X-Forwarded-For",
            Known::XForwardedHost => "X-Forwarded-Host",
            Known::XForwardedProto => "X-Forwarded-Proto",
            Known::Forwarded => "Forwarded",
            Known::Via => "Via",
            Known::ContentType => "Content-Type",
            Known::UserAgent => "User-Agent",
            Known::Accept => "Accept",
            Known::AcceptEncoding => "Accept-Encoding",
            Known::Cookie => "Cookie",
            Known::SetCookie => "Set-Cookie",
            Known::Authorization => "Authorization",
            Known::Date => "Date",
            Known::Server => "Server",
            Known::Location => "Location",
            Known::CacheControl => "Cache-Control",
            Known::Origin => "Origin",
            Known::Referer => "Referer",
            Known::ContentEncoding => "Content-Encoding",
            Known::AcceptLanguage => "Accept-Language",
        }
    }

    /// Is this a hop-by-hop header that a proxy drops (the list of Go's
    /// `httputil.ReverseProxy`, RFC 9110 §7.6.1)?
    pub const fn is_hop_by_hop(self) -> bool {
        matches!(
            self,
            Known::Connection
                | Known::ProxyConnection
                | Known::KeepAlive
                | Known::ProxyAuthenticate
                | Known::ProxyAuthorization
                | Known::Te
                | Known::Trailer
                | Known::TransferEncoding
                | Known::Upgrade
        )
    }

    /// The well-known id of a header name (any ASCII case), if it has one.
    ///
    /// ```
    /// use offheap::headers::Known;
    /// assert_eq!(Known::classify(b"content-LENGTH"), Some(Known::ContentLength));
    /// assert_eq!(Known::classify(b"X-Custom"), None);
    /// ```
    #[inline]
    pub fn classify(name: &[u8]) -> Option<Known> {
        Known::classify_token(name)
    }

    /// [`Known::classify`]; a match also proves the name is a valid `tchar` token.
    #[inline(always)]
    pub(crate) fn classify_token(name: &[u8]) -> Option<Known> {
        // A perfect hash of (length, first byte, last byte) picks the one candidate, then one
        // compare of at most three words confirms it: no branchy dispatch per header.
        let (&first, &last) = (name.first()?, name.last()?);
        let id = HASH[hash(name.len(), first, last)];
        let lower = LOWER.get(id as usize)?;
        if eq_lower(name, lower.as_bytes()) {
            Known::ALL.get(id as usize).copied()
        } else {
            None
        }
    }
}

#[inline(always)]
const fn hash(len: usize, first: u8, last: u8) -> usize {
    (len.wrapping_mul(5) + (first | 0x20) as usize + ((last | 0x20) as usize) * 19) & 127
}

/// `HASH[hash(name)]`: the slot of the only well-known name with that hash, or 0xFF.
static HASH: [u8; 128] = {
    let mut table = [0xFFu8; 128];
    let mut id = 0;
    while id < KNOWN_COUNT {
        let n = LOWER[id].as_bytes();
        let h = hash(n.len(), n[0], n[n.len() - 1]);
        assert!(table[h] == 0xFF, "hash collision between well-known names");
        table[h] = id as u8;
        id += 1;
    }
    table
};

/// Lower-case spellings, in slot order.
const LOWER: [&str; KNOWN_COUNT] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "expect",
    "keep-alive",
    "te",
    "trailer",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "forwarded",
    "via",
    "content-type",
    "user-agent",
    "accept",
    "accept-encoding",
    "cookie",
    "set-cookie",
    "authorization",
    "date",
    "server",
    "location",
    "cache-control",
    "origin",
    "referer",
    "content-encoding",
    "accept-language",
];

/// `name` (any bytes) equals `lower` (lower-case letters, digits and '-') ignoring ASCII
/// case, exactly: only letter positions get the case bit (bit 6 marks a letter in `lower`),
/// so no other byte can pass for one. Compares eight bytes at a time.
#[inline(always)]
fn eq_lower(name: &[u8], lower: &[u8]) -> bool {
    if name.len() != lower.len() {
        return false;
    }
    const LETTER: u64 = 0x4040_4040_4040_4040;
    let mut a = name.chunks_exact(8);
    let mut b = lower.chunks_exact(8);
    for (x, y) in (&mut a).zip(&mut b) {
        let x = u64::from_le_bytes([x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]]);
        let y = u64::from_le_bytes([y[0], y[1], y[2], y[3], y[4], y[5], y[6], y[7]]);
        if x | ((y & LETTER) >> 1) != y {
            return false;
        }
    }
    a.remainder()
        .iter()
        .zip(b.remainder())
        .all(|(&x, &y)| x | ((y & 0x40) >> 1) == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_every_name_in_every_case() {
        for k in Known::ALL {
            assert_eq!(Known::ALL[k as usize], k);
            assert_eq!(LOWER[k as usize], k.name().to_ascii_lowercase());
            assert_eq!(Known::classify(k.name().as_bytes()), Some(k));
            assert_eq!(Known::classify(LOWER[k as usize].as_bytes()), Some(k));
            let upper = k.name().to_ascii_uppercase();
            assert_eq!(Known::classify(upper.as_bytes()), Some(k));
        }
    }

    #[test]
    fn classify_rejects_near_misses() {
        for name in [
            &b""[..],
            b"Hos",
            b"Hosts",
            b"Ho~t",
            b"Content-Lengti",
            b"X-Forwarded-Fo^",
            b"Accept-Xncoding",
            b"te_",
            b"Vi^",
            b"Content_Length",
        ] {
            assert_eq!(Known::classify(name), None, "{:?}", name);
        }
        // '^' | 0x20 == '~': never confused with a letter or '-'.
        assert_eq!(Known::classify(b"Keep^Alive"), None);
        // CR | 0x20 == '-': the token fast path would match, the public one must not.
        assert_eq!(Known::classify(b"Keep\rAlive"), None);
    }
}
