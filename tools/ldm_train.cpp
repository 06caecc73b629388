// ldm-train: trains the VQ-VAE and then the latent diffusion U-Net of one run directory.
//
//   ldm-train --config configs/pneumonia28.json --out runs/NAME [--stage all|vqvae|ldm]
//             [--data PATH] [--resume] [--set section.key=value ...] [--checkpoint-every N]
#include <omp.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/check.h"
#include "data/atomic_file.h"
#include "data/medmnist.h"
#include "tools/checkpoint.h"
#include "tools/latents.h"
#include "tools/train.h"

namespace fs = std::filesystem;
using namespace ldm;
using namespace ldm::tools;

namespace {

enum class StageChoice { kAll, kVqVae, kLdm };

// The first n images of a dataset (for quick runs and tests).
data::ImageDataset first(const data::ImageDataset& d, int64_t n) {
  if (n <= 0 || n >= d.size()) return d;
  data::ImageDataset out = d;
  out.images = rows(d.images, 0, n);
  out.labels.resize(static_cast<size_t>(n));
  return out;
}

bool holds_a_run(const std::string& dir) {
  return fs::exists(config_path(dir)) || fs::exists(checkpoint_path(dir, Stage::kVqVae)) ||
         fs::exists(checkpoint_path(dir, Stage::kLdm));
}

void write_config(const std::string& path, const RunConfig& config) {
  const std::string text = to_json(config).dump(2) + "\n";
  data::write_file_atomic(path, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

int run(int argc, char** argv) {
  CLI::App app{"Train the VQ-VAE and the latent diffusion U-Net of a run.", "ldm-train"};
  std::string config_file = "configs/pneumonia28.json", out_dir, data_flag;
  StageChoice stage = StageChoice::kAll;
  bool resume = false;
  std::vector<std::string> overrides;
  int64_t checkpoint_every = 0;
  int threads = 0;
  app.add_option("--config", config_file, "JSON run configuration")->capture_default_str();
  app.add_option("--out", out_dir, "run directory (checkpoints, metrics, plots, samples)")
      ->required();
  app.add_option("--data", data_flag,
                 "dataset .npz file or directory (default: $MEDMNIST_ROOT, then ~/.medmnist)");
  app.add_option("--stage", stage, "which stage to train")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, StageChoice>{
              {"all", StageChoice::kAll}, {"vqvae", StageChoice::kVqVae}, {"ldm", StageChoice::kLdm}},
          CLI::ignore_case));
  app.add_flag("--resume", resume,
               "continue the run in --out from its checkpoints (with its stored config)");
  app.add_option("--set", overrides, "override a config field, e.g. --set ldm_training.epochs=3");
  app.add_option("--checkpoint-every", checkpoint_every,
                 "also checkpoint every N steps within an epoch (0: at epoch ends only)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--threads", threads, "CPU threads (default: all cores)")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (threads > 0) omp_set_num_threads(threads);

  TrainContext ctx;
  ctx.run_dir = out_dir;
  ctx.resume = resume ? Resume::kYes : Resume::kNo;
  ctx.checkpoint_every = checkpoint_every;
  ctx.metrics = MetricsLog(metrics_path(out_dir));

  if (resume) {
    if (!fs::exists(config_path(out_dir)))
      fail("--resume: ", out_dir, " holds no run (no config.json); start one without --resume");
    ctx.config = load_run_config(config_path(out_dir), overrides);
  } else {
    ctx.config = load_run_config(config_file, overrides);
    if (holds_a_run(out_dir))
      fail(out_dir, " already holds a run; pass --resume to continue it, or choose another --out");
  }
  // The data is found and read before the run directory is made, so that a wrong --data
  // leaves nothing behind that a corrected command would trip over.
  const std::string data_path = data::find_medmnist(data_flag, ctx.config.data.file);
  std::fprintf(stderr, "data: %s\n", data_path.c_str());
  const int64_t size = ctx.config.data.image_size;
  ctx.train = first(data::load_medmnist(data_path, "train", size), ctx.config.data.train_subset);
  ctx.val = data::load_medmnist(data_path, "val", size);
  ctx.test = data::load_medmnist(data_path, "test", size);

  std::error_code ec;
  fs::create_directories(fs::path(out_dir) / "samples", ec);
  if (ec) fail("cannot create the run directory ", out_dir, ": ", ec.message());
  // Written before any training, which also proves the directory is writable.
  write_config(config_path(out_dir), ctx.config);

  if (stage != StageChoice::kLdm) train_vqvae(ctx);
  if (stage != StageChoice::kVqVae) train_ldm(ctx);
  std::fprintf(stderr, "done: %s\n", out_dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ldm-train: error: %s\n", e.what());
    return 1;
  }
}
