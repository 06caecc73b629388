// PNG: stb_image_write encodes into memory, then our text chunks go in right after IHDR (the
// spec allows tEXt anywhere between IHDR and IEND; early means readers that stop at the image
// data still see them). GIF: giflib's encoder writes into memory through its output callback.
// Both files then reach disk through write_file_atomic.
#include "data/image_io.h"

#include <gif_lib.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "data/atomic_file.h"
#include "data/transforms.h"

namespace ldm::data {
namespace {

void put_u32_be(uint8_t* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}

// One PNG chunk: length, type, data, CRC-32 of type and data. Sized up front and filled by
// index (push_back here trips GCC 12's -Wstringop-overflow false positive).
std::vector<uint8_t> png_chunk(const char type[4], const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out(4 + 4 + data.size() + 4);
  put_u32_be(out.data(), static_cast<uint32_t>(data.size()));
  std::memcpy(out.data() + 4, type, 4);
  if (!data.empty()) std::memcpy(out.data() + 8, data.data(), data.size());
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, out.data() + 4, static_cast<uInt>(4 + data.size()));
  put_u32_be(out.data() + 8 + data.size(), static_cast<uint32_t>(crc));
  return out;
}

void check_png_key(const std::string& path, const std::string& key) {
  const bool length_ok = !key.empty() && key.size() <= 79;
  const bool chars_ok =
      std::all_of(key.begin(), key.end(), [](char c) { return c >= 32 && c <= 126; });
  const bool spaces_ok = !key.empty() && key.front() != ' ' && key.back() != ' ' &&
                         key.find("  ") == std::string::npos;
  if (!length_ok || !chars_ok || !spaces_ok)
    fail("cannot write ", path, ": PNG metadata key '", key,
         "' must be 1-79 printable ASCII characters without leading, trailing or double spaces");
}

std::vector<uint8_t> text_chunk(const std::string& path, const std::string& key,
                                const std::string& value) {
  check_png_key(path, key);
  if (value.find('\0') != std::string::npos)
    fail("cannot write ", path, ": PNG metadata value of '", key, "' contains a NUL byte");
  std::vector<uint8_t> data(key.begin(), key.end());
  data.push_back(0);
  const bool ascii = std::all_of(value.begin(), value.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) {
    data.insert(data.end(), value.begin(), value.end());
    return png_chunk("tEXt", data);
  }
  // iTXt: compression flag 0, method 0, empty language tag and translated keyword, UTF-8 text.
  for (int i = 0; i < 4; ++i) data.push_back(0);
  data.insert(data.end(), value.begin(), value.end());
  return png_chunk("iTXt", data);
}

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* p = static_cast<const uint8_t*>(data);
  out->insert(out->end(), p, p + size);
}

int gif_output(GifFileType* gif, const GifByteType* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(gif->UserData);
  out->insert(out->end(), data, data + size);
  return size;
}

// [H, W] / [1, H, W] / [1, 1, H, W] -> (H, W), or an error naming the frame.
void frame_size(const std::string& path, const Tensor& frame, size_t index, int64_t& H,
                int64_t& W) {
  const Shape& s = frame.shape();
  const size_t r = s.size();
  bool ok = r >= 2 && r <= 4;
  for (size_t i = 0; ok && i + 2 < r; ++i) ok = s[i] == 1;
  if (!ok)
    fail("cannot write ", path, ": GIF frame ", index,
         " must be [H, W], [1, H, W] or "
         "[1, 1, H, W] (grayscale), not ",
         frame.description());
  H = s[r - 2];
  W = s[r - 1];
}

}  // namespace

DecodedImage read_image(const std::string& path, int channels) {
  LDM_CHECK(channels == 1 || channels == 3, "read_image: channels must be 1 or 3");
  int w = 0, h = 0, stored = 0;
  uint8_t* pixels = stbi_load(path.c_str(), &w, &h, &stored, channels);
  if (pixels == nullptr) fail(path, ": cannot decode image (", stbi_failure_reason(), ")");
  DecodedImage out;
  out.H = h;
  out.W = w;
  out.C = channels;
  out.pixels.assign(pixels, pixels + static_cast<size_t>(w) * static_cast<size_t>(h) *
                                         static_cast<size_t>(channels));
  stbi_image_free(pixels);
  return out;
}

