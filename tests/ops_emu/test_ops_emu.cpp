// Every case of the op harness once more on the emulated CUDA device (--device emu: the
// kernels/cuda launchers through the SIMT emulator), against the CPU backend's float path, in
// forward, reverse and shuffled thread order. Prints how many ops and cases ran.
#include <catch2/catch.hpp>

#include <iostream>
#include <set>

#include "core/allocator.h"
#include "core/rng.h"
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

TEST_CASE("tensors move between the cpu and the emulated device", "[emu_ops]") {
  const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor on_emu = x.to(Device::emu());
  CHECK(on_emu.device() == Device::emu());
  CHECK(on_emu.raw_data() != x.raw_data());  // a copy, in the emulated device's own memory
  CHECK(on_emu.to_vector<float>() == x.to_vector<float>());
  CHECK(on_emu.to(Device::emu()).raw_data() == on_emu.raw_data());  // already there: no copy
  const Tensor back = on_emu.to(Device::cpu());
  CHECK(back.device() == Device::cpu());
  CHECK(back.to_vector<float>() == x.to_vector<float>());

  const int64_t emu_before = allocator_for(Device::emu()).stats().allocations;
  const int64_t cpu_before = allocator_for(Device::cpu()).stats().allocations;
  {
    DefaultDeviceGuard on(Device::emu());
    const Tensor made = Tensor::zeros({4});
    CHECK(made.device() == Device::emu());
    CHECK(Rng{1, 2, 3}.normal({5}).device() == Device::emu());
  }
  CHECK(default_device() == Device::cpu());
  CHECK(allocator_for(Device::emu()).stats().allocations > emu_before);
  // The RNG fills on the host, then copies: one CPU allocation; zeros makes none there.
  CHECK(allocator_for(Device::cpu()).stats().allocations == cpu_before + 1);
}

TEST_CASE("an op refuses tensors on two devices, and f64 on the emulated device", "[emu_ops]") {
  const Tensor a = Tensor::full({3}, 1.0), b = Tensor::full({3}, 2.0, DType::kF32, Device::emu());
  CHECK_THROWS_WITH(ops::add(a, b), Catch::Contains("add: b is on emu but a is on cpu"));
  const Tensor d = Tensor::full({3}, 1.0, DType::kF64, Device::emu());
  CHECK_THROWS_WITH(ops::silu(d), Catch::Contains("the CUDA kernels run f32 only"));
}

}  // namespace
}  // namespace ldm::test
