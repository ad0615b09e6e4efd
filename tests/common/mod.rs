//! Helpers shared by the integration tests: socket pairs, a PRNG, SHA-256, a chunked
//! reference encoder and malformed chunked bodies, the count of open fds that leak checks
//! compare, (in `source`) the project's source files for the tests that read them, (in
//! `requests`) shared request heads and (in `grammar`) which parser errors are line-grammar
//! errors.
#![allow(dead_code)]

pub mod grammar;
pub mod requests;
pub mod source;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;

use offheap::relay::Error;

/// xorshift64: a small deterministic PRNG (no extra crates).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut s = self.0;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        self.0 = s;
        s
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The number of open fds of this process (the entries of `/proc/self/fd`, minus the one
/// the listing itself holds open): leak checks compare it before and after.
pub fn open_fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count().saturating_sub(1))
        .unwrap_or(0)
}

/// The open fds at one point of a test, counted after the relay pools are trimmed (a pooled
/// pipe is no leak): [`Fds::assert_unchanged`] checks later that the test closed all it opened.
pub struct Fds(usize);

impl Fds {
    pub fn now() -> Fds {
        offheap::relay::trim();
        Fds(open_fd_count())
    }

    pub fn assert_unchanged(&self) {
        offheap::relay::trim();
        assert_eq!(open_fd_count(), self.0, "fds leaked");
    }

    /// Waits up to `within` for the count to come down to this one, never above it: for tests
    /// after which threads of earlier ones (an upstream's, say) may still close sockets that
    /// were open when this count was taken.
    pub fn assert_back_within(&self, within: std::time::Duration) {
        let deadline = std::time::Instant::now() + within;
        loop {
            offheap::relay::trim();
            let now = open_fd_count();
            if now <= self.0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "fds leaked: {now} open, {} before",
                self.0
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Serialises the tests of one test binary that share process-wide state (fd counts, relay
/// pools, injected panics): each takes this lock first.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connected TCP pair over loopback.
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// Either kind of stream socket, so each test runs over both.
pub enum Sock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Sock {
    pub fn pair(tcp: bool) -> (Sock, Sock) {
        if tcp {
            let (a, b) = tcp_pair();
            a.set_nodelay(true).unwrap();
            b.set_nodelay(true).unwrap();
            (Sock::Tcp(a), Sock::Tcp(b))
        } else {
            let (a, b) = UnixStream::pair().unwrap();
            (Sock::Unix(a), Sock::Unix(b))
        }
    }
    pub fn nonblocking(self) -> Sock {
        match &self {
            Sock::Tcp(s) => s.set_nonblocking(true).unwrap(),
            Sock::Unix(s) => s.set_nonblocking(true).unwrap(),
        }
        self
    }
    pub fn shutdown_write(&self) {
        let _ = match self {
            Sock::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Sock::Unix(s) => s.shutdown(std::net::Shutdown::Write),
        };
    }
}

/// The four ends around a relay under test, `(client, src, dst, server)`: what the client
/// writes comes out of `src`, what goes into `dst` reaches the server; `src` and `dst`, the
/// relay's ends, are non-blocking.
pub fn relay_ends(tcp: bool) -> (Sock, Sock, Sock, Sock) {
    let (client, src) = Sock::pair(tcp);
    let (dst, server) = Sock::pair(tcp);
    (client, src.nonblocking(), dst.nonblocking(), server)
}

impl std::os::fd::AsFd for Sock {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Sock::Tcp(s) => s.as_fd(),
            Sock::Unix(s) => s.as_fd(),
        }
    }
}

impl Read for Sock {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(b),
            Sock::Unix(s) => s.read(b),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(b),
            Sock::Unix(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Minimal SHA-256 (FIPS 180-4), checked against a known vector in the tests.
pub struct Sha256 {
    h: [u32; 8],
    buf: Vec<u8>,
    len: u64,
}

const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    pub fn new() -> Self {
        Sha256 {
            h: [
                0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
                0x5be0cd19,
            ],
            buf: Vec::with_capacity(64),
            len: 0,
        }
    }
    fn block(&mut self, b: &[u8]) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b_, mut c, mut d, mut e, mut f, mut g, mut h] = self.h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = h
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b_) ^ (a & c) ^ (b_ & c);
            let t2 = s0.wrapping_add(maj);
            h = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b_;
            b_ = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in self.h.iter_mut().zip([a, b_, c, d, e, f, g, h]) {
            *x = x.wrapping_add(y);
        }
    }
    pub fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if !self.buf.is_empty() {
            let n = (64 - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() == 64 {
                let b = std::mem::take(&mut self.buf);
                self.block(&b);
                self.buf = b;
                self.buf.clear();
            }
        }
        while data.len() >= 64 {
            self.block(&data[..64]);
            data = &data[64..];
        }
        self.buf.extend_from_slice(data);
    }
    pub fn finish(mut self) -> [u8; 32] {
        let bits = self.len.wrapping_mul(8);
        let mut pad = vec![0x80u8];
        while (self.buf.len() + pad.len()) % 64 != 56 {
            pad.push(0);
        }
        pad.extend_from_slice(&bits.to_be_bytes());
        let len = self.len;
        self.update(&pad);
        self.len = len;
        let mut out = [0u8; 32];
        for (i, v) in self.h.iter().enumerate() {
            out[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
        }
        out
    }
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(data);
    h.finish()
}

/// Chunk-encodes `data` in chunks of the sizes `size` gives (each clamped to at least 1 and
/// at most what is left), then the last chunk, the trailer field lines `trailers` (each ending
/// in CRLF) and the final CRLF: a naive reference encoder.
pub fn chunk_encode_with(data: &[u8], mut size: impl FnMut() -> usize, trailers: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let n = size().clamp(1, data.len() - i);
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend_from_slice(&data[i..i + n]);
        out.extend_from_slice(b"\r\n");
        i += n;
    }
    out.extend_from_slice(b"0\r\n");
    out.extend_from_slice(trailers);
    out.extend_from_slice(b"\r\n");
    out
}

