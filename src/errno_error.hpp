// The library's system-call failures: std::system_error with errno.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>

namespace tandem::detail {

[[noreturn]] inline void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace tandem::detail
