// Every case of the op harness once more on the emulated CUDA device (--device emu: the
// kernels/cuda launchers through the SIMT emulator), against the CPU backend's float path, in
// forward, reverse and shuffled thread order. Prints how many ops and cases ran.
#include <catch2/catch.hpp>

#include <iostream>
#include <set>

#include "kernels/emu/runtime.h"
#include "tests/op_harness.h"

namespace ldm::test {
namespace {

constexpr emu::ThreadOrder kOrders[] = {emu::ThreadOrder::kForward, emu::ThreadOrder::kReverse,
                                        emu::ThreadOrder::kShuffled};

// Runs check() under each thread order (blocks permuted too when shuffled).
template <typename Check>
void in_each_order(const std::string& label, Check&& check) {
  for (const emu::ThreadOrder order : kOrders) {
    emu::LaunchOptions options;
    options.order = order;
    options.permute_blocks = order == emu::ThreadOrder::kShuffled;
    options.seed = std::hash<std::string>{}(label);
    emu::set_launch_options(options);
    INFO(label << ", " << emu::to_string(order) << " thread order");
    // One failing case (a kernel error, an unsupported dtype) must not hide the others.
    try {
      check();
    } catch (const std::exception& e) {
      FAIL_CHECK("threw: " << e.what());
    }
  }
  emu::set_launch_options({});
}

std::string case_label(OpKind op, const std::string& name) {
  return std::string(op_name(op)) + " / " + name;
}

TEST_CASE("every op case runs on the emulated CUDA device and matches the CPU", "[emu_ops]") {
  std::set<OpKind> ops;
  int cases = 0;
  for (const OpCase& c : op_cases()) {
    const std::string label = case_label(c.op, c.name);
    in_each_order(label, [&] {
      const GradcheckResult r = device_matches_cpu(c, Device::emu());
      INFO(r.worst << " (max abs error " << r.max_abs_error << ")");
      CHECK(r.ok);
      CHECK(r.elements_checked > 0);
    });
    ops.insert(c.op);
    ++cases;
  }
  for (const ReferenceCase& c : reference_cases()) {
    if (c.dtype != DType::kF32) continue;  // the CUDA kernels are float only
    in_each_order(case_label(c.op, c.name), [&] {
      DefaultDeviceGuard on_emu(Device::emu());
      c.check();
    });
    ops.insert(c.op);
    ++cases;
  }
  std::cout << "emulated CUDA device: " << ops.size() << " of " << kOpCount
            << " ops run through kernels/cuda in " << cases
            << " cases x 3 thread orders, each against the CPU backend\n";
  CHECK(static_cast<int>(ops.size()) == kOpCount);
}

}  // namespace
}  // namespace ldm::test
