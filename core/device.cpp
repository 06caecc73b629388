// Device names, the default device, and byte copies between devices. The CUDA runtime is reached
// only through core/cuda/runtime.h, which exists in builds with nvcc (LDM_HAVE_CUDA).
#include "core/device.h"

#include <atomic>
#include <cstring>

#include "core/check.h"
#ifdef LDM_HAVE_CUDA
#include "core/cuda/runtime.h"
#endif

namespace ldm {
namespace {

std::atomic<Device> g_default_device{Device::cpu()};

#ifndef LDM_HAVE_CUDA
[[noreturn]] void no_cuda_build(Device device) {
  fail("device ", device.name(), ": ", device_unavailable_reason(device));
}
#endif

}  // namespace

std::string Device::name() const {
  switch (kind) {
    case DeviceKind::kCpu: return "cpu";
    case DeviceKind::kCuda: return "cuda:" + std::to_string(index);
    case DeviceKind::kEmu: return "emu";
  }
  return "?";
}

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "emu") return Device::emu();
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0) {
    try {
      return Device::cuda(std::stoi(text.substr(5)));
    } catch (const std::exception&) {
    }
  }
  fail("unknown device '", text, "': expected cpu, cuda, cuda:N or emu");
}

Device default_device() { return g_default_device.load(); }
void set_default_device(Device device) { g_default_device.store(device); }

std::string device_unavailable_reason(Device device) {
  switch (device.kind) {
    case DeviceKind::kCpu: return "";
    case DeviceKind::kEmu:
#ifdef LDM_HAVE_EMU
      return "";
#else
      return "this build has no SIMT emulator (configured with -DLDM_EMU=OFF)";
#endif
    case DeviceKind::kCuda:
#ifdef LDM_HAVE_CUDA
      return cuda_runtime::unavailable_reason(device.index);
#else
      return "this build has no CUDA backend (nvcc was not found when it was configured)";
#endif
  }
  return "unknown device";
}

void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes) {
  if (bytes == 0) return;
  if (host_accessible(dst_device) && host_accessible(src_device)) {
    std::memcpy(dst, src, bytes);
    return;
  }
#ifdef LDM_HAVE_CUDA
  cuda_runtime::copy(dst, host_accessible(dst_device), src, host_accessible(src_device), bytes);
#else
  no_cuda_build(host_accessible(dst_device) ? src_device : dst_device);
#endif
}

void zero_bytes(void* dst, Device device, size_t bytes) {
  if (bytes == 0) return;
  if (host_accessible(device)) {
    std::memset(dst, 0, bytes);
    return;
  }
#ifdef LDM_HAVE_CUDA
  cuda_runtime::zero(dst, bytes);
#else
  no_cuda_build(device);
#endif
}

void synchronize(Device device) {
  if (host_accessible(device)) return;  // cpu and emu work runs to completion in the call
#ifdef LDM_HAVE_CUDA
  cuda_runtime::synchronize();
#else
  no_cuda_build(device);
#endif
}

}  // namespace ldm
