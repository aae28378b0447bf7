// How values cross a switch (detail/frame.hpp): as one machine word.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>

namespace tandem::detail {

// Values cross a switch as one machine word: small trivially copyable
// values in it, anything else as a pointer into the suspended sender's
// frame, from which the receiver moves it.
template <class T>
inline constexpr bool word_sized = std::is_trivially_copyable_v<T> &&
                                   sizeof(T) <= sizeof(std::uintptr_t);

// A word-sized value is converted by bit_cast, never through its address:
// an object whose address was taken must sit in memory at the switch (its
// "memory" clobber), which costs a store per send.
template <class T>
std::uintptr_t to_word(T& value) noexcept {
  if constexpr (word_sized<T> && sizeof(T) == sizeof(std::uintptr_t)) {
    return std::bit_cast<std::uintptr_t>(value);
  } else if constexpr (word_sized<T>) {
    const auto bytes = std::bit_cast<std::array<unsigned char, sizeof(T)>>(value);
    std::uintptr_t w = 0;
    std::memcpy(&w, bytes.data(), sizeof(T));
    return w;
  } else {
    return reinterpret_cast<std::uintptr_t>(std::addressof(value));
  }
}

template <class T>
T from_word(std::uintptr_t w) {
  if constexpr (std::is_reference_v<T>) {
    // coroutine's static_assert has rejected it; this one replaces the
    // "forming pointer to reference" error that would follow it here.
    static_assert(!std::is_reference_v<T>,
                  "coroutine<Out, In, R>: no reference types (docs/rules.md, section 3)");
  } else if constexpr (word_sized<T> && sizeof(T) == sizeof(std::uintptr_t)) {
    return std::bit_cast<T>(w);
  } else if constexpr (word_sized<T>) {
    std::array<unsigned char, sizeof(T)> bytes;
    std::memcpy(bytes.data(), &w, sizeof(T));
    return std::bit_cast<T>(bytes);
  } else {
    return std::move(*reinterpret_cast<T*>(w));
  }
}

}  // namespace tandem::detail
