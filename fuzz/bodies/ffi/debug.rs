//! The general exports in the `ffi` fuzz target: debug objects (leases, poisoning by a panic
//! under a lease), slices in and out (`offheap_debug_sum`, `offheap_debug_fill`), injected
//! panics, `offheap_stats` (checked against the model's live handles), versions and status
//! messages.

use std::ffi::CStr;

use offheap::ffi::*;

use super::{
    DEBUG, Interp, KINDS, Outcome, Program, assert_untouched, or_null, or_null_mut, status_name,
};

impl Interp {
    pub(super) fn op_touch(&mut self, p: &mut Program) {
        let pick = self.pick(p, DEBUG);
        let mode = self.out_mode(p);
        let spin = [0, 1, 100, u32::MAX][p.u8() as usize % 4];
        let mut out = 7u64;
        let ptr = self.out_ptr(mode, &mut out);
        // SAFETY: `ptr` is NULL, misaligned or points to `out`.
        let st = unsafe { offheap_debug_object_touch(pick.handle, spin, ptr) };
        self.panic_allowed = spin == u32::MAX;
        let outcome = self.check_call(pick, st, &[(mode, 8)], "touch");
        if outcome != Outcome::Injected && st != offheap_status::Ok {
            assert_eq!(out, 7, "out-parameter written on failure");
        }
        if outcome == Outcome::Ran && pick.live.is_some() {
            if self.poisoned.contains(&pick.handle) {
                assert_eq!(st, offheap_status::Poisoned, "touch of a poisoned object");
            } else if spin == u32::MAX {
                assert_eq!(st, offheap_status::Panic, "a panic under a lease");
                self.poisoned.push(pick.handle);
            } else {
                assert_eq!(st, offheap_status::Ok, "touch: {}", status_name(st));
            }
        }
    }

    pub(super) fn op_slices(&mut self, p: &mut Program) {
        let bytes = p.bytes(200);
        let len_sel = p.u8();
        let null = len_sel.is_multiple_of(4);
        let len = if null {
            usize::from(len_sel / 4)
        } else {
            usize::from(len_sel) % (bytes.len() + 1)
        };
        let mode = self.out_mode(p);
        let mut out = 9u64;
        let data = or_null(null, bytes.as_ptr());
        let ptr = self.out_ptr(mode, &mut out);
        // SAFETY: `data` is NULL or valid for `len` (≤ bytes.len()) bytes; `ptr` is NULL,
        // misaligned or points to `out`.
        let st = unsafe { offheap_debug_sum(data, len, ptr) };
        if !self.injected(st) {
            if let Some(want) = Self::out_failure(&[(mode, 8)]) {
                assert_eq!(st, want);
                assert_eq!(out, 9);
            } else if null && len > 0 {
                assert_eq!(st, offheap_status::NullPointer);
                assert_eq!(out, 9);
            } else {
                assert_eq!(st, offheap_status::Ok);
                let want: u64 = if null {
                    0
                } else {
                    bytes[..len].iter().map(|&b| u64::from(b)).sum()
                };
                assert_eq!(out, want);
            }
        }
        let mut dst = [0x55u8; 64];
        let fill_len = usize::from(p.u8()) % 65;
        let value = p.u8();
        let null = p.u8().is_multiple_of(4);
        let dptr = or_null_mut(null, dst.as_mut_ptr());
        // SAFETY: `dptr` is NULL or valid for `fill_len` (≤ 64) bytes.
        let st = unsafe { offheap_debug_fill(dptr, fill_len, value) };
        if !self.injected(st) {
            if null && fill_len > 0 {
                assert_eq!(st, offheap_status::NullPointer);
            } else {
                assert_eq!(st, offheap_status::Ok);
                let n = if null { 0 } else { fill_len };
                assert!(
                    dst[..n].iter().all(|&b| b == value) && dst[n..].iter().all(|&b| b == 0x55)
                );
            }
        }
    }

    pub(super) fn stats(&mut self) -> Option<offheap_counters> {
        let mut c = offheap_counters::default();
        // SAFETY: `c` is a valid offheap_counters.
        let st = unsafe { offheap_stats(&mut c) };
        if self.injected(st) {
            return None;
        }
        assert_eq!(st, offheap_status::Ok);
        Some(c)
    }

    pub(super) fn op_stats(&mut self, p: &mut Program) {
        let mode = self.out_mode(p);
        let mut c = offheap_counters::default();
        let ptr = self.out_ptr(mode, &mut c);
        // SAFETY: `ptr` is NULL, misaligned or points to `c`.
        let st = unsafe { offheap_stats(ptr) };
        match self.check_outs(st, &[(mode, 8)]) {
            Outcome::Injected => {}
            Outcome::BadOut => assert_untouched(
                &c,
                &offheap_counters::default(),
                "counters written on failure",
            ),
            Outcome::Ran => {
                assert_eq!(st, offheap_status::Ok);
                assert!(c.heap_peak_bytes >= c.heap_live_bytes);
                assert_eq!(c.handles_live, c.handles_by_kind.iter().sum::<u64>());
            }
        }
    }

    /// Checks the per-kind handle counts against the model (`base` is the count before the
    /// program started).
    pub(super) fn check_counts(&mut self, base: &offheap_counters) {
        let Some(c) = self.stats() else { return };
        for k in KINDS {
            assert_eq!(
                c.handles_by_kind[k],
                base.handles_by_kind[k] + self.live[k].len() as u64,
                "live handles of kind {k}"
            );
        }
    }

    pub(super) fn op_inject(&mut self, p: &mut Program) {
        let n = u32::from(p.u8() % 4);
        offheap_debug_inject_panics(n);
        self.armed = n;
    }

    pub(super) fn op_versions(&mut self, p: &mut Program) {
        let injected_default = self.armed > 0;
        let v = offheap_version();
        self.calls += 1;
        if injected_default {
            self.armed -= 1;
            assert_eq!(v, 0);
        } else {
            assert_ne!(v, 0);
        }
        let injected_default = self.armed > 0;
        let a = offheap_abi_version();
        if injected_default {
            self.armed -= 1;
            assert_eq!(a, 0);
        } else {
            assert_eq!(
                a, OFFHEAP_ABI_VERSION,
                "the ABI version the library reports"
            );
        }
        // SAFETY: offheap_version_str returns a static NUL-terminated string, never NULL.
        let s = unsafe { CStr::from_ptr(offheap_version_str()) };
        if self.armed > 0 {
            self.armed -= 1;
            assert!(s.is_empty());
        } else {
            assert!(!s.is_empty());
        }
        let st = p.u32();
        let armed = self.armed > 0;
        // SAFETY: the result is a static NUL-terminated string, never NULL.
        let msg = unsafe { CStr::from_ptr(offheap_status_str(st)) };
        if armed {
            self.armed -= 1;
        }
        assert!(!msg.is_empty());
    }
}
