// LDM_PROFILE op timing table (see core/op_profile.h).
#include "core/op_profile.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace ldm {
namespace {

struct Totals {
  std::array<double, 2 * kOpCount> seconds{};
  std::array<long long, 2 * kOpCount> calls{};
  std::mutex mutex;

  ~Totals() {
    double all = 0;
    for (double s : seconds) all += s;
    if (all == 0) return;
    std::vector<int> order(2 * kOpCount);
    for (int i = 0; i < 2 * kOpCount; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return seconds[a] > seconds[b]; });
    std::fprintf(stderr, "\nLDM_PROFILE: time per op (%.1f ms in kernels)\n", all * 1e3);
    std::fprintf(stderr, "  %-22s %-8s %9s %11s %7s\n", "op", "pass", "calls", "total ms", "share");
    for (int i : order) {
      if (calls[i] == 0) continue;
      std::fprintf(stderr, "  %-22s %-8s %9lld %11.1f %6.1f%%\n",
                   std::string(op_name(static_cast<OpKind>(i / 2))).c_str(),
                   i % 2 == 0 ? "forward" : "backward", calls[i], seconds[i] * 1e3,
                   100 * seconds[i] / all);
    }
  }
};

Totals& totals() {
  static Totals t;
  return t;
}

}  // namespace

bool op_profiling_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("LDM_PROFILE");
    return v != nullptr && v[0] != '\0' && v[0] != '0';
  }();
  return enabled;
}

void record_op_time(OpKind op, Pass pass, double seconds) {
  Totals& t = totals();
  const int i = 2 * static_cast<int>(op) + (pass == Pass::kForward ? 0 : 1);
  std::lock_guard<std::mutex> lock(t.mutex);
  t.seconds[static_cast<size_t>(i)] += seconds;
  ++t.calls[static_cast<size_t>(i)];
}

}  // namespace ldm
