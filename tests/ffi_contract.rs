//! The C ABI contract, exercised through the real exported symbols (declared here as C would).

use std::ffi::{CStr, c_char};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

const OK: u32 = 0;
const PANIC: u32 = 1;
const INVALID_HANDLE: u32 = 2;
const NULL_POINTER: u32 = 3;
const POISONED: u32 = 7;

#[repr(C)]
#[derive(Default)]
struct Counters {
    heap_live_bytes: u64,
    heap_peak_bytes: u64,
    heap_allocations: u64,
    heap_frees: u64,
    handles_live: u64,
    handles_by_kind: [u64; 16],
}

// Link the library so its exported symbols resolve.
use offheap as _;

unsafe extern "C" {
    fn offheap_version() -> u32;
    fn offheap_abi_version() -> u32;
    fn offheap_status_str(status: u32) -> *const c_char;
    fn offheap_stats(out: *mut Counters) -> u32;
    fn offheap_debug_inject_panics(count: u32);
    fn offheap_debug_object_new(out: *mut u64) -> u32;
    fn offheap_debug_object_touch(object: u64, spin: u32, out: *mut u64) -> u32;
    fn offheap_debug_object_free(object: u64) -> u32;
    fn offheap_debug_sum(data: *const u8, len: usize, out: *mut u64) -> u32;
    fn offheap_debug_fill(dst: *mut u8, len: usize, value: u8) -> u32;
}

/// Injected panics are process-wide: tests that arm them, or that must not be hit by them, take
/// this lock.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn new_object() -> u64 {
    let mut h = 0u64;
    // SAFETY: `h` is a valid out-parameter.
    assert_eq!(unsafe { offheap_debug_object_new(&mut h) }, OK);
    assert_ne!(h, 0);
    h
}

fn touch(h: u64) -> Result<u64, u32> {
    let mut n = u64::MAX;
    // SAFETY: `n` is a valid out-parameter.
    match unsafe { offheap_debug_object_touch(h, 0, &mut n) } {
        OK => Ok(n),
        st => {
            assert_eq!(n, u64::MAX, "out-parameter written on failure");
            Err(st)
        }
    }
}

fn free(h: u64) -> u32 {
    // SAFETY: any handle value is allowed.
    unsafe { offheap_debug_object_free(h) }
}

fn message(status: u32) -> String {
    // SAFETY: offheap_status_str returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(offheap_status_str(status)) }
        .to_str()
        .unwrap()
        .to_owned()
}

#[test]
fn versions() {
    let _s = serial();
    // SAFETY: no arguments.
    let v = unsafe { offheap_version() };
    assert_eq!(
        v >> 16,
        env!("CARGO_PKG_VERSION_MAJOR").parse::<u32>().unwrap()
    );
    // SAFETY: no arguments.
    assert_eq!(unsafe { offheap_abi_version() }, 4);
}

#[test]
fn status_messages_are_static_and_distinct() {
    let _s = serial();
    let msgs: Vec<String> = (0..=10).map(message).collect();
    for (i, m) in msgs.iter().enumerate() {
        assert!(
            !m.is_empty() && m != "offheap: unknown status",
            "status {i}"
        );
        assert_eq!(msgs.iter().filter(|x| *x == m).count(), 1, "status {i}");
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
        (h & !(0xff << 24)) | (2 << 24),
    ] {
        assert_eq!(touch(bad), Err(INVALID_HANDLE), "handle {bad:#x}");
        assert_eq!(free(bad), INVALID_HANDLE, "free {bad:#x}");
    }
    assert_eq!(
        touch(h),
        Ok(2),
        "the bad handles must not have touched the object"
    );
    assert_eq!(free(h), OK);
    assert_eq!(touch(h), Err(INVALID_HANDLE));
    assert_eq!(free(h), INVALID_HANDLE);
}

