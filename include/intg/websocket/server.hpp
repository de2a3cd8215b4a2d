// intg::websocket::server: accepts WebSocket connections on an Asio acceptor, plain or TLS: reads
// the upgrade request itself (bounded header, handshake timeout), refuses an Origin that is not
// allowed with 403 before upgrading, answers 426 to plain HTTP, and hands each connection (the
// shared connection pieces: bounded queues, size limit, heartbeat) to the application's handler.
// shutdown() closes every connection with 1001 and returns once none is left.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/websocket/connection.hpp>
#include <intg/websocket/options.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace intg::websocket {

/// The application: one call per accepted connection, on the server's executor. When it returns,
/// a connection still open is closed with 1000 (1011 if it threw).
using connection_handler = std::function<asio::awaitable<void>(std::shared_ptr<connection>)>;

/// Server settings (connection_options for the limits, heartbeat and queues).
struct server_options : connection_options {
  /// Origins accepted from browsers, as scheme://host[:port] (compared without regard to case).
  /// A request with another Origin gets 403 before any upgrade (cross-site WebSocket hijacking);
  /// a request without Origin (not a browser) is accepted.
  std::vector<std::string> allowed_origins{};
  bool allow_any_origin = false;  ///< accept every Origin (only for servers no browser should trust)
  std::shared_ptr<asio::ssl::context> tls{};  ///< wss:// when set (http::make_server_tls_context)
  std::uint32_t max_request_header = 16 * 1024;  ///< a larger upgrade request gets 431
  std::size_t max_connections = 4096;            ///< connections beyond this are closed at once
  std::chrono::milliseconds accept_backoff{50};  ///< pause after an accept failed for lack of resources
  std::string server_name = "intg";
};

struct server_stats {
  std::uint64_t accepted = 0;           ///< TCP connections accepted
  std::uint64_t upgraded = 0;           ///< WebSocket handshakes completed
  std::uint64_t refused_origin = 0;     ///< 403: Origin not allowed
  std::uint64_t refused_not_upgrade = 0;  ///< 426: plain HTTP request
  std::uint64_t failed_handshakes = 0;  ///< malformed or timed-out requests, failed TLS or WebSocket handshakes
};

