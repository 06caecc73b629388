// kernels/cuda/matmul.cu through the emulator against the CPU kernels, in every thread order;
// each order's results must also equal the first order's bitwise (every sum has a fixed order).
//
// Tolerances are first-order rounding bounds, computed in double per output, in float epsilons
// (eps below) of the magnitudes of the terms, for the two sides' roundings together:
// - A sum of n terms rounds by at most n eps of the sum of the terms' magnitudes, whatever its
//   order (OpenBLAS's and the tiles' differ), so a GEMM output may differ by 2 (K + 2) eps of
//   sum |a b| (+ |bias|). One missing or wrong term (|term| ~ sum / K) is over 100x that at the
//   K <= 64 here.
// - Softmax: both sides form the same scaled, max-subtracted arguments, so a probability
//   differs by the two exps (2 ulp each), the sum of `cols` terms and the division:
//   (2 cols + 10) eps of itself. Its backward: the row dot s (2 cols eps of sum |y dy|) and
//   three roundings of y (dy - s).
// - Attention forward: a score is a D-term dot (2 (D + 1) eps of scale sum |q k|); an absolute
//   score error e changes exp by e relative, and the normalization by at most the row's largest
//   e, so probs[i, j] may differ by (2 max_j e_ij + 2 L + 10) eps of itself, and out by that
//   plus 2 L + 2 of sum_j p |v|.
// - Attention backward (probs given, the same on both sides): dprobs is a D-term dot
//   (2 D eps of b = sum_d |dout v|), delta = sum_j p dprobs adds 2 L eps of sum_j p b, dscores
//   four roundings; dq, dk are L-term sums of dscores k, dscores q (2 L eps more of the terms),
//   dv an L-term sum of p dout.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "kernels/cpu/matmul.h"
#include "kernels/cuda/matmul.h"
#include "tests/emu/parity.h"

namespace ldm::test {
namespace {

namespace cpu = kernels::cpu;
namespace gpu = kernels::cuda;
using kernels::AttentionArgs;
using kernels::MatmulArgs;
using kernels::SoftmaxArgs;

constexpr uint64_t kOrderSeed = 17;

// The first thread order's result of each output, which every later order must repeat bitwise.
class SameEveryOrder {
 public:
  bool operator()(std::size_t slot, const std::vector<float>& got) {
    if (first_.size() <= slot) first_.resize(slot + 1);
    if (!first_[slot]) {
      first_[slot] = got;
      return true;
    }
    return bitwise_equal(got, *first_[slot]);
  }

