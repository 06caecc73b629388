// --device for ldm-train and ldm-sample: where the models run. cpu is the fast default; cuda is
// a GPU; emu runs the CUDA kernels through the SIMT emulator on the CPU (slow: for checking and
// debugging the CUDA path without a GPU). An unusable device stops the tool with one line saying
// why, before anything is read or written.
#pragma once

#include <map>
#include <string>

#include "core/device.h"

namespace ldm::tools {

enum class DeviceChoice { kCpu, kCuda, kEmu };

// For CLI11's CheckedTransformer: "cpu", "cuda", "emu".
const std::map<std::string, DeviceChoice>& device_names();

// Checks that `choice` can run here (throws ldm::Error, one line, when not) and makes it the
// default device, so that the models' parameters, RNG draws and loaded checkpoints live there.
Device use_device(DeviceChoice choice);

}  // namespace ldm::tools
