// The writers: PNGs decode (stb_image) to the pixels written and carry their metadata as valid
// tEXt/iTXt chunks; make_grid lays images out as torchvision does; GIFs decode (giflib) to the
// frames, palette, delay and loop count written; writes are atomic.
#include <gif_lib.h>
#include <stb/stb_image.h>
#include <zlib.h>

#include <map>

#include "data/image_io.h"
#include "data/transforms.h"
#include "data_test_util.h"

namespace ldm::data::test {
namespace {

using Catch::Matchers::Contains;

struct PngChunk {
  std::string type;
  std::vector<uint8_t> data;
};

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Splits a PNG into chunks, checking the signature and every chunk's CRC.
std::vector<PngChunk> png_chunks(const std::vector<uint8_t>& png) {
  static constexpr uint8_t kSignature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  REQUIRE(png.size() >= 8);
  REQUIRE(std::equal(std::begin(kSignature), std::end(kSignature), png.begin()));
  std::vector<PngChunk> chunks;
  size_t pos = 8;
  while (pos < png.size()) {
    REQUIRE(pos + 12 <= png.size());
    const uint32_t length = be32(png.data() + pos);
    REQUIRE(pos + 12 + length <= png.size());
    PngChunk c;
    c.type.assign(png.begin() + static_cast<long>(pos) + 4,
                  png.begin() + static_cast<long>(pos) + 8);
    c.data.assign(png.begin() + static_cast<long>(pos) + 8,
                  png.begin() + static_cast<long>(pos + 8 + length));
    const uLong crc = crc32(crc32(0L, Z_NULL, 0), png.data() + pos + 4, 4 + length);
    CHECK(be32(png.data() + pos + 8 + length) == static_cast<uint32_t>(crc));
    chunks.push_back(std::move(c));
    pos += 12 + length;
  }
  return chunks;
}

struct Decoded {
  std::vector<uint8_t> pixels;
  int w = 0, h = 0, channels = 0;
};

Decoded decode_png(const std::string& path, int want) {
  Decoded d;
  uint8_t* p = stbi_load(path.c_str(), &d.w, &d.h, &d.channels, want);
  REQUIRE(p != nullptr);
  d.pixels.assign(p, p + d.w * d.h * want);
  stbi_image_free(p);
  return d;
}

Tensor gradient_image(const Shape& shape) {
  Tensor t = Tensor::empty(shape);
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i)
    t.data<float>()[i] = -1.0f + 2.0f * static_cast<float>(i) / static_cast<float>(n - 1);
  return t;
}

TEST_CASE("write_png: grayscale and RGB decode to the pixels written", "[data_images]") {
  TempDir dir;
  const Tensor gray = gradient_image({5, 7});
  write_png(dir.file("gray.png"), gray);
  const Decoded g = decode_png(dir.file("gray.png"), 1);
  CHECK(g.w == 7);
  CHECK(g.h == 5);
  CHECK(g.channels == 1);
  CHECK(g.pixels == to_u8(gray));
  CHECK(g.pixels.front() == 0);
  CHECK(g.pixels.back() == 255);

  // [C, H, W] planes become interleaved RGB.
  const Tensor rgb = gradient_image({3, 4, 6});
  write_png(dir.file("rgb.png"), rgb);
  const Decoded c = decode_png(dir.file("rgb.png"), 3);
  CHECK(c.channels == 3);
  const std::vector<uint8_t> planar = to_u8(rgb);
  for (int64_t ch = 0; ch < 3; ++ch)
    for (int64_t i = 0; i < 24; ++i)
      CHECK(c.pixels[static_cast<size_t>(i * 3 + ch)] == planar[static_cast<size_t>(ch * 24 + i)]);

  // i32 images hold 0..255 as they are; [1, H, W] is grayscale.
  const Tensor ints = Tensor::from_vector<int32_t>({0, 50, 100, 255}, {1, 2, 2});
  write_png(dir.file("ints.png"), ints);
  CHECK(decode_png(dir.file("ints.png"), 1).pixels == std::vector<uint8_t>{0, 50, 100, 255});

  const std::vector<uint8_t> rgba = {1, 2, 3, 4, 5, 6, 7, 8};
  write_png_u8(dir.file("rgba.png"), rgba, 1, 2, 4);
  CHECK(decode_png(dir.file("rgba.png"), 4).pixels == rgba);

  CHECK_THROWS_WITH(write_png(dir.file("x.png"), Tensor::zeros({2, 4, 4})),
                    Contains("x.png") && Contains("C = 1 or 3"));
  CHECK_THROWS_WITH(write_png(dir.file("x.png"), Tensor::zeros({1, 1, 4, 4})),
                    Contains("[H, W] or [C, H, W]"));
}

TEST_CASE("write_png stores metadata as tEXt (ASCII) and iTXt (UTF-8) chunks", "[data_images]") {
  TempDir dir;
  const std::string path = dir.file("meta.png");
  const PngMetadata meta = {{"Software", "ldm-sample"},
                            {"config", "{\"cfg\": 3, \"label\": \"pneumonia\"}"},
                            {"Comment", "caf\xc3\xa9 \xe2\x86\x92 ok"},
                            {"empty", ""}};
  write_png(path, gradient_image({3, 3}), meta);
  const std::vector<PngChunk> chunks = png_chunks(read_bytes(path));
  REQUIRE(chunks.size() >= 3);
  CHECK(chunks.front().type == "IHDR");
  CHECK(chunks.back().type == "IEND");
  std::map<std::string, std::string> text, itext;
  size_t first_idat = chunks.size(), last_text = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const PngChunk& c = chunks[i];
    if (c.type == "IDAT") first_idat = std::min(first_idat, i);
    if (c.type != "tEXt" && c.type != "iTXt") continue;
    last_text = i;
    const auto nul = std::find(c.data.begin(), c.data.end(), 0);
    REQUIRE(nul != c.data.end());
    const std::string key(c.data.begin(), nul);
    if (c.type == "tEXt") {
      text[key] = std::string(nul + 1, c.data.end());
    } else {
      // compression flag, method, then NUL-terminated language tag and translated keyword.
      auto p = nul + 1;
      CHECK(*p++ == 0);
      CHECK(*p++ == 0);
      CHECK(*p++ == 0);
      CHECK(*p++ == 0);
      itext[key] = std::string(p, c.data.end());
    }
  }
  CHECK(last_text < first_idat);  // metadata before the pixels
  CHECK(text == std::map<std::string, std::string>{
                    {"Software", "ldm-sample"}, {"config", meta.at("config")}, {"empty", ""}});
  CHECK(itext == std::map<std::string, std::string>{{"Comment", meta.at("Comment")}});
  CHECK(decode_png(path, 1).pixels == to_u8(gradient_image({3, 3})));

