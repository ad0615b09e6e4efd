//! offheap (window worktree placeholder until the `foundation` tag lands).
#![deny(missing_docs)]

pub mod window;
