// Streams (docs/rules.md, section 10): reading, writing, closing, errors and
// cancellation, on loopback TCP and Unix sockets, in the manner of
// CPython's test_asyncio/test_streams.py.
#include "tandem/streams.hpp"

#include <gtest/gtest.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#include "resolver.hpp"
#include "support/loop_support.hpp"
#include "support/stream_support.hpp"
#include "tandem/wait.hpp"

namespace {

using namespace loop_testing;
using namespace stream_testing;
using tandem::stream;

// Bytes that tell their position: a lost or repeated byte shows.
std::string pattern(std::size_t from, std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (from + i) % 23);
  return s;
}

// Lets the loop run a few iterations (the peer's data arrives meanwhile).
void settle() { tandem::sleep_for(5ms); }

// ---- reading ---------------------------------------------------------------------

TEST(Streams, ReadReturnsWhatIsThereUpToN) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    p.client.write("hello world");
    settle();
    EXPECT_EQ(p.served.read(5), "hello");
    EXPECT_EQ(p.served.read(100), " world");
  });
}

// Large messages are received straight into the string read() returns;
// small ones through the loop's buffer. Either way every byte arrives
// once, in order, never more than n at a time, and a small string after
// large ones holds little more memory than its bytes need.
TEST(Streams, ReadAcrossLargeAndSmallMessagesKeepsEveryByte) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    std::size_t sent = 0;
    for (const std::size_t size : {std::size_t{20000}, std::size_t{70000}, std::size_t{5000},
                                   std::size_t{10}, std::size_t{30000}, std::size_t{3}}) {
      p.client.write(pattern(sent, size));
      const std::size_t end = sent + size;
      const std::size_t n = size == 30000 ? 7000 : 65536;  // also a read smaller than what came
      while (sent < end) {
        const std::string got = p.served.read(n);
        ASSERT_FALSE(got.empty());
        ASSERT_LE(got.size(), n);
        ASSERT_EQ(got, pattern(sent, got.size())) << "at byte " << sent;
        if (got.size() <= 10) {
          EXPECT_LT(got.capacity(), std::size_t{1024});
        }
        sent += got.size();
      }
      ASSERT_EQ(sent, end);
    }
    p.client.write_eof();
    EXPECT_EQ(p.served.read(65536), "");
  });
}

TEST(Streams, ReadZeroReturnsEmptyAtOnce) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    EXPECT_EQ(p.served.read(0), "");  // nothing was sent: it would wait otherwise
    EXPECT_FALSE(p.served.at_eof());
  });
}

TEST(Streams, ReadWaitsForData) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    auto writer = loop.create_task([&p] {
      tandem::sleep_for(10ms);
      p.client.write("late");
    });
    EXPECT_EQ(p.served.read(10), "late");
    tandem::await(writer);
  });
}

TEST(Streams, ReadReturnsRestThenEmptyAtEndOfStream) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    p.client.write("tail");
    p.client.write_eof();
    EXPECT_EQ(p.served.read(100), "tail");
    EXPECT_EQ(p.served.read(100), "");
    EXPECT_EQ(p.served.read(100), "");
    EXPECT_TRUE(p.served.at_eof());
  });
}

// read_into: what a readline left buffered first, then straight from the
// socket, never more than the buffer holds; 0 at the end of the stream.
TEST(Streams, ReadIntoTakesBufferedBytesFirstThenReceivesUpToTheBuffersSize) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    p.client.write("line\nrest");
    EXPECT_EQ(p.served.readline(), "line\n");  // "rest" stays buffered
    char small[3];
    ASSERT_EQ(p.served.read_into(small), 3u);
    EXPECT_EQ(std::string_view(small, 3), "res");
    char buffer[100];
    ASSERT_EQ(p.served.read_into(buffer), 1u) << "only what was buffered: no wait for more";
    EXPECT_EQ(buffer[0], 't');
    auto writer = loop.create_task([&p] {
      tandem::sleep_for(5ms);
      p.client.write(pattern(0, 250));
      p.client.write_eof();
    });
    std::string got;
    while (const std::size_t n = p.served.read_into(buffer)) {
      ASSERT_LE(n, sizeof buffer);
      got.append(buffer, n);
    }
    EXPECT_EQ(got, pattern(0, 250));
    EXPECT_EQ(p.served.read_into(buffer), 0u);
    EXPECT_TRUE(p.served.at_eof());
    tandem::await(writer);
  });
}

