// A progress line for long loops (training epochs, sampling), written to stderr: redrawn in place
// on a terminal, and a few whole lines in logs, so CI logs and `tee`d files stay readable.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

namespace ldm::tools {

// A named scalar shown after the counts, e.g. {"loss", 0.0123}.
struct ProgressValue {
  std::string name;
  double value = 0.0;
};

enum class ProgressDisplay {
  kAuto,      // kTerminal when writing to std::cerr and stderr is a terminal, else kLog
  kTerminal,  // one line redrawn with '\r', at most every redraw_interval_s
  kLog,       // whole lines every log_fraction of the total or log_interval_s, whichever first
};

struct ProgressOptions {
  std::string unit = "img";     // what the items are: "img/s" in the rate
  std::ostream* out = nullptr;  // nullptr: std::cerr
  ProgressDisplay display = ProgressDisplay::kAuto;
  std::function<double()> clock;  // seconds from any fixed origin; empty: steady_clock
  int width = 0;                  // terminal columns to fit in; 0: ask the terminal (else 80)
  int bar_width = 16;             // characters between the brackets
  double redraw_interval_s = 0.1;
  double log_fraction = 0.1;
  double log_interval_s = 30.0;
  int rate_window = 20;  // rate and ETA come from the last this many updates
};

// ProgressBar bar("vqvae 3/6", steps);
// for (int64_t s = 0; s < steps; ++s) { ...; bar.update(s + 1, batch, {{"loss", loss}}); }
// bar.finish();
//
// Line: `vqvae 3/6 [######..........] 37/74  loss 0.01234  412 img/s  ETA 0:23`; the final line
// ends with the elapsed time (`in 1:02`) and the average rate over the whole loop. A total <= 0
// means unknown: no bar and no ETA.
class ProgressBar {
 public:
  ProgressBar(std::string label, int64_t total, std::string unit = "img");
  ProgressBar(std::string label, int64_t total, ProgressOptions options);
  // Ends a half-drawn terminal line, so that whatever is printed next (an error message during
  // unwinding) starts on its own line. Prints no final line: that is finish()'s job.
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // After each step: `done` steps completed so far (of total), `items` processed in this step
  // (images in the batch), and the values to show; values persist until replaced.
  // Ignored after finish().
  void update(int64_t done, int64_t items = 0, const std::vector<ProgressValue>& values = {});
  // Prints the final line (newline-terminated). Values given here replace the shown ones.
  // Only the first call prints.
  void finish(const std::vector<ProgressValue>& values = {});

  // Items per second over the recent window (steps per second when no items were reported);
  // 0 before there is a time interval to measure.
  double rate() const;
  // Seconds left, from the recent rate of steps; negative when unknown.
  double eta_seconds() const;
  // The progress line as it would be printed now, without '\r' or '\n'.
  std::string line() const;
  bool finished() const { return finished_; }

 private:
  struct Sample {
    double time;
    int64_t done;
    int64_t items;
  };

  double now() const;
  std::string format_line(bool final_line) const;
  void write_terminal(const std::string& text, bool final_line);

  std::string label_;
  int64_t total_;
  ProgressOptions options_;
  bool terminal_ = false;
  double start_time_ = 0.0;
  int64_t done_ = 0;
  int64_t items_ = 0;
  std::vector<ProgressValue> values_;
  std::deque<Sample> window_;
  double last_draw_time_ = 0.0;
  bool drawn_ = false;
  size_t last_drawn_length_ = 0;  // characters to blank when the next line is shorter
  int64_t next_log_done_ = 0;
  bool finished_ = false;
  double end_time_ = 0.0;
};

// Durations as m:ss, or h:mm:ss from one hour on.
std::string format_duration(double seconds);

}  // namespace ldm::tools
