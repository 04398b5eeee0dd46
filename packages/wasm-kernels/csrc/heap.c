// Bump allocator over the module's linear memory. Weights are laid out once at load and never freed;
// load-time scratch is released with lm_heap_reset. Single-threaded: only the loading thread allocates.

#include "lm.h"

extern unsigned char __heap_base;
static uint32_t heap_top;

// Dry runs count what a sequence of allocations would take without growing memory, so that a model
// that cannot fit is refused before gigabytes are committed (memory never shrinks).
static int dry;
static uint64_t dry_top;

void heap_dry_begin(void) {
  if (heap_top == 0) heap_top = (uint32_t)(uintptr_t)&__heap_base;
  dry = 1;
  dry_top = heap_top;
}

uint64_t heap_dry_end(void) {
  dry = 0;
  return dry_top;
}

void *heap_alloc(uint64_t bytes) {
  if (heap_top == 0) heap_top = (uint32_t)(uintptr_t)&__heap_base;
  if (dry) {
    dry_top = ((dry_top + 63) & ~(uint64_t)63) + bytes;
    return dry_top > 0xFFFF0000ull ? 0 : (void *)(uintptr_t)64; // a non-zero stand-in, never written through
  }
  uint64_t start = ((uint64_t)heap_top + 63) & ~(uint64_t)63;
  if (bytes > 0xFFFF0000ull) return 0; // wasm32 addresses stop at 4 GiB
  uint64_t end = start + bytes;
  if (end > 0xFFFF0000ull) return 0;
  uint64_t have = (uint64_t)__builtin_wasm_memory_size(0) << 16;
  if (end > have) {
    uint64_t pages = (end - have + 65535) >> 16;
    if (__builtin_wasm_memory_grow(0, (size_t)pages) == (size_t)-1) return 0;
  }
  heap_top = (uint32_t)end;
  return (void *)(uintptr_t)start;
}

EXPORT(lm_alloc) void *lm_alloc(uint32_t bytes) { return heap_alloc(bytes); }

uint32_t lm_heap_mark_internal(void) {
  if (heap_top == 0) heap_top = (uint32_t)(uintptr_t)&__heap_base;
  return heap_top;
}

void lm_heap_reset_internal(uint32_t mark) { heap_top = mark; }
EXPORT(lm_heap_mark) uint32_t lm_heap_mark(void) { return lm_heap_mark_internal(); }
EXPORT(lm_heap_reset) void lm_heap_reset(uint32_t mark) { lm_heap_reset_internal(mark); }
