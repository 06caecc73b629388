// The SIMT emulator's scheduler (see runtime.h). One Block at a time lives on an OS thread; its
// threads are fibers that yield back to run_block() at every barrier and warp collective.
#include "kernels/emu/runtime.h"

#include <algorithm>
#include <boost/context/fiber.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <cstring>
#include <exception>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <utility>
#include <vector>

#include "kernels/emu/sanitizers.h"

// The bounds of the section that holds every static __shared__ array (see cuda_emu.h), which
// the linker defines when some kernel has one; weak, so that a program without any links.
extern "C" {
extern unsigned char __start_ldm_emu_shared[] __attribute__((weak));
extern unsigned char __stop_ldm_emu_shared[] __attribute__((weak));
}

namespace ldm::emu {
namespace {

// Static shared memory starts every block as 0xff bytes, like dynamic shared memory.
void poison_static_shared() {
  unsigned char* const begin = __start_ldm_emu_shared;
  unsigned char* const end = __stop_ldm_emu_shared;
  if (begin && end > begin) {
    std::memset(begin, 0xff, static_cast<std::size_t>(end - begin));
  }
}

namespace bctx = boost::context;

enum class State { kRunnable, kAtBarrier, kAtWarp, kDone };

// Where a thread waits, for messages: "file.cu:12".
std::string where(const std::source_location& s) {
  std::string file = s.file_name();
  const auto slash = file.find_last_of('/');
  if (slash != std::string::npos) file = file.substr(slash + 1);
  return file + ":" + std::to_string(s.line());
}

bool same_site(const std::source_location& a, const std::source_location& b) {
  // The file names are usually the same literal, so compare pointers before characters.
  return a.line() == b.line() && a.column() == b.column() &&
         (a.file_name() == b.file_name() || std::strcmp(a.file_name(), b.file_name()) == 0);
}

std::string hex(unsigned mask) {
  std::ostringstream out;
  out << "0x" << std::hex << mask;
  return out.str();
}

// (Streams rather than chains of std::string +, on which GCC 12 raises a false -Wrestrict.)
std::string dims(const Dim3& d) {
  std::ostringstream out;
  out << '(' << d.x << ',' << d.y << ',' << d.z << ')';
  return out.str();
}

struct Thread {
  ThreadContext ctx;
  State state = State::kRunnable;
  bctx::fiber fiber;      // this thread, as the scheduler resumes it
  bctx::fiber scheduler;  // the scheduler, as this thread yields to it
  std::source_location site;
  // The warp collective this thread waits at.
  const char* kind = "";
  unsigned mask = 0;
  uint64_t value = 0;
  WarpValues result{};
  std::exception_ptr error;
  // For the sanitizers (see sanitizers.h).
  void* tsan_fiber = nullptr;
  void* asan_fake_stack = nullptr;
  const void* stack_bottom = nullptr;
  std::size_t stack_size = 0;
};

// Guard bytes around dynamic shared memory, checked when the block ends.
constexpr std::size_t kGuardBytes = 64;
constexpr unsigned char kGuardByte = 0xa5;

struct Block {
  std::vector<Thread> threads;
  Thread* current = nullptr;
  std::vector<unsigned char> shared;  // guard | dynamic shared memory | guard
  std::size_t shared_bytes = 0;
  Dim3 index;
  // Set when the block failed: every suspended thread is then resumed once to unwind.
  bool aborting = false;
  // TSan sync objects: one for the block's barriers, one per warp for its collectives.
  char barrier_sync = 0;
  std::vector<char> warp_sync;
  // The scheduler's side of the switches, for the sanitizers.
  void* tsan_scheduler = nullptr;
  void* asan_fake_stack = nullptr;
  const void* scheduler_bottom = nullptr;
  std::size_t scheduler_size = 0;

