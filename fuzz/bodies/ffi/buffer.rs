//! Rust-owned buffers in the `ffi` fuzz target: read, view, consume, fill and writev, with
//! every view read in full (so ASan checks the memory behind it).

use offheap::ffi::*;

use super::{BUFFER, Interp, Outcome, Program, or_null};

/// Whether `state` is one a read reports: `WANT_READ` or `DONE`.
fn is_read_state(state: u32) -> bool {
    [offheap_relay_state::WantRead, offheap_relay_state::Done]
        .map(|s| s as u32)
        .contains(&state)
}

/// Reads a view of a buffer's filled bytes in full, so ASan checks the memory behind it. A
/// view holds at most one buffer; an empty one is (NULL, 0).
///
/// # Safety
/// `data` is valid for reading `len` bytes (or `len` is 0).
unsafe fn read_view(data: *const u8, len: usize) {
    assert!(len <= OFFHEAP_BUFFER_SIZE);
    if len == 0 {
        assert!(data.is_null(), "an empty view is not NULL");
    } else {
        // SAFETY: `data` is valid for `len` bytes: this function's `# Safety`.
        let view = unsafe { std::slice::from_raw_parts(data, len) };
        std::hint::black_box(view.iter().fold(0u8, |a, &b| a ^ b));
    }
}

impl Interp {
    /// Calls `call` with the two out-parameters `offheap_buffer_read` and
    /// `offheap_buffer_writev` share (bytes moved, then the state), each valid, NULL or
    /// misaligned as the program chooses, and makes the checks both share. Returns the status
    /// and the outputs when the call ran with good out-parameters.
    fn call_moved(
        &mut self,
        p: &mut Program,
        call: impl FnOnce(*mut usize, *mut u32) -> offheap_status,
    ) -> Option<(offheap_status, usize, u32)> {
        let (m1, m2) = (self.out_mode(p), self.out_mode(p));
        let (mut n, mut state) = (usize::MAX, 99u32);
        let st = call(self.out_ptr(m1, &mut n), self.out_ptr(m2, &mut state));
        let outcome = self.check_outs(st, &[(m1, 8), (m2, 4)]);
        if outcome != Outcome::Injected && st != offheap_status::Ok {
            assert_eq!(
                (n, state),
                (usize::MAX, 99),
                "out-parameters written on failure"
            );
        }
        (outcome == Outcome::Ran).then_some((st, n, state))
    }

    pub(super) fn op_buffer_read(&mut self, p: &mut Program) {
        let pick = self.pick(p, BUFFER);
        let (fd, fd_ok) = self.fd(p);
        let Some((st, n, state)) = self.call_moved(p, |pn, ps| {
            // SAFETY: the fd is open, -1 or never open; `pn` and `ps` are NULL, misaligned or
            // point to live locals of call_moved.
            unsafe { offheap_buffer_read(pick.handle, fd, pn, ps) }
        }) else {
            return;
        };
        self.check_pick(pick, st, "buffer_read");
        if !fd_ok {
            assert_eq!(st, offheap_status::InvalidArgument);
        } else if st == offheap_status::Ok {
            assert!(n <= OFFHEAP_BUFFER_SIZE && is_read_state(state));
        }
    }

    pub(super) fn op_buffer_view_consume(&mut self, p: &mut Program) {
        let pick = self.pick(p, BUFFER);
        let (m1, m2) = (self.out_mode(p), self.out_mode(p));
        let sentinel = 0x1000 as *const u8;
        let (mut ptr, mut len) = (sentinel, 12345usize);
        let pp = self.out_ptr(m1, &mut ptr);
        let pl = self.out_ptr(m2, &mut len);
        // SAFETY: `pp` and `pl` are NULL, misaligned or point to `ptr` and `len`.
        let st = unsafe { offheap_buffer_view(pick.handle, pp, pl) };
        let outcome = self.check_call(pick, st, &[(m1, 8), (m2, 8)], "buffer_view");
        if outcome != Outcome::Injected && st != offheap_status::Ok {
            assert_eq!(
                (ptr, len),
                (sentinel, 12345),
                "out-parameters written on failure"
            );
        }
        if outcome == Outcome::Ran && st == offheap_status::Ok {
            // SAFETY: the view is valid until the next consume/writev/free of this buffer;
            // nothing runs in between.
            unsafe { read_view(ptr, len) };
        }
        let pick = self.pick(p, BUFFER);
        let n = match p.u8() % 4 {
            0 => usize::MAX,
            _ => usize::from(p.u8()) * 16,
        };
        let st = offheap_buffer_consume(pick.handle, n);
        if !self.injected(st) {
            self.check_pick(pick, st, "buffer_consume");
            if pick.live.is_some() {
                assert_eq!(st, offheap_status::Ok);
            }
        }
    }

