// intg::websocket::client: a WebSocket client for ws:// and wss:// (peers verified with intg's TLS
// settings, SNI), a connect timeout, reconnection with exponential backoff and jitter that runs
// an on_connect hook (to subscribe again) before the new connection is used, and the shared
// connection pieces: bounded queues, message size limit, heartbeat, close codes.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/random.hpp>
#include <intg/core/result.hpp>
#include <intg/http/tls.hpp>
#include <intg/http/url.hpp>
#include <intg/policy/backoff.hpp>
#include <intg/version.hpp>
#include <intg/websocket/connection.hpp>
#include <intg/websocket/options.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/stream_base.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace intg::websocket {

/// Client settings (connection_options for the limits, heartbeat and queues).
struct client_options : connection_options {
  http::tls_options tls{};  ///< for wss://: peers verified against the system store unless told otherwise
  /// DNS, TCP and the TLS handshake (the WebSocket handshake has handshake_timeout).
  std::chrono::milliseconds connect_timeout{10'000};
  /// Extra handshake headers (Authorization, cookies...): sent, never put in errors or logs.
  std::vector<std::pair<std::string, std::string>> headers{};
  std::string origin{};       ///< the Origin header; empty: none (only browsers must send one)
  std::string subprotocol{};  ///< Sec-WebSocket-Protocol to ask for; empty: none
  std::string user_agent = "intg/" INTG_VERSION_STRING;
  /// Reconnect when an established connection is lost (not after close()).
  bool reconnect = true;
  /// Delays between reconnection attempts: 100 ms doubling to 10 s, full jitter.
  intg::backoff reconnect_backoff{std::chrono::milliseconds(100), 2.0, std::chrono::seconds(10), intg::jitter::full};
  /// Attempts per outage before giving up (receive() and send() then fail); 0: until close().
  int max_reconnect_attempts = 0;
};

/// Counters of a client (the current connection's are in connection()->stats()).
struct client_stats {
  std::uint64_t connects = 0;          ///< connections established, the first one included
  std::uint64_t reconnects = 0;        ///< of which after a loss
  std::uint64_t connect_failures = 0;  ///< attempts that failed (the hook's failures included)
  std::uint64_t hook_failures = 0;     ///< on_connect hooks that returned an error
  std::uint64_t dropped = 0;           ///< messages queued on connections that were lost
};

namespace detail {
/// ws:// and wss:// as http:// and https:// URLs (userinfo refused: credentials go in headers).
inline result<http::url> parse_ws_url(std::string_view text) {
  std::string mapped;
  if (text.starts_with("ws://")) {
    mapped = "http://" + std::string(text.substr(5));
  } else if (text.starts_with("wss://")) {
    mapped = "https://" + std::string(text.substr(6));
  } else {
    return error(errc::invalid_argument, "invalid WebSocket URL: scheme must be ws or wss");
  }
  auto u = http::url::parse(mapped);
  if (!u) return error(errc::invalid_argument, "invalid WebSocket URL: " + std::string(u.error().message()).substr(13));
  return u;
}
}  // namespace detail

/// A WebSocket client. Like an Asio object, use it from one thread (or strand).
///
///   connect() once; then send() / try_send() / receive() / close(). When the connection is lost
///   (reconnect on), a background task reconnects with backoff; each new connection runs the
///   on_connect hook before anything else uses it, so subscriptions are restored first.
///   receive() waits through an outage; send() waits up to send_timeout for a connection.
class client {
 public:
  /// Runs on every new connection (the first one too) before it is used; an error closes that
  /// connection and counts as a failed attempt. Send subscriptions here.
  using connect_hook = std::function<asio::awaitable<result<void>>(connection&)>;

