// ldm-model-ref: our side of the model-level PyTorch reference (bench/torch_reference.py).
//
//   ldm-model-ref check --model vqvae|unet --config FILE [--set section.key=value ...]
//                       --inputs IN.safetensors --out OUT.safetensors
//                       [--randomize-constant-params] [--threads N]
//   ldm-model-ref time  --model vqvae|unet --config FILE [--set ...] [--batch 64] [--steps 10]
//                       [--warmup 2] [--threads N] [--weights-out FILE]
//   ldm-model-ref config --config FILE [--set ...]
//
// check builds the model from the run config exactly as ldm-train does, runs one forward and
// backward of the training loss on the batch in IN (written by the Python side) and writes to
// OUT every state_dict tensor as used ("param.<name>"), the outputs ("out.*") and every
// parameter's gradient ("grad.<name>"). The parsed config, defaults filled in, goes to stdout as
// JSON, so the script can check that its own parser filled in the same defaults.
//   VQ-VAE: IN holds x [N, C, H, W]; OUT holds out.z_e, out.x_hat, out.vq_loss, out.indices,
//           out.loss = mse(x_hat, x) + vq_loss.
//   U-Net:  IN holds x_t [N, C, h, w], t [N] f32, labels [N] i32 (num_classes = null), eps;
//           OUT holds out.eps_pred and out.loss = mse(eps_pred, eps).
// time runs warm-up and then timed training steps (zero_grad + forward + loss + backward +
// AdamW step) on a random batch from our Philox Rng, and prints per-step times and the parsed
// config as JSON. config prints the parsed config alone (the script checks its defaults with an
// empty file).
#include <cblas.h>
#include <omp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/ops.h"
#include "core/rng.h"
#include "core/safetensors.h"
#include "models/optim.h"
#include "models/unet.h"
#include "models/vqvae.h"
#include "tools/run_config.h"

using namespace ldm;
using nlohmann::json;

