// ProgressBar: throttled drawing, so that a loop of thousands of fast steps costs nothing and a
// log gets about a dozen lines per loop instead of one per step.
#include "tools/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <utility>

namespace ldm::tools {
namespace {

std::string format_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string format_rate(double per_second) {
  char buf[32];
  // Three significant digits without switching to exponents for the usual range.
  if (per_second >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", per_second);
  else if (per_second >= 10)
    std::snprintf(buf, sizeof buf, "%.1f", per_second);
  else
    std::snprintf(buf, sizeof buf, "%.2f", per_second);
  return buf;
}

int terminal_columns() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const auto total = static_cast<int64_t>(std::llround(seconds));
  const int64_t h = total / 3600, m = total / 60 % 60, s = total % 60;
  char buf[48];
  if (h > 0)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(h),
                  static_cast<long long>(m), static_cast<long long>(s));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(m),
                  static_cast<long long>(s));
  return buf;
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit)
    : ProgressBar(std::move(label), total, [&] {
        ProgressOptions o;
        o.unit = std::move(unit);
        return o;
      }()) {}

ProgressBar::ProgressBar(std::string label, int64_t total, ProgressOptions options)
    : label_(std::move(label)), total_(total), options_(std::move(options)) {
  const bool to_stderr = options_.out == nullptr || options_.out == &std::cerr;
  if (options_.out == nullptr) options_.out = &std::cerr;
  switch (options_.display) {
    case ProgressDisplay::kAuto:
      terminal_ = to_stderr && ::isatty(STDERR_FILENO) == 1;
      break;
    case ProgressDisplay::kTerminal:
      terminal_ = true;
      break;
    case ProgressDisplay::kLog:
      terminal_ = false;
      break;
  }
  if (options_.width <= 0) options_.width = terminal_ && to_stderr ? terminal_columns() : 80;
  options_.rate_window = std::max(options_.rate_window, 1);
  start_time_ = now();
  last_draw_time_ = start_time_;
  window_.push_back({start_time_, 0, 0});
  // The first log mark; update() moves it on each time it is passed.
  next_log_done_ = 0;
  if (total_ > 0 && options_.log_fraction > 0)
    next_log_done_ =
        static_cast<int64_t>(std::ceil(static_cast<double>(total_) * options_.log_fraction - 1e-9));
}

ProgressBar::~ProgressBar() {
  if (terminal_ && drawn_ && !finished_) *options_.out << '\n' << std::flush;
}

double ProgressBar::now() const {
  if (options_.clock) return options_.clock();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void ProgressBar::update(int64_t done, int64_t items, const std::vector<ProgressValue>& values) {
  if (finished_) return;
  const double t = now();
  done_ = done;
  items_ += items;
  if (!values.empty()) values_ = values;
  window_.push_back({t, done_, items_});
  while (window_.size() > static_cast<size_t>(options_.rate_window) + 1) window_.pop_front();

  if (terminal_) {
    if (drawn_ && t - last_draw_time_ < options_.redraw_interval_s) return;
    last_draw_time_ = t;
    write_terminal(format_line(false), false);
    return;
  }
  // The line at the total comes from finish(), with the elapsed time.
  if (total_ > 0 && done_ >= total_) return;
  const bool mark_passed = next_log_done_ > 0 && done_ >= next_log_done_;
  if (!mark_passed && t - last_draw_time_ < options_.log_interval_s) return;
  last_draw_time_ = t;
  *options_.out << format_line(false) << '\n' << std::flush;
  if (next_log_done_ > 0) {
    const double step = static_cast<double>(total_) * options_.log_fraction;
    for (int64_t k = 1;; ++k) {
      next_log_done_ = static_cast<int64_t>(std::ceil(static_cast<double>(k) * step - 1e-9));
      if (next_log_done_ > done_) break;
    }
  }
}

void ProgressBar::finish(const std::vector<ProgressValue>& values) {
  if (finished_) return;
  if (!values.empty()) values_ = values;
  end_time_ = now();
  finished_ = true;
  const std::string text = format_line(true);
  if (terminal_)
    write_terminal(text, true);
  else
    *options_.out << text << '\n' << std::flush;
}

void ProgressBar::write_terminal(const std::string& text, bool final_line) {
  std::string shown = text;
  const auto fit = static_cast<size_t>(std::max(options_.width - 1, 1));
  if (shown.size() > fit) shown.resize(fit);  // a wrapped line would defeat '\r'
  std::string out = "\r" + shown;
  if (shown.size() < last_drawn_length_) out.append(last_drawn_length_ - shown.size(), ' ');
  if (final_line) out += '\n';
  *options_.out << out << std::flush;
  drawn_ = true;
  last_drawn_length_ = shown.size();
}

double ProgressBar::rate() const {
  const Sample& first = window_.front();
  const Sample& last = window_.back();
  const double dt = last.time - first.time;
  if (dt <= 0) return 0.0;
  const int64_t count = items_ > 0 ? last.items - first.items : last.done - first.done;
  return static_cast<double>(count) / dt;
}

double ProgressBar::eta_seconds() const {
  if (total_ <= 0) return -1.0;
  if (done_ >= total_) return 0.0;
  const Sample& first = window_.front();
  const Sample& last = window_.back();
  const double dt = last.time - first.time;
  const int64_t steps = last.done - first.done;
  if (dt <= 0 || steps <= 0) return -1.0;
  return static_cast<double>(total_ - done_) * dt / static_cast<double>(steps);
}

std::string ProgressBar::line() const {
  return format_line(finished_);
}

std::string ProgressBar::format_line(bool final_line) const {
  std::string s = label_;
  if (total_ > 0) {
    const double fraction = std::clamp(static_cast<double>(done_) / total_, 0.0, 1.0);
    const int width = std::max(options_.bar_width, 1);
    const auto filled = static_cast<int>(std::lround(fraction * width));
    // Appended piece by piece: GCC 12 reports a bogus -Wrestrict for `" " + std::string`.
    s.append(" [").append(filled, '#').append(width - filled, '.').append("] ");
    s.append(std::to_string(done_)).append("/").append(std::to_string(total_));
  } else {
    s.append(" ").append(std::to_string(done_));
  }
  for (const ProgressValue& v : values_)
    s.append("  ").append(v.name).append(" ").append(format_value(v.value));

  const std::string unit = items_ > 0 ? options_.unit : "it";
  if (final_line) {
    const double elapsed = (finished_ ? end_time_ : now()) - start_time_;
    const int64_t count = items_ > 0 ? items_ : done_;
    if (elapsed > 0 && count > 0)
      s.append("  ")
          .append(format_rate(static_cast<double>(count) / elapsed))
          .append(" " + unit + "/s");
    s.append("  in ").append(format_duration(elapsed));
  } else {
    const double r = rate();
    if (r > 0) s.append("  ").append(format_rate(r)).append(" " + unit + "/s");
    const double eta = eta_seconds();
    if (eta >= 0) s.append("  ETA ").append(format_duration(eta));
  }
  return s;
}

}  // namespace ldm::tools
