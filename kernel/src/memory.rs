//! Giving memory back to the system once load has passed. A burst (uploads, thousands of
//! connections, a flood) must not leave the process holding what it freed.
//!
//! musl's malloc (what the shipped static builds use) serves large blocks with their own
//! mappings and unmaps them on free. glibc's does too at first, but raises its mmap
//! threshold to the size of each large block freed (up to 32 MiB), so after one upload
//! every later upload buffer comes from the heap and stays there: four 24 MiB uploads
//! left 63 MiB resident for good, which `malloc_trim` did not give back. Fixing the
//! threshold at its default (128 KiB) stops that — measured: 63 → 15 MiB, the idle value.

/// Call once at start, before the first large allocation.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_MMAP_THRESHOLD: i32 = -3;
        // SAFETY: mallopt only changes glibc malloc's tuning; any value is valid.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        }
    }
}

/// Returns freed heap memory (small blocks' free pages) to the operating system where the
/// allocator needs asking; the server calls it when idle.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's malloc_trim only releases memory malloc owns and no longer uses.
        unsafe {
            malloc_trim(0);
        }
    }
}
