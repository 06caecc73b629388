// ldm-sample: draws chest X-rays from a trained run.
//
//   ldm-sample --run runs/NAME --label normal|pneumonia|none --cfg 3 --n 64
//              --sampler ddpm|ddim --steps 1000|50 --seed S --out DIR
//
// Writes sample_NNNN.png (one per sample), grid.png, and two animated GIFs of the denoising
// path: denoise_images.gif (the latents decoded at each recorded step) and
// denoise_latents.gif (the latent channels themselves). Every PNG records the parameters and
// the SHA-256 of both checkpoints in its metadata; the same seed gives the same images.
#include <omp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/ops.h"
#include "data/image_io.h"
#include "models/diffusion.h"
#include "models/optim.h"
#include "tools/checkpoint.h"
#include "tools/device.h"
#include "tools/latents.h"
#include "tools/progress.h"
#include "tools/sha256.h"

namespace fs = std::filesystem;
using namespace ldm;
using namespace ldm::tools;

namespace {

constexpr int64_t kMaxGifFrames = 50;
constexpr int64_t kMaxGifSamples = 16;  // the GIFs show the first 16 samples, 4 x 4
constexpr int64_t kLatentZoom = 4;      // latent tiles are tiny: scale them up in the GIF

struct Options {
  std::string run_dir, out_dir, label = "none", sampler, weights = "ema";
  double cfg = -1, eta = 0;
  int64_t n = 16, steps = 0;
  uint64_t seed = 0;
  int threads = 0;
};

int32_t parse_label(const std::string& name, const std::vector<std::string>& names) {
  if (name == "none") return static_cast<int32_t>(names.size());  // the null label
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return static_cast<int32_t>(i);
  std::string known;
  for (const std::string& n : names) known += n + ", ";
  fail("unknown label '", name, "' (this run knows: ", known, "none)");
}

// Latents [N, C, h, w] -> one grayscale grid image with each channel a tile, zoomed.
Tensor latent_frame(const Tensor& z) {
  const int64_t N = z.shape()[0], C = z.shape()[1], h = z.shape()[2], w = z.shape()[3];
  // Unit-variance latents: +-3 standard deviations span the gray range.
  Tensor tiles = ops::upsample_nearest(ops::scale(z.reshape({N * C, 1, h, w}), 1.0 / 3), kLatentZoom);
  return data::make_grid(tiles, C * 4);
}

int run(int argc, char** argv) {
  Options o;
  CLI::App app{"Sample chest X-rays from a trained run.", "ldm-sample"};
  app.add_option("--run", o.run_dir, "run directory written by ldm-train")->required();
  app.add_option("--out", o.out_dir, "output directory")->required();
  app.add_option("--label", o.label, "label to condition on, or none")->capture_default_str();
  app.add_option("--cfg", o.cfg, "classifier-free guidance scale (default: the run's config)")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            // A negative scale would push samples away from their label; no one means that.
            // Text that is no number is left to CLI11's conversion, which names it.
            char* end = nullptr;
            const double w = std::strtod(value.c_str(), &end);
            return end != value.c_str() && w < 0 ? "must be >= 0 (0: unconditional), got " + value
                                                 : "";
          },
          "W >= 0"));
  app.add_option("--n", o.n, "number of samples")->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  app.add_option("--sampler", o.sampler, "ddpm or ddim (default: the run's config)")
      ->check(CLI::IsMember({"ddpm", "ddim"}));
  app.add_option("--steps", o.steps, "denoising steps (default: the run's config; ddpm: all)")
      ->check(CLI::PositiveNumber);
  app.add_option("--eta", o.eta, "DDIM noise (0 = deterministic)")->check(CLI::Range(0.0, 1.0));
  app.add_option("--seed", o.seed, "random seed")->capture_default_str();
  app.add_option("--weights", o.weights, "ema (default) or raw training weights")
      ->check(CLI::IsMember({"ema", "raw"}));
  app.add_option("--threads", o.threads, "CPU threads (default: all cores)")
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
    std::fprintf(stderr, "ldm-sample: error: %s (see --help)\n", e.what());
    return e.get_exit_code();
  }
  if (o.threads > 0) omp_set_num_threads(o.threads);
  use_device(device);

  const std::string ldm_path = checkpoint_path(o.run_dir, Stage::kLdm);
  const std::string vq_path = checkpoint_path(o.run_dir, Stage::kVqVae);
  const Checkpoint ldm_ckpt = read_checkpoint(ldm_path, Stage::kLdm);
  const Checkpoint vq_ckpt = read_checkpoint(vq_path, Stage::kVqVae);
  const RunConfig cfg = parse_run_config(ldm_ckpt.config, ldm_path + " (stored config)");
  const int32_t label = parse_label(o.label, ldm_ckpt.label_names);

  // Both models are built from the LDM checkpoint's config: the VQ-VAE checkpoint must match it.
  const std::string config_source = "the config stored in " + ldm_path;
  models::VqVae vqvae(cfg.vqvae);
  load_group(vq_ckpt, vq_path, "model.", vqvae, ldm_ckpt.config, config_source);
  models::UNet unet(cfg.unet);
  if (o.weights == "ema") {
    std::map<std::string, Tensor> ema = ldm_ckpt.group("ema.");
    ema.erase("num_updates");
    try {
      unet.load_state_dict(ema);
    } catch (const Error& e) {
      fail_architecture(ldm_ckpt, ldm_path, ldm_ckpt.config, config_source, e.what());
    }
  } else {
    load_group(ldm_ckpt, ldm_path, "model.", unet, ldm_ckpt.config, config_source);
  }
  auto scale_it = ldm_ckpt.tensors.find("latent_scale");
  if (scale_it == ldm_ckpt.tensors.end()) fail(ldm_path, ": checkpoint lacks latent_scale");
  const double latent_scale = scale_it->second.item();

  models::SamplerOptions so;
  so.kind = o.sampler.empty() ? cfg.sampling.sampler : models::parse_sampler(o.sampler);
  so.steps = o.steps > 0                             ? o.steps
             : so.kind == models::SamplerKind::kDdpm ? cfg.diffusion.timesteps
                                                     : cfg.sampling.steps;
  so.cfg_scale = o.cfg >= 0 ? o.cfg : cfg.sampling.cfg_scale;
  so.eta = o.eta;
  so.seed = o.seed;
  if (so.steps > cfg.diffusion.timesteps)
    fail("--steps ", so.steps, " exceeds the run's ", cfg.diffusion.timesteps, " timesteps");

  std::error_code ec;
  fs::create_directories(o.out_dir, ec);
  if (ec) fail("cannot create the output directory ", o.out_dir, ": ", ec.message());

  // The latent shape: the encoder's output for one image of the configured size.
  Shape latent_shape;
  {
    NoGradGuard no_grad;
    const int64_t size = cfg.data.image_size;
    const Tensor z = vqvae.encode(Tensor::zeros({1, cfg.vqvae.in_channels, size, size}));
    latent_shape.assign(z.shape().begin() + 1, z.shape().end());
  }

  const std::vector<int64_t> ts = models::sampling_timesteps(cfg.diffusion.timesteps, so.steps);
  const int64_t every = std::max<int64_t>(1, static_cast<int64_t>(ts.size()) / kMaxGifFrames);
  const int64_t shown = std::min(o.n, kMaxGifSamples);
  std::vector<Tensor> image_frames, latent_frames;
  ProgressBar bar("sampling", static_cast<int64_t>(ts.size()), "step");
  const Tensor labels = Tensor::full({o.n}, label, DType::kI32);
  const models::NoiseSchedule schedule(cfg.diffusion);
  const Tensor z = models::sample(
      unet, schedule, latent_shape, labels, so,
      [&](int64_t step, int64_t, const Tensor& x) {
        bar.update(step + 1, 1, {});
        const bool last = step + 1 == static_cast<int64_t>(ts.size());
        if (step % every != 0 && !last) return;
        const Tensor first = rows(x, 0, shown);
        image_frames.push_back(data::make_grid(
            decode_latents(vqvae, ops::scale(first, 1.0 / latent_scale)), 4));
        latent_frames.push_back(latent_frame(first));
      });
  bar.finish();
  const Tensor images = decode_latents(vqvae, ops::scale(z, 1.0 / latent_scale));

  const data::PngMetadata meta{
      {"Software", "ldm-sample (latent diffusion for chest X-rays, C++20)"},
      {"Label", o.label},
      {"CFG scale", std::to_string(so.cfg_scale)},
      {"Sampler", models::to_string(so.kind)},
      {"Steps", std::to_string(so.steps)},
      {"Eta", std::to_string(so.eta)},
      {"Seed", std::to_string(so.seed)},
      {"Weights", o.weights},
      {"Checkpoint", ldm_path},
      {"Checkpoint SHA-256", sha256_file(ldm_path)},
      {"VQ-VAE checkpoint SHA-256", sha256_file(vq_path)},
  };
  for (int64_t i = 0; i < o.n; ++i) {
    data::PngMetadata m = meta;
    m["Sample"] = std::to_string(i);
    char name[32];
    std::snprintf(name, sizeof name, "sample_%04lld.png", static_cast<long long>(i));
    data::write_png((fs::path(o.out_dir) / name).string(),
                    rows(images, i, i + 1).reshape({images.shape()[1], images.shape()[2], images.shape()[3]}), m);
  }
  data::write_png((fs::path(o.out_dir) / "grid.png").string(), data::make_grid(images, 8), meta);
  // Hold the final frame for a second so the result can be seen before the loop restarts.
  for (int i = 0; i < 10; ++i) image_frames.push_back(image_frames.back());
  for (int i = 0; i < 10; ++i) latent_frames.push_back(latent_frames.back());
  data::write_gif((fs::path(o.out_dir) / "denoise_images.gif").string(), image_frames, 10);
  data::write_gif((fs::path(o.out_dir) / "denoise_latents.gif").string(), latent_frames, 10);
  std::fprintf(stderr, "wrote %lld samples, grid.png and the denoising GIFs to %s\n",
               static_cast<long long>(o.n), o.out_dir.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ldm-sample: error: %s\n", e.what());
    return 1;
  }
}