TEST(Streams, ReadIntoAnEmptyBufferReturnsZeroAtOnce) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    EXPECT_EQ(p.served.read_into({}), 0u);  // nothing was sent: it would wait otherwise
    EXPECT_FALSE(p.served.at_eof());
  });
}

TEST(Streams, ReadAllReadsUntilEndOfStream) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    const std::string sent = pattern(0, 300000);
    auto writer = loop.create_task([&] {
      p.client.write(sent);
      p.client.drain();
      p.client.write_eof();
    });
    EXPECT_EQ(p.served.read_all(), sent);
    tandem::await(writer);
  });
}

TEST(Streams, ReadexactlyWaitsForEveryByte) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    auto writer = loop.create_task([&p] {
      for (char c : std::string("abcdef")) {
        p.client.write(std::string(1, c));
        tandem::sleep_for(1ms);
      }
    });
    EXPECT_EQ(p.served.readexactly(6), "abcdef");
    tandem::await(writer);
  });
}

TEST(Streams, ReadexactlyAtEndThrowsIncompleteReadWithPartial) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    p.client.write("abc");
    p.client.write_eof();
    try {
      p.served.readexactly(5);
      FAIL() << "readexactly returned at end of stream";
    } catch (const tandem::incomplete_read_error& e) {
      EXPECT_EQ(e.partial(), "abc");
      EXPECT_EQ(e.expected(), std::optional<std::size_t>(5));
    }
    EXPECT_TRUE(p.served.at_eof());  // the partial bytes were consumed
  });
}

TEST(Streams, ReadlineReturnsLinesThenPartialLastLineThenEmpty) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    p.client.write("one\ntwo\nthr");
    p.client.write_eof();
    EXPECT_EQ(p.served.readline(), "one\n");
    EXPECT_EQ(p.served.readline(), "two\n");
    EXPECT_EQ(p.served.readline(), "thr");
    EXPECT_EQ(p.served.readline(), "");
  });
}

TEST(Streams, ReaduntilKeepsWhatItDidNotReturn) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    p.client.write("a||bb||ccc||rest");
    settle();
    EXPECT_EQ(p.served.readuntil("||"), "a||");
    EXPECT_EQ(p.served.readuntil("||"), "bb||");
    EXPECT_EQ(p.served.readuntil("||"), "ccc||");
    EXPECT_EQ(p.served.read(100), "rest");
  });
}

TEST(Streams, ReaduntilFindsASeparatorSplitAcrossReceives) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    auto writer = loop.create_task([&p] {
      p.client.write("abc\r");
      tandem::sleep_for(10ms);
      p.client.write("\nnext");
    });
    EXPECT_EQ(p.served.readuntil("\r\n"), "abc\r\n");
    tandem::await(writer);
  });
}

TEST(Streams, ReaduntilAtEndThrowsIncompleteReadWithoutExpected) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    p.client.write("no separator");
    p.client.write_eof();
    try {
      p.served.readuntil("\n\n");
      FAIL() << "readuntil returned without its separator";
    } catch (const tandem::incomplete_read_error& e) {
      EXPECT_EQ(e.partial(), "no separator");
      EXPECT_FALSE(e.expected().has_value());
    }
  });
}

TEST(Streams, ReaduntilEmptySeparatorIsInvalidArgument) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    EXPECT_THROW(p.served.readuntil(""), std::invalid_argument);
  });
}

TEST(Streams, ReaduntilPastTheLimitKeepsTheBufferAndThrows) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair(8);
    p.client.write("0123456789|after|");
    settle();
    try {
      p.served.readuntil("|");
      FAIL() << "readuntil accepted 10 bytes before the separator with a limit of 8";
    } catch (const tandem::limit_overrun_error& e) {
      EXPECT_EQ(e.consumed(), 11u);  // skip that many to get past the separator
    }
    // Nothing was consumed: the stream stays usable.
    EXPECT_EQ(p.served.readexactly(11), "0123456789|");
    EXPECT_EQ(p.served.readuntil("|"), "after|");
  });
}

TEST(Streams, ReaduntilWithoutSeparatorWithinTheLimitThrows) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair(8);
    p.client.write("0123456789abcdef");
    settle();
    try {
      p.served.readuntil("|");
      FAIL() << "readuntil waited past its limit";
    } catch (const tandem::limit_overrun_error& e) {
      EXPECT_GT(e.consumed(), 8u);
    }
    EXPECT_EQ(p.served.read(100), "0123456789abcdef");  // kept
  });
}

