// Sanitizers must be told about every stack switch. AddressSanitizer takes
// a coroutine's stack for a corrupted one of the thread's and reports false
// errors (or misses real ones); ThreadSanitizer keeps a shadow call stack
// and a happens-before clock per thread, which a switch would tear. Each
// coroutine is therefore a "fiber" to them. These hooks compile to nothing
// without a sanitizer.
#pragma once

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define TANDEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TANDEM_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define TANDEM_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TANDEM_TSAN 1
#endif
#endif

#ifdef TANDEM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef TANDEM_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace tandem::detail {

// What the sanitizers need to follow one coroutine's switches.
struct sanitizer_state {
#ifdef TANDEM_ASAN
  // The fake stacks ASan keeps for each side, and the bounds of the stack
  // the body returns to (the resumer may change: nesting, threads).
  void* resumer_fake_stack = nullptr;
  void* body_fake_stack = nullptr;
  const void* resumer_bottom = nullptr;
  std::size_t resumer_size = 0;
#endif
#ifdef TANDEM_TSAN
  void* body_fiber = nullptr;     // TSan's fiber for the body, for the frame's life
  void* resumer_fiber = nullptr;  // whoever resumed the body last
#endif
};

// The frame was made, or is about to be destroyed (by its resumer, never
// from inside the body).
inline void fiber_created([[maybe_unused]] sanitizer_state& s,
                          [[maybe_unused]] const char* name) noexcept {
#ifdef TANDEM_TSAN
  s.body_fiber = __tsan_create_fiber(0);
  if (name[0] != '\0') __tsan_set_fiber_name(s.body_fiber, name);  // shown in reports
#endif
}
inline void fiber_destroyed([[maybe_unused]] sanitizer_state& s) noexcept {
#ifdef TANDEM_TSAN
  __tsan_destroy_fiber(s.body_fiber);
#endif
}

// The resumer is about to switch into the body, whose stack is
// [bottom, bottom + size); after_resume runs when the body switched back.
inline void before_resume([[maybe_unused]] sanitizer_state& s, [[maybe_unused]] const void* bottom,
                          [[maybe_unused]] std::size_t size) noexcept {
#ifdef TANDEM_ASAN
  __sanitizer_start_switch_fiber(&s.resumer_fake_stack, bottom, size);
#endif
#ifdef TANDEM_TSAN
  s.resumer_fiber = __tsan_get_current_fiber();
  __tsan_switch_to_fiber(s.body_fiber, 0);
#endif
}
inline void after_resume([[maybe_unused]] sanitizer_state& s) noexcept {
#ifdef TANDEM_ASAN
  __sanitizer_finish_switch_fiber(s.resumer_fake_stack, nullptr, nullptr);
#endif
}

// The body is about to switch back to its resumer; after_suspend runs when
// it is resumed again (maybe by another resumer, on another thread).
inline void before_suspend([[maybe_unused]] sanitizer_state& s) noexcept {
#ifdef TANDEM_ASAN
  __sanitizer_start_switch_fiber(&s.body_fake_stack, s.resumer_bottom, s.resumer_size);
#endif
#ifdef TANDEM_TSAN
  __tsan_switch_to_fiber(s.resumer_fiber, 0);
#endif
}
inline void after_suspend([[maybe_unused]] sanitizer_state& s) noexcept {
#ifdef TANDEM_ASAN
  __sanitizer_finish_switch_fiber(s.body_fake_stack, &s.resumer_bottom, &s.resumer_size);
#endif
}

// The body's first instructions: learn where it came from. Under ASan this
// must precede any call to a [[noreturn]] function, before which the
// compiler has ASan check the stack it believes is current.
inline void arrive_in_body([[maybe_unused]] sanitizer_state& s) noexcept {
#ifdef TANDEM_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &s.resumer_bottom, &s.resumer_size);
#endif
}

// The finished body leaves for good: ASan may drop its fake stack.
inline void before_final_suspend([[maybe_unused]] sanitizer_state& s) noexcept {
#ifdef TANDEM_ASAN
  __sanitizer_start_switch_fiber(nullptr, s.resumer_bottom, s.resumer_size);
#endif
#ifdef TANDEM_TSAN
  __tsan_switch_to_fiber(s.resumer_fiber, 0);
#endif
}

// A delegate that ended switches into its delegator's body instead of
// back to its resumer (generator rule 16), whose stack is [bottom, bottom +
// size); the delegator returns to that resumer from now on, which
// after_collapse tells ASan once the delegator runs.
inline void before_collapse([[maybe_unused]] sanitizer_state& ended,
                            [[maybe_unused]] sanitizer_state& delegator,
                            [[maybe_unused]] const void* bottom,
                            [[maybe_unused]] std::size_t size) noexcept {
#ifdef TANDEM_ASAN
  __sanitizer_start_switch_fiber(nullptr, bottom, size);
#endif
#ifdef TANDEM_TSAN
  delegator.resumer_fiber = ended.resumer_fiber;
  __tsan_switch_to_fiber(delegator.body_fiber, 0);
#endif
}
inline void after_collapse([[maybe_unused]] sanitizer_state& delegator,
                           [[maybe_unused]] const sanitizer_state& ended) noexcept {
#ifdef TANDEM_ASAN
  delegator.resumer_fake_stack = ended.resumer_fake_stack;
  delegator.resumer_bottom = ended.resumer_bottom;
  delegator.resumer_size = ended.resumer_size;
#endif
}

// A finished or abandoned body never returns from its last frames, so their
// redzones stay poisoned; a pooled stack is cleared before its next use.
// Only from the lowest poisoned byte up: unpoisoning a whole stack would
// commit shadow memory for all of it, used or not (an eighth of its size).
inline void forget_stack([[maybe_unused]] const void* bottom, [[maybe_unused]] std::size_t size) {
#ifdef TANDEM_ASAN
  auto* low = static_cast<char*>(const_cast<void*>(bottom));
  if (void* first = __asan_region_is_poisoned(low, size))
    __asan_unpoison_memory_region(first,
                                  static_cast<std::size_t>(low + size - static_cast<char*>(first)));
#endif
}

}  // namespace tandem::detail
