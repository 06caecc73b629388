#include "tools/device.h"

#include "core/check.h"

#if LDM_HAVE_CUDA_RUNTIME
#include <cuda_runtime_api.h>
#endif

namespace ldm::tools {

const std::map<std::string, DeviceChoice>& device_names() {
  static const std::map<std::string, DeviceChoice> names{
      {"cpu", DeviceChoice::kCpu}, {"cuda", DeviceChoice::kCuda}, {"emu", DeviceChoice::kEmu}};
  return names;
}

std::string cuda_unavailable_reason() {
#if LDM_HAVE_CUDA_RUNTIME
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaErrorInsufficientDriver || status == cudaErrorNoDevice) {
    // Without a driver the runtime reports a version mismatch, which misleads.
    return std::string("no NVIDIA driver or GPU on this machine (the CUDA runtime says: ") +
           cudaGetErrorString(status) + ")";
  }
  if (status != cudaSuccess) return cudaGetErrorString(status);
  if (count == 0) return "the CUDA runtime finds no device";
  return "";
#else
  return "this build has no CUDA backend (nvcc was not found when it was configured; see "
         "LDM_CUDA in CMakeLists.txt)";
#endif
}

void require_device(DeviceChoice device) {
  switch (device) {
    case DeviceChoice::kCpu: return;
    case DeviceChoice::kCuda: {
      const std::string reason = cuda_unavailable_reason();
      if (!reason.empty()) fail("--device cuda: no usable CUDA GPU: ", reason, "; use --device cpu");
      fail("--device cuda: the CUDA backend does not run the models yet (only its kernel tests "
           "exist); use --device cpu");
    }
    case DeviceChoice::kEmu:
      fail("--device emu: the emulated CUDA device does not run the models yet (the SIMT "
           "emulator runs the kernel tests only); use --device cpu");
  }
}

}  // namespace ldm::tools
