// Line plots rasterized directly into an RGB buffer: axes with "nice" ticks (1, 2, 5 x 10^k, or
// decades on a log axis), 2-pixel lines clipped to the plot area, a legend placed in the emptiest
// corner, and text from a 5x7 bitmap font.
#include "tools/plot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <tuple>

#include "core/check.h"
#include "data/image_io.h"

namespace ldm::tools {
namespace {

// Printable ASCII (0x20..0x7e), 7 rows of 5 pixels each, bit 4 the leftmost column; the shapes
// of the classic HD44780 character ROM, except that g, p, q and y hang 2 rows below the line
// (kDescent) instead of being squashed above it, where g reads as 9. Other bytes draw as '?'.
constexpr uint8_t kFont[95][7] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // ' '
    {0x04, 0x04, 0x04, 0x04, 0x00, 0x00, 0x04},  // !
    {0x0a, 0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00},  // "
    {0x0a, 0x0a, 0x1f, 0x0a, 0x1f, 0x0a, 0x0a},  // #
    {0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04},  // $
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03},  // %
    {0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d},  // &
    {0x0c, 0x04, 0x08, 0x00, 0x00, 0x00, 0x00},  // '
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02},  // (
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},  // )
    {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00},  // *
    {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00},  // +
    {0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08},  // ,
    {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00},  // -
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c},  // .
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00},  // /
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e},  // 0
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e},  // 1
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f},  // 2
    {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e},  // 3
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02},  // 4
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e},  // 5
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e},  // 6
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},  // 7
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e},  // 8
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c},  // 9
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00},  // :
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x04, 0x08},  // ;
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02},  // <
    {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00},  // =
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08},  // >
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04},  // ?
    {0x0e, 0x11, 0x01, 0x0d, 0x15, 0x15, 0x0e},  // @
    {0x0e, 0x11, 0x11, 0x11, 0x1f, 0x11, 0x11},  // A
    {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e},  // B
    {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e},  // C
    {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c},  // D
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f},  // E
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10},  // F
    {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f},  // G
    {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11},  // H
    {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e},  // I
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c},  // J
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11},  // K
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f},  // L
    {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11},  // M
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},  // N
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e},  // O
    {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10},  // P
    {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d},  // Q
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11},  // R
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e},  // S
    {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},  // T
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e},  // U
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04},  // V
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a},  // W
    {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11},  // X
    {0x11, 0x11, 0x11, 0x0a, 0x04, 0x04, 0x04},  // Y
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f},  // Z
    {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e},  // [
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00},  // backslash
    {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e},  // ]
    {0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00},  // ^
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f},  // _
    {0x08, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00},  // `
    {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f},  // a
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e},  // b
    {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e},  // c
    {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f},  // d
    {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e},  // e
    {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08},  // f
    {0x0f, 0x11, 0x11, 0x0f, 0x01, 0x11, 0x0e},  // g (descends)
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11},  // h
    {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e},  // i
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0c},  // j
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12},  // k
    {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e},  // l
    {0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11},  // m
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11},  // n
    {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e},  // o
    {0x1e, 0x11, 0x11, 0x11, 0x1e, 0x10, 0x10},  // p (descends)
    {0x0f, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x01},  // q (descends)
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10},  // r
    {0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e},  // s
    {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06},  // t
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d},  // u
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04},  // v
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a},  // w
    {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11},  // x
    {0x11, 0x11, 0x11, 0x11, 0x0f, 0x01, 0x0e},  // y (descends)
    {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f},  // z
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02},  // {
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},  // |
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08},  // }
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00},  // ~
};

constexpr int kGlyphW = 5, kGlyphH = 7, kAdvance = 6;  // one blank column between glyphs
constexpr int kTickLength = 4;
constexpr Rgb kWhite{255, 255, 255}, kBlack{0, 0, 0}, kGrid{228, 228, 228},
    kLegendBorder{160, 160, 160};

constexpr int kDescent = 2;

const uint8_t* glyph(char c) {
  const auto u = static_cast<unsigned char>(c);
  return kFont[(u >= 0x20 && u <= 0x7e) ? u - 0x20 : '?' - 0x20];
}

// Rows a glyph is drawn below its cell's top.
int glyph_drop(char c) {
  return (c == 'g' || c == 'p' || c == 'q' || c == 'y') ? kDescent : 0;
}

int text_width(const std::string& text, int scale = 1) {
  return text.empty() ? 0 : static_cast<int>(text.size()) * kAdvance * scale - scale;
}