TEST(Streams, ReadlinePastTheLimitDiscardsThroughTheNewline) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair(8);
    auto writer = loop.create_task([&p] {
      p.client.write(std::string(20, 'x'));
      tandem::sleep_for(10ms);  // the rest of the long line comes later
      p.client.write(std::string(30, 'y') + "\nok\n");
    });
    try {
      p.served.readline();
      FAIL() << "readline accepted a 51-byte line with a limit of 8";
    } catch (const tandem::limit_overrun_error& e) {
      EXPECT_EQ(e.consumed(), 51u);
    }
    EXPECT_EQ(p.served.readline(), "ok\n");
    tandem::await(writer);
  });
}

TEST(Streams, AtEofIsFalseWhileBytesAreBuffered) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    p.client.write("ab");
    p.client.write_eof();
    EXPECT_FALSE(p.served.at_eof());  // no I/O: the end was not seen yet
    EXPECT_EQ(p.served.read(1), "a");
    EXPECT_EQ(p.served.read(1), "b");
    EXPECT_FALSE(p.served.at_eof());
    EXPECT_EQ(p.served.read(1), "");
    EXPECT_TRUE(p.served.at_eof());
  });
}

// What a misuse throws: the std::logic_error's message ("" if it threw
// nothing, which the EXPECT_EQ that compares it then reports).
template <class F>
std::string logic_error_message(F&& misuse) {
  try {
    misuse();
  } catch (const std::logic_error& e) {
    return e.what();
  }
  return "";
}

TEST(Streams, SecondReaderWhileOneReadsIsLogicError) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    auto first = loop.create_task([&p] { return p.served.read(10); });
    settle();  // first waits in read
    EXPECT_EQ(logic_error_message([&p] { p.served.read(10); }),
              "tandem::stream::read: another task is reading from this stream");
    EXPECT_EQ(logic_error_message([&p] { p.served.readline(); }),
              "tandem::stream::readline: another task is reading from this stream");
    char buffer[4];
    EXPECT_EQ(logic_error_message([&p, &buffer] { p.served.read_into(buffer); }),
              "tandem::stream::read_into: another task is reading from this stream");
    p.client.write("x");
    EXPECT_EQ(tandem::await(first), "x");
  });
}

// ---- writing -----------------------------------------------------------------------

TEST(Streams, WriteSendsInTheBackgroundWithoutDrain) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    const std::string sent = pattern(0, 4 << 20);
    p.client.write(sent);  // far more than the socket takes at once
    EXPECT_GT(p.client.write_buffer_size(), 0u);
    auto reader = loop.create_task([&p] { return p.served.readexactly(4 << 20); });
    EXPECT_EQ(tandem::await(reader), sent);
    EXPECT_EQ(p.client.write_buffer_size(), 0u);
  });
}

TEST(Streams, CloseSendsWhatIsBufferedThenCloses) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    const std::string sent = pattern(7, 2 << 20);
    p.client.write(sent);
    p.client.close();  // never suspends; the loop sends the rest
    EXPECT_EQ(p.client.native_handle(), -1);
    EXPECT_EQ(p.served.read_all(), sent);
  });
}

TEST(Streams, DestroyedStreamSendsWhatIsBufferedThenCloses) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    const std::string sent = pattern(3, 2 << 20);
    {
      stream gone = std::move(p.client);
      gone.write(sent);
    }
    EXPECT_EQ(p.served.read_all(), sent);
  });
}

// A peer that never reads: drain() suspends, and the buffer stays bounded.
TEST(Streams, DrainSuspendsWhileThePeerDoesNotReadAndMemoryStaysBounded) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    constexpr std::size_t chunk = 16 * 1024;
    std::size_t written = 0, most_buffered = 0, suspended_drains = 0;
    bool stop = false;
    auto writer = loop.create_task([&] {
      while (!stop) {
        p.served.write(pattern(written, chunk));
        written += chunk;
        most_buffered = std::max(most_buffered, p.served.write_buffer_size());
        if (p.served.write_buffer_size() > 64 * 1024) ++suspended_drains;
        p.served.drain();
      }
    });
    while (suspended_drains == 0) settle();
    const std::size_t stalled_at = written;
    tandem::sleep_for(50ms);
    EXPECT_EQ(written, stalled_at) << "drain returned while the peer read nothing";
    // The peer reads: the writer goes on.
    std::size_t received = 0;
    while (written == stalled_at) {
      const std::string got = p.client.read(1 << 20);
      ASSERT_EQ(got, pattern(received, got.size()));
      received += got.size();
    }
    stop = true;
    while (!writer.done() || received < written) {
      if (received == written) {  // all read: the writer has yet to see `stop`
        settle();
        continue;
      }
      const std::string got = p.client.read(1 << 20);
      ASSERT_EQ(got, pattern(received, got.size()));
      received += got.size();
    }
    EXPECT_EQ(received, written);
    EXPECT_LE(most_buffered, 64 * 1024 + chunk);
  });
}

