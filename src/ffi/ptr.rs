//! Checks for the pointers and slices that cross the boundary, and every cast of caller
//! memory: the FFI layer's other files turn caller pointers into references only through
//! these helpers (the handle table's own object pointers stay in `handle.rs`).
//!
//! Rules (the README's "API conventions" states them for C and Go users):
//! - `(NULL, 0)` is a valid empty slice; NULL with a non-zero length is `OFFHEAP_STATUS_NULL_POINTER`.
//! - A pointer must be aligned for its element type (`OFFHEAP_STATUS_MISALIGNED_POINTER`).
//! - A length whose byte size exceeds `isize::MAX` is `OFFHEAP_STATUS_TOO_LARGE`.
//! - Out-parameters are checked first and written last, only on success.
//! - Nothing returned here outlives the call: Rust never keeps a pointer into caller memory.

use super::boundary::{FfiResult, guard};
use super::status::offheap_status;
use std::mem::MaybeUninit;

#[inline]
fn check<T>(ptr: *const T, len: usize) -> FfiResult<bool> {
    if len == 0 {
        return Ok(false);
    }
    if ptr.is_null() {
        return Err(offheap_status::NullPointer);
    }
    if !ptr.is_aligned() {
        return Err(offheap_status::MisalignedPointer);
    }
    if len > isize::MAX as usize / size_of::<T>().max(1) {
        return Err(offheap_status::TooLarge);
    }
    Ok(true)
}

/// Borrows `len` elements at `ptr` for the duration of the call.
///
/// # Safety
/// If `ptr` is non-NULL and `len > 0`, `ptr` must point to `len` initialised values of `T`
/// that stay valid and unmodified by others until the call returns.
#[inline]
pub(crate) unsafe fn slice<'a, T>(ptr: *const T, len: usize) -> FfiResult<&'a [T]> {
    if !check(ptr, len)? {
        return Ok(&[]);
    }
    // SAFETY: `check` ensured `ptr` is non-NULL and aligned and `len` elements fit `isize`;
    // this function's contract makes them initialised and unchanged by others until the call
    // returns, which is as long as the returned borrow is used.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrows the one required element at `ptr` (a struct passed by pointer) for the duration
/// of the call: NULL is `OFFHEAP_STATUS_NULL_POINTER`.
///
/// # Safety
/// If `ptr` is non-NULL, it must point to an initialised `T` that stays valid and unmodified
/// by others until the call returns.
#[inline]
pub(crate) unsafe fn one<'a, T>(ptr: *const T) -> FfiResult<&'a T> {
    // SAFETY: this function's contract (a non-NULL `ptr` points to an initialised `T` left
    // unchanged until the call returns) is `slice`'s for `len` = 1.
    unsafe { slice(ptr, 1) }?
        .first()
        .ok_or(offheap_status::NullPointer)
}

/// Borrows `len` writable elements at `ptr` for the duration of the call.
///
/// # Safety
/// If `ptr` is non-NULL and `len > 0`, `ptr` must point to `len` values of `T` (any bit
/// pattern valid for `T`) that nothing else reads or writes until the call returns.
#[inline]
pub(crate) unsafe fn slice_mut<'a, T>(ptr: *mut T, len: usize) -> FfiResult<&'a mut [T]> {
    if !check(ptr, len)? {
        return Ok(&mut []);
    }
    // SAFETY: `check` ensured `ptr` is non-NULL and aligned and `len` elements fit `isize`;
    // this function's contract makes them valid values of `T` that nothing else reads or
    // writes until the call returns, which is as long as the returned borrow is used.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// An out-parameter: checked when the call starts, written only when it succeeds.
pub(crate) struct Out<'a, T>(&'a mut MaybeUninit<T>);

impl<T> Out<'_, T> {
    /// Writes the result. Call it last, once nothing can fail any more.
    #[inline]
    pub(crate) fn write(self, value: T) {
        self.0.write(value);
    }
}

