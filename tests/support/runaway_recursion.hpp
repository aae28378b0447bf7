// Recursion deep enough to leave any stack, for the overflow tests.
#pragma once

namespace testing_support {

// Never set: it keeps the compiler from treating the recursion as endless
// (and so undefined); `volatile` keeps every frame.
inline volatile bool stop_recursing = false;

__attribute__((noinline)) inline int recurse(int depth) {
  if (stop_recursing) return depth;
  volatile char frame[256];
  frame[0] = static_cast<char>(depth);
  return recurse(depth + 1) + frame[0];
}

}  // namespace testing_support