TEST(Streams, DrainWhileAnotherTaskDrainsIsLogicError) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    p.served.write(pattern(0, 8 << 20));  // the client reads nothing yet
    auto first = loop.create_task([&p] { p.served.drain(); });
    settle();
    ASSERT_FALSE(first.done());
    EXPECT_EQ(logic_error_message([&p] { p.served.drain(); }),
              "tandem::stream::drain: another task is draining this stream");
    EXPECT_EQ(logic_error_message([&p] { p.served.write("more"); }),
              "tandem::stream::write: another task is draining this stream");
    EXPECT_EQ(p.client.readexactly(8 << 20), pattern(0, 8 << 20));
    tandem::await(first);
  });
}

TEST(Streams, HalfClosedConnectionStillCarriesTheOtherDirection) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    p.client.write("request");
    p.client.write_eof();
    EXPECT_EQ(p.served.read_all(), "request");  // the client's side ended
    p.served.write("response");                 // the other direction is open
    p.served.close();
    EXPECT_EQ(p.client.read_all(), "response");
  });
}

TEST(Streams, WriteAfterWriteEofIsLogicError) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    p.client.write_eof();
    EXPECT_THROW(p.client.write("late"), std::logic_error);
    EXPECT_NO_THROW(p.client.write_eof());  // repeating it is harmless
  });
}

// ---- closed streams ------------------------------------------------------------------

TEST(Streams, EveryOperationButCloseThrowsAfterClose) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    p.client.close();
    EXPECT_EQ(logic_error_message([&p] { p.client.read(1); }),
              "tandem::stream::read: the stream is closed");
    EXPECT_THROW(p.client.read_all(), std::logic_error);
    char buffer[4];
    EXPECT_EQ(logic_error_message([&p, &buffer] { p.client.read_into(buffer); }),
              "tandem::stream::read_into: the stream is closed");
    EXPECT_THROW(p.client.readexactly(1), std::logic_error);
    EXPECT_THROW(p.client.readline(), std::logic_error);
    EXPECT_THROW(p.client.readuntil("x"), std::logic_error);
    EXPECT_THROW(p.client.write("x"), std::logic_error);
    EXPECT_THROW(p.client.drain(), std::logic_error);
    EXPECT_THROW(p.client.write_eof(), std::logic_error);
    EXPECT_NO_THROW(p.client.close());
    EXPECT_TRUE(p.client.at_eof());
    EXPECT_EQ(p.client.native_handle(), -1);
    EXPECT_EQ(p.served.read(10), "");  // the peer sees the end of stream
  });
}

TEST(Streams, CloseWakesATaskWaitingInReadWithLogicError) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    auto reader = loop.create_task([&p] { return p.served.read(10); });
    settle();
    p.served.close();
    EXPECT_THROW(tandem::await(reader), std::logic_error);
  });
}

TEST(Streams, DefaultAndMovedFromStreamsAreClosed) {
  stream empty;
  EXPECT_TRUE(empty.at_eof());
  EXPECT_EQ(empty.native_handle(), -1);
  EXPECT_EQ(logic_error_message([&empty] { empty.write("x"); }),
            "tandem::stream::write: the stream is closed");
  EXPECT_NO_THROW(empty.close());
}

TEST(Streams, LoopCloseClosesLiveStreams) {
  stream kept;
  {
    event_loop loop;
    run_bounded(loop, [&kept] {
      auto p = connect_pair();
      kept = std::move(p.client);
    });
    EXPECT_GE(kept.native_handle(), 0);
    loop.close();
    EXPECT_EQ(kept.native_handle(), -1);
    EXPECT_THROW(kept.write("x"), std::logic_error);
  }
  EXPECT_TRUE(kept.at_eof());  // the loop is gone; the stream stays safe to use
}

TEST(Streams, ReadOutsideATaskThatWouldWaitIsLogicError) {
  event_loop loop;
  auto p = run_bounded(loop, [] { return std::make_unique<stream_pair>(connect_pair()); });
  EXPECT_THROW(p->served.read(1), std::logic_error);
  loop.close();
}

// ---- errors -------------------------------------------------------------------------

bool names(const std::system_error& e, const std::string& text) {
  return std::string(e.what()).find(text) != std::string::npos;
}

