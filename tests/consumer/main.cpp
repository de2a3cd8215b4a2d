// What a consumer needs from the package: the include path, C++20, Boost and OpenSSL. A few headers
// rather than <intg/intg.hpp>: this checks packaging, and the umbrella is compiled by every test.
#include <intg/core/pipeline.hpp>
#include <intg/policy/retry.hpp>
#include <intg/policy/timeout.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
namespace asio = boost::asio;
int main() {
  asio::io_context io;
  int value = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    intg::pipeline<intg::retry<>, intg::timeout<>> p;
    auto r = co_await p.execute([]() -> asio::awaitable<intg::result<int>> { co_return 7; });
    value = r.value();
  }, asio::detached);
  io.run();
  std::printf(value == 7 ? "consumer ok\n" : "consumer failed\n");
  return value == 7 ? 0 : 1;
}
