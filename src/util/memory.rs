//! The process's heap: glibc's malloc keeps one arena per thread that allocates (up to 8 per
//! core), each holding on to freed memory. The daemon's threads (event loop, start-up loader,
//! vision worker, display, USB) each left tens of MB resident that way. [`limit_arenas`] caps
//! the arenas before any thread starts; [`release_free`] hands freed memory back to the kernel
//! after a phase that allocated and dropped a lot (start-up: model optimisation, gallery
//! indexing; a reload). Both do nothing where the C library is not glibc.

/// Arenas glibc may use: two, so the vision worker and the display seldom wait on one lock,
/// while the start-up, USB and event-loop threads share them.
pub const ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at [`ARENAS`] (what `MALLOC_ARENA_MAX=2` does); an explicit
/// `MALLOC_ARENA_MAX` in the environment wins. Call before starting threads.
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; M_ARENA_MAX takes any positive value.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
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
