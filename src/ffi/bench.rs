//! Entry points for the crate's criterion benches (benches/ffi.rs); hidden from the docs.

use super::boundary::guard_or;
use super::debug::DebugObject;
use super::handle;

/// A plain function call with a trivial body: the baseline of `guarded_call`.
#[inline(never)]
pub fn plain_call(x: u32) -> u32 {
    x + 1
}

/// The same body inside the panic boundary.
#[inline(never)]
pub fn guarded_call(x: u32) -> u32 {
    guard_or(0, || x + 1)
}

/// Creates a debug object and returns its handle.
pub fn debug_object_new() -> u64 {
    handle::insert(DebugObject::default()).unwrap_or(0)
}

/// Frees a debug object.
pub fn debug_object_free(h: u64) {
    let _ = handle::free::<DebugObject>(h);
}

/// Looks a handle up (taking and releasing the lease); true if it is live.
#[inline(never)]
pub fn handle_lookup(h: u64) -> bool {
    handle::get::<DebugObject>(h).is_ok()
}
