// Loss-curve pictures from the metrics log (see tools/plots.h).
#include "tools/plots.h"

#include <filesystem>

#include "tools/plot.h"

namespace ldm::tools {
namespace {

// Per-step values of `key` for `stage`, and a running mean over `window` steps, which is what a
// reader wants to see of a noisy diffusion loss.
void add_step_series(LinePlot& plot, const std::vector<nlohmann::json>& lines, const std::string& stage,
                     const std::string& key, const std::string& name, int window) {
  Series raw{name, {}, {}, Rgb{190, 200, 230}}, smooth{name + " (mean of " + std::to_string(window) + ")", {}, {}, std::nullopt};
  double sum = 0;
  std::vector<double> recent;
  for (const nlohmann::json& j : lines) {
    if (j.value("stage", "") != stage || j.contains("split") || !j.contains(key)) continue;
    const double x = j.value("step", 0.0), y = j.value(key, 0.0);
    raw.x.push_back(x);
    raw.y.push_back(y);
    recent.push_back(y);
    sum += y;
    if (static_cast<int>(recent.size()) > window) sum -= recent[recent.size() - 1 - static_cast<size_t>(window)];
    const double n = static_cast<double>(std::min<size_t>(recent.size(), static_cast<size_t>(window)));
    smooth.x.push_back(x);
    smooth.y.push_back(sum / n);
  }
  plot.series.push_back(std::move(raw));
  plot.series.push_back(std::move(smooth));
}

void add_val_series(LinePlot& plot, const std::vector<nlohmann::json>& lines, const std::string& stage,
                    const std::string& key, const std::string& name) {
  Series s{name, {}, {}, Rgb{214, 39, 40}};
  for (const nlohmann::json& j : lines) {
    if (j.value("stage", "") != stage || j.value("split", "") != "val" || !j.contains(key)) continue;
    s.x.push_back(j.value("step", 0.0));
    s.y.push_back(j.value(key, 0.0));
  }
  plot.series.push_back(std::move(s));
}

}  // namespace

void write_loss_plots(const MetricsLog& metrics, const std::string& run_dir) {
  const std::vector<nlohmann::json> lines = metrics.read_all();
  const std::filesystem::path dir(run_dir);

  LinePlot vq;
  vq.title = "VQ-VAE training";
  vq.x_label = "step";
  vq.y_label = "reconstruction MSE";
  vq.y_scale = YScale::kLog;
  add_step_series(vq, lines, "vqvae", "recon_mse", "train", 20);
  add_val_series(vq, lines, "vqvae", "mse", "validation");
  if (!vq.series[0].x.empty()) write_line_plot((dir / "loss_vqvae.png").string(), vq);

  LinePlot ldm;
  ldm.title = "Latent diffusion training";
  ldm.x_label = "step";
  ldm.y_label = "noise-prediction MSE";
  ldm.y_scale = YScale::kLog;
  add_step_series(ldm, lines, "ldm", "loss", "train", 100);
  add_val_series(ldm, lines, "ldm", "ema_loss", "validation (EMA)");
  if (!ldm.series[0].x.empty()) write_line_plot((dir / "loss_ldm.png").string(), ldm);
}

}  // namespace ldm::tools
