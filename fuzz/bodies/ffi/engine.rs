//! Relay engines in the `ffi` fuzz target: single, batched and session jobs, polling (the
//! descriptors of session completions are closed here, as their caller must), cancel, jobs in
//! flight and ready fds.

use std::os::fd::{FromRawFd, OwnedFd};

use offheap::ffi::*;

use super::{BUFFER, ENGINE, Interp, Outcome, Program, or_null, or_null_mut, packed};

/// Reads the arguments of one `offheap_engine_new` (worker and job counts in and out of range)
/// and calls it; returns its status and whether the arguments were bad.
///
/// # Safety
/// `out` is NULL, misaligned or valid for writing one `u64`.
pub(super) unsafe fn new_engine(p: &mut Program, out: *mut u64) -> (offheap_status, bool) {
    let workers = [0, 1, 2, 65, u32::MAX][p.u8() as usize % 5];
    let jobs = [0, 1, 4, 64, u32::MAX][p.u8() as usize % 5];
    // SAFETY: `offheap_engine_new` takes `out` NULL, misaligned (both refused) or valid for
    // one write, as this function's `# Safety` requires of its caller.
    let st = unsafe { offheap_engine_new(workers, jobs, out) };
    // Engines take 1 to 64 workers and at least one job.
    (st, workers == 0 || workers > 64 || jobs == 0)
}

impl Interp {
    pub(super) fn op_engine_submit(&mut self, p: &mut Program) {
        match p.u8() % 8 {
            0 | 1 => return self.op_engine_submit_batch(p),
            2 => return self.op_engine_submit_session(p),
            _ => {}
        }
        let pick = self.pick(p, ENGINE);
        let id = u64::from(p.u8());
        let (a, a_ok) = self.fd(p);
        let (b, b_ok) = self.fd(p);
        let framing = match p.u8() % 6 {
            k @ 0..=3 => u32::from(k),
            4 => OFFHEAP_ENGINE_TUNNEL,
            _ => p.u32(),
        };
        let length = u64::from(p.u32() % 8192);
        let flags = u32::from(p.u8() % 5);
        // SAFETY: the fds are open sockets, -1 or never open.
        let st = unsafe { offheap_engine_submit(pick.handle, id, a, b, framing, length, flags) };
        if self.injected(st) {
            return;
        }
        if !a_ok || !b_ok {
            assert_eq!(st, offheap_status::InvalidArgument);
            return;
        }
        self.check_pick(pick, st, "engine_submit");
    }

    /// A session job: bad handles, fds, options or string spans are refused; a valid one
    /// takes the two buffers' storage until its completion is polled.
    pub(super) fn op_engine_submit_session(&mut self, p: &mut Program) {
        let pick = self.pick(p, ENGINE);
        let cb = self.pick(p, BUFFER);
        let ub = self.pick(p, BUFFER);
        let id = u64::from(p.u8());
        let (c, c_ok) = self.fd(p);
        let (u, u_ok) = self.fd(p);
        let (strings, [ip, proto, host, via]) =
            packed(["192.0.2.1", "http", "upstream:80", "offheap"]);
        let flags = p.u8();
        let mut opts = offheap_session_options {
            rewrite: offheap_rewrite_options {
                client_ip: ip,
                proto,
                host,
                via,
                set_host: flags & 1,
                append_forwarded: flags >> 1 & 1,
                reserved: [0; 6],
            },
            request_ms: u32::from(p.u8() % 4) * 10,
            response_ms: u32::from(p.u8() % 4) * 10,
            stall_ms: u32::from(p.u8() % 4) * 10,
        };
        // A span past the end of the strings is refused.
        let spans_ok = !p.u8().is_multiple_of(8);
        if !spans_ok {
            opts.rewrite.via.len += 1 + u32::from(p.u8() % 4);
        }
        let null_opts = p.u8().is_multiple_of(16);
        let o = or_null(null_opts, &opts);
        // SAFETY: `o` NULL or valid; `strings` valid for its length; the fds are open
        // sockets, -1 or never open.
        let st = unsafe {
            offheap_engine_submit_session(
                pick.handle,
                id,
                c,
                u,
                cb.handle,
                ub.handle,
                o,
                strings.as_ptr(),
                strings.len(),
            )
        };
        if self.injected(st) {
            return;
        }
        let valid = pick.live.is_some()
            && cb.live.is_some()
            && ub.live.is_some()
            && cb.handle != ub.handle
            && c_ok
            && u_ok
            && c >= 0
            && u >= 0
            && !null_opts
            && spans_ok;
        if !valid {
            assert_ne!(
                st,
                offheap_status::Ok,
                "an invalid session job was accepted"
            );
        }
        assert_ne!(st, offheap_status::Panic);
    }

