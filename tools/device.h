// --device for ldm-train and ldm-sample: the backend that runs the models. Only the CPU does so
// far; the CUDA kernels exist in part (kernels/cuda) and run only in the kernel tests, through
// the SIMT emulator. Asking for another device stops with one line saying why, before anything
// is read or written.
#pragma once

#include <map>
#include <string>

namespace ldm::tools {

enum class DeviceChoice { kCpu, kCuda, kEmu };

// For CLI11's CheckedTransformer: "cpu", "cuda", "emu".
const std::map<std::string, DeviceChoice>& device_names();

// Throws ldm::Error (one line) unless the models can run on `device` here.
void require_device(DeviceChoice device);

// Why no CUDA GPU can be used here ("" when one can): no CUDA backend in this build, or the
// CUDA runtime's own reason (no driver, no device).
std::string cuda_unavailable_reason();

}  // namespace ldm::tools
