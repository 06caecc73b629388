// The SIMT emulator on small kernels: correct ones give the right answer in every thread order
// and block order; each planted bug (a missing barrier, a divergent barrier, a write past
// shared memory, a shuffle outside its mask, a collective a lane skips) is caught.
#include <algorithm>
#include <catch2/catch.hpp>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/cuda/launch.h"
#include "kernels/emu/runtime.h"
#include "tests/emu/test_kernels.h"

namespace ldm::test {
namespace {

using Catch::Matchers::Contains;
using emu::KernelError;
using emu::ThreadOrder;
namespace k = emu_kernels;

constexpr ThreadOrder kOrders[] = {ThreadOrder::kForward, ThreadOrder::kReverse,
                                   ThreadOrder::kShuffled};

// Sets the launch options for the scope of one test section.
struct Options {
  explicit Options(ThreadOrder order, bool permute_blocks = false, uint64_t seed = 1) {
    emu::LaunchOptions o;
    o.order = order;
    o.permute_blocks = permute_blocks;
    o.seed = seed;
    emu::set_launch_options(o);
  }
  ~Options() { emu::set_launch_options({}); }
};

std::vector<float> iota_floats(std::size_t n) {
  std::vector<float> v(n);
  std::iota(v.begin(), v.end(), 1.0f);
  return v;
}

// The message of the KernelError that running f throws ("" if none).
template <typename F>
std::string kernel_error(F&& f) {
  try {
    f();
  } catch (const KernelError& e) {
    return e.what();
  }
  return "";
}

TEST_CASE("a shared-memory reduction is right in every thread and block order", "[emu]") {
  const std::vector<float> in = iota_floats(4 * 128);
  for (ThreadOrder order : kOrders) {
    for (bool permute : {false, true}) {
      Options options(order, permute);
      std::vector<float> out(4, -1.0f);
      kernels::cuda::launch(k::block_sum, dim3(4), dim3(128), 0, nullptr, in.data(), out.data());
      INFO(emu::to_string(order) << (permute ? ", permuted blocks" : ""));
      for (int b = 0; b < 4; ++b) {
        const float first = 1.0f + 128.0f * static_cast<float>(b), last = first + 127.0f;
        CHECK(out[static_cast<std::size_t>(b)] == 64.0f * (first + last));
      }
      const emu::GridStats& s = emu::last_grid_stats();
      CHECK(s.blocks == 4);
      CHECK(s.threads == 512);
      CHECK(s.barriers == 4 * 8);  // one after the store, one per halving step (7)
    }
  }
}

// Under ASan static shared arrays are plain statics (for its redzones) and are not refilled
// (see cuda_emu.h): the tests that rely on the refill need the normal build.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kStaticSharedRefilled = false;
#else
constexpr bool kStaticSharedRefilled = true;
#endif

TEST_CASE("shared memory starts every block as NaN, not as the last block left it", "[emu]") {
  if (!kStaticSharedRefilled) return;
  const std::vector<float> in = {1.0f, 2.0f, 3.0f};
  std::vector<float> before(3, 0.0f), after(3, 0.0f);
  kernels::cuda::launch(k::shared_starts_poisoned, dim3(3), dim3(32), 0, nullptr, in.data(),
                        before.data(), after.data());
  for (std::size_t b = 0; b < 3; ++b) {
    CHECK(before[b] != before[b]);  // NaN
    CHECK(after[b] == in[b]);
  }
}

TEST_CASE("blocks run in a permuted order when asked", "[emu]") {
  std::vector<int> order(8, -1);
  int counter = 0, next = 0;
  {
    Options options(ThreadOrder::kForward, false);
    kernels::cuda::launch(k::count_threads, dim3(8), dim3(64), 0, nullptr, &counter, order.data(),
                          &next);
  }
  CHECK(counter == 8 * 64);
  CHECK(order == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
  counter = next = 0;
  {
    Options options(ThreadOrder::kForward, true, 3);
    kernels::cuda::launch(k::count_threads, dim3(8), dim3(64), 0, nullptr, &counter, order.data(),
                          &next);
  }
  CHECK(counter == 8 * 64);
  CHECK(order != std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
  std::vector<int> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
}

// [race]: these kernels race on purpose, so the TSan build runs them only in emu_tsan_race,
// which passes when TSan reports the race.
TEST_CASE("planted bug: a missing __syncthreads gives a wrong result in some order",
          "[emu][race]") {
  // The reduction reads partial[t + stride] before thread t + stride stored it: with no
  // barrier before the loop, which order exposes it depends on who runs first.
  const std::vector<float> in = iota_floats(64);
  int wrong_orders = 0;
  for (ThreadOrder order : kOrders) {
    Options options(order);
    std::vector<float> out(1, 0.0f);
    kernels::cuda::launch(k::block_sum_missing_barrier, dim3(1), dim3(64), 0, nullptr, in.data(),
                          out.data());
    if (out[0] != 32.0f * 65.0f) ++wrong_orders;
  }
  CHECK(wrong_orders > 0);

  // Reading the left neighbour's store is right when threads run in index order and wrong in
  // reverse: this bug passes a forward-only test suite.
  std::vector<float> right(64), got(64);
  for (std::size_t i = 0; i < 64; ++i) right[i] = in[i] + (i > 0 ? in[i - 1] : 0.0f);
  {
    Options options(ThreadOrder::kForward);
    kernels::cuda::launch(k::neighbour_sum_missing_barrier, dim3(1), dim3(64), 0, nullptr,
                          in.data(), got.data());
    CHECK(got == right);
  }
  if (kStaticSharedRefilled) {  // otherwise the forward run's values are still there
    Options options(ThreadOrder::kReverse);
    kernels::cuda::launch(k::neighbour_sum_missing_barrier, dim3(1), dim3(64), 0, nullptr,
                          in.data(), got.data());
    CHECK(got != right);
  }
}

TEST_CASE("planted bug: a divergent barrier is reported", "[emu]") {
  for (ThreadOrder order : kOrders) {
    Options options(order);
    INFO(emu::to_string(order));
    const std::string exited = kernel_error(
        [] { kernels::cuda::launch(k::barrier_in_branch, dim3(2), dim3(32), 0, nullptr, 16); });
    CHECK_THAT(exited, Contains("divergent barrier in block (0,0,0)"));
    CHECK_THAT(exited, Contains("exited while 16 threads wait at __syncthreads at "
                                "test_kernels.cpp:"));
    const std::string sites = kernel_error(
        [] { kernels::cuda::launch(k::barrier_per_parity, dim3(1), dim3(8), 0, nullptr); });
    CHECK_THAT(sites, Contains("divergent barrier"));
    CHECK_THAT(sites, Contains("waits at __syncthreads at test_kernels.cpp:"));
  }
  // Every thread at the barrier is fine, in every block.
  Options options(ThreadOrder::kShuffled);
  CHECK(kernel_error([] {
          kernels::cuda::launch(k::barrier_in_branch, dim3(3), dim3(32), 0, nullptr, 32);
        }).empty());
}

TEST_CASE("planted bug: a write past dynamic shared memory is reported", "[emu]") {
  std::vector<float> out(32);
  const std::string error = kernel_error([&] {
    kernels::cuda::launch(k::shared_write_past_end, dim3(1), dim3(32), 32 * sizeof(float), nullptr,
                          out.data());
  });
  CHECK_THAT(error, Contains("block (0,0,0) wrote past the end of its 128 bytes of "
                             "dynamic shared memory"));
  // With one float to spare it is within bounds, and buffer[0] still holds the NaN fill.
  CHECK(kernel_error([&] {
          kernels::cuda::launch(k::shared_write_past_end, dim3(1), dim3(32), 33 * sizeof(float),
                                nullptr, out.data());
        }).empty());
  CHECK(out[0] != out[0]);
  CHECK(out[5] == 4.0f);
}

TEST_CASE("warp shuffles and votes follow CUDA's semantics", "[emu]") {
  const std::vector<float> in = iota_floats(128);
  for (ThreadOrder order : kOrders) {
    Options options(order);
    INFO(emu::to_string(order));
    std::vector<float> sums(4);
    kernels::cuda::launch(k::warp_sum_xor, dim3(2), dim3(64), 0, nullptr, in.data(), sums.data());
    CHECK(emu::last_grid_stats().warp_collectives == 4 * 5);  // 4 warps, 5 butterfly steps
    for (int w = 0; w < 4; ++w) {
      const float first = 1.0f + 32.0f * static_cast<float>(w);
      CHECK(sums[static_cast<std::size_t>(w)] == 16.0f * (2.0f * first + 31.0f));
    }
    std::vector<float> prefix(128);
    kernels::cuda::launch(k::warp_prefix_up, dim3(1), dim3(128), 0, nullptr, in.data(),
                          prefix.data());
    for (std::size_t i = 0; i < 128; ++i) {
      const float first = in[i / 32 * 32];
      CHECK(prefix[i] == (first + in[i]) * static_cast<float>(i % 32 + 1) / 2.0f);
    }
    std::vector<float> shifted(64);
    kernels::cuda::launch(k::warp_shift_down, dim3(1), dim3(64), 0, nullptr, in.data(),
                          shifted.data(), 5u);
    for (std::size_t i = 0; i < 64; ++i) CHECK(shifted[i] == (i % 32 < 27 ? in[i + 5] : in[i]));
    std::vector<unsigned> v(8);
    kernels::cuda::launch(k::votes, dim3(1), dim3(64), 0, nullptr, v.data());
    for (int w = 0; w < 2; ++w) {
      CHECK(v[4 * w + 0] == 0xaaaaaaaau);
      CHECK(v[4 * w + 1] == 1u);
      CHECK(v[4 * w + 2] == 1u);
      CHECK(v[4 * w + 3] == 0u);
    }
  }
}

TEST_CASE("planted bug: a shuffle from a lane outside the mask is reported", "[emu]") {
  std::vector<float> out(32);
  for (ThreadOrder order : kOrders) {
    Options options(order);
    INFO(emu::to_string(order));
    const std::string outside = kernel_error([&] {
      kernels::cuda::launch(k::shuffle_outside_mask, dim3(1), dim3(32), 0, nullptr, out.data());
    });
    CHECK_THAT(outside, Contains("__shfl_sync at test_kernels.cpp:"));
    CHECK_THAT(outside, Contains("reads lane 20, which is not in mask 0xffff"));
    const std::string absent = kernel_error([&] {
      kernels::cuda::launch(k::shuffle_with_absent_lanes, dim3(1), dim3(32), 0, nullptr,
                            out.data());
    });
    CHECK_THAT(absent, Contains("has exited (divergent warp collective)"));
  }
}

TEST_CASE("launches the hardware would refuse are refused before running", "[emu]") {
  std::vector<float> out(1);
  CHECK_THROWS_AS(kernels::cuda::launch(k::block_sum, dim3(1), dim3(1025), 0, nullptr,
                                        static_cast<const float*>(out.data()), out.data()),
                  emu::LaunchError);
  CHECK_THROWS_AS(kernels::cuda::launch(k::block_sum, dim3(0), dim3(32), 0, nullptr,
                                        static_cast<const float*>(out.data()), out.data()),
                  emu::LaunchError);
  CHECK_THROWS_AS(emu::this_thread(), KernelError);  // not inside a kernel
}

// Run only by ctest emu_asan_oob in the ASan build, which passes when ASan reports the
// overflow: a write one element past a static __shared__ array.
TEST_CASE("planted bug: a write past a static shared array (ASan)", "[.][asan-oob]") {
  std::vector<float> out(32);
  kernels::cuda::launch(k::static_shared_write_past_end, dim3(1), dim3(32), 0, nullptr, out.data());
}

}  // namespace
}  // namespace ldm::test
