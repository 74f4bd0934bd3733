//! Giving memory back to the system once load has passed. A burst (uploads, thousands of
//! connections, a flood) leaves the allocator holding freed memory; glibc's malloc keeps
//! it (its mmap threshold grows with the sizes it sees, so later large buffers come from
//! the heap and stay there), musl's returns it by itself. The server calls [`trim`] when
//! it is idle.

/// Returns freed heap memory to the operating system where the allocator needs asking.
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
