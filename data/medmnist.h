// MedMNIST datasets from the .npz files the `medmnist` Python package downloads: keys
// `<split>_images` (uint8 N x H x W) and `<split>_labels` (integers, N x 1 or N).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "data/dataset.h"

namespace ldm::data {

inline constexpr const char* kDefaultMedmnistFile = "pneumoniamnist.npz";

// Where the dataset is, in this order:
//   1. flag_value (the --data flag), a file or a directory holding `file_name`;
//   2. $MEDMNIST_ROOT, a directory holding `file_name` (the medmnist package's `root`), or the
//      file itself;
//   3. ~/.medmnist/`file_name`, where the medmnist package downloads it.
// A --data value that names nothing is an error at once rather than a silent fall-back to
// another copy. When nothing is found the ldm::Error lists all three places and what was
// wrong with each.
std::string find_medmnist(const std::string& flag_value,
                          const std::string& file_name = kDefaultMedmnistFile);

// Loads one split ("train", "val" or "test") as [N, 1, target_size, target_size] f32 in
// [-1, 1] (bilinear resize as PyTorch's interpolate(align_corners=False); target_size <= 0
// keeps the stored size). Every problem with the file is an ldm::Error naming it: missing,
// not a zip, truncated, missing key, wrong dtype or shape, mismatched counts, Fortran order,
// bad .npy header. Label names are "normal"/"pneumonia" for PneumoniaMNIST (recognised by the
// file name) and "0", "1", ... otherwise.
ImageDataset load_medmnist(const std::string& path, std::string_view split,
                           int64_t target_size = 32);

}  // namespace ldm::data
