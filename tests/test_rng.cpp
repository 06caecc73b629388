// Philox4x32-10 against the Random123 known answers, reproducibility of fills across batch
// splits and thread counts, and the distributions the fills claim.
#include <omp.h>

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "core/ops/shape.h"
#include "core/rng.h"

namespace ldm::test {
namespace {

// Restores the OpenMP thread count on scope exit, so a failing check leaves no trace.
class ThreadCountGuard {
 public:
  ThreadCountGuard() : previous_(omp_get_max_threads()) {}
  ~ThreadCountGuard() { omp_set_num_threads(previous_); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int previous_;
};

struct Moments {
  double mean = 0, stddev = 0;
};

Moments moments(const std::vector<double>& v) {
  Moments m;
  for (double x : v) m.mean += x;
  m.mean /= static_cast<double>(v.size());
  double ss = 0;
  for (double x : v) ss += (x - m.mean) * (x - m.mean);
  m.stddev = std::sqrt(ss / static_cast<double>(v.size() - 1));
  return m;
}

TEST_CASE("philox4x32 matches the Random123 philox4x32_10 known-answer vectors", "[rng]") {
  // tests/kat_vectors of Random123: counter words c0..c3, key words k0 k1 -> output words.
  // Our packing: key = k1:k0, counter_lo = c1:c0, counter_hi = c3:c2 (high:low).
  using Words = std::array<uint32_t, 4>;
  CHECK(philox4x32(0, 0, 0) == Words{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
  CHECK(philox4x32(~uint64_t{0}, ~uint64_t{0}, ~uint64_t{0}) ==
        Words{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
  // counter 243f6a88 85a308d3 13198a2e 03707344, key a4093822 299f31d0 (digits of pi).
  CHECK(philox4x32(0x299f31d0a4093822, 0x85a308d3243f6a88, 0x0370734413198a2e) ==
        Words{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("a fill is a pure function of (seed, stream, offset)", "[rng]") {
  Rng rng{1234, 7, 0};
  const Tensor u = rng.uniform({10}, 0.0, 1.0, DType::kF64);
  CHECK(rng.offset == 10);
  for (uint64_t i = 0; i < 10; ++i) CHECK(u.data<double>()[i] == uniform01(1234, 7, i));
  const Tensor n = rng.normal({5}, 0.0, 1.0, DType::kF64);
  CHECK(rng.offset == 15);
  for (uint64_t i = 0; i < 5; ++i) CHECK(n.data<double>()[i] == standard_normal(1234, 7, 10 + i));

  // Consecutive fills differ; another stream or seed gives other numbers.
  Rng a{1, 0, 0}, b{1, 1, 0}, c{2, 0, 0};
  const std::vector<float> a1 = a.uniform({64}).to_vector<float>();
  CHECK(a1 != a.uniform({64}).to_vector<float>());
  CHECK(a1 != b.uniform({64}).to_vector<float>());
  CHECK(a1 != c.uniform({64}).to_vector<float>());
  // A restored state continues exactly where it stopped.
  Rng restored{1, 0, 0};
  CHECK(restored.uniform({64}).to_vector<float>() == a1);
}

TEST_CASE("one fill of 1000 equals fills of 400 and 600 concatenated", "[rng]") {
  const auto check_split = [](auto fill) {
    Rng whole{99, 3, 17}, split{99, 3, 17};
    const Tensor all = fill(whole, Shape{1000});
    const Tensor first = fill(split, Shape{400});
    const Tensor second = fill(split, Shape{600});
    CHECK(whole.offset == 17 + 1000);
    CHECK(split.offset == whole.offset);
    const Tensor parts[] = {first, second};
    const bool is_int = all.dtype() == DType::kI32;
    if (is_int) {
      std::vector<int32_t> joined = first.to_vector<int32_t>();
      for (int32_t v : second.to_vector<int32_t>()) joined.push_back(v);
      CHECK(joined == all.to_vector<int32_t>());
    } else {
      CHECK(ops::concat(parts, 0).to_vector<double>() == all.to_vector<double>());
    }
  };
  check_split([](Rng& r, const Shape& s) { return r.uniform(s, -1, 1); });
  check_split([](Rng& r, const Shape& s) { return r.normal(s, 0, 1, DType::kF64); });
  check_split([](Rng& r, const Shape& s) { return r.randint(s, 1000); });
  // The split is by element count, not shape: [10, 100] equals [1000] reshaped.
  Rng flat{5, 0, 0}, shaped{5, 0, 0};
  CHECK(flat.normal({1000}).to_vector<float>() == shaped.normal({10, 100}).to_vector<float>());
}

TEST_CASE("a fill is identical with 1 and 2 OpenMP threads", "[rng]") {
  ThreadCountGuard guard;
  // Large enough that parallel_for really splits the loop (n * 32 >= 2^14).
  const Shape shape = {100003};
  omp_set_num_threads(1);
  Rng r1{77, 2, 5};
  const std::vector<float> n1 = r1.normal(shape).to_vector<float>();
  const std::vector<float> u1 = r1.uniform(shape).to_vector<float>();
  const std::vector<int32_t> i1 = r1.randint(shape, 10).to_vector<int32_t>();
  omp_set_num_threads(2);
  Rng r2{77, 2, 5};
  CHECK(n1 == r2.normal(shape).to_vector<float>());
  CHECK(u1 == r2.uniform(shape).to_vector<float>());
  CHECK(i1 == r2.randint(shape, 10).to_vector<int32_t>());
}

TEST_CASE("normal() has mean 0 and standard deviation 1", "[rng]") {
  // n = 1e5 standard normals: the sample mean has sd 1/sqrt(n) = 0.0032 and the sample sd
  // has sd ~ 1/sqrt(2n) = 0.0022; the bounds are 5 sd (a false alarm below 1e-6 per check,
  // and the seed is fixed anyway). P(|x| < 1) = 0.6827 and P(|x| < 2) = 0.9545 catch a
  // right-moments-wrong-shape bug; their sds are 0.0015 and 0.00066.
  const int64_t n = 100000;
  for (DType dtype : {DType::kF32, DType::kF64}) {
    Rng rng{2024, 0, 0};
    const std::vector<double> v = rng.normal({n}, 0.0, 1.0, dtype).to_vector<double>();
    const Moments m = moments(v);
    INFO(dtype_name(dtype) << " mean " << m.mean << ", sd " << m.stddev);
    CHECK(std::abs(m.mean) < 5 * 0.0032);
    CHECK(std::abs(m.stddev - 1) < 5 * 0.0022);
    const auto fraction_within = [&](double r) {
      return static_cast<double>(
                 std::count_if(v.begin(), v.end(), [r](double x) { return std::abs(x) < r; })) /
             static_cast<double>(n);
    };
    CHECK(std::abs(fraction_within(1.0) - 0.682689) < 5 * 0.00147);
    CHECK(std::abs(fraction_within(2.0) - 0.954500) < 5 * 0.00066);
    CHECK(std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); }));
  }
  // mean and stddev arguments shift and scale.
  Rng rng{2024, 1, 0};
  const Moments m = moments(rng.normal({n}, 3.0, 0.5, DType::kF64).to_vector<double>());
  CHECK(std::abs(m.mean - 3.0) < 5 * 0.5 * 0.0032);
  CHECK(std::abs(m.stddev - 0.5) < 5 * 0.5 * 0.0022);
}

TEST_CASE("uniform() stays in [low, high) and is flat", "[rng]") {
  const int64_t n = 100000;
  for (DType dtype : {DType::kF32, DType::kF64}) {
    Rng rng{8, 0, 0};
    const std::vector<double> v = rng.uniform({n}, -2.0, 3.0, dtype).to_vector<double>();
    INFO(dtype_name(dtype));
    CHECK(*std::min_element(v.begin(), v.end()) >= -2.0);
    CHECK(*std::max_element(v.begin(), v.end()) < 3.0);
    // Width 5: mean 0.5 with sd 5 / sqrt(12 n) = 0.0046; the sample sd 5 / sqrt(12) = 1.443
    // has sd sqrt((mu4 - sigma^4) / n) / (2 sigma) = 0.0020 (mu4 = 5^4 / 80); 5 sd bounds.
    const Moments m = moments(v);
    CHECK(std::abs(m.mean - 0.5) < 5 * 0.0046);
    CHECK(std::abs(m.stddev - 5 / std::sqrt(12.0)) < 5 * 0.0020);
    // Ten equal bins, 1e4 expected each (sd ~95): none off by more than 5 sd.
    std::array<int, 10> bins{};
    for (double x : v) ++bins[static_cast<size_t>(std::min(9.0, (x + 2.0) * 2.0))];
    for (int count : bins) CHECK(std::abs(count - 10000) < 5 * 95);
  }
}

TEST_CASE("uniform() in f32 never returns high, even when the double rounds up", "[rng]") {
  // At this index uniform01 is within 2^-25 of 1, so a double computed value rounds to
  // 1.0f when it is only cast to float; [0, 1) must still hold (torch.rand had this bug).
  const uint64_t seed = 7, index = 20922799;
  const double u = uniform01(seed, 0, index);
  REQUIRE(u < 1.0);
  REQUIRE(static_cast<float>(u) == 1.0f);  // the case this test is about
  Rng rng{seed, 0, index};
  CHECK(rng.uniform({1}).item() < 1.0);
  Rng wide{seed, 0, index};
  CHECK(wide.uniform({1}, -1.0, 1.0).item() < 1.0);
}

TEST_CASE("randint() covers [0, bound) evenly", "[rng]") {
  const int32_t bound = 7;
  const int64_t n = 70000;
  Rng rng{31, 4, 0};
  const Tensor t = rng.randint({n}, bound);
  CHECK(t.dtype() == DType::kI32);
  std::array<int64_t, bound> counts{};
  int64_t outside = 0;
  for (int32_t v : t.to_vector<int32_t>()) {
    if (v < 0 || v >= bound)
      ++outside;
    else
      ++counts[static_cast<size_t>(v)];
  }
  REQUIRE(outside == 0);
  // Pearson chi-square, 6 degrees of freedom: P(chi2 > 40) ~ 5e-7.
  double chi2 = 0;
  for (int64_t c : counts) chi2 += (c - 10000.0) * (c - 10000.0) / 10000.0;
  INFO("chi-square " << chi2);
  CHECK(chi2 < 40);

  Rng one{1, 0, 0};
  const std::vector<int32_t> zeros = one.randint({100}, 1).to_vector<int32_t>();
  CHECK(std::all_of(zeros.begin(), zeros.end(), [](int32_t v) { return v == 0; }));
  CHECK_THROWS_AS(one.randint({3}, 0), Error);
  CHECK_THROWS_AS(one.randint({3}, -5), Error);
}

}  // namespace
}  // namespace ldm::test