class Canvas {
 public:
  Canvas(int W, int H) : W_(W), H_(H), pixels_(static_cast<size_t>(W) * H * 3, 255) {}

  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= W_ || y >= H_) return;
    uint8_t* p = &pixels_[(static_cast<size_t>(y) * W_ + x) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  void fill(int x0, int y0, int x1, int y1, Rgb c) {  // inclusive corners
    for (int y = y0; y <= y1; ++y)
      for (int x = x0; x <= x1; ++x) set(x, y, c);
  }
  // Text with its top-left corner at (x, y).
  void text(int x, int y, const std::string& s, Rgb c, int scale = 1) {
    for (char ch : s) {
      const uint8_t* rows = glyph(ch);
      const int drop = glyph_drop(ch);
      for (int gy = 0; gy < kGlyphH; ++gy)
        for (int gx = 0; gx < kGlyphW; ++gx)
          if (rows[gy] & (0x10 >> gx))
            fill(x + gx * scale, y + (gy + drop) * scale, x + gx * scale + scale - 1,
                 y + (gy + drop) * scale + scale - 1, c);
      x += kAdvance * scale;
    }
  }
  // Text turned 90 degrees counter-clockwise, read bottom to top, its baseline on the right:
  // (x, y) is the bottom-left corner of the rotated block.
  void text_up(int x, int y, const std::string& s, Rgb c) {
    for (char ch : s) {
      const uint8_t* rows = glyph(ch);
      const int drop = glyph_drop(ch);
      for (int gy = 0; gy < kGlyphH; ++gy)
        for (int gx = 0; gx < kGlyphW; ++gx)
          if (rows[gy] & (0x10 >> gx)) set(x + gy + drop, y - gx, c);
      y -= kAdvance;
    }
  }

  int W_, H_;
  std::vector<uint8_t> pixels_;
};

bool usable(double x, double y, YScale scale) {
  return std::isfinite(x) && std::isfinite(y) && (scale == YScale::kLinear || y > 0);
}

// Axis ticks: positions in axis units (log10 of the value on a log axis) and their labels.
struct Ticks {
  std::vector<double> at;
  std::vector<std::string> labels;
};

// "1.5e-05" -> "1.5e-5", "1e+06" -> "1e6": shorter labels, same meaning.
std::string compact_exponent(std::string s) {
  const size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string mantissa = s.substr(0, e), exponent = s.substr(e + 1);
  std::string sign;
  if (!exponent.empty() && (exponent[0] == '+' || exponent[0] == '-')) {
    if (exponent[0] == '-') sign = "-";
    exponent.erase(0, 1);
  }
  exponent.erase(0, std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
  return mantissa + "e" + sign + exponent;
}

std::string format_g(double v, int precision) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return compact_exponent(buf);
}

double nice_step(double raw) {
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0})
    if (m * magnitude >= raw * (1 - 1e-9)) return m * magnitude;
  return 10 * magnitude;
}

// Multiples of a 1/2/5 step inside [lo, hi], labelled with as many decimals as the step needs.
Ticks linear_ticks(double lo, double hi, int target) {
  Ticks t;
  const double step = nice_step((hi - lo) / std::max(target, 1));
  const auto first = static_cast<int64_t>(std::ceil(lo / step - 1e-9));
  const auto last = static_cast<int64_t>(std::floor(hi / step + 1e-9));
  const double max_abs = std::max(std::abs(lo), std::abs(hi));
  const int step_exponent = static_cast<int>(std::floor(std::log10(step) + 1e-9));
  for (int64_t k = first; k <= last; ++k) {
    const double v = static_cast<double>(k) * step;
    t.at.push_back(v);
    char buf[40];
    if (k == 0) {
      t.labels.push_back("0");
    } else if (max_abs < 1e6 && step_exponent >= -5) {
      std::snprintf(buf, sizeof buf, "%.*f", std::max(0, -step_exponent), v);
      t.labels.push_back(buf);
    } else {
      const int digits = static_cast<int>(std::floor(std::log10(max_abs))) - step_exponent + 1;
      t.labels.push_back(format_g(v, std::clamp(digits, 1, 15)));
    }
  }
  return t;
}