/// Serves `handler` on one executor (single-threaded, like an Asio object). listen(), start(),
/// and shutdown() before destroying it.
class server {
 public:
  server(asio::any_io_executor ex, connection_handler handler, server_options opts = {})
      : ex_(std::move(ex)), acceptor_(ex_), handler_(std::move(handler)), opts_(std::move(opts)), backoff_(ex_), done_(ex_) {
    if (opts_.max_message_size == 0 || opts_.send_queue_messages == 0 || opts_.receive_queue_messages == 0)
      throw exception(error(errc::invalid_argument,
                            "WebSocket server: max_message_size, send_queue_messages and receive_queue_messages must be above 0"));
    for (auto& o : opts_.allowed_origins) o = lower(o);
  }
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Binds and listens; port 0 picks a free port (see port()).
  result<void> listen(std::string_view host, std::uint16_t port) {
    boost::system::error_code ec;
    const auto addr = asio::ip::make_address(host, ec);
    if (ec) return error(errc::invalid_argument, "listen address must be an IP address: " + std::string(host));
    const asio::ip::tcp::endpoint ep(addr, port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return error(ec, "cannot listen on " + std::string(host) + ":" + std::to_string(port) + ": " + ec.message());
    return {};
  }

  std::uint16_t port() const {
    boost::system::error_code ec;
    return acceptor_.local_endpoint(ec).port();
  }

  void start() { asio::co_spawn(ex_, accept_loop(use{this}), asio::detached); }

  /// Stops accepting, closes every connection with 1001 (going away) and, after `grace`, aborts
  /// what is left. Returns once no coroutine refers to the server.
  asio::awaitable<void> shutdown(std::chrono::milliseconds grace = std::chrono::seconds(5)) {
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    backoff_.cancel();
    for (auto& w : sessions_)
      if (auto c = w.lock()) asio::co_spawn(ex_, going_away(c), asio::detached);
    if (users_) {
      done_.expires_after(grace);
      co_await done_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    for (auto& w : sessions_)
      if (auto c = w.lock()) c->abort();
    while (users_) {  // sessions end promptly once their sockets are closed
      done_.expires_at(asio::steady_timer::time_point::max());
      co_await done_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  /// Open connections, handshakes in progress included.
  std::size_t connections() const noexcept { return sessions_.size(); }
  server_stats stats() const noexcept { return stats_; }

 private:
  // Held by every coroutine that refers to the server: shutdown() waits until none is left.
  class use {
   public:
    explicit use(server* s) noexcept : s_(s) { ++s_->users_; }
    use(use&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    use& operator=(use&&) = delete;
    ~use() {
      if (s_ && --s_->users_ == 0 && s_->stopping_) s_->done_.cancel();
    }

   private:
    server* s_;
  };

  static std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& ch : out) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    return out;
  }

  bool origin_allowed(std::string_view origin) const {
    if (opts_.allow_any_origin) return true;
    const std::string o = lower(origin);
    for (const auto& a : opts_.allowed_origins)
      if (a == o) return true;
    return false;
  }

  static asio::awaitable<void> going_away(std::shared_ptr<connection> c) {
    co_await c->close(close_code::going_away, "server shutting down");
  }

  asio::awaitable<void> accept_loop(use) {
    while (!stopping_) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (stopping_) co_return;
      if (ec) {
        if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
        if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space || ec == asio::error::no_memory ||
            ec.value() == ENFILE) {
          backoff_.expires_after(opts_.accept_backoff);
          co_await backoff_.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        continue;
      }
      ++stats_.accepted;
      if (sessions_.size() >= opts_.max_connections) continue;  // the socket closes as it goes
      asio::co_spawn(ex_, session(std::move(socket), use{this}), asio::detached);
    }
  }

  asio::awaitable<void> session(asio::ip::tcp::socket socket, use) {
    boost::system::error_code ec;
    socket.set_option(asio::ip::tcp::no_delay(true), ec);
    const auto ep = socket.remote_endpoint(ec);
    const std::string peer = "client " + ep.address().to_string() + ":" + std::to_string(ep.port());
    const connection_options& copts = opts_;
    std::shared_ptr<connection> c;
    if (opts_.tls) {
      c = std::make_shared<connection>(std::make_unique<tls_stream>(std::move(socket), *opts_.tls), copts, peer);
    } else {
      c = std::make_shared<connection>(std::make_unique<plain_stream>(std::move(socket)), copts, peer);
    }
    const auto entry = sessions_.insert(sessions_.end(), c);
    bool upgraded = false;
    if (c->plain()) {
      upgraded = co_await upgrade(*c->plain(), *c);
    } else {
      upgraded = co_await upgrade(*c->tls(), *c);
    }
    if (upgraded && !stopping_) {
      ++stats_.upgraded;
      c->start();
      bool threw = false;
      try {
        co_await handler_(c);
      } catch (const std::exception&) {
        threw = true;
      }
      co_await c->close(threw ? close_code::internal_error : close_code::normal);
    } else {
      c->abort();
    }
    sessions_.erase(entry);
  }

  // The opening handshake: TLS, the upgrade request, the Origin check, the WebSocket accept.
  template <class WebSocketStream>
  asio::awaitable<bool> upgrade(WebSocketStream& ws, connection& c) {
    namespace bhttp = beast::http;
    namespace bws = beast::websocket;
    auto& tcp = beast::get_lowest_layer(ws);
    tcp.expires_after(opts_.handshake_timeout);
    if constexpr (std::is_same_v<WebSocketStream, tls_stream>) {
      auto [hec] = co_await detail::tls_layer(ws).async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
      if (hec) {
        ++stats_.failed_handshakes;
        co_return false;
      }
    }
    beast::flat_buffer buffer;
    bhttp::request_parser<bhttp::empty_body> parser;
    parser.header_limit(opts_.max_request_header);
    auto [rec, rn] = co_await bhttp::async_read(ws.next_layer(), buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (rec) {
      ++stats_.failed_handshakes;
      if (rec == bhttp::error::header_limit) {
        co_await refuse(ws, bhttp::status::request_header_fields_too_large, "request header too large\n");
      } else if (rec.category() == bhttp::make_error_code(bhttp::error::bad_version).category() &&
                 rec != bhttp::error::end_of_stream && rec != bhttp::error::partial_message) {
        co_await refuse(ws, bhttp::status::bad_request, "malformed HTTP request\n");
      }
      co_return false;
    }
    const auto& req = parser.get();
    if (!bws::is_upgrade(req)) {
      ++stats_.refused_not_upgrade;
      co_await refuse(ws, bhttp::status::upgrade_required, "this is a WebSocket endpoint: send an Upgrade request\n");
      co_return false;
    }
    if (const auto origin = req.find(bhttp::field::origin);
        origin != req.end() && !origin_allowed(std::string_view(origin->value().data(), origin->value().size()))) {
      ++stats_.refused_origin;
      co_await refuse(ws, bhttp::status::forbidden, "origin not allowed\n");
      co_return false;
    }
    detail::apply_options(ws, opts_);
    ws.set_option(bws::stream_base::decorator([name = opts_.server_name](bws::response_type& res) {
      res.set(bhttp::field::server, name);
    }));
    c.set_target(std::string(req.target()));
    auto [aec] = co_await ws.async_accept(req, asio::as_tuple(asio::use_awaitable));
    if (aec) {
      ++stats_.failed_handshakes;
      co_return false;
    }
    co_return true;
  }

  template <class WebSocketStream>
  asio::awaitable<void> refuse(WebSocketStream& ws, beast::http::status status, std::string body) {
    namespace bhttp = beast::http;
    bhttp::response<bhttp::string_body> res{status, 11};
    res.set(bhttp::field::server, opts_.server_name);
    res.set(bhttp::field::content_type, "text/plain");
    if (status == bhttp::status::upgrade_required) {
      res.set(bhttp::field::upgrade, "websocket");
      res.set(bhttp::field::connection, "Upgrade");
    }
    res.keep_alive(false);
    res.body() = std::move(body);
    res.prepare_payload();
    beast::get_lowest_layer(ws).expires_after(opts_.handshake_timeout);
    co_await bhttp::async_write(ws.next_layer(), res, asio::as_tuple(asio::use_awaitable));
  }

  asio::any_io_executor ex_;
  asio::ip::tcp::acceptor acceptor_;
  connection_handler handler_;
  server_options opts_;
  asio::steady_timer backoff_;
  asio::steady_timer done_;
  std::list<std::weak_ptr<connection>> sessions_;
  server_stats stats_;
  std::size_t users_ = 0;
  bool stopping_ = false;
};

}  // namespace intg::websocket
