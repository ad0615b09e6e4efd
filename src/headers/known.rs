//! Well-known header names: a fixed id per name and a cheap length-then-first-byte dispatch.

/// A well-known header name with a fixed slot in `Head::known` (`offheap_head.known` in C).
///
/// The discriminant is the slot index. The framing pass uses the first eight; the rest are
/// the names proxies and handlers look up most, so that lookup is O(1).
// The C ABI's `offheap_known` (`OFFHEAP_KNOWN_HOST` ...) is this enum, and
// `OFFHEAP_KNOWN_COUNT` and `OFFHEAP_KNOWN_ABSENT` are the two constants below (build.rs,
// cbindgen.toml): the slots are declared once.
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

/// Number of well-known names (the length of `Head::known`, `offheap_head.known` in C).
pub const KNOWN_COUNT: usize = 32;

/// The value of an empty slot in `Head::known` (`offheap_head.known` in C): the name is absent.
pub const NOT_PRESENT: u8 = 0xFF;

/// cbindgen:ignore
// (`Known::ALL` is Rust API: C sizes its tables with `OFFHEAP_KNOWN_COUNT`.)
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
        let entry = &ENTRIES[hash(name.len(), first, last)];
        if usize::from(entry.len) != name.len() {
            return None;
        }
        // Letters compare with their case bit forced on; '-' and digits compare exactly.
        const LETTER: u64 = 0x4040_4040_4040_4040;
        let x = words(name);
        let mut differ = 0;
        for (x, y) in x.iter().zip(entry.words.iter()) {
            differ |= (x | ((y & LETTER) >> 1)) ^ y;
        }
        if differ != 0 {
            return None;
        }
        Known::ALL.get(usize::from(entry.id)).copied()
    }
}

/// A name (2 to 23 bytes) as up to three little-endian words of overlapping loads: the
/// first and last 8 bytes (and bytes 8..16 when longer than 16), or the first and last 4,
/// or the first and last 2. Loads straight from the name: no copy through the stack.
#[inline(always)]
pub(crate) fn words(n: &[u8]) -> [u64; 3] {
    let len = n.len();
    if let (Some(a), Some(b)) = (n.first_chunk::<8>(), n.last_chunk::<8>()) {
        let mid = match n.get(8..16) {
            Some(m) if len > 16 => {
                u64::from_le_bytes([m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]])
            }
            _ => 0,
        };
        return [u64::from_le_bytes(*a), u64::from_le_bytes(*b), mid];
    }
    if let (Some(a), Some(b)) = (n.first_chunk::<4>(), n.last_chunk::<4>()) {
        return [
            u64::from(u32::from_le_bytes(*a)) | u64::from(u32::from_le_bytes(*b)) << 32,
            0,
            0,
        ];
    }
    if let (Some(a), Some(b)) = (n.first_chunk::<2>(), n.last_chunk::<2>()) {
        return [
            u64::from(u16::from_le_bytes(*a)) | u64::from(u16::from_le_bytes(*b)) << 16,
            0,
            0,
        ];
    }
    [n.first().map_or(0, |&b| u64::from(b)), 0, 0]
}

/// [`words`] at compile time.
pub(crate) const fn const_words(n: &[u8]) -> [u64; 3] {
    const fn le(n: &[u8], from: usize, count: usize) -> u64 {
        let mut v = 0u64;
        let mut k = 0;
        while k < count {
            v |= (n[from + k] as u64) << (8 * k);
            k += 1;
        }
        v
    }
    let len = n.len();
    if len >= 8 {
        let mid = if len > 16 { le(n, 8, 8) } else { 0 };
        [le(n, 0, 8), le(n, len - 8, 8), mid]
    } else if len >= 4 {
        [le(n, 0, 4) | le(n, len - 4, 4) << 32, 0, 0]
    } else if len >= 2 {
        [le(n, 0, 2) | le(n, len - 2, 2) << 16, 0, 0]
    } else {
        [le(n, 0, len), 0, 0]
    }
}

/// One slot of the perfect-hash table: the lower-case name as [`words`], its length (0 for
/// an empty slot) and its id.
#[derive(Clone, Copy)]
struct Entry {
    words: [u64; 3],
    len: u8,
    id: u8,
}

/// `ENTRIES[hash(name)]`: the only well-known name with that hash.
static ENTRIES: [Entry; 128] = {
    let mut table = [Entry {
        words: [0; 3],
        len: 0,
        id: 0,
    }; 128];
    let mut id = 0;
    while id < KNOWN_COUNT {
        let n = LOWER[id].as_bytes();
        assert!(n.len() < 24, "well-known names fit in three words");
        let h = hash(n.len(), n[0], n[n.len() - 1]);
        assert!(table[h].len == 0, "hash collision between well-known names");
        table[h] = Entry {
            words: const_words(n),
            len: n.len() as u8,
            id: id as u8,
        };
        id += 1;
    }
    table
};

#[inline(always)]
const fn hash(len: usize, first: u8, last: u8) -> usize {
    (len.wrapping_mul(5) + (first | 0x20) as usize + ((last | 0x20) as usize) * 19) & 127
}

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

/// `value` equals the lower-case token whose [`const_words`] are `lower` (length `len`, at
/// most 23) in any ASCII case, exactly.
#[inline(always)]
pub(crate) fn eq_lower_words(value: &[u8], lower: &[u64; 3], len: usize) -> bool {
    const LETTER: u64 = 0x4040_4040_4040_4040;
    if value.len() != len {
        return false;
    }
    let x = words(value);
    let mut differ = 0;
    for (x, y) in x.iter().zip(lower.iter()) {
        differ |= (x | ((y & LETTER) >> 1)) ^ y;
    }
    differ == 0
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

    /// A naive reference: the well-known name `name` spells in any ASCII case, if any.
    fn naive(name: &[u8]) -> Option<Known> {
        Known::ALL
            .into_iter()
            .find(|k| k.name().as_bytes().eq_ignore_ascii_case(name))
    }

    #[test]
    fn classify_agrees_with_a_naive_lookup_on_near_misses() {
        assert_eq!(Known::classify(b""), None);
        // Every name in three cases, one byte short, one longer ('s', '_'), and with each byte
        // replaced: by the next byte, by 'X' and '_', and by bytes that equal a letter or '-'
        // once 0x20 is or-ed in ('^' | 0x20 == '~', CR | 0x20 == '-': the token fast path
        // would match them, the public one must not). Among them: "Hos", "Hosts", "Ho~t",
        // "te_", "Vi^", "Content-Lengti", "Content_Length", "Accept-Xncoding", "Keep^Alive",
        // "Keep\rAlive".
        let mut tried = 0;
        for k in Known::ALL {
            let spellings = [
                k.name().to_string(),
                k.name().to_ascii_lowercase(),
                k.name().to_ascii_uppercase(),
            ];
            for name in spellings.iter().map(String::as_bytes) {
                let mut variants = vec![name[..name.len() - 1].to_vec()];
                for extra in [b's', b'_'] {
                    variants.push([name, &[extra]].concat());
                }
                for i in 0..name.len() {
                    for b in [name[i] + 1, b'X', b'_', b'^', b'~', b'\r'] {
                        let mut v = name.to_vec();
                        v[i] = b;
                        variants.push(v);
                    }
                }
                for v in variants {
                    let shown = String::from_utf8_lossy(&v);
                    assert_eq!(Known::classify(&v), naive(&v), "{shown:?}");
                    tried += 1;
                }
            }
        }
        assert!(tried > 5000, "{tried} variants");
    }
}
