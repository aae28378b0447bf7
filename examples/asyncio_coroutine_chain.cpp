// The seed's asyncio_coroutine_chain.py: outer awaits two phases in order,
// the second using the first's result. Python:
//
//     async def outer():
//         print("in outer")
//         print("waiting for result1")
//         result1 = await phase1()
//         print("waiting for result2")
//         result2 = await phase2(result1)
//         return result1, result2
//
//     async def phase1():
//         print(" - in phase1")
//         return "result1"
//
//     async def phase2(arg):
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
// "await phase1()" runs phase1 inside outer's task: no new task, no trip
// through the loop (the seed's note says as much: the loop is not asked to
// manage a new coroutine). A tandem task has its own stack, so anything it
// calls may suspend it; the same thing is therefore a plain function call.
// (asyncio_generator.cpp shows the other spelling, a task per phase.)
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
  std::printf("in outer\n");
  std::printf("waiting for result1\n");
  std::string result1 = phase1();
  std::printf("waiting for result2\n");
  std::string result2 = phase2(result1);
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
