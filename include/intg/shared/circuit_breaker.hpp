// intg::shared_circuit_breaker: a circuit breaker whose open state is shared by the replicas of a
// service through Redis. Each replica counts its own calls (an intg::circuit_breaker does, with the
// same options); when one trips, it records the opening in Redis (shared/breaker_script.hpp) and
// Redis announces it on a pub/sub channel, so every replica rejects from then on. Once the
// recovery time has passed, half-open probes are reserved in Redis, so a recovering dependency
// sees at most `half_open_max_calls` probes per recovery period across all replicas, not that many
// per replica; enough successful probes close it everywhere. While Redis is unavailable, each
// replica's breaker decides alone (it still trips and probes, locally), and the replica asks Redis
// again every `probe_interval`. Without a link it is an intg::circuit_breaker.
//
// Times of the shared state follow std::chrono::steady_clock (pub/sub events arrive outside any
// call), not a pipeline's own clock.
#pragma once

#include <intg/core/integration_config.hpp>
#include <intg/policy/circuit_breaker.hpp>
#include <intg/policy/layer.hpp>
#include <intg/redis/options.hpp>
#include <intg/shared/breaker_script.hpp>
#include <intg/shared/rate_limiter.hpp>
#include <intg/shared/redis_link.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace intg {

/// Counters of a shared breaker (this process's view).
struct shared_breaker_stats {
  std::uint64_t trips_sent = 0;       ///< openings this replica recorded in Redis
  std::uint64_t opens_learned = 0;    ///< openings learned from Redis (another replica's trip)
  std::uint64_t probes_reserved = 0;  ///< half-open probes Redis granted this replica
  std::uint64_t probes_refused = 0;   ///< probe requests Redis refused (the round's probes were taken)
  std::uint64_t round_trips = 0;      ///< scripts sent to Redis
  std::uint64_t failures = 0;         ///< scripts that failed (Redis unavailable, slow, broken reply)
  std::uint64_t fallbacks = 0;        ///< times this breaker went over to deciding alone
  std::uint64_t recoveries = 0;       ///< times it came back to Redis
  bool in_fallback = false;
};

namespace shared::detail {

// Receives a breaker's announcements (on the link's executor).
struct breaker_listener {
  virtual void on_event(bool open, std::int64_t gen) = 0;
  virtual ~breaker_listener() = default;
};

// The subscription of one process to one link's announcement channel, shared by every breaker on
// that link and channel. Its loop (on the link's executor) runs while some breaker holds the hub.
class breaker_hub : public std::enable_shared_from_this<breaker_hub> {
 public:
  breaker_hub(std::shared_ptr<redis_link> link, std::string channel) : link_(std::move(link)), channel_(std::move(channel)) {}

  static std::shared_ptr<breaker_hub> for_channel(const std::shared_ptr<redis_link>& link, const std::string& channel) {
    static std::mutex m;
    static std::map<std::pair<const redis_link*, std::string>, std::weak_ptr<breaker_hub>> hubs;
    std::lock_guard lock(m);
    std::erase_if(hubs, [](const auto& e) { return e.second.expired(); });
    const auto id = std::make_pair(link.get(), channel);
    if (auto it = hubs.find(id); it != hubs.end())
      if (auto hub = it->second.lock()) return hub;
    auto hub = std::make_shared<breaker_hub>(link, channel);
    hubs[id] = hub;
    asio::co_spawn(link->executor(), listen(hub, link->connection(), channel), asio::detached);
    return hub;
  }

  void add(const std::string& key, std::weak_ptr<breaker_listener> l) {
    std::lock_guard lock(m_);
    std::erase_if(listeners_, [](const auto& e) { return e.second.expired(); });
    listeners_.emplace(key, std::move(l));
  }

  /// True once the channel is subscribed (events published before that are not seen).
  bool subscribed() const noexcept { return subscribed_.load(std::memory_order_acquire); }