    pub(super) fn op_buffer_fill(&mut self, p: &mut Program) {
        let pick = self.pick(p, BUFFER);
        let (fd, fd_ok) = match p.u8() % 4 {
            0 => (-1, true), // no read: consume and view only
            1 => (-2, false),
            _ => match self.fd(p) {
                (-1, _) => (-1, true), // valid here, unlike for offheap_buffer_read
                other => other,
            },
        };
        let m = self.out_mode(p);
        let consume = match p.u8() % 4 {
            0 => usize::MAX,
            1 => 0,
            _ => usize::from(p.u8()) * 16,
        };
        let sentinel = 0x1000 as *const u8;
        let mut io = offheap_buffer_io {
            consume,
            n: 7,
            data: sentinel,
            len: 12345,
            state: 99,
        };
        let pio = self.out_ptr(m, &mut io);
        // SAFETY: the fd is -1, open, or never open; `pio` is NULL, misaligned or points to `io`.
        let st = unsafe { offheap_buffer_fill(pick.handle, fd, pio) };
        if self.check_call(pick, st, &[(m, 8)], "buffer_fill") != Outcome::Ran {
            return;
        }
        if !fd_ok {
            assert_eq!(st, offheap_status::InvalidArgument);
            return;
        }
        if st != offheap_status::Ok {
            assert_eq!(
                (io.n, io.data, io.len, io.state),
                (7, sentinel, 12345, 99),
                "outputs written on failure"
            );
            if pick.live.is_none() {
                assert_eq!(io.consume, consume, "consume applied to a bad handle");
            }
            return;
        }
        assert_eq!(io.consume, 0, "consume not acknowledged");
        assert!(io.n <= OFFHEAP_BUFFER_SIZE && is_read_state(io.state));
        if fd == -1 {
            assert_eq!((io.n, io.state), (0, offheap_relay_state::Done as u32));
        }
        // SAFETY: the view is valid until the next call naming this buffer; nothing runs in
        // between.
        unsafe { read_view(io.data, io.len) };
    }

    pub(super) fn op_writev(&mut self, p: &mut Program) {
        let count = usize::from(p.u8()) % 21;
        let mut ids = [0u64; 20];
        let mut all_live = true;
        for id in ids.iter_mut().take(count) {
            let pick = self.pick(p, BUFFER);
            all_live &= pick.live.is_some();
            *id = pick.handle;
        }
        let null = p.u8().is_multiple_of(8);
        let (fd, fd_ok) = self.fd(p);
        let Some((st, _, state)) = self.call_moved(p, |pn, ps| {
            // SAFETY: the handle array is NULL or valid for `count` (≤ 20) handles; the fd is
            // open, -1 or never open; `pn` and `ps` are NULL, misaligned or point to live
            // locals of call_moved.
            unsafe { offheap_buffer_writev(fd, or_null(null, ids.as_ptr()), count, pn, ps) }
        }) else {
            return;
        };
        if null && count > 0 {
            assert_eq!(st, offheap_status::NullPointer);
            return;
        }
        if count > OFFHEAP_WRITEV_MAX {
            assert_eq!(st, offheap_status::TooLarge);
            return;
        }
        if !fd_ok {
            assert_eq!(st, offheap_status::InvalidArgument);
            return;
        }
        let dup = (1..count).any(|i| ids[..i].contains(&ids[i]));
        if !all_live {
            assert_ne!(st, offheap_status::Ok, "writev with a bad handle");
        } else if dup {
            assert_eq!(
                st,
                offheap_status::InvalidArgument,
                "writev naming a buffer twice"
            );
        }
        if st == offheap_status::Ok {
            assert!(
                [offheap_relay_state::WantWrite, offheap_relay_state::Done]
                    .map(|s| s as u32)
                    .contains(&state)
            );
        }
    }
}
