// Image files in and out: decoding users' PNG/JPEG (stb_image), PNG grids with text metadata
// (stb_image_write plus our own tEXt/iTXt chunks) and animated grayscale GIFs (giflib). Every
// write is atomic (temporary file, fsync, rename).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ldm::data {

struct DecodedImage {
  std::vector<uint8_t> pixels;  // [H, W, C] interleaved
  int64_t H = 0, W = 0, C = 0;
};

// Decodes any format stb_image reads (PNG, JPEG, BMP, GIF's first frame, PNM, TGA), converted
// to `channels` channels (1 = grayscale by ITU-R 601 luma weights, 3 = RGB). 16-bit images
// are reduced to 8 bits. Unreadable or undecodable files are an ldm::Error naming the file.
DecodedImage read_image(const std::string& path, int channels = 1);

using PngMetadata = std::map<std::string, std::string>;

// image: [H, W] or [C, H, W] with C = 1 (grayscale) or 3 (RGB); f32/f64 in [-1, 1] (clamped)
// or i32 holding 0..255. Each metadata entry becomes a tEXt chunk (an iTXt chunk when the
// value has non-ASCII bytes, taken as UTF-8); keys are 1-79 printable ASCII characters without
// leading, trailing or double spaces, as the PNG spec requires.
void write_png(const std::string& path, const Tensor& image, const PngMetadata& metadata = {});
// The same from interleaved bytes [H, W, C].
void write_png_u8(const std::string& path, std::span<const uint8_t> pixels, int64_t H, int64_t W,
                  int64_t C, const PngMetadata& metadata = {});

// images [N, C, H, W] -> one [C, rows * (H + padding) + padding, cols * (W + padding) + padding]
// image with cols = min(nrow, N) images per row, as torchvision.utils.make_grid lays it out.
// Padding and empty cells hold pad_value (-1: black in [-1, 1] images).
Tensor make_grid(const Tensor& images, int64_t nrow = 8, int64_t padding = 2,
                 double pad_value = -1.0);

// An animated GIF with a 256-level grayscale palette. Each frame is [H, W], [1, H, W] or
// [1, 1, H, W], all the same size, valued like write_png's images. delay_cs is the time per
// frame in hundredths of a second. loop_count 0 loops forever, n > 0 repeats n more times
// (the NETSCAPE2.0 extension), n < 0 plays once (no extension).
void write_gif(const std::string& path, std::span<const Tensor> frames, int delay_cs = 10,
               int loop_count = 0);

}  // namespace ldm::data
