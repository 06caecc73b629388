// An in-memory labelled image set, the common result of every loader in data/: images already
// resized and scaled to [-1, 1], ready for batching.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ldm::data {

struct ImageDataset {
  Tensor images;                         // [N, 1, H, W] f32 in [-1, 1]
  std::vector<int32_t> labels;           // [N], each in [0, label_names.size())
  std::vector<std::string> label_names;  // label i's name ("normal", "pneumonia", a folder)

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  // How many images carry each label, indexed like label_names.
  std::vector<int64_t> label_counts() const {
    std::vector<int64_t> counts(label_names.size(), 0);
    for (int32_t label : labels) ++counts[static_cast<size_t>(label)];
    return counts;
  }
};

}  // namespace ldm::data