  const Tensor img = Tensor::zeros({2, 2});
  for (const std::string& key : {std::string(), std::string(80, 'k'), std::string(" lead"),
                                 std::string("two  spaces"), std::string("caf\xc3\xa9")})
    CHECK_THROWS_WITH(write_png(path, img, {{key, "v"}}), Contains("metadata key"));
  CHECK_THROWS_WITH(write_png(path, img, {{"k", std::string("a\0b", 3)}}), Contains("NUL"));
}

TEST_CASE("writes are atomic: no temporary left, old file replaced, clear errors",
          "[data_images]") {
  TempDir dir;
  const std::string path = dir.file("out.png");
  write_bytes(path, {'o', 'l', 'd'});
  write_png(path, Tensor::zeros({4, 4}));
  CHECK(dir.listing() == std::vector<std::string>{"out.png"});
  CHECK(decode_png(path, 1).w == 4);
  // A failed write leaves the old file as it was.
  CHECK_THROWS(write_png(path, Tensor::zeros({4, 4}), {{"", "bad key"}}));
  CHECK(decode_png(path, 1).w == 4);
  const std::string nowhere = dir.file("missing/dir/out.png");
  CHECK_THROWS_WITH(write_png(nowhere, Tensor::zeros({4, 4})),
                    Contains("cannot write " + nowhere) && Contains("No such file"));
  const std::vector<Tensor> frames = {Tensor::zeros({2, 2})};
  CHECK_THROWS_WITH(write_gif(nowhere + ".gif", frames), Contains("cannot write"));
  CHECK(dir.listing() == std::vector<std::string>{"out.png"});
}

TEST_CASE("make_grid lays images out like torchvision.utils.make_grid", "[data_images]") {
  // 5 images of 1 x 2 x 3 whose pixels equal the image index.
  const int64_t N = 5, H = 2, W = 3;
  Tensor images = Tensor::empty({N, 1, H, W});
  for (int64_t i = 0; i < images.numel(); ++i)
    images.data<float>()[i] = static_cast<float>(i / (H * W));
  const Tensor grid = make_grid(images, 3, 2, -1.0);
  // 3 per row, 2 rows: [1, 2 * (2 + 2) + 2, 3 * (3 + 2) + 2]
  REQUIRE(grid.shape() == Shape{1, 10, 17});
  const float* g = grid.data<float>();
  for (int64_t y = 0; y < 10; ++y)
    for (int64_t x = 0; x < 17; ++x) {
      const int64_t row = (y - 2) / 4, col = (x - 2) / 5;
      const bool inside = y >= 2 && x >= 2 && (y - 2) % 4 < H && (x - 2) % 5 < W;
      const int64_t n = row * 3 + col;
      const float want = inside && n < N ? static_cast<float>(n) : -1.0f;
      CHECK(g[y * 17 + x] == want);
    }
  // Fewer images than nrow: one row as wide as needed; no padding; other dtypes and pad values.
  CHECK(make_grid(images, 8, 0).shape() == Shape{1, 2, 15});
  const Tensor ints = make_grid(Tensor::zeros({2, 3, 2, 2}, DType::kI32), 1, 1, 255);
  CHECK(ints.shape() == Shape{3, 7, 4});
  CHECK(ints.data<int32_t>()[0] == 255);
  CHECK(ints.data<int32_t>()[5] == 0);
  CHECK_THROWS_WITH(make_grid(Tensor::zeros({2, 2, 2}), 8), Contains("[N, C, H, W]"));
  CHECK_THROWS_WITH(make_grid(images, 0), Contains("nrow"));
  CHECK_THROWS_WITH(make_grid(images, 2, -1), Contains("padding"));
}