#[test]
fn null_with_length_and_empty_slices() {
    let _s = serial();
    let mut out = 7u64;
    // SAFETY: NULL with length 0 is the documented empty slice.
    assert_eq!(
        unsafe { offheap_debug_sum(std::ptr::null(), 0, &mut out) },
        OK
    );
    assert_eq!(out, 0);
    out = 7;
    // SAFETY: NULL with a length is rejected before any read.
    assert_eq!(
        unsafe { offheap_debug_sum(std::ptr::null(), 9, &mut out) },
        NULL_POINTER
    );
    assert_eq!(out, 7, "out-parameter written on failure");
    // SAFETY: a NULL out-parameter is rejected.
    assert_eq!(
        unsafe { offheap_debug_sum([1u8].as_ptr(), 1, std::ptr::null_mut()) },
        NULL_POINTER
    );
    // SAFETY: NULL with a length is rejected before any write.
    assert_eq!(
        unsafe { offheap_debug_fill(std::ptr::null_mut(), 4, 1) },
        NULL_POINTER
    );
    let mut buf = [0u8; 5];
    // SAFETY: `buf` is valid for 5 bytes.
    assert_eq!(unsafe { offheap_debug_fill(buf.as_mut_ptr(), 5, 3) }, OK);
    // SAFETY: `buf` is valid for 5 bytes.
    assert_eq!(unsafe { offheap_debug_sum(buf.as_ptr(), 5, &mut out) }, OK);
    assert_eq!(out, 15);
}

#[test]
fn a_panic_through_every_kind_of_export() {
    let _s = serial();
    let h = new_object();
    let mut c = Counters::default();
    let mut out = 0u64;
    type Case = (&'static str, Box<dyn Fn() -> bool>);
    let cases: Vec<Case> = vec![
        // SAFETY (all): arguments are valid; the panic fires before they are used.
        ("version", Box::new(|| unsafe { offheap_version() } == 0)),
        ("abi", Box::new(|| unsafe { offheap_abi_version() } == 0)),
        (
            "status_str",
            Box::new(|| message(0) == "offheap: unknown status"),
        ),
        ("touch", Box::new(move || touch(h) == Err(PANIC))),
        ("free", Box::new(move || free(h) == PANIC)),
        (
            "new",
            Box::new(move || {
                let mut x = 0u64;
                unsafe { offheap_debug_object_new(&mut x) == PANIC && x == 0 }
            }),
        ),
    ];
    for (name, case) in &cases {
        // SAFETY: no pointers involved.
        unsafe { offheap_debug_inject_panics(1) };
        assert!(case(), "{name}: wrong result under an injected panic");
    }
    // SAFETY: valid out-parameters.
    unsafe {
        offheap_debug_inject_panics(1);
        assert_eq!(offheap_stats(&mut c), PANIC);
        offheap_debug_inject_panics(1);
        assert_eq!(offheap_debug_sum([1u8].as_ptr(), 1, &mut out), PANIC);
    }
    // The process lives on, and the object was neither freed nor poisoned by boundary panics.
    assert!(touch(h).is_ok());
    assert_eq!(free(h), OK);
}

#[test]
fn a_panic_under_a_lease_poisons_until_freed() {
    let _s = serial();
    let h = new_object();
    let mut n = 0u64;
    // SAFETY: valid out-parameter; spin = u32::MAX asks for a panic under the lease.
    assert_eq!(
        unsafe { offheap_debug_object_touch(h, u32::MAX, &mut n) },
        PANIC
    );
    assert_eq!(touch(h), Err(POISONED));
    assert!(message(POISONED).contains("poisoned"));
    assert_eq!(free(h), OK, "a poisoned object can still be freed");
    assert_eq!(touch(h), Err(INVALID_HANDLE));
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
                                assert_eq!(st, INVALID_HANDLE);
                                return;
                            }
                        }
                    }
                });
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
            assert_eq!(free(h), OK);
            stop.store(true, Ordering::Relaxed);
        });
        assert_eq!(touch(h), Err(INVALID_HANDLE));
    }
}

#[test]
fn stats_count_live_handles_by_kind() {
    let _s = serial();
    let read = || {
        let mut c = Counters::default();
        // SAFETY: valid out-parameter.
        assert_eq!(unsafe { offheap_stats(&mut c) }, OK);
        c
    };
    let before = read();
    let hs: Vec<u64> = (0..10).map(|_| new_object()).collect();
    let during = read();
    assert_eq!(during.handles_by_kind[1], before.handles_by_kind[1] + 10);
    assert_eq!(during.handles_live, before.handles_live + 10);
    assert!(during.heap_peak_bytes >= during.heap_live_bytes);
    for h in hs {
        assert_eq!(free(h), OK);
    }
    assert_eq!(read().handles_by_kind[1], before.handles_by_kind[1]);
}