  /// Throws intg::exception (invalid_argument) for a malformed URL or options that cannot work.
  client(asio::any_io_executor ex, std::string_view url, client_options opts = {})
      : impl_(std::make_shared<impl>(std::move(ex), std::move(opts))) {
    auto u = detail::parse_ws_url(url);
    if (!u) throw exception(u.error());
    impl_->url_ = std::move(*u);
    impl_->peer_ = std::string(impl_->url_.tls() ? "wss://" : "ws://") + impl_->url_.host_header();
    if (impl_->opts_.max_message_size == 0 || impl_->opts_.send_queue_messages == 0 ||
        impl_->opts_.receive_queue_messages == 0)
      throw exception(error(errc::invalid_argument,
                            "WebSocket client: max_message_size, send_queue_messages and receive_queue_messages must be above 0"));
  }
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  /// Aborts the connection and any reconnection (close() first for a closing handshake).
  ~client() { impl_->stop(); }

  void on_connect(connect_hook hook) { impl_->hook_ = std::move(hook); }

  /// The first connection (no retries: a wrong URL or a refused handshake is reported at once).
  asio::awaitable<result<void>> connect() { return impl_->connect(); }

  /// Queues a message (see connection::send), waiting up to send_timeout for room or, while
  /// reconnecting, for the new connection.
  asio::awaitable<result<void>> send(std::string_view data, message_kind kind = message_kind::text) {
    return impl_->send(std::string(data), kind);
  }
  /// Queues a message if there is a connection and room now.
  result<void> try_send(std::string_view data, message_kind kind = message_kind::text) {
    if (!impl_->conn_ || !impl_->conn_->is_open()) {
      impl_->start_reconnect();
      return error(errc::unavailable, "WebSocket " + impl_->peer_ + ": not connected");
    }
    return impl_->conn_->try_send(data, kind);
  }
  /// The next message; waits through an outage while reconnecting.
  asio::awaitable<result<message>> receive() { return impl_->receive(); }
  /// Closing handshake with `code`; no reconnection after it.
  asio::awaitable<result<void>> close(std::uint16_t code = close_code::normal, std::string_view reason = {}) {
    return impl_->close(code, std::string(reason));
  }

  bool connected() const noexcept { return impl_->conn_ && impl_->conn_->is_open(); }
  /// The current connection (null before connect()).
  std::shared_ptr<connection> current() const noexcept { return impl_->conn_; }
  client_stats stats() const noexcept { return impl_->stats_; }
  /// Why the last connection or attempt failed.
  std::optional<error> last_error() const { return impl_->last_error_; }
  /// ws://host:port or wss://host:port.
  const std::string& peer() const noexcept { return impl_->peer_; }
  /// The executor the client and its connections run on.
  const asio::any_io_executor& get_executor() const noexcept { return impl_->ex_; }

 private:
  using clock_type = std::chrono::steady_clock;

  // Shared with the background reconnection task, so that destroying the client is safe.
  struct impl : std::enable_shared_from_this<impl> {
    impl(asio::any_io_executor ex, client_options o) : ex_(std::move(ex)), opts_(std::move(o)), sleep_(ex_) {}

    asio::awaitable<result<void>> connect() {
      if (conn_ && conn_->is_open()) co_return result<void>{};
      if (closed_) co_return closed_error();
      auto r = co_await open();
      if (!r) {
        ++stats_.connect_failures;
        last_error_ = r.error();
      }
      co_return r;
    }

    asio::awaitable<result<void>> send(std::string data, message_kind kind) {
      auto c = co_await usable(clock_type::now() + opts_.send_timeout);
      if (!c) co_return c.error();
      co_return co_await (*c)->send(data, kind);
    }

    asio::awaitable<result<message>> receive() {
      for (;;) {
        if (auto c = conn_) {
          auto m = co_await c->receive();
          if (m || closed_ || !opts_.reconnect) co_return m;
          last_error_ = m.error();
          if (conn_ != c) continue;  // already replaced
        }
        auto c = co_await usable(clock_type::time_point::max());
        if (!c) co_return c.error();
      }
    }

    asio::awaitable<result<void>> close(std::uint16_t code, std::string reason) {
      closed_ = true;
      sleep_.cancel();
      if (opening_) opening_->abort();
      while (reconnecting_) co_await reconnected_.wait();
      if (!conn_) co_return result<void>{};
      auto c = conn_;
      co_return co_await c->close(code, reason);
    }

    void stop() noexcept {
      closed_ = true;
      sleep_.cancel();
      if (opening_) opening_->abort();
      if (conn_) conn_->abort();
      reconnected_.notify_all();
    }