 private:
  void dispatch(const breaker_event& e) {
    std::vector<std::shared_ptr<breaker_listener>> targets;
    {
      std::lock_guard lock(m_);
      auto [first, last] = listeners_.equal_range(std::string(e.key));
      for (auto it = first; it != last; ++it)
        if (auto l = it->second.lock()) targets.push_back(std::move(l));
    }
    for (auto& l : targets) l->on_event(e.open, e.gen);
  }

  // Subscribes and hands every announcement to the breakers of its key, until the hub is gone.
  // The connection restores the subscription after a reconnection; announcements published while
  // it was down are lost, which costs only speed: a replica that missed an opening learns it from
  // its next trip or probe request, one that missed a closing from its next probe request.
  //
  // Runs on the link's executor and holds no reference to the hub or the link while it waits, so
  // that both can go: the hub holds the link, so while the hub lives the connection does, and the
  // link destroys the connection on this executor, never while this loop runs. Hence the rule: after
  // every wait, first check the hub.
  static asio::awaitable<void> listen(std::weak_ptr<breaker_hub> w, redis::connection& conn, std::string channel) {
    const std::vector<std::string> channels{channel};
    const auto ex = co_await asio::this_coro::executor;
    for (;;) {
      auto r = co_await conn.subscribe(channels);
      if (w.expired()) co_return;
      if (r) break;
      asio::steady_timer t(ex, std::chrono::milliseconds(100));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      if (w.expired()) co_return;
    }
    if (auto hub = w.lock()) hub->subscribed_.store(true, std::memory_order_release);
    for (;;) {
      auto m = co_await conn.receive(std::chrono::milliseconds(500));
      if (w.expired()) co_return;
      if (!m) {
        if (m.error() == intg::errc::timeout) continue;
        asio::steady_timer t(ex, std::chrono::milliseconds(50));  // lost: receive() reconnects
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        if (w.expired()) co_return;
        continue;
      }
      if (m->channel != channel) continue;
      if (auto e = parse_breaker_event(m->payload))
        if (auto hub = w.lock()) hub->dispatch(*e);
    }
  }

  std::shared_ptr<redis_link> link_;
  std::string channel_;
  std::mutex m_;
  std::multimap<std::string, std::weak_ptr<breaker_listener>> listeners_;
  std::atomic<bool> subscribed_{false};
};

}  // namespace shared::detail

/// The `shared` member of a `circuit_breaker` section, read by intg::shared_circuit_breaker.
template <class Tag = void>
class shared_circuit_breaker {
 public:
  using local_breaker = circuit_breaker<Tag>;

  struct options : local_breaker::options {
    std::shared_ptr<shared::redis_link> link{};  ///< null: not shared (an intg::circuit_breaker)
    std::string key{};                           ///< the breaker's Redis hash, e.g. "intg:cb:spotify:tenant_123"
    std::string channel = "intg:cb:events";      ///< where openings and closings are announced
    std::chrono::nanoseconds probe_interval = std::chrono::seconds(1);  ///< while deciding alone: how often to ask Redis again
  };

  struct ticket {
    typename local_breaker::ticket local{};
    std::int64_t probe_gen = -1;  ///< >= 0: this call holds a shared probe of that generation
  };

  /// Options from an integration's `circuit_breaker` section; with its `shared` member, the Redis
  /// connection is the process-wide link for those settings and the key is key_prefix +
  /// integration + ":" + tenant. Throws intg::exception (config_error) for bad Redis settings.
  static options options_from_config(const integration_config& c) {
    options o;
    static_cast<typename local_breaker::options&>(o) = local_breaker::options_from_config(c);
    if (!c.circuit_breaker.shared) return o;
    const shared_breaker_settings& s = *c.circuit_breaker.shared;
    o.link = shared::link_for_settings(s.redis, "circuit_breaker", c.name, s.probe_interval);
    o.key = s.key_prefix + detail::key_component(c.name) + ":" + detail::key_component(c.tenant);
    o.channel = s.key_prefix + "events";
    o.probe_interval = s.probe_interval;
    return o;
  }

