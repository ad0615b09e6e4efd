//! `offheap_debug_*`: a minimal object behind a handle, for tests of the FFI contract (handle
//! checks, Close racing with calls, panics under a lease). Not for production use; it holds
//! nothing but a counter.

use super::boundary::guard;
use super::handle::{self, HandleObject, offheap_kind};
use super::ptr::{self, guard_out};
use super::status::offheap_status;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub(crate) struct DebugObject {
    touches: AtomicU64,
}

impl HandleObject for DebugObject {
    const KIND: offheap_kind = offheap_kind::Debug;
}

/// Creates a debug object and writes its handle to `*out`.
///
/// # Safety
/// `out` must be NULL or valid for writing one `uint64_t` until the call returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_debug_object_new(out: *mut u64) -> offheap_status {
    let object = || handle::insert(DebugObject::default());
    // SAFETY: this function's `# Safety` gives `out` valid for one write until the call
    // returns: what `guard_out` requires.
    unsafe { guard_out(out, object) }
}

/// Counts one touch of the object, holding it for about `spin` iterations of a busy loop (to
/// widen race windows in tests), and writes the number of touches so far to `*out`.
/// `spin = UINT32_MAX` panics while holding the object, which poisons it (for tests of
/// `OFFHEAP_STATUS_POISONED`).
///
/// # Safety
/// `out` must be NULL or valid for writing one `uint64_t` until the call returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_debug_object_touch(
    object: u64,
    spin: u32,
    out: *mut u64,
) -> offheap_status {
    let touches = || {
        let obj = handle::get::<DebugObject>(object)?;
        if spin == u32::MAX {
            panic!("offheap: panic requested under a lease by offheap_debug_object_touch");
        }
        for _ in 0..spin.min(1 << 24) {
            std::hint::spin_loop();
        }
        Ok(obj.touches.fetch_add(1, Ordering::Relaxed) + 1)
    };
    // SAFETY: this function's `# Safety` gives `out` valid for one write until the call
    // returns: what `guard_out` requires.
    unsafe { guard_out(out, touches) }
}

/// Frees a debug object. A freed, forged or zero handle gives `OFFHEAP_STATUS_INVALID_HANDLE`
/// and changes nothing.
#[unsafe(no_mangle)]
pub extern "C" fn offheap_debug_object_free(object: u64) -> offheap_status {
    guard(|| handle::free::<DebugObject>(object))
}

/// Writes the sum of the `len` bytes at `data` to `*out`. `(NULL, 0)` sums to 0; NULL with
/// `len > 0` gives `OFFHEAP_STATUS_NULL_POINTER` and leaves `*out` untouched. For tests of the
/// slice rules.
///
/// # Safety
/// Until the call returns: `data` must be NULL with `len` = 0 or valid for reading `len`
/// bytes; `out` NULL or valid for writing one `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_debug_sum(
    data: *const u8,
    len: usize,
    out: *mut u64,
) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives `out` valid for one write and `data` for
        // reading `len` bytes (or NULL with `len` = 0) until the call returns: what `ptr::out`
        // and `ptr::slice` require.
        let (out, data) = unsafe { (ptr::out(out)?, ptr::slice(data, len)?) };
        out.write(data.iter().map(|&b| b as u64).sum());
        Ok(())
    })
}

/// Fills the `len` bytes at `dst` with `value`. `(NULL, 0)` is a no-op; NULL with `len > 0`
/// gives `OFFHEAP_STATUS_NULL_POINTER`. For tests of the slice rules.
///
/// # Safety
/// `dst` must be NULL with `len` = 0, or valid for writing `len` bytes that nothing else uses,
/// until the call returns.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn offheap_debug_fill(dst: *mut u8, len: usize, value: u8) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives `dst` valid for writing `len` bytes nothing
        // else uses (or NULL with `len` = 0) until the call returns: what `ptr::slice_mut`
        // requires.
        unsafe { ptr::slice_mut(dst, len) }?.fill(value);
        Ok(())
    })
}