    /// Up to four jobs in one `offheap_engine_submit_batch`: each refused on its own for a bad
    /// fd or framing, the call refused as a whole for a bad handle or NULL arrays.
    pub(super) fn op_engine_submit_batch(&mut self, p: &mut Program) {
        let pick = self.pick(p, ENGINE);
        let n = usize::from(p.u8() % 5);
        let mut jobs = [offheap_engine_job::default(); 4];
        let mut fds_ok = [false; 4];
        for (j, ok) in jobs.iter_mut().zip(fds_ok.iter_mut()).take(n) {
            let (a, a_ok) = self.fd(p);
            let (b, b_ok) = self.fd(p);
            *j = offheap_engine_job {
                id: u64::from(p.u8()),
                fd_a: a,
                fd_b: b,
                framing: match p.u8() % 6 {
                    k @ 0..=3 => u32::from(k),
                    4 => OFFHEAP_ENGINE_TUNNEL,
                    _ => p.u32(),
                },
                flags: u32::from(p.u8() % 5),
                length: u64::from(p.u32() % 8192),
            };
            *ok = a_ok && b_ok;
        }
        let null_statuses = n > 0 && p.u8().is_multiple_of(8);
        let mut statuses = [u32::MAX; 4];
        let mut accepted = usize::MAX;
        let st_ptr = or_null_mut(null_statuses, statuses.as_mut_ptr());
        // SAFETY: `jobs` and `statuses` hold at least `n` elements (or statuses is NULL, which
        // the library refuses); the fds are open sockets, -1 or never open.
        let st = unsafe {
            offheap_engine_submit_batch(pick.handle, jobs.as_ptr(), n, st_ptr, &mut accepted)
        };
        if self.injected(st) {
            return;
        }
        if null_statuses {
            assert_eq!(st, offheap_status::NullPointer);
            assert_eq!(accepted, usize::MAX, "out-parameter written on failure");
            return;
        }
        self.check_pick(pick, st, "engine_submit_batch");
        if st != offheap_status::Ok {
            assert_eq!(accepted, usize::MAX, "out-parameter written on failure");
            return;
        }
        let taken = statuses[..n]
            .iter()
            .filter(|&&s| s == offheap_status::Ok as u32)
            .count();
        assert_eq!(accepted, taken);
        for (s, ok) in statuses.iter().zip(fds_ok).take(n) {
            if !ok {
                assert_eq!(
                    *s,
                    offheap_status::InvalidArgument as u32,
                    "a job with a bad fd"
                );
            }
        }
    }

    pub(super) fn op_engine_poll(&mut self, p: &mut Program) {
        let pick = self.pick(p, ENGINE);
        let cap = usize::from(p.u8() % 10);
        let null = p.u8().is_multiple_of(8);
        let mode = self.out_mode(p);
        let mut comps = [offheap_engine_completion {
            id: 1234,
            ..Default::default()
        }; 9];
        let mut n = usize::MAX;
        let pn = self.out_ptr(mode, &mut n);
        let arr = or_null_mut(null, comps.as_mut_ptr());
        // SAFETY: `arr` is NULL or valid for `cap` (≤ 9) completions; `pn` is NULL, misaligned
        // or points to `n`.
        let st = unsafe { offheap_engine_poll(pick.handle, arr, cap, pn) };
        if self.injected(st) {
            return;
        }
        if st != offheap_status::Ok {
            assert_eq!(n, usize::MAX);
            assert!(
                comps.iter().all(|c| c.id == 1234),
                "completions written on failure"
            );
        }
        if null && cap > 0 {
            assert_eq!(st, offheap_status::NullPointer);
            return;
        }
        if let Some(want) = Self::out_failure(&[(mode, 8)]) {
            assert_eq!(st, want);
            return;
        }
        self.check_pick(pick, st, "engine_poll");
        if st == offheap_status::Ok {
            assert!(n <= cap);
            assert!(comps[n..].iter().all(|c| c.id == 1234), "written past n");
            for c in &comps[..n] {
                assert!(c.id < 256 && c.status != offheap_status::Panic as u32);
                assert!(c.session_stop <= offheap_session_stop::Failed as u32);
                // Session jobs give their connections back: the caller closes them.
                for fd in [c.client_fd, c.upstream_fd] {
                    if fd >= 0 {
                        // SAFETY: the completion handed this fd over; nothing else owns it.
                        drop(unsafe { OwnedFd::from_raw_fd(fd) });
                    }
                }
                if c.session_stop == offheap_session_stop::None as u32 {
                    assert_eq!((c.client_fd, c.upstream_fd), (-1, -1));
                }
            }
        }
    }

    pub(super) fn op_engine_misc(&mut self, p: &mut Program) {
        let pick = self.pick(p, ENGINE);
        let mode = self.out_mode(p);
        match p.u8() % 3 {
            0 => {
                let st = offheap_engine_cancel(pick.handle, p.u64() % 300);
                if !self.injected(st) {
                    self.check_pick(pick, st, "engine_cancel");
                    if pick.live.is_some() {
                        assert_eq!(st, offheap_status::Ok);
                    }
                }
            }
            1 => {
                let mut n = u64::MAX;
                let ptr = self.out_ptr(mode, &mut n);
                // SAFETY: `ptr` is NULL, misaligned or points to `n`.
                let st = unsafe { offheap_engine_in_flight(pick.handle, ptr) };
                let outcome = self.check_call(pick, st, &[(mode, 8)], "engine_in_flight");
                if outcome != Outcome::Injected && st != offheap_status::Ok {
                    assert_eq!(n, u64::MAX);
                }
            }
            _ => {
                if self.ready_fds.len() >= 4 {
                    return;
                }
                let mut fd = -7i32;
                let ptr = self.out_ptr(mode, &mut fd);
                // SAFETY: `ptr` is NULL, misaligned or points to `fd`.
                let st = unsafe { offheap_engine_ready_fd(pick.handle, ptr) };
                if self.check_call(pick, st, &[(mode, 4)], "engine_ready_fd") == Outcome::Injected {
                    return;
                }
                if st == offheap_status::Ok {
                    assert!(fd >= 0);
                    // SAFETY: the call hands us a new fd that we own.
                    self.ready_fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                } else {
                    assert_eq!(fd, -7);
                }
            }
        }
    }
}