    error closed_error() const { return error(errc::cancelled, "WebSocket client for " + peer_ + " was closed"); }

    // The open connection, reconnecting (in the background) when it was lost; waits for it until
    // `deadline`.
    asio::awaitable<result<std::shared_ptr<connection>>> usable(clock_type::time_point deadline) {
      for (;;) {
        if (closed_) co_return closed_error();
        if (conn_ && conn_->is_open()) co_return conn_;
        if (!conn_) co_return error(errc::not_initialized, "WebSocket " + peer_ + ": not connected (call connect() first)");
        if (!opts_.reconnect) co_return conn_->why_ended().value_or(error(errc::unavailable, "WebSocket " + peer_ + " closed"));
        if (gave_up_) co_return *gave_up_;
        start_reconnect();
        if (clock_type::now() >= deadline)
          co_return error(errc::unavailable, "WebSocket " + peer_ + ": not connected (reconnecting; last error: " +
                                                 (last_error_ ? last_error_->to_string() : std::string("none")) + ")");
        co_await reconnected_.wait(deadline);
      }
    }

    void start_reconnect() {
      if (reconnecting_ || closed_ || !opts_.reconnect || !conn_ || conn_->is_open()) return;
      reconnecting_ = true;
      gave_up_.reset();
      asio::co_spawn(ex_, reconnect_loop(shared_from_this()), asio::detached);
    }

    asio::awaitable<void> reconnect_loop(std::shared_ptr<impl>) {
      stats_.dropped += conn_->stats().dropped;
      if (auto why = conn_->why_ended()) last_error_ = why;
      std::chrono::nanoseconds previous{0};
      for (int attempt = 1; !closed_; ++attempt) {
        if (opts_.max_reconnect_attempts > 0 && attempt > opts_.max_reconnect_attempts) {
          gave_up_ = error(errc::unavailable, "WebSocket " + peer_ + ": gave up after " + std::to_string(attempt - 1) +
                                                  " reconnection attempts; last error: " +
                                                  (last_error_ ? last_error_->to_string() : std::string("none")));
          break;
        }
        previous = opts_.reconnect_backoff.delay(attempt, previous, rng_);
        sleep_.expires_after(previous);
        co_await sleep_.async_wait(asio::as_tuple(asio::use_awaitable));
        if (closed_) break;
        auto r = co_await open();
        if (r) {
          ++stats_.reconnects;
          break;
        }
        ++stats_.connect_failures;
        last_error_ = r.error();
      }
      reconnecting_ = false;
      reconnected_.notify_all();
    }

    // One connection attempt: resolve, TCP, TLS, WebSocket handshake, hook; conn_ on success.
    asio::awaitable<result<void>> open() {
      std::shared_ptr<connection> c;
      const connection_options& copts = opts_;
      if (url_.tls()) {
        if (!tls_ctx_) {
          auto ctx = http::make_client_tls_context(opts_.tls);
          if (!ctx) co_return ctx.error();
          tls_ctx_ = std::move(*ctx);
        }
        c = std::make_shared<connection>(std::make_unique<tls_stream>(ex_, *tls_ctx_), copts, peer_);
      } else {
        c = std::make_shared<connection>(std::make_unique<plain_stream>(ex_), copts, peer_);
      }
      opening_ = c;
      result<void> r;  // not `cond ? co_await a : co_await b`: g++ 12 destroys the result twice
      if (c->plain()) {
        r = co_await handshake(*c->plain());
      } else {
        r = co_await handshake(*c->tls());
      }
      opening_.reset();
      if (r && closed_) r = closed_error();
      if (!r) {
        c->abort();
        co_return r;
      }
      c->set_target(url_.target());
      c->start();
      if (hook_) {
        opening_ = c;
        auto h = co_await hook_(*c);
        opening_.reset();
        if (!h) {
          ++stats_.hook_failures;
          c->abort();
          co_return error(h.error().code(), "WebSocket " + peer_ + ": the on_connect hook failed: " + h.error().to_string());
        }
      }
      conn_ = std::move(c);
      ++stats_.connects;
      co_return result<void>{};
    }

