//! Keeping freed tensor memory in the process (glibc's `malloc` options).
//!
//! Every forward and backward pass allocates and frees tensors of tens to hundreds of MiB (a
//! width-1 VGG11's first feature map at batch 500 is 500 × 64 × 32 × 32 × 4 B = 131 MiB). glibc
//! serves any block above its mmap threshold (at most 32 MiB) with a fresh `mmap` and returns it
//! with `munmap` on free, so the next pass pays a page fault and the zeroing of every 4 KiB page
//! again. Profiling the flip-self merge on LibTorch found about 11 % of its samples in the
//! kernel, most of them page faults and page zeroing (`results/cpu/merge-profile.txt`).
//!
//! [`keep_freed_memory`] turns that off for the whole process (burn's flex tensors, which live
//! in Rust's global allocator, and LibTorch's, which use `posix_memalign`, both end in glibc):
//!
//! * `M_MMAP_MAX = 0`: no block is served by `mmap`; every block comes from the heap;
//! * `M_TRIM_THRESHOLD =` [`TRIM_THRESHOLD`]: freed memory at the top of the heap is returned to
//!   the system only once more than that lies free there.
//!
//! This governs the main thread's heap, where the passes allocate their tensors. glibc gives
//! every other thread an arena of at most 64 MiB and still maps a larger block requested there.
//!
//! The price is a higher peak resident size, since freed blocks stay resident and the heap can
//! fragment; the Speed chapter reports both. The setting is left alone when the environment
//! already sets glibc's own tunables (`MALLOC_MMAP_MAX_`, `MALLOC_TRIM_THRESHOLD_`,
//! `MALLOC_MMAP_THRESHOLD_`, `GLIBC_TUNABLES`), or when `RELUSYM_MALLOC=glibc` asks for glibc's
//! defaults (to measure the difference with one binary).

use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// Free bytes at the top of the heap above which glibc gives memory back: 2 GiB.
pub const TRIM_THRESHOLD: i32 = i32::MAX;

/// What [`keep_freed_memory`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HeapPolicy {
    /// Every block from the heap, freed memory kept up to [`TRIM_THRESHOLD`].
    KeepFreed,
    /// glibc's defaults (or the environment's own tunables) stand. The default: also what
    /// results written before this setting existed ran with.
    #[default]
    GlibcDefault,
    /// Not a glibc target: the platform's allocator is untouched.
    Untouched,
}

impl HeapPolicy {
    /// One line for reports, e.g. in `relusym bench --json`.
    pub fn describe(self) -> &'static str {
        match self {
            HeapPolicy::KeepFreed => "glibc malloc, freed memory kept (M_MMAP_MAX=0, M_TRIM_THRESHOLD=2 GiB)",
            HeapPolicy::GlibcDefault => "glibc malloc, defaults or the environment's tunables",
            HeapPolicy::Untouched => "the platform's allocator, untouched",
        }
    }

    /// A few words for tables, e.g. the Speed chapter's paired-run headers.
    pub fn short(self) -> &'static str {
        match self {
            HeapPolicy::KeepFreed => "freed memory kept, `M_MMAP_MAX=0`",
            HeapPolicy::GlibcDefault => "glibc's defaults",
            HeapPolicy::Untouched => "the platform's allocator",
        }
    }
}

/// The environment variables that leave glibc's behaviour to the user.
const GLIBC_TUNABLES: [&str; 4] = ["MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES"];

/// What the environment asks for: glibc's defaults when `RELUSYM_MALLOC=glibc` or one of glibc's
/// own tunables is set, else kept memory.
fn requested(var: impl Fn(&str) -> Option<String>) -> HeapPolicy {
    let user_tuned = GLIBC_TUNABLES.iter().any(|v| var(v).is_some());
    if user_tuned || var("RELUSYM_MALLOC").is_some_and(|v| v == "glibc") { HeapPolicy::GlibcDefault } else { HeapPolicy::KeepFreed }
}

static APPLIED: OnceLock<HeapPolicy> = OnceLock::new();

/// Keep freed memory in the process (see the module docs) unless the environment says
/// otherwise. Call it first thing in `main`, before large allocations; it affects the whole
/// process and every thread. Later calls return the first call's outcome.
pub fn keep_freed_memory() -> HeapPolicy {
    *APPLIED.get_or_init(|| apply(requested(|v| std::env::var(v).ok())))
}

/// The process's policy: what [`keep_freed_memory`] did, or glibc's defaults if it was not
/// called (as in the notebooks and the tests).
pub fn policy() -> HeapPolicy {
    APPLIED.get().copied().unwrap_or(if cfg!(all(target_os = "linux", target_env = "gnu")) { HeapPolicy::GlibcDefault } else { HeapPolicy::Untouched })
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply(policy: HeapPolicy) -> HeapPolicy {
    if policy == HeapPolicy::KeepFreed {
        // SAFETY: mallopt only sets allocator parameters; both options and values are valid
        // for glibc, which serialises the change against concurrent allocation.
        let ok = unsafe { libc::mallopt(libc::M_MMAP_MAX, 0) == 1 && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 };
        if !ok {
            return HeapPolicy::GlibcDefault;
        }
    }
    policy
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply(_policy: HeapPolicy) -> HeapPolicy {
    HeapPolicy::Untouched
}

#[cfg(test)]
mod tests {
    use super::*;

    // That a block stays in the heap is checked in tests/allocator.rs, a process of its own.

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn memory_is_kept_unless_the_environment_sets_glibc_tunables_or_asks_for_glibc() {
        assert_eq!(requested(env(&[])), HeapPolicy::KeepFreed);
        assert_eq!(requested(env(&[("RELUSYM_MALLOC", "keep")])), HeapPolicy::KeepFreed);
        assert_eq!(requested(env(&[("RELUSYM_MALLOC", "glibc")])), HeapPolicy::GlibcDefault);
        for v in GLIBC_TUNABLES {
            assert_eq!(requested(env(&[(v, "0")])), HeapPolicy::GlibcDefault, "{v}");
        }
    }
}