// SO_LINGER 0: close() sends a reset instead of an end of stream.
void reset(stream& s) {
  const linger abort_on_close{1, 0};
  ::setsockopt(s.native_handle(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  s.close();
}

TEST(Streams, PeerResetMidReadIsSystemErrorNamingThePeer) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    auto reader = loop.create_task([&p] {
      EXPECT_EQ(p.served.readexactly(3), "abc");
      return p.served.readexactly(10);  // the peer resets meanwhile
    });
    p.client.write("abcdef");
    settle();
    reset(p.client);
    try {
      tandem::await(reader);
      FAIL() << "a reset connection read on";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), ECONNRESET);
      EXPECT_TRUE(names(e, "127.0.0.1:")) << e.what();
    }
    EXPECT_EQ(p.served.read(100), "def");               // what came before the reset is kept
    EXPECT_THROW(p.served.read(1), std::system_error);  // then the error stays
  });
}

TEST(Streams, PeerResetMidWriteIsThrownByALaterWriteWithoutSigpipe) {
  event_loop loop;
  run_bounded(loop, [] {
    auto p = connect_pair();
    p.served.write(pattern(0, 1 << 20));  // still being sent
    reset(p.client);
    settle();
    try {
      for (int i = 0; i < 1000; ++i) {
        p.served.write(pattern(0, 64 * 1024));
        p.served.drain();
        settle();
      }
      FAIL() << "writes to a reset connection went on succeeding";
    } catch (const std::system_error& e) {
      EXPECT_TRUE(e.code().value() == ECONNRESET || e.code().value() == EPIPE) << e.what();
      EXPECT_TRUE(names(e, "127.0.0.1:")) << e.what();
    }
  });
}

TEST(Streams, RefusedConnectionIsSystemErrorNamingThePeer) {
  event_loop loop;
  run_bounded(loop, [] {
    refusing_port closed;
    try {
      tandem::open_connection("127.0.0.1", closed.port());
      FAIL() << "connected to a port nothing listens on";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), ECONNREFUSED);
      EXPECT_TRUE(names(e, "127.0.0.1:" + std::to_string(closed.port()))) << e.what();
    }
  });
}

// A link-local address is named with its interface: without it the
// message names another address. Whatever connect says (this one has no
// route on most machines), the error names the peer.
TEST(Streams, FailedConnectionToALinkLocalAddressNamesItsInterface) {
  event_loop loop;
  run_bounded(loop, [] {
    try {
      tandem::open_connection("fe80::1%lo", 9);
      FAIL() << "connected to fe80::1 on the loopback interface";
    } catch (const std::system_error& e) {
      EXPECT_TRUE(names(e, "[fe80::1%lo]:9")) << e.what();
    }
  });
}

TEST(Streams, NameThatDoesNotResolveIsResolverErrorNamingTheHost) {
  event_loop loop;
  run_bounded(loop, [] {
    try {
      tandem::open_connection("no-such-host.invalid", 80);
      FAIL() << "a .invalid name resolved";
    } catch (const std::system_error& e) {
      EXPECT_EQ(&e.code().category(), &tandem::resolver_category()) << e.what();
      EXPECT_TRUE(names(e, "no-such-host.invalid")) << e.what();
    }
  });
}

TEST(Streams, NameIsResolvedAndEveryAddressTriedInOrder) {
  event_loop loop;
  run_bounded(loop, [] {
    // "localhost" may give ::1 before 127.0.0.1: the server is on the
    // latter only, so a first refused address must not end the attempt.
    auto accepted = std::make_shared<tandem::queue<stream>>();
    auto srv =
        tandem::start_server([accepted](stream s) { accepted->put(std::move(s)); }, "127.0.0.1", 0);
    stream s = tandem::open_connection("localhost", srv.port());
    s.write("hi");
    EXPECT_EQ(accepted->get().read(10), "hi");
  });
}

// A name listed twice (on two lines of /etc/hosts) gives getaddrinfo's
// list an address twice; a server that bound both would fail with
// EADDRINUSE on the second.
TEST(Streams, AnAddressThatGetaddrinfoListsTwiceIsTriedOnce) {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = htons(80);
  v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = htons(80);
  v6.sin6_addr = in6addr_loopback;
  sockaddr_in v4_again = v4;
  addrinfo third{};
  third.ai_addr = reinterpret_cast<sockaddr*>(&v4_again);
  third.ai_addrlen = sizeof v4_again;
  addrinfo second{};
  second.ai_addr = reinterpret_cast<sockaddr*>(&v6);
  second.ai_addrlen = sizeof v6;
  second.ai_next = &third;
  addrinfo first{};
  first.ai_addr = reinterpret_cast<sockaddr*>(&v4);
  first.ai_addrlen = sizeof v4;
  first.ai_next = &second;
  const auto addresses = tandem::detail::addresses_of(&first);
  ASSERT_EQ(addresses.size(), 2u);
  EXPECT_EQ(addresses[0].describe(), "127.0.0.1:80");
  EXPECT_EQ(addresses[1].describe(), "[::1]:80");
}