  std::string name() const { return "block " + dims(index); }  // for messages only
  std::string thread_name(const Thread& t) const {
    return name() + " thread " + dims(t.ctx.thread_idx);
  }
};

thread_local Block* t_block = nullptr;
thread_local LaunchOptions t_options;
thread_local GridStats t_stats;
// What each finished thread releases and the host acquires after its block (TSan only).
thread_local char t_block_end_sync = 0;

// TSan fibers, kept for reuse by later blocks and launches on this OS thread: creating and
// destroying one costs TSan an allocation and clearing of its per-thread state, which was most
// of the TSan build's time. Reuse hides no race inside a block (its threads still get distinct
// fibers, and events of earlier blocks are older than anything a new block does). Empty outside
// TSan builds.
thread_local std::vector<void*> t_spare_tsan_fibers;

void* take_tsan_fiber() {
  if (t_spare_tsan_fibers.empty()) return san::create_fiber();
  void* fiber = t_spare_tsan_fibers.back();
  t_spare_tsan_fibers.pop_back();
  return fiber;
}

// Fiber stacks for every launch on this OS thread, so that each launch does not allocate them
// afresh (which also made ASan and TSan clear their shadow of every stack).
bctx::pooled_fixedsize_stack& stack_pool(std::size_t stack_bytes) {
  thread_local std::size_t pool_bytes = 0;
  thread_local std::optional<bctx::pooled_fixedsize_stack> pool;
  if (!pool || pool_bytes != stack_bytes) {
    pool.emplace(stack_bytes);
    pool_bytes = stack_bytes;
  }
  return *pool;
}

// Thrown inside a suspended thread's fiber to unwind it when its block has failed.
struct Abort {};

// Fiber stacks from the pool, with their bounds recorded for ASan.
class RecordingStack {
 public:
  RecordingStack(bctx::pooled_fixedsize_stack pool, Thread& t) : pool_(std::move(pool)), t_(&t) {}
  bctx::stack_context allocate() {
    bctx::stack_context sc = pool_.allocate();
    t_->stack_size = sc.size;
    t_->stack_bottom = static_cast<const char*>(sc.sp) - sc.size;
    return sc;
  }
  void deallocate(bctx::stack_context& sc) noexcept { pool_.deallocate(sc); }

 private:
  bctx::pooled_fixedsize_stack pool_;
  Thread* t_;
};

Thread& current_thread(const char* what) {
  if (!t_block || !t_block->current) {
    throw KernelError(std::string(what) + " called outside a kernel");
  }
  return *t_block->current;
}

// The thread's side of a switch back to the scheduler; dying: its stack goes away after it.
void leave_for_scheduler(Block& b, Thread& t, bool dying) {
  san::switch_fiber(b.tsan_scheduler, false);
  san::start_switch(dying ? nullptr : &t.asan_fake_stack, b.scheduler_bottom, b.scheduler_size);
}

// The thread's side of a switch from the scheduler.
void arrived(Block& b, Thread& t) {
  san::finish_switch(t.asan_fake_stack, &b.scheduler_bottom, &b.scheduler_size);
}

// Gives control back to the scheduler until it resumes this thread.
void yield(Block& b, Thread& t) {
  leave_for_scheduler(b, t, false);
  t.scheduler = std::move(t.scheduler).resume();
  arrived(b, t);
  if (b.aborting) throw Abort{};
}

class BlockRunner {
 public:
  BlockRunner(Dim3 grid, Dim3 block_dim, Dim3 block_idx, std::size_t shared_bytes,
              const std::function<void()>& body, bctx::pooled_fixedsize_stack& stacks,
              std::mt19937_64& rng)
      : rng_(rng) {
    block_.index = block_idx;
    block_.shared_bytes = shared_bytes;
    block_.shared.assign(shared_bytes + 2 * kGuardBytes, kGuardByte);
    std::fill_n(block_.shared.begin() + kGuardBytes, shared_bytes, 0xff);
    const int n = static_cast<int>(block_dim.count());
    block_.threads.resize(static_cast<std::size_t>(n));
    block_.warp_sync.resize(static_cast<std::size_t>((n + kWarpSize - 1) / kWarpSize));
    block_.tsan_scheduler = san::current_fiber();
    for (int i = 0; i < n; ++i) {
      Thread& t = block_.threads[static_cast<std::size_t>(i)];
      const unsigned u = static_cast<unsigned>(i);
      t.ctx.thread_idx = {u % block_dim.x, u / block_dim.x % block_dim.y,
                          u / (block_dim.x * block_dim.y)};
      t.ctx.block_idx = block_idx;
      t.ctx.block_dim = block_dim;
      t.ctx.grid_dim = grid;
      t.ctx.linear = i;
      t.tsan_fiber = take_tsan_fiber();
      Block* const b = &block_;
      t.fiber = bctx::fiber(std::allocator_arg, RecordingStack(stacks, t),
                            [&t, &body, b](bctx::fiber&& sched) {
                              arrived(*b, t);
                              t.scheduler = std::move(sched);
                              run_thread(*b, t, body);
                              leave_for_scheduler(*b, t, true);
                              return std::move(t.scheduler);
                            });
    }
  }

