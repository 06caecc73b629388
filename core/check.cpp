// Out-of-line part of LDM_CHECK, so the macro stays small at every call site.
#include "core/check.h"

#include <cstdio>
#include <cstdlib>

namespace ldm::detail {

void check_failed(const char* file, int line, const char* condition, const std::string& message) {
  std::fprintf(stderr, "%s:%d: internal check failed: %s%s%s\n", file, line, condition,
               message.empty() ? "" : ": ", message.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace ldm::detail
