//! offheap (placeholder until the foundation lands).
pub mod headers;
