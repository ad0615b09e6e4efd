//! The engine's reverse proxy: the workers accept client connections themselves and keep
//! each as a small record in their epoll until bytes arrive; a [`Session`](super::Session)
//! in proxy mode, lent for the exchange, reads, rewrites and relays it over an upstream
//! connection from the worker's pool (dialled without blocking when the pool has none,
//! chosen by round robin or least in flight, skipping upstreams that failed to connect
//! lately), which goes back to the pool after the response. The caller hears of an exchange
//! only when it asked to (a head hook, upstream failures), through per-worker event queues.
//!
//! Files: `config.rs` (settings, counters, events), `shared.rs` (what the engine and the
//! workers share), `slab.rs` (records and epoll tokens), `conn.rs` (a client connection),
//! `upstream.rs` (upstream connections and pools), `serve.rs` with `serve/drive.rs` (a
//! worker's part).

mod config;
mod conn;
mod serve;
mod shared;
mod slab;
mod upstream;

pub use config::{
    Balance, DEFAULT_MAX_HEAD, ErrorCause, EventKind, MAX_UPSTREAMS, ProxyConfig, ProxyCounters,
    ProxyEvent, ProxyTimeouts, Reply,
};
pub(crate) use serve::{ProxyMsg, ProxyWorker};
pub(crate) use shared::ProxyShared;
pub(crate) use slab::TAG;