  ~BlockRunner() {
    for (Thread& t : block_.threads)
      if (t.tsan_fiber) t_spare_tsan_fibers.push_back(t.tsan_fiber);
  }

  BlockRunner(const BlockRunner&) = delete;
  BlockRunner& operator=(const BlockRunner&) = delete;

  void run() {
    poison_static_shared();
    Block* const outer = t_block;
    t_block = &block_;
    struct Restore {
      Block* outer;
      ~Restore() { t_block = outer; }
    } restore{outer};
    std::vector<int> order(block_.threads.size());
    std::iota(order.begin(), order.end(), 0);
    try {
      for (;;) {
        arrange(order);
        for (int i : order) {
          Thread& t = block_.threads[static_cast<std::size_t>(i)];
          if (t.state != State::kRunnable) continue;
          enter(t);
          if (t.error) std::rethrow_exception(t.error);
        }
        if (std::all_of(block_.threads.begin(), block_.threads.end(),
                        [](const Thread& t) { return t.state == State::kDone; })) {
          break;
        }
        if (complete_warp_collectives()) continue;
        release_barrier();
      }
    } catch (...) {
      abort_threads();
      throw;
    }
    check_guards();
  }

  void* shared() { return block_.shared.data() + kGuardBytes; }

 private:
  // A thread's whole life on its fiber: the kernel body, unless the block failed before it
  // started; an error is kept for the scheduler to rethrow.
  static void run_thread(Block& b, Thread& t, const std::function<void()>& body) {
    try {
      if (!b.aborting) body();
    } catch (const bctx::detail::forced_unwind&) {
      throw;  // Boost is destroying the fiber: let it unwind
    } catch (const Abort&) {
      // unwound because the block failed
    } catch (...) {
      t.error = std::current_exception();
    }
    t.state = State::kDone;
    san::release(&t_block_end_sync);
  }

  // Runs thread t until it yields or exits (the scheduler's side of the switch).
  void enter(Thread& t) {
    block_.current = &t;
    san::switch_fiber(t.tsan_fiber, true);
    san::start_switch(&block_.asan_fake_stack, t.stack_bottom, t.stack_size);
    t.fiber = std::move(t.fiber).resume();
    san::finish_switch(block_.asan_fake_stack, nullptr, nullptr);
    block_.current = nullptr;
  }

  // After an error: resumes every unfinished thread once, so that it unwinds its stack through
  // the same annotated switches (rather than Boost's unannotated forced unwinding).
  void abort_threads() noexcept {
    block_.aborting = true;
    for (Thread& t : block_.threads) {
      if (t.state != State::kDone && t.fiber) enter(t);
    }
  }

  void arrange(std::vector<int>& order) {
    switch (t_options.order) {
      case ThreadOrder::kForward:
        std::sort(order.begin(), order.end());
        break;
      case ThreadOrder::kReverse:
        std::sort(order.rbegin(), order.rend());
        break;
      case ThreadOrder::kShuffled:
        std::shuffle(order.begin(), order.end(), rng_);
        break;
    }
  }

  // Completes every warp collective whose lanes have all arrived; returns whether any did.
  // Called when no thread is runnable, so a lane that has not arrived never will.
  bool complete_warp_collectives() {
    bool any = false;
    const int n = static_cast<int>(block_.threads.size());
    for (int base = 0; base < n; base += kWarpSize) {
      const int lanes = std::min(kWarpSize, n - base);
      for (int l = 0; l < lanes; ++l) {
        Thread& t = block_.threads[static_cast<std::size_t>(base + l)];
        if (t.state != State::kAtWarp) continue;
        if (lanes < kWarpSize && (t.mask >> lanes) != 0) {
          throw KernelError(block_.thread_name(t) + ": " + t.kind + " at " + where(t.site) +
                            " with mask " + hex(t.mask) + " names lanes this warp of " +
                            std::to_string(lanes) + " threads does not have");
        }
        bool ready = true;
        for (int m = 0; m < lanes && ready; ++m) {
          if (t.mask >> m & 1u)
            ready = partner_ready(t, block_.threads[static_cast<std::size_t>(base + m)]);
        }
        if (!ready) continue;
        WarpValues values{};
        for (int m = 0; m < lanes; ++m) {
          if (t.mask >> m & 1u)
            values.lane[m] = block_.threads[static_cast<std::size_t>(base + m)].value;
        }
        for (int m = 0; m < lanes; ++m) {
          if (!(t.mask >> m & 1u)) continue;
          Thread& u = block_.threads[static_cast<std::size_t>(base + m)];
          u.result = values;
          u.state = State::kRunnable;
        }
        ++t_stats.warp_collectives;
        any = true;
      }
    }
    return any;
  }