// Log axis, [lo, hi] in log10 units: decades when the range holds four or more, else 1/2/5
// multiples (0.01, 0.02, 0.05, 0.1 ...), else linear ticks of the values.
Ticks log_ticks(double lo, double hi, int target) {
  Ticks t;
  auto label = [](double v) { return (v >= 0.01 && v < 1e4) ? format_g(v, 4) : format_g(v, 1); };
  const auto first = static_cast<int64_t>(std::ceil(lo - 1e-9));
  const auto last = static_cast<int64_t>(std::floor(hi + 1e-9));
  if (last - first + 1 >= 4) {
    const int64_t stride = std::max<int64_t>(1, (last - first + target) / std::max(target, 1));
    for (int64_t k = first; k <= last; ++k) {
      if (k % stride != 0) continue;
      t.at.push_back(static_cast<double>(k));
      t.labels.push_back(label(std::pow(10.0, static_cast<double>(k))));
    }
    if (t.at.size() >= 2) return t;
    t = {};
  }
  for (int64_t k = first - 1; k <= last; ++k)
    for (double m : {1.0, 2.0, 5.0}) {
      const double v = m * std::pow(10.0, static_cast<double>(k));
      const double a = std::log10(v);
      if (a < lo - 1e-9 || a > hi + 1e-9) continue;
      t.at.push_back(a);
      t.labels.push_back(format_g(v, 1));
    }
  if (t.at.size() >= 2) return t;
  const Ticks values = linear_ticks(std::pow(10.0, lo), std::pow(10.0, hi), target);
  t = {};
  for (size_t i = 0; i < values.at.size(); ++i) {
    if (values.at[i] <= 0) continue;
    t.at.push_back(std::log10(values.at[i]));
    t.labels.push_back(values.labels[i]);
  }
  return t;
}

// The data range plus a margin; a flat range is widened so that the line sits in the middle.
std::pair<double, double> fit_range(double lo, double hi, double flat_pad, double margin) {
  if (lo == hi) {
    lo -= flat_pad;
    hi += flat_pad;
  }
  const double m = (hi - lo) * margin;
  return {lo - m, hi + m};
}

struct Layout {
  PlotFrame frame;
  double y_lo = 0, y_hi = 1;  // axis units (log10 on a log axis)
  Ticks x_ticks, y_ticks;
  int title_scale = 2;
};

Layout layout(const LinePlot& plot) {
  if (plot.width < 160 || plot.height < 120 || plot.width > 16384 || plot.height > 16384)
    fail("plot size ", plot.width, "x", plot.height, " is outside 160x120 .. 16384x16384");
  const bool log_y = plot.y_scale == YScale::kLog;
  for (const Series& s : plot.series)
    if (s.x.size() != s.y.size())
      fail("plot series '", s.name, "' has ", s.x.size(), " x values but ", s.y.size(),
           " y values");
  auto check_range = [](const std::optional<std::pair<double, double>>& r, const char* axis,
                        bool positive) {
    if (!r) return;
    if (!(std::isfinite(r->first) && std::isfinite(r->second) && r->first < r->second))
      fail("plot ", axis, " range [", r->first, ", ", r->second, "] is not lo < hi");
    if (positive && r->first <= 0)
      fail("plot y range [", r->first, ", ", r->second, "] must be above 0 on a log axis");
  };
  check_range(plot.x_range, "x", false);
  check_range(plot.y_range, "y", log_y);

  double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min;
  double y_min = x_min, y_max = -x_min;  // axis units
  for (const Series& s : plot.series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!usable(s.x[i], s.y[i], plot.y_scale)) continue;
      const double y = log_y ? std::log10(s.y[i]) : s.y[i];
      x_min = std::min(x_min, s.x[i]);
      x_max = std::max(x_max, s.x[i]);
      y_min = std::min(y_min, y);
      y_max = std::max(y_max, y);
    }
  const bool any_data = x_min <= x_max;

  Layout L;
  PlotFrame& f = L.frame;
  f.y_scale = plot.y_scale;
  if (plot.x_range) {
    std::tie(f.x_min, f.x_max) = *plot.x_range;
  } else if (any_data) {
    std::tie(f.x_min, f.x_max) =
        fit_range(x_min, x_max, x_min != 0 ? 0.1 * std::abs(x_min) : 1.0, 0.03);
  } else {
    std::tie(f.x_min, f.x_max) = std::pair(0.0, 1.0);
  }
  if (plot.y_range) {
    L.y_lo = log_y ? std::log10(plot.y_range->first) : plot.y_range->first;
    L.y_hi = log_y ? std::log10(plot.y_range->second) : plot.y_range->second;
  } else if (any_data) {
    const double flat_pad = log_y ? 0.5 : (y_min != 0 ? 0.1 * std::abs(y_min) : 1.0);
    std::tie(L.y_lo, L.y_hi) = fit_range(y_min, y_max, flat_pad, 0.05);
  } else {
    std::tie(L.y_lo, L.y_hi) = std::pair(0.0, 1.0);  // [1, 10] on a log axis
  }
  f.y_min = log_y ? std::pow(10.0, L.y_lo) : L.y_lo;
  f.y_max = log_y ? std::pow(10.0, L.y_hi) : L.y_hi;

  // Margins: title above; y label, y tick labels and ticks on the left; ticks, x tick labels
  // and x label below. Tick counts aim at ~90 px between x ticks and ~50 px between y ticks.
  const int W = plot.width, H = plot.height;
  L.title_scale = text_width(plot.title, 2) <= W - 16 ? 2 : 1;
  f.top = plot.title.empty() ? 12 : 8 + kGlyphH * L.title_scale + 10;
  f.bottom = H - 1 - (8 + kTickLength + 4 + kGlyphH + (plot.x_label.empty() ? 0 : 8 + kGlyphH));
  const int approx_height = f.bottom - f.top;
  L.y_ticks = log_y ? log_ticks(L.y_lo, L.y_hi, std::max(2, approx_height / 50))
                    : linear_ticks(L.y_lo, L.y_hi, std::max(2, approx_height / 50));
  int label_w = 0;
  for (const std::string& s : L.y_ticks.labels) label_w = std::max(label_w, text_width(s));
  f.left = 8 + (plot.y_label.empty() ? 0 : kGlyphH + 8) + label_w + 4 + kTickLength + 1;
  f.right = W - 1 - 20;
  L.x_ticks = linear_ticks(f.x_min, f.x_max, std::max(2, (f.right - f.left) / 90));
  if (!L.x_ticks.labels.empty())  // the last x label is centred on its tick: keep it inside
    f.right = std::min(f.right, W - 1 - text_width(L.x_ticks.labels.back()) / 2 - 4);
  if (f.right - f.left < 40 || f.bottom - f.top < 40)
    fail("plot ", W, "x", H, " is too small for its labels");
  return L;
}