namespace {

enum class ModelKind { kVqVae, kUNet };

struct Options {
  ModelKind model = ModelKind::kVqVae;
  std::string config_file = "configs/pneumonia28.json";
  std::vector<std::string> overrides;
  int threads = 0;
  // check
  std::string inputs, out;
  bool randomize_constant = false;
  // time
  int64_t batch = 64, steps = 10, warmup = 2;
  std::string weights_out;
};

// The VQ-VAE's latent side: each level after the first halves the image.
int64_t latent_size(const tools::RunConfig& cfg) {
  return cfg.data.image_size >> (cfg.vqvae.channel_multipliers.size() - 1);
}

const Tensor& input(const std::map<std::string, Tensor>& in, const std::string& name,
                    const std::string& file) {
  auto it = in.find(name);
  if (it == in.end()) fail(file, ": no tensor '", name, "'");
  return it->second;
}

// Parameters that the initializer sets to one value for all elements (GroupNorm's ones and
// zeros, the U-Net's zero conv_out) get random values, so that no part of the comparison is
// trivial: with a zero conv_out every U-Net gradient but conv_out's own is exactly zero, and
// an identity GroupNorm affine would hide a swapped weight/bias. Vectors become c + 0.1 N(0, 1);
// weights c + U(+-1/sqrt(fan_in)), the scale of the default init.
void randomize_constant_parameters(const models::Module& module, uint64_t seed) {
  Rng rng{seed, models::rng_stream_for("model-ref.randomize"), 0};
  for (const auto& [name, p] : module.parameters()) {
    const std::vector<float> v = p.to_vector<float>();
    bool constant = true;
    for (float x : v) constant = constant && x == v[0];
    if (!constant) continue;
    const Tensor noise = p.rank() == 1
                             ? rng.normal(p.shape(), 0.0, 0.1)
                             : models::default_uniform_init(rng, p.shape(), p.numel() / p.dim(0));
    const float* n = noise.data<float>();
    float* dst = p.data<float>();
    for (int64_t i = 0; i < p.numel(); ++i) dst[i] = v[0] + n[i];
  }
}

void add_params_and_grads(const models::Module& module, std::map<std::string, Tensor>& out) {
  for (const auto& [name, t] : module.named_tensors()) out["param." + name] = t.detach();
  for (const auto& [name, p] : module.parameters())
    if (p.grad().defined()) out["grad." + name] = p.grad();
}

int run_check(const Options& o, const tools::RunConfig& cfg) {
  const SafetensorsContents in = load_safetensors(o.inputs);
  std::map<std::string, Tensor> out;
  const auto t0 = std::chrono::steady_clock::now();
  if (o.model == ModelKind::kVqVae) {
    models::VqVae vqvae(cfg.vqvae);
    if (o.randomize_constant) randomize_constant_parameters(vqvae, cfg.seed);
    const Tensor& x = input(in.tensors, "x", o.inputs);
    // The training loss of tools/train_vqvae.cpp, spelled out to keep z_e.
    const Tensor z_e = vqvae.encode(x);
    const ops::Quantized q = vqvae.quantize(z_e);
    const Tensor x_hat = vqvae.decode(q.z_q);
    const Tensor loss = ops::add(ops::mse_loss(x_hat, x), q.loss);
    backward(loss);
    out["out.z_e"] = z_e.detach();
    out["out.x_hat"] = x_hat.detach();
    out["out.vq_loss"] = q.loss.detach();
    out["out.indices"] = q.indices;
    out["out.loss"] = loss.detach();
    add_params_and_grads(vqvae, out);
  } else {
    models::UNet unet(cfg.unet);
    if (o.randomize_constant) randomize_constant_parameters(unet, cfg.seed);
    const Tensor eps_pred =
        unet.forward(input(in.tensors, "x_t", o.inputs), input(in.tensors, "t", o.inputs),
                     input(in.tensors, "labels", o.inputs));
    const Tensor loss = ops::mse_loss(eps_pred, input(in.tensors, "eps", o.inputs));
    backward(loss);
    out["out.eps_pred"] = eps_pred.detach();
    out["out.loss"] = loss.detach();
    add_params_and_grads(unet, out);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  save_safetensors(o.out, out);
  std::printf("%s\n", json{{"config", tools::to_json(cfg)}, {"seconds", seconds}}.dump().c_str());
  return 0;
}

// Times training steps of `module`; `loss_of` runs the forward pass and returns the loss.
template <typename LossFn>
json time_steps(const Options& o, models::Module& module,
                const models::AdamWConfig& optimizer_config, LossFn loss_of) {
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double>(b - a).count();
  };
  models::AdamW optimizer(module, optimizer_config);
  json steps = json::array();
  for (int64_t i = 0; i < o.warmup + o.steps; ++i) {
    const auto t0 = Clock::now();
    module.zero_grad();
    const Tensor loss = loss_of();
    const auto t1 = Clock::now();
    backward(loss);
    const auto t2 = Clock::now();
    optimizer.step();
    const auto t3 = Clock::now();
    if (i >= o.warmup)
      steps.push_back({{"total", seconds(t0, t3)},
                       {"fwd", seconds(t0, t1)},
                       {"bwd", seconds(t1, t2)},
                       {"opt", seconds(t2, t3)},
                       {"loss", loss.item()}});
  }
  return steps;
}

int run_time(const Options& o, const tools::RunConfig& cfg) {
  // Inputs of the training loss, drawn as the data would be: images in [-1, 1], unit-variance
  // latents, timesteps in [0, T) and labels including the null label.
  Rng rng{cfg.seed, models::rng_stream_for("model-ref.time"), 0};
  const int64_t B = o.batch;
  json steps;
  int64_t params = 0;
  if (o.model == ModelKind::kVqVae) {
    models::VqVae vqvae(cfg.vqvae);
    const int64_t S = cfg.data.image_size;
    const Tensor x = rng.uniform({B, cfg.vqvae.in_channels, S, S}, -1.0, 1.0);
    if (!o.weights_out.empty()) save_safetensors(o.weights_out, vqvae.state_dict());
    steps = time_steps(o, vqvae, cfg.vqvae_training.optimizer, [&] {
      const models::VqVaeOutput r = vqvae.forward(x);
      return ops::add(ops::mse_loss(r.x_hat, x), r.vq_loss);
    });
    params = vqvae.num_parameters();
  } else {
    models::UNet unet(cfg.unet);
    const int64_t s = latent_size(cfg);
    const Tensor x_t = rng.normal({B, cfg.unet.in_channels, s, s});
    const Tensor eps = rng.normal({B, cfg.unet.in_channels, s, s});
    const Tensor t =
        rng.randint({B}, static_cast<int32_t>(cfg.diffusion.timesteps)).to(DType::kF32);
    const Tensor labels = rng.randint({B}, static_cast<int32_t>(cfg.unet.num_classes + 1));
    if (!o.weights_out.empty()) save_safetensors(o.weights_out, unet.state_dict());
    steps = time_steps(o, unet, cfg.ldm_training.optimizer,
                       [&] { return ops::mse_loss(unet.forward(x_t, t, labels), eps); });
    params = unet.num_parameters();
  }
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v ? v : "(unset)");
  };
  const json report{{"model", o.model == ModelKind::kVqVae ? "vqvae" : "unet"},
                    {"batch", B},
                    {"parameters", params},
                    {"omp_max_threads", omp_get_max_threads()},
                    {"openblas_threads", openblas_get_num_threads()},
                    {"openblas_config", openblas_get_config()},
                    // Reported, never set: the environment owns them.
                    {"OPENBLAS_CORETYPE", env("OPENBLAS_CORETYPE")},
                    {"OPENBLAS_L2_SIZE", env("OPENBLAS_L2_SIZE")},
                    {"OMP_WAIT_POLICY", env("OMP_WAIT_POLICY")},
                    {"warmup", o.warmup},
                    {"config", tools::to_json(cfg)},
                    {"steps", steps}};
  std::printf("%s\n", report.dump().c_str());
  return 0;
}

