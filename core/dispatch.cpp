// Dispatch tables, generated from LDM_OPS. Adding an op to the list without a CPU
// implementation is a link error here.
#include "core/dispatch.h"

#include <array>
#include <chrono>

#include "core/backend_cpu/cpu_ops.h"
#include "core/op_profile.h"

namespace ldm {
namespace {

#define LDM_BACKWARD_kYes(ns, snake) &ns::snake##_backward
#define LDM_BACKWARD_kNo(ns, snake) nullptr
#define LDM_CPU_ENTRY(Camel, snake, grad) \
  OpImpl{&cpu_backend::snake##_forward, LDM_BACKWARD_##grad(cpu_backend, snake)},

constexpr std::array<OpImpl, kOpCount> kCpuOps = {LDM_OPS(LDM_CPU_ENTRY)};

#undef LDM_CPU_ENTRY

const OpImpl& op_impl(OpKind op, Device device) {
  switch (device.kind) {
    case DeviceKind::kCpu: return kCpuOps[static_cast<size_t>(op)];
    default:
      fail(op_name(op), ": device ", device.name(), " is not available in this build (only cpu)");
  }
}

}  // namespace

void run_op(OpKind op, Pass pass, Device device, std::span<const Tensor> in,
            std::span<const Tensor> out, const void* params) {
  const OpImpl& impl = op_impl(op, device);
  const OpFn fn = pass == Pass::kForward ? impl.forward : impl.backward;
  LDM_CHECK(fn != nullptr, op_name(op), " has no ",
            pass == Pass::kForward ? "forward" : "backward", " on ", device.name());
  if (!op_profiling_enabled()) {
    fn(OpCall{in, out, params});
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  fn(OpCall{in, out, params});
  record_op_time(op, pass,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void run_op(OpKind op, Pass pass, Device device, std::initializer_list<Tensor> in,
            std::initializer_list<Tensor> out, const void* params) {
  run_op(op, pass, device, std::span<const Tensor>(in.begin(), in.size()),
         std::span<const Tensor>(out.begin(), out.size()), params);
}

}  // namespace ldm