// The loop count of a decoded GIF's NETSCAPE2.0 extension, or -1 when there is none.
int gif_loop_count(const GifFileType* gif) {
  if (gif->ImageCount == 0) return -1;
  const SavedImage& first = gif->SavedImages[0];
  for (int i = 0; i + 1 < first.ExtensionBlockCount; ++i) {
    const ExtensionBlock& b = first.ExtensionBlocks[i];
    if (b.Function == APPLICATION_EXT_FUNC_CODE && b.ByteCount == 11 &&
        std::memcmp(b.Bytes, "NETSCAPE2.0", 11) == 0) {
      const ExtensionBlock& sub = first.ExtensionBlocks[i + 1];
      REQUIRE(sub.ByteCount == 3);
      CHECK(sub.Bytes[0] == 1);
      return sub.Bytes[1] | (sub.Bytes[2] << 8);
    }
  }
  return -1;
}

TEST_CASE("write_gif: frames, grayscale palette, delay and loop count decode back",
          "[data_images]") {
  TempDir dir;
  const std::string path = dir.file("path.gif");
  std::vector<Tensor> frames;
  frames.push_back(gradient_image({5, 4}));
  frames.push_back(Tensor::full({1, 5, 4}, 0.0));
  frames.push_back(Tensor::full({1, 1, 5, 4}, 1.0));
  write_gif(path, frames, 7, 0);
  CHECK(dir.listing() == std::vector<std::string>{"path.gif"});

  int error = 0;
  GifFileType* gif = DGifOpenFileName(path.c_str(), &error);
  REQUIRE(gif != nullptr);
  REQUIRE(DGifSlurp(gif) == GIF_OK);
  CHECK(gif->SWidth == 4);
  CHECK(gif->SHeight == 5);
  CHECK(gif->ImageCount == 3);
  REQUIRE(gif->SColorMap != nullptr);
  REQUIRE(gif->SColorMap->ColorCount == 256);
  for (int i = 0; i < 256; ++i) {
    const GifColorType c = gif->SColorMap->Colors[i];
    CHECK((c.Red == i && c.Green == i && c.Blue == i));
  }
  for (int f = 0; f < gif->ImageCount; ++f) {
    const SavedImage& image = gif->SavedImages[f];
    CHECK(image.ImageDesc.Width == 4);
    CHECK(image.ImageDesc.Height == 5);
    const std::vector<uint8_t> got(image.RasterBits, image.RasterBits + 20);
    CHECK(got == to_u8(frames[static_cast<size_t>(f)]));
    GraphicsControlBlock gcb;
    REQUIRE(DGifSavedExtensionToGCB(gif, f, &gcb) == GIF_OK);
    CHECK(gcb.DelayTime == 7);
  }
  CHECK(gif_loop_count(gif) == 0);
  DGifCloseFile(gif, &error);

  // A finite loop count, and none at all (play once).
  for (int loops : {3, -1}) {
    write_gif(path, std::span<const Tensor>(frames).first(1), 10, loops);
    GifFileType* g = DGifOpenFileName(path.c_str(), &error);
    REQUIRE(g != nullptr);
    REQUIRE(DGifSlurp(g) == GIF_OK);
    CHECK(g->ImageCount == 1);
    CHECK(gif_loop_count(g) == loops);
    DGifCloseFile(g, &error);
  }

  CHECK_THROWS_WITH(write_gif(path, {}), Contains("at least one frame"));
  const std::vector<Tensor> mixed = {Tensor::zeros({5, 4}), Tensor::zeros({4, 4})};
  CHECK_THROWS_WITH(write_gif(path, mixed), Contains("frame 1 is 4x4, frame 0 is 5x4"));
  const std::vector<Tensor> rgb = {Tensor::zeros({3, 4, 4})};
  CHECK_THROWS_WITH(write_gif(path, rgb), Contains("grayscale"));
  CHECK_THROWS_WITH(write_gif(path, frames, -1), Contains("delay"));
}

}  // namespace
}  // namespace ldm::data::test
