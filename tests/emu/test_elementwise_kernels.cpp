// kernels/cuda/elementwise.cu through the emulator against the CPU kernels, in every thread
// order. Tolerances:
// - scale, add/mul forward, slice/insert/permute copies and nearest upsampling forward and
//   backward: bitwise (one rounding each, or the CPU's float sums in the CPU's order).
// - add/mul backward over broadcast dims: both sides accumulate in double, in different orders,
//   and round to float once, so they differ by at most one float rounding of the result plus
//   the double error (<= n 2^-53 of the sum of the terms' magnitudes, n < 2^17 here): within 2
//   float epsilons of |want| + 1e-4 * sum |terms|. One missing term (~ sum |terms| / n) is far
//   outside that.
// - bilinear forward and backward: bitwise when the build has FMA (both sides fuse the same
//   operations in the same order); in any build within 4 float epsilons of the sum of the
//   terms' magnitudes (where the CPU rounds its products separately).
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"
#include "tests/emu/parity.h"

namespace ldm::test {
namespace {

namespace cpu = kernels::cpu;
namespace gpu = kernels::cuda;
using kernels::BroadcastArgs;
using kernels::ConcatSliceArgs;
using kernels::ElementwiseArgs;
using kernels::PermuteArgs;
using kernels::ResizeArgs;

constexpr uint64_t kOrderSeed = 17;
constexpr int kRank = BroadcastArgs::kMaxRank;

int64_t product(const std::vector<int64_t>& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t{1}, std::multiplies<>());
}

std::vector<float> abs_of(std::vector<float> v) {
  for (float& x : v) x = std::abs(x);
  return v;
}

// |want| + 1e-4 * terms: the broadcast-sum tolerance scale (see the header).
std::vector<double> sum_scale(const std::vector<float>& want, const std::vector<float>& terms) {
  std::vector<double> s(want.size());
  for (std::size_t i = 0; i < want.size(); ++i) s[i] = std::abs(want[i]) + 1e-4 * terms[i];
  return s;
}

std::vector<double> to_double(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

TEST_CASE("emulated scale matches the CPU bitwise", "[emu][elementwise]") {
  const auto x = normal_floats(1001, 1);
  const ElementwiseArgs a{1001, -0.37};
  std::vector<float> want(1001);
  cpu::scale_forward(a, x.data(), want.data());
  for_each_order(kOrderSeed, [&] {
    std::vector<float> got(1001);
    gpu::scale_forward(a, x.data(), got.data(), nullptr);
    CHECK(bitwise_equal(got, want));
  });
}

// Shapes of x and y (the same rank, at most 6), padded on the left to rank 6.
BroadcastArgs broadcast_args(const std::vector<int64_t>& xs, const std::vector<int64_t>& ys) {
  BroadcastArgs a;
  const int off = kRank - static_cast<int>(xs.size());
  for (std::size_t d = 0; d < xs.size(); ++d) {
    a.a_shape[off + d] = xs[d];
    a.b_shape[off + d] = ys[d];
    a.out_shape[off + d] = std::max(xs[d], ys[d]);
    if (xs[d] == 0 || ys[d] == 0) a.out_shape[off + d] = 0;
  }
  return a;
}

void check_broadcast(const std::vector<int64_t>& xs, const std::vector<int64_t>& ys) {
  INFO("x " << Catch::Detail::stringify(xs) << ", y " << Catch::Detail::stringify(ys));
  const BroadcastArgs a = broadcast_args(xs, ys);
  const int64_t nx = product(xs), ny = product(ys);
  int64_t no = 1;
  for (int d = 0; d < kRank; ++d) no *= a.out_shape[d];
  const auto x = normal_floats(nx, 2), y = normal_floats(ny, 3), dout = normal_floats(no, 4);
  std::vector<float> add(no), mul(no), add_dx(nx), add_dy(ny), mul_dx(nx), mul_dy(ny);
  cpu::add_forward(a, x.data(), y.data(), add.data());
  cpu::mul_forward(a, x.data(), y.data(), mul.data());
  cpu::add_backward(a, dout.data(), add_dx.data(), add_dy.data());
  cpu::mul_backward(a, x.data(), y.data(), dout.data(), mul_dx.data(), mul_dy.data());
  // The sums of the terms' magnitudes: the same reductions of |inputs|.
  const auto ax = abs_of(x), ay = abs_of(y), ad = abs_of(dout);
  std::vector<float> t_add_dx(nx), t_add_dy(ny), t_mul_dx(nx), t_mul_dy(ny);
  cpu::add_backward(a, ad.data(), t_add_dx.data(), t_add_dy.data());
  cpu::mul_backward(a, ax.data(), ay.data(), ad.data(), t_mul_dx.data(), t_mul_dy.data());
  for_each_order(kOrderSeed, [&] {
    std::vector<float> got(no);
    gpu::add_forward(a, x.data(), y.data(), got.data(), nullptr);
    CHECK(bitwise_equal(got, add));
    gpu::mul_forward(a, x.data(), y.data(), got.data(), nullptr);
    CHECK(bitwise_equal(got, mul));
    std::vector<float> dx(nx, NAN), dy(ny, NAN);
    gpu::add_backward(a, dout.data(), dx.data(), dy.data(), nullptr);
    CHECK(within_eps(dx, add_dx, sum_scale(add_dx, t_add_dx), 2));
    CHECK(within_eps(dy, add_dy, sum_scale(add_dy, t_add_dy), 2));
    gpu::mul_backward(a, x.data(), y.data(), dout.data(), dx.data(), dy.data(), nullptr);
    CHECK(within_eps(dx, mul_dx, sum_scale(mul_dx, t_mul_dx), 2));
    CHECK(within_eps(dy, mul_dy, sum_scale(mul_dy, t_mul_dy), 2));
    // One gradient at a time: the other is skipped.
    std::vector<float> only(ny, NAN);
    gpu::add_backward(a, dout.data(), nullptr, only.data(), nullptr);
    CHECK(within_eps(only, add_dy, sum_scale(add_dy, t_add_dy), 2));
    only.assign(nx, NAN);
    gpu::mul_backward(a, x.data(), y.data(), dout.data(), only.data(), nullptr, nullptr);
    CHECK(within_eps(only, mul_dx, sum_scale(mul_dx, t_mul_dx), 2));
  });
}

TEST_CASE("emulated broadcasting add and mul match the CPU", "[emu][elementwise]") {
  // Same shape: nothing reduced (copies and products, bitwise within the tolerance).
  check_broadcast({2, 3, 5, 7}, {2, 3, 5, 7});
  // A bias [1, C, 1, 1] against [N, C, H, W]: a long reduction with the innermost dim reduced,
  // one block per channel.
  check_broadcast({16, 8, 8, 8}, {1, 8, 1, 1});
  // The time embedding [N, C, 1, 1]: 25 terms each, one thread per output.
  check_broadcast({6, 10, 1, 1}, {6, 10, 5, 5});
  // Reduced over the batch only (innermost dim kept): one thread per output.
  check_broadcast({8, 6, 5, 7}, {1, 6, 5, 7});
  // Few outputs, a long reduction with the innermost dim kept: one block each.
  check_broadcast({40, 30, 3}, {1, 1, 3});
  // Both sides broadcasting.
  check_broadcast({4, 1, 6, 1}, {1, 5, 1, 7});
  // A scalar against a tensor: everything reduced into one element, by one block (84 terms) or
  // by one thread (60).
  check_broadcast({3, 4, 7}, {1, 1, 1});
  check_broadcast({3, 4, 5}, {1, 1, 1});
  check_broadcast({1}, {1});
  // Rank 6, interleaved broadcast dims.
  check_broadcast({2, 1, 3, 1, 2, 3}, {1, 2, 1, 4, 1, 3});
  // An empty output: the broadcast operand's gradient is an empty sum, 0.
  check_broadcast({0, 3}, {1, 3});
}

// Three pieces concatenated along dim `axis` of shape (with that dim's sizes replaced), then the
// middle piece sliced back out.
void check_concat(std::vector<int64_t> shape, int axis, const std::vector<int64_t>& sizes) {
  INFO("axis " << axis);
  int64_t outer = 1, inner = 1, dim_out = 0;
  for (int d = 0; d < axis; ++d) outer *= shape[d];
  for (std::size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  for (int64_t s : sizes) dim_out += s;
  std::vector<std::vector<float>> pieces;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    pieces.push_back(normal_floats(outer * sizes[k] * inner, 10 + k));
  }
  const std::size_t n = outer * dim_out * inner;
  std::vector<float> want(n, -7.0f);
  std::vector<ConcatSliceArgs> args;
  int64_t start = 0;
  for (int64_t s : sizes) {
    args.push_back({outer, inner, s, dim_out, start});
    start += s;
  }
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    cpu::insert_copy(args[k], pieces[k].data(), want.data());
  }
  // The middle piece as a slice of the result.
  const ConcatSliceArgs mid{outer, inner, dim_out, sizes[1], args[1].start};
  std::vector<float> want_mid(outer * sizes[1] * inner);
  cpu::slice_copy(mid, want.data(), want_mid.data());
  CHECK(bitwise_equal(want_mid, pieces[1]));
  for_each_order(kOrderSeed, [&] {
    std::vector<float> got(n, -7.0f);
    for (std::size_t k = 0; k < sizes.size(); ++k) {
      gpu::insert_copy(args[k], pieces[k].data(), got.data(), nullptr);
    }
    CHECK(bitwise_equal(got, want));
    std::vector<float> got_mid(want_mid.size(), NAN);
    gpu::slice_copy(mid, want.data(), got_mid.data(), nullptr);
    CHECK(bitwise_equal(got_mid, want_mid));
  });
}

TEST_CASE("emulated concat and slice copies match the CPU bitwise", "[emu][elementwise]") {
  check_concat({0, 3, 4, 5}, 0, {1, 2, 3});
  check_concat({2, 0, 4, 5}, 1, {2, 3, 1});
  check_concat({2, 3, 4, 0}, 3, {3, 1, 4});
  // The U-Net's skip concat along channels (scaled down): [N, C, H, W] pieces.
  check_concat({4, 0, 8, 8}, 1, {16, 8, 16});
  // A piece left untouched by insert_copy stays as it was.
  const ConcatSliceArgs a{2, 3, 1, 4, 1};
  const std::vector<float> src = normal_floats(6, 20);
  for_each_order(kOrderSeed, [&] {
    std::vector<float> got(24, -7.0f);
    gpu::insert_copy(a, src.data(), got.data(), nullptr);
    for (int64_t o = 0; o < 2; ++o) {
      for (int64_t d = 0; d < 4; ++d) {
        for (int64_t i = 0; i < 3; ++i) {
          const float v = got[(o * 4 + d) * 3 + i];
          CHECK(v == (d == 1 ? src[o * 3 + i] : -7.0f));
        }
      }
    }
  });
}

void check_permute(const std::vector<int64_t>& shape, const std::vector<int>& order) {
  INFO("shape " << Catch::Detail::stringify(shape) << ", order "
                << Catch::Detail::stringify(order));
  PermuteArgs a;
  a.rank = static_cast<int>(shape.size());
  for (int d = 0; d < a.rank; ++d) {
    a.in_shape[d] = shape[d];
    a.order[d] = order[d];
  }
  const int64_t n = product(shape);
  const auto src = normal_floats(n, 30);
  std::vector<float> want(n);
  cpu::permute_copy(a, src.data(), want.data());
  // The inverse permutation brings it back.
  PermuteArgs inv;
  inv.rank = a.rank;
  for (int k = 0; k < a.rank; ++k) {
    inv.in_shape[k] = shape[order[k]];
    inv.order[order[k]] = k;
  }
  for_each_order(kOrderSeed, [&] {
    std::vector<float> got(n, NAN), back(n, NAN);
    gpu::permute_copy(a, src.data(), got.data(), nullptr);
    CHECK(bitwise_equal(got, want));
    gpu::permute_copy(inv, got.data(), back.data(), nullptr);
    CHECK(bitwise_equal(back, src));
  });
}

TEST_CASE("emulated permutes match the CPU bitwise", "[emu][elementwise]") {
  check_permute({37, 45}, {1, 0});                   // a transpose, partial tiles both ways
  check_permute({37, 45}, {0, 1});                   // the identity
  check_permute({3, 40, 33}, {0, 2, 1});             // batched transpose
  check_permute({3, 40, 33}, {1, 0, 2});             // rows move whole
  check_permute({3, 40, 33}, {2, 0, 1});             // [A, B*C] -> [C, A*B] after merging
  check_permute({3, 20, 7, 9}, {0, 2, 3, 1});        // NCHW -> NHWC (and back: the inverse)
  check_permute({2, 16, 4, 4}, {0, 2, 3, 1});        // the U-Net's attention layout
  check_permute({3, 1, 7, 1}, {3, 2, 0, 1});         // size-1 dims dropped
  check_permute({2, 16, 3, 4, 8}, {2, 0, 3, 1, 4});  // the qkv split [N, L, 3, h, D]
  check_permute({2, 3, 4, 5, 2, 3}, {5, 1, 4, 0, 3, 2});
  check_permute({2, 3, 4, 5, 2, 3}, {1, 0, 3, 2, 5, 4});
}

TEST_CASE("emulated permutes beyond one pass of the grid match the CPU", "[emu][elementwise]") {
  check_permute({2, 400, 400}, {1, 0, 2});
}

void check_upsample(int64_t N, int64_t C, int64_t H, int64_t W, int64_t fh, int64_t fw) {
  INFO(N << "x" << C << "x" << H << "x" << W << " by " << fh << "x" << fw);
  const ResizeArgs a{N, C, H, W, H * fh, W * fw};
  const int64_t n_in = N * C * H * W, n_out = n_in * fh * fw;
  const auto x = normal_floats(n_in, 40), dy = normal_floats(n_out, 41);
  std::vector<float> y(n_out), dx(n_in);
  cpu::upsample_nearest_forward(a, x.data(), y.data());
  cpu::upsample_nearest_backward(a, dy.data(), dx.data());
  for_each_order(kOrderSeed, [&] {
    std::vector<float> got_y(n_out, NAN), got_dx(n_in, NAN);
    gpu::upsample_nearest_forward(a, x.data(), got_y.data(), nullptr);
    CHECK(bitwise_equal(got_y, y));
    gpu::upsample_nearest_backward(a, dy.data(), got_dx.data(), nullptr);
    CHECK(bitwise_equal(got_dx, dx));
  });
}

TEST_CASE("emulated nearest upsampling matches the CPU bitwise", "[emu][elementwise]") {
  check_upsample(2, 3, 5, 7, 2, 2);  // odd sizes
  check_upsample(1, 2, 3, 5, 3, 2);  // unequal factors
  check_upsample(4, 8, 4, 4, 2, 2);  // the U-Net's 4x4 -> 8x8 (scaled down)
  check_upsample(1, 1, 1, 1, 1, 1);
}

void check_bilinear(int64_t N, int64_t C, int64_t H_in, int64_t W_in, int64_t H_out,
                    int64_t W_out) {
  INFO(H_in << "x" << W_in << " -> " << H_out << "x" << W_out);
  const ResizeArgs a{N, C, H_in, W_in, H_out, W_out};
  const int64_t n_in = N * C * H_in * W_in, n_out = N * C * H_out * W_out;
  const auto x = normal_floats(n_in, 50), dy = normal_floats(n_out, 51);
  std::vector<float> y(n_out), dx(n_in), t_y(n_out), t_dx(n_in);
  cpu::resize_bilinear_forward(a, x.data(), y.data());
  cpu::resize_bilinear_backward(a, dy.data(), dx.data());
  // The weights are >= 0, so the same maps of |inputs| are the sums of the terms' magnitudes.
  const auto ax = abs_of(x), ady = abs_of(dy);
  cpu::resize_bilinear_forward(a, ax.data(), t_y.data());
  cpu::resize_bilinear_backward(a, ady.data(), t_dx.data());
  for_each_order(kOrderSeed, [&] {
    std::vector<float> got_y(n_out, NAN), got_dx(n_in, NAN);
    gpu::resize_bilinear_forward(a, x.data(), got_y.data(), nullptr);
    gpu::resize_bilinear_backward(a, dy.data(), got_dx.data(), nullptr);
    CHECK(within_eps(got_y, y, to_double(t_y), 4));
    CHECK(within_eps(got_dx, dx, to_double(t_dx), 4));
#ifdef __FMA__
    CHECK(bitwise_equal(got_y, y));
    CHECK(bitwise_equal(got_dx, dx));
#endif
  });
}

TEST_CASE("emulated bilinear resize matches the CPU", "[emu][elementwise]") {
  check_bilinear(2, 1, 28, 28, 32, 32);  // the data pipeline's 28 -> 32
  check_bilinear(2, 2, 32, 32, 28, 28);
  check_bilinear(1, 3, 5, 5, 3, 3);
  check_bilinear(1, 2, 3, 3, 7, 7);
  check_bilinear(2, 2, 5, 9, 7, 4);   // non-square, up along H and down along W
  check_bilinear(1, 2, 6, 13, 6, 3);  // H unchanged (identity taps), W down by 4+
  check_bilinear(1, 1, 1, 4, 3, 1);   // single source row, single output column
}

}  // namespace
}  // namespace ldm::test