void write_png_u8(const std::string& path, std::span<const uint8_t> pixels, int64_t H, int64_t W,
                  int64_t C, const PngMetadata& metadata) {
  if (C != 1 && C != 3 && C != 4)
    fail("cannot write ", path, ": a PNG has 1, 3 or 4 channels, not ", C);
  if (H < 1 || W < 1 || H > (1 << 24) || W > (1 << 24))
    fail("cannot write ", path, ": bad image size ", H, "x", W);
  LDM_CHECK(static_cast<int64_t>(pixels.size()) == H * W * C, "write_png_u8: ", pixels.size(),
            " bytes for ", H, "x", W, "x", C);
  std::vector<std::vector<uint8_t>> chunks;
  for (const auto& [key, value] : metadata) chunks.push_back(text_chunk(path, key, value));

  std::vector<uint8_t> png;
  const int ok =
      stbi_write_png_to_func(append_bytes, &png, static_cast<int>(W), static_cast<int>(H),
                             static_cast<int>(C), pixels.data(), static_cast<int>(W * C));
  // Signature (8 bytes), then IHDR: length (4), type (4), 13 data bytes, CRC (4).
  constexpr size_t kAfterIhdr = 8 + 4 + 4 + 13 + 4;
  LDM_CHECK(ok != 0 && png.size() > kAfterIhdr && std::memcmp(png.data() + 12, "IHDR", 4) == 0,
            "stb_image_write produced no valid PNG for ", path);
  std::vector<uint8_t> out(png.begin(), png.begin() + kAfterIhdr);
  for (const auto& chunk : chunks) out.insert(out.end(), chunk.begin(), chunk.end());
  out.insert(out.end(), png.begin() + kAfterIhdr, png.end());
  write_file_atomic(path, out);
}

void write_png(const std::string& path, const Tensor& image, const PngMetadata& metadata) {
  int64_t C = 1, H = 0, W = 0;
  if (image.rank() == 2) {
    H = image.dim(0);
    W = image.dim(1);
  } else if (image.rank() == 3 && (image.dim(0) == 1 || image.dim(0) == 3)) {
    C = image.dim(0);
    H = image.dim(1);
    W = image.dim(2);
  } else {
    fail("cannot write ", path, ": expected an image [H, W] or [C, H, W] with C = 1 or 3, got ",
         image.description());
  }
  const std::vector<uint8_t> planar = to_u8(image);
  // [C, H, W] -> [H, W, C]
  std::vector<uint8_t> interleaved(planar.size());
  const int64_t plane = H * W;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < plane; ++i)
      interleaved[static_cast<size_t>(i * C + c)] = planar[static_cast<size_t>(c * plane + i)];
  write_png_u8(path, interleaved, H, W, C, metadata);
}

Tensor make_grid(const Tensor& images_anywhere, int64_t nrow, int64_t padding, double pad_value) {
  const Tensor images = images_anywhere.to(Device::cpu());
  if (images.rank() != 4 || images.dim(0) < 1)
    fail("make_grid: expected images [N, C, H, W], got ", images.description());
  if (nrow < 1) fail("make_grid: nrow must be >= 1, not ", nrow);
  if (padding < 0) fail("make_grid: padding must be >= 0, not ", padding);
  const int64_t N = images.dim(0), C = images.dim(1), H = images.dim(2), W = images.dim(3);
  const int64_t cols = std::min(nrow, N), rows = (N + cols - 1) / cols;
  const int64_t H_out = rows * (H + padding) + padding, W_out = cols * (W + padding) + padding;
  Tensor grid = Tensor::full({C, H_out, W_out}, pad_value, images.dtype(), Device::cpu());
  const size_t elem = dtype_size(images.dtype());
  const auto* src = static_cast<const uint8_t*>(images.raw_data());
  auto* dst = static_cast<uint8_t*>(grid.raw_data());
  for (int64_t n = 0; n < N; ++n) {
    const int64_t y0 = (n / cols) * (H + padding) + padding;
    const int64_t x0 = (n % cols) * (W + padding) + padding;
    for (int64_t c = 0; c < C; ++c)
      for (int64_t y = 0; y < H; ++y)
        std::memcpy(dst + static_cast<size_t>((c * H_out + y0 + y) * W_out + x0) * elem,
                    src + static_cast<size_t>(((n * C + c) * H + y) * W) * elem,
                    static_cast<size_t>(W) * elem);
  }
  return grid;
}