/// Checks an out-parameter pointer (non-NULL, aligned).
///
/// # Safety
/// If non-NULL, `ptr` must be valid for a write of one `T` until the call returns.
#[inline]
pub(crate) unsafe fn out<'a, T>(ptr: *mut T) -> FfiResult<Out<'a, T>> {
    if ptr.is_null() {
        return Err(offheap_status::NullPointer);
    }
    if !ptr.is_aligned() {
        return Err(offheap_status::MisalignedPointer);
    }
    // SAFETY: `ptr` is non-NULL and aligned (checked above), and this function's contract
    // makes it valid for writing one `T` until the call returns. As `MaybeUninit<T>` it
    // claims nothing about the current contents, so uninitialised caller memory is fine.
    Ok(Out(unsafe { &mut *ptr.cast::<MaybeUninit<T>>() }))
}

/// The body of an export whose one result is the out-parameter `out`: inside the panic
/// boundary, checks `out` (before anything else, so a NULL or misaligned `out` fails first),
/// runs `result`, and writes what it returns to `*out` only when it succeeds.
///
/// Each export that uses it states its own result in `result`; `result` is a closure made
/// outside the export's `unsafe` block (a closure written inside one would inherit it).
///
/// # Safety
/// `out` must be NULL or valid for writing one `T` until the call returns.
#[inline]
pub(crate) unsafe fn guard_out<T>(
    out: *mut T,
    result: impl FnOnce() -> FfiResult<T>,
) -> offheap_status {
    guard(|| {
        // SAFETY: this function's `# Safety` gives `out` NULL or valid for writing one `T`
        // until the call returns: what `ptr::out` requires.
        let out = unsafe { self::out(out) }?;
        out.write(result()?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_zero_is_an_empty_slice() {
        // SAFETY: NULL with length 0 is the documented empty slice.
        let s: &[u64] = unsafe { slice(std::ptr::null(), 0) }.unwrap();
        assert!(s.is_empty());
        // SAFETY: NULL with length 0 is the documented empty slice.
        let m: &mut [u8] = unsafe { slice_mut(std::ptr::null_mut(), 0) }.unwrap();
        assert!(m.is_empty());
    }

    #[test]
    fn null_with_length_is_rejected() {
        // SAFETY: the check rejects NULL before any dereference.
        let r = unsafe { slice::<u8>(std::ptr::null(), 3) };
        assert_eq!(r.unwrap_err(), offheap_status::NullPointer);
    }

    #[test]
    fn misaligned_and_huge_are_rejected() {
        let buf = [0u64; 4];
        let p = (buf.as_ptr() as *const u8).wrapping_add(1) as *const u64;
        // SAFETY: rejected by the alignment check before any dereference.
        let misaligned = unsafe { slice(p, 1) };
        assert_eq!(misaligned.unwrap_err(), offheap_status::MisalignedPointer);
        // SAFETY: rejected by the size check before any dereference.
        let huge = unsafe { slice(buf.as_ptr(), usize::MAX / 2) };
        assert_eq!(huge.unwrap_err(), offheap_status::TooLarge);
    }

    #[test]
    fn one_requires_its_element() {
        let v = 7u32;
        // SAFETY: `v` is a valid u32 for the duration of the test.
        assert_eq!(unsafe { one(&v as *const u32) }, Ok(&7));
        // SAFETY: NULL is rejected before use.
        let null = unsafe { one::<u32>(std::ptr::null()) };
        assert_eq!(null.err(), Some(offheap_status::NullPointer));
    }

    #[test]
    fn out_is_written_only_when_asked() {
        let mut v = 5u32;
        // SAFETY: `v` is a valid u32 for the duration of the test.
        let checked = unsafe { out(&mut v as *mut u32) };
        assert!(checked.is_ok());
        assert_eq!(v, 5);
        // SAFETY: `v` is a valid u32, and the first `Out` was not kept.
        unsafe { out(&mut v as *mut u32) }.unwrap().write(9);
        assert_eq!(v, 9);
        // SAFETY: NULL is rejected before use.
        let null = unsafe { out::<u32>(std::ptr::null_mut()) };
        assert_eq!(null.err(), Some(offheap_status::NullPointer));
    }
}
