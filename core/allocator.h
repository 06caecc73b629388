// Caching allocators, one per device. Training allocates the same shapes every step, so freed
// blocks are kept in per-size free lists and handed out again instead of going back to the OS.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/device.h"

namespace ldm {

struct AllocatorStats {
  int64_t bytes_in_use = 0;     // handed out and not yet returned
  int64_t bytes_cached = 0;     // returned and kept for reuse
  int64_t peak_bytes_in_use = 0;
  int64_t allocations = 0;      // calls to allocate
  int64_t cache_hits = 0;       // of those, served from the cache
};

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Returns a block of at least `bytes` bytes, aligned to kAlignment; never null.
  virtual void* allocate(size_t bytes) = 0;
  // Gives back a block from allocate() with the same `bytes`.
  virtual void deallocate(void* block, size_t bytes) = 0;
  virtual AllocatorStats stats() const = 0;
  // Frees every cached block back to the system.
  virtual void release_cached() = 0;

  static constexpr size_t kAlignment = 64;  // a cache line, and enough for AVX-512 loads
};

Allocator& allocator_for(Device device);

}  // namespace ldm
