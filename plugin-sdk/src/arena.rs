//! The guest allocator: a bump arena. A plugin instance maps exactly one event and is then thrown away,
//! so freeing small blocks is wasted work; the arena hands out memory from 64 KiB chunks (taken from the
//! system allocator) and never frees them. Large blocks go to the system allocator as usual. Fewer
//! allocator bookkeeping writes also means fewer dirty pages for the host to reset after the event.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;

/// Size of the chunks the arena carves blocks from.
const CHUNK: usize = 64 * 1024;
/// Blocks larger than this go to the system allocator (and are freed).
const LARGE: usize = CHUNK / 4;

pub struct Arena {
    /// The next free byte and the end of the current chunk (0, 0 before the first chunk).
    cursor: UnsafeCell<(usize, usize)>,
}

// SAFETY: wasm32 plugin instances are single-threaded.
unsafe impl Sync for Arena {}

impl Arena {
    pub const fn new() -> Arena {
        Arena { cursor: UnsafeCell::new((0, 0)) }
    }
}

impl Default for Arena {
    fn default() -> Arena {
        Arena::new()
    }
}

unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > LARGE {
            return unsafe { System.alloc(layout) };
        }
        let (next, end) = unsafe { &mut *self.cursor.get() };
        let mut start = next.next_multiple_of(layout.align());
        if *end == 0 || start + layout.size() > *end {
            let chunk = unsafe { System.alloc(Layout::from_size_align_unchecked(CHUNK, 16)) };
            if chunk.is_null() {
                return chunk;
            }
            (*next, *end) = (chunk as usize, chunk as usize + CHUNK);
            start = next.next_multiple_of(layout.align());
        }
        *next = start + layout.size();
        start as *mut u8
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() > LARGE {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (next, end) = unsafe { &mut *self.cursor.get() };
        // The last block handed out grows (or shrinks) in place while it fits in its chunk.
        if layout.size() <= LARGE
            && new_size <= LARGE
            && ptr as usize + layout.size() == *next
            && ptr as usize + new_size <= *end
        {
            *next = ptr as usize + new_size;
            return ptr;
        }
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_distinct_and_grow_in_place() {
        let arena = Arena::new();
        unsafe {
            let a = arena.alloc(Layout::from_size_align(3, 1).unwrap());
            let b = arena.alloc(Layout::from_size_align(8, 8).unwrap());
            assert_eq!(b as usize % 8, 0);
            assert!(b as usize >= a as usize + 3);
            b.write_bytes(7, 8);
            // The last block grows in place and keeps its bytes.
            let grown = arena.realloc(b, Layout::from_size_align(8, 8).unwrap(), 100);
            assert_eq!(grown, b);
            assert_eq!(*grown.add(7), 7);
            // An earlier block moves when it grows, with its bytes.
            a.write_bytes(1, 3);
            let moved = arena.realloc(a, Layout::from_size_align(3, 1).unwrap(), 50);
            assert_ne!(moved, a);
            assert_eq!(std::slice::from_raw_parts(moved, 3), &[1, 1, 1]);
        }
    }

    #[test]
    fn a_full_chunk_starts_a_new_one_and_large_blocks_go_to_the_system() {
        let arena = Arena::new();
        unsafe {
            let layout = Layout::from_size_align(LARGE, 16).unwrap();
            let blocks: Vec<*mut u8> = (0..9).map(|_| arena.alloc(layout)).collect();
            assert!(blocks.iter().all(|b| !b.is_null()));
            for (i, block) in blocks.iter().enumerate() {
                block.write_bytes(i as u8, LARGE);
            }
            for (i, block) in blocks.iter().enumerate() {
                assert_eq!(*block.add(LARGE - 1), i as u8, "block {i} was overwritten");
            }
            let large = Layout::from_size_align(LARGE + 1, 8).unwrap();
            let big = arena.alloc(large);
            big.write_bytes(9, LARGE + 1);
            arena.dealloc(big, large);
        }
    }
}