int run(int argc, char** argv) {
  CLI::App app{"Our side of the model-level PyTorch reference (bench/torch_reference.py).",
               "ldm-model-ref"};
  app.require_subcommand(1);
  Options o;
  const std::map<std::string, ModelKind> models{{"vqvae", ModelKind::kVqVae},
                                                {"unet", ModelKind::kUNet}};
  auto config_options = [&](CLI::App* sub) {
    sub->add_option("--config", o.config_file, "JSON run configuration")->capture_default_str();
    sub->add_option("--set", o.overrides, "override a config field, e.g. --set unet.groups=8");
  };
  auto common = [&](CLI::App* sub) {
    sub->add_option("--model", o.model, "vqvae or unet")
        ->required()
        ->transform(CLI::CheckedTransformer(models));
    config_options(sub);
    sub->add_option("--threads", o.threads, "CPU threads (default: all cores)")
        ->check(CLI::NonNegativeNumber);
  };
  CLI::App* config = app.add_subcommand("config", "print the parsed config, defaults filled in");
  config_options(config);
  CLI::App* check = app.add_subcommand("check", "one forward + backward on a batch from a file");
  common(check);
  check->add_option("--inputs", o.inputs, "input batch (safetensors)")->required();
  check->add_option("--out", o.out, "outputs, weights and gradients (safetensors)")->required();
  check->add_flag("--randomize-constant-params", o.randomize_constant,
                  "give parameters initialized to a constant (GroupNorm, zero conv_out) random "
                  "values");
  CLI::App* time = app.add_subcommand("time", "time training steps; per-step times as JSON");
  common(time);
  time->add_option("--batch", o.batch, "batch size")->check(CLI::PositiveNumber);
  time->add_option("--steps", o.steps, "timed steps")->check(CLI::PositiveNumber);
  time->add_option("--warmup", o.warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
  time->add_option("--weights-out", o.weights_out,
                   "also write the weights before the first step here");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (o.threads > 0) omp_set_num_threads(o.threads);
  const tools::RunConfig cfg = tools::load_run_config(o.config_file, o.overrides);
  if (config->parsed()) {
    std::printf("%s\n", tools::to_json(cfg).dump().c_str());
    return 0;
  }
  return check->parsed() ? run_check(o, cfg) : run_time(o, cfg);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ldm-model-ref: error: %s\n", e.what());
    return 1;
  }
}
