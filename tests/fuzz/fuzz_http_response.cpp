// libFuzzer target: the HTTP client's response handling. A loopback server answers every
// connection with the input's bytes; the client (a GET or a POST, following up to three
// redirects, every hop sent through that server as its proxy so nothing leaves the machine) must
// end with a response within its limits or an error that says why, never a crash, and must give
// back every connection it opened. The first input byte picks the method and redirect count.
#include <intg/http/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <cstdint>
#include <cstdlib>
#include <string>

namespace asio = boost::asio;
namespace http = intg::http;
using tcp = asio::ip::tcp;

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}

asio::awaitable<void> answer(tcp::socket s, const std::string& bytes) {
  asio::streambuf head(16 * 1024);
  co_await asio::async_read_until(s, head, "\r\n\r\n", asio::as_tuple(asio::use_awaitable));
  co_await asio::async_write(s, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable));
  boost::system::error_code ignored;
  s.shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> serve(tcp::acceptor& acceptor, const std::string& bytes) {
  for (;;) {
    auto [ec, s] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::co_spawn(acceptor.get_executor(), answer(std::move(s), bytes), asio::detached);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned flags = data[0];
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const std::string self = "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
  http::client_options o;
  o.max_response_body = 4096;
  o.max_response_header = 2048;
  o.request_timeout = std::chrono::seconds(5);
  o.max_redirects = static_cast<int>(flags & 3);
  o.proxy.http = *http::url::parse(self);
  o.proxy.https = *http::url::parse(self);
  http::client c(io.get_executor(), o);
  bool finished = false;
  asio::co_spawn(io, serve(acceptor, bytes), asio::detached);
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    auto req = http::request::make((flags & 4) ? http::verb::post : http::verb::get, "http://api.example.com/v1/x?y=1");
    if (flags & 4) req->body("{\"amount\":1}", "application/json");
    auto r = co_await c.send(*req);
    if (r) {
      check(r->body().size() <= o.max_response_body);
      (void)http::status_error(*r);
      (void)http::parse_json(r->body());
    } else {
      check(static_cast<bool>(r.error().code()) && !r.error().to_string().empty());
    }
    finished = true;
    c.close_idle();
    acceptor.close();
  }, asio::detached);
  io.run();
  check(finished);
  check(c.stats().open == 0);
  return 0;
}
