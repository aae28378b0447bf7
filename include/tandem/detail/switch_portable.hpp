// The coroutine hot path's stack switch on targets without an inline one:
// tandem_jump from the C ABI, with the same interface as switch_x86_64.hpp.
// tandem_jump tells the receiver where the sender stopped (transfer.from),
// so the receiver writes it into the sender's slots.
//
// FP control state (generator rule 14). tandem_jump keeps it per context,
// but here it belongs to the thread: the message carries the sender's
// floating-point environment and the receiver takes it on landing (written
// only when it differs), as a body's first switch in does (portable_entry
// in src/coroutine.cpp). For own_fp_control the resumer exchanges it on
// each side of the switch (switch_fp_control).
#pragma once

#include <cfenv>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "tandem/context.h"

namespace tandem::detail {

struct switch_slots {
  tandem_context sp = nullptr;
  std::fenv_t fp{};  // own_fp_control only
};

struct landing {
  std::uintptr_t value;
  void* frame;
  std::uintptr_t status;  // not carried here: 0
};

// The frame's status word is read from the frame after a switch.
inline constexpr bool switch_carries_status = false;

struct switch_message {
  std::uintptr_t value;
  switch_slots* sender;  // null when the sender leaves for good
  // The lander's frame: the one the sender switched into. Not always the
  // one the lander suspended in: a delegate's resumer may land through its
  // delegator's frame (generator rule 16).
  void* frame;
  std::fenv_t fp;  // the sender's floating-point environment
};

// Makes `fp` this thread's floating-point environment, if it is not already.
inline void adopt_fp_environment(const std::fenv_t& fp) noexcept {
  std::fenv_t current;
  std::fegetenv(&current);
  if (std::memcmp(&current, &fp, sizeof fp) != 0) std::fesetenv(&fp);
}

// Suspends the caller into the slots at frame + From and resumes those at
// frame + To, handing over `value`; returns what the next switch back hands
// over, with the lander's frame. StatusAt and the status word are the
// carrying switches' (switch_carries_status): unused here, where the
// caller stores the word. SameFrame (the caller always lands back with
// `frame`) changes nothing here.
template <std::size_t From, std::size_t To, std::size_t /*StatusAt*/, bool = false>
inline landing switch_within(void* frame, std::uintptr_t value, std::uintptr_t /*status*/) {
  auto* base = static_cast<char*>(frame);
  auto* self = reinterpret_cast<switch_slots*>(base + From);
  switch_message out{value, self, frame, {}};
  std::fegetenv(&out.fp);
  const tandem_transfer t = tandem_jump(reinterpret_cast<switch_slots*>(base + To)->sp, &out);
  auto* in = static_cast<switch_message*>(t.data);
  if (in->sender != nullptr) in->sender->sp = t.from;
  adopt_fp_environment(in->fp);
  return {in->value, in->frame, 0};
}

// Resumes the slots at frame + To with `value` for good: the caller's
// context is never resumed, so nothing of it is kept (Back and the status
// word: unused here).
template <std::size_t To, std::size_t Back>
[[noreturn]] inline void leave_for(void* frame, std::uintptr_t value, std::uintptr_t /*status*/) {
  switch_message out{value, nullptr, frame, {}};
  std::fegetenv(&out.fp);
  tandem_jump(reinterpret_cast<switch_slots*>(static_cast<char*>(frame) + To)->sp, &out);
  __builtin_unreachable();
}

// Reads this thread's floating-point environment into `slots` (a
// coroutine's starting state, with stack_options::own_fp_control).
inline void store_fp_control(switch_slots* slots) noexcept { std::fegetenv(&slots->fp); }

// own_fp_control, on one side of a switch: stores this thread's
// floating-point environment into `save`, and makes `load`'s the thread's.
inline void switch_fp_control(switch_slots* save, const switch_slots* load) noexcept {
  store_fp_control(save);
  adopt_fp_environment(load->fp);
}

// The caller's frame address less `frame`, modulo 2^N: near enough to
// the stack pointer for a yield's check that it is on its own coroutine's
// stack (see on_own_stack).
inline std::uintptr_t stack_offset(const void* frame) noexcept {
  return reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0)) -
         reinterpret_cast<std::uintptr_t>(frame);
}

}  // namespace tandem::detail
