// The caching allocators of the CPU and of the emulated device (both host memory), and the way to
// the CUDA one (core/cuda/runtime.h). Host blocks are 64-byte aligned, in size classes (powers
// of two up to 1 MiB, then whole MiB), so that a freed block fits the next request of a similar
// size.
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

class CpuCachingAllocator final : public Allocator {
 public:
  ~CpuCachingAllocator() override { release_cached(); }

  void* allocate(size_t bytes) override {
    const size_t rounded = size_class(bytes);
    std::lock_guard lock(mutex_);
    ++stats_.allocations;
    stats_.bytes_in_use += static_cast<int64_t>(rounded);
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use)
      stats_.peak_bytes_in_use = stats_.bytes_in_use;
    auto& list = free_lists_[rounded];
    if (!list.empty()) {
      void* block = list.back();
      list.pop_back();
      ++stats_.cache_hits;
      stats_.bytes_cached -= static_cast<int64_t>(rounded);
      return block;
    }
    void* block = std::aligned_alloc(kAlignment, rounded);
    if (block == nullptr) throw std::bad_alloc();
    return block;
  }

  void deallocate(void* block, size_t bytes) override {
    if (block == nullptr) return;
    const size_t rounded = size_class(bytes);
    std::lock_guard lock(mutex_);
    stats_.bytes_in_use -= static_cast<int64_t>(rounded);
    stats_.bytes_cached += static_cast<int64_t>(rounded);
    LDM_CHECK(stats_.bytes_in_use >= 0, "deallocate of a block this allocator never handed out");
    free_lists_[rounded].push_back(block);
  }

  AllocatorStats stats() const override {
    std::lock_guard lock(mutex_);
    return stats_;
  }

  void release_cached() override {
    std::lock_guard lock(mutex_);
    for (auto& [rounded, list] : free_lists_)
      for (void* block : list) std::free(block);
    free_lists_.clear();
    stats_.bytes_cached = 0;
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<size_t, std::vector<void*>> free_lists_;
  AllocatorStats stats_;
};

}  // namespace

Allocator& allocator_for(Device device) {
  // Leaked on purpose: tensors in static storage may be freed after any destructor would run.
  switch (device.kind) {
    case DeviceKind::kCpu: {
      static auto* cpu = new CpuCachingAllocator();
      return *cpu;
    }
    case DeviceKind::kEmu: {
      // The emulated GPU's memory is host memory, counted apart from the CPU's.
      static auto* emu = new CpuCachingAllocator();
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
