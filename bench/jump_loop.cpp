// jump_loop tandem|boost N: N round trips into a context and back, and
// nothing else, for instruction counters. Run it at two N and divide the
// difference of the counts by the difference of 2N: that is the cost of
// one jump, free of start-up (count_instructions.sh does this).
#include <boost/context/detail/fcontext.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tandem/context.h"
#include "tandem/stack.hpp"

namespace fc = boost::context::detail;

int main(int argc, char** argv) {
  if (argc != 3 || (std::strcmp(argv[1], "tandem") != 0 && std::strcmp(argv[1], "boost") != 0)) {
    std::fprintf(stderr, "usage: jump_loop tandem|boost ROUND_TRIPS\n");
    return 2;
  }
  const long n = std::atol(argv[2]);
  tandem::stack s;
  if (std::strcmp(argv[1], "tandem") == 0) {
    auto echo = [](tandem_transfer t) {
      for (;;) t = tandem_jump(t.from, t.data);
    };
    tandem_context c = tandem_make_context(s.top(), s.size(), echo);
    for (long i = 0; i < n; ++i) c = tandem_jump(c, nullptr).from;
  } else {
    auto echo = [](fc::transfer_t t) {
      for (;;) t = fc::jump_fcontext(t.fctx, t.data);
    };
    fc::fcontext_t c = fc::make_fcontext(s.top(), s.size(), echo);
    for (long i = 0; i < n; ++i) c = fc::jump_fcontext(c, nullptr).fctx;
  }
  return 0;
}