// Liang-Barsky: clips the segment to the rectangle; false when nothing is left.
bool clip_segment(double& x0, double& y0, double& x1, double& y1, double left, double top,
                  double right, double bottom) {
  double t0 = 0, t1 = 1;
  const double dx = x1 - x0, dy = y1 - y0;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {x0 - left, right - x0, y0 - top, bottom - y0};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) return false;
      continue;
    }
    const double r = q[i] / p[i];
    if (p[i] < 0)
      t0 = std::max(t0, r);
    else
      t1 = std::min(t1, r);
    if (t0 > t1) return false;
  }
  const double nx0 = x0 + t0 * dx, ny0 = y0 + t0 * dy;
  x1 = x0 + t1 * dx;
  y1 = y0 + t1 * dy;
  x0 = nx0;
  y0 = ny0;
  return true;
}

// Draws data into the plot area only, and marks the pixels it covered (for legend placement).
class DataPainter {
 public:
  DataPainter(Canvas& canvas, const PlotFrame& f)
      : canvas_(canvas), f_(f), covered_(static_cast<size_t>(canvas.W_) * canvas.H_, 0) {}

  void dot(int x, int y, Rgb c) {
    for (int dy = -2; dy <= 2; ++dy)
      for (int dx = -2; dx <= 2; ++dx)
        if (dx * dx + dy * dy <= 5) plot(x + dx, y + dy, c);
  }
  // A 2-pixel-wide line: Bresenham with a 2x2 brush.
  void line(double x0, double y0, double x1, double y1, Rgb c) {
    if (!clip_segment(x0, y0, x1, y1, f_.left, f_.top, f_.right, f_.bottom)) return;
    int ax = static_cast<int>(std::lround(x0)), ay = static_cast<int>(std::lround(y0));
    const int bx = static_cast<int>(std::lround(x1)), by = static_cast<int>(std::lround(y1));
    const int dx = std::abs(bx - ax), dy = -std::abs(by - ay);
    const int sx = ax < bx ? 1 : -1, sy = ay < by ? 1 : -1;
    int err = dx + dy;
    while (true) {
      plot(ax, ay, c);
      plot(ax + 1, ay, c);
      plot(ax, ay + 1, c);
      plot(ax + 1, ay + 1, c);
      if (ax == bx && ay == by) break;
      const int e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        ax += sx;
      }
      if (e2 <= dx) {
        err += dx;
        ay += sy;
      }
    }
  }
  int64_t covered_in(int x0, int y0, int x1, int y1) const {
    int64_t n = 0;
    for (int y = std::max(y0, 0); y <= std::min(y1, canvas_.H_ - 1); ++y)
      for (int x = std::max(x0, 0); x <= std::min(x1, canvas_.W_ - 1); ++x)
        n += covered_[static_cast<size_t>(y) * canvas_.W_ + x];
    return n;
  }

 private:
  void plot(int x, int y, Rgb c) {
    if (x < f_.left || x > f_.right || y < f_.top || y > f_.bottom) return;
    canvas_.set(x, y, c);
    covered_[static_cast<size_t>(y) * canvas_.W_ + x] = 1;
  }

  Canvas& canvas_;
  const PlotFrame& f_;
  std::vector<uint8_t> covered_;
};