  shared_circuit_breaker() : shared_circuit_breaker(options{}) {}
  explicit shared_circuit_breaker(options o) : s_(std::make_shared<impl>(std::move(o))) {
    s_->self = s_;
    if (s_->opts.link) {
      s_->hub = shared::detail::breaker_hub::for_channel(s_->opts.link, s_->opts.channel);
      s_->hub->add(s_->opts.key, std::weak_ptr<shared::detail::breaker_listener>(s_));
      // What the cluster knows already (a replica that starts while the breaker is open).
      s_->send(shared::breaker_op::read, -1);
    }
  }

  const options& get_options() const noexcept { return s_->opts; }
  bool is_shared() const noexcept { return s_->opts.link != nullptr; }
  shared_breaker_stats stats() const noexcept { return s_->snapshot(); }
  /// True once this replica listens to announcements (for tests; calls do not wait for it).
  bool listening() const noexcept { return !s_->hub || s_->hub->subscribed(); }

  /// While the cluster is open as far as this replica knows: open, then half_open once the
  /// recovery time has passed; otherwise the local breaker's state.
  breaker_state state() const noexcept {
    const std::int64_t until = s_->open_until.load(std::memory_order_acquire);
    if (until != 0) return steady_now() < until ? breaker_state::open : breaker_state::half_open;
    return s_->local.state();
  }
  /// Failures counted by this replica in its current window.
  int failures() const noexcept { return s_->local.failures(); }

  void describe(boost::json::object& out, time_point) const {
    boost::json::object o{{"state", to_string(state())}, {"failures", failures()}};
    if (s_->opts.link)
      o["shared"] = {{"redis", s_->opts.link->endpoint()},
                     {"key", s_->opts.key},
                     {"generation", s_->gen.load(std::memory_order_relaxed)},
                     {"mode", s_->fallback.load(std::memory_order_relaxed) ? "fallback" : "shared"}};
    out["circuit_breaker"] = std::move(o);
  }

  error rejection(const gate& g) const noexcept {
    if (s_->open_until.load(std::memory_order_acquire) != 0)
      if (auto cause = s_->open_reason.load(std::memory_order_acquire)) {
        error e = *cause;
        if (g.ticks > 0) e.with_retry_after(std::chrono::ceil<std::chrono::milliseconds>(g.retry_after()));
        return e;
      }
    return s_->local.rejection(g);
  }

  gate admit(attempt& a, ticket& t) noexcept {
    impl& s = *s_;
    t.probe_gen = -1;
    const std::int64_t until = s.open_until.load(std::memory_order_acquire);
    if (until == 0) return s.local.admit(a, t.local);  // closed as far as the cluster is concerned
    const std::int64_t now = steady_now();
    if (now < until) return gate::reject(errc::circuit_open, duration(until - now));
    if (s.fallback.load(std::memory_order_acquire)) return s.local.admit(a, t.local);
    // The recovery time has passed: one caller at a time asks Redis for a probe; the others are
    // refused, as a half-open breaker refuses calls beyond its probes.
    if (s.asking.exchange(true, std::memory_order_acq_rel))
      return gate::reject(errc::circuit_open, std::chrono::duration_cast<duration>(s.opts.recovery_timeout));
    return gate::wait_until(a.approximate_start());
  }

  template <clock Clock>
  asio::awaitable<error> wait(attempt& a, ticket& t, const gate&, const Clock&, const asio::any_io_executor&) {
    return ask_for_probe(s_, a, t);
  }

