// libFuzzer target: the WebSocket server's frame reading. Each input is one client's whole byte
// stream after a valid opening handshake (or, when it starts with "GET ", the handshake too), sent
// to a websocket::server over a loopback socket: frames of any shape (lengths, masks, opcodes,
// reserved bits, fragments, control frames, close payloads, permessage-deflate data). The server
// must echo, close or drop the connection, never crash, and shut down with no connection left.
#include <intg/websocket/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace asio = boost::asio;
namespace ws = intg::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {
void check(bool ok) {
  if (!ok) std::abort();
}

asio::awaitable<void> echo(std::shared_ptr<ws::connection> c) {
  for (;;) {
    auto m = co_await c->receive();
    if (!m) co_return;
    auto sent = co_await c->send(m->data, m->kind);
    if (!sent) co_return;
  }
}

const std::string handshake =
    "GET /fuzz HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

// Sends `bytes`, half-closes, and reads until the server closes.
asio::awaitable<void> client(std::uint16_t port, const std::string& bytes, std::string& answer, ws::server& srv) {
  tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), asio::use_awaitable);
  asio::steady_timer deadline(s.get_executor(), 5s);  // well past the server's own timeouts
  deadline.async_wait([&s](boost::system::error_code ec) {
    if (!ec) s.close();
  });
  co_await asio::async_write(s, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable));
  boost::system::error_code ignored;
  s.shutdown(tcp::socket::shutdown_send, ignored);
  char buf[4096];
  for (;;) {
    auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
    answer.append(buf, n);
    if (ec) {
      check(ec != asio::error::operation_aborted);  // the server ended it, not our deadline
      break;
    }
  }
  deadline.cancel();
  co_await srv.shutdown(1s);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string bytes = input.starts_with("GET ") ? input : handshake + input;
  asio::io_context io;
  ws::server_options o;
  o.max_message_size = 2048;
  o.max_request_header = 1024;
  o.handshake_timeout = 500ms;
  o.idle_timeout = 1000ms;
  o.permessage_deflate = true;
  o.send_queue_messages = 8;
  ws::server srv(io.get_executor(), echo, o);
  check(srv.listen("127.0.0.1", 0).has_value());
  srv.start();
  std::string answer;
  asio::co_spawn(io, client(srv.port(), bytes, answer, srv), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
  check(srv.connections() == 0);
  check(answer.empty() || answer.starts_with("HTTP/1.1 "));
  return 0;
}