TEST(Streams, EmptyHostIsInvalidArgument) {
  event_loop loop;
  run_bounded(loop, [] { EXPECT_THROW(tandem::open_connection("", 80), std::invalid_argument); });
}

TEST(Streams, OpenConnectionOutsideATaskIsLogicError) {
  EXPECT_THROW(tandem::open_connection("127.0.0.1", 1), std::logic_error);
}

// ---- cancellation -------------------------------------------------------------------

TEST(Streams, CancelledReadexactlyLosesNoByte) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    auto reader = loop.create_task([&p] { return p.served.readexactly(10); });
    p.client.write("01234");
    settle();  // the reader holds 5 bytes and waits for 5 more
    reader.cancel();
    EXPECT_THROW(tandem::await(reader), tandem::cancelled_error);
    p.client.write("56789");
    EXPECT_EQ(p.served.readexactly(10), "0123456789");
  });
}

TEST(Streams, CancelledReadIntoLosesNoByte) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    char buffer[16];
    auto reader = loop.create_task([&p, &buffer] { return p.served.read_into(buffer); });
    settle();  // the reader waits for bytes
    reader.cancel();
    EXPECT_THROW(tandem::await(reader), tandem::cancelled_error);
    p.client.write("abc");
    ASSERT_EQ(p.served.read_into(buffer), 3u);
    EXPECT_EQ(std::string_view(buffer, 3), "abc");
  });
}

TEST(Streams, CancelledReadlineKeepsThePartialLine) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    auto reader = loop.create_task([&p] { return p.served.readline(); });
    p.client.write("abc");
    settle();
    reader.cancel();
    EXPECT_THROW(tandem::await(reader), tandem::cancelled_error);
    p.client.write("def\n");
    EXPECT_EQ(p.served.readline(), "abcdef\n");
  });
}

TEST(Streams, CancelledDrainLosesNoByte) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair();
    const std::string sent = pattern(0, 8 << 20);
    auto writer = loop.create_task([&] {
      p.served.write(sent);
      p.served.drain();
    });
    settle();
    ASSERT_FALSE(writer.done());
    writer.cancel();
    EXPECT_THROW(tandem::await(writer), tandem::cancelled_error);
    p.served.write("!");  // usable after the cancellation
    EXPECT_EQ(p.client.readexactly(sent.size() + 1), sent + "!");
  });
}

TEST(Streams, CancelledConnectClosesItsSocket) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto connecting = loop.create_task([] { return tandem::open_connection("localhost", 9); });
    connecting.cancel();  // before it starts: it never runs
    EXPECT_THROW(tandem::await(connecting), tandem::cancelled_error);
  });
}

// ---- Unix sockets -----------------------------------------------------------------

std::string socket_path(const char* name) {
  return "/tmp/tandem-" + std::to_string(::getpid()) + "-" + name + ".sock";
}

TEST(Streams, UnixConnectionCarriesBothDirections) {
  event_loop loop;
  const std::string path = socket_path("both");
  run_bounded(loop, [&path] {
    auto srv = tandem::start_unix_server(
        [](stream s) {
          std::string line = s.readline();
          s.write("echo: " + line);
        },
        path);
    stream s = tandem::open_unix_connection(path);
    s.write("hello\n");
    EXPECT_EQ(s.readline(), "echo: hello\n");
    EXPECT_EQ(s.read(10), "");  // the handler's stream was destroyed
  });
}

// A name in Linux's abstract namespace ("\0name") is all of its bytes:
// another program that addresses it so (Python, socat) reaches the
// server, and no file is made.
TEST(Streams, UnixAbstractNameIsItsBytesWithNoNulAfterThem) {
  event_loop loop;
  const std::string name = std::string(1, '\0') + "tandem-abstract-" + std::to_string(::getpid());
  run_bounded(loop, [&name] {
    auto srv = tandem::start_unix_server([](stream s) { s.write("echo: " + s.readline()); }, name);
    sockaddr_un exact{};
    exact.sun_family = AF_UNIX;
    std::memcpy(exact.sun_path, name.data(), name.size());
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&exact), length), 0)
        << std::strerror(errno);
    ::close(fd);
    stream s = tandem::open_unix_connection(name);
    s.write("hi\n");
    EXPECT_EQ(s.readline(), "echo: hi\n");
  });
}

