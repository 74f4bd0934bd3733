//! Keeps QuickJS's small-block arenas alive between requests.
//!
//! QuickJS serves allocations up to 512 bytes from 4 KiB arenas, one list per size class,
//! and frees an arena the moment its last block is freed. A request's short-lived strings
//! and objects are often the only tenants of their size class's arena, so every request
//! made the arena again (threading a free list through every block) and freed it at its
//! end: 1–6K instructions per request, 1–6% of a trivial script (measured with callgrind).
//! One block held per size class for the runtime's lifetime keeps one arena of each class
//! alive. Cost: at most one 4 KiB arena per class no other object of the runtime uses.

use std::ffi::c_void;

use rquickjs::{qjs, Context};

/// QuickJS's size classes up to 256 bytes (`arena_block_sizes` in quickjs.c); larger
/// blocks are rarer per request and an arena of them holds fewer than 15.
const CLASSES: [usize; 23] = [
    16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104, 112, 120, 128, 144, 160, 176, 192, 208, 224,
    240, 256,
];
/// The header QuickJS puts before each block.
const HEADER: usize = 8;

/// One block of each small size class of a runtime, freed on drop. Drop it before the
/// runtime (a field declared before the `Runtime` it pins).
pub(super) struct ArenaPins {
    rt: *mut qjs::JSRuntime,
    blocks: Vec<*mut c_void>,
}

impl ArenaPins {
    /// Pins the size classes of `ctx`'s runtime (a class whose block cannot be allocated,
    /// in a heap already full, is left unpinned).
    pub fn new(ctx: &Context) -> ArenaPins {
        // SAFETY: the context is alive, so its runtime is; the blocks are allocated and
        // freed (in `drop`) with that runtime's own allocator, never touched otherwise.
        unsafe {
            let rt = qjs::JS_GetRuntime(ctx.as_raw().as_ptr());
            let blocks = CLASSES
                .iter()
                .map(|size| qjs::js_malloc_rt(rt, (size - HEADER) as _))
                .filter(|b| !b.is_null())
                .collect();
            ArenaPins { rt, blocks }
        }
    }
}

impl Drop for ArenaPins {
    fn drop(&mut self) {
        for b in self.blocks.drain(..) {
            // SAFETY: allocated by `js_malloc_rt` on `rt`, which outlives this (see above).
            unsafe { qjs::js_free_rt(self.rt, b) };
        }
    }
}
