// Per-thread scratch buffers for the CPU kernels that reuse large temporaries call after call
// (conv's im2col matrices, Winograd's transformed tiles).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace ldm::kernels::cpu {

// Cache-line aligned, so that copies in and out of gemms start on whole vectors.
template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  explicit AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{64}));
  }
  void deallocate(T* p, std::size_t) { ::operator delete (p, std::align_val_t{64}); }
  friend bool operator==(const AlignedAllocator&, const AlignedAllocator&) { return true; }
};

// At least n elements of the calling thread's buffer for kSlot (an enumerator of the caller's
// own slot enum: each distinct value is a distinct buffer). Buffers only grow; the old contents
// are dropped before growing, so that peak memory is one buffer, not two. The pointer stays
// valid until the same thread asks for the same slot again, and may be handed to other threads
// in between.
template <typename T, auto kSlot>
T* scratch(int64_t n) {
  thread_local std::vector<T, AlignedAllocator<T>> buf;
  if (static_cast<int64_t>(buf.size()) < n) {
    buf.clear();
    buf.shrink_to_fit();
    buf.resize(static_cast<std::size_t>(n));
  }
  return buf.data();
}

}  // namespace ldm::kernels::cpu
