// One recv straight into a new std::string's storage, with no copy from a
// receive buffer and no zero fill.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace tandem::detail {

// Receives at most `capacity` bytes (capacity > 0) from the non-blocking
// socket fd into `out`, which then holds exactly the bytes received.
// Returns their number, 0 at the end of stream, or -errno (out is then
// empty).
ssize_t receive_into_string(int fd, std::size_t capacity, std::string& out);

}  // namespace tandem::detail
