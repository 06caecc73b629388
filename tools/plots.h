// The loss curves of a run as pictures: loss_vqvae.png and loss_ldm.png in the run directory,
// redrawn from metrics.jsonl after every epoch.
#pragma once
#include <string>

#include "tools/metrics.h"

namespace ldm::tools {

void write_loss_plots(const MetricsLog& metrics, const std::string& run_dir);

}  // namespace ldm::tools