void write_gif(const std::string& path, std::span<const Tensor> frames, int delay_cs,
               int loop_count) {
  if (frames.empty()) fail("cannot write ", path, ": a GIF needs at least one frame");
  if (delay_cs < 0 || delay_cs > 65535)
    fail("cannot write ", path, ": frame delay ", delay_cs, " cs is outside 0..65535");
  if (loop_count > 65535)
    fail("cannot write ", path, ": loop count ", loop_count, " is above 65535");
  int64_t H = 0, W = 0;
  frame_size(path, frames[0], 0, H, W);
  if (H < 1 || W < 1 || H > 65535 || W > 65535)
    fail("cannot write ", path, ": GIF size ", H, "x", W, " is outside 1..65535");
  std::vector<std::vector<uint8_t>> pixels;
  for (size_t i = 0; i < frames.size(); ++i) {
    int64_t h = 0, w = 0;
    frame_size(path, frames[i], i, h, w);
    if (h != H || w != W)
      fail("cannot write ", path, ": GIF frame ", i, " is ", h, "x", w, ", frame 0 is ", H, "x", W);
    pixels.push_back(to_u8(frames[i]));
  }

  std::vector<uint8_t> out;
  int error = 0;
  GifFileType* gif = EGifOpen(&out, gif_output, &error);
  if (gif == nullptr) fail("cannot write ", path, ": giflib: ", GifErrorString(error));
  // Any giflib failure below ends here; EGifCloseFile frees the encoder either way.
  const auto check = [&](int status, const char* what) {
    if (status == GIF_OK) return;
    const int code = gif->Error;
    EGifCloseFile(gif, &error);
    fail("cannot write ", path, ": giflib ", what, ": ", GifErrorString(code));
  };
  EGifSetGifVersion(gif, true);  // GIF89a: needed for delays and looping
  GifColorType colors[256];
  for (int i = 0; i < 256; ++i)
    colors[i] = {static_cast<GifByteType>(i), static_cast<GifByteType>(i),
                 static_cast<GifByteType>(i)};
  ColorMapObject* palette = GifMakeMapObject(256, colors);
  LDM_CHECK(palette != nullptr, "GifMakeMapObject failed");
  const int screen =
      EGifPutScreenDesc(gif, static_cast<int>(W), static_cast<int>(H), 8, 0, palette);
  GifFreeMapObject(palette);  // the encoder keeps its own copy
  check(screen, "screen descriptor");
  if (loop_count >= 0) {
    GifByteType app[] = {'N', 'E', 'T', 'S', 'C', 'A', 'P', 'E', '2', '.', '0'};
    GifByteType loop[] = {1, static_cast<GifByteType>(loop_count & 0xff),
                          static_cast<GifByteType>(loop_count >> 8)};
    check(EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE), "loop extension");
    check(EGifPutExtensionBlock(gif, sizeof(app), app), "loop extension");
    check(EGifPutExtensionBlock(gif, sizeof(loop), loop), "loop extension");
    check(EGifPutExtensionTrailer(gif), "loop extension");
  }
  for (auto& frame : pixels) {
    GraphicsControlBlock gcb;
    gcb.DisposalMode = DISPOSE_DO_NOT;
    gcb.UserInputFlag = false;
    gcb.DelayTime = delay_cs;
    gcb.TransparentColor = NO_TRANSPARENT_COLOR;
    GifByteType ext[4];
    const size_t ext_len = EGifGCBToExtension(&gcb, ext);
    check(EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, static_cast<int>(ext_len), ext),
          "frame delay");
    check(EGifPutImageDesc(gif, 0, 0, static_cast<int>(W), static_cast<int>(H), false, nullptr),
          "image descriptor");
    for (int64_t y = 0; y < H; ++y)
      check(EGifPutLine(gif, frame.data() + y * W, static_cast<int>(W)), "pixels");
  }
  if (EGifCloseFile(gif, &error) != GIF_OK)
    fail("cannot write ", path, ": giflib: ", GifErrorString(error));
  write_file_atomic(path, out);
}

}  // namespace ldm::data
