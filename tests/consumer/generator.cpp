// A user's C++ program built with `g++ -std=c++20 generator.cpp
// $(pkg-config --cflags --libs tandem)`: a generator, a value sent in, and
// the end of iteration. Exits 0 when all of it behaves.
#include <tandem/coroutine.hpp>

int main() {
  tandem::coroutine<long, long> running_sum([](tandem::yielder<long, long>& y) {
    long total = 0;
    for (int i = 0; i < 3; ++i) total += y.yield(total);
  });
  long last = running_sum.next();
  for (long v : {5L, 7L}) last = running_sum.send(v);
  try {
    running_sum.send(1);
    return 1;  // the body should have returned
  } catch (const tandem::stop_iteration&) {
  }
  return last == 12 && running_sum.done() ? 0 : 1;
}
