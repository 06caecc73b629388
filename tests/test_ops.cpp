// Runs every registered op case through the harness, and checks that every op of LDM_OPS has
// at least one case.
#include <catch2/catch.hpp>

#include <omp.h>

#include <iostream>
#include <cstring>
#include <map>

#include "tests/op_harness.h"

namespace ldm::test {
namespace {

std::string case_label(OpKind op, const std::string& name) {
  return std::string(op_name(op)) + " / " + name;
}

TEST_CASE("every op has test cases", "[ops][coverage]") {
  std::map<OpKind, int> gradient_cases, reference;
  for (const OpCase& c : op_cases()) ++gradient_cases[c.op];
  for (const ReferenceCase& c : reference_cases()) ++reference[c.op];
  int covered = 0, by_gradient = 0, by_reference = 0;
  for (int i = 0; i < kOpCount; ++i) {
    const auto op = static_cast<OpKind>(i);
    const bool has_gradient = gradient_cases[op] > 0, has_reference = reference[op] > 0;
    INFO("op " << op_name(op));
    if (op_has_backward(op))
      CHECK(has_gradient);  // a differentiable op needs a finite-difference check
    else
      CHECK(has_reference);  // an update op needs a reference check
    covered += (op_has_backward(op) ? has_gradient : has_reference) ? 1 : 0;
    by_gradient += has_gradient ? 1 : 0;
    by_reference += has_reference ? 1 : 0;
  }
  std::cout << "op harness: " << covered << " of " << kOpCount << " ops covered ("
            << by_gradient << " by finite-difference gradient checks in "
            << op_cases().size() << " cases, " << by_reference
            << " update ops by double-precision reference checks in "
            << reference_cases().size() << " cases)\n";
  CHECK(covered == kOpCount);
}

TEST_CASE("op gradients match finite differences in double precision", "[ops][gradcheck]") {
  for (const OpCase& c : op_cases()) {
    const GradcheckResult r = gradcheck(c);
    INFO(case_label(c.op, c.name) << ": " << r.worst << " (max abs error " << r.max_abs_error
                                  << ", " << r.elements_checked << " elements)");
    CHECK(r.ok);
    CHECK(r.elements_checked > 0);
  }
}

TEST_CASE("op results are bitwise identical with 1, 2 and 3 OpenMP threads", "[ops][threads]") {
  // Resuming a run must reproduce its losses exactly on a machine with another core count, so
  // no kernel may let the thread count change a rounding (e.g. by splitting a sum per thread).
  const int previous = omp_get_max_threads();
  for (const OpCase& c : op_cases()) {
    std::vector<std::vector<float>> first;
    for (int threads : {1, 2, 3}) {
      omp_set_num_threads(threads);
      const std::vector<Tensor> results = outputs_and_gradients(c, DType::kF32);
      for (size_t i = 0; i < results.size(); ++i) {
        const std::vector<float> v =
            results[i].defined() ? results[i].to_vector<float>() : std::vector<float>{};
        if (threads == 1) {
          first.push_back(v);
          continue;
        }
        INFO(case_label(c.op, c.name) << ", result " << i << ", " << threads << " threads");
        CHECK(std::memcmp(v.data(), first[i].data(), v.size() * sizeof(float)) == 0);
      }
    }
  }
  omp_set_num_threads(previous);
}

TEST_CASE("op float path matches the double path", "[ops][float]") {
  for (const OpCase& c : op_cases()) {
    const GradcheckResult r = float_matches_double(c);
    INFO(case_label(c.op, c.name) << ": " << r.worst << " (max abs error " << r.max_abs_error
                                  << ")");
    CHECK(r.ok);
  }
}

TEST_CASE("update ops match their double-precision references", "[ops][reference]") {
  for (const ReferenceCase& c : reference_cases()) {
    INFO(case_label(c.op, c.name));
    c.check();
  }
}

}  // namespace
}  // namespace ldm::test