  void complete(attempt& a, ticket& t, const error* e) noexcept {
    impl& s = *s_;
    if (t.probe_gen >= 0) {
      const bool ignored = e && !s.opts.is_failure(*e);
      if (ignored) s.send(shared::breaker_op::release, t.probe_gen);
      else if (e) s.probe_failed(t.probe_gen, *e);
      else s.send(shared::breaker_op::success, t.probe_gen);
      return;
    }
    s.local.complete(a, t.local, e);
    // This replica's count tripped its breaker: record the opening for the others.
    if (s.opts.link && !s.fallback.load(std::memory_order_acquire) && s.local.state() == breaker_state::open &&
        s.open_until.load(std::memory_order_acquire) == 0)
      s.tripped(e);
  }

 private:
  static std::int64_t steady_now() noexcept { return std::chrono::steady_clock::now().time_since_epoch().count(); }

  struct impl final : shared::detail::breaker_listener {
    explicit impl(options o) : opts(std::move(o)), local(local_options(opts)) {
      if (opts.link && opts.key.empty())
        throw exception(error{errc::invalid_argument, "shared circuit breaker: a shared breaker needs a key"});
      if (opts.probe_interval.count() <= 0)
        throw exception(error{errc::invalid_argument, "shared circuit breaker: probe_interval must be greater than 0"});
    }

    static typename local_breaker::options local_options(const options& o) { return o; }

    options opts;
    local_breaker local;  // counts this replica's calls; decides alone in fallback
    std::weak_ptr<impl> self;
    std::shared_ptr<shared::detail::breaker_hub> hub;
    // steady_clock ns until which the cluster is open as this replica knows it; 0: not open.
    std::atomic<std::int64_t> open_until{0};
    std::atomic<std::int64_t> gen{0};  // the newest generation seen
    std::atomic<std::shared_ptr<const error>> open_reason{};
    std::atomic<bool> fallback{false};
    std::atomic<bool> asking{false};  // a probe request of this replica is on its way
    std::atomic<std::uint64_t> trips_sent{0}, opens_learned{0}, probes_reserved{0}, probes_refused{0}, round_trips{0},
        failures{0}, fallbacks{0}, recoveries{0};

    shared_breaker_stats snapshot() const noexcept {
      auto ld = [](const std::atomic<std::uint64_t>& x) { return x.load(std::memory_order_relaxed); };
      return {ld(trips_sent), ld(opens_learned),          ld(probes_reserved), ld(probes_refused), ld(round_trips),
              ld(failures),   ld(fallbacks),              ld(recoveries),      fallback.load(std::memory_order_relaxed)};
    }

    std::chrono::microseconds recovery_us() const noexcept {
      return std::chrono::ceil<std::chrono::microseconds>(opts.recovery_timeout);
    }

    void set_reason(std::string why) noexcept {
      try {
        open_reason.store(std::make_shared<const error>(errc::circuit_open, "opened by " + std::move(why)), std::memory_order_release);
      } catch (...) {
        open_reason.store(nullptr, std::memory_order_release);  // out of memory: the plain circuit_open error
      }
    }

    // The cluster is open (generation g) for `left` more.
    void adopt_open(std::int64_t g, std::chrono::nanoseconds left, std::string why, bool learned) noexcept {
      std::int64_t seen = gen.load(std::memory_order_acquire);
      while (g > seen && !gen.compare_exchange_weak(seen, g, std::memory_order_acq_rel)) {
      }
      if (g < seen) return;  // an older opening
      if (!why.empty()) set_reason(std::move(why));
      const std::int64_t until = std::max<std::int64_t>(1, steady_now() + left.count());
      const std::int64_t before = open_until.exchange(until, std::memory_order_acq_rel);
      if (learned && before == 0) opens_learned.fetch_add(1, std::memory_order_relaxed);
    }

    // The cluster closed (generation g): this replica's window starts again.
    void adopt_closed(std::int64_t g) noexcept {
      std::int64_t seen = gen.load(std::memory_order_acquire);
      while (g > seen && !gen.compare_exchange_weak(seen, g, std::memory_order_acq_rel)) {
      }
      if (g < seen) return;  // an older closing: an opening came after it
      if (open_until.exchange(0, std::memory_order_acq_rel) != 0 || local.state() != breaker_state::closed) local.reset();
      open_reason.store(nullptr, std::memory_order_release);
    }

