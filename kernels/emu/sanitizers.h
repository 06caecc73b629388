// The emulator's hooks for ASan and TSan (no-ops in other builds). Both must be told about
// every fiber switch, or they misread the stacks (ASan) or the threads (TSan).
//
// TSan: every CUDA thread is its own TSan fiber. Switches never synchronize, except from the
// scheduler into a fiber: the scheduler never acquires from a fiber, so that edge only orders
// the host's work before the launch (like a copy before a kernel) before the kernel's threads.
// __syncthreads and warp collectives release at arrival and acquire at departure, and a finished
// thread releases to the end of its block, where the host acquires. Two threads of a block
// touching the same shared or global word with no barrier between are then a reported race, in
// any thread order. (Threads of different blocks are ordered by the host between the blocks,
// which run one after another in the same shared storage: races between blocks are not seen.)
// runtime.cpp itself is built without TSan's instrumentation (CMake defines LDM_EMU_TSAN for it
// instead), so that the scheduler's bookkeeping, which every fiber reads and writes, is invisible
// to TSan: making it synchronize would order every fiber after every other.
#pragma once

#include <cstddef>

#if defined(LDM_EMU_TSAN)
#include <sanitizer/tsan_interface.h>
#endif
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

namespace ldm::emu::san {

#if defined(LDM_EMU_TSAN)
inline void* current_fiber() {
  return __tsan_get_current_fiber();
}
inline void* create_fiber() {
  return __tsan_create_fiber(0);
}
inline void switch_fiber(void* fiber, bool synchronize) {
  __tsan_switch_to_fiber(fiber, synchronize ? 0 : __tsan_switch_to_fiber_no_sync);
}
inline void release(void* address) {
  __tsan_release(address);
}
inline void acquire(void* address) {
  __tsan_acquire(address);
}
#else
inline void* current_fiber() {
  return nullptr;
}
inline void* create_fiber() {
  return nullptr;
}
inline void switch_fiber(void*, bool) {}
inline void release(void*) {}
inline void acquire(void*) {}
#endif

// ASan: a switch to another stack starts with start_switch (the target's bounds; a null
// fake_stack_save when the current fiber's stack is about to go away) and ends, on the target,
// with finish_switch, which hands back the bounds of the stack it came from.
#if defined(__SANITIZE_ADDRESS__)
inline void start_switch(void** fake_stack_save, const void* bottom, std::size_t size) {
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
}
inline void finish_switch(void* fake_stack, const void** old_bottom, std::size_t* old_size) {
  __sanitizer_finish_switch_fiber(fake_stack, old_bottom, old_size);
}
#else
inline void start_switch(void**, const void*, std::size_t) {}
inline void finish_switch(void*, const void**, std::size_t*) {}
#endif

}  // namespace ldm::emu::san