TEST(Streams, UnixPathTooLongOrEmptyIsInvalidArgument) {
  event_loop loop;
  run_bounded(loop, [] {
    EXPECT_THROW(tandem::open_unix_connection(std::string(200, 'x')), std::invalid_argument);
    EXPECT_THROW(tandem::open_unix_connection(""), std::invalid_argument);
    // sun_path's 108 bytes hold a path of 107 and its '\0'.
    try {
      tandem::open_unix_connection("/tmp/" + std::string(103, 'x'));
      ADD_FAILURE() << "a path of 108 bytes was taken";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("is longer than"), std::string::npos) << e.what();
    }
    EXPECT_THROW(auto s = tandem::start_unix_server([](stream) {}, std::string(200, 'x')),
                 std::invalid_argument);
  });
}

// A path is a C string: a '\0' inside it would cut it there, silently, and
// reach another socket. (Python's start_unix_server says "embedded null
// byte".) In the abstract namespace a '\0' is one of the name's bytes.
TEST(Streams, UnixPathWithANulInsideIsInvalidArgument) {
  event_loop loop;
  const std::string path = socket_path("nul-inside");
  run_bounded(loop, [&path] {
    auto srv = tandem::start_unix_server([](stream s) { s.write("reached\n"); }, path);
    try {
      stream s = tandem::open_unix_connection(path + std::string(1, '\0') + "tail");
      ADD_FAILURE() << "connected through a path cut at its '\\0': " << s.readline();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("'\\0'"), std::string::npos) << e.what();
    }
  });
}

TEST(Streams, UnixAbstractNameWithANulInsideIsAllOfItsBytes) {
  event_loop loop;
  const std::string name = std::string(1, '\0') + "tandem-" + std::to_string(::getpid());
  const std::string longer = name + std::string(1, '\0') + "tail";
  run_bounded(loop, [&name, &longer] {
    auto srv = tandem::start_unix_server([](stream s) { s.write("reached\n"); }, longer);
    EXPECT_EQ(tandem::open_unix_connection(longer).readline(), "reached\n");
    try {
      tandem::open_unix_connection(name);
      ADD_FAILURE() << "the name without its tail reached the server";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), ECONNREFUSED) << e.what();
    }
  });
}

TEST(Streams, UnixConnectionToNoServerIsSystemErrorNamingThePath) {
  event_loop loop;
  const std::string path = socket_path("nobody");
  run_bounded(loop, [&path] {
    try {
      tandem::open_unix_connection(path);
      FAIL() << "connected to a path with no server";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), ENOENT);
      EXPECT_TRUE(names(e, path)) << e.what();
    }
  });
}

TEST(Streams, UnixConnectionToNoServerInTheAbstractNamespaceNamesIt) {
  event_loop loop;
  const std::string name = "tandem-nobody-" + std::to_string(::getpid());
  run_bounded(loop, [&name] {
    try {
      tandem::open_unix_connection(std::string(1, '\0') + name);
      FAIL() << "connected to an abstract name with no server";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code().value(), ECONNREFUSED);
      EXPECT_TRUE(names(e, "@" + name)) << e.what();
    }
  });
}

// A stream accepted from a Unix client that bound no name (the usual
// case) has no peer address to name: its errors name the server's socket,
// as the connection's own address (asyncio's 'sockname'; its 'peername' is
// ''). The server's side of a connection whose client has gone: EPIPE.
void expect_write_to_a_gone_client_names(const std::string& server_name,
                                         const std::string& expected) {
  auto accepted = std::make_shared<tandem::queue<stream>>();
  auto srv =
      tandem::start_unix_server([accepted](stream s) { accepted->put(std::move(s)); }, server_name);
  stream client = tandem::open_unix_connection(server_name);
  stream served = accepted->get();
  client.close();
  try {
    served.write("x");
    FAIL() << "wrote to a Unix connection whose client had closed";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EPIPE) << e.what();
    EXPECT_TRUE(names(e, expected)) << e.what();
  }
}

TEST(Streams, ErrorOnAnAcceptedUnixConnectionNamesTheServersPath) {
  event_loop loop;
  const std::string path = socket_path("accepted");
  run_bounded(loop,
              [&path] { expect_write_to_a_gone_client_names(path, "peer a client of " + path); });
}

