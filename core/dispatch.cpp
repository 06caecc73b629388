// Dispatch tables, generated from LDM_OPS. Adding an op to the list without a CPU
// implementation is a link error here, and so is one without a CUDA adapter in a build with the
// emulator or nvcc (core/backend_cuda/backend.cpp builds those tables).
#include "core/dispatch.h"

#include <array>
#include <chrono>

#include "core/backend_cpu/cpu_ops.h"
#include "core/op_profile.h"

namespace ldm {

// The CUDA backend's tables: core/backend_cuda compiled against the emulator (emu) and against
// the CUDA runtime (gpu); see core/backend_cuda/cuda_ops.h.
#ifdef LDM_HAVE_EMU
namespace cuda_backend::emu {
const OpImpl* op_table();
}
#endif
#ifdef LDM_HAVE_CUDA
namespace cuda_backend::gpu {
const OpImpl* op_table();
}
#endif

namespace {

#define LDM_BACKWARD_kYes(ns, snake) &ns::snake##_backward
#define LDM_BACKWARD_kNo(ns, snake) nullptr
#define LDM_CPU_ENTRY(Camel, snake, grad) \
  OpImpl{&cpu_backend::snake##_forward, LDM_BACKWARD_##grad(cpu_backend, snake)},

constexpr std::array<OpImpl, kOpCount> kCpuOps = {LDM_OPS(LDM_CPU_ENTRY)};

#undef LDM_CPU_ENTRY

const OpImpl& op_impl(OpKind op, Device device) {
  const auto i = static_cast<size_t>(op);
  switch (device.kind) {
    case DeviceKind::kCpu: return kCpuOps[i];
    case DeviceKind::kEmu:
#ifdef LDM_HAVE_EMU
      return cuda_backend::emu::op_table()[i];
#else
      break;
#endif
    case DeviceKind::kCuda:
#ifdef LDM_HAVE_CUDA
      return cuda_backend::gpu::op_table()[i];
#else
      break;
#endif
  }
  fail(op_name(op), ": device ", device.name(), ": ", device_unavailable_reason(device));
}

// Kernels get raw pointers, so a tensor on another device would be read as garbage (or fault).
void require_one_device(OpKind op, Device device, std::span<const Tensor> tensors,
                        const char* role) {
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].defined() && tensors[i].device() != device)
      fail(op_name(op), ": ", role, " ", i, " is on ", tensors[i].device().name(),
           " but the op runs on ", device.name(), " (move it with .to(device))");
}

}  // namespace

void run_op(OpKind op, Pass pass, Device device, std::span<const Tensor> in,
            std::span<const Tensor> out, const void* params) {
  require_one_device(op, device, in, "input");
  require_one_device(op, device, out, "output");
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
