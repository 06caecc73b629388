// The caching allocator shared by every device, the host one of the CPU and of the emulated
// device (64-byte aligned blocks), and the way to the CUDA one (core/cuda/runtime.h).
#include "core/allocator.h"

#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/check.h"
#ifdef LDM_HAVE_CUDA
#include "core/cuda/runtime.h"
#endif

namespace ldm {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

size_t size_class(size_t bytes) {
  if (bytes <= Allocator::kAlignment) return Allocator::kAlignment;
  if (bytes <= kMiB) return std::bit_ceil(bytes);
  return (bytes + kMiB - 1) / kMiB * kMiB;
}

// Host memory, for the CPU and for the emulated device.
class HostCachingAllocator final : public CachingAllocator {
 public:
  ~HostCachingAllocator() override { release_cached(); }

 private:
  void* allocate_block(size_t bytes) override { return std::aligned_alloc(kAlignment, bytes); }
  void free_block(void* block) override { std::free(block); }
  void out_of_memory(size_t, int64_t) override { throw std::bad_alloc(); }
};

}  // namespace

void* CachingAllocator::allocate(size_t bytes) {
  const size_t rounded = size_class(bytes);
  std::lock_guard lock(mutex_);
  ++stats_.allocations;
  auto& list = free_lists_[rounded];
  void* block = nullptr;
  if (!list.empty()) {
    block = list.back();
    list.pop_back();
    ++stats_.cache_hits;
    stats_.bytes_cached -= static_cast<int64_t>(rounded);
  } else {
    block = allocate_block(rounded);
    if (block == nullptr) {
      release_cached_locked();
      block = allocate_block(rounded);
    }
    if (block == nullptr) out_of_memory(rounded, stats_.bytes_in_use);
  }
  stats_.bytes_in_use += static_cast<int64_t>(rounded);
  if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  return block;
}

void CachingAllocator::deallocate(void* block, size_t bytes) {
  if (block == nullptr) return;
  const size_t rounded = size_class(bytes);
  std::lock_guard lock(mutex_);
  stats_.bytes_in_use -= static_cast<int64_t>(rounded);
  stats_.bytes_cached += static_cast<int64_t>(rounded);
  LDM_CHECK(stats_.bytes_in_use >= 0, "deallocate of a block this allocator never handed out");
  free_lists_[rounded].push_back(block);
}

AllocatorStats CachingAllocator::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void CachingAllocator::release_cached() {
  std::lock_guard lock(mutex_);
  release_cached_locked();
}

void CachingAllocator::release_cached_locked() {
  before_release();
  for (auto& [rounded, list] : free_lists_)
    for (void* block : list) free_block(block);
  free_lists_.clear();
  stats_.bytes_cached = 0;
}

Allocator& allocator_for(Device device) {
  // Leaked on purpose: tensors in static storage may be freed after any destructor would run.
  switch (device.kind) {
    case DeviceKind::kCpu: {
      static auto* cpu = new HostCachingAllocator();
      return *cpu;
    }
    case DeviceKind::kEmu: {
      // The emulated GPU's memory is host memory, counted apart from the CPU's.
      static auto* emu = new HostCachingAllocator();
      return *emu;
    }
    case DeviceKind::kCuda:
#ifdef LDM_HAVE_CUDA
      return cuda_runtime::allocator(device.index);
#else
      break;
#endif
  }
  fail("device ", device.name(), ": ", device_unavailable_reason(device));
}

}  // namespace ldm
