// End-to-end: ldm-train on a synthetic MedMNIST file writes a complete run directory, and
// ldm-sample draws from it with both samplers, with and without a label, writing decodable
// PNGs and GIFs whose metadata names the parameters and checkpoints, reproducibly per seed.
#include <cmath>

#include "tests/e2e/e2e_util.h"
#include "tools/checkpoint.h"
#include "tools/sha256.h"

namespace ldm::e2e {
namespace {

using Catch::Matchers::Contains;

// The tiny run's sizes (tiny_config): 32x32 images, 12 training images in batches of 4, two
// epochs per stage, a VQ-VAE with one downsampling (latents 3 x 16 x 16).
constexpr int kImageSize = 32;
constexpr int64_t kStepsPerStage = 2 * 3;
constexpr int kLatentSize = 16, kLatentChannels = 3;

// make_grid's layout: cols = min(nrow, n) cells of size + 2 padding, plus 2 at the edge.
int grid_extent(int cells, int size) {
  return cells * (size + 2) + 2;
}

ToolResult sample(const std::vector<std::string>& args, const fs::path& out) {
  std::vector<std::string> all{"--run", trained_run().dir.string(), "--out", out.string()};
  all.insert(all.end(), args.begin(), args.end());
  return run_tool(kSampleExe, all);
}

std::string sample_name(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "sample_%04d.png", i);
  return name;
}

// What every ldm-sample output directory holds, for n samples drawn in `steps` steps.
void check_sample_outputs(const fs::path& out, int n, int steps) {
  for (int i = 0; i < n; ++i) {
    INFO(sample_name(i));
    REQUIRE(fs::exists(out / sample_name(i)));
    const PngInfo png = decode_png(out / sample_name(i));
    CHECK(png.width == kImageSize);
    CHECK(png.height == kImageSize);
    CHECK(png.channels == 1);
  }
  CHECK_FALSE(fs::exists(out / sample_name(n)));
  const int cols = std::min(n, 8);
  const PngInfo grid = decode_png(out / "grid.png");
  CHECK(grid.width == grid_extent(cols, kImageSize));
  CHECK(grid.height == grid_extent(1, kImageSize));

  // One frame per step (up to 99 steps; more are thinned to about 50), then the last one held
  // 10 more times.
  const GifInfo images = decode_gif(out / "denoise_images.gif");
  CHECK(images.frames == steps + 10);
  CHECK(images.width == grid_extent(std::min(n, 4), kImageSize));
  CHECK(images.height == grid_extent(1, kImageSize));
  // Each latent channel is a tile zoomed 4x; a row holds 4 samples' channels.
  const GifInfo latents = decode_gif(out / "denoise_latents.gif");
  CHECK(latents.frames == steps + 10);
  CHECK(latents.width ==
        grid_extent(std::min(n * kLatentChannels, 4 * kLatentChannels), 4 * kLatentSize));
  CHECK(latents.height == grid_extent(1, 4 * kLatentSize));
  CHECK(temp_files(out).empty());
}

// The text chunks every PNG of one ldm-sample run carries.
void check_metadata(const fs::path& png, const std::string& label, const std::string& cfg,
                    const std::string& sampler, int steps, int seed) {
  const TrainedRun& run = trained_run();
  const std::map<std::string, std::string> text = png_text(png);
  INFO(png.string());
  CHECK(text.at("Label") == label);
  CHECK(text.at("CFG scale") == cfg);
  CHECK(text.at("Sampler") == sampler);
  CHECK(text.at("Steps") == std::to_string(steps));
  CHECK(text.at("Seed") == std::to_string(seed));
  CHECK(text.at("Weights") == "ema");
  CHECK(text.at("Checkpoint") == (run.dir / "ldm.safetensors").string());
  CHECK(text.at("Checkpoint SHA-256") ==
        tools::sha256_file((run.dir / "ldm.safetensors").string()));
  CHECK(text.at("VQ-VAE checkpoint SHA-256") ==
        tools::sha256_file((run.dir / "vqvae.safetensors").string()));
}

}  // namespace

