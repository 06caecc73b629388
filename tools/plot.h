// Line plots of training curves (loss per step, validation loss per epoch) as PNG files, drawn
// by hand with a built-in 5x7 bitmap font, so the tools need no plotting library or Python.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ldm::tools {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

// The colour of the i-th series when it names none (matplotlib's tab10 cycle).
Rgb default_series_color(size_t index);

struct Series {
  std::string name;          // legend entry; series with empty names get none
  std::vector<double> x, y;  // same length; points with a NaN/inf coordinate are skipped
  std::optional<Rgb> color;
};

enum class YScale { kLinear, kLog };

struct LinePlot {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  // kLog ignores points with y <= 0 (a loss of exactly 0 has no place on a log axis).
  YScale y_scale = YScale::kLinear;
  // Fixed axis ranges (lo < hi; for kLog 0 < lo); otherwise fitted to the data with a margin.
  std::optional<std::pair<double, double>> x_range, y_range;
  int width = 640, height = 400;  // pixels, at least 160 x 120
};

// Where the axes landed: the plot area in pixels (inclusive edges) and the data range it
// shows, for tests and for callers that draw more on top.
struct PlotFrame {
  int left = 0, top = 0, right = 0, bottom = 0;
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  YScale y_scale = YScale::kLinear;
  // Pixel coordinates (fractional) of a data point; y grows downwards.
  double to_px_x(double x) const;
  double to_px_y(double y) const;
};

struct RgbImage {
  int64_t H = 0, W = 0;
  std::vector<uint8_t> pixels;  // [H, W, 3] interleaved
  Rgb at(int64_t row, int64_t col) const;
};

// The layout write_line_plot uses. Throws ldm::Error for an invalid plot (x and y of different
// lengths, an empty or inverted fixed range, a log range reaching 0, a too small image).
PlotFrame plot_frame(const LinePlot& plot);
RgbImage render_line_plot(const LinePlot& plot);
// Renders and writes an RGB PNG atomically (the title goes into the PNG's Title chunk).
void write_line_plot(const std::string& path, const LinePlot& plot);

}  // namespace ldm::tools
