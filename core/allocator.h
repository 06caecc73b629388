// Caching allocators, one per device. Training allocates the same shapes every step, so freed
// blocks are kept in per-size free lists and handed out again instead of going back to the OS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

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

// The caching part every device shares: blocks in size classes (powers of two up to 1 MiB, then
// whole MiB, so that a freed block fits the next request of a similar size) kept in per-class
// free lists, and the statistics. A device supplies the raw memory.
class CachingAllocator : public Allocator {
 public:
  void* allocate(size_t bytes) final;
  void deallocate(void* block, size_t bytes) final;
  AllocatorStats stats() const final;
  void release_cached() final;

 protected:
  // A new block of `bytes` (a size class), or nullptr when the device is out of memory: the
  // cache is then given back and the request retried once before out_of_memory().
  virtual void* allocate_block(size_t bytes) = 0;
  virtual void free_block(void* block) = 0;
  // Called (and may wait for the device) before cached blocks are freed.
  virtual void before_release() {}
  [[noreturn]] virtual void out_of_memory(size_t bytes, int64_t bytes_in_use) = 0;

 private:
  void release_cached_locked();

  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_lists_;
  AllocatorStats stats_;
};

Allocator& allocator_for(Device device);

}  // namespace ldm