    void adopt(const shared::breaker_reply& r, bool learned) noexcept {
      using kind = shared::breaker_reply::kind;
      if (r.state == kind::closed) adopt_closed(r.gen);
      else if (r.state == kind::open || r.state == kind::half_open)
        adopt_open(r.gen, std::max<std::chrono::nanoseconds>(r.remaining, std::chrono::milliseconds(1)), r.reason, learned);
    }

    void on_event(bool is_open, std::int64_t g) override {
      if (is_open) {
        if (g > gen.load(std::memory_order_acquire) || open_until.load(std::memory_order_acquire) == 0)
          adopt_open(g, opts.recovery_timeout, "another replica", true);
      } else {
        adopt_closed(g);
      }
    }

    // `e` is the failure that tripped it; without one, `why` says what did.
    void tripped(const error* e, std::string_view why_else = "slow calls") noexcept {
      std::int64_t expected = 0;
      const std::int64_t until = steady_now() + std::chrono::duration_cast<duration>(opts.recovery_timeout).count();
      if (!open_until.compare_exchange_strong(expected, std::max<std::int64_t>(1, until), std::memory_order_acq_rel)) return;
      std::string why;
      try {
        why = e ? e->to_string() : std::string(why_else);
        if (why.size() > 512) why.resize(512);
      } catch (...) {
      }
      set_reason(why);
      trips_sent.fetch_add(1, std::memory_order_relaxed);
      send(shared::breaker_op::trip, gen.load(std::memory_order_acquire), std::move(why));
    }

    void probe_failed(std::int64_t g, const error& e) noexcept {
      std::string why;
      try {
        why = "a failed probe: " + e.to_string();
        if (why.size() > 512) why.resize(512);
      } catch (...) {
      }
      const std::int64_t until = steady_now() + std::chrono::duration_cast<duration>(opts.recovery_timeout).count();
      open_until.store(std::max<std::int64_t>(1, until), std::memory_order_release);
      set_reason(why);
      send(shared::breaker_op::failure, g, std::move(why));
    }

    // Runs `op` on the link without waiting for it; adopts the answer.
    void send(shared::breaker_op op, std::int64_t g, std::string why = {}) noexcept {
      try {
        asio::co_spawn(opts.link->executor(), run(self, op, g, std::move(why)), asio::detached);
      } catch (...) {
        failures.fetch_add(1, std::memory_order_relaxed);  // out of memory: the next trip or probe tries again
      }
    }

    static asio::awaitable<void> run(std::weak_ptr<impl> w, shared::breaker_op op, std::int64_t g, std::string why) {
      auto s = w.lock();
      if (!s) co_return;
      auto r = co_await s->script(op, g, why);
      if (r) s->adopt(*r, op == shared::breaker_op::read);
    }

    // One script on the link (only on its executor); a failure moves this replica to deciding alone.
    // `why` must outlive the call (the coroutine starts later, on the link's executor).
    asio::awaitable<result<shared::breaker_reply>> script(shared::breaker_op op, std::int64_t g, std::string_view why) {
      round_trips.fetch_add(1, std::memory_order_relaxed);
      const std::vector<std::string> keys{opts.key};
      const std::vector<std::string> args =
          shared::breaker_args(op, recovery_us(), opts.half_open_max_calls, std::max<std::int64_t>(g, 0), why, opts.channel);
      auto r = co_await opts.link->eval(shared::breaker_script(), keys, args);
      result<shared::breaker_reply> reply = r ? shared::parse_breaker_reply(*r) : result<shared::breaker_reply>(r.error());
      if (!reply) enter_fallback();
      co_return reply;
    }

