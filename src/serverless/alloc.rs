//! The heap of one worker's QuickJS runtime: libc `malloc` with the memory limit enforced
//! here rather than by `JS_SetMemoryLimit`.
//!
//! Why not `JS_SetMemoryLimit` alone: when the heap is so full that QuickJS cannot even
//! allocate its `InternalError: out of memory` object, it throws `null` instead, which is
//! indistinguishable from a script's own `throw null` — and that is the usual way an
//! allocation bomb ends. Refusing allocations here lets the engine *know* the limit was
//! hit ([`Budget::refused`]) and report [`JsError::OutOfMemory`](super::JsError) exactly.
//! The accounting uses `malloc_usable_size`, the same measure QuickJS's own limit uses, so
//! the limit means the same (rquickjs's `rust-alloc` feature, whose size reporting breaks
//! the limit, stays off).

use std::cell::Cell;
use std::ffi::c_void;
use std::rc::Rc;
use std::time::Instant;

use rquickjs::allocator::Allocator;

extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn calloc(count: usize, size: usize) -> *mut c_void;
    fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void;
    fn free(ptr: *mut c_void);
    // In both glibc and musl.
    fn malloc_usable_size(ptr: *mut c_void) -> usize;
}

/// Bytes in use by one runtime and whether an allocation was refused since the last
/// [`Budget::reset_refused`].
///
/// The budget also enforces the run's time: once its deadline has passed every
/// allocation is refused, so native loops that allocate as they go (`Array.join`,
/// string building, `new Array(n).fill`) and allocation bombs that catch their own
/// out-of-memory errors fail fast until QuickJS's next interrupt check stops the script.
/// After the interrupt handler fired, a small reserve above the limit is granted so the
/// uncatchable "interrupted" error itself can be made.
pub(super) struct Budget {
    limit: usize,
    used: Cell<usize>,
    refused: Cell<bool>,
    deadline: Rc<Cell<Option<Instant>>>,
    interrupted: Rc<Cell<bool>>,
    /// Allocations since the clock was last read (reading it on each one would cost
    /// ~20 ns a time on the hot path).
    since_clock: Cell<u32>,
}

/// Room granted past the limit for the interrupt's own error object.
const INTERRUPT_RESERVE: usize = 64 * 1024;
/// Small allocations between two deadline checks; large ones always check.
const CLOCK_EVERY: u32 = 64;
const CLOCK_ALWAYS_FROM: usize = 4096;

impl Budget {
    pub fn new(
        limit: usize,
        deadline: Rc<Cell<Option<Instant>>>,
        interrupted: Rc<Cell<bool>>,
    ) -> Rc<Budget> {
        Rc::new(Budget {
            limit,
            used: Cell::new(0),
            refused: Cell::new(false),
            deadline,
            interrupted,
            since_clock: Cell::new(0),
        })
    }

    /// Whether the run's deadline has passed (read from the clock only now and then).
    fn late(&self, size: usize) -> bool {
        let Some(deadline) = self.deadline.get() else {
            return false;
        };
        let n = self.since_clock.get() + 1;
        if size < CLOCK_ALWAYS_FROM && n < CLOCK_EVERY {
            self.since_clock.set(n);
            return false;
        }
        self.since_clock.set(0);
        Instant::now() >= deadline
    }

    pub fn refused(&self) -> bool {
        self.refused.get()
    }

    pub fn reset_refused(&self) {
        self.refused.set(false);
    }

    /// Bytes the runtime holds now.
    pub fn used(&self) -> usize {
        self.used.get()
    }

    /// Whether `extra` more bytes fit; records a refusal when not.
    fn admit(&self, extra: usize) -> bool {
        if self.interrupted.get() {
            return self
                .used
                .get()
                .checked_add(extra)
                .is_some_and(|total| total <= self.limit.saturating_add(INTERRUPT_RESERVE));
        }
        if self.late(extra) {
            return false;
        }
        let fits = self
            .used
            .get()
            .checked_add(extra)
            .is_some_and(|total| total <= self.limit);
        if !fits {
            self.refused.set(true);
        }
        fits
    }
}

