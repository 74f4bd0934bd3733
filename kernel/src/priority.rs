//! Background work that must not compete with serving: the calling thread's CPU priority
//! lowered (a higher nice value), for snapshots of the database and the like. On a 2-core
//! board a snapshot busy on one core otherwise takes its share from the request path.

/// The nice value background threads run at.
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's priority to at most `nice` (Linux gives each thread its own
/// nice value; elsewhere, or when a syscall filter refuses, nothing changes). Never raises
/// it: a thread already nicer (started with `nice -n 19`) stays so, also as root. Raising a
/// nice value needs no privilege.
pub fn lower_this_thread(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        extern "C" {
            fn getpriority(which: i32, who: u32) -> i32;
            fn setpriority(which: i32, who: u32, prio: i32) -> i32;
        }
        const PRIO_PROCESS: i32 = 0;
        // SAFETY: both take plain integers; `who` 0 is the calling thread on Linux. A failed
        // getpriority reads as -1, below any nice we set; a failed setpriority (EPERM under a
        // filter) leaves the priority as it was.
        unsafe {
            let now = getpriority(PRIO_PROCESS, 0);
            if now < nice {
                setpriority(PRIO_PROCESS, 0, nice);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

#[cfg(test)]
mod tests {
    /// The calling thread's nice value (field 19 of its stat, counted after the ")" that
    /// ends the command name).
    #[cfg(target_os = "linux")]
    fn my_nice() -> i64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        rest.split_whitespace().nth(16).unwrap().parse().unwrap()
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn only_the_calling_thread_is_lowered_and_never_raised() {
        let before = my_nice();
        let lowered = std::thread::spawn(|| {
            super::lower_this_thread(super::BACKGROUND_NICE);
            my_nice()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, before.max(10));
        assert_eq!(my_nice(), before, "other threads keep their priority");
        // Already nicer: left as it is (as root, setpriority could raise it again).
        let kept = std::thread::spawn(|| {
            super::lower_this_thread(19);
            super::lower_this_thread(super::BACKGROUND_NICE);
            my_nice()
        })
        .join()
        .unwrap();
        assert_eq!(kept, 19);
    }
}