    void enter_fallback() {
      failures.fetch_add(1, std::memory_order_relaxed);
      if (fallback.exchange(true, std::memory_order_acq_rel)) return;
      fallbacks.fetch_add(1, std::memory_order_relaxed);
      asio::co_spawn(opts.link->executor(), probe_redis(self, opts.link->executor(), opts.probe_interval), asio::detached);
    }

    // While deciding alone: asks Redis every probe_interval until it answers, then takes the
    // cluster's state, or tells the cluster of an opening this replica saw alone.
    static asio::awaitable<void> probe_redis(std::weak_ptr<impl> w, asio::any_io_executor ex, std::chrono::nanoseconds every) {
      for (;;) {
        asio::steady_timer t(ex, every);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        auto s = w.lock();
        if (!s) co_return;
        s->round_trips.fetch_add(1, std::memory_order_relaxed);
        const std::vector<std::string> keys{s->opts.key};
        const std::vector<std::string> args =
            shared::breaker_args(shared::breaker_op::read, s->recovery_us(), s->opts.half_open_max_calls, 0, {}, s->opts.channel);
        auto r = co_await s->opts.link->eval(shared::breaker_script(), keys, args);
        auto reply = r ? shared::parse_breaker_reply(*r) : result<shared::breaker_reply>(r.error());
        if (!reply) {
          s->failures.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        s->fallback.store(false, std::memory_order_release);
        s->recoveries.fetch_add(1, std::memory_order_relaxed);
        const bool alone_open = s->local.state() == breaker_state::open || s->local.state() == breaker_state::half_open;
        if (reply->state == shared::breaker_reply::kind::closed && alone_open) {
          s->open_until.store(0, std::memory_order_release);
          s->tripped(nullptr, "failures counted while Redis was unavailable");  // the others learn of it
        } else {
          s->adopt(*reply, true);
        }
        co_return;
      }
    }
  };

  // The caller's side of a probe request: hops onto the link and back (ignoring the caller's
  // cancellation: the hop ends within the Redis command timeout), then follows the answer.
  static asio::awaitable<error> ask_for_probe(std::shared_ptr<impl> sp, attempt& a, ticket& t) {
    impl& s = *sp;
    struct done_asking {
      impl& s;
      ~done_asking() { s.asking.store(false, std::memory_order_release); }
    } guard{s};
    const std::int64_t g = s.gen.load(std::memory_order_acquire);
    auto r = co_await asio::co_spawn(s.opts.link->executor(), s.script(shared::breaker_op::probe, g, std::string_view()),
                                     asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
    using kind = shared::breaker_reply::kind;
    if (r && r->state == kind::probe) {
      s.probes_reserved.fetch_add(1, std::memory_order_relaxed);
      t.probe_gen = r->gen;
      co_return error{};
    }
    if (r) {
      if (r->state != kind::closed) s.probes_refused.fetch_add(1, std::memory_order_relaxed);
      s.adopt(*r, false);
    }
    // Closed in the cluster (adopted above: the local breaker was reset), or Redis unavailable:
    // the local breaker decides, from its own count while deciding alone (an opening learned from
    // another replica has run its recovery time by now).
    if (!r || r->state == kind::closed) {
      s.open_until.store(0, std::memory_order_release);
      const gate lg = s.local.admit(a, t.local);
      if (lg.decision == gate::verdict::proceed) co_return error{};
      co_return s.local.rejection(lg);
    }
    const std::int64_t left = std::max<std::int64_t>(0, s.open_until.load(std::memory_order_acquire) - steady_now());
    error e = gate::reject(errc::circuit_open, duration(left)).to_error();
    if (auto cause = s.open_reason.load(std::memory_order_acquire)) {
      e = *cause;
      e.with_retry_after(std::chrono::ceil<std::chrono::milliseconds>(duration(left)));
    }
    co_return e;
  }

  std::shared_ptr<impl> s_;
};

}  // namespace intg
