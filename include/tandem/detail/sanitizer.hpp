// AddressSanitizer must be told about every stack switch, or it takes the
// coroutine's stack for a corrupted one of the thread's and reports false
// errors (or misses real ones). These hooks compile to nothing without ASan.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define TANDEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TANDEM_ASAN 1
#endif
#endif

#ifdef TANDEM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace tandem::detail {

// What ASan needs to follow one coroutine's switches: the fake stacks it
// keeps for each side, and the bounds of the stack the body returns to.
struct sanitizer_state {
#ifdef TANDEM_ASAN
  void* resumer_fake_stack = nullptr;
  void* body_fake_stack = nullptr;
  const void* resumer_bottom = nullptr;
  std::size_t resumer_size = 0;
#endif
};

// Before a switch: `fake_stack_save` keeps the leaving side's fake stack
// (null: the leaving side never comes back); [bottom, bottom + size) is the
// stack being entered.
inline void before_switch([[maybe_unused]] void** fake_stack_save,
                          [[maybe_unused]] const void* bottom, [[maybe_unused]] std::size_t size) {
#ifdef TANDEM_ASAN
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#endif
}

// After a switch, on the side that arrived: restores its fake stack and
// learns the bounds of the stack it came from.
inline void after_switch([[maybe_unused]] void* fake_stack,
                         [[maybe_unused]] const void** from_bottom,
                         [[maybe_unused]] std::size_t* from_size) {
#ifdef TANDEM_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, from_bottom, from_size);
#endif
}

// A finished body never returns from its last frames, so their redzones
// stay poisoned; a pooled stack must be cleared before the next body runs.
inline void forget_stack([[maybe_unused]] const void* bottom, [[maybe_unused]] std::size_t size) {
#ifdef TANDEM_ASAN
  __asan_unpoison_memory_region(bottom, size);
#endif
}

}  // namespace tandem::detail
