// intg::shared::redis_link: the Redis connection behind shared policy state. A redis::connection
// belongs to one thread; policies run on any. So the link keeps its connection on an executor of
// its own (a thread it starts, or one you give it) and callers hop onto it for the rare commands
// they need (a lease, a probe) and back. A small breaker in front of it fails commands at once
// after consecutive failures, so that a dead Redis costs each caller nothing past one timeout.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/redis/connection.hpp>
#include <intg/redis/options.hpp>
#include <intg/redis/script.hpp>
#include <intg/security/crypto/hash.hpp>

#include <boost/json/object.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace intg::shared {

namespace asio = boost::asio;

/// The link's breaker.
struct link_options {
  int failure_threshold = 3;                  ///< consecutive failures (not error replies) that open it
  std::chrono::milliseconds open_for{500};    ///< how long an open breaker fails commands at once
};

/// Counters of a link (read from any thread).
struct link_stats {
  std::uint64_t commands = 0;       ///< scripts sent to Redis
  std::uint64_t failures = 0;       ///< of which failed (timeout, connection, error reply)
  std::uint64_t short_circuited = 0; ///< refused at once by the open breaker
};

class redis_link {
 public:
  /// A link on a thread of its own (started now, joined when the link goes).
  explicit redis_link(redis::options o, link_options l = {}) : opts_(std::move(o)), lopts_(l) {
    ctx_ = std::make_shared<asio::io_context>(1);
    ex_ = ctx_->get_executor();
    work_ = std::make_unique<work_guard>(ctx_->get_executor());
    conn_ = std::make_unique<redis::connection>(ex_, opts_);
    // The thread shares the context, so that a link released on its own thread (the last user
    // of a policy was a coroutine there) leaves the context to the thread until run() returns.
    thread_ = std::thread([ctx = ctx_] {
#if defined(__linux__)
      pthread_setname_np(pthread_self(), "intg-redis");
#endif
      ctx->run();
    });
  }

  /// A link on `ex`, which must run one handler at a time (a strand, or an io_context run by one
  /// thread) and whose context must outlive the link.
  redis_link(asio::any_io_executor ex, redis::options o, link_options l = {})
      : opts_(std::move(o)), lopts_(l), ex_(std::move(ex)), conn_(std::make_unique<redis::connection>(ex_, opts_)) {}

  redis_link(const redis_link&) = delete;
  redis_link& operator=(const redis_link&) = delete;

  ~redis_link() {
    if (!thread_.joinable()) {
      // The connection must go on its executor; pending handlers are destroyed with its context.
      asio::post(ex_, [c = std::move(conn_)]() mutable { c.reset(); });
      return;
    }
    if (thread_.get_id() == std::this_thread::get_id()) {
      conn_.reset();
      ctx_->stop();
      work_.reset();
      thread_.detach();  // run() returns once this handler ends; the thread then frees the context
      return;
    }
    asio::post(ex_, [c = std::move(conn_), ctx = ctx_.get()]() mutable {
      c.reset();
      ctx->stop();
    });
    work_.reset();
    thread_.join();
  }

  /// The process-wide link for these options: one per endpoint, user, password and timeouts,
  /// on a thread of its own, kept while some policy holds it.
  static std::shared_ptr<redis_link> for_options(const redis::options& o, link_options l = {}) {
    static std::mutex m;
    static std::map<std::string, std::weak_ptr<redis_link>> links;
    const std::string id = identity(o, l);
    std::lock_guard lock(m);
    std::erase_if(links, [](const auto& e) { return e.second.expired(); });
    if (auto it = links.find(id); it != links.end())
      if (auto link = it->second.lock()) return link;
    auto link = std::make_shared<redis_link>(o, l);
    links[id] = link;
    return link;
  }

  const asio::any_io_executor& executor() const noexcept { return ex_; }
  /// The connection, for what scripts cannot do (pub/sub): use it on executor() only. It lives as
  /// long as the link, and is destroyed on executor().
  redis::connection& connection() noexcept { return *conn_; }
  const redis::options& options() const noexcept { return opts_; }
  /// "host:port" or the unix socket's path: for status pages (never credentials).
  std::string endpoint() const {
    return opts_.unix_socket.empty() ? opts_.host + ":" + std::to_string(opts_.port) : opts_.unix_socket;
  }
  link_stats stats() const noexcept {
    return {commands_.load(std::memory_order_relaxed), failures_.load(std::memory_order_relaxed),
            short_circuited_.load(std::memory_order_relaxed)};
  }

