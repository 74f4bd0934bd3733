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
/// allocator needs asking; the server calls it when [`Trimmer`] says so.
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

/// When to [`trim`]: as soon as the server goes quiet (no request began during a whole
/// tick), once per quiet spell, and otherwise every `every` ticks, so a server that is never
/// quiet for a whole tick (a trickle of requests) still gives memory back.
///
/// Why not "no request in flight": an upgraded connection (a WebSocket) stays in flight for
/// as long as it lives, so one connected client kept a server that had served a burst from
/// ever trimming — measured: 15.3 MiB resident for good after 16 parallel 10 MiB downloads,
/// against 10.2 MiB without the client.
#[derive(Debug)]
pub struct Trimmer {
    last: usize,
    trimmed: bool,
    since: u32,
    every: u32,
}

impl Trimmer {
    /// A trimmer that trims at least every `every` ticks (and on quiet ones, see above).
    pub fn new(every: u32) -> Trimmer {
        Trimmer {
            last: 0,
            trimmed: false,
            since: 0,
            every: every.max(1),
        }
    }

    /// Called once per tick with the number of requests begun so far (a counter that only
    /// grows, wrapping allowed); `true` when the caller should [`trim`] now.
    pub fn due(&mut self, begun: usize) -> bool {
        let quiet = begun == self.last;
        self.last = begun;
        // `since` counts busy ticks since the last trim or quiet tick.
        self.since = if quiet {
            0
        } else {
            self.since.saturating_add(1)
        };
        let due = if quiet {
            !self.trimmed
        } else {
            self.since >= self.every
        };
        if due {
            self.since = 0;
        }
        // Whether this quiet spell has had its trim (a busy tick starts a new spell).
        self.trimmed = quiet && (due || self.trimmed);
        due
    }
}

#[cfg(test)]
mod tests {
    use super::Trimmer;

    #[test]
    fn trims_once_when_the_server_goes_quiet() {
        let mut t = Trimmer::new(30);
        assert!(!t.due(5), "requests began this tick");
        assert!(!t.due(9), "still busy");
        assert!(t.due(9), "the first quiet tick trims");
        assert!(!t.due(9), "and the quiet spell does not trim again");
        assert!(!t.due(9));
        assert!(!t.due(10), "busy again");
        assert!(t.due(10), "quiet again: one more trim");
    }

    #[test]
    fn a_server_never_quiet_still_trims_every_so_often() {
        let mut t = Trimmer::new(4);
        let trims: Vec<bool> = (1..=12).map(|n| t.due(n)).collect();
        assert_eq!(trims.iter().filter(|d| **d).count(), 3, "{trims:?}");
        assert!(trims[3] && trims[7] && trims[11], "{trims:?}");
    }

    #[test]
    fn a_periodic_trim_resets_the_count_and_a_quiet_one_follows() {
        let mut t = Trimmer::new(2);
        assert!(!t.due(1));
        assert!(t.due(2), "periodic, while busy");
        assert!(
            t.due(2),
            "quiet now: trims, the busy trim does not count for the spell"
        );
        assert!(!t.due(2), "one trim per quiet spell");
        assert!(!t.due(2), "and no periodic one while quiet");
        assert!(!t.due(3), "busy again, the count starts over");
        // The counter wraps after usize::MAX requests: still just "changed".
        let mut w = Trimmer::new(100);
        assert!(!w.due(usize::MAX));
        assert!(!w.due(0));
        assert!(w.due(0));
    }
}
