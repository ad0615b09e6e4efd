//! The panic boundary: every export runs inside [`guard`] or [`guard_or`].
//!
//! An unwind that leaves an `extern "C"` function aborts the whole host process (Go's `recover`
//! cannot catch it), so each export catches it here and turns it into `OFFHEAP_STATUS_PANIC`, or
//! into the documented default of exports that do not return a status. Objects that were in use
//! when the panic happened are poisoned by their handle lease (see `handle.rs`).
//!
//! Tests force a panic through any export with `offheap_debug_inject_panics`.

use super::status::offheap_status;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, Ordering};

/// What an export's body returns: `Err` carries the status to hand back.
pub(crate) type FfiResult<T> = Result<T, offheap_status>;

static INJECTED_PANICS: AtomicU32 = AtomicU32::new(0);

#[inline(always)]
fn maybe_injected_panic() {
    // One relaxed load per call when no panic is armed.
    if INJECTED_PANICS.load(Ordering::Relaxed) != 0
        && INJECTED_PANICS
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    {
        panic!("offheap: panic injected by offheap_debug_inject_panics");
    }
}

/// Drops a panic payload without letting a panic from the payload's own `Drop` escape: such a
/// panic yields a new payload (its message), which is dropped in turn.
fn discard(payload: Box<dyn std::any::Any + Send>) {
    let mut payload = payload;
    while let Err(next) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        payload = next;
    }
}

/// Runs an export body that returns a status; a panic becomes `OFFHEAP_STATUS_PANIC`.
#[inline]
pub(crate) fn guard(body: impl FnOnce() -> FfiResult<()>) -> offheap_status {
    match catch_unwind(AssertUnwindSafe(|| {
        maybe_injected_panic();
        body()
    })) {
        Ok(Ok(())) => offheap_status::Ok,
        Ok(Err(status)) => status,
        Err(payload) => {
            discard(payload);
            offheap_status::Panic
        }
    }
}

/// Runs an export body that does not return a status; a panic returns `on_panic`.
#[inline]
pub(crate) fn guard_or<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(|| {
        maybe_injected_panic();
        body()
    })) {
        Ok(v) => v,
        Err(payload) => {
            discard(payload);
            on_panic
        }
    }
}

/// Makes the next `count` offheap exports, called from any thread, panic inside the boundary
/// before doing anything else, so tests can check that every kind of export turns a panic into
/// `OFFHEAP_STATUS_PANIC` (or its documented default) and the process lives on. `count = 0`
/// disarms. This call itself is never one of the `count`. Not for production use.
#[unsafe(no_mangle)]
pub extern "C" fn offheap_debug_inject_panics(count: u32) {
    // Not through `guard_or`: that would make this call one of the armed panics, so a call
    // meant to disarm (`count = 0`) would only use up one and leave the rest armed. An atomic
    // store cannot panic.
    INJECTED_PANICS.store(count, Ordering::Relaxed);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Serialises the tests that arm panics, so they do not fire in other tests' calls.
    pub(crate) static INJECTION_LOCK: Mutex<()> = Mutex::new(());

    #[test]
    fn guard_maps_results_and_panics() {
        let _l = INJECTION_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(guard(|| Ok(())), offheap_status::Ok);
        assert_eq!(
            guard(|| Err(offheap_status::TooLarge)),
            offheap_status::TooLarge
        );
        assert_eq!(guard(|| panic!("boom")), offheap_status::Panic);
        assert_eq!(guard_or(7, || -> i32 { panic!("boom") }), 7);
    }

    #[test]
    fn injected_panics_fire_exactly_count_times() {
        let _l = INJECTION_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        offheap_debug_inject_panics(2);
        assert_eq!(guard(|| Ok(())), offheap_status::Panic);
        assert_eq!(guard_or(1, || 2), 1);
        assert_eq!(guard(|| Ok(())), offheap_status::Ok);
    }

    #[test]
    fn arming_again_or_disarming_is_never_one_of_the_armed_panics() {
        let _l = INJECTION_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        offheap_debug_inject_panics(3);
        offheap_debug_inject_panics(0);
        assert_eq!(guard(|| Ok(())), offheap_status::Ok);
        offheap_debug_inject_panics(3);
        offheap_debug_inject_panics(1);
        assert_eq!(guard(|| Ok(())), offheap_status::Panic);
        assert_eq!(guard(|| Ok(())), offheap_status::Ok);
    }

    #[test]
    fn a_payload_that_panics_on_drop_does_not_escape() {
        struct Nasty;
        impl Drop for Nasty {
            fn drop(&mut self) {
                panic!("drop of the payload panics too");
            }
        }
        let _l = INJECTION_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        assert_eq!(
            guard(|| std::panic::panic_any(Nasty)),
            offheap_status::Panic
        );
    }
}
