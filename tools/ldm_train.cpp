// ldm-train: trains the VQ-VAE and then the latent diffusion U-Net of one run directory.
//
//   ldm-train --config configs/pneumonia28.json --out runs/NAME [--stage all|vqvae|ldm]
//             [--data PATH] [--resume] [--set section.key=value ...] [--checkpoint-every N]
#include <omp.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/check.h"
#include "data/atomic_file.h"
#include "data/medmnist.h"
#include "tools/checkpoint.h"
#include "tools/device.h"
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

// --resume with --set may change how training goes on (more epochs, another learning rate) but
// not the models: the checkpoints already in the run directory must load into the models of the
// new config. Checked before config.json is rewritten, so a refused --set leaves the run as it
// was instead of with a config.json that no longer fits its weights.
void check_checkpoints_fit(const std::string& run_dir, const RunConfig& config,
                           const std::string& config_source) {
  const nlohmann::json stored = to_json(config);
  const std::string vq_path = checkpoint_path(run_dir, Stage::kVqVae);
  if (fs::exists(vq_path)) {
    models::VqVae vqvae(config.vqvae);
    load_group(read_checkpoint(vq_path, Stage::kVqVae), vq_path, "model.", vqvae, stored,
               config_source);
  }
  const std::string ldm_path = checkpoint_path(run_dir, Stage::kLdm);
  if (fs::exists(ldm_path)) {
    models::UNet unet(config.unet);
    load_group(read_checkpoint(ldm_path, Stage::kLdm), ldm_path, "model.", unet, stored,
               config_source);
  }
}

// A run killed while writing a file leaves that file's temporary "NAME.tmp.PID" beside it (the
// previous version of NAME stays intact). Nothing reads them, but a checkpoint-sized one would
// stay forever, so a resumed run removes those whose writer is gone.
void remove_stale_temp_files(const std::string& run_dir) {
  for (const fs::path& dir : {fs::path(run_dir), fs::path(samples_dir(run_dir))}) {
    std::error_code ec;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      const size_t at = name.rfind(".tmp.");
      if (at == std::string::npos || !entry.is_regular_file(ec)) continue;
      const std::string pid = name.substr(at + 5);
      if (pid.empty() || pid.size() > 9 ||
          !std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; }))
        continue;
      // A live writer (EPERM: someone else's) is still writing it.
      if (::kill(static_cast<pid_t>(std::stol(pid)), 0) == 0 || errno == EPERM) continue;
      if (fs::remove(entry.path(), ec))
        std::fprintf(stderr, "removed %s (left by an interrupted run)\n", entry.path().c_str());
    }
  }
}

// Mistakes that only show when data flows through the models (labels the U-Net has no embedding
// for, a latent grid the U-Net cannot halve) would otherwise stop the run after the whole VQ-VAE
// stage: one blank image through both models finds them before anything is trained or written.
void check_config_fits_data(const RunConfig& config, const data::ImageDataset& train,
                            const std::string& config_source) {
  const auto labels = static_cast<int64_t>(train.label_names.size());
  if (config.unet.num_classes != labels)
    fail(config_source, ": unet.num_classes is ", config.unet.num_classes, " but the data has ",
         labels, " labels");
  NoGradGuard no_grad;
  const int64_t size = config.data.image_size;
  try {
    const models::VqVae vqvae(config.vqvae);
    const models::UNet unet(config.unet);
    const Tensor z = vqvae.encode(Tensor::zeros({1, config.vqvae.in_channels, size, size}));
    unet.forward(z, Tensor::zeros({1}), Tensor::zeros({1}, DType::kI32));
  } catch (const Error& e) {
    fail(config_source, ": the models do not fit ", size, "x", size,
         " images (data.image_size): ", e.what());
  }
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
  DeviceChoice device = DeviceChoice::kCpu;
  app.add_option("--device", device, "backend that runs the models (cpu, cuda, emu)")
      ->transform(CLI::CheckedTransformer(device_names(), CLI::ignore_case))
      ->default_str("cpu");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help prints the usage and succeeds; a usage error is one line, like every other error
    // (CLI11's own report adds a second line and no program name).
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    std::fprintf(stderr, "ldm-train: error: %s (see --help)\n", e.what());
    return e.get_exit_code();
  }
  if (threads > 0) omp_set_num_threads(threads);
  use_device(device);
  // A new run directory has no VQ-VAE, and one that has is a run (refused without --resume):
  // without this, the run directory would be made before the missing VQ-VAE is noticed.
  if (stage == StageChoice::kLdm && !resume)
    fail("--stage ldm continues a run whose VQ-VAE is trained: pass --resume and that run's --out");

  TrainContext ctx;
  ctx.run_dir = out_dir;
  ctx.resume = resume ? Resume::kYes : Resume::kNo;
  ctx.checkpoint_every = checkpoint_every;
  ctx.metrics = MetricsLog(metrics_path(out_dir));

  const std::string config_source = (resume ? config_path(out_dir) : config_file) +
                                    (overrides.empty() ? "" : " with the --set overrides");
  if (resume) {
    if (!fs::exists(config_path(out_dir)))
      fail("--resume: ", out_dir, " holds no run (no config.json); start one without --resume");
    ctx.config = load_run_config(config_path(out_dir), overrides);
    check_checkpoints_fit(out_dir, ctx.config, config_source);
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
  check_config_fits_data(ctx.config, ctx.train, config_source);

  std::error_code ec;
  fs::create_directories(fs::path(out_dir) / "samples", ec);
  if (ec) fail("cannot create the run directory ", out_dir, ": ", ec.message());
  if (resume) remove_stale_temp_files(out_dir);
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
