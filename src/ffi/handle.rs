//! The handle table: objects cross the C ABI as 64-bit ids, never as raw pointers.
//!
//! A handle packs `generation (32) | kind (8) | slot (24)`. Each slot has one atomic state word
//! `generation (32) | kind (8) | CLOSING | POISONED`, which calls only read, and lease counters
//! striped by thread: a lookup adds one to its thread's counter of the slot, then reads the
//! state (and subtracts one when the call ends), with no lock. Threads count leases on
//! different cache lines, so calls from many threads into one object do not bounce one line
//! between cores (the counters of one stripe sit together, one word per slot). A zero, forged,
//! stale, wrong-kind or double-freed handle fails the generation/kind check and gives
//! `OFFHEAP_STATUS_INVALID_HANDLE`; it never reaches memory.
//!
//! Freeing marks the slot CLOSING (new lookups fail), waits until the calls that hold a lease on
//! the object have returned (every stripe's counter back at zero; calls are bounded: no export
//! blocks on I/O), bumps the generation, and only then drops the object. A lookup adds to its
//! counter before it reads the state and a free sets CLOSING before it reads the counters (both
//! sequentially consistent), so one of the two sees the other. So `Close` racing with calls from
//! other threads is safe: each racing call either completes on a live object or gets
//! `OFFHEAP_STATUS_INVALID_HANDLE`.
//!
//! A panic while a lease is held poisons the slot: later calls get `OFFHEAP_STATUS_POISONED`,
//! and only freeing the object still works.

use super::boundary::FfiResult;
use super::status::offheap_status;
use parking_lot::Mutex;
use std::cell::Cell;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// The kinds of objects behind handles. The kind is part of the handle, so a handle of one kind
/// passed where another is expected is rejected. Values index `offheap_counters.handles_by_kind`.
#[allow(non_camel_case_types, dead_code)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum offheap_kind {
    /// Objects of `offheap_debug_object_*`, used by tests of the FFI contract.
    Debug = 1,
    /// A windowed aggregator.
    Aggregator = 2,
    /// A snapshot of an aggregator held in a Rust arena.
    Snapshot = 3,
    /// A Rust-owned I/O buffer.
    Buffer = 4,
    /// A relay between two connections.
    Relay = 5,
    /// A relay engine with its worker threads.
    Engine = 6,
}

/// Length of `offheap_counters.handles_by_kind` (kinds are 1..OFFHEAP_KIND_SLOTS-1).
pub const OFFHEAP_KIND_SLOTS: usize = 16;

/// A type that can live behind a handle.
pub(crate) trait HandleObject: Send + Sync + 'static {
    /// Its kind, checked on every lookup.
    const KIND: offheap_kind;
}

const SLOT_BITS: u32 = 24;
const SEG_BITS: u32 = 9;
const SEG_LEN: usize = 1 << SEG_BITS;
const MAX_SLOTS: usize = 1 << SLOT_BITS;
const SEGS: usize = MAX_SLOTS / SEG_LEN;

const KIND_SHIFT: u32 = 24;
const KIND_MASK: u64 = 0xff << KIND_SHIFT;
const CLOSING: u64 = 1 << 23;
const POISONED: u64 = 1 << 22;
const GEN_MASK: u64 = !0u64 << 32;
/// Lease counter stripes: threads are spread over them round-robin.
const STRIPES: usize = 8;

struct Slot {
    state: AtomicU64,
    object: AtomicPtr<()>,
}

/// One stripe's lease counters of a segment's slots: one word per slot, on cache lines of
/// their own (no other stripe's counter shares them). A segment's slots and counters take
/// 24 KiB, made with its first handle and kept for the life of the process.
#[repr(align(128))]
struct Stripe([AtomicU32; SEG_LEN]);

/// A segment: its slots and their lease counters, stripe by stripe (each part allocated on
/// its own, so that no large value is built on a thread's stack).
struct Segment {
    slots: Box<[Slot; SEG_LEN]>,
    leases: Box<[Stripe; STRIPES]>,
}

thread_local! {
    // A const-initialised Cell: reading it allocates nothing and registers no destructor.
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
}
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

