// .npy parsing and .npz access. The header is a Python dict literal; rather than trusting its
// layout (NumPy's writer pads and orders it, other writers may not), a small tokenizer parses
// the literal subset NumPy emits: strings, integers, True/False, tuples and the dict itself.
#include "data/npy.h"

#include <zip.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

namespace ldm::data {
namespace {

// A value of the header dict: a string, a bool, or a tuple of integers.
struct HeaderValue {
  enum class Kind { kString, kBool, kTuple } kind = Kind::kString;
  std::string text;
  bool flag = false;
  std::vector<int64_t> ints;
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& name) : text_(text), name_(name) {}

  std::map<std::string, HeaderValue> parse_dict() {
    std::map<std::string, HeaderValue> dict;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = parse_string();
      expect(':');
      if (dict.count(key)) bad("key '", key, "' appears twice");
      dict[key] = parse_value();
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() != '}') bad("expected ',' or '}' at offset ", pos_);
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) bad("unexpected text after the header dict at offset ", pos_);
    return dict;
  }

 private:
  template <typename... Parts>
  [[noreturn]] void bad(Parts&&... parts) const {
    fail(name_, ": bad .npy header (", std::forward<Parts>(parts)..., "): ", text_);
  }
  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void expect(char c) {
    skip_space();
    if (peek() != c) bad("expected '", c, "' at offset ", pos_);
    ++pos_;
  }
  std::string parse_string() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') bad("expected a quoted string at offset ", pos_);
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) bad("unterminated string");
    std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
    if (s.find('\\') != std::string::npos) bad("escapes in strings are not supported");
    pos_ = end + 1;
    return s;
  }
  int64_t parse_int() {
    skip_space();
    const size_t start = pos_;
    int64_t value = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      const int digit = peek() - '0';
      if (value > (std::numeric_limits<int64_t>::max() - digit) / 10) bad("dimension too large");
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) bad("expected a non-negative integer at offset ", pos_);
    // Python 2 era files may write 28L.
    if (peek() == 'L') ++pos_;
    return value;
  }
  HeaderValue parse_value() {
    skip_space();
    HeaderValue v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      v.kind = HeaderValue::Kind::kString;
      v.text = parse_string();
    } else if (text_.substr(pos_, 4) == "True") {
      v.kind = HeaderValue::Kind::kBool;
      v.flag = true;
      pos_ += 4;
    } else if (text_.substr(pos_, 5) == "False") {
      v.kind = HeaderValue::Kind::kBool;
      pos_ += 5;
    } else if (c == '(') {
      v.kind = HeaderValue::Kind::kTuple;
      ++pos_;
      skip_space();
      while (peek() != ')') {
        v.ints.push_back(parse_int());
        skip_space();
        if (peek() == ',') {
          ++pos_;
          skip_space();
        } else if (peek() != ')') {
          bad("expected ',' or ')' in the shape at offset ", pos_);
        }
      }
      ++pos_;
    } else if (c == '[') {
      bad("structured dtypes are not supported");
    } else {
      bad("unexpected value at offset ", pos_);
    }
    return v;
  }

  std::string_view text_;
  const std::string& name_;
  size_t pos_ = 0;
};

NpyDType parse_descr(const std::string& descr, const std::string& name) {
  NpyDType d;
  d.descr = descr;
  const auto bad = [&](const char* why) {
    fail(name, ": unsupported .npy dtype '", descr, "' (", why, ")");
  };
  if (descr.size() < 3) bad("expected a byte order, a kind and a size, like '|u1'");
  const char order = descr[0];
  if (order != '<' && order != '>' && order != '|' && order != '=') bad("unknown byte order");
  d.kind = descr[1];
  if (d.kind != 'b' && d.kind != 'i' && d.kind != 'u' && d.kind != 'f')
    bad("only bool, integer and float arrays are read");
  const std::string size = descr.substr(2);
  if (!std::all_of(size.begin(), size.end(), [](char c) { return std::isdigit(c); }))
    bad("bad item size");
  d.itemsize = std::stoi(size);
  const bool valid_size =
      d.kind == 'f'   ? (d.itemsize == 2 || d.itemsize == 4 || d.itemsize == 8)
      : d.kind == 'b' ? d.itemsize == 1
                      : (d.itemsize == 1 || d.itemsize == 2 || d.itemsize == 4 || d.itemsize == 8);
  if (!valid_size) bad("bad item size");
  d.big_endian = order == '>' && d.itemsize > 1;
  return d;
}

