//! Relays in the `ffi` fuzz target: reset, step and abort on live, bad and wrong-kind handles
//! over open, negative and never-open fds, and the process-wide relay counters and trim.

use offheap::ffi::*;

use super::{Interp, Outcome, Program, RELAY, assert_untouched};

/// Every flag bit `offheap_relay_new` and `offheap_relay_reset` know.
const RELAY_FLAGS: u32 =
    OFFHEAP_RELAY_NO_SPLICE | OFFHEAP_RELAY_SHUTDOWN_ON_DONE | OFFHEAP_RELAY_SPLICE;

/// Whether a relay must refuse this framing and these flags.
fn bad_relay_args(framing: u32, flags: u32) -> bool {
    framing > offheap_framing::UntilEof as u32 || flags & !RELAY_FLAGS != 0
}

/// Reads the arguments of one `offheap_relay_new` (valid and invalid framings and flags, the
/// engine's tunnel value among them) and calls it; returns its status and whether the
/// arguments were bad.
///
/// # Safety
/// `out` is NULL, misaligned or valid for writing one `u64`.
pub(super) unsafe fn new_relay(p: &mut Program, out: *mut u64) -> (offheap_status, bool) {
    let framing = match p.u8() % 6 {
        k @ 0..=3 => u32::from(k),
        4 => OFFHEAP_ENGINE_TUNNEL,
        _ => p.u32(),
    };
    let length = p.u64() >> (p.u8() % 64);
    let flags = if p.u8().is_multiple_of(4) {
        p.u32()
    } else {
        u32::from(p.u8() % 8)
    };
    // SAFETY: `offheap_relay_new` takes `out` NULL, misaligned (both refused) or valid for one
    // write, as this function's `# Safety` requires of its caller.
    let st = unsafe { offheap_relay_new(framing, length, flags, out) };
    (st, bad_relay_args(framing, flags))
}

impl Interp {
    fn relay_args(p: &mut Program) -> (u32, u64, u32) {
        let framing = if p.u8().is_multiple_of(8) {
            p.u32()
        } else {
            u32::from(p.u8() % 4)
        };
        let length = u64::from(p.u32() % 4096);
        let flags = if p.u8().is_multiple_of(8) {
            p.u32()
        } else {
            u32::from(p.u8() % 8)
        };
        (framing, length, flags)
    }

    pub(super) fn op_relay_reset(&mut self, p: &mut Program) {
        let pick = self.pick(p, RELAY);
        let (framing, length, flags) = Self::relay_args(p);
        let st = offheap_relay_reset(pick.handle, framing, length, flags);
        if self.injected(st) {
            return;
        }
        self.check_pick(pick, st, "relay_reset");
        if pick.live.is_some() {
            let want = if bad_relay_args(framing, flags) {
                offheap_status::InvalidArgument
            } else {
                offheap_status::Ok
            };
            assert_eq!(st, want);
        }
    }

    pub(super) fn op_relay_step(&mut self, p: &mut Program) {
        let pick = self.pick(p, RELAY);
        let (src, src_ok) = self.fd(p);
        let (dst, dst_ok) = self.fd(p);
        let mode = self.out_mode(p);
        let sentinel = offheap_relay_progress {
            state: 77,
            ..Default::default()
        };
        let mut out = sentinel;
        let ptr = self.out_ptr(mode, &mut out);
        // SAFETY: the fds are open sockets, -1 or never open; `ptr` is NULL, misaligned or
        // points to `out`.
        let st = unsafe { offheap_relay_step(pick.handle, src, dst, ptr) };
        let outcome = self.check_call(pick, st, &[(mode, 8)], "relay_step");
        if outcome != Outcome::Injected && st != offheap_status::Ok {
            assert_untouched(&out, &sentinel, "out-parameter written on failure");
        }
        if outcome != Outcome::Ran {
            return;
        }
        if !src_ok || !dst_ok {
            assert_eq!(st, offheap_status::InvalidArgument, "negative fd");
        } else if st == offheap_status::Ok {
            assert!(out.state <= offheap_relay_state::Again as u32);
            assert_eq!(out.bytes_out, out.spliced + out.copied);
        }
    }

    pub(super) fn op_relay_abort(&mut self, p: &mut Program) {
        let pick = self.pick(p, RELAY);
        let status = if p.u8().is_multiple_of(2) {
            p.u32()
        } else {
            offheap_status::RelayUnexpectedEof as u32 + u32::from(p.u8() % 16)
        };
        let st = offheap_relay_abort(pick.handle, status);
        if self.injected(st) {
            return;
        }
        self.check_pick(pick, st, "relay_abort");
        if pick.live.is_some() {
            assert_eq!(st, offheap_status::Ok);
        }
    }

    pub(super) fn op_relay_globals(&mut self, p: &mut Program) {
        let mode = self.out_mode(p);
        let mut c = offheap_relay_counters {
            relays_started: 5,
            ..Default::default()
        };
        let ptr = self.out_ptr(mode, &mut c);
        // SAFETY: `ptr` is NULL, misaligned or points to `c`.
        let st = unsafe { offheap_relay_global_stats(ptr) };
        match self.check_outs(st, &[(mode, 8)]) {
            Outcome::Injected => {}
            Outcome::BadOut => assert_eq!(c.relays_started, 5),
            Outcome::Ran => {
                assert_eq!(st, offheap_status::Ok);
                assert!(c.relays_done + c.relays_failed <= c.relays_started);
            }
        }
        if p.u8().is_multiple_of(4) {
            let st = offheap_relay_trim();
            if !self.injected(st) {
                assert_eq!(st, offheap_status::Ok);
            }
        }
    }
}
