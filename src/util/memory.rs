//! The process's heap. Two things about glibc's malloc cost the booth memory or time:
//!
//! - It keeps one arena per thread that allocates (up to 8 per core), each holding on to freed
//!   memory. The daemon's threads (event loop, start-up loader, vision worker, display, USB)
//!   each left tens of MB resident that way. [`configure`] caps the arenas before any thread
//!   starts; [`release_free`] hands freed memory back to the kernel after a phase that
//!   allocated and dropped a lot (start-up: model optimisation, gallery indexing; a reload; a
//!   portrait decoded for the result screen).
//! - It hands every allocation above its mmap threshold (128 KiB at first, raised to the
//!   largest freed block as it goes) straight to the kernel and back, and gives the top of the
//!   heap back whenever more than twice that is free. A network run allocates and drops tensors
//!   of a few MB per layer (YuNet at 640x480: ~1–5 MB each), so every frame paid the kernel
//!   for fresh zeroed pages again: `rolemirror bench` saw 2.8 million page faults, and the
//!   full-frame detection took ~1.8x its nodes' own time. [`configure`] fixes the mmap
//!   threshold at [`MMAP_THRESHOLD`] and the trim threshold at [`TRIM_THRESHOLD`], so the
//!   tensors are carved from heap pages that stay mapped between frames — what ONNX Runtime's
//!   arena does. The resident size is then the pipeline's peak, which it reached every frame
//!   anyway; [`release_free`] still returns it all after the phases above.
//!
//! Explicit `MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`, `MALLOC_TRIM_THRESHOLD_` or
//! `GLIBC_TUNABLES` in the environment win. All of this does nothing where the C library is
//! not glibc.

/// Arenas glibc may use: two, so the vision worker and the display seldom wait on one lock,
/// while the start-up, USB and event-loop threads share them.
pub const ARENAS: i32 = 2;

/// Blocks at least this large are mapped on their own (and unmapped when freed): glibc's
/// largest allowed value on 64-bit (32 MiB; a 640x480 frame's largest tensor is ~5 MB, a
/// 12 MP photo decoded ~36 MB). On 32-bit (armv7) glibc allows at most 512 KiB, which is also
/// where its own adjustment stops: there the tensors stay mapped per allocation.
pub const MMAP_THRESHOLD: usize = if cfg!(target_pointer_width = "64") { 32 << 20 } else { 512 << 10 };

/// Free memory kept at the top of a heap before glibc gives it back on its own: more than the
/// networks' working set at the largest detector input (~40 MB at 640x640).
pub const TRIM_THRESHOLD: usize = 64 << 20;

/// Sets the allocator up for the booth (see the module text). Call before starting threads.
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let set = |var: &str| std::env::var_os(var).is_some() || std::env::var_os("GLIBC_TUNABLES").is_some();
        // SAFETY: mallopt only sets allocator parameters, before any other thread exists; each
        // value is within the range glibc accepts on this word size.
        unsafe {
            if !set("MALLOC_ARENA_MAX") {
                libc::mallopt(libc::M_ARENA_MAX, ARENAS);
            }
            if !set("MALLOC_MMAP_THRESHOLD_") && !set("MALLOC_TRIM_THRESHOLD_") {
                // Setting either one also turns off glibc's own adjustment of both.
                libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
                libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int);
            }
        }
    }
}

/// Returns the heap's free memory to the kernel (glibc's `malloc_trim`, every arena).
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases memory malloc holds free; no pointer is invalidated.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Bytes the program holds allocated right now (glibc's `mallinfo2`: in use in the arenas plus
/// the blocks mapped on their own), free memory kept by the allocator not counted; `None` where
/// the C library is not glibc. Unlike the resident size, which moves by up to
/// [`TRIM_THRESHOLD`] per arena with what the allocator keeps, this is what a leak makes grow.
pub fn in_use() -> Option<usize> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's statistics (it takes each arena's lock).
        let info = unsafe { libc::mallinfo2() };
        Some(info.uordblks + info.hblkhd)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

/// The log target of [`log_in_use`]'s lines.
pub const LOG_TARGET: &str = "rolemirror::memory";

/// Logs the heap in use after `what` at trace level on [`LOG_TARGET`] (the soak reads these
/// lines: `RUST_LOG=warn,rolemirror::memory=trace`); costs nothing when that level is off.
pub fn log_in_use(what: std::fmt::Arguments) {
    if log::log_enabled!(target: LOG_TARGET, log::Level::Trace) {
        if let Some(bytes) = in_use() {
            log::trace!(target: LOG_TARGET, "heap in use after {what}: {} kB", bytes / 1024);
        }
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Minor page faults of the calling thread so far.
    fn faults() -> i64 {
        // SAFETY: getrusage writes one rusage through a valid pointer.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) }, 0);
        u.ru_minflt
    }

    /// A network run's pattern: several tensors of a few MB alive at once, all dropped, again
    /// and again. With glibc's defaults each round's blocks came back from the kernel as fresh
    /// pages (the heap top was trimmed past twice the largest block); configured, the second
    /// round on reuses mapped pages.
    #[test]
    fn tensors_of_a_few_mb_reuse_their_pages_round_after_round() {
        configure();
        // A thread of its own, as the vision worker (its own arena).
        let per_round = std::thread::spawn(|| {
            let round = || {
                let blocks: Vec<Vec<u8>> = (0..4).map(|i| vec![i as u8 + 1; 4 << 20]).collect();
                std::hint::black_box(&blocks);
            };
            round();
            let before = faults();
            for _ in 0..10 {
                round();
            }
            (faults() - before) / 10
        })
        .join()
        .unwrap();
        // 16 MB of fresh pages would be ~4,096 faults a round.
        assert!(per_round < 200, "{per_round} page faults per round");
    }

    /// 64 MB held shows in the heap in use, and goes when dropped. Other tests allocate in the
    /// same process meanwhile, so one of three tries must see it within 8 MB.
    #[test]
    fn the_heap_in_use_counts_what_is_held_not_what_was_freed() {
        let seen = (0..3).any(|_| {
            let before = in_use().unwrap() as i64;
            let held = vec![1u8; 64 << 20];
            let holding = in_use().unwrap() as i64;
            drop(std::hint::black_box(held));
            let after = in_use().unwrap() as i64;
            ((holding - before) - (64 << 20)).abs() < 8 << 20 && (after - before).abs() < 8 << 20
        });
        assert!(seen);
    }
}
