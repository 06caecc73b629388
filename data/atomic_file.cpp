// Temp file + fsync + rename, the same protocol as core/safetensors.cpp uses for checkpoints.
#include "data/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/check.h"

namespace ldm::data {
namespace {

// Makes the rename itself durable: without this a crash can forget the new directory entry.
void sync_parent_directory(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "."
                          : slash == 0               ? "/"
                                                     : path.substr(0, slash);
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // the file is written; only durability across a crash is weaker
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes) {
  // A name of its own per writer, so two processes writing the same path never share a file.
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("cannot write ", path, ": ", std::strerror(errno));
  const uint8_t* p = bytes.data();
  size_t left = bytes.size();
  std::string error;
  while (left > 0 && error.empty()) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = std::strerror(errno);
      break;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (error.empty() && ::fsync(fd) != 0) error = std::string("fsync: ") + std::strerror(errno);
  ::close(fd);
  if (error.empty() && std::rename(temp.c_str(), path.c_str()) != 0)
    error = std::string("rename: ") + std::strerror(errno);
  if (!error.empty()) {
    ::unlink(temp.c_str());
    fail("cannot write ", path, ": ", error);
  }
  sync_parent_directory(path);
}

}  // namespace ldm::data