/// The calling thread's lease stripe.
#[inline(always)]
fn stripe() -> usize {
    STRIPE
        .try_with(|c| {
            let mut s = c.get();
            if s == usize::MAX {
                s = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
                c.set(s);
            }
            s
        })
        .unwrap_or(0)
}

struct FreeList {
    free: Vec<u32>,
    next: usize,
}

static SEGMENTS: [AtomicPtr<Segment>; SEGS] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; SEGS];
static FREE: Mutex<FreeList> = Mutex::new(FreeList {
    free: Vec::new(),
    next: 0,
});
static LIVE_BY_KIND: [AtomicU64; OFFHEAP_KIND_SLOTS] =
    [const { AtomicU64::new(0) }; OFFHEAP_KIND_SLOTS];

/// A slot and its lease counters.
#[derive(Clone, Copy)]
struct At {
    seg: &'static Segment,
    i: usize,
}

impl At {
    #[inline(always)]
    fn slot(self) -> &'static Slot {
        &self.seg.slots[self.i]
    }

    #[inline(always)]
    fn lease(self, stripe: usize) -> &'static AtomicU32 {
        &self.seg.leases[stripe % STRIPES].0[self.i]
    }

    /// Leases held on the slot, all stripes together.
    fn leases(self) -> u64 {
        self.seg
            .leases
            .iter()
            .map(|s| u64::from(s.0[self.i].load(Ordering::SeqCst)))
            .sum()
    }
}

#[inline]
fn slot(index: usize) -> Option<At> {
    let seg = SEGMENTS[index >> SEG_BITS].load(Ordering::Acquire);
    if seg.is_null() {
        return None;
    }
    // SAFETY: a non-NULL segment pointer comes from `Box::leak` of a `Segment` in `take_index`
    // and is never freed, so it is valid for `'static`.
    let seg: &'static Segment = unsafe { &*seg };
    Some(At {
        seg,
        i: index & (SEG_LEN - 1),
    })
}

#[inline]
fn locate<T: HandleObject>(handle: u64) -> FfiResult<At> {
    if (handle & KIND_MASK) >> KIND_SHIFT != T::KIND as u64 {
        // Also rejects the zero handle: no kind is 0.
        return Err(offheap_status::InvalidHandle);
    }
    slot((handle as usize) & (MAX_SLOTS - 1)).ok_or(offheap_status::InvalidHandle)
}

/// Takes a fresh or recycled slot index; grows the table by a segment when needed.
fn take_index() -> FfiResult<usize> {
    let mut list = FREE.lock();
    if let Some(i) = list.free.pop() {
        return Ok(i as usize);
    }
    let i = list.next;
    if i >= MAX_SLOTS {
        return Err(offheap_status::HandleTableFull);
    }
    if i.is_multiple_of(SEG_LEN) {
        let slots: Box<[Slot]> = (0..SEG_LEN)
            .map(|_| Slot {
                state: AtomicU64::new(1 << 32),
                object: AtomicPtr::new(std::ptr::null_mut()),
            })
            .collect();
        let leases: Box<[Stripe]> = (0..STRIPES)
            .map(|_| Stripe(std::array::from_fn(|_| AtomicU32::new(0))))
            .collect();
        let (Ok(slots), Ok(leases)) = (slots.try_into(), leases.try_into()) else {
            return Err(offheap_status::HandleTableFull);
        };
        let seg = Box::new(Segment { slots, leases });
        SEGMENTS[i >> SEG_BITS].store(Box::leak(seg), Ordering::Release);
    }
    list.next = i + 1;
    Ok(i)
}

/// Moves `object` behind a new handle.
pub(crate) fn insert<T: HandleObject>(object: T) -> FfiResult<u64> {
    let index = take_index()?;
    let slot = slot(index).ok_or(offheap_status::HandleTableFull)?.slot();
    slot.object
        .store(Box::into_raw(Box::new(object)).cast(), Ordering::Release);
    // The slot's kind is 0 while it is free; adding the kind publishes the object.
    let kind = (T::KIND as u64) << KIND_SHIFT;
    let state = slot.state.fetch_add(kind, Ordering::AcqRel) + kind;
    LIVE_BY_KIND[T::KIND as usize].fetch_add(1, Ordering::Relaxed);
    Ok((state & GEN_MASK) | kind | index as u64)
}