TEST_CASE("ldm-train writes a complete run directory", "[e2e_train_sample]") {
  const TrainedRun& run = trained_run();
  INFO(run.train.describe());
  CHECK_THAT(run.train.err, Contains("done: "));

  for (const char* name : {"config.json", "vqvae.safetensors", "ldm.safetensors", "metrics.jsonl",
                           "loss_vqvae.png", "loss_ldm.png"}) {
    INFO(name);
    CHECK(fs::is_regular_file(run.dir / name));
  }
  for (int epoch = 1; epoch <= 2; ++epoch)
    for (const std::string stage : {"vqvae", "ldm"}) {
      const fs::path png =
          run.dir / "samples" / (stage + "_epoch_" + std::to_string(epoch) + ".png");
      INFO(png.string());
      REQUIRE(fs::exists(png));
      const PngInfo info = decode_png(png);
      CHECK(info.width > kImageSize);
      CHECK(info.height > kImageSize);
    }
  for (const char* plot : {"loss_vqvae.png", "loss_ldm.png"}) {
    const PngInfo info = decode_png(run.dir / plot);
    CHECK(info.width == 640);
    CHECK(info.height == 400);
  }
  CHECK(temp_files(run.dir).empty());

  // config.json is the full configuration, and the tools read it back unchanged.
  const nlohmann::json config = nlohmann::json::parse(read_bytes(run.dir / "config.json"));
  CHECK(config.at("unet").at("base_channels") == 8);
  CHECK(config.at("data").at("train_subset") == 12);

  // Both checkpoints are complete, with every step taken.
  const tools::Checkpoint vq =
      tools::read_checkpoint((run.dir / "vqvae.safetensors").string(), tools::Stage::kVqVae);
  const tools::Checkpoint ldm =
      tools::read_checkpoint((run.dir / "ldm.safetensors").string(), tools::Stage::kLdm);
  CHECK(vq.progress.complete);
  CHECK(ldm.progress.complete);
  CHECK(vq.progress.step == kStepsPerStage);
  CHECK(ldm.progress.step == kStepsPerStage);
  CHECK(ldm.label_names == std::vector<std::string>{"normal", "pneumonia"});
  CHECK(ldm.tensors.count("latent_scale") == 1);
  CHECK(ldm.config == config);

  // metrics.jsonl: one line per step with a finite loss, a validation line per epoch, and the
  // VQ-VAE's test line.
  std::map<std::string, int64_t> steps, validations;
  int64_t tests = 0;
  for (const nlohmann::json& line : read_metrics(run.dir)) {
    INFO(line.dump());
    const std::string stage = line.at("stage");
    const std::string split = line.value("split", "");
    if (split == "val")
      ++validations[stage];
    else if (split == "test")
      ++tests;
    else {
      CHECK(line.at("step") == ++steps[stage]);
      CHECK(std::isfinite(line.at("loss").get<double>()));
    }
  }
  CHECK(steps["vqvae"] == kStepsPerStage);
  CHECK(steps["ldm"] == kStepsPerStage);
  CHECK(validations["vqvae"] == 2);
  CHECK(validations["ldm"] == 2);
  CHECK(tests == 1);
}

TEST_CASE("ldm-sample draws with both samplers, with and without a label", "[e2e_train_sample]") {
  const TempDir tmp("ldm-e2e-sample");

  SECTION("ddpm, guided, labelled: every step of T = 50") {
    const fs::path out = tmp.path() / "ddpm";
    const ToolResult r = sample(
        {"--sampler", "ddpm", "--label", "pneumonia", "--cfg", "3", "--n", "3", "--seed", "7"},
        out);
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    check_sample_outputs(out, 3, 50);
    for (const char* png : {"sample_0000.png", "sample_0002.png", "grid.png"})
      check_metadata(out / png, "pneumonia", "3.000000", "ddpm", 50, 7);
    CHECK(png_text(out / "sample_0002.png").at("Sample") == "2");
  }

  SECTION("ddim, guided, labelled: 10 steps") {
    const fs::path out = tmp.path() / "ddim";
    const ToolResult r = sample({"--sampler", "ddim", "--steps", "10", "--label", "normal", "--cfg",
                                 "3", "--n", "3", "--seed", "7"},
                                out);
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    check_sample_outputs(out, 3, 10);
    check_metadata(out / "sample_0001.png", "normal", "3.000000", "ddim", 10, 7);
    check_metadata(out / "grid.png", "normal", "3.000000", "ddim", 10, 7);
  }

  SECTION("--label none, sampler and steps from the run's config") {
    const fs::path out = tmp.path() / "none";
    const ToolResult r = sample({"--label", "none", "--n", "3", "--seed", "5"}, out);
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
    check_sample_outputs(out, 3, 10);
    check_metadata(out / "sample_0000.png", "none", "3.000000", "ddim", 10, 5);
  }

  SECTION("the same seed gives the same bytes, another seed other images") {
    // DDPM draws fresh noise at every step, so it is the sampler where the seed matters most.
    const std::vector<std::string> args{"--sampler", "ddpm", "--label", "pneumonia",
                                        "--cfg",     "3",    "--n",     "3"};
    auto run_seed = [&](const std::string& name, const std::string& seed) {
      std::vector<std::string> a = args;
      a.insert(a.end(), {"--seed", seed});
      const ToolResult r = sample(a, tmp.path() / name);
      INFO(r.describe());
      REQUIRE(r.exit_code == 0);
      return snapshot(tmp.path() / name);
    };
    // Every file, GIFs included, byte for byte.
    const Snapshot first = run_seed("a", "11"), again = run_seed("b", "11");
    REQUIRE(first.size() == 3 + 1 + 2);
    CHECK(first == again);
    // The PNGs of another seed differ anyway (their Seed text chunk), so compare the pixels.
    run_seed("c", "12");
    for (const std::string name :
         {"sample_0000.png", "sample_0001.png", "sample_0002.png", "grid.png"}) {
      INFO(name);
      CHECK(decode_png(tmp.path() / "a" / name).pixels !=
            decode_png(tmp.path() / "c" / name).pixels);
    }
  }
}

}  // namespace ldm::e2e