    template <class WebSocketStream>
    asio::awaitable<result<void>> handshake(WebSocketStream& ws) {
      namespace bws = beast::websocket;
      auto& tcp = beast::get_lowest_layer(ws);
      const auto deadline = clock_type::now() + opts_.connect_timeout;
      tcp.expires_at(deadline);
      // The resolver has no timeout of its own: a timer cancels it.
      asio::ip::tcp::resolver resolver(ex_);
      asio::steady_timer resolve_timer(ex_, deadline);
      auto resolving = std::make_shared<bool>(true);
      resolve_timer.async_wait([resolving, &resolver](boost::system::error_code ec) {
        if (!ec && *resolving) resolver.cancel();
      });
      auto resolved = co_await resolver.async_resolve(url_.host(), std::to_string(url_.port()),
                                                      asio::as_tuple(asio::use_awaitable));
      *resolving = false;
      resolve_timer.cancel();
      const auto rec = std::get<0>(resolved);
      if (rec == asio::error::operation_aborted && clock_type::now() >= deadline)
        co_return error(errc::timeout, "resolving " + url_.host() + " timed out");
      if (rec) co_return error(rec, "cannot resolve " + url_.host() + ": " + rec.message());
      auto [cec, ep] = co_await tcp.async_connect(std::get<1>(resolved), asio::as_tuple(asio::use_awaitable));
      if (cec) co_return connect_error(cec, "connecting");
      boost::system::error_code ignored;
      tcp.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
      if constexpr (std::is_same_v<WebSocketStream, tls_stream>) {
        const bool verify = !opts_.tls.insecure_skip_verify;
        auto& tls = detail::tls_layer(ws);
        if (auto r = http::prepare_client_ssl(tls.native_handle(), url_.host(), verify); !r) co_return r.error();
        auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
        if (hec == beast::error::timeout) co_return connect_error(hec, "in the TLS handshake");
        if (hec) co_return http::handshake_error(tls.native_handle(), hec, peer_);
      }
      detail::apply_options(ws, opts_);
      ws.set_option(bws::stream_base::decorator([o = &opts_](bws::request_type& req) {
        req.set(beast::http::field::user_agent, o->user_agent);
        if (!o->origin.empty()) req.set(beast::http::field::origin, o->origin);
        if (!o->subprotocol.empty()) req.set(beast::http::field::sec_websocket_protocol, o->subprotocol);
        for (const auto& [name, value] : o->headers) req.set(name, value);
      }));
      bws::response_type res;
      auto [wec] = co_await ws.async_handshake(res, url_.host_header(), url_.target(), asio::as_tuple(asio::use_awaitable));
      if (wec) {
        const int status = static_cast<int>(res.result_int());
        if (status != 0 && status != 101)
          co_return error::http(status, std::chrono::milliseconds{-1},
                                "WebSocket " + peer_ + " refused the upgrade: HTTP " + std::to_string(status));
        co_return detail::ws_error(wec, peer_, opts_, 0, {}, "in the opening handshake");
      }
      co_return result<void>{};
    }

    error connect_error(boost::system::error_code ec, const char* stage) const {
      if (ec == beast::error::timeout)
        return error(errc::timeout, "WebSocket " + peer_ + " timed out " + stage + " (connect_timeout " +
                                        std::to_string(opts_.connect_timeout.count()) + " ms)");
      return error(ec, "WebSocket " + peer_ + " failed " + stage + ": " + ec.message());
    }

    asio::any_io_executor ex_;
    client_options opts_;
    http::url url_;
    std::string peer_;
    std::shared_ptr<asio::ssl::context> tls_ctx_;
    connect_hook hook_;
    std::shared_ptr<connection> conn_;
    std::shared_ptr<connection> opening_;  // an attempt in progress, aborted by close()
    asio::steady_timer sleep_;             // the backoff's pause, cancelled by close()
    detail::wakeup reconnected_{ex_};
    std::optional<error> last_error_;
    std::optional<error> gave_up_;
    client_stats stats_;
    thread_random rng_;
    bool reconnecting_ = false;
    bool closed_ = false;
  };

  std::shared_ptr<impl> impl_;
};

}  // namespace intg::websocket
