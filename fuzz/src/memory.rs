//! Counting what the code under test allocates, to check that memory follows the
//! bytes a peer actually sent and never a length it merely claimed.
//!
//! Install [`Counting`] as the global allocator (the fuzz targets and
//! `tests/fuzz_regressions.rs` do); a [`Watermark`] then reports the most bytes that
//! were live at once, on this thread, since it was set. Counting per thread keeps the
//! figures of parallel tests apart. Requested sizes are counted, not the allocator's
//! rounding.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn grew(bytes: usize) {
    // `try_with`: the allocator also runs while a thread is being torn down.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + bytes;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn shrank(bytes: usize) {
    // Saturating: a block freed on another thread than the one that allocated it.
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(bytes)));
}

/// The system allocator, counting live bytes per thread.
pub struct Counting;

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the bookkeeping only touches const-initialised thread-locals
// without destructors, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            shrank(layout.size());
            grew(new_size);
        }
        new
    }
}

/// The bytes live on this thread now.
fn live() -> usize {
    LIVE.with(Cell::get)
}

/// A point from which to measure the peak of live bytes on this thread.
pub struct Watermark {
    start: usize,
    counting: bool,
}

impl Watermark {
    /// Starts measuring now.
    pub fn set() -> Watermark {
        let start = live();
        PEAK.with(|peak| peak.set(start));
        // A probe, to tell whether `Counting` is the global allocator at all.
        let probe = std::hint::black_box(Box::new(0u64));
        let counting = live() > start;
        drop(probe);
        PEAK.with(|peak| peak.set(start));
        Watermark { start, counting }
    }

    /// The most bytes live at once since [`Watermark::set`], beyond those live then;
    /// `None` when [`Counting`] is not the global allocator.
    pub fn peak(&self) -> Option<usize> {
        self.counting
            .then(|| PEAK.with(Cell::get).saturating_sub(self.start))
    }

    /// Panics when more than `limit` bytes were live at once since the watermark.
    pub fn assert_at_most(&self, limit: usize, what: &str) {
        if let Some(peak) = self.peak() {
            assert!(
                peak <= limit,
                "{what}: {peak} bytes live at once, more than the {limit} allowed"
            );
        }
    }
}
