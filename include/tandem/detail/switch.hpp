// tandem::detail::switch_within, leave_for and switch_slots for this target: the inline
// switch where there is one, tandem_jump elsewhere.
#pragma once

#if defined(__x86_64__)
#include "tandem/detail/switch_x86_64.hpp"
#define TANDEM_INLINE_SWITCH 1
#elif defined(__aarch64__)
#include "tandem/detail/switch_aarch64.hpp"
#define TANDEM_INLINE_SWITCH 1
#elif defined(__arm__) && defined(__ARM_PCS_VFP) && __ARM_ARCH >= 7
#include "tandem/detail/switch_arm.hpp"
#define TANDEM_INLINE_SWITCH 1
#elif defined(__riscv) && __riscv_xlen == 64 && defined(__riscv_float_abi_double)
#include "tandem/detail/switch_riscv64.hpp"
#define TANDEM_INLINE_SWITCH 1
#else
#include "tandem/detail/switch_portable.hpp"
#define TANDEM_INLINE_SWITCH 0
#endif

#if TANDEM_INLINE_SWITCH
#include <cstdint>

namespace tandem::detail {

// Readies a fresh body's slots: the first switch into it enters `start`
// (asm/'s tandem_coroutine_start) on a 16-byte aligned stack just below
// `top`, with no frame pointer, so that backtraces end there.
inline void set_first_resume(switch_slots& body, std::uintptr_t top, void (*start)()) noexcept {
  // NOLINTNEXTLINE(performance-no-int-to-ptr): an address computed inside the stack
  body.sp = reinterpret_cast<void*>((top & ~std::uintptr_t{15}) - 16);
  body.fp = nullptr;
  body.ip = first_resume_address(reinterpret_cast<void*>(start), body.sp);
}

}  // namespace tandem::detail
#endif
