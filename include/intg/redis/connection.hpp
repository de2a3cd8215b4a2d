// intg::redis::connection: one RESP3 connection (TCP, TLS or a unix socket) on an Asio executor.
// Many commands may be in flight at once (pipelining): callers append their commands to one
// write buffer, a writer coroutine sends it, a reader coroutine parses replies and hands each to
// the oldest waiting command; push messages (pub/sub) go to an inbox instead, never to a command.
// The connection is opened on first use and again after a loss, with backoff after failures;
// commands that were sent when it was lost fail with errc::connection_lost and are never resent.
#pragma once

#include <intg/core/attempt.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/http/tls.hpp>
#include <intg/redis/error.hpp>
#include <intg/redis/options.hpp>
#include <intg/redis/request.hpp>
#include <intg/redis/resp3.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace intg::redis {

namespace asio = boost::asio;

/// A pub/sub message (or another push, e.g. a client-tracking "invalidate").
struct message {
  std::string kind;     ///< "message", "pmessage", "smessage", or the push's own kind
  std::string pattern;  ///< the matching pattern of a "pmessage"
  std::string channel;
  std::string payload;
};

/// Counters for tests, metrics and capacity planning.
struct connection_stats {
  std::uint64_t connects = 0;          ///< connections opened (handshake done)
  std::uint64_t connect_failures = 0;
  std::uint64_t commands = 0;          ///< commands sent
  std::uint64_t writes = 0;            ///< socket writes (pipelining: fewer than commands)
  std::uint64_t messages = 0;          ///< pub/sub messages received
  std::uint64_t messages_dropped = 0;  ///< messages dropped because the inbox was full
};

namespace detail {

using clock = std::chrono::steady_clock;

// A caller's command(s), in the caller's frame; the connection points at it while it waits.
struct entry {
  explicit entry(const asio::any_io_executor& ex) : timer(ex, clock::time_point::max()) {}
  asio::steady_timer timer;  // cancelled to wake the caller
  resp3::response replies;
  std::optional<intg::error> failure;
  bool done = false;
};

// One request in flight, in the order its bytes were queued. `e` is null once its caller
// stopped waiting (timeout, cancellation): its replies are read and dropped.
struct slot {
  entry* e;
  std::size_t replies;        // replies still to come
  std::size_t confirmations;  // subscribe-style pushes still to come
  std::size_t commands;
  bool sent;
};

// The socket of one connection and the state of reading from it; replaced on reconnect so
// that coroutines of a lost connection never touch the next one's.
struct session {
  std::optional<asio::ip::tcp::socket> tcp;
  std::optional<asio::ssl::stream<asio::ip::tcp::socket>> tls;
  std::optional<asio::local::stream_protocol::socket> local;
  std::string rbuf;
  std::size_t rlen = 0;
  resp3::parser parser;
  resp3::response msg;
  std::uint64_t generation = 0;
  const char* stage = "resolving";  // for a connect timeout's message

  void close() noexcept {
    boost::system::error_code ignored;
    if (tcp) tcp->close(ignored);
    if (tls) tls->lowest_layer().close(ignored);
    if (local) local->close(ignored);
  }
  template <class Token>
  auto write(asio::const_buffer b, Token token) {
    return tls ? asio::async_write(*tls, b, std::move(token))
               : tcp ? asio::async_write(*tcp, b, std::move(token)) : asio::async_write(*local, b, std::move(token));
  }
  template <class Token>
  auto read_some(asio::mutable_buffer b, Token token) {
    return tls ? tls->async_read_some(b, std::move(token))
               : tcp ? tcp->async_read_some(b, std::move(token)) : local->async_read_some(b, std::move(token));
  }
};

// Waits on a timer, bound to the attempt's cancellation when there is one.
inline auto wait(asio::steady_timer& t, attempt* a) {
  return a ? t.async_wait(asio::bind_cancellation_slot(a->cancellation_slot(), asio::as_tuple(asio::use_awaitable)))
           : t.async_wait(asio::as_tuple(asio::use_awaitable));
}

class connection_impl : public std::enable_shared_from_this<connection_impl> {
 public:
  connection_impl(asio::any_io_executor ex, options o) : ex_(std::move(ex)), opts_(std::move(o)), inbox_timer_(ex_) {}

