#include <intg/intg.hpp>
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
