//! Fixed glibc malloc thresholds for the whole process, set once at start-up by the binary.
//!
//! glibc moves its mmap and trim thresholds as blocks come and go. SAC's 256 KB tensors sat on
//! that boundary: every update mapped fresh memory, faulted it in page by page and gave it back
//! (`bench learning`: 276,801 page faults and 176 updates/s, against 6,512 and 276 with fixed
//! thresholds). Which way a run went depended on what the process had allocated before.

/// Blocks up to this size come from the heap, never from their own mapping.
pub const MMAP_THRESHOLD: usize = 32 << 20;
/// Free memory at the top of the heap is returned to the system only above this size.
pub const TRIM_THRESHOLD: usize = 256 << 20;

/// Fixes the thresholds (a no-op off glibc). Returns whether both settings were accepted.
pub fn fix_malloc_thresholds() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
