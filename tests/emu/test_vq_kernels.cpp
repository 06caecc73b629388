// kernels/cuda/quantize.cu through the emulator against the CPU vector quantizer, in every
// thread order: random data with K = 300 (not a multiple of the 512-code tile) and 600 (two
// tiles), D = 3 (the model's, registers) and D = 5 (the generic path), 2 x 7x5 pixels; exact
// ties planted across a tile boundary and on a dyadic grid (where every distance is exact, so
// FMA or not, the ties are real); NaN and inf pixels; the model's K = 4096 x D = 3 on a few
// pixels; every null-output combination, the loss-only forward included (it searches inside
// the loss kernel).
//
// Tolerances:
//   indices, z_q  bitwise: the distances round as the CPU's do (see quantize.cu);
//   dcodebook     bitwise: the same float additions in the same pixel order, then one multiply;
//   dz_e          within 2 float epsilons of |dz_q| + |coef (z_e - z_q)| (one multiply-add,
//                 which GCC may or may not contract on the CPU);
//   loss          within (D + 64 + P / 64 + 4) float epsilons of the loss: the CPU sums in
//                 float (D terms a pixel, 64 pixels a chunk, then the chunks), each addition of
//                 positive terms adding at most one epsilon of the total; this kernel sums in
//                 double. One pixel missing moves the loss by about 1 / P of itself, far more.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/quantize.h"
#include "kernels/cuda/quantize.h"
#include "tests/emu/parity.h"