// Pixel coordinates far outside the image are pulled in so the clipper never sees inf; the
// visible part of such a segment may tilt slightly, which no one can see at 1e7 px.
double clamp_px(double v) {
  return std::clamp(v, -1e7, 1e7);
}

}  // namespace

Rgb default_series_color(size_t index) {
  static constexpr std::array<Rgb, 10> kTab10 = {{{31, 119, 180},
                                                  {255, 127, 14},
                                                  {44, 160, 44},
                                                  {214, 39, 40},
                                                  {148, 103, 189},
                                                  {140, 86, 75},
                                                  {227, 119, 194},
                                                  {127, 127, 127},
                                                  {188, 189, 34},
                                                  {23, 190, 207}}};
  return kTab10[index % kTab10.size()];
}

double PlotFrame::to_px_x(double x) const {
  return left + (x - x_min) / (x_max - x_min) * (right - left);
}

double PlotFrame::to_px_y(double y) const {
  if (y_scale == YScale::kLog)
    return bottom - (std::log10(y) - std::log10(y_min)) / (std::log10(y_max) - std::log10(y_min)) *
                        (bottom - top);
  return bottom - (y - y_min) / (y_max - y_min) * (bottom - top);
}

Rgb RgbImage::at(int64_t row, int64_t col) const {
  LDM_CHECK(row >= 0 && row < H && col >= 0 && col < W, "pixel (", row, ", ", col, ") outside ", H,
            "x", W);
  const uint8_t* p = &pixels[static_cast<size_t>((row * W + col) * 3)];
  return {p[0], p[1], p[2]};
}

PlotFrame plot_frame(const LinePlot& plot) {
  return layout(plot).frame;
}