 private:
  std::vector<std::optional<std::vector<float>>> first_;
};

// sum over k < K of |a(i, k) b(k, j)| for i < R, j < S, row-major [R, S].
template <typename A, typename B>
std::vector<double> abs_products(int64_t R, int64_t S, int64_t K, A a, B b) {
  std::vector<double> out(R * S);
  for (int64_t i = 0; i < R; ++i) {
    for (int64_t j = 0; j < S; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += std::abs(double(a(i, k)) * b(k, j));
      out[i * S + j] = s;
    }
  }
  return out;
}

// The GEMM bound: 2 (K + 2) eps of sum |terms| (+ |bias|).
bool gemm_close(const std::vector<float>& got, const std::vector<float>& want,
                std::vector<double> terms, int64_t K, const float* bias = nullptr, int64_t N = 1) {
  if (bias) {
    for (std::size_t i = 0; i < terms.size(); ++i) terms[i] += std::abs(bias[i % N]);
  }
  return within_eps(got, want, terms, 2.0 * (K + 2));
}

struct Shape {
  int64_t M, N, K;
};

// Partial tiles in every dim (70 x 65 x 33 against 64 x 64 x 16), one element, a K of 0, a
// model-like layer (batch 64 through a 32 -> 128 linear), and a tall thin one.
constexpr Shape kShapes[] = {{70, 65, 33}, {1, 1, 1}, {4, 3, 0}, {64, 128, 32}, {130, 5, 17}};

TEST_CASE("emulated linear forward and backward match the CPU", "[emu][matmul]") {
  for (const Shape& s : kShapes) {
    const int64_t M = s.M, N = s.N, K = s.K;
    INFO("M " << M << " N " << N << " K " << K);
    const MatmulArgs a{1, M, N, K, true};
    const auto x = normal_floats(M * K, 1), w = normal_floats(N * K, 2);
    const auto bias = normal_floats(N, 3), dy = normal_floats(M * N, 4);
    std::vector<float> y(M * N), y_nb(M * N), dx(M * K), dw(N * K), db(N);
    cpu::linear_forward(a, x.data(), w.data(), bias.data(), y.data());
    cpu::linear_forward(a, x.data(), w.data(), static_cast<const float*>(nullptr), y_nb.data());
    cpu::linear_backward(a, x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data());
    const auto y_terms = abs_products(
        M, N, K, [&](int64_t i, int64_t k) { return x[i * K + k]; },
        [&](int64_t k, int64_t j) { return w[j * K + k]; });
    const auto dx_terms = abs_products(
        M, K, N, [&](int64_t i, int64_t n) { return dy[i * N + n]; },
        [&](int64_t n, int64_t j) { return w[n * K + j]; });
    const auto dw_terms = abs_products(
        N, K, M, [&](int64_t n, int64_t m) { return dy[m * N + n]; },
        [&](int64_t m, int64_t j) { return x[m * K + j]; });
    const auto db_terms = abs_products(
        1, N, M, [](int64_t, int64_t) { return 1.0f; },
        [&](int64_t m, int64_t n) { return dy[m * N + n]; });
    SameEveryOrder same;
    for_each_order(kOrderSeed, [&] {
      std::vector<float> got(M * N);
      gpu::linear_forward(a, x.data(), w.data(), bias.data(), got.data(), nullptr);
      CHECK(gemm_close(got, y, y_terms, K, bias.data(), N));
      CHECK(same(0, got));
      gpu::linear_forward(a, x.data(), w.data(), nullptr, got.data(), nullptr);
      CHECK(gemm_close(got, y_nb, y_terms, K));
      CHECK(same(1, got));
      std::vector<float> gx(M * K), gw(N * K), gb(N);
      gpu::linear_backward(a, x.data(), w.data(), dy.data(), gx.data(), gw.data(), gb.data(),
                           nullptr);
      CHECK(gemm_close(gx, dx, dx_terms, N));
      CHECK(gemm_close(gw, dw, dw_terms, M));
      CHECK(gemm_close(gb, db, db_terms, M));
      CHECK(same(2, gx));
      CHECK(same(3, gw));
      CHECK(same(4, gb));
      // Each gradient alone: the others are null and nothing writes through them.
      std::vector<float> only(M * K, -7.0f);
      gpu::linear_backward(a, x.data(), w.data(), dy.data(), only.data(), nullptr, nullptr,
                           nullptr);
      CHECK(bitwise_equal(only, gx));
      only.assign(N * K, -7.0f);
      gpu::linear_backward(a, x.data(), w.data(), dy.data(), nullptr, only.data(), nullptr,
                           nullptr);
      CHECK(bitwise_equal(only, gw));
      only.assign(N, -7.0f);
      gpu::linear_backward(a, x.data(), w.data(), dy.data(), nullptr, nullptr, only.data(),
                           nullptr);
      CHECK(bitwise_equal(only, gb));
    });
  }
}

TEST_CASE("emulated batched matmul forward and backward match the CPU", "[emu][matmul]") {
  const int64_t B = 3;
  for (const Shape& s : kShapes) {
    const int64_t M = s.M, N = s.N, K = s.K;
    INFO("B " << B << " M " << M << " N " << N << " K " << K);
    const MatmulArgs a{B, M, N, K, false};
    const auto x = normal_floats(B * M * K, 5), y = normal_floats(B * K * N, 6);
    const auto dout = normal_floats(B * M * N, 7);
    std::vector<float> out(B * M * N), dx(B * M * K), dy(B * K * N);
    cpu::matmul_forward(a, x.data(), y.data(), out.data());
    cpu::matmul_backward(a, x.data(), y.data(), dout.data(), dx.data(), dy.data());
    std::vector<double> out_terms, dx_terms, dy_terms;
    for (int64_t b = 0; b < B; ++b) {
      const float* xb = x.data() + b * M * K;
      const float* yb = y.data() + b * K * N;
      const float* gb = dout.data() + b * M * N;
      const auto o = abs_products(
          M, N, K, [&](int64_t i, int64_t k) { return xb[i * K + k]; },
          [&](int64_t k, int64_t j) { return yb[k * N + j]; });
      const auto gx = abs_products(
          M, K, N, [&](int64_t i, int64_t n) { return gb[i * N + n]; },
          [&](int64_t n, int64_t j) { return yb[j * N + n]; });
      const auto gy = abs_products(
          K, N, M, [&](int64_t i, int64_t m) { return xb[m * K + i]; },
          [&](int64_t m, int64_t j) { return gb[m * N + j]; });
      out_terms.insert(out_terms.end(), o.begin(), o.end());
      dx_terms.insert(dx_terms.end(), gx.begin(), gx.end());
      dy_terms.insert(dy_terms.end(), gy.begin(), gy.end());
    }
    SameEveryOrder same;
    for_each_order(kOrderSeed, [&] {
      std::vector<float> got(B * M * N);
      gpu::matmul_forward(a, x.data(), y.data(), got.data(), nullptr);
      CHECK(gemm_close(got, out, out_terms, K));
      CHECK(same(0, got));
      std::vector<float> gx(B * M * K), gy(B * K * N);
      gpu::matmul_backward(a, x.data(), y.data(), dout.data(), gx.data(), gy.data(), nullptr);
      CHECK(gemm_close(gx, dx, dx_terms, N));
      CHECK(gemm_close(gy, dy, dy_terms, M));
      CHECK(same(1, gx));
      CHECK(same(2, gy));
      std::vector<float> only(B * M * K, -7.0f);
      gpu::matmul_backward(a, x.data(), y.data(), dout.data(), only.data(), nullptr, nullptr);
      CHECK(bitwise_equal(only, gx));
      only.assign(B * K * N, -7.0f);
      gpu::matmul_backward(a, x.data(), y.data(), dout.data(), nullptr, only.data(), nullptr);
      CHECK(bitwise_equal(only, gy));
    });
  }
}

// The CPU's exp returns 0 below e^-87, where floats leave the normal range, and expf a
// subnormal: probabilities below the smallest normal float may differ by that much.
constexpr double kSubnormal =
    std::numeric_limits<float>::min() / std::numeric_limits<float>::epsilon();

// (2 cols + 10) eps of each probability.
std::vector<double> softmax_bound(const std::vector<float>& p, int64_t cols) {
  std::vector<double> b(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) b[i] = (2.0 * cols + 10) * p[i] + kSubnormal;
  return b;
}

// |y_j| (2 cols sigma + 3 (|dy_j| + sigma)), sigma = sum |y dy| of the row.
std::vector<double> softmax_backward_bound(const std::vector<float>& y,
                                           const std::vector<float>& dy, int64_t cols) {
  std::vector<double> b(y.size());
  for (std::size_t r = 0; r < y.size() / cols; ++r) {
    double sigma = 0;
    for (int64_t j = 0; j < cols; ++j)
      sigma += std::abs(double(y[r * cols + j]) * dy[r * cols + j]);
    for (int64_t j = 0; j < cols; ++j) {
      const std::size_t i = r * cols + j;
      b[i] = std::abs(y[i]) * (2.0 * cols * sigma + 3 * (std::abs(dy[i]) + sigma));
    }
  }
  return b;
}

TEST_CASE("emulated softmax matches the CPU, in place too", "[emu][matmul]") {
  const int64_t rows = 21;  // three blocks of 8 rows, the last partial
  for (int64_t cols : {1, 7, 32, 33, 100}) {
    INFO("cols " << cols);
    const SoftmaxArgs a{rows, cols};
    // Logits around 1,000 on every third row: exp of them overflows unless the max goes first.
    auto x = normal_floats(rows * cols, 8, 3.0f);
    for (int64_t r = 0; r < rows; r += 3) {
      for (int64_t j = 0; j < cols; ++j) x[r * cols + j] = 1000.0f + 40.0f * x[r * cols + j];
    }
    const auto dy = normal_floats(rows * cols, 9);
    std::vector<float> y(rows * cols), dx(rows * cols);
    cpu::softmax_forward(a, x.data(), y.data());
    cpu::softmax_backward(a, y.data(), dy.data(), dx.data());
    const auto y_bound = softmax_bound(y, cols);
    const auto dx_bound = softmax_backward_bound(y, dy, cols);
    SameEveryOrder same;
    for_each_order(kOrderSeed, [&] {
      std::vector<float> got(rows * cols);
      gpu::softmax_forward(a, x.data(), got.data(), nullptr);
      CHECK(within_eps(got, y, y_bound, 1));
      CHECK(same(0, got));
      std::vector<float> inplace = x;
      gpu::softmax_forward(a, inplace.data(), inplace.data(), nullptr);
      CHECK(bitwise_equal(inplace, got));
      gpu::softmax_backward(a, y.data(), dy.data(), got.data(), nullptr);
      CHECK(within_eps(got, dx, dx_bound, 1));
      CHECK(same(1, got));
      inplace = dy;
      gpu::softmax_backward(a, y.data(), inplace.data(), inplace.data(), nullptr);
      CHECK(bitwise_equal(inplace, got));
    });
  }
}

// The attention bounds of the file header, per element, in eps.
struct AttentionBounds {
  std::vector<double> probs, out, dq, dk, dv;
};

AttentionBounds attention_bounds(const AttentionArgs& a, const std::vector<float>& q,
                                 const std::vector<float>& k, const std::vector<float>& v,
                                 const std::vector<float>& p, const std::vector<float>& dout) {
  const int64_t L = a.L, D = a.D;
  AttentionBounds r;
  r.probs.resize(a.BH * L * L);
  r.out.assign(a.BH * L * D, 0);
  r.dq.assign(a.BH * L * D, 0);
  r.dk.assign(a.BH * L * D, 0);
  r.dv.assign(a.BH * L * D, 0);
  for (int64_t h = 0; h < a.BH; ++h) {
    const float* qh = q.data() + h * L * D;
    const float* kh = k.data() + h * L * D;
    const float* vh = v.data() + h * L * D;
    const float* gh = dout.data() + h * L * D;
    const float* ph = p.data() + h * L * L;
    const auto qk = abs_products(
        L, L, D, [&](int64_t i, int64_t d) { return qh[i * D + d]; },
        [&](int64_t d, int64_t j) { return kh[j * D + d]; });
    const auto gv = abs_products(
        L, L, D, [&](int64_t i, int64_t d) { return gh[i * D + d]; },
        [&](int64_t d, int64_t j) { return vh[j * D + d]; });
    for (int64_t i = 0; i < L; ++i) {
      double worst = 0, beta = 0;
      for (int64_t j = 0; j < L; ++j) {
        worst = std::max(worst, 2.0 * (D + 1) * a.scale * qk[i * L + j]);
        beta += ph[i * L + j] * gv[i * L + j];
      }
      const double rel = 2 * worst + 2.0 * L + 10;
      const double delta_err = 2.0 * (D + L) * beta;
      for (int64_t j = 0; j < L; ++j) {
        const double pij = ph[i * L + j], b = gv[i * L + j];
        r.probs[(h * L + i) * L + j] = rel * pij + kSubnormal;
        const double ds_err = a.scale * pij * (2.0 * D * b + delta_err + 4 * (b + beta));
        const double ds_mag = a.scale * pij * (b + beta);
        const double w = ds_err + 2.0 * L * ds_mag;
        for (int64_t d = 0; d < D; ++d) {
          r.out[(h * L + i) * D + d] += (rel + 2.0 * L + 2) * pij * std::abs(vh[j * D + d]);
          r.dq[(h * L + i) * D + d] += w * std::abs(kh[j * D + d]);
          r.dk[(h * L + j) * D + d] += w * std::abs(qh[i * D + d]);
          r.dv[(h * L + j) * D + d] += (2.0 * L + 2) * pij * std::abs(gh[i * D + d]);
        }
      }
    }
  }
  return r;
}

// Subsets: also each gradient alone (skipped on the long head, whose dk/dv blocks each stream
// all of it once per 16 query rows: slow under the emulator, and the same code paths).
enum class Subsets { kCheck, kSkip };

void check_attention(int64_t BH, int64_t L, int64_t D, Subsets subsets = Subsets::kCheck) {
  INFO("BH " << BH << " L " << L << " D " << D);
  const AttentionArgs a{BH, L, D, 1.0 / std::sqrt(double(D))};
  const int64_t n = BH * L * D;
  const auto q = normal_floats(n, 10, 1.5f), k = normal_floats(n, 11, 1.5f);
  const auto v = normal_floats(n, 12), dout = normal_floats(n, 13);
  std::vector<float> out(n), probs(BH * L * L), dq(n), dk(n), dv(n);
  cpu::attention_forward(a, q.data(), k.data(), v.data(), out.data(), probs.data());
  cpu::attention_backward(a, q.data(), k.data(), v.data(), probs.data(), dout.data(), dq.data(),
                          dk.data(), dv.data());
  const AttentionBounds bound = attention_bounds(a, q, k, v, probs, dout);
  SameEveryOrder same;
  for_each_order(kOrderSeed, [&] {
    std::vector<float> got(n), got_p(BH * L * L);
    gpu::attention_forward(a, q.data(), k.data(), v.data(), got.data(), got_p.data(), nullptr);
    CHECK(within_eps(got_p, probs, bound.probs, 1));
    CHECK(within_eps(got, out, bound.out, 1));
    CHECK(same(0, got_p));
    CHECK(same(1, got));
    // The backward from the CPU's probs, so that both sides start from the same values.
    std::vector<float> gq(n), gk(n), gv(n);
    gpu::attention_backward(a, q.data(), k.data(), v.data(), probs.data(), dout.data(), gq.data(),
                            gk.data(), gv.data(), nullptr);
    CHECK(within_eps(gq, dq, bound.dq, 1));
    CHECK(within_eps(gk, dk, bound.dk, 1));
    CHECK(within_eps(gv, dv, bound.dv, 1));
    CHECK(same(2, gq));
    CHECK(same(3, gk));
    CHECK(same(4, gv));
    if (subsets == Subsets::kSkip) return;
    // One gradient at a time: the same values, nothing written through the null ones.
    std::vector<float> only(n, -7.0f);
    gpu::attention_backward(a, q.data(), k.data(), v.data(), probs.data(), dout.data(), only.data(),
                            nullptr, nullptr, nullptr);
    CHECK(bitwise_equal(only, gq));
    only.assign(n, -7.0f);
    gpu::attention_backward(a, q.data(), k.data(), v.data(), probs.data(), dout.data(), nullptr,
                            only.data(), nullptr, nullptr);
    CHECK(bitwise_equal(only, gk));
    only.assign(n, -7.0f);
    gpu::attention_backward(a, q.data(), k.data(), v.data(), probs.data(), dout.data(), nullptr,
                            nullptr, only.data(), nullptr);
    CHECK(bitwise_equal(only, gv));
  });
}

TEST_CASE("emulated fused attention matches the CPU", "[emu][matmul]") {
  check_attention(4, 16, 32);  // the U-Net's heads (L = 16 at 4 x 4, D = 32), fewer of them
  check_attention(3, 33, 8);   // a partial query block and key chunk
  check_attention(1, 64, 64);  // several query blocks and key chunks
  check_attention(2, 7, 20);   // less than a warp of keys
  check_attention(1, 1, 1);
}

TEST_CASE("emulated attention beyond the fused limits matches the CPU", "[emu][matmul]") {
  // L > 256: the forward takes GEMM + softmax, the backward streams as at any L.
  check_attention(1, 260, 4, Subsets::kSkip);
  check_attention(2, 9, 130);  // D > 128: GEMM + softmax forward, the unfused backward
}

}  // namespace
}  // namespace ldm::test