namespace ldm::test {
namespace {

namespace cpu = kernels::cpu;
namespace gpu = kernels::cuda;
using kernels::VectorQuantizeArgs;

constexpr uint64_t kOrderSeed = 13;

struct Reference {
  std::vector<int32_t> indices;
  std::vector<float> z_q;
  float loss = 0;
  std::vector<float> dz_e, dz_e_no_dz_q, dcodebook;
  std::vector<double> dz_e_scale, dz_e_no_dz_q_scale;
};

double loss_ulps(const VectorQuantizeArgs& a) {
  return static_cast<double>(a.D + 64 + a.N * a.HW / 64 + 4);
}

Reference reference(const VectorQuantizeArgs& a, const std::vector<float>& z_e,
                    const std::vector<float>& codebook, const std::vector<float>& dz_q,
                    float dloss) {
  const auto P = static_cast<std::size_t>(a.N * a.HW), n = P * static_cast<std::size_t>(a.D);
  Reference r;
  r.indices.resize(P);
  r.z_q.resize(n);
  cpu::vector_quantize_forward(a, z_e.data(), codebook.data(), r.z_q.data(), r.indices.data(),
                               &r.loss);
  r.dz_e.resize(n);
  r.dz_e_no_dz_q.resize(n);
  r.dcodebook.resize(static_cast<std::size_t>(a.K * a.D));
  cpu::vector_quantize_backward(a, z_e.data(), codebook.data(), r.indices.data(), dz_q.data(),
                                dloss, r.dz_e.data(), r.dcodebook.data());
  cpu::vector_quantize_backward<float>(a, z_e.data(), codebook.data(), r.indices.data(), nullptr,
                                       dloss, r.dz_e_no_dz_q.data(), nullptr);
  const double coef = dloss * 2 * a.beta / static_cast<double>(n);
  r.dz_e_scale.resize(n);
  r.dz_e_no_dz_q_scale.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double t = std::abs(coef * (static_cast<double>(z_e[i]) - r.z_q[i]));
    r.dz_e_scale[i] = std::abs(dz_q[i]) + t;
    r.dz_e_no_dz_q_scale[i] = t;
  }
  return r;
}

// Every output of forward and backward, all requested, against the CPU in three orders.
void check_all(const VectorQuantizeArgs& a, const std::vector<float>& z_e,
               const std::vector<float>& codebook, bool finite_loss = true) {
  INFO("N " << a.N << " D " << a.D << " HW " << a.HW << " K " << a.K);
  const auto P = static_cast<std::size_t>(a.N * a.HW), n = P * static_cast<std::size_t>(a.D);
  const std::vector<float> dz_q = normal_floats(n, 77);
  const float dloss = 1.7f;
  const Reference r = reference(a, z_e, codebook, dz_q, dloss);
  for_each_order(kOrderSeed, [&] {
    std::vector<int32_t> indices(P, -1);
    std::vector<float> z_q(n), loss(1), dz_e(n), dcodebook(codebook.size());
    gpu::vector_quantize_forward(a, z_e.data(), codebook.data(), z_q.data(), indices.data(),
                                 loss.data(), nullptr);
    CHECK(indices == r.indices);
    CHECK(bitwise_equal(z_q, r.z_q));
    if (finite_loss) {
      CHECK(within_eps(loss, {r.loss}, {std::abs(r.loss)}, loss_ulps(a)));
    } else {
      CHECK(std::isnan(loss[0]) == std::isnan(r.loss));
    }
    gpu::vector_quantize_backward(a, z_e.data(), codebook.data(), indices.data(), dz_q.data(),
                                  &dloss, dz_e.data(), dcodebook.data(), nullptr);
    if (finite_loss) {
      CHECK(within_eps(dz_e, r.dz_e, r.dz_e_scale, 2));
      CHECK(bitwise_equal(dcodebook, r.dcodebook));
    }
    gpu::vector_quantize_backward(a, z_e.data(), codebook.data(), indices.data(), nullptr, &dloss,
                                  dz_e.data(), nullptr, nullptr);
    if (finite_loss) CHECK(within_eps(dz_e, r.dz_e_no_dz_q, r.dz_e_no_dz_q_scale, 2));
  });
}

TEST_CASE("emulated VQ matches the CPU on random data", "[emu][vq]") {
  for (int64_t D : {3, 5}) {
    for (int64_t K : {300, 600}) {
      const VectorQuantizeArgs a{2, D, 35, K, 0.25};
      const auto z_e =
          uniform_floats(static_cast<std::size_t>(a.N * D * a.HW), 10 + D, -1.2f, 1.2f);
      const auto codebook = uniform_floats(static_cast<std::size_t>(K * D), 20 + K, -1.0f, 1.0f);
      check_all(a, z_e, codebook);
    }
  }
}

TEST_CASE("emulated VQ breaks exact ties toward the lowest index", "[emu][vq]") {
  for (int64_t D : {3, 5}) {
    const int64_t N = 1, HW = 6, K = 600;
    const VectorQuantizeArgs a{N, D, HW, K, 0.25};
    auto codebook = uniform_floats(static_cast<std::size_t>(K * D), 30, -1.0f, 1.0f);
    auto z_e = uniform_floats(static_cast<std::size_t>(N * D * HW), 31, -1.0f, 1.0f);
    // Code 520 (second tile) repeats code 7 (first), code 590 repeats 530 (both second), code
    // 299 repeats 511 (the last of the first tile); pixels 0-2 sit on codes 7, 530 and 299,
    // pixels 3 and 4 on the first and the last code of the second, partial tile (512, 599).
    auto copy_code = [&](int64_t from, int64_t to) {
      for (int64_t d = 0; d < D; ++d) codebook[to * D + d] = codebook[from * D + d];
    };
    copy_code(7, 520);
    copy_code(530, 590);
    copy_code(511, 299);
    const int64_t on_code[] = {7, 530, 299, 512, 599};
    for (int64_t p = 0; p < 5; ++p) {
      for (int64_t d = 0; d < D; ++d) z_e[d * HW + p] = codebook[on_code[p] * D + d];
    }
    std::vector<int32_t> want(static_cast<std::size_t>(N * HW));
    cpu::vector_quantize_forward<float>(a, z_e.data(), codebook.data(), nullptr, want.data(),
                                        nullptr);
    REQUIRE(want[0] == 7);
    REQUIRE(want[1] == 530);
    REQUIRE(want[2] == 299);
    REQUIRE(want[3] == 512);
    REQUIRE(want[4] == 599);
    check_all(a, z_e, codebook);
  }
}

TEST_CASE("emulated VQ ties on a dyadic grid go to the lowest index", "[emu][vq]") {
  // Codes and pixels on multiples of 1/4 and 1/2 in [-1, 1]: every product and sum is exact,
  // so many distinct codes tie exactly, whatever the rounding; the lowest index must win.
  const int64_t D = 3, N = 2, HW = 35, K = 125;
  const VectorQuantizeArgs a{N, D, HW, K, 0.25};
  std::vector<float> codebook(static_cast<std::size_t>(K * D));
  for (int64_t k = 0; k < K; ++k) {
    // All of {-1, -0.5, 0, 0.5, 1}^3, in a scrambled order.
    const int64_t j = (k * 47) % K;
    codebook[k * D + 0] = -1.0f + 0.5f * static_cast<float>(j % 5);
    codebook[k * D + 1] = -1.0f + 0.5f * static_cast<float>(j / 5 % 5);
    codebook[k * D + 2] = -1.0f + 0.5f * static_cast<float>(j / 25);
  }
  auto z_e = uniform_floats(static_cast<std::size_t>(N * D * HW), 40, -4.5f, 4.5f);
  for (float& v : z_e) v = std::round(v) / 4.0f;
  // Lowest index among the exact minima, in double (exact here).
  std::vector<int32_t> want(static_cast<std::size_t>(N * HW));
  int ties = 0;
  for (int64_t p = 0; p < N * HW; ++p) {
    const float* z = z_e.data() + (p / HW) * D * HW + p % HW;
    double best = std::numeric_limits<double>::infinity();
    int count = 0;
    for (int64_t k = 0; k < K; ++k) {
      double dist = 0;
      for (int64_t d = 0; d < D; ++d) {
        const double c = codebook[k * D + d];
        dist += c * c - 2 * c * z[d * HW];
      }
      if (dist < best) {
        best = dist;
        want[p] = static_cast<int32_t>(k);
        count = 1;
      } else if (dist == best) {
        ++count;
      }
    }
    ties += count > 1;
  }
  REQUIRE(ties > N * HW / 2);  // most pixels do tie
  std::vector<int32_t> cpu_idx(want.size());
  cpu::vector_quantize_forward<float>(a, z_e.data(), codebook.data(), nullptr, cpu_idx.data(),
                                      nullptr);
  REQUIRE(cpu_idx == want);
  check_all(a, z_e, codebook);
}

TEST_CASE("emulated VQ rounds near-ties as the CPU", "[emu][vq]") {
  // Pixels within rounding of the bisector of two codes, chosen where the FMA-form distances
  // (fma(c2, c2, fma(c1, c1, c0 c0)) + fma(z2, -2 c2, fma(z1, -2 c1, z0 (-2 c0)))) order the
  // two codes differently from the exact ones: there any other rounding of the distances can
  // pick the other code, so the indices pin down how the kernel rounds. The CPU's default build
  // (GCC, -march=native on an FMA machine) contracts its loops into exactly these FMAs; a build
  // that does not gets a warning and the kernel is checked against the FMA form instead.
  const int64_t D = 3, K = 2, HW = 64;
  // Two codes whose ||c||^2 rounds differently with and without FMAs, so that the norms'
  // rounding matters too (the volatile products stop GCC from contracting the plain form).
  std::vector<float> codebook(static_cast<std::size_t>(K * D));
  std::mt19937_64 code_rng(93);
  std::uniform_real_distribution<float> cu(-1.0f, 1.0f);
  auto norms_differ = [&](int64_t k) {
    const float* c = codebook.data() + k * D;
    volatile float p0 = c[0] * c[0], p1 = c[1] * c[1], p2 = c[2] * c[2];
    const float plain = (p0 + p1) + p2;
    return plain != std::fma(c[2], c[2], std::fma(c[1], c[1], c[0] * c[0]));
  };
  do {
    for (float& v : codebook) v = cu(code_rng);
  } while (!norms_differ(0) || !norms_differ(1));
  auto fma_dist = [&](const float* z, int64_t k) {
    const float* c = codebook.data() + k * D;
    const float norm = std::fma(c[2], c[2], std::fma(c[1], c[1], c[0] * c[0]));
    const float dot =
        std::fma(z[2], -2.0f * c[2], std::fma(z[1], -2.0f * c[1], z[0] * (-2.0f * c[0])));
    return norm + dot;
  };
  auto exact_dist = [&](const float* z, int64_t k) {
    long double s = 0;
    for (int64_t d = 0; d < D; ++d) {
      const long double c = codebook[k * D + d];
      s += c * c - 2 * c * z[d];
    }
    return s;
  };
  std::vector<float> z_e(static_cast<std::size_t>(D * HW));
  std::vector<int32_t> want(static_cast<std::size_t>(HW));
  std::mt19937_64 rng(92);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  int64_t found = 0;
  for (int trial = 0; trial < 1000000 && found < HW; ++trial) {
    // A point of the bisector plane, moved off it by about one rounding.
    float z[3];
    const float t[3] = {u(rng), u(rng), u(rng)};
    const float* a = codebook.data();
    const float* b = codebook.data() + D;
    float n[3], dot_tn = 0, nn = 0;
    for (int d = 0; d < 3; ++d) {
      n[d] = b[d] - a[d];
      dot_tn += t[d] * n[d];
      nn += n[d] * n[d];
    }
    const float off = u(rng) * 1e-7f;
    for (int d = 0; d < 3; ++d) z[d] = 0.5f * (a[d] + b[d]) + t[d] - (dot_tn / nn - off) * n[d];
    const float f0 = fma_dist(z, 0), f1 = fma_dist(z, 1);
    const long double e0 = exact_dist(z, 0), e1 = exact_dist(z, 1);
    if ((f1 < f0) == (e1 < e0) && !(f0 == f1 && e0 != e1)) continue;
    for (int d = 0; d < 3; ++d) z_e[d * HW + found] = z[d];
    want[found] = f1 < f0 ? 1 : 0;
    ++found;
  }
  REQUIRE(found == HW);
  const VectorQuantizeArgs a{1, D, HW, K, 0.25};
  std::vector<int32_t> cpu_idx(static_cast<std::size_t>(HW));
  cpu::vector_quantize_forward<float>(a, z_e.data(), codebook.data(), nullptr, cpu_idx.data(),
                                      nullptr);
  if (cpu_idx != want) {
    WARN(
        "the CPU kernel does not round its distances in the FMA form here (a build without "
        "FMA contraction?): checking the emulated kernel against the FMA form instead");
  } else {
    check_all(a, z_e, codebook);
  }
  for_each_order(kOrderSeed, [&] {
    std::vector<int32_t> indices(static_cast<std::size_t>(HW), -1);
    gpu::vector_quantize_forward(a, z_e.data(), codebook.data(), nullptr, indices.data(), nullptr,
                                 nullptr);
    CHECK(indices == want);
  });
}

TEST_CASE("emulated VQ sends NaN pixels to code 0 and inf pixels as the CPU", "[emu][vq]") {
  for (int64_t D : {3, 5}) {
    const VectorQuantizeArgs a{1, D, 7, 300, 0.25};
    const auto codebook = uniform_floats(static_cast<std::size_t>(a.K * D), 50, -1.0f, 1.0f);
    auto z_e = uniform_floats(static_cast<std::size_t>(D * a.HW), 51, -1.0f, 1.0f);
    const float inf = std::numeric_limits<float>::infinity();
    z_e[1] = std::numeric_limits<float>::quiet_NaN();         // pixel 1, d = 0
    z_e[a.HW + 3] = std::numeric_limits<float>::quiet_NaN();  // pixel 3, d = 1
    z_e[4] = inf;  // pixel 4: -inf distances for every code with c0 > 0
    z_e[(D - 1) * a.HW + 5] = -inf;
    std::vector<int32_t> want(static_cast<std::size_t>(a.HW));
    cpu::vector_quantize_forward<float>(a, z_e.data(), codebook.data(), nullptr, want.data(),
                                        nullptr);
    REQUIRE(want[1] == 0);
    REQUIRE(want[3] == 0);
    check_all(a, z_e, codebook, false);
  }
}

TEST_CASE("emulated VQ matches the CPU at the model's codebook size", "[emu][vq]") {
  // K = 4096 x D = 3 (eight tiles), a few pixels of two samples.
  const VectorQuantizeArgs a{2, 3, 5, 4096, 0.25};
  const auto codebook = uniform_floats(static_cast<std::size_t>(a.K * a.D), 60, -1.0f, 1.0f);
  const auto z_e = normal_floats(static_cast<std::size_t>(a.N * a.D * a.HW), 61, 0.7f);
  check_all(a, z_e, codebook);
}

TEST_CASE("emulated VQ matches the CPU with more pixels than an index tile", "[emu][vq]") {
  // 2 x 600 pixels onto 64 codes: the codebook gradient scans two tiles of 1,024 indices and
  // sums about 19 pixels a code.
  for (int64_t D : {3, 5}) {
    const VectorQuantizeArgs a{2, D, 600, 64, 0.25};
    const auto codebook = uniform_floats(static_cast<std::size_t>(a.K * D), 90, -1.0f, 1.0f);
    const auto z_e = uniform_floats(static_cast<std::size_t>(a.N * D * a.HW), 91, -1.0f, 1.0f);
    check_all(a, z_e, codebook);
  }
}

TEST_CASE("emulated VQ skips null outputs", "[emu][vq]") {
  for (int64_t D : {3, 5}) {
    const VectorQuantizeArgs a{2, D, 35, 300, 0.25};
    const auto P = static_cast<std::size_t>(a.N * a.HW), n = P * static_cast<std::size_t>(D);
    const auto z_e = uniform_floats(n, 70 + D, -1.2f, 1.2f);
    const auto codebook = uniform_floats(static_cast<std::size_t>(a.K * D), 80, -1.0f, 1.0f);
    const std::vector<float> dz_q = normal_floats(n, 77);
    const float dloss = 0.9f;
    const Reference r = reference(a, z_e, codebook, dz_q, dloss);
    INFO("D " << D);
    for_each_order(kOrderSeed, [&] {
      std::vector<int32_t> indices(P, -1);
      std::vector<float> z_q(n), loss(1), dz_e(n), dcodebook(codebook.size());
      // Loss alone: the loss kernel searches itself.
      gpu::vector_quantize_forward(a, z_e.data(), codebook.data(), nullptr, nullptr, loss.data(),
                                   nullptr);
      CHECK(within_eps(loss, {r.loss}, {std::abs(r.loss)}, loss_ulps(a)));
      // Loss from the indices.
      loss[0] = 0;
      gpu::vector_quantize_forward(a, z_e.data(), codebook.data(), nullptr, indices.data(),
                                   loss.data(), nullptr);
      CHECK(indices == r.indices);
      CHECK(within_eps(loss, {r.loss}, {std::abs(r.loss)}, loss_ulps(a)));
      gpu::vector_quantize_forward(a, z_e.data(), codebook.data(), z_q.data(), nullptr, nullptr,
                                   nullptr);
      CHECK(bitwise_equal(z_q, r.z_q));
      gpu::vector_quantize_forward(a, z_e.data(), codebook.data(), nullptr, nullptr, nullptr,
                                   nullptr);
      gpu::vector_quantize_backward(a, z_e.data(), codebook.data(), r.indices.data(), dz_q.data(),
                                    &dloss, nullptr, dcodebook.data(), nullptr);
      CHECK(bitwise_equal(dcodebook, r.dcodebook));
      gpu::vector_quantize_backward(a, z_e.data(), codebook.data(), r.indices.data(), dz_q.data(),
                                    &dloss, dz_e.data(), nullptr, nullptr);
      CHECK(within_eps(dz_e, r.dz_e, r.dz_e_scale, 2));
      gpu::vector_quantize_backward(a, z_e.data(), codebook.data(), r.indices.data(), dz_q.data(),
                                    &dloss, nullptr, nullptr, nullptr);
    });
  }
}

}  // namespace
}  // namespace ldm::test
