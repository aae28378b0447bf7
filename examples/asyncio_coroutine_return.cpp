// The seed's asyncio_coroutine_return.py: run_until_complete() returns the
// coroutine's value. Python:
//
//     async def coroutine():
//         print("in coroutine")
//         return 'result'
//
//     event_loop = asyncio.get_event_loop()
//     try:
//         return_value = event_loop.run_until_complete(coroutine())
//         print(f"it returned : {return_value!r}")
//     finally:
//         event_loop.close()
#include <cstdio>
#include <string>
#include <string_view>

#include "python_repr.hpp"
#include "tandem/loop.hpp"

namespace {

std::string coroutine() {
  std::printf("in coroutine\n");
  return "result";
}

}  // namespace

int main() {
  tandem::event_loop event_loop;
  // Python's `finally: event_loop.close()`: the loop's destructor closes it,
  // however main's body is left.
  const std::string return_value = event_loop.run_until_complete(coroutine);
  std::printf("it returned : %s\n", examples::repr(return_value).c_str());
}