/// A lease on a live object: the object cannot be freed while it exists.
pub(crate) struct Lease<T: HandleObject> {
    slot: &'static Slot,
    /// The counter this lease was added to (the taking thread's stripe).
    lease: &'static AtomicU32,
    object: *const T,
    _marker: PhantomData<T>,
}

impl<T: HandleObject> Deref for Lease<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: `object` was published with the slot's kind and generation, which `get` checked
        // while taking the lease; `free` waits for all leases before dropping it.
        unsafe { &*self.object }
    }
}

impl<T: HandleObject> Drop for Lease<T> {
    #[inline]
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.slot.state.fetch_or(POISONED, Ordering::SeqCst);
        }
        self.lease.fetch_sub(1, Ordering::Release);
    }
}

/// Looks up a live object of kind `T` and leases it for the duration of a call.
#[inline]
pub(crate) fn get<T: HandleObject>(handle: u64) -> FfiResult<Lease<T>> {
    let at = locate::<T>(handle)?;
    let (slot, lease) = (at.slot(), at.lease(stripe()));
    // The lease first, then the state: a free that set CLOSING before this read is seen here,
    // and a free that sets it after waits for this lease (both orders sequentially consistent).
    lease.fetch_add(1, Ordering::SeqCst);
    let state = slot.state.load(Ordering::SeqCst);
    let wanted = (handle & GEN_MASK) | ((T::KIND as u64) << KIND_SHIFT);
    if state & (GEN_MASK | KIND_MASK | CLOSING | POISONED) != wanted {
        lease.fetch_sub(1, Ordering::Release);
        if state & (GEN_MASK | KIND_MASK | CLOSING) == wanted {
            return Err(offheap_status::Poisoned);
        }
        return Err(offheap_status::InvalidHandle);
    }
    Ok(Lease {
        slot,
        lease,
        object: slot.object.load(Ordering::Acquire).cast_const().cast(),
        _marker: PhantomData,
    })
}

