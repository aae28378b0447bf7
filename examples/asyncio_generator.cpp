// The seed's asyncio_generator.py: asyncio_coroutine_chain.py written the
// pre-3.5 way, with generators and "yield from". Python (3.4 to 3.10; the
// decorator is gone in 3.11, see python/asyncio_generator.py):
//
//     @asyncio.coroutine
//     def outer():
//         print("in outer")
//         print("waiting for result1")
//         result1 = yield from phase1()
//         print("waiting for result2")
//         result2 = yield from phase2(result1)
//         return result1, result2
//
//     @asyncio.coroutine
//     def phase1():
//         print(" - in phase1")
//         return "result1"
//
//     @asyncio.coroutine
//     def phase2(arg):
//         print(" - in phase2")
//         return f"result2 derived from {arg}"
//
//     event_loop = asyncio.get_event_loop()
//     try:
//         return_value = event_loop.run_until_complete(outer())
//         print(f"return value : {return_value!r}")
//     finally:
//         event_loop.close()
//
// How "yield from" maps to tandem. A generator-based coroutine needs
// "yield from" at every level so that a suspension deep inside phase1 can
// travel up through outer to the loop; the value of "yield from" is the
// sub-generator's return value. A tandem task runs on its own stack, so a
// suspension anywhere in its call chain suspends the whole task, and the
// delegation "yield from" spells out is what a plain call already does:
// asyncio_coroutine_chain.cpp writes it that way.
//
// This twin spells it the other way, as in pre-3.5 code that wrapped a
// sub-coroutine in asyncio.async()/ensure_future() and then did
// "yield from" on the task: each phase is its own task, and outer awaits
// it. The difference is scheduling, not output: a new task starts on a
// later loop iteration, and outer is suspended meanwhile; nothing else runs
// here, so the lines come out in the same order.
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>

#include "python_repr.hpp"
#include "tandem/loop.hpp"

namespace {

std::string phase1() {
  std::printf(" - in phase1\n");
  return "result1";
}

std::string phase2(const std::string& arg) {
  std::printf(" - in phase2\n");
  return "result2 derived from " + arg;
}

std::pair<std::string, std::string> outer() {
  auto& loop = tandem::current_loop();
  std::printf("in outer\n");
  std::printf("waiting for result1\n");
  std::string result1 = tandem::await(loop.create_task(phase1));
  std::printf("waiting for result2\n");
  // By reference: outer waits for the task, so result1 outlives it.
  std::string result2 = tandem::await(loop.create_task([&result1] { return phase2(result1); }));
  return {std::move(result1), std::move(result2)};
}

}  // namespace

int main() {
  tandem::event_loop event_loop;
  // Python's `finally: event_loop.close()`: the loop's destructor closes it,
  // however main's body is left.
  const auto return_value = event_loop.run_until_complete(outer);
  std::printf("return value : %s\n", examples::repr(return_value).c_str());
}
