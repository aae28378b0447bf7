// The seed's asyncio_coroutine.py: run_until_complete() starts the loop with
// one coroutine and stops it when the coroutine ends. Python:
//
//     async def coroutine():
//         print("in coroutine")
//
//     event_loop = asyncio.get_event_loop()
//     try:
//         print("Starting coroutine")
//         coro = coroutine()
//         print("entering event loop")
//         event_loop.run_until_complete(coro)
//     finally:
//         print("closing event loop")
//         event_loop.close()
//
// Calling an async function in Python makes a coroutine object that does not
// run until the loop drives it. The nearest tandem thing is a task: it is
// created here but starts only once run_until_complete() runs the loop, so
// "in coroutine" still comes after "entering event loop".
#include <cstdio>

#include "tandem/loop.hpp"

namespace {

void coroutine() { std::printf("in coroutine\n"); }

// Python's finally block: runs however main's body is left, exceptions
// included.
struct close_on_exit {
  tandem::event_loop& loop;
  ~close_on_exit() {
    std::printf("closing event loop\n");
    loop.close();
  }
};

}  // namespace

int main() {
  tandem::event_loop event_loop;
  const close_on_exit finally{event_loop};
  std::printf("Starting coroutine\n");
  auto coro = event_loop.create_task(coroutine);
  std::printf("entering event loop\n");
  event_loop.run_until_complete(coro);
}