uint32_t read_le(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string zip_error_text(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

}  // namespace

std::vector<int64_t> NpyArray::to_int64() const {
  LDM_CHECK(dtype.integral(), name, " is not integral");
  const int64_t n = numel();
  const int size = dtype.itemsize;
  const uint8_t* p = data().data();
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i, p += size) {
    uint64_t raw = 0;
    for (int b = 0; b < size; ++b) {
      const int shift = dtype.big_endian ? 8 * (size - 1 - b) : 8 * b;
      raw |= static_cast<uint64_t>(p[b]) << shift;
    }
    int64_t value;
    if (dtype.kind == 'i' && size < 8 && (raw >> (8 * size - 1)) != 0) {
      value = static_cast<int64_t>(raw | (~uint64_t{0} << (8 * size)));  // sign-extend
    } else if (dtype.kind == 'u' && size == 8 && raw > uint64_t{INT64_MAX}) {
      fail(name, ": value ", raw, " does not fit in int64");
    } else {
      value = static_cast<int64_t>(raw);
    }
    out[static_cast<size_t>(i)] = value;
  }
  return out;
}

NpyArray parse_npy(std::vector<uint8_t> bytes, const std::string& name) {
  static constexpr uint8_t kMagic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (bytes.size() < 10 || !std::equal(std::begin(kMagic), std::end(kMagic), bytes.begin()))
    fail(name, ": not a .npy array (bad magic; expected \\x93NUMPY)");
  const int major = bytes[6], minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0)
    fail(name, ": unsupported .npy format version ", major, ".", minor,
         " (1.0, 2.0, 3.0 are read)");
  const int length_bytes = major == 1 ? 2 : 4;
  const size_t prefix = 6 + 2 + static_cast<size_t>(length_bytes);
  if (bytes.size() < prefix) fail(name, ": truncated .npy header");
  const size_t header_len = read_le(bytes.data() + 8, length_bytes);
  if (bytes.size() < prefix + header_len)
    fail(name, ": truncated .npy header (", header_len, " header bytes announced, ",
         bytes.size() - prefix, " present)");
  std::string_view header(reinterpret_cast<const char*>(bytes.data() + prefix), header_len);
  while (!header.empty() && std::isspace(static_cast<unsigned char>(header.back())))
    header.remove_suffix(1);
  // Version 3 allows UTF-8 in the header; versions 1 and 2 are Latin-1. Either way the dict
  // NumPy writes is plain ASCII, which is all this parser accepts.

  const auto dict = HeaderParser(header, name).parse_dict();
  for (const auto& [key, value] : dict)
    if (key != "descr" && key != "fortran_order" && key != "shape")
      fail(name, ": bad .npy header (unexpected key '", key, "')");
  for (const char* key : {"descr", "fortran_order", "shape"})
    if (!dict.count(key)) fail(name, ": bad .npy header (no '", key, "' key)");
  const HeaderValue& descr = dict.at("descr");
  const HeaderValue& fortran = dict.at("fortran_order");
  const HeaderValue& shape = dict.at("shape");
  if (descr.kind != HeaderValue::Kind::kString)
    fail(name, ": bad .npy header ('descr' is not a string)");
  if (fortran.kind != HeaderValue::Kind::kBool)
    fail(name, ": bad .npy header ('fortran_order' is not True or False)");
  if (shape.kind != HeaderValue::Kind::kTuple)
    fail(name, ": bad .npy header ('shape' is not a tuple)");
  if (fortran.flag)
    fail(name,
         ": arrays in Fortran order are not supported (save with "
         "numpy.ascontiguousarray first)");

  NpyArray array;
  array.name = name;
  array.dtype = parse_descr(descr.text, name);
  array.shape.assign(shape.ints.begin(), shape.ints.end());
  uint64_t need = static_cast<uint64_t>(array.dtype.itemsize);
  for (int64_t d : array.shape) {
    if (d != 0 && need > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(d))
      fail(name, ": shape ", shape_str(array.shape), " is too large");
    need *= static_cast<uint64_t>(d);
  }
  const uint64_t have = bytes.size() - prefix - header_len;
  if (have < need)
    fail(name, ": truncated .npy data (shape ", shape_str(array.shape), " of ", descr.text,
         " needs ", need, " bytes, the file has ", have, ")");
  if (have > need)
    fail(name, ": ", have - need, " unexpected bytes after the .npy data (shape ",
         shape_str(array.shape), " of ", descr.text, " needs ", need, ")");
  array.data_offset = prefix + header_len;
  array.bytes = std::move(bytes);
  return array;
}