  const options& opts() const noexcept { return opts_; }
  const asio::any_io_executor& executor() const noexcept { return ex_; }
  connection_stats stats() const noexcept { return stats_; }
  bool is_open() const noexcept { return state_ == state::open; }
  std::size_t in_flight() const noexcept { return in_flight_; }

  // Runs `req` (replies expected per command; `confirmations` subscribe-style pushes instead
  // when not 0) on the connection, opening it first if needed.
  asio::awaitable<result<resp3::response>> run(const request& req, std::size_t confirmations, attempt* a,
                                               clock::time_point not_after = clock::time_point::max()) {
    auto self = shared_from_this();  // the caller may drop the connection while waiting
    auto deadline = std::min(clock::now() + opts_.command_timeout, not_after);
    if (a) deadline = std::min(deadline, a->deadline());
    if (auto c = co_await ensure_open(deadline, a, false); !c) co_return c.error();
    const std::size_t n = confirmations ? 1 : req.commands();
    while (in_flight_ > 0 && in_flight_ + n > opts_.max_in_flight) {  // a request bigger than the bound runs alone
      asio::steady_timer w(ex_, deadline);
      capacity_waiters_.push_back(&w);
      auto [ec] = co_await wait(w, a);
      std::erase(capacity_waiters_, &w);
      if (ec != asio::error::operation_aborted)
        co_return error(intg::errc::timeout, std::to_string(in_flight_) + " commands in flight on " + peer() +
                                                 " (max_in_flight), none answered before the timeout");
      if (a && (a->timed_out() || a->cancelled())) co_return error(a->timed_out() ? intg::errc::timeout : intg::errc::cancelled);
      if (state_ != state::open) {
        if (auto c = co_await ensure_open(deadline, a, false); !c) co_return c.error();
      }
    }
    entry e(ex_);
    const std::uint64_t seq = enqueue(req, &e, confirmations ? 0 : req.commands(), confirmations, false);
    co_return co_await await_entry(e, seq, deadline, a);
  }

