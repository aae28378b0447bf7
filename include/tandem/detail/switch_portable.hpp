// The coroutine hot path's stack switch on targets without an inline one:
// tandem_jump from the C ABI, with the same interface as switch_x86_64.hpp.
// tandem_jump tells the receiver where the sender stopped (transfer.from),
// so the receiver writes it into the sender's slots. tandem_jump always
// preserves the FP control state, so OwnFp changes nothing here: on these
// targets every coroutine has its own.
#pragma once

#include <cstdint>

#include "tandem/context.h"

namespace tandem::detail {

struct switch_slots {
  tandem_context sp = nullptr;
};

struct landing {
  std::uintptr_t value;
  switch_slots* own;
};

struct switch_message {
  std::uintptr_t value;
  switch_slots* sender;
};

// Suspends the caller into `self`, resumes `other` with `value`; returns the
// value handed over when something switches back to `self`.
template <bool OwnFp>
inline landing switch_to(switch_slots* self, switch_slots* other, std::uintptr_t value) {
  switch_message out{value, self};
  const tandem_transfer t = tandem_jump(other->sp, &out);
  auto* in = static_cast<switch_message*>(t.data);
  in->sender->sp = t.from;
  return {in->value, self};
}

inline void store_fp_control(switch_slots*) noexcept {}

}  // namespace tandem::detail