  // u is a lane that t's collective names: it must wait at a collective of the same kind and
  // mask. A lane that an earlier collective of this pass released is not ready yet.
  bool partner_ready(const Thread& t, const Thread& u) const {
    // Formatted only on failure: this runs for every lane of every collective.
    const auto head = [&] {
      return block_.thread_name(t) + ": " + t.kind + " at " + where(t.site) + " with mask " +
             hex(t.mask) + ": lane " + std::to_string(u.ctx.lane()) + " ";
    };
    switch (u.state) {
      case State::kAtWarp:
        if (u.mask != t.mask || std::strcmp(u.kind, t.kind) != 0) {
          throw KernelError(head() + "waits at " + u.kind + " at " + where(u.site) + " with mask " +
                            hex(u.mask) + " (divergent warp collective)");
        }
        return true;
      case State::kDone:
        throw KernelError(head() + "has exited (divergent warp collective)");
      case State::kAtBarrier:
        throw KernelError(head() + "waits at __syncthreads at " + where(u.site) +
                          " (divergent warp collective)");
      case State::kRunnable:
        return false;
    }
    return false;
  }

  // Every live thread must wait at the same __syncthreads.
  void release_barrier() {
    const Thread* first = nullptr;
    int waiting = 0;
    for (const Thread& t : block_.threads) {
      if (t.state == State::kAtWarp) {
        throw KernelError(block_.thread_name(t) + ": " + t.kind + " at " + where(t.site) +
                          " can never complete (deadlock)");
      }
      if (t.state != State::kAtBarrier) continue;
      ++waiting;
      if (!first) {
        first = &t;
      } else if (!same_site(first->site, t.site)) {
        throw KernelError("divergent barrier in " + block_.name() + ": thread " +
                          dims(first->ctx.thread_idx) + " waits at __syncthreads at " +
                          where(first->site) + ", thread " + dims(t.ctx.thread_idx) + " at " +
                          where(t.site));
      }
    }
    for (const Thread& t : block_.threads) {
      if (t.state == State::kDone) {
        throw KernelError("divergent barrier in " + block_.name() + ": thread " +
                          dims(t.ctx.thread_idx) + " exited while " + std::to_string(waiting) +
                          " threads wait at __syncthreads at " + where(first->site));
      }
    }
    for (Thread& t : block_.threads) t.state = State::kRunnable;
    ++t_stats.barriers;
  }

  void check_guards() const {
    const auto& s = block_.shared;
    const auto bad = [](auto begin, auto end) {
      return std::any_of(begin, end, [](unsigned char c) { return c != kGuardByte; });
    };
    if (bad(s.begin(), s.begin() + kGuardBytes)) {
      throw KernelError(block_.name() + " wrote before the start of its " +
                        std::to_string(block_.shared_bytes) + " bytes of dynamic shared memory");
    }
    if (bad(s.end() - kGuardBytes, s.end())) {
      throw KernelError(block_.name() + " wrote past the end of its " +
                        std::to_string(block_.shared_bytes) + " bytes of dynamic shared memory");
    }
  }

