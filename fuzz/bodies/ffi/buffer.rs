//! Rust-owned buffers in the `ffi` fuzz target: read, view, consume, fill and writev, with
//! every view read in full (so ASan checks the memory behind it).

use offheap::ffi::*;

use super::{BUFFER, Interp, Program};

/// Whether `state` is one a read reports: `WANT_READ` or `DONE`.
fn is_read_state(state: u32) -> bool {
    [offheap_relay_state::WantRead, offheap_relay_state::Done]
        .map(|s| s as u32)
        .contains(&state)
}

impl Interp {
    pub(super) fn op_buffer_read(&mut self, p: &mut Program) {
        let pick = self.pick(p, BUFFER);
        let (fd, fd_ok) = self.fd(p);
        let (m1, m2) = (self.out_mode(p), self.out_mode(p));
        let (mut n, mut state) = (usize::MAX, 99u32);
        let pn = self.out_ptr(m1, &mut n);
        let ps = self.out_ptr(m2, &mut state);
        // SAFETY: fd open, -1 or never open; out-parameters NULL, misaligned or valid.
        let st = unsafe { offheap_buffer_read(pick.handle, fd, pn, ps) };
        if self.injected(st) {
            return;
        }
        if st != offheap_status::Ok {
            assert_eq!(
                (n, state),
                (usize::MAX, 99),
                "out-parameters written on failure"
            );
        }
        if let Some(want) = Self::out_failure(&[(m1, 8), (m2, 4)]) {
            assert_eq!(st, want);
            return;
        }
        if !fd_ok {
            assert_eq!(st, offheap_status::InvalidArgument);
            return;
        }
        self.check_pick(pick, st, "buffer_read");
        if st == offheap_status::Ok {
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
        // SAFETY: out-parameters NULL, misaligned or valid.
        let st = unsafe { offheap_buffer_view(pick.handle, pp, pl) };
        if !self.injected(st) {
            if st != offheap_status::Ok {
                assert_eq!(
                    (ptr, len),
                    (sentinel, 12345),
                    "out-parameters written on failure"
                );
            }
            if let Some(want) = Self::out_failure(&[(m1, 8), (m2, 8)]) {
                assert_eq!(st, want);
            } else {
                self.check_pick(pick, st, "buffer_view");
                if st == offheap_status::Ok {
                    assert!(len <= OFFHEAP_BUFFER_SIZE);
                    if len == 0 {
                        assert!(ptr.is_null());
                    } else {
                        // SAFETY: the view is valid until the next consume/writev/free of this
                        // buffer; nothing runs in between. Reading it all lets ASan check it.
                        let view = unsafe { std::slice::from_raw_parts(ptr, len) };
                        std::hint::black_box(view.iter().fold(0u8, |a, &b| a ^ b));
                    }
                }
            }
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
        // SAFETY: fd -1, open, or never open; `io` NULL, misaligned or valid.
        let st = unsafe { offheap_buffer_fill(pick.handle, fd, pio) };
        if self.injected(st) {
            return;
        }
        if let Some(want) = Self::out_failure(&[(m, 8)]) {
            assert_eq!(st, want);
            return;
        }
        if !fd_ok {
            assert_eq!(st, offheap_status::InvalidArgument);
            return;
        }
        self.check_pick(pick, st, "buffer_fill");
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
        assert!(
            io.n <= OFFHEAP_BUFFER_SIZE && io.len <= OFFHEAP_BUFFER_SIZE && is_read_state(io.state)
        );
        if fd == -1 {
            assert_eq!((io.n, io.state), (0, offheap_relay_state::Done as u32));
        }
        if io.len == 0 {
            assert!(io.data.is_null());
        } else {
            // SAFETY: the view is valid until the next call naming this buffer; nothing runs
            // in between. Reading it all lets ASan check it.
            let view = unsafe { std::slice::from_raw_parts(io.data, io.len) };
            std::hint::black_box(view.iter().fold(0u8, |a, &b| a ^ b));
        }
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
        let (m1, m2) = (self.out_mode(p), self.out_mode(p));
        let (mut n, mut state) = (usize::MAX, 99u32);
        let pn = self.out_ptr(m1, &mut n);
        let ps = self.out_ptr(m2, &mut state);
        let arr = if null { std::ptr::null() } else { ids.as_ptr() };
        // SAFETY: `arr` NULL or valid for `count` (≤ 20) handles; fd open, -1 or never open.
        let st = unsafe { offheap_buffer_writev(fd, arr, count, pn, ps) };
        if self.injected(st) {
            return;
        }
        if st != offheap_status::Ok {
            assert_eq!(
                (n, state),
                (usize::MAX, 99),
                "out-parameters written on failure"
            );
        }
        if let Some(want) = Self::out_failure(&[(m1, 8), (m2, 4)]) {
            assert_eq!(st, want);
            return;
        }
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
