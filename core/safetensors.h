// safetensors files: an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw little-endian data. Python reads them with the
// `safetensors` package or a few lines of NumPy, which is how the PyTorch checks exchange data.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ldm {

struct SafetensorsContents {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;  // the optional "__metadata__" entry
};

// Writes atomically: a temporary file beside `path`, fsync, then rename over `path`, so a
// crash never leaves a half-written file in place of a good one. Throws ldm::Error.
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads and validates the whole file; every problem (missing, truncated, bad header, bad
// offsets, unknown dtype) is an ldm::Error naming the file.
SafetensorsContents load_safetensors(const std::string& path);

}  // namespace ldm
