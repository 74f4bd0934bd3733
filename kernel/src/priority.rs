//! Background work that must not compete with serving: the calling thread's CPU priority
//! lowered (a higher nice value), for snapshots of the database and the like. On a 2-core
//! board a snapshot busy on one core otherwise takes its share from the request path.

/// The nice value background threads run at.
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's priority to `nice` (Linux gives each thread its own nice
/// value; elsewhere, or when a syscall filter refuses, nothing changes). Raising a nice
/// value needs no privilege; it cannot be lowered again without one.
pub fn lower_this_thread(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        extern "C" {
            fn setpriority(which: i32, who: u32, prio: i32) -> i32;
        }
        const PRIO_PROCESS: i32 = 0;
        // SAFETY: setpriority takes plain integers; `who` 0 is the calling thread on Linux.
        // Failure (EPERM under a filter, EACCES) leaves the priority as it was.
        unsafe {
            setpriority(PRIO_PROCESS, 0, nice);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn only_the_calling_thread_is_lowered() {
        let nice_of = |tid: String| -> i64 {
            let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
            // Field 19 (nice), counted after the ")" that ends the command name.
            let rest = &stat[stat.rfind(')').unwrap() + 2..];
            rest.split_whitespace().nth(16).unwrap().parse().unwrap()
        };
        let main = std::fs::read_to_string("/proc/thread-self/stat")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
        let before = nice_of(main.clone());
        let lowered = std::thread::spawn(|| {
            super::lower_this_thread(super::BACKGROUND_NICE);
            let me = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            let rest = &me[me.rfind(')').unwrap() + 2..];
            rest.split_whitespace()
                .nth(16)
                .unwrap()
                .parse::<i64>()
                .unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, (before + 10).min(19));
        assert_eq!(nice_of(main), before, "other threads keep their priority");
    }
}
