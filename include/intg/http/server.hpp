// intg::http::server: a small HTTP/1.1 server (Beast) for intg's endpoints and for local stand-ins
// of remote APIs: keep-alive, bounded requests, timeouts for slow clients, optional TLS, 400 for
// malformed requests, HEAD answered with GET's headers and no body, and a graceful shutdown that
// lets in-flight requests finish and returns only when no coroutine uses the server any more.
#pragma once

#include <intg/core/error.hpp>
#include <intg/http/message.hpp>
#include <intg/core/result.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>

namespace intg::http {

namespace asio = boost::asio;

/// A request as the server hands it to its handler.
using server_request = beast::http::request<beast::http::string_body>;
/// What a handler returns. The server sets Content-Length, keep-alive and Server.
using server_response = beast::http::response<beast::http::string_body>;
/// The application: one call per request, on the server's executor.
using server_handler = std::function<asio::awaitable<server_response>(server_request&)>;

struct server_options {
  std::uint64_t max_request_body = 1024 * 1024;  ///< larger bodies get 413
  std::uint32_t max_request_header = 16 * 1024;  ///< larger headers get 431
  /// A whole request (header and body) must arrive within this from its first byte, and the first
  /// request (with the TLS handshake) within this from the connection's accept: slow clients are cut.
  std::chrono::milliseconds read_timeout{15'000};
  /// How long a keep-alive connection may wait for the first byte of its next request.
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds write_timeout{15'000};
  /// Connections beyond this (TLS handshakes in progress included) are closed at once.
  std::size_t max_connections = 4096;
  /// After an accept fails for lack of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM), the accept
  /// loop waits this long before trying again instead of spinning; connections it has go on.
  std::chrono::milliseconds accept_backoff{50};
  std::shared_ptr<asio::ssl::context> tls;       ///< HTTPS when set (make_server_tls_context)
  std::string server_name = "intg";
};

/// A response with a body and content type, ready to return from a handler.
inline server_response make_response(beast::http::status s, std::string body,
                                     std::string_view content_type = "application/json") {
  server_response res{s, 11};
  res.set(field::content_type, content_type);
  res.body() = std::move(body);
  return res;
}

/// A JSON error body {"error": {"status": N, "message": "..."}}.
inline server_response json_error(beast::http::status s, std::string_view message) {
  boost::json::object err{{"status", static_cast<int>(s)}, {"message", message}};
  return make_response(s, boost::json::serialize(boost::json::object{{"error", std::move(err)}}));
}

/// Thrown by a handler to make the connection fail the way broken servers and networks do, so
/// that local stand-ins of remote APIs can test a client's handling of transport faults: `reset`
/// aborts the connection (TCP RST) without an answer; `truncate` sends `partial`'s header with its
/// full Content-Length but only the first half of its body, then closes.
struct connection_fault {
  enum kind { reset, truncate };
  kind what = reset;
  server_response partial{};
};

/// Serves `handler` on one executor (single-threaded, like an Asio object: run it on one thread
/// or a strand). Create it with listen(); call start(); stop with shutdown().
class server {
 public:
  server(asio::any_io_executor ex, server_handler handler, server_options opts = {})
      : ex_(std::move(ex)), acceptor_(ex_), handler_(std::move(handler)), opts_(std::move(opts)), backoff_(ex_), done_(ex_) {}
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

  /// "HOST:PORT" with a numeric port; the error names what is wrong.
  result<void> listen(std::string_view host_port) {
    const auto colon = host_port.rfind(':');
    if (colon == std::string_view::npos) return error(errc::invalid_argument, "expected HOST:PORT, got " + std::string(host_port));
    std::string_view host = host_port.substr(0, colon), port = host_port.substr(colon + 1);
    if (host.size() > 1 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    unsigned p = 0;
    if (port.empty() || port.size() > 5) return error(errc::invalid_argument, "invalid port in " + std::string(host_port));
    for (char c : port) {
      if (c < '0' || c > '9') return error(errc::invalid_argument, "invalid port in " + std::string(host_port));
      p = p * 10 + static_cast<unsigned>(c - '0');
    }
    if (p > 65535) return error(errc::invalid_argument, "invalid port in " + std::string(host_port));
    return listen(host, static_cast<std::uint16_t>(p));
  }

  std::uint16_t port() const {
    boost::system::error_code ec;
    return acceptor_.local_endpoint(ec).port();
  }
  asio::ip::tcp::endpoint local_endpoint() const {
    boost::system::error_code ec;
    return acceptor_.local_endpoint(ec);
  }

  /// Starts accepting connections.
  void start() {
    asio::co_spawn(ex_, accept_loop(use{this, false}), asio::detached);
  }

  /// Stops accepting, closes idle keep-alive connections and TLS handshakes in progress, lets
  /// requests in progress finish (their responses carry `Connection: close`), and after `grace`
  /// closes whatever remains. Returns once no coroutine of the server refers to it any more, so the
  /// server may be destroyed right after.
  asio::awaitable<void> shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10)) {
    stopping_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    backoff_.cancel();
    for (auto& s : sessions_)
      if (!s.busy) s.close();
    // The last coroutine to end cancels done_ (see use::~use): no polling.
    if (users_) {
      done_.expires_after(grace);
      co_await done_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    for (auto& s : sessions_) s.close();
    if (users_) {  // sessions end promptly once their sockets are closed
      done_.expires_at(asio::steady_timer::time_point::max());
      co_await done_.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  /// Open connections, TLS handshakes in progress included.
  std::size_t connections() const noexcept { return connections_; }
  std::uint64_t requests_served() const noexcept { return served_; }
  /// Accepts that failed (for lack of file descriptors, memory, ...) since the server started.
  std::uint64_t failed_accepts() const noexcept { return failed_accepts_; }

 private:
  // Held by every coroutine that refers to the server (the accept loop, each connection from the
  // moment it is accepted): shutdown() waits until none is left.
  class use {
   public:
    use(server* s, bool connection) noexcept : s_(s), connection_(connection) {
      ++s_->users_;
      s_->connections_ += connection_;
    }
    use(use&& o) noexcept : s_(std::exchange(o.s_, nullptr)), connection_(o.connection_) {}
    use& operator=(use&&) = delete;
    ~use() {
      if (!s_) return;
      s_->connections_ -= connection_;
      if (--s_->users_ == 0 && s_->stopping_) s_->done_.cancel();
    }

   private:
    server* s_;
    bool connection_;
  };

  struct session_entry {
    beast::tcp_stream* tcp = nullptr;
    bool busy = false;
    void close() {
      boost::system::error_code ec;
      tcp->socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
      tcp->socket().close(ec);
    }
  };

  asio::awaitable<void> accept_loop(use) {
    while (!stopping_) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (stopping_) co_return;
      if (ec) {
        if (ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor) co_return;
        ++failed_accepts_;
        // Out of descriptors or memory, the pending connection stays in the backlog and the next
        // accept fails at once: pause instead of spinning, and keep serving the connections we have.
        if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space || ec == asio::error::no_memory ||
            ec.value() == ENFILE) {
          backoff_.expires_after(opts_.accept_backoff);
          co_await backoff_.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        continue;
      }
      if (connections_ >= opts_.max_connections) continue;  // the socket closes as it goes
      boost::system::error_code ignored;
      socket.set_option(asio::ip::tcp::no_delay(true), ignored);
      if (opts_.tls) {
        asio::co_spawn(ex_, run_tls(std::move(socket), use{this, true}), asio::detached);
      } else {
        asio::co_spawn(ex_, run_plain(std::move(socket), use{this, true}), asio::detached);
      }
    }
  }

  asio::awaitable<void> run_plain(asio::ip::tcp::socket socket, use) {
    if (stopping_) co_return;
    beast::tcp_stream stream(std::move(socket));
    auto self = enlist(stream);
    co_await session(stream, stream, self);
  }

  asio::awaitable<void> run_tls(asio::ip::tcp::socket socket, use) {
    if (stopping_) co_return;
    beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *opts_.tls);
    auto& tcp = beast::get_lowest_layer(stream);
    auto self = enlist(tcp);  // from here shutdown() can close it, mid-handshake too
    tcp.expires_after(opts_.read_timeout);
    auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
    if (ec || stopping_) co_return;  // a client that fails the handshake gets nothing more
    co_await session(stream, tcp, self);
  }

  // The connection's entry in sessions_ (so shutdown() can close it), removed when it goes.
  struct enlisted {
    server* s;
    std::list<session_entry>::iterator it;
    enlisted(server* srv, beast::tcp_stream& tcp) : s(srv), it(srv->sessions_.insert(srv->sessions_.end(), session_entry{&tcp, false})) {}
    enlisted(const enlisted&) = delete;
    enlisted& operator=(const enlisted&) = delete;
    ~enlisted() { s->sessions_.erase(it); }
  };
  enlisted enlist(beast::tcp_stream& tcp) { return enlisted(this, tcp); }

  template <class Stream>
  asio::awaitable<void> session(Stream& stream, beast::tcp_stream& tcp, enlisted& entry) {
    const auto self = entry.it;
    beast::flat_buffer buffer;
    bool first = true;
    while (!stopping_) {
      beast::http::request_parser<beast::http::string_body> parser;
      parser.body_limit(opts_.max_request_body);
      parser.header_limit(opts_.max_request_header);
      boost::system::error_code ec;
      if (first) {
        tcp.expires_after(opts_.read_timeout);  // the first request: from the accept
        first = false;
      } else if (buffer.size() == 0) {
        // A keep-alive connection may idle until its next request's first byte...
        tcp.expires_after(opts_.idle_timeout);
        auto [rec, n] = co_await stream.async_read_some(buffer.prepare(4096), asio::as_tuple(asio::use_awaitable));
        buffer.commit(n);
        ec = rec;
        tcp.expires_after(opts_.read_timeout);  // ...and from then on the whole request has read_timeout.
      } else {
        tcp.expires_after(opts_.read_timeout);  // pipelined: its first bytes are here already
      }
      // One expiry covers the header and the body: a client trickling bytes is cut on time.
      if (!ec) {
        auto [hec, hn] = co_await beast::http::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        ec = hec;
      }
      if (!ec && !parser.is_done()) {
        auto [bec, bn] = co_await beast::http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
        ec = bec;
      }
      if (ec) {
        using he = beast::http::error;
        if (ec == he::end_of_stream || ec == beast::error::timeout || ec == asio::error::operation_aborted ||
            ec == asio::error::connection_reset || ec == asio::error::eof || ec == asio::error::bad_descriptor ||
            ec == asio::ssl::error::stream_truncated)
          break;  // the client left, was too slow, or we are shutting down
        server_response res = ec == he::body_limit     ? json_error(beast::http::status::payload_too_large, "request body too large")
                              : ec == he::header_limit ? json_error(beast::http::status::request_header_fields_too_large,
                                                                    "request header too large")
                                                       : json_error(beast::http::status::bad_request, "malformed HTTP request");
        res.keep_alive(false);
        co_await write(stream, tcp, res, false);
        break;
      }

      self->busy = true;
      server_request req = parser.release();
      server_response res;
      std::optional<connection_fault> fault;
      try {
        res = co_await handler_(req);
      } catch (const connection_fault& f) {
        fault = f;
      } catch (const std::exception&) {
        res = json_error(beast::http::status::internal_server_error, "internal error");
      }
      self->busy = false;
      if (fault) {
        ++served_;
        co_await fail_connection(stream, tcp, *fault);
        co_return;
      }
      ++served_;
      res.version(req.version());
      res.keep_alive(req.keep_alive() && !stopping_);
      if (res.find(field::server) == res.end()) res.set(field::server, opts_.server_name);
      res.prepare_payload();  // for HEAD too: the same Content-Length as GET, the body left unsent
      if (!co_await write(stream, tcp, res, req.method() == verb::head) || !res.keep_alive()) break;
    }
    boost::system::error_code ignored;
    tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  }

  // Ends a connection as a connection_fault asks. Never used on a healthy path.
  template <class Stream>
  asio::awaitable<void> fail_connection(Stream& stream, beast::tcp_stream& tcp, connection_fault& f) {
    boost::system::error_code ec;
    if (f.what == connection_fault::truncate) {
      auto& res = f.partial;
      res.keep_alive(false);
      res.prepare_payload();
      std::ostringstream head;
      head << res.base();
      std::string bytes = head.str();
      bytes.append(res.body(), 0, res.body().size() / 2);
      tcp.expires_after(opts_.write_timeout);
      co_await asio::async_write(stream, asio::buffer(bytes), asio::as_tuple(asio::use_awaitable));
      tcp.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    } else {
      tcp.socket().set_option(asio::socket_base::linger(true, 0), ec);  // close() then sends RST
    }
    tcp.socket().close(ec);
  }

  // Writes `res`; only its header when `head_only` (an answer to HEAD).
  template <class Stream>
  asio::awaitable<bool> write(Stream& stream, beast::tcp_stream& tcp, server_response& res, bool head_only) {
    tcp.expires_after(opts_.write_timeout);
    if (head_only) {
      beast::http::response_serializer<beast::http::string_body> sr{res};
      auto [ec, n] = co_await beast::http::async_write_header(stream, sr, asio::as_tuple(asio::use_awaitable));
      co_return !ec;
    }
    auto [ec, n] = co_await beast::http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    co_return !ec;
  }

  asio::any_io_executor ex_;
  asio::ip::tcp::acceptor acceptor_;
  server_handler handler_;
  server_options opts_;
  asio::steady_timer backoff_;  // the accept loop's pause after a failed accept
  asio::steady_timer done_;     // shutdown() waits on it; the last user cancels it
  std::list<session_entry> sessions_;
  std::size_t users_ = 0;        // coroutines referring to the server (see use)
  std::size_t connections_ = 0;  // accepted and not yet ended, TLS handshakes included
  std::uint64_t served_ = 0;
  std::uint64_t failed_accepts_ = 0;
  bool stopping_ = false;
};

}  // namespace intg::http
