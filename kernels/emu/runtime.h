// The SIMT emulator's runtime: runs a CUDA grid on the calling CPU thread, one fiber
// (Boost.Context) per CUDA thread. A block's fibers run until each reaches a barrier or a warp
// collective, or exits; one scheduler then checks that the rendezvous is legal (every live
// thread at the same __syncthreads, every lane a collective names at that collective with the
// same mask), completes it and resumes the fibers, in a chosen order. Blocks run one after
// another, in a chosen order. Anything a real GPU would leave undefined or hang on is reported
// as a KernelError naming the block, the thread and the call site.
//
// Kernel code does not call this header directly: it includes kernels/emu/cuda_emu.h, which
// maps the CUDA dialect (threadIdx, __syncthreads, __shfl_sync, ...) onto it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <source_location>
#include <stdexcept>
#include <string>

namespace ldm::emu {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
  constexpr Dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
  constexpr uint64_t count() const { return uint64_t{x} * y * z; }
};

inline constexpr int kWarpSize = 32;
inline constexpr unsigned kFullMask = 0xffffffffu;

// The order in which a block's runnable threads are resumed after each rendezvous. A missing
// barrier can give the right result in one order and the wrong one in another.
enum class ThreadOrder { kForward, kReverse, kShuffled };
const char* to_string(ThreadOrder order);

struct LaunchOptions {
  ThreadOrder order = ThreadOrder::kForward;
  bool permute_blocks = false;          // run the blocks in a seeded random order
  uint64_t seed = 0;                    // for kShuffled and permute_blocks
  std::size_t stack_bytes = 64 * 1024;  // per fiber
};

// The options every launch on this OS thread uses until changed (tests set them per order).
void set_launch_options(const LaunchOptions& options);

// A kernel did something undefined on a GPU: a divergent barrier, a collective whose lanes
// disagree, a shuffle from outside its mask, a write past dynamic shared memory.
class KernelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A launch the hardware would refuse: an empty grid, more than 1024 threads a block, ...
class LaunchError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Runs body once on every thread of the grid; body reads its indices through this_thread().
// Throws LaunchError before running anything, KernelError when a block goes wrong (the rest of
// the grid is not run).
void run_grid(Dim3 grid, Dim3 block, std::size_t dynamic_shared_bytes,
              const std::function<void()>& body);

// What the current CUDA thread sees.
struct ThreadContext {
  Dim3 thread_idx, block_idx, block_dim, grid_dim;
  int linear = 0;  // x + y * block_dim.x + z * block_dim.x * block_dim.y
  int lane() const { return linear % kWarpSize; }
  int warp() const { return linear / kWarpSize; }
};
const ThreadContext& this_thread();  // throws KernelError outside a kernel

// __syncthreads.
void sync_threads(std::source_location site = std::source_location::current());

// __syncwarp(mask).
void sync_warp(unsigned mask, std::source_location site = std::source_location::current());

// The one warp collective the others are built on: every lane in mask passes a 64-bit value
// and gets back all 32 (lanes outside the mask read as 0), once every lane in mask has arrived
// at a collective of the same kind and mask. kind names the intrinsic in error messages.
struct WarpValues {
  uint64_t lane[kWarpSize];
};
WarpValues warp_exchange(const char* kind, unsigned mask, uint64_t value,
                         std::source_location site = std::source_location::current());

// A shuffle's source lane, checked: it must be in mask (CUDA leaves the value undefined).
void check_shuffle_source(const char* kind, unsigned mask, int source_lane,
                          std::source_location site);

// The lanes of this thread's warp that have not exited (the emulator's __activemask()).
unsigned active_mask();

// This block's dynamic shared memory, filled with 0xff bytes (NaN as float) at block start and
// guarded: a write past either end is reported when the block ends.
void* dynamic_shared_memory();

// Statistics of the last run_grid on this OS thread, for tests.
struct GridStats {
  uint64_t blocks = 0, threads = 0, barriers = 0, warp_collectives = 0;
};
const GridStats& last_grid_stats();

}  // namespace ldm::emu