/// Chunk-encodes `data` with chunk sizes from `rng` (1 to `max_chunk` bytes) and a trailer.
pub fn chunk_encode(data: &[u8], rng: &mut Rng, max_chunk: u64) -> Vec<u8> {
    chunk_encode_with(
        data,
        || 1 + rng.below(max_chunk) as usize,
        b"X-Trailer: yes\r\n",
    )
}

/// Malformed chunked bodies, each with the error that names its fault: the decoder's tests
/// feed them to the decoder alone, the relay's through a relay in both chunked modes.
pub const BAD_CHUNKED: &[(&[u8], Error)] = &[
    // The size: not hex, missing, or more than 16 digits.
    (b"x\r\n", Error::ChunkSizeInvalid),
    (b"zz\r\n", Error::ChunkSizeInvalid),
    (b"\r\n", Error::ChunkSizeInvalid),
    (b"1g\r\n", Error::ChunkSizeInvalid),
    (b"11111111111111111\r\n", Error::ChunkSizeOverflow),
    (b"1ffffffffffffffff\r\n", Error::ChunkSizeOverflow),
    // A line end that is not CRLF: of a size line, of the last chunk's.
    (b"1\nA\r\n0\r\n\r\n", Error::ChunkMissingCrlf),
    (b"3\nabc\r\n", Error::ChunkMissingCrlf),
    (b"0\r\n\n", Error::ChunkMissingCrlf),
    // Data not followed by CRLF: longer than its size, or ended by a bare LF.
    (b"1\r\nAB\r\n", Error::ChunkMissingCrlf),
    (b"3\r\nabcd\r\n", Error::ChunkMissingCrlf),
    (b"1\r\nA\n0\r\n\r\n", Error::ChunkMissingCrlf),
    // A control byte in an extension or a trailer, a folded trailer line.
    (b"1;\x01\r\n", Error::ChunkExtensionInvalid),
    (b"0\r\nX: \x01\r\n\r\n", Error::TrailersInvalid),
    (b"0\r\nX: y\r\n folded\r\n\r\n", Error::TrailersInvalid),
];