TEST(Streams, ErrorOnAnAcceptedAbstractUnixConnectionNamesTheServersName) {
  event_loop loop;
  const std::string name = "tandem-accepted-" + std::to_string(::getpid());
  run_bounded(loop, [&name] {
    expect_write_to_a_gone_client_names(std::string(1, '\0') + name, "peer a client of @" + name);
  });
}

// The heap in use: what malloc handed out, small blocks and mmap-ed ones.
std::size_t heap_in_use() {
  const auto m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// Rule 2, against a reader slower than the writer, where the socket takes
// a few KiB at a time (a small send buffer; a real network's ACKs): the
// buffer never empties, since drain() returns with up to the low-water
// mark unsent, and what was sent must still leave it.
TEST(Streams, DrainingWriterAgainstASlowReaderKeepsTheWriteBufferBounded) {
  event_loop loop;
  const std::string path = "/tmp/tandem-streams-test-" + std::to_string(::getpid()) + ".sock";
  run_bounded(loop, [&loop, &path] {
    auto accepted = std::make_shared<tandem::queue<stream>>();
    auto srv =
        tandem::start_unix_server([accepted](stream s) { accepted->put(std::move(s)); }, path);
    stream reader = tandem::open_unix_connection(path);
    stream writer_end = accepted->get();
    const int small = 4096;
    ASSERT_EQ(::setsockopt(writer_end.native_handle(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small),
              0);
    constexpr std::size_t chunk = 100000;
    constexpr std::size_t total = 640 * chunk;  // 64 MB
    const std::size_t heap_before = heap_in_use();
    std::size_t most_heap = 0;
    auto writer = loop.create_task([&] {
      const std::string data = pattern(0, chunk);
      for (std::size_t written = 0; written < total; written += chunk) {
        writer_end.write(data);
        writer_end.drain();  // returns at <= 16 KiB unsent
        most_heap = std::max(most_heap, heap_in_use() - heap_before);
      }
    });
    std::size_t received = 0;
    while (received < total) received += reader.read(65536).size();
    tandem::await(writer);
    EXPECT_LT(most_heap, std::size_t{4} << 20)
        << "the write buffer kept what was sent (at most ~116 KB was ever unsent)";
  });
}

// A readline on p.served, cancelled while it reads on to discard a line
// past the limit (16) that has no '\n' yet: 100 bytes of it came.
void cancel_a_discarding_readline(event_loop& loop, stream_pair& p) {
  auto reader = loop.create_task([&p] { return p.served.readline(); });
  p.client.write(std::string(100, 'x'));  // past the limit, no '\n' yet
  settle();                               // the reader discards, waiting for the '\n'
  reader.cancel();
  EXPECT_THROW(tandem::await(reader), tandem::cancelled_error);
}

// Rules 5 and 10: a readline cancelled while it reads on to discard a line
// past the limit leaves the stream inside that line; the next readline
// goes on discarding it, then reports it, and the line after it is intact.
TEST(Streams, CancelledReadlineWhileDiscardingALineGoesOnDiscardingItNextTime) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair(/*limit=*/16);
    cancel_a_discarding_readline(loop, p);
    p.client.write("yyy\nnext\n");
    try {
      const std::string line = p.served.readline();
      ADD_FAILURE() << "readline returned '" << line << "'";
    } catch (const tandem::limit_overrun_error& e) {
      EXPECT_EQ(e.consumed(), 104u);  // the whole line, 100 + "yyy\n"
    }
    EXPECT_EQ(p.served.readline(), "next\n");
  });
}

// Rule 5: a read other than readline after such a cancellation takes the
// stream over; the next readline returns the next line whole.
TEST(Streams, AnotherReadAfterACancelledDiscardingReadlineEndsTheDiscard) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair(/*limit=*/16);
    cancel_a_discarding_readline(loop, p);
    p.client.write("yyy\ngood line\n");
    EXPECT_EQ(p.served.readuntil("\n"), "yyy\n");  // the end of the overlong line
    EXPECT_EQ(p.served.readline(), "good line\n");
  });
}

TEST(Streams, ReadAllAfterACancelledDiscardingReadlineLeavesNothingToDiscard) {
  event_loop loop;
  run_bounded(loop, [&loop] {
    auto p = connect_pair(/*limit=*/16);
    cancel_a_discarding_readline(loop, p);
    p.client.write("tail\n");
    p.client.close();
    EXPECT_EQ(p.served.read_all(), "tail\n");
    EXPECT_EQ(p.served.readline(), "");  // at the end: nothing, not an overrun
  });
}
}  // namespace