  Block block_;
  std::mt19937_64& rng_;
};

thread_local BlockRunner* t_runner = nullptr;

}  // namespace

const char* to_string(ThreadOrder order) {
  switch (order) {
    case ThreadOrder::kForward:
      return "forward";
    case ThreadOrder::kReverse:
      return "reverse";
    case ThreadOrder::kShuffled:
      return "shuffled";
  }
  return "?";
}

void set_launch_options(const LaunchOptions& options) {
  t_options = options;
}
const GridStats& last_grid_stats() {
  return t_stats;
}

void run_grid(Dim3 grid, Dim3 block, std::size_t dynamic_shared_bytes,
              const std::function<void()>& body) {
  if (grid.count() == 0 || block.count() == 0) {
    throw LaunchError("launch with an empty grid " + dims(grid) + " or block " + dims(block));
  }
  if (block.count() > 1024 || block.z > 64 || grid.y > 65535 || grid.z > 65535) {
    throw LaunchError("launch exceeds the CUDA limits: block " + dims(block) + ", grid " +
                      dims(grid) +
                      " (at most 1024 threads a block, block.z <= 64, grid.y and "
                      "grid.z <= 65535)");
  }
  if (t_block) throw LaunchError("a kernel launched another kernel (dynamic parallelism)");
  t_stats = GridStats{};
  std::mt19937_64 rng(t_options.seed);
  std::vector<uint64_t> blocks(grid.count());
  std::iota(blocks.begin(), blocks.end(), uint64_t{0});
  if (t_options.permute_blocks) std::shuffle(blocks.begin(), blocks.end(), rng);
  bctx::pooled_fixedsize_stack& stacks = stack_pool(t_options.stack_bytes);
  for (uint64_t b : blocks) {
    const Dim3 idx{static_cast<unsigned>(b % grid.x), static_cast<unsigned>(b / grid.x % grid.y),
                   static_cast<unsigned>(b / (uint64_t{grid.x} * grid.y))};
    BlockRunner runner(grid, block, idx, dynamic_shared_bytes, body, stacks, rng);
    // TSan: what the block's threads did happens before the host frees and refills their
    // storage, and before whatever the host does next, also when the block fails (declared
    // after the runner, so that it runs first). See sanitizers.h.
    struct AcquireBlock {
      ~AcquireBlock() { san::acquire(&t_block_end_sync); }
    } acquire_block;
    t_runner = &runner;
    struct Clear {
      ~Clear() { t_runner = nullptr; }
    } clear;
    runner.run();
    ++t_stats.blocks;
    t_stats.threads += block.count();
  }
}

const ThreadContext& this_thread() {
  return current_thread("threadIdx/blockIdx").ctx;
}

void sync_threads(std::source_location site) {
  Thread& t = current_thread("__syncthreads");
  t.state = State::kAtBarrier;
  t.site = site;
  san::release(&t_block->barrier_sync);
  yield(*t_block, t);
  san::acquire(&t_block->barrier_sync);
}

WarpValues warp_exchange(const char* kind, unsigned mask, uint64_t value,
                         std::source_location site) {
  Thread& t = current_thread(kind);
  if (!(mask >> t.ctx.lane() & 1u)) {
    throw KernelError(t_block->thread_name(t) + ": " + kind + " at " + where(site) + " with mask " +
                      hex(mask) + ", which does not include the calling lane " +
                      std::to_string(t.ctx.lane()));
  }
  t.state = State::kAtWarp;
  t.kind = kind;
  t.mask = mask;
  t.value = value;
  t.site = site;
  char* sync = &t_block->warp_sync[static_cast<std::size_t>(t.ctx.warp())];
  san::release(sync);
  yield(*t_block, t);
  san::acquire(sync);
  return t.result;
}

void sync_warp(unsigned mask, std::source_location site) {
  warp_exchange("__syncwarp", mask, 0, site);
}

void check_shuffle_source(const char* kind, unsigned mask, int source_lane,
                          std::source_location site) {
  if (mask >> source_lane & 1u) return;
  Thread& t = current_thread(kind);
  throw KernelError(t_block->thread_name(t) + ": " + kind + " at " + where(site) + " reads lane " +
                    std::to_string(source_lane) + ", which is not in mask " + hex(mask) +
                    " (its value is undefined)");
}

unsigned active_mask() {
  const Thread& t = current_thread("__activemask");
  const auto& threads = t_block->threads;
  const int base = t.ctx.warp() * kWarpSize;
  const int lanes = std::min<int>(kWarpSize, static_cast<int>(threads.size()) - base);
  unsigned mask = 0;
  for (int l = 0; l < lanes; ++l) {
    if (threads[static_cast<std::size_t>(base + l)].state != State::kDone) mask |= 1u << l;
  }
  return mask;
}

void* dynamic_shared_memory() {
  current_thread("dynamic shared memory");
  return t_runner->shared();
}

}  // namespace ldm::emu
