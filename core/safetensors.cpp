// safetensors reader and atomic writer.
#include "core/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace ldm {
namespace {

const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "F32";
    case DType::kF64: return "F64";
    case DType::kI32: return "I32";
    case DType::kBF16: return "BF16";
    case DType::kF16: return "F16";
  }
  return "?";
}

bool parse_dtype(const std::string& name, DType& dtype) {
  for (DType d : {DType::kF32, DType::kF64, DType::kI32, DType::kBF16, DType::kF16})
    if (name == safetensors_dtype(d)) {
      dtype = d;
      return true;
    }
  return false;
}

void write_all(int fd, const void* data, size_t bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = ::write(fd, p, bytes);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("cannot write ", path, ": ", std::strerror(errno));
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

// Makes the rename itself durable: without this a crash can forget the new directory entry.
void sync_parent_directory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // the file is written; only durability across a crash is weaker
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  size_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined()) fail("save_safetensors: tensor '", name, "' is undefined");
    header[name] = {{"dtype", safetensors_dtype(tensor.dtype())},
                    {"shape", tensor.shape()},
                    {"data_offsets", {offset, offset + tensor.nbytes()}}};
    offset += tensor.nbytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the format pads the header to 8 bytes
  const uint64_t header_size = text.size();

  // A name of its own per writer, so two processes saving the same path never share a file.
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot write ", path, ": ", std::strerror(errno));
  try {
    unsigned char length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(header_size >> (8 * i));
    write_all(fd, length, 8, path);
    write_all(fd, text.data(), text.size(), path);
    for (const auto& [name, tensor] : tensors) {
      const Tensor host = host_accessible(tensor.device()) ? tensor : tensor.to(Device::cpu());
      write_all(fd, host.raw_data(), host.nbytes(), path);
    }
    if (::fsync(fd) != 0) fail("cannot write ", path, ": fsync: ", std::strerror(errno));
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw;
  }
  ::close(fd);
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    fail("cannot write ", path, ": rename: ", std::strerror(saved));
  }
  sync_parent_directory(path);
}

SafetensorsContents load_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open ", path, ": ", std::strerror(errno));
  in.seekg(0, std::ios::end);
  const auto file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  if (file_size < 8) fail(path, ": not a safetensors file (", file_size, " bytes; truncated?)");
  unsigned char length[8];
  in.read(reinterpret_cast<char*>(length), 8);
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= static_cast<uint64_t>(length[i]) << (8 * i);
  if (header_size > file_size - 8)
    fail(path, ": header claims ", header_size, " bytes but the file has ", file_size - 8,
         " after the length (truncated or not a safetensors file)");
  std::string text(header_size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(header_size));
  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = file_size - data_start;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": the header is not valid JSON (", e.what(), ")");
  }
  if (!header.is_object()) fail(path, ": the header is not a JSON object");

  SafetensorsContents contents;
  for (const auto& [name, entry] : header.items()) {
    try {
      if (name == "__metadata__") {
        for (const auto& [key, value] : entry.items())
          contents.metadata[key] = value.get<std::string>();
        continue;
      }
      DType dtype;
      if (!parse_dtype(entry.at("dtype").get<std::string>(), dtype) || dtype == DType::kBF16 ||
          dtype == DType::kF16)
        fail(path, ": tensor '", name, "' has unsupported dtype ", entry.at("dtype").dump(),
             " (F32, F64 and I32 are supported)");
      const Shape shape = entry.at("shape").get<Shape>();
      const auto offsets = entry.at("data_offsets").get<std::vector<uint64_t>>();
      for (int64_t d : shape)
        if (d < 0) fail(path, ": tensor '", name, "' has a negative dimension");
      const uint64_t bytes = static_cast<uint64_t>(shape_numel(shape)) * dtype_size(dtype);
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] - offsets[0] != bytes ||
          offsets[1] > data_size)
        fail(path, ": tensor '", name, "' has data offsets outside the file or not matching its ",
             "shape (truncated?)");
      Tensor t = Tensor::empty(shape, dtype, Device::cpu());
      in.seekg(static_cast<std::streamoff>(data_start + offsets[0]));
      in.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(bytes));
      if (!in) fail(path, ": could not read tensor '", name, "' (truncated?)");
      contents.tensors.emplace(name, t.to(default_device()));
    } catch (const nlohmann::json::exception& e) {
      fail(path, ": bad header entry for '", name, "' (", e.what(), ")");
    }
  }
  return contents;
}

}  // namespace ldm
