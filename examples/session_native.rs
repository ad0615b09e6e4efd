//! `relay::Session` driven by one native epoll loop: each client connection gets its own
//! upstream connection (opened when the client connects) and a Session over the pair. For
//! measuring the Session core beside examples/proxy_ceiling.rs and nginx; a stopped session
//! closes its pair (nothing hands it to Go here).
//!
//! ```text
//! cargo build --release --example session_native
//! taskset -c 0 target/release/examples/session_native 127.0.0.1:8080 127.0.0.1:8081
//! ```

use offheap::relay::{Session, SessionOptions, SessionProgress};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};

struct Pair {
    client: TcpStream,
    up: TcpStream,
    session: Session,
}

fn epoll_add(ep: i32, fd: i32, token: u64) {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLET) as u32,
        u64: token,
    };
    // SAFETY: valid epoll fd, open fd, valid event.
    unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) };
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let listen = args.get(1).map_or("127.0.0.1:8080", String::as_str);
    let upstream = args
        .get(2)
        .map_or("127.0.0.1:8081", String::as_str)
        .to_string();
    let listener = TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    eprintln!("session_native: serving on {listen}, upstream {upstream}");
    // SAFETY: plain syscall.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    const LISTENER: u64 = u64::MAX;
    let mut lev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: LISTENER,
    };
    // SAFETY: as above.
    unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, listener.as_raw_fd(), &mut lev) };
    let opts = SessionOptions {
        client_ip: b"127.0.0.1".to_vec(),
        proto: b"http".to_vec(),
        host: Some(upstream.clone().into_bytes()),
        ..SessionOptions::default()
    };
    let mut pairs: Vec<Option<Pair>> = Vec::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    loop {
        // SAFETY: valid epoll fd and event array.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, -1) };
        for ev in events.iter().take(n.max(0) as usize) {
            let token = ev.u64;
            if token == LISTENER {
                while let Ok((c, _)) = listener.accept() {
                    let Ok(u) = TcpStream::connect(&upstream) else {
                        continue;
                    };
                    let _ = (c.set_nodelay(true), u.set_nodelay(true));
                    let _ = (c.set_nonblocking(true), u.set_nonblocking(true));
                    let slot = pairs.iter().position(Option::is_none).unwrap_or_else(|| {
                        pairs.push(None);
                        pairs.len() - 1
                    });
                    epoll_add(ep, c.as_raw_fd(), slot as u64);
                    epoll_add(ep, u.as_raw_fd(), slot as u64);
                    let mut p = Pair {
                        client: c,
                        up: u,
                        session: Session::new(opts.clone()),
                    };
                    if step(&mut p) {
                        pairs[slot] = Some(p);
                    }
                }
                continue;
            }
            let slot = token as usize;
            let Some(p) = pairs.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            if !step(p) {
                pairs[slot] = None; // closing both fds removes them from the epoll set
            }
        }
    }
}

/// Steps a pair until it waits; false when its session stopped.
fn step(p: &mut Pair) -> bool {
    loop {
        match p.session.step(p.client.as_fd(), p.up.as_fd()) {
            SessionProgress::Wait { .. } => return true,
            SessionProgress::Again => {}
            SessionProgress::Stopped(_) => return false,
        }
    }
}
