// The seed's two close() variants of number_coroutine, run one after the
// other as the seed runs them (so the second's numbers continue the first's
// line). Python:
//
//     def number_coroutine():                 # variant 1
//         while True:
//             x = (yield)
//             print(x, end=' ')
//
//     def number_coroutine():                 # variant 2
//         try:
//             while True:
//                 x = (yield)
//                 print(x, end=' ')
//         except GeneratorExit:
//             print()
//             print('코루틴 종료')
//
//     co = number_coroutine()                 # for each variant
//     next(co)
//     for i in range(20):
//         co.send(i)
//     co.close()
#include <cstdio>

#include "tandem/coroutine.hpp"

namespace {

using number_receiver = tandem::coroutine<void, int>;

namespace closed_silently {

// close() throws coroutine_exit at the yield; nothing catches it, so the
// body ends quietly and close() returns.
void number_coroutine(tandem::yielder<void, int>& y) {
  for (;;) {
    const int x = y.yield();
    std::printf("%d ", x);
  }
}

}  // namespace closed_silently

namespace reports_close {

// Catching coroutine_exit (Python's GeneratorExit) is how a coroutine learns
// it is being closed; returning afterwards lets close() succeed.
void number_coroutine(tandem::yielder<void, int>& y) {
  try {
    for (;;) {
      const int x = y.yield();
      std::printf("%d ", x);
    }
  } catch (const tandem::coroutine_exit&) {
    std::printf("\n");
    std::printf("코루틴 종료\n");
  }
}

}  // namespace reports_close

void send_0_to_19_then_close(number_receiver co) {
  co.next();
  for (int i = 0; i < 20; ++i) co.send(i);
  co.close();
}

}  // namespace

int main() {
  send_0_to_19_then_close(number_receiver(closed_silently::number_coroutine));
  send_0_to_19_then_close(number_receiver(reports_close::number_coroutine));
}