/// Frees the object behind `handle` once no call holds it; later lookups of `handle` fail.
/// Freeing a freed (or forged) handle changes nothing and returns `InvalidHandle`.
pub(crate) fn free<T: HandleObject>(handle: u64) -> FfiResult<()> {
    let at = locate::<T>(handle)?;
    let slot = at.slot();
    let wanted = (handle & GEN_MASK) | ((T::KIND as u64) << KIND_SHIFT);
    let mut state = slot.state.load(Ordering::Acquire);
    loop {
        if state & (GEN_MASK | KIND_MASK | CLOSING) != wanted {
            return Err(offheap_status::InvalidHandle);
        }
        match slot.state.compare_exchange_weak(
            state,
            state | CLOSING,
            Ordering::SeqCst,
            Ordering::Acquire,
        ) {
            Ok(_) => break,
            Err(s) => state = s,
        }
    }
    // Wait for the leases of calls in progress, then retire the generation in one step.
    let next_gen = ((handle >> 32) as u32).wrapping_add(1);
    let mut spins = 0u32;
    loop {
        if at.leases() == 0 {
            // Only this free changes a CLOSING state (a poisoning lease has ended).
            slot.state.store((next_gen as u64) << 32, Ordering::SeqCst);
            break;
        }
        spins += 1;
        if spins < 64 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
    let object = slot.object.swap(std::ptr::null_mut(), Ordering::AcqRel);
    if next_gen != 0 {
        // A slot whose generation wrapped is retired for good, so a stale handle can never
        // alias a newer object.
        FREE.lock()
            .free
            .push((handle as usize & (MAX_SLOTS - 1)) as u32);
    }
    LIVE_BY_KIND[T::KIND as usize].fetch_sub(1, Ordering::Relaxed);
    // SAFETY: `object` came from `Box::into_raw(Box<T>)` in `insert` for this generation (the
    // kind check guarantees T), no lease is left, and the slot no longer points to it.
    drop(unsafe { Box::from_raw(object.cast::<T>()) });
    Ok(())
}

/// Live handles per kind, indexed by `offheap_kind` value.
pub(crate) fn live_by_kind() -> [u64; OFFHEAP_KIND_SLOTS] {
    std::array::from_fn(|i| LIVE_BY_KIND[i].load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    struct Probe(Arc<AtomicBool>);
    impl HandleObject for Probe {
        const KIND: offheap_kind = offheap_kind::Debug;
    }
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    struct Other;
    impl HandleObject for Other {
        const KIND: offheap_kind = offheap_kind::Engine;
    }

    #[test]
    fn insert_get_free() {
        let dropped = Arc::new(AtomicBool::new(false));
        let h = insert(Probe(dropped.clone())).unwrap();
        assert_ne!(h, 0);
        assert!(get::<Probe>(h).is_ok());
        free::<Probe>(h).unwrap();
        assert!(dropped.load(Ordering::SeqCst));
        assert_eq!(get::<Probe>(h).err(), Some(offheap_status::InvalidHandle));
        assert_eq!(free::<Probe>(h).err(), Some(offheap_status::InvalidHandle));
    }

    #[test]
    fn zero_forged_and_wrong_kind_handles_are_rejected() {
        assert_eq!(get::<Probe>(0).err(), Some(offheap_status::InvalidHandle));
        assert_eq!(
            get::<Probe>(u64::MAX).err(),
            Some(offheap_status::InvalidHandle)
        );
        let h = insert(Probe(Arc::default())).unwrap();
        assert_eq!(get::<Other>(h).err(), Some(offheap_status::InvalidHandle));
        let forged = h ^ (1 << 40);
        assert_eq!(
            get::<Probe>(forged).err(),
            Some(offheap_status::InvalidHandle)
        );
        assert_eq!(
            free::<Probe>(forged).err(),
            Some(offheap_status::InvalidHandle)
        );
        free::<Probe>(h).unwrap();
    }

    #[test]
    fn a_recycled_slot_does_not_alias_a_stale_handle() {
        let a = insert(Probe(Arc::default())).unwrap();
        free::<Probe>(a).unwrap();
        let mut later = Vec::new();
        for _ in 0..64 {
            later.push(insert(Probe(Arc::default())).unwrap());
        }
        assert!(get::<Probe>(a).is_err());
        for h in later {
            assert_ne!(h, a);
            free::<Probe>(h).unwrap();
        }
    }

    #[test]
    fn free_waits_for_leases() {
        let dropped = Arc::new(AtomicBool::new(false));
        let h = insert(Probe(dropped.clone())).unwrap();
        let lease = get::<Probe>(h).unwrap();
        let t = std::thread::spawn(move || free::<Probe>(h));
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert!(!dropped.load(Ordering::SeqCst), "dropped under a lease");
        assert_eq!(get::<Probe>(h).err(), Some(offheap_status::InvalidHandle));
        drop(lease);
        t.join().unwrap().unwrap();
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[test]
    fn a_panic_under_a_lease_poisons() {
        let h = insert(Probe(Arc::default())).unwrap();
        let r = std::panic::catch_unwind(|| {
            let _l = get::<Probe>(h).unwrap();
            panic!("inside");
        });
        assert!(r.is_err());
        assert_eq!(get::<Probe>(h).err(), Some(offheap_status::Poisoned));
        free::<Probe>(h).unwrap();
    }

    #[test]
    fn many_threads_race_calls_against_free() {
        for _ in 0..20 {
            let dropped = Arc::new(AtomicBool::new(false));
            let h = insert(Probe(dropped.clone())).unwrap();
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    std::thread::spawn(move || {
                        let mut ok = 0;
                        for _ in 0..2000 {
                            match get::<Probe>(h) {
                                Ok(l) => {
                                    assert!(!l.0.load(Ordering::SeqCst));
                                    ok += 1;
                                }
                                Err(e) => assert_eq!(e, offheap_status::InvalidHandle),
                            }
                        }
                        ok
                    })
                })
                .collect();
            free::<Probe>(h).unwrap();
            for t in threads {
                t.join().unwrap();
            }
            assert!(dropped.load(Ordering::SeqCst));
        }
    }
}