/// The allocator handed to `Runtime::new_with_alloc`. Used only on the worker thread
/// that owns the runtime (the runtime is `!Send`), hence the `Rc`.
pub(super) struct LimitedAllocator(pub Rc<Budget>);

// SAFETY: every pointer returned comes from libc malloc/calloc/realloc and is released
// with libc free/realloc; the usable size is libc's own for that pointer.
unsafe impl Allocator for LimitedAllocator {
    fn alloc(&mut self, size: usize) -> *mut u8 {
        if !self.0.admit(size) {
            return std::ptr::null_mut();
        }
        // SAFETY: plain libc allocation.
        unsafe {
            let p = malloc(size);
            if !p.is_null() {
                self.0.used.set(self.0.used.get() + malloc_usable_size(p));
            }
            p.cast()
        }
    }

    fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        let Some(total) = count.checked_mul(size) else {
            return std::ptr::null_mut();
        };
        if !self.0.admit(total) {
            return std::ptr::null_mut();
        }
        // SAFETY: plain libc allocation.
        unsafe {
            let p = calloc(count, size);
            if !p.is_null() {
                self.0.used.set(self.0.used.get() + malloc_usable_size(p));
            }
            p.cast()
        }
    }

    unsafe fn dealloc(&mut self, ptr: *mut u8) {
        if ptr.is_null() {
            return;
        }
        let size = malloc_usable_size(ptr.cast());
        self.0.used.set(self.0.used.get().saturating_sub(size));
        free(ptr.cast());
    }

    unsafe fn realloc(&mut self, ptr: *mut u8, new_size: usize) -> *mut u8 {
        if ptr.is_null() {
            return self.alloc(new_size);
        }
        let old = malloc_usable_size(ptr.cast());
        if new_size > old && !self.0.admit(new_size - old) {
            // The original block stays valid, as with a failed realloc.
            return std::ptr::null_mut();
        }
        let p = realloc(ptr.cast(), new_size);
        if !p.is_null() {
            let used = self.0.used.get().saturating_sub(old) + malloc_usable_size(p);
            self.0.used.set(used);
        }
        p.cast()
    }

    unsafe fn usable_size(ptr: *mut u8) -> usize {
        malloc_usable_size(ptr.cast())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_and_accounts() {
        let budget = Budget::new(4096, Rc::default(), Rc::default());
        let mut a = LimitedAllocator(budget.clone());
        let p = a.alloc(1000);
        assert!(!p.is_null());
        assert!(budget.used() >= 1000);
        assert!(a.alloc(10_000).is_null());
        assert!(budget.refused());
        budget.reset_refused();
        // SAFETY: p came from this allocator.
        unsafe {
            let q = a.realloc(p, 2000);
            assert!(!q.is_null());
            assert!(budget.used() >= 2000);
            assert!(a.realloc(q, 100_000).is_null());
            assert!(budget.refused());
            a.dealloc(q);
        }
        assert_eq!(budget.used(), 0);
        assert!(a.calloc(usize::MAX, 2).is_null());
    }

    #[test]
    fn nothing_is_granted_after_the_deadline_but_the_interrupt_reserve() {
        let deadline = Rc::new(Cell::new(Some(Instant::now())));
        let interrupted = Rc::new(Cell::new(false));
        let budget = Budget::new(1 << 20, deadline, interrupted.clone());
        let mut a = LimitedAllocator(budget.clone());
        assert!(
            a.alloc(8192).is_null(),
            "a large allocation checks the clock"
        );
        // Small ones are refused too once the clock has been read (within CLOCK_EVERY).
        let refused = (0..CLOCK_EVERY).filter(|_| a.alloc(16).is_null()).count();
        assert!(refused >= 1);
        interrupted.set(true);
        let p = a.alloc(8192);
        assert!(!p.is_null(), "the interrupt's error must fit");
        // SAFETY: p came from this allocator.
        unsafe { a.dealloc(p) };
    }
}
