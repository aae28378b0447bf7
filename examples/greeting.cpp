// The seed's three coroutine_test greeting variants, run one after the
// other as the seed runs them, without the time.sleep(2) pauses. Python:
//
//     def coroutine_test():                   # variant 1: greeting grows
//         greeting = "good"
//         while True:
//             text = (yield greeting)
//             print("text= ", end= ""), print(text)
//             greeting += text
//
//     def coroutine_test():                   # variant 2: prints, yields "good"
//         greeting = "good"
//         while True:
//             text = (yield greeting)
//             print(greeting + text)
//
//     def coroutine_test():                   # variant 3: greeting restarts
//         greeting = "good"
//         while True:
//             text = (yield greeting)
//             print("text = ", end=""), print(text)
//             greeting = "good"
//             greeting += text
//
//     if __name__ == "__main__":              # for each variant
//         cr = coroutine_test()
//         print("cr=", end=""), print(cr)
//         next(cr)
//         print("send 1")
//         print(cr.send("morning"))           # variant 2: cr.send("morning")
//         print("send 2")
//         print(cr.send("afternoon"))         # variant 2: cr.send("afternoon")
//         print("send 3")
//         print(cr.send("evening"))           # variant 2: cr.send("evening")
//
// print(cr) shows "<generator object coroutine_test at 0x...>", whose address
// changes from run to run. To keep the expected output fixed, this program
// prints "cr=<generator object coroutine_test>", and the Python twin
// (python/greeting.py) strips " at 0x..." from the repr to match.
#include <cstdio>
#include <string>

#include "tandem/coroutine.hpp"

namespace {

using greeter = tandem::coroutine<std::string, std::string>;

namespace greeting_grows {

void coroutine_test(greeter::yielder_type& y) {
  std::string greeting = "good";
  for (;;) {
    const std::string text = y.yield(greeting);
    std::printf("text= %s\n", text.c_str());
    greeting += text;
  }
}

}  // namespace greeting_grows

namespace coroutine_prints {

void coroutine_test(greeter::yielder_type& y) {
  const std::string greeting = "good";
  for (;;) {
    const std::string text = y.yield(greeting);
    std::printf("%s\n", (greeting + text).c_str());
  }
}

}  // namespace coroutine_prints

namespace greeting_restarts {

void coroutine_test(greeter::yielder_type& y) {
  std::string greeting = "good";
  for (;;) {
    const std::string text = y.yield(greeting);
    std::printf("text = %s\n", text.c_str());
    greeting = "good";
    greeting += text;
  }
}

}  // namespace greeting_restarts

// Variant 2 drops what send returns; the others print it.
enum class replies { print, drop };

// The seed's __main__ block, the same for all three variants.
void greet(greeter cr, replies what_to_do) {
  std::printf("cr=<generator object coroutine_test>\n");  // see the top comment
  cr.next();
  const char* const texts[] = {"morning", "afternoon", "evening"};
  int send_number = 0;
  for (const char* text : texts) {
    std::printf("send %d\n", ++send_number);
    const std::string reply = cr.send(text);
    if (what_to_do == replies::print) std::printf("%s\n", reply.c_str());
  }
}

}  // namespace

int main() {
  greet(greeter(greeting_grows::coroutine_test), replies::print);
  greet(greeter(coroutine_prints::coroutine_test), replies::drop);
  greet(greeter(greeting_restarts::coroutine_test), replies::print);
}