RgbImage render_line_plot(const LinePlot& plot) {
  const Layout L = layout(plot);
  const PlotFrame& f = L.frame;
  const bool log_y = plot.y_scale == YScale::kLog;
  Canvas canvas(plot.width, plot.height);

  // Grid lines first so that everything else draws over them.
  std::vector<int> x_tick_px, y_tick_px;
  for (double v : L.x_ticks.at) x_tick_px.push_back(static_cast<int>(std::lround(f.to_px_x(v))));
  for (double a : L.y_ticks.at)
    y_tick_px.push_back(static_cast<int>(std::lround(f.to_px_y(log_y ? std::pow(10.0, a) : a))));
  for (int x : x_tick_px) canvas.fill(x, f.top, x, f.bottom, kGrid);
  for (int y : y_tick_px) canvas.fill(f.left, y, f.right, y, kGrid);

  DataPainter painter(canvas, f);
  for (size_t si = 0; si < plot.series.size(); ++si) {
    const Series& s = plot.series[si];
    const Rgb c = s.color.value_or(default_series_color(si));
    const size_t n = s.x.size();
    auto ok = [&](size_t i) { return i < n && usable(s.x[i], s.y[i], plot.y_scale); };
    auto px = [&](size_t i) { return clamp_px(f.to_px_x(s.x[i])); };
    auto py = [&](size_t i) { return clamp_px(f.to_px_y(s.y[i])); };
    for (size_t i = 0; i < n; ++i) {
      if (!ok(i)) continue;
      if (ok(i + 1)) {
        painter.line(px(i), py(i), px(i + 1), py(i + 1), c);
      } else if (i == 0 || !ok(i - 1)) {
        // A point with no neighbour to join: a dot, or it would not show at all.
        const double x = px(i), y = py(i);
        if (x >= f.left - 2 && x <= f.right + 2 && y >= f.top - 2 && y <= f.bottom + 2)
          painter.dot(static_cast<int>(std::lround(x)), static_cast<int>(std::lround(y)), c);
      }
    }
  }

  // Frame just outside the plot area, so data never hides it; ticks and their labels.
  canvas.fill(f.left - 1, f.top - 1, f.right + 1, f.top - 1, kBlack);
  canvas.fill(f.left - 1, f.bottom + 1, f.right + 1, f.bottom + 1, kBlack);
  canvas.fill(f.left - 1, f.top - 1, f.left - 1, f.bottom + 1, kBlack);
  canvas.fill(f.right + 1, f.top - 1, f.right + 1, f.bottom + 1, kBlack);
  for (size_t i = 0; i < x_tick_px.size(); ++i) {
    const int x = x_tick_px[i];
    canvas.fill(x, f.bottom + 2, x, f.bottom + 1 + kTickLength, kBlack);
    const std::string& s = L.x_ticks.labels[i];
    canvas.text(x - text_width(s) / 2, f.bottom + 2 + kTickLength + 3, s, kBlack);
  }
  for (size_t i = 0; i < y_tick_px.size(); ++i) {
    const int y = y_tick_px[i];
    canvas.fill(f.left - 1 - kTickLength, y, f.left - 2, y, kBlack);
    const std::string& s = L.y_ticks.labels[i];
    canvas.text(f.left - 1 - kTickLength - 4 - text_width(s), y - kGlyphH / 2, s, kBlack);
  }

  canvas.text((plot.width - text_width(plot.title, L.title_scale)) / 2, 8, plot.title, kBlack,
              L.title_scale);
  if (!plot.x_label.empty())
    canvas.text((f.left + f.right - text_width(plot.x_label)) / 2, plot.height - 8 - kGlyphH,
                plot.x_label, kBlack);
  if (!plot.y_label.empty())
    canvas.text_up(8, (f.top + f.bottom + text_width(plot.y_label)) / 2, plot.y_label, kBlack);

  // Legend in whichever corner of the plot area covers the fewest data pixels.
  std::vector<size_t> named;
  int name_w = 0;
  for (size_t si = 0; si < plot.series.size(); ++si)
    if (!plot.series[si].name.empty()) {
      named.push_back(si);
      name_w = std::max(name_w, text_width(plot.series[si].name));
    }
  if (!named.empty()) {
    constexpr int kRow = 12, kSample = 20, kPad = 6;
    const int box_w = kPad + kSample + 5 + name_w + kPad;
    const int box_h = kPad + static_cast<int>(named.size()) * kRow - (kRow - kGlyphH) + kPad;
    const int inset = 6;
    const std::array<std::pair<int, int>, 4> corners = {{
        {f.right - inset - box_w + 1, f.top + inset},
        {f.left + inset, f.top + inset},
        {f.right - inset - box_w + 1, f.bottom - inset - box_h + 1},
        {f.left + inset, f.bottom - inset - box_h + 1},
    }};
    auto [bx, by] = corners[0];
    int64_t best = std::numeric_limits<int64_t>::max();
    for (const auto& [x, y] : corners) {
      const int64_t n = painter.covered_in(x, y, x + box_w - 1, y + box_h - 1);
      if (n < best) {
        best = n;
        bx = x;
        by = y;
      }
    }
    canvas.fill(bx, by, bx + box_w - 1, by + box_h - 1, kLegendBorder);
    canvas.fill(bx + 1, by + 1, bx + box_w - 2, by + box_h - 2, kWhite);
    for (size_t k = 0; k < named.size(); ++k) {
      const size_t si = named[k];
      const Rgb c = plot.series[si].color.value_or(default_series_color(si));
      const int y = by + kPad + static_cast<int>(k) * kRow;
      canvas.fill(bx + kPad, y + 2, bx + kPad + kSample - 1, y + 3, c);
      canvas.text(bx + kPad + kSample + 5, y, plot.series[si].name, kBlack);
    }
  }

  return {plot.height, plot.width, std::move(canvas.pixels_)};
}

void write_line_plot(const std::string& path, const LinePlot& plot) {
  const RgbImage image = render_line_plot(plot);
  data::PngMetadata metadata;
  if (!plot.title.empty()) metadata["Title"] = plot.title;
  data::write_png_u8(path, image.pixels, image.H, image.W, 3, metadata);
}

}  // namespace ldm::tools