  asio::awaitable<result<void>> subscribe(const std::vector<std::string>& names, bool pattern, bool on, attempt* a) {
    if (names.empty()) co_return result<void>{};
    request req;
    req.push(on ? (pattern ? "PSUBSCRIBE" : "SUBSCRIBE") : (pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE"), names);
    auto self = shared_from_this();
    auto r = co_await run(req, names.size(), a);
    if (!r) co_return r.error();
    auto& set = pattern ? patterns_ : channels_;
    for (const auto& n : names) on ? (void)set.insert(n) : (void)set.erase(n);
    co_return result<void>{};
  }

  asio::awaitable<result<message>> receive(clock::duration timeout) {
    auto self = shared_from_this();
    const auto deadline = timeout == clock::duration::max() ? clock::time_point::max() : clock::now() + timeout;
    for (;;) {
      if (shut_) co_return error(intg::errc::cancelled, "the Redis connection was closed");
      if (!inbox_.empty()) {
        message m = std::move(inbox_.front());
        inbox_.pop_front();
        co_return m;
      }
      if (state_ == state::closed && (!channels_.empty() || !patterns_.empty())) {
        // The subscriber drives the reconnection (restoring its subscriptions), waiting out the backoff.
        if (auto c = co_await ensure_open(deadline, nullptr, true); !c) co_return c.error();
        continue;
      }
      if (clock::now() >= deadline) co_return error(intg::errc::timeout, "no pub/sub message before the timeout");
      inbox_timer_.expires_at(deadline);
      receiving_ = true;
      auto [ec] = co_await inbox_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
      receiving_ = false;
      if (ec == asio::error::operation_aborted && inbox_.empty() && !woken_) co_return error(intg::errc::cancelled);
      woken_ = false;
    }
  }

  void close() {
    shut_ = true;
    fail_all(error(intg::errc::cancelled, "the Redis connection was closed"), session_ ? session_->generation : 0);
    channels_.clear();
    patterns_.clear();
    wake(capacity_waiters_);
    wake(connect_waiters_);
    wake_receiver();
  }

 private:
  enum class state { closed, connecting, open };

  std::string peer() const {
    return opts_.unix_socket.empty() ? opts_.host + ":" + std::to_string(opts_.port) : opts_.unix_socket;
  }

  static void wake(std::vector<asio::steady_timer*>& ws) {
    for (auto* w : ws) w->cancel();
  }

  // Appends the request's bytes to the write buffer and its slot to the in-flight queue (the
  // same order, so replies match), and wakes the writer.
  std::uint64_t enqueue(const request& req, entry* e, std::size_t replies, std::size_t confirmations, bool sensitive) {
    pending_write_ += req.payload();
    sensitive_ |= sensitive;
    const std::size_t n = confirmations ? 1 : req.commands();
    inflight_.push_back({e, replies, confirmations, n, false});
    ++unsent_;
    in_flight_ += n;
    stats_.commands += req.commands();
    writer_timer_->cancel();
    return front_seq_ + inflight_.size() - 1;
  }

  asio::awaitable<result<resp3::response>> await_entry(entry& e, std::uint64_t seq, clock::time_point deadline, attempt* a) {
    e.timer.expires_at(deadline);
    auto [ec] = co_await wait(e.timer, a);
    if (e.done) {
      if (e.failure) co_return *e.failure;
      co_return std::move(e.replies);
    }
    // The caller stopped waiting: the replies are dropped when they come.
    bool sent = true;
    if (seq >= front_seq_ && seq - front_seq_ < inflight_.size()) {
      slot& s = inflight_[seq - front_seq_];
      s.e = nullptr;
      sent = s.sent;
    }
    const bool cancelled = ec == asio::error::operation_aborted && !(a && a->timed_out());
    if (!sent) co_return error(cancelled ? intg::errc::cancelled : intg::errc::timeout);
    co_return error(intg::errc::outcome_unknown,
                    std::string(cancelled ? "cancelled" : "timed out") + " waiting for the reply from " + peer() +
                        ": the command was sent and may have taken effect (not resent)");
  }

  void complete(slot& s, std::optional<error> failure) {
    in_flight_ -= s.commands;
    if (s.e) {
      s.e->failure = std::move(failure);
      s.e->done = true;
      s.e->timer.cancel();
    }
    wake(capacity_waiters_);
  }

  void pop_front() {
    inflight_.pop_front();
    ++front_seq_;
  }

  // Fails every request of generation `gen`: sent ones may have taken effect.
  void fail_all(const error& cause, std::uint64_t gen) {
    if (!session_ || session_->generation != gen || state_ == state::closed) return;
    shutdown_session();
    const std::string why = cause.to_string();
    while (!inflight_.empty()) {
      slot& s = inflight_.front();
      if (s.sent)
        complete(s, make_error(errc::connection_lost, "connection to " + peer() + " lost before the reply (" + why +
                                                          "); the command may have taken effect and is not resent"));
      else
        complete(s, error(intg::errc::unavailable, "connection to " + peer() + " lost before the command was sent (" + why + ")"));
      pop_front();
    }
    pending_write_.clear();
    unsent_ = 0;
    in_flight_ = 0;
    writer_timer_->cancel();
    wake(connect_waiters_);
    wake_receiver();
  }

  void shutdown_session() noexcept {
    if (session_) session_->close();
    state_ = state::closed;
    writer_timer_->cancel();  // the writer sees the state and ends
  }

  void wake_receiver() {
    if (receiving_) {
      woken_ = true;
      inbox_timer_.cancel();
    }
  }

  // Opens the connection when it is not open: one caller connects, the others wait for it.
  // A command arriving during the backoff after a failed connect fails at once (unavailable,
  // with the last failure); receive() waits the backoff out instead (`wait_backoff`).
  asio::awaitable<result<void>> ensure_open(clock::time_point deadline, attempt* a, bool wait_backoff) {
    for (;;) {
      if (shut_) co_return error(intg::errc::cancelled, "the Redis connection was closed");
      if (state_ == state::open) co_return result<void>{};
      if (state_ == state::connecting) {
        asio::steady_timer w(ex_, deadline);
        connect_waiters_.push_back(&w);
        auto [ec] = co_await wait(w, a);
        std::erase(connect_waiters_, &w);
        if (ec != asio::error::operation_aborted) co_return error(intg::errc::timeout, "connecting to " + peer() + " timed out");
        if (a && (a->timed_out() || a->cancelled())) co_return error(a->timed_out() ? intg::errc::timeout : intg::errc::cancelled);
        if (state_ == state::closed && last_failure_ && clock::now() < next_attempt_ && !wait_backoff) co_return *last_failure_;
        continue;
      }
      if (clock::now() < next_attempt_) {
        if (!wait_backoff || next_attempt_ > deadline) co_return *last_failure_;
        asio::steady_timer w(ex_, next_attempt_);
        auto [ec] = co_await wait(w, a);
        if (ec == asio::error::operation_aborted) co_return error(intg::errc::cancelled);
        continue;
      }
      state_ = state::connecting;
      auto r = co_await open(std::min(deadline, clock::now() + opts_.connect_timeout));
      if (!r) {
        shutdown_session();
        ++stats_.connect_failures;
        const auto backoff = std::min<clock::duration>(opts_.reconnect_backoff * (1ll << std::min(failures_, 20)),
                                                       opts_.max_reconnect_backoff);
        ++failures_;
        next_attempt_ = clock::now() + backoff;
        last_failure_ = r.error();
        wake(connect_waiters_);
        co_return r.error();
      }
      failures_ = 0;
      last_failure_.reset();
      ++stats_.connects;
      wake(connect_waiters_);
      co_return result<void>{};
    }
  }

  // Connects, starts the reader and writer, says HELLO (and SELECT), restores subscriptions.
  asio::awaitable<result<void>> open(clock::time_point deadline) {
    auto s = std::make_shared<session>();
    s->generation = ++generation_;
    s->parser = resp3::parser(opts_.limits);
    s->rbuf.resize(16 * 1024);
    session_ = s;
    // A watchdog closes the socket (and cancels the resolver) when the connect deadline passes.
    asio::ip::tcp::resolver resolver(ex_);
    asio::steady_timer watchdog(ex_, deadline);
    auto armed = std::make_shared<bool>(true);
    watchdog.async_wait([s, armed, &resolver](boost::system::error_code ec) {
      if (ec || !*armed) return;
      resolver.cancel();
      s->close();
    });
    auto r = co_await open_socket(*s, resolver);
    *armed = false;
    watchdog.cancel();
    if (!r) {
      if (clock::now() >= deadline)
        co_return error(intg::errc::timeout, "connecting to " + peer() + " timed out while " + s->stage);
      co_return r;
    }

    inflight_.clear();
    pending_write_.clear();
    unsent_ = 0;
    in_flight_ = 0;
    writer_timer_ = std::make_shared<asio::steady_timer>(ex_, clock::time_point::max());
    asio::co_spawn(ex_, read_loop(shared_from_this(), s), asio::detached);
    asio::co_spawn(ex_, write_loop(shared_from_this(), s, writer_timer_), asio::detached);

    // HELLO 3 [AUTH user pass] [SETNAME name], then SELECT: one write. The request holding the
    // password is wiped, and so is the write buffer it was copied to.
    request hello;
    if (!opts_.password.empty() || !opts_.username.empty()) {
      const std::string_view user = opts_.username.empty() ? std::string_view("default") : opts_.username;
      if (opts_.client_name.empty()) hello.push("HELLO", 3, "AUTH", user, opts_.password);
      else hello.push("HELLO", 3, "AUTH", user, opts_.password, "SETNAME", opts_.client_name);
    } else if (!opts_.client_name.empty()) {
      hello.push("HELLO", 3, "SETNAME", opts_.client_name);
    } else {
      hello.push("HELLO", 3);
    }
    if (opts_.db != 0) hello.push("SELECT", opts_.db);
    entry e(ex_);
    const auto seq = enqueue(hello, &e, hello.commands(), 0, true);
    hello.wipe();
    auto replies = co_await await_entry(e, seq, deadline, nullptr);
    if (!replies) {
      if (clock::now() >= deadline) co_return error(intg::errc::timeout, "no answer to HELLO from " + peer() + " before the connect timeout");
      co_return replies.error();
    }
    if (auto h = (*replies)[0].check(); !h) {
      const auto code = h.error().provider_code();
      if (code == "WRONGPASS" || code == "NOAUTH" || code == "NOPERM")
        co_return error(intg::errc::unauthorized, "Redis at " + peer() + " refused the credentials of user '" +
                                                      std::string(opts_.username.empty() ? "default" : opts_.username) +
                                                      "': " + std::string(h.error().message()));
      co_return error(intg::errc::config_error, "Redis at " + peer() + " refused HELLO 3 (RESP3 needs Redis 6 or newer): " +
                                                    std::string(h.error().message()));
    }
    if (opts_.db != 0) {
      if (auto sel = (*replies)[1].check(); !sel)
        co_return error(intg::errc::config_error, "Redis at " + peer() + " refused SELECT " + std::to_string(opts_.db) +
                                                      ": " + std::string(sel.error().message()));
    }
    state_ = state::open;  // subscriptions are restored as ordinary requests
    for (bool pattern : {false, true}) {
      const auto& set = pattern ? patterns_ : channels_;
      if (set.empty()) continue;
      request sub;
      sub.push(pattern ? "PSUBSCRIBE" : "SUBSCRIBE", set);
      entry se(ex_);
      const auto sseq = enqueue(sub, &se, 0, set.size(), false);
      if (auto sr = co_await await_entry(se, sseq, deadline, nullptr); !sr) co_return sr.error();
    }
    co_return result<void>{};
  }

  asio::awaitable<result<void>> open_socket(session& s, asio::ip::tcp::resolver& resolver) {
    using tuple_token = asio::as_tuple_t<asio::use_awaitable_t<>>;
    const tuple_token token{};
    if (!opts_.unix_socket.empty()) {
      s.local.emplace(ex_);
      auto [ec] = co_await s.local->async_connect(asio::local::stream_protocol::endpoint(opts_.unix_socket), token);
      if (ec) co_return error(ec, "cannot connect to Redis at " + opts_.unix_socket + ": " + ec.message());
      co_return result<void>{};
    }
    auto [rec, endpoints] = co_await resolver.async_resolve(opts_.host, std::to_string(opts_.port), token);
    if (rec) co_return error(rec, "cannot resolve " + opts_.host + ": " + rec.message());
    s.stage = "connecting";
    asio::ip::tcp::socket* sock = nullptr;
    if (opts_.tls) {
      if (!tls_ctx_) {
        auto ctx = http::make_client_tls_context(opts_.tls_options);
        if (!ctx) co_return ctx.error();
        tls_ctx_ = std::move(*ctx);
      }
      s.tls.emplace(ex_, *tls_ctx_);
      sock = &s.tls->next_layer();
    } else {
      s.tcp.emplace(ex_);
      sock = &*s.tcp;
    }
    auto [cec, ep] = co_await asio::async_connect(*sock, endpoints, token);
    if (cec) co_return error(cec, "cannot connect to Redis at " + peer() + ": " + cec.message());
    boost::system::error_code ignored;
    sock->set_option(asio::ip::tcp::no_delay(true), ignored);
    if (opts_.tls) {
      const std::string& name = opts_.tls_server_name.empty() ? opts_.host : opts_.tls_server_name;
      if (auto p = http::prepare_client_ssl(s.tls->native_handle(), name, !opts_.tls_options.insecure_skip_verify); !p)
        co_return p.error();
      s.stage = "in the TLS handshake (is the port a TLS port?)";
      auto [hec] = co_await s.tls->async_handshake(asio::ssl::stream_base::client, token);
      if (hec) co_return http::handshake_error(s.tls->native_handle(), hec, peer());
    }
    co_return result<void>{};
  }

  static asio::awaitable<void> write_loop(std::shared_ptr<connection_impl> self, std::shared_ptr<session> s,
                                          std::shared_ptr<asio::steady_timer> signal) {
    std::string writing;
    for (;;) {
      if (self->session_ != s || self->state_ == state::closed) co_return;
      if (self->pending_write_.empty()) {
        signal->expires_at(clock::time_point::max());
        co_await signal->async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      // Everything queued goes in one write; from now on those commands count as sent.
      writing.swap(self->pending_write_);
      for (std::size_t i = 0; i < self->unsent_; ++i) self->inflight_[self->inflight_.size() - 1 - i].sent = true;
      self->unsent_ = 0;
      const bool sensitive = std::exchange(self->sensitive_, false);
      ++self->stats_.writes;
      auto [ec, n] = co_await s->write(asio::buffer(writing), asio::as_tuple(asio::use_awaitable));
      if (sensitive) request_wipe(writing);
      writing.clear();
      if (ec) {
        self->fail_all(error(ec, "write failed: " + ec.message()), s->generation);
        co_return;
      }
    }
  }

  static void request_wipe(std::string& b) noexcept {
    volatile char* p = b.data();
    for (std::size_t i = 0; i < b.size(); ++i) p[i] = 0;
  }

  static asio::awaitable<void> read_loop(std::shared_ptr<connection_impl> self, std::shared_ptr<session> s) {
    for (;;) {
      // Parse every complete value buffered, then read more.
      std::size_t used = 0;
      for (;;) {
        auto r = s->parser.parse(std::string_view(s->rbuf.data() + used, s->rlen - used), s->msg);
        if (!r) {
          self->fail_all(r.error(), s->generation);
          co_return;
        }
        used += *r;
        if (!s->parser.done()) break;
        if (auto d = self->dispatch(*s); !d) {
          self->fail_all(d.error(), s->generation);
          co_return;
        }
        if (self->session_ != s) co_return;
      }
      if (used) {
        std::memmove(s->rbuf.data(), s->rbuf.data() + used, s->rlen - used);
        s->rlen -= used;
      }
      if (s->rbuf.size() - s->rlen < 4096) s->rbuf.resize(std::max(s->rbuf.size() * 2, s->rlen + 16 * 1024));
      auto [ec, n] = co_await s->read_some(asio::buffer(s->rbuf.data() + s->rlen, s->rbuf.size() - s->rlen),
                                           asio::as_tuple(asio::use_awaitable));
      if (self->session_ != s) co_return;
      if (ec) {
        self->fail_all(error(ec, ec == asio::error::eof ? std::string("the server closed the connection") : ec.message()),
                       s->generation);
        co_return;
      }
      s->rlen += n;
    }
  }

  // Hands a complete value to the oldest request, or to the inbox when it is a push.
  result<void> dispatch(session& s) {
    const resp3::value_ref v = s.msg.front();
    if (v.type() == resp3::type::push) {
      on_push(v);
      s.msg.clear();
      return {};
    }
    if (inflight_.empty())
      return make_error(errc::protocol_error, "RESP3 protocol error: a reply arrived with no command waiting for it");
    slot& head = inflight_.front();
    if (head.confirmations) {
      // A subscribe-style command answers with pushes; a reply instead is its error.
      std::optional<error> f;
      if (auto c = v.check(); !c) f = c.error();
      else f = make_error(errc::protocol_error, "RESP3 protocol error: a reply where subscription confirmations were expected");
      complete(head, std::move(f));
      pop_front();
    } else {
      if (head.e) head.e->replies.append(std::move(s.msg));
      if (--head.replies == 0) {
        complete(head, std::nullopt);
        pop_front();
      }
    }
    s.msg.clear();
    return {};
  }

  void on_push(resp3::value_ref v) {
    if (v.size() == 0) return;
    const std::string_view kind = v[0].str();
    if (kind == "subscribe" || kind == "psubscribe" || kind == "ssubscribe" || kind == "unsubscribe" ||
        kind == "punsubscribe" || kind == "sunsubscribe") {
      if (!inflight_.empty() && inflight_.front().confirmations && --inflight_.front().confirmations == 0) {
        complete(inflight_.front(), std::nullopt);
        pop_front();
      }
      return;
    }
    message m;
    m.kind = std::string(kind);
    auto it = v.begin();
    ++it;
    if (kind == "pmessage" && v.size() >= 4) m.pattern = std::string((*it++).str());
    if ((kind == "message" || kind == "pmessage" || kind == "smessage") && it != v.end()) {
      m.channel = std::string((*it++).str());
      if (it != v.end()) m.payload = std::string((*it).str());
    } else if (it != v.end()) {
      m.payload = std::string((*it).str());  // e.g. "invalidate": the first argument (keys are an array)
    }
    ++stats_.messages;
    // Dropping, not blocking: a reader that waited for a slow consumer would hold up every
    // command's reply on this connection, and Redis disconnects subscribers whose output
    // buffer grows past client-output-buffer-limit pubsub.
    if (inbox_.size() >= opts_.max_queued_messages) {
      ++stats_.messages_dropped;
      return;
    }
    inbox_.push_back(std::move(m));
    wake_receiver();
  }

  asio::any_io_executor ex_;
  options opts_;
  state state_ = state::closed;
  std::shared_ptr<session> session_;
  std::uint64_t generation_ = 0;
  std::shared_ptr<asio::ssl::context> tls_ctx_;
  std::shared_ptr<asio::steady_timer> writer_timer_ = std::make_shared<asio::steady_timer>(ex_);

  std::string pending_write_;
  bool sensitive_ = false;
  std::deque<slot> inflight_;
  std::uint64_t front_seq_ = 0;
  std::size_t unsent_ = 0;
  std::size_t in_flight_ = 0;
  std::vector<asio::steady_timer*> capacity_waiters_;
  std::vector<asio::steady_timer*> connect_waiters_;

  int failures_ = 0;
  clock::time_point next_attempt_{};
  std::optional<error> last_failure_;

  std::set<std::string> channels_, patterns_;
  std::deque<message> inbox_;
  asio::steady_timer inbox_timer_;
  bool receiving_ = false;
  bool shut_ = false;
  bool woken_ = false;
  connection_stats stats_;
};

}  // namespace detail

/// A Redis connection. Like an Asio socket it is not thread-safe: use it from one thread (or one
/// strand). Calls may run concurrently on it (they are pipelined); destroying it fails the calls
/// still waiting with errc::cancelled.
class connection {
 public:
  connection(asio::any_io_executor ex, options opts)
      : impl_(std::make_shared<detail::connection_impl>(std::move(ex), std::move(opts))) {}
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection() { impl_->close(); }

  const options& get_options() const noexcept { return impl_->opts(); }
  const asio::any_io_executor& get_executor() const noexcept { return impl_->executor(); }
  connection_stats stats() const noexcept { return impl_->stats(); }
  bool is_open() const noexcept { return impl_->is_open(); }
  /// Commands sent (or queued) and not answered yet.
  std::size_t in_flight() const noexcept { return impl_->in_flight(); }

  /// Sends every command of `req` in one write and returns their replies in order. A command
  /// the server refused is an error *value* in the response (value_ref::check()), so one failure
  /// does not hide the other replies. Errors: timeout/cancelled (nothing sent), outcome_unknown
  /// (sent, no reply in time), connection_lost, unavailable, limit/protocol errors.
  asio::awaitable<result<resp3::response>> execute(const request& req) { return run_checked(req, nullptr); }
  /// As above, inside a pipeline: the attempt's deadline and cancellation apply.
  asio::awaitable<result<resp3::response>> execute(const request& req, attempt& a) { return run_checked(req, &a); }
  /// As above, answered by `deadline` at the latest (or within the command timeout, if sooner).
  asio::awaitable<result<resp3::response>> execute(const request& req, std::chrono::steady_clock::time_point deadline) {
    return run_checked(req, nullptr, deadline);
  }

  /// One command: `co_await conn.execute("SET", key, value)`. The reply of a refused command is
  /// an error (errc::server_error, the server's text as message, its first word as provider_code()).
  template <class... Args>
  asio::awaitable<result<resp3::response>> execute(std::string_view command, const Args&... args) {
    return run_one(request(command, args...));  // encoded now: the arguments need not outlive the call
  }

  /// SUBSCRIBE / PSUBSCRIBE: completes once the server confirmed every name. Subscriptions are
  /// restored when the connection is opened again; messages arrive through receive().
  asio::awaitable<result<void>> subscribe(const std::vector<std::string>& channels) {
    return impl_->subscribe(channels, false, true, nullptr);
  }
  asio::awaitable<result<void>> psubscribe(const std::vector<std::string>& patterns) {
    return impl_->subscribe(patterns, true, true, nullptr);
  }
  asio::awaitable<result<void>> unsubscribe(const std::vector<std::string>& channels) {
    return impl_->subscribe(channels, false, false, nullptr);
  }
  asio::awaitable<result<void>> punsubscribe(const std::vector<std::string>& patterns) {
    return impl_->subscribe(patterns, true, false, nullptr);
  }

  /// The next pub/sub message (at most once: messages published while the connection is down,
  /// or beyond options::max_queued_messages waiting, are lost; stats().messages_dropped counts
  /// the latter). When the connection was lost with subscriptions, this reconnects (waiting out
  /// the backoff) and restores them. errc::timeout after `timeout`; errc::cancelled on close.
  asio::awaitable<result<message>> receive(std::chrono::steady_clock::duration timeout = std::chrono::steady_clock::duration::max()) {
    return impl_->receive(timeout);
  }

 private:
  asio::awaitable<result<resp3::response>> run_checked(const request& req, attempt* a,
                                                       std::chrono::steady_clock::time_point not_after =
                                                           std::chrono::steady_clock::time_point::max()) {
    if (req.has_pubsub())
      co_return error(intg::errc::invalid_argument, "SUBSCRIBE-style commands go through subscribe()/psubscribe()");
    if (req.empty()) co_return resp3::response{};
    auto impl = impl_;
    co_return co_await impl->run(req, 0, a, not_after);
  }
  asio::awaitable<result<resp3::response>> run_one(request req) {
    auto r = co_await run_checked(req, nullptr);
    if (!r) co_return r;
    if (auto c = r->front().check(); !c) co_return c.error();
    co_return r;
  }

  std::shared_ptr<detail::connection_impl> impl_;
};

}  // namespace intg::redis
