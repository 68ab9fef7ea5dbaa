//! The allocator setting of src/allocator.rs, in a process of its own and on its main thread
//! (the setting is process-wide and governs the main thread's heap; libtest would run the check
//! on a thread of its own, whose glibc arena maps blocks over 64 MiB regardless).

use relu_symmetries::allocator::{HeapPolicy, keep_freed_memory};

/// A block far above glibc's largest mmap threshold (32 MiB) is neither mapped while alive nor
/// given back to the system once freed; without the setting glibc maps and unmaps it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn a_freed_large_block_stays_in_the_heap() {
    const SIZE: usize = 96 << 20;
    let user_tuned = ["MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES"].iter().any(|v| std::env::var(v).is_ok())
        || std::env::var("RELUSYM_MALLOC").is_ok_and(|v| v == "glibc");
    if user_tuned {
        assert_eq!(keep_freed_memory(), HeapPolicy::GlibcDefault);
        println!("the environment sets glibc's malloc tunables or RELUSYM_MALLOC=glibc: nothing more to check");
        return;
    }
    assert_eq!(keep_freed_memory(), HeapPolicy::KeepFreed);
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let info = || unsafe { libc::mallinfo2() };
    let mapped_before = info().hblkhd;
    let block = vec![1u8; SIZE];
    let mapped_during = info().hblkhd;
    assert_eq!(std::hint::black_box(&block)[SIZE - 1], 1);
    drop(block);
    let free_after = info().fordblks;
    assert!(mapped_during < mapped_before + SIZE, "the block was mmapped ({mapped_before} → {mapped_during} bytes mapped)");
    assert!(free_after >= SIZE, "the freed block went back to the system ({free_after} bytes free in the heap)");
    println!("test a_freed_large_block_stays_in_the_heap ... ok");
}

fn main() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    a_freed_large_block_stays_in_the_heap();
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    println!("not a glibc target: the allocator is left alone, nothing to check");
}
