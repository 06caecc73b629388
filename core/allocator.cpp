// The CPU caching allocator: 64-byte aligned blocks in size classes (powers of two up to 1 MiB,
// then whole MiB), so that a freed block fits the next request of a similar size.
#include "core/allocator.h"

#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "core/check.h"

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
  if (device.kind != DeviceKind::kCpu)
    fail("device ", device.name(), " is not available in this build (only cpu)");
  // Leaked on purpose: tensors in static storage may be freed after any destructor would run.
  static auto* cpu = new CpuCachingAllocator();
  return *cpu;
}

}  // namespace ldm
