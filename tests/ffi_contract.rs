//! The C ABI contract, exercised through the real exported symbols (the library's own
//! declarations, `offheap::ffi`, as a C caller sees them through the header).

use std::ffi::CStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use offheap::ffi::*;

/// Injected panics are process-wide: tests that arm them, or that must not be hit by them, take
/// this lock.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn new_object() -> u64 {
    let mut h = 0u64;
    // SAFETY: `h` is a valid out-parameter.
    assert_eq!(
        unsafe { offheap_debug_object_new(&mut h) },
        offheap_status::Ok
    );
    assert_ne!(h, 0);
    h
}

fn touch(h: u64) -> Result<u64, offheap_status> {
    let mut n = u64::MAX;
    // SAFETY: `n` is a valid out-parameter.
    match unsafe { offheap_debug_object_touch(h, 0, &mut n) } {
        offheap_status::Ok => Ok(n),
        st => {
            assert_eq!(n, u64::MAX, "out-parameter written on failure");
            Err(st)
        }
    }
}

fn free(h: u64) -> offheap_status {
    offheap_debug_object_free(h)
}

fn message(status: u32) -> String {
    // SAFETY: offheap_status_str returns a static NUL-terminated string, never NULL.
    unsafe { CStr::from_ptr(offheap_status_str(status)) }
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn versions() {
    let _s = serial();
    let v = offheap_version();
    assert_eq!(
        v >> 16,
        env!("CARGO_PKG_VERSION_MAJOR").parse::<u32>().unwrap()
    );
    assert_eq!(offheap_abi_version(), 7);
}

#[test]
fn status_messages_are_static_and_distinct() {
    let _s = serial();
    let general = [
        offheap_status::Ok,
        offheap_status::Panic,
        offheap_status::InvalidHandle,
        offheap_status::NullPointer,
        offheap_status::InvalidArgument,
        offheap_status::MisalignedPointer,
        offheap_status::TooLarge,
        offheap_status::Poisoned,
        offheap_status::HandleTableFull,
        offheap_status::BufferTooSmall,
        offheap_status::OutOfMemory,
    ];
    let msgs: Vec<String> = general.iter().map(|&s| message(s as u32)).collect();
    for (i, m) in msgs.iter().enumerate() {
        assert!(
            !m.is_empty() && m != "offheap: unknown status",
            "status {:?}",
            general[i]
        );
        assert_eq!(
            msgs.iter().filter(|x| *x == m).count(),
            1,
            "status {:?}",
            general[i]
        );
    }
    assert_eq!(message(u32::MAX), "offheap: unknown status");
}

#[test]
fn handles_zero_forged_stale_double_free() {
    let _s = serial();
    let h = new_object();
    assert_eq!(touch(h), Ok(1));
    for bad in [
        0,
        u64::MAX,
        h ^ (1 << 40),
        h ^ 1,
        (h & !(0xff << 24)) | ((offheap_kind::Aggregator as u64) << 24),
    ] {
        assert_eq!(
            touch(bad),
            Err(offheap_status::InvalidHandle),
            "handle {bad:#x}"
        );
        assert_eq!(free(bad), offheap_status::InvalidHandle, "free {bad:#x}");
    }
    assert_eq!(
        touch(h),
        Ok(2),
        "the bad handles must not have touched the object"
    );
    assert_eq!(free(h), offheap_status::Ok);
    assert_eq!(touch(h), Err(offheap_status::InvalidHandle));
    assert_eq!(free(h), offheap_status::InvalidHandle);
}

#[test]
fn null_with_length_and_empty_slices() {
    let _s = serial();
    let mut out = 7u64;
    // SAFETY: NULL with length 0 is the documented empty slice.
    assert_eq!(
        unsafe { offheap_debug_sum(std::ptr::null(), 0, &mut out) },
        offheap_status::Ok
    );
    assert_eq!(out, 0);
    out = 7;
    // SAFETY: NULL with a length is rejected before any read.
    assert_eq!(
        unsafe { offheap_debug_sum(std::ptr::null(), 9, &mut out) },
        offheap_status::NullPointer
    );
    assert_eq!(out, 7, "out-parameter written on failure");
    // SAFETY: a NULL out-parameter is rejected.
    assert_eq!(
        unsafe { offheap_debug_sum([1u8].as_ptr(), 1, std::ptr::null_mut()) },
        offheap_status::NullPointer
    );
    // SAFETY: NULL with a length is rejected before any write.
    assert_eq!(
        unsafe { offheap_debug_fill(std::ptr::null_mut(), 4, 1) },
        offheap_status::NullPointer
    );
    let mut buf = [0u8; 5];
    // SAFETY: `buf` is valid for 5 bytes.
    assert_eq!(
        unsafe { offheap_debug_fill(buf.as_mut_ptr(), 5, 3) },
        offheap_status::Ok
    );
    // SAFETY: `buf` is valid for 5 bytes.
    assert_eq!(
        unsafe { offheap_debug_sum(buf.as_ptr(), 5, &mut out) },
        offheap_status::Ok
    );
    assert_eq!(out, 15);
}

#[test]
fn a_panic_through_every_kind_of_export() {
    let _s = serial();
    let h = new_object();
    let mut c = offheap_counters::default();
    let mut out = 0u64;
    type Case = (&'static str, Box<dyn Fn() -> bool>);
    let cases: Vec<Case> = vec![
        ("version", Box::new(|| offheap_version() == 0)),
        ("abi", Box::new(|| offheap_abi_version() == 0)),
        (
            "status_str",
            Box::new(|| message(offheap_status::Ok as u32) == "offheap: unknown status"),
        ),
        (
            "touch",
            Box::new(move || touch(h) == Err(offheap_status::Panic)),
        ),
        ("free", Box::new(move || free(h) == offheap_status::Panic)),
        (
            "new",
            Box::new(move || {
                let mut x = 0u64;
                // SAFETY: `x` is a live u64, valid for the one write `offheap_debug_object_new` may make.
                unsafe { offheap_debug_object_new(&mut x) == offheap_status::Panic && x == 0 }
            }),
        ),
    ];
    for (name, case) in &cases {
        offheap_debug_inject_panics(1);
        assert!(case(), "{name}: wrong result under an injected panic");
    }
    // SAFETY: valid out-parameters.
    unsafe {
        offheap_debug_inject_panics(1);
        assert_eq!(offheap_stats(&mut c), offheap_status::Panic);
        offheap_debug_inject_panics(1);
        assert_eq!(
            offheap_debug_sum([1u8].as_ptr(), 1, &mut out),
            offheap_status::Panic
        );
    }
    // The process lives on, and the object was neither freed nor poisoned by boundary panics.
    assert!(touch(h).is_ok());
    assert_eq!(free(h), offheap_status::Ok);
}

#[test]
fn a_panic_under_a_lease_poisons_until_freed() {
    let _s = serial();
    let h = new_object();
    let mut n = 0u64;
    // SAFETY: valid out-parameter; spin = u32::MAX asks for a panic under the lease.
    assert_eq!(
        unsafe { offheap_debug_object_touch(h, u32::MAX, &mut n) },
        offheap_status::Panic
    );
    assert_eq!(touch(h), Err(offheap_status::Poisoned));
    assert!(message(offheap_status::Poisoned as u32).contains("poisoned"));
    assert_eq!(
        free(h),
        offheap_status::Ok,
        "a poisoned object can still be freed"
    );
    assert_eq!(touch(h), Err(offheap_status::InvalidHandle));
}

#[test]
fn close_racing_with_calls_from_many_threads() {
    let _s = serial();
    for _ in 0..50 {
        let h = new_object();
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        match touch(h) {
                            Ok(_) => {}
                            Err(st) => {
                                assert_eq!(st, offheap_status::InvalidHandle);
                                return;
                            }
                        }
                    }
                });
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
            assert_eq!(free(h), offheap_status::Ok);
            stop.store(true, Ordering::Relaxed);
        });
        assert_eq!(touch(h), Err(offheap_status::InvalidHandle));
    }
}

#[test]
fn stats_count_live_handles_by_kind() {
    let _s = serial();
    let read = || {
        let mut c = offheap_counters::default();
        // SAFETY: valid out-parameter.
        assert_eq!(unsafe { offheap_stats(&mut c) }, offheap_status::Ok);
        c
    };
    let before = read();
    let hs: Vec<u64> = (0..10).map(|_| new_object()).collect();
    let during = read();
    assert_eq!(
        during.handles_by_kind[offheap_kind::Debug as usize],
        before.handles_by_kind[offheap_kind::Debug as usize] + 10
    );
    assert_eq!(during.handles_live, before.handles_live + 10);
    assert!(during.heap_peak_bytes >= during.heap_live_bytes);
    for h in hs {
        assert_eq!(free(h), offheap_status::Ok);
    }
    assert_eq!(
        read().handles_by_kind[offheap_kind::Debug as usize],
        before.handles_by_kind[offheap_kind::Debug as usize]
    );
}
