// Two kinds of failure. A broken invariant is a bug in this code: LDM_CHECK aborts with
// file:line. A user mistake (bad shape passed to an op, bad file, bad flag) throws ldm::Error
// with one clear message; tools catch it in main, print it and exit non-zero.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace ldm {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {

[[noreturn]] void check_failed(const char* file, int line, const char* condition,
                               const std::string& message);

template <typename... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}

}  // namespace detail

// Throws ldm::Error with the parts streamed together.
template <typename... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  throw Error(detail::concat(std::forward<Parts>(parts)...));
}

}  // namespace ldm

// LDM_CHECK(cond, "message parts", value, ...): aborts with file:line when cond is false.
#define LDM_CHECK(cond, ...)                                                        \
  do {                                                                              \
    if (!(cond)) [[unlikely]]                                                       \
      ::ldm::detail::check_failed(__FILE__, __LINE__, #cond,                        \
                                  ::ldm::detail::concat("" __VA_OPT__(, ) __VA_ARGS__)); \
  } while (0)
