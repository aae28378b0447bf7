// See string_receive.hpp. This file alone is compiled as C++23 where the
// compiler has it (CMakeLists.txt), for std::string::resize_and_overwrite:
// C++20 can only grow a string by filling it, so the bytes would be
// written twice. Nothing of C++23 crosses its interface.
#include "string_receive.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace tandem::detail {

ssize_t receive_into_string(int fd, std::size_t capacity, std::string& out) {
  ssize_t result = 0;
  auto receive = [fd, &result](char* data, std::size_t size) -> std::size_t {
    result = ::recv(fd, data, size, 0);
    if (result < 0) {
      result = -errno;
      return 0;
    }
    return static_cast<std::size_t>(result);
  };
#if defined(__cpp_lib_string_resize_and_overwrite)
  out.resize_and_overwrite(capacity, receive);
#else
  out.resize(capacity);
  out.resize(receive(out.data(), capacity));
#endif
  return result;
}

}  // namespace tandem::detail
