// intg::http::client: a co_await HTTP/1.1 client over TCP and TLS with a per-host keep-alive
// pool, forward proxies, hard limits on what a server may send, real cancellation, and errors the
// resilience policies can classify. It is the operation you put inside an intg::pipeline.
#pragma once

#include <intg/core/attempt.hpp>
#include <intg/core/error.hpp>
#include <intg/http/message.hpp>
#include <intg/http/proxy.hpp>
#include <intg/http/tls.hpp>
#include <intg/http/url.hpp>
#include <intg/core/result.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace intg::http {

namespace asio = boost::asio;

/// Client settings. The defaults suit calling public HTTPS APIs.
struct client_options {
  std::size_t max_connections_per_host = 16;  ///< callers beyond this wait for a free connection
  std::chrono::milliseconds connect_timeout{10'000};  ///< DNS + TCP + proxy CONNECT + TLS handshake
  std::chrono::milliseconds request_timeout{30'000};  ///< a whole request, from send() to the last body byte
  std::chrono::milliseconds idle_timeout{50'000};     ///< pooled connections idle longer are closed
  std::uint64_t max_response_body = 8 * 1024 * 1024;  ///< larger bodies fail with errc::invalid_response
  std::uint32_t max_response_header = 16 * 1024;      ///< larger headers fail with errc::invalid_response
  int max_redirects = 0;  ///< 0: redirects are returned to the caller; N: follow up to N (3xx with Location)
  tls_options tls;
  proxy_settings proxy;  ///< none by default; proxy_settings::from_environment() reads the usual variables
  std::string user_agent = "intg/" INTG_VERSION_STRING;
};

/// Counters describing the pool, for tests, metrics and capacity planning.
struct client_stats {
  std::uint64_t connections_opened = 0;
  std::uint64_t requests = 0;
  std::uint64_t reused = 0;       ///< requests sent on a pooled keep-alive connection
  std::uint64_t stale_retries = 0;  ///< pooled connections found closed by the server and replaced
  std::size_t open = 0;           ///< connections open now (idle + in use)
  std::size_t idle = 0;
};

/// An HTTP/1.1 client. Like an Asio socket it is not thread-safe: use it from one thread (or one
/// strand); create one client per thread for multi-threaded programs. It must outlive its calls.
class client {
 public:
  explicit client(asio::any_io_executor ex) : ex_(std::move(ex)) {}  // no temporary options: g++ 12 -O2 warns falsely on one (-Wmaybe-uninitialized)
  client(asio::any_io_executor ex, client_options opts) : ex_(std::move(ex)), opts_(std::move(opts)) {}
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  ~client() { close_idle(); }

  const client_options& options() const noexcept { return opts_; }
  const asio::any_io_executor& get_executor() const noexcept { return ex_; }

  /// Sends `req` and reads the response, whatever its status (use status_error() to turn 4xx/5xx
  /// into an error). The client completes `req`'s headers in place, so a request object can be sent
  /// again without rebuilding it. Transport failures, timeouts and limit violations are errors.
  asio::awaitable<result<response>> send(request& req) { return send_impl(req, nullptr); }

  /// As above, inside a pipeline: binds the attempt's cancellation (a policy timeout closes the
  /// connection mid-read), injects its W3C traceparent, and reports a 429/503's Retry-After.
  asio::awaitable<result<response>> send(request& req, attempt& a) { return send_impl(req, &a); }

  /// Shorthands for a GET of `u` (a bad URL is an error).
  asio::awaitable<result<response>> get(std::string_view u) {
    auto r = request::make(verb::get, u);
    if (!r) co_return r.error();
    co_return co_await send_impl(*r, nullptr);
  }

  /// Closes every idle pooled connection (in-use connections close when their request ends).
  void close_idle() {
    for (auto& [key, p] : pools_) {
      p.open -= p.idle.size();
      p.idle.clear();
    }
  }

  client_stats stats() const noexcept {
    client_stats s = stats_;
    for (const auto& [key, p] : pools_) {
      s.open += p.open;
      s.idle += p.idle.size();
    }
    return s;
  }

 private:
  using clock_type = std::chrono::steady_clock;

  struct connection {
    connection() { buffer.reserve(read_chunk); }
    std::optional<beast::tcp_stream> plain;
    std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
    beast::flat_buffer buffer;
    clock_type::time_point idle_since{};
    // Beast reads max(512, free capacity) bytes at a time and the parser consumes what it reads,
    // so an unreserved buffer stays small and a 5 KB answer costs a dozen reads; 16 KB per
    // connection reads most answers in one or two.
    static constexpr std::size_t read_chunk = 16 * 1024;

    beast::tcp_stream& tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
  };
  using connection_ptr = std::unique_ptr<connection>;

  // A caller waiting for a connection; release() hands one over (or a slot to open one) and
  // cancels the timer to wake it.
  struct waiter {
    explicit waiter(const asio::any_io_executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    connection_ptr handed;
    bool slot = false;
  };

  struct host_pool {
    std::vector<connection_ptr> idle;  // most recently used last
    std::size_t open = 0;
    std::vector<waiter*> waiters;      // FIFO
  };

  struct key_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct key_equal {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
  };

  // The pool key, "https://host:port", written without allocating.
  struct pool_key {
    char buf[300];
    std::size_t len = 0;
    explicit pool_key(const url& u) {
      auto put = [&](std::string_view s) {
        const std::size_t n = std::min(s.size(), sizeof buf - len);
        std::memcpy(buf + len, s.data(), n);
        len += n;
      };
      put(u.scheme());
      put("://");
      put(u.host());
      char port[8];
      auto* end = port + sizeof port;
      auto* p = end;
      unsigned v = u.port();
      do {
        *--p = static_cast<char>('0' + v % 10);
        v /= 10;
      } while (v);
      *--p = ':';
      put(std::string_view(p, static_cast<std::size_t>(end - p)));
    }
    std::string_view view() const noexcept { return {buf, len}; }
  };

  host_pool& pool_for(const url& u) {
    const pool_key key(u);
    auto it = pools_.find(key.view());
    if (it == pools_.end()) it = pools_.emplace(std::string(key.view()), host_pool{}).first;
    return it->second;
  }

  static std::string peer_name(const url& u) { return u.host() + ":" + std::to_string(u.port()); }

  // Headers a redirect may carry to another origin: none of them can hold a credential.
  static bool forwards_across_origins(field f, std::string_view name) noexcept {
    switch (f) {
      case field::accept: case field::accept_language: case field::user_agent: case field::content_type:
      case field::cache_control: case field::pragma:
        return true;
      default:
        return beast::iequals(name, "traceparent") || beast::iequals(name, "tracestate");
    }
  }

  // Gives a finished connection back: to a waiting caller first, else to the idle list.
  void release(host_pool& p, connection_ptr c, bool reusable) {
    if (!p.waiters.empty()) {
      waiter* w = p.waiters.front();
      p.waiters.erase(p.waiters.begin());
      if (reusable) {
        w->handed = std::move(c);
      } else {
        w->slot = true;  // the count stays: the waiter opens a connection in this one's place
      }
      w->timer.cancel();
      return;
    }
    if (reusable) {
      c->idle_since = clock_type::now();
      p.idle.push_back(std::move(c));
    } else {
      --p.open;
    }
  }

  void forget(host_pool& p) {  // a connection that never opened, or was closed
    if (!p.waiters.empty()) {
      waiter* w = p.waiters.front();
      p.waiters.erase(p.waiters.begin());
      w->slot = true;
      w->timer.cancel();
      return;
    }
    --p.open;
  }

  // Starts an async operation with `as_tuple(use_awaitable)`, bound to the attempt's cancellation
  // slot when there is an attempt (both branches yield the same awaitable type).
  template <class Initiate>
  static auto run_op(attempt* a, Initiate&& init) {
    // (Fresh tokens each time: Asio 1.81's as_tuple_t cannot be copied from a non-const lvalue.)
    return a ? init(asio::bind_cancellation_slot(a->cancellation_slot(), asio::as_tuple(asio::use_awaitable)))
             : init(asio::as_tuple(asio::use_awaitable));
  }

  // Maps transport and parser failures to errors the policies and people understand.
  error transport_error(boost::system::error_code ec, const url& u, const char* stage) const {
    using he = beast::http::error;
    if (ec == beast::error::timeout)
      return error(errc::timeout, std::string("HTTP request to ") + peer_name(u) + " timed out while " + stage);
    if (ec == he::body_limit)
      return error(errc::invalid_response, "response body from " + peer_name(u) + " exceeds the limit of " +
                                               std::to_string(opts_.max_response_body) + " bytes");
    if (ec == he::header_limit)
      return error(errc::invalid_response, "response header from " + peer_name(u) + " exceeds the limit of " +
                                               std::to_string(opts_.max_response_header) + " bytes");
    if (ec == he::partial_message || ec == he::end_of_stream || ec == asio::ssl::error::stream_truncated)
      return error(errc::unavailable, "connection to " + peer_name(u) + " closed before the response was complete");
    if (ec.category() == beast::http::make_error_code(he::bad_version).category())
      return error(errc::invalid_response, "malformed HTTP response from " + peer_name(u) + ": " + ec.message());
    return error(ec, std::string("HTTP request to ") + peer_name(u) + " failed while " + stage + ": " + ec.message());
  }

  // A response that arrived but broke a limit or the HTTP grammar: the server did answer.
  static bool answered_badly(boost::system::error_code ec) noexcept {
    using he = beast::http::error;
    return ec.category() == beast::http::make_error_code(he::bad_version).category() && ec != he::end_of_stream &&
           ec != he::partial_message;
  }

  // A non-idempotent request that was (partly) sent without a complete answer: resending it could
  // repeat its effect (a second charge), so neither the client nor the default retry predicate does.
  error outcome_unknown(const request& req, boost::system::error_code ec, const char* stage) const {
    const error cause = transport_error(ec, req.target, stage);
    return error(errc::outcome_unknown,
                 std::string(beast::http::to_string(req.method())) + " to " + peer_name(req.target) +
                     " may have taken effect: " + cause.to_string() +
                     " (not resent; an idempotency key makes the request safe to retry)");
  }

  // Opens a connection (directly or through the proxy) and completes the TLS handshake, all
  // before `deadline` and the connect timeout, whichever comes first.
  asio::awaitable<result<connection_ptr>> connect(const url& target, clock_type::time_point deadline, attempt* a) {
    const url* proxy = opts_.proxy.for_target(target);
    const url& first_hop = proxy ? *proxy : target;
    if (target.tls() && !tls_ctx_) {
      auto ctx = make_client_tls_context(opts_.tls);
      if (!ctx) co_return ctx.error();
      tls_ctx_ = std::move(*ctx);
    }
    auto c = std::make_unique<connection>();
    if (target.tls()) {
      c->secure.emplace(ex_, *tls_ctx_);
    } else {
      c->plain.emplace(ex_);
    }
    beast::tcp_stream& tcp = c->tcp();
    const auto connect_deadline = std::min(deadline, clock_type::now() + opts_.connect_timeout);
    tcp.expires_at(connect_deadline);

    // The resolver has no timeout of its own: a timer cancels it.
    asio::ip::tcp::resolver resolver(ex_);
    asio::steady_timer resolve_timer(ex_, connect_deadline);
    auto resolving = std::make_shared<bool>(true);
    resolve_timer.async_wait([resolving, &resolver](boost::system::error_code ec) {
      if (!ec && *resolving) resolver.cancel();
    });
    auto resolved = co_await run_op(a, [&](auto token) {
      return resolver.async_resolve(first_hop.host(), std::to_string(first_hop.port()), token);
    });
    const auto rec = std::get<0>(resolved);
    const auto& endpoints = std::get<1>(resolved);  // named, not bound: clang 14 lambdas cannot capture bindings
    *resolving = false;
    resolve_timer.cancel();
    if (rec == asio::error::operation_aborted && clock_type::now() >= connect_deadline)
      co_return error(errc::timeout, "resolving " + first_hop.host() + " timed out");
    if (rec) co_return error(rec, "cannot resolve " + first_hop.host() + ": " + rec.message());
    auto [cec, ep] = co_await run_op(a, [&](auto token) { return tcp.async_connect(endpoints, token); });
    if (cec) co_return transport_error(cec, first_hop, "connecting");
    boost::system::error_code ignored;
    tcp.socket().set_option(asio::ip::tcp::no_delay(true), ignored);

    if (proxy && target.tls()) {
      // CONNECT host:port, then TLS end to end through the tunnel.
      beast::http::request<beast::http::empty_body> req{verb::connect, peer_name(target), 11};
      req.set(field::host, peer_name(target));
      req.set(field::user_agent, opts_.user_agent);
      auto [wec, wn] = co_await run_op(a, [&](auto token) { return beast::http::async_write(tcp, req, token); });
      if (wec) co_return transport_error(wec, *proxy, "sending CONNECT to the proxy");
      beast::http::response_parser<beast::http::empty_body> parser;
      parser.skip(true);  // a CONNECT answer has no body
      parser.header_limit(opts_.max_response_header);
      auto [rec2, rn] = co_await run_op(
          a, [&](auto token) { return beast::http::async_read_header(tcp, c->buffer, parser, token); });
      if (rec2) co_return transport_error(rec2, *proxy, "reading the proxy's CONNECT answer");
      const unsigned status = parser.get().result_int();
      if (status != 200)
        co_return error::http(static_cast<int>(status), std::chrono::milliseconds{-1},
                              "proxy " + peer_name(*proxy) + " refused to tunnel to " + peer_name(target));
      // The TLS handshake starts on a fresh byte stream; nothing may follow the proxy's header.
      if (c->buffer.size() != 0) co_return error(errc::invalid_response, "proxy sent data after its CONNECT answer");
    }

    if (target.tls()) {
      const bool verify = !opts_.tls.insecure_skip_verify;
      if (auto r = prepare_client_ssl(c->secure->native_handle(), target.host(), verify); !r) co_return r.error();
      auto [hec] = co_await run_op(
          a, [&](auto token) { return c->secure->async_handshake(asio::ssl::stream_base::client, token); });
      if (hec) {
        if (hec == beast::error::timeout) co_return transport_error(hec, target, "in the TLS handshake");
        co_return handshake_error(c->secure->native_handle(), hec, peer_name(target));
      }
    }
    ++stats_.connections_opened;
    co_return c;
  }

  // Waits for a connection of `p` to come back, or for room to open one.
  asio::awaitable<result<void>> wait_for_connection(host_pool& p, waiter& w, clock_type::time_point deadline,
                                                    const url& target, attempt* a) {
    w.timer.expires_at(deadline);
    p.waiters.push_back(&w);
    auto [ec] = co_await run_op(a, [&](auto token) { return w.timer.async_wait(token); });
    if (w.handed || w.slot) co_return result<void>{};
    std::erase(p.waiters, &w);
    if (ec == asio::error::operation_aborted) co_return error(asio::error::operation_aborted);
    co_return error(errc::timeout, "no free connection to " + peer_name(target) + " before the request timed out (" +
                                       std::to_string(opts_.max_connections_per_host) + " per host, all busy)");
  }

  asio::awaitable<result<response>> send_impl(request& req, attempt* a) {
    const auto deadline = clock_type::now() + opts_.request_timeout;
    auto& msg = req.message;
    if (msg.find(field::host) == msg.end()) msg.set(field::host, req.target.host_header());
    if (msg.find(field::user_agent) == msg.end() && !opts_.user_agent.empty()) msg.set(field::user_agent, opts_.user_agent);
    if (a && a->trace().valid()) {
      char tp[trace_context::traceparent_size];
      a->trace().format_traceparent(tp);
      msg.set("traceparent", std::string_view(tp, sizeof tp));
    }
    msg.prepare_payload();

    std::optional<request> redirected;  // the request of a followed redirect
    request* current = &req;
    for (int hops = 0;; ++hops) {
      auto r = co_await exchange(*current, deadline, a);
      if (!r) co_return r;
      if (a) {
        if (const int s = static_cast<int>(r->result_int()); s == 429 || s == 503) {
          if (auto e = status_error(*r); e.has_retry_after()) a->report_retry_after(e.retry_after());
        }
      }
      const unsigned s = r->result_int();
      const bool redirect = s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
      if (!redirect || opts_.max_redirects <= 0) co_return r;
      auto loc = r->find(field::location);
      if (loc == r->end()) co_return r;
      if (hops >= opts_.max_redirects)
        co_return error(errc::invalid_response, "more than " + std::to_string(opts_.max_redirects) +
                                                    " redirects starting at " + req.target.origin() +
                                                    std::string(req.target.path()));
      auto next = current->target.resolve(loc->value());
      if (!next) co_return error(errc::invalid_response, "redirect to an invalid URL: " + std::string(next.error().message()));
      if (current->target.tls() && !next->tls())
        co_return error(errc::invalid_response, "refusing a redirect from https to http (" + current->target.origin() +
                                                    " to " + next->origin() + ")");
      const bool same_origin = next->origin() == current->target.origin();
      // 303 (and 301/302 after a POST, as browsers do) becomes a GET without a body.
      const bool to_get = s == 303 || ((s == 301 || s == 302) && current->method() == verb::post);
      if (!same_origin && !to_get && !current->message.body().empty())
        co_return error(errc::invalid_response, "refusing to resend a request body to another origin (" +
                                                    current->target.origin() + " to " + next->origin() + ") on a " +
                                                    std::to_string(s) + " redirect");
      request follow(to_get ? verb::get : current->method(), *next);
      follow.idempotency_header = current->idempotency_header;
      for (const auto& h : current->message.base()) {
        // Across origins only headers that cannot carry credentials go along: an allowlist, since
        // API keys travel in headers of every name (X-Api-Key, Stripe-Account, ...).
        if (h.name() == field::host || h.name() == field::content_length || h.name() == field::transfer_encoding) continue;
        if (to_get && h.name() == field::content_type) continue;
        if (same_origin || forwards_across_origins(h.name(), h.name_string())) follow.message.insert(h.name_string(), h.value());
      }
      follow.message.set(field::host, next->host_header());
      if (!to_get) follow.message.body() = current->message.body();
      follow.message.prepare_payload();
      redirected = std::move(follow);
      current = &*redirected;
    }
  }

  // One request/response on a pooled connection, replacing a stale keep-alive connection once.
  asio::awaitable<result<response>> exchange(request& req, clock_type::time_point deadline, attempt* a) {
    const url& target = req.target;
    host_pool& p = pool_for(target);
    const url* proxy = opts_.proxy.for_target(target);
    const bool replay_safe = req.replay_safe();
    for (int tries = 0;; ++tries) {
      connection_ptr c;
      bool reused = false;
      const auto now = clock_type::now();
      while (!p.idle.empty()) {
        c = std::move(p.idle.back());
        p.idle.pop_back();
        if (now - c->idle_since < opts_.idle_timeout) {
          reused = true;
          break;
        }
        c.reset();
        --p.open;
      }
      if (!c) {
        bool may_open = p.open < opts_.max_connections_per_host;
        if (!may_open) {
          waiter w(ex_);
          auto waited = co_await wait_for_connection(p, w, deadline, target, a);
          if (!waited) co_return waited.error();
          if (w.handed) {
            c = std::move(w.handed);
            reused = true;
          }
          may_open = !c;  // handed a slot: the count already includes us
        } else {
          ++p.open;
        }
        if (!c) {
          auto opened = co_await connect(target, deadline, a);
          if (!opened) {
            forget(p);
            co_return opened.error();
          }
          c = std::move(*opened);
        }
      }

      ++stats_.requests;
      if (reused) ++stats_.reused;
      c->tcp().expires_at(deadline);
      if (proxy && !target.tls()) req.message.target(target.str());  // absolute form for a proxy
      auto [wec, wn] = co_await run_op(a, [&](auto token) {
        return c->secure ? beast::http::async_write(*c->secure, req.message, token)
                         : beast::http::async_write(*c->plain, req.message, token);
      });
      if (proxy && !target.tls()) req.message.target(target.target());
      if (wec) {
        forget(p);
        // A request of which no byte left may always go again; one partly written only when
        // sending it twice is harmless.
        const bool may_resend = wn == 0 || replay_safe;
        if (reused && tries == 0 && may_resend && wec != beast::error::timeout && wec != asio::error::operation_aborted) {
          ++stats_.stale_retries;
          continue;
        }
        if (!may_resend) co_return outcome_unknown(req, wec, "sending the request");
        co_return transport_error(wec, target, "sending the request");
      }

      std::optional<beast::http::response_parser<beast::http::string_body>> parser(std::in_place);
      parser->body_limit(opts_.max_response_body);
      parser->header_limit(opts_.max_response_header);
      if (req.method() == verb::head) parser->skip(true);
      auto [rec, rn] = co_await run_op(a, [&](auto token) {
        return c->secure ? beast::http::async_read(*c->secure, c->buffer, *parser, token)
                         : beast::http::async_read(*c->plain, c->buffer, *parser, token);
      });
      if (rec) {
        forget(p);
        const bool nothing_received = !parser->got_some() && c->buffer.size() == 0;
        const bool closed = rec == beast::http::error::end_of_stream || rec == asio::error::connection_reset ||
                            rec == asio::error::eof || rec == asio::ssl::error::stream_truncated;
        if (reused && tries == 0 && nothing_received && closed && replay_safe) {
          ++stats_.stale_retries;  // the server closed the idle connection as we reused it
          continue;
        }
        // The whole request went out and no complete answer came back (closed, reset, timed out,
        // cancelled): the server may have acted on it. Only a malformed or oversized answer is
        // known to be a bad answer rather than a missing one.
        if (!replay_safe && !answered_badly(rec)) co_return outcome_unknown(req, rec, "reading the response");
        co_return transport_error(rec, target, "reading the response");
      }
      const bool keep = parser->keep_alive() && !parser->need_eof();
      response res = parser->release();
      release(p, std::move(c), keep);
      co_return res;
    }
  }

  asio::any_io_executor ex_;
  client_options opts_;
  std::shared_ptr<asio::ssl::context> tls_ctx_;
  std::unordered_map<std::string, host_pool, key_hash, key_equal> pools_;
  client_stats stats_;
};

}  // namespace intg::http