std::vector<uint8_t> npy_header(const std::string& descr, const Shape& shape, bool fortran_order) {
  std::string dict = "{'descr': '" + descr +
                     "', 'fortran_order': " + (fortran_order ? "True" : "False") + ", 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) {
    dict += std::to_string(shape[i]);
    if (shape.size() == 1 || i + 1 < shape.size()) dict += ", ";
  }
  if (shape.size() == 1) dict.pop_back();  // "(5,)" as Python writes a 1-tuple
  dict += "), }";
  // NumPy pads magic + length + dict + '\n' to a multiple of 64 bytes.
  const size_t total = (10 + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - 10 - dict.size() - 1, ' ');
  dict += '\n';
  LDM_CHECK(dict.size() <= 65535, "npy header too long");
  // Filled by index: insert() after an initializer list trips GCC 12's -Warray-bounds.
  std::vector<uint8_t> out(10 + dict.size());
  const uint8_t prefix[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  std::memcpy(out.data(), prefix, 8);
  out[8] = static_cast<uint8_t>(dict.size() & 0xff);
  out[9] = static_cast<uint8_t>(dict.size() >> 8);
  std::memcpy(out.data() + 10, dict.data(), dict.size());
  return out;
}

NpzFile::NpzFile(const std::string& path) : path_(path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) fail(path, ": no such file");
  if (fs::is_directory(path, ec)) fail(path, ": is a directory, not a .npz file");
  // libzip reports a missing end-of-archive record as "not a zip archive" whether the file is
  // something else entirely or a zip cut short; the local-header magic tells the two apart.
  unsigned char magic[4] = {0, 0, 0, 0};
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, ": cannot open: ", std::strerror(errno));
    in.read(reinterpret_cast<char*>(magic), 4);
  }
  const bool zip_magic = magic[0] == 'P' && magic[1] == 'K' &&
                         ((magic[2] == 3 && magic[3] == 4) || (magic[2] == 5 && magic[3] == 6));
  if (!zip_magic) fail(path, ": not a zip archive (a .npz file is a zip of .npy arrays)");
  int code = 0;
  zip_ = zip_open(path.c_str(), ZIP_RDONLY, &code);
  if (zip_ == nullptr) {
    if (code == ZIP_ER_NOZIP || code == ZIP_ER_INCONS || code == ZIP_ER_EOF)
      fail(path, ": truncated or corrupt .npz (zip directory unreadable: ", zip_error_text(code),
           ")");
    fail(path, ": cannot open as a zip archive: ", zip_error_text(code));
  }
  const zip_int64_t entries = zip_get_num_entries(zip_, 0);
  for (zip_int64_t i = 0; i < entries; ++i) {
    const char* entry = zip_get_name(zip_, static_cast<zip_uint64_t>(i), 0);
    if (entry == nullptr) continue;
    std::string key = entry;
    if (key.size() > 4 && key.ends_with(".npy")) keys_.push_back(key.substr(0, key.size() - 4));
  }
}

NpzFile::~NpzFile() {
  if (zip_ != nullptr) zip_discard(zip_);
}

bool NpzFile::contains(const std::string& key) const {
  return std::find(keys_.begin(), keys_.end(), key) != keys_.end();
}

NpyArray NpzFile::read(const std::string& key) const {
  const std::string entry = key + ".npy";
  const std::string name = path_ + ": " + entry;
  if (!contains(key)) {
    std::string present;
    for (const std::string& k : keys_) present += (present.empty() ? "" : ", ") + k;
    fail(path_, ": no '", key,
         "' array (the archive holds: ", present.empty() ? "no .npy arrays" : present, ")");
  }
  zip_stat_t st;
  zip_stat_init(&st);
  if (zip_stat(zip_, entry.c_str(), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
    fail(name, ": cannot read the zip entry: ", zip_strerror(zip_));
  if (st.size > (uint64_t{1} << 40)) fail(name, ": implausible size ", st.size);
  zip_file_t* file = zip_fopen(zip_, entry.c_str(), 0);
  if (file == nullptr) fail(name, ": cannot open the zip entry: ", zip_strerror(zip_));
  std::vector<uint8_t> bytes(static_cast<size_t>(st.size));
  size_t got = 0;
  std::string error;
  while (got < bytes.size()) {
    const zip_int64_t n = zip_fread(file, bytes.data() + got, bytes.size() - got);
    if (n < 0) {
      error = zip_file_strerror(file);
      break;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  // Reading one byte past the end makes libzip finish the stream and verify its CRC.
  uint8_t extra;
  if (error.empty() && got == bytes.size()) {
    const zip_int64_t n = zip_fread(file, &extra, 1);
    if (n < 0) error = zip_file_strerror(file);
    if (n > 0) error = "more data than the zip directory announces";
  }
  zip_fclose(file);
  if (!error.empty()) fail(name, ": truncated or corrupt zip entry (", error, ")");
  if (got != bytes.size())
    fail(name, ": truncated zip entry (", got, " of ", bytes.size(), " bytes)");
  return parse_npy(std::move(bytes), name);
}

}  // namespace ldm::data