  /// Runs a script (EVALSHA, EVAL on NOSCRIPT) through the breaker. Only on executor(); pass
  /// named vectors that outlive the call. A call waits at most the connection's command_timeout,
  /// and not past `deadline`; the open breaker answers errc::circuit_open at once.
  asio::awaitable<result<redis::resp3::response>> eval(const redis::script& s, const std::vector<std::string>& keys,
                                                       const std::vector<std::string>& args,
                                                       std::chrono::steady_clock::time_point deadline =
                                                           std::chrono::steady_clock::time_point::max()) {
    const auto now = std::chrono::steady_clock::now();
    if (now < open_until_) {
      short_circuited_.fetch_add(1, std::memory_order_relaxed);
      co_return error(intg::errc::circuit_open, "Redis at " + endpoint() + " failed " + std::to_string(consecutive_) +
                                                    " times in a row: not asked again before the breaker's pause ends");
    }
    commands_.fetch_add(1, std::memory_order_relaxed);
    deadline = std::min(deadline, now + opts_.command_timeout);  // EVALSHA and EVAL together
    auto r = co_await redis::eval(*conn_, s, keys, args, deadline);
    if (r) {
      consecutive_ = 0;
    } else {
      failures_.fetch_add(1, std::memory_order_relaxed);
      // An error reply is the script's business (a key of another type): Redis is there.
      if (r.error() != redis::errc::server_error && ++consecutive_ >= lopts_.failure_threshold)
        open_until_ = std::chrono::steady_clock::now() + lopts_.open_for;
    }
    co_return r;
  }

 private:
  using work_guard = asio::executor_work_guard<asio::io_context::executor_type>;

  static std::string identity(const redis::options& o, const link_options& l) {
    std::string id = o.host + '\n' + std::to_string(o.port) + '\n' + o.unix_socket + '\n' + o.username + '\n' +
                     std::to_string(o.db) + '\n' + (o.tls ? "tls" : "tcp") + '\n' + o.tls_server_name + '\n' +
                     o.tls_options.ca_file + '\n' + o.client_name + '\n' + std::to_string(o.connect_timeout.count()) + '\n' +
                     std::to_string(o.command_timeout.count()) + '\n' + std::to_string(l.failure_threshold) + '\n' +
                     std::to_string(l.open_for.count()) + '\n';
    // The password only as a digest: the map outlives the options and is never wiped.
    for (auto b : crypto::sha256(o.password.reveal())) id += static_cast<char>(b);
    return id;
  }

  redis::options opts_;
  link_options lopts_;
  std::shared_ptr<asio::io_context> ctx_;  // with thread_, which holds it too
  asio::any_io_executor ex_;
  std::unique_ptr<work_guard> work_;
  std::unique_ptr<redis::connection> conn_;
  std::thread thread_;
  // On executor() only:
  int consecutive_ = 0;
  std::chrono::steady_clock::time_point open_until_{};
  std::atomic<std::uint64_t> commands_{0}, failures_{0}, short_circuited_{0};
};

}  // namespace intg::shared

namespace intg::detail {

// "%" and ":" escaped in a key component, so that ("a:b", "c") and ("a", "b:c") differ.
inline std::string key_component(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '%') out += "%25";
    else if (c == ':') out += "%3A";
    else out += c;
  }
  return out;
}

}  // namespace intg::detail

namespace intg::shared {

namespace detail {

/// One request to Redis at a time for a policy, on the link's executor: callers that find one in
/// flight wait for it to end (or for their deadline) and then look at what it brought, instead of
/// sending their own.
class single_flight {
 public:
  bool busy() const noexcept { return busy_; }
  void begin() noexcept { busy_ = true; }
  /// Ends the request and wakes the callers waiting for it.
  void end() {
    busy_ = false;
    for (auto* w : waiters_) w->cancel();
  }
  /// Waits until the request in flight ends, or until `deadline`.
  asio::awaitable<void> join(const asio::any_io_executor& ex, std::chrono::steady_clock::time_point deadline) {
    asio::steady_timer w(ex, deadline);
    waiters_.push_back(&w);
    co_await w.async_wait(asio::as_tuple(asio::use_awaitable));
    std::erase(waiters_, &w);
  }

 private:
  bool busy_ = false;
  std::vector<asio::steady_timer*> waiters_;
};

}  // namespace detail

/// The process-wide link for a shared policy's `redis` settings in an integration's configuration
/// (`section` names the policy's section, e.g. "rate_limits", in errors). A policy decision must
/// not hang on Redis: a command and a connection attempt get 100 ms and 500 ms unless the settings
/// say otherwise, and reconnecting backs off from 50 ms to at most `probe_interval` (and 1 s).
/// Throws intg::exception (config_error, with the setting's JSON path) for bad settings.
inline std::shared_ptr<redis_link> link_for_settings(const boost::json::object& settings, std::string_view section,
                                                     std::string_view integration, std::chrono::milliseconds probe_interval) {
  auto r = redis::options::from_json(settings);
  if (!r) {
    error e = r.error();
    std::string path(e.json_path());
    if (path.starts_with("$.settings")) path = std::string(section) + ".shared.redis" + path.substr(10);
    throw exception(error{intg::errc::config_error, "integration '" + std::string(integration) + "': " + std::string(e.message())}
                        .with_json_path(path));
  }
  redis::options ro = std::move(*r);
  if (!settings.contains("command_timeout_ms")) ro.command_timeout = std::chrono::milliseconds(100);
  if (!settings.contains("connect_timeout_ms")) ro.connect_timeout = std::chrono::milliseconds(500);
  if (ro.client_name.empty()) ro.client_name = "intg-shared";
  ro.reconnect_backoff = std::chrono::milliseconds(50);
  ro.max_reconnect_backoff = std::min<std::chrono::milliseconds>(std::chrono::milliseconds(1'000), probe_interval);
  return redis_link::for_options(ro);
}

}  // namespace intg::shared
