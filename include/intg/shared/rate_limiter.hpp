// intg::shared_rate_limiter: a rate limit counted across replicas on Redis. The decision is GCRA in
// one Lua script on Redis's clock (shared/gcra.hpp); to keep the hot path local, a replica leases a
// small batch of permits and spends it with one compare-and-swap per call. A lease holds at most
// `lease_fraction` of one window's requests divided by the replicas, so the combined rate stays
// within that fraction of the limit over any window. While Redis is unavailable, each replica
// limits alone at `fallback_share` of the limit and asks Redis again every `probe_interval`.
// Without a `shared` section in its options it is a local limiter, like intg::rate_limiter.
#pragma once

#include <intg/core/integration_config.hpp>
#include <intg/policy/layer.hpp>
#include <intg/policy/rate_limiter.hpp>
#include <intg/redis/options.hpp>
#include <intg/shared/gcra.hpp>
#include <intg/shared/redis_link.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace intg {

/// Options of intg::shared_rate_limiter: the limit (rate_limit_options) and where it is shared.
struct shared_rate_limit_options : rate_limit_options {
  std::shared_ptr<shared::redis_link> link;  ///< null: not shared (a local limiter at the full limit)
  std::string key;                           ///< the bucket's Redis key, e.g. "intg:rl:spotify:tenant_123"
  int replicas = 1;                          ///< processes sharing the limit (>= 1)
  /// A lease holds at most lease_fraction * (requests in one window) / replicas permits (and at
  /// most the burst); 0: no leasing, a Redis round trip per call. In [0, 1].
  double lease_fraction = 0.05;
  std::chrono::nanoseconds window = std::chrono::minutes(1);  ///< > 0
  /// Share of the limit this replica admits alone while Redis is unavailable, in [0, 1]; negative:
  /// 1 / replicas. 0 rejects every call (errc::rate_limited) until Redis answers again.
  double fallback_share = -1;
  std::chrono::nanoseconds probe_interval = std::chrono::seconds(1);  ///< > 0
};

/// Throws intg::exception (errc::invalid_argument) naming the bad value.
inline void validate(const shared_rate_limit_options& o) {
  validate(static_cast<const rate_limit_options&>(o));
  auto fail = [](std::string what) { throw exception(error{errc::invalid_argument, "shared rate limiter: " + std::move(what)}); };
  if (o.replicas < 1) fail("replicas must be at least 1 (got " + std::to_string(o.replicas) + ")");
  if (!(o.lease_fraction >= 0 && o.lease_fraction <= 1)) fail("lease_fraction must be between 0 and 1");
  if (o.window.count() <= 0) fail("window must be greater than 0");
  if (!(o.fallback_share <= 1) || std::isnan(o.fallback_share)) fail("fallback_share must be at most 1");
  if (o.probe_interval.count() <= 0) fail("probe_interval must be greater than 0");
  if (o.link && o.key.empty()) fail("a shared limiter needs a key");
  // The script keeps times in microseconds of the server's clock, as doubles: a bucket must fill
  // within about 30 years (1e15 us) to stay exact.
  if (o.link && (o.burst_limit + 1.0) * 60e6 / o.requests_per_minute > 1e15)
    fail("a shared bucket must fill within 30 years (requests_per_minute " + std::to_string(o.requests_per_minute) +
         " with burst_limit " + std::to_string(o.burst_limit) + " does not)");
}

/// Counters of a shared limiter (this process's view).
struct shared_rate_limit_stats {
  std::uint64_t round_trips = 0;      ///< GCRA scripts sent to Redis
  std::uint64_t permits_leased = 0;   ///< permits Redis granted
  std::uint64_t permits_expired = 0;  ///< leased permits that expired unspent
  std::uint64_t refusals = 0;         ///< decisions Redis refused
  std::uint64_t failures = 0;         ///< decisions that failed (Redis unavailable, slow, broken reply)
  std::uint64_t fallbacks = 0;        ///< times this limiter went over to its local fallback
  std::uint64_t recoveries = 0;       ///< times it came back to Redis
  bool in_fallback = false;
};

template <class Tag = void>
class shared_rate_limiter {
 public:
  using options = shared_rate_limit_options;
  struct ticket {
    bool local = false;  // admit() answered with the local limiter's gate
  };

  /// Options from an integration's `rate_limits` section; with its `shared` member, the Redis
  /// connection is the process-wide link for those settings (redis_link::for_options), and the
  /// key is key_prefix + integration + ":" + tenant (+ ":" + route). Throws intg::exception
  /// (config_error) for bad Redis settings.
  static options options_from_config(const integration_config& c) {
    options o;
    o.requests_per_minute = c.rate_limits.requests_per_minute;
    o.burst_limit = c.rate_limits.burst_limit;
    o.max_wait = c.rate_limits.max_wait;
    if (!c.rate_limits.shared) return o;
    const shared_rate_limit_settings& s = *c.rate_limits.shared;
    o.link = shared::link_for_settings(s.redis, "rate_limits", c.name, s.probe_interval);
    o.key = s.key_prefix + detail::key_component(c.name) + ":" + detail::key_component(c.tenant);
    if (!s.route.empty()) o.key += ":" + detail::key_component(s.route);
    o.replicas = s.replicas;
    o.lease_fraction = s.lease_fraction;
    o.window = s.window;
    o.fallback_share = s.fallback_share ? *s.fallback_share : -1.0;
    o.probe_interval = s.probe_interval;
    return o;
  }

  shared_rate_limiter() : shared_rate_limiter(options{}) {}
  explicit shared_rate_limiter(options o) : s_(std::make_shared<state>(std::move(o))) { s_->self = s_; }

  const options& get_options() const noexcept { return s_->opts; }
  bool is_shared() const noexcept { return s_->opts.link != nullptr; }
  /// Permits Redis refused or granted, leases, fallbacks (this process's counters).
  shared_rate_limit_stats stats() const noexcept { return s_->snapshot(); }

  /// Reports the limit and, when shared, where and how (for status pages).
  void describe(boost::json::object& out, time_point now) const {
    const state& s = *s_;
    boost::json::object o{{"requests_per_minute", s.opts.requests_per_minute}, {"burst_limit", s.opts.burst_limit}};
    if (!s.opts.link) {
      o["available"] = s.local.available(s.local_tat.load(std::memory_order_relaxed), now);
    } else {
      const bool fallback = s.fallback.load(std::memory_order_relaxed);
      const bool live = now.time_since_epoch().count() < s.lease_expiry.load(std::memory_order_relaxed);
      o["shared"] = {{"redis", s.opts.link->endpoint()},
                     {"key", s.opts.key},
                     {"replicas", s.opts.replicas},
                     {"lease_cap", s.lease_cap},
                     {"leased", live ? s.permits.load(std::memory_order_relaxed) : 0},
                     {"mode", fallback ? "fallback" : "shared"},
                     {"fallback_requests_per_minute", s.fallback_rpm}};
    }
    out["rate_limiter"] = std::move(o);
  }

  gate admit(attempt& a, ticket& t) noexcept {
    state& s = *s_;
    t.local = true;
    if (!s.opts.link) return s.local.acquire(s.local_tat, a);
    const time_point now = a.approximate_start();
    if (s.take_leased(now)) return gate::proceed();
    if (s.fallback.load(std::memory_order_acquire)) return s.fallback_gate(a);
    t.local = false;
    const std::int64_t until = s.refused_until.load(std::memory_order_relaxed);
    if (now.time_since_epoch().count() < until) {
      // Redis said when permits come back: until then this replica refuses without asking.
      const time_point precise = a.started();
      const duration left(until - precise.time_since_epoch().count());
      if (left > duration::zero()) {
        if (left > s.opts.max_wait) return gate::reject(errc::rate_limited, left);
        return gate::wait_until(time_point(duration(until)));
      }
    }
    return gate::wait_until(now);  // the wait is the round trip to Redis
  }

  template <clock Clock>
  asio::awaitable<error> wait(attempt&, ticket& t, const gate& g, const Clock& clock, const asio::any_io_executor& ex) {
    if (t.local) return detail::wait_for_reserved_slot(g, clock, ex, s_->local, &s_->local_tat);
    return acquire_shared(*s_, g.until(), clock, ex);
  }

 private:
  enum class outcome : std::uint8_t { granted, refused, fallback };

  struct state {
    explicit state(options o) : opts(std::move(o)) {
      validate(opts);
      interval = 60e9 / opts.requests_per_minute;
      if (!opts.link) {
        local.configure(opts);
        fallback_rpm = opts.requests_per_minute;
        return;
      }
      const double per_window = opts.requests_per_minute * (std::chrono::duration<double>(opts.window).count() / 60.0);
      const double cap = std::floor(opts.lease_fraction * per_window / opts.replicas);
      lease_cap = static_cast<std::int64_t>(std::clamp(cap, 1.0, static_cast<double>(opts.burst_limit)));
      // Permits left a window after their lease are dropped: whatever a replica spends was
      // granted within the last window, which is what the accuracy bound is stated over.
      lease_ttl = opts.window;
      const double share = opts.fallback_share < 0 ? 1.0 / opts.replicas : opts.fallback_share;
      fail_closed = share <= 0;
      rate_limit_options f = opts;
      f.requests_per_minute = fail_closed ? opts.requests_per_minute : opts.requests_per_minute * share;
      f.burst_limit = std::max(1, static_cast<int>(std::lround(opts.burst_limit * (fail_closed ? 1.0 : share))));
      local.configure(f);
      fallback_rpm = fail_closed ? 0 : f.requests_per_minute;
    }

    options opts;
    std::weak_ptr<state> self;
    double interval = 0;  // ns per permit
    // The local limiter: the limit itself when not shared, the fallback share when shared.
    detail::gcra local;
    std::atomic<std::int64_t> local_tat{0};
    double fallback_rpm = 0;
    bool fail_closed = false;
    // The lease, spent from any thread: permits, valid until lease_expiry (ns on the pipeline's clock).
    std::int64_t lease_cap = 1;
    duration lease_ttl{};
    std::atomic<std::int64_t> permits{0};
    std::atomic<std::int64_t> lease_expiry{0};
    std::atomic<std::int64_t> refused_until{0};
    std::atomic<bool> fallback{false};
    // On the link's executor only: one lease request at a time, the callers waiting for it, the
    // size of the next lease (doubles while leases run out, halves while they expire unspent).
    shared::detail::single_flight flight;
    std::int64_t want = 1;
    std::minstd_rand spread_source{static_cast<std::uint_fast32_t>(detail::process_hash_seed())};
    // Counters.
    std::atomic<std::uint64_t> round_trips{0}, permits_leased{0}, permits_expired{0}, refusals{0}, failures{0},
        fallbacks{0}, recoveries{0};

    bool leasing() const noexcept { return lease_cap > 1; }

    bool take_leased(time_point now) noexcept {
      if (now.time_since_epoch().count() >= lease_expiry.load(std::memory_order_acquire)) return false;
      std::int64_t p = permits.load(std::memory_order_relaxed);
      while (p > 0)
        if (permits.compare_exchange_weak(p, p - 1, std::memory_order_acq_rel, std::memory_order_relaxed)) return true;
      return false;
    }

    gate fallback_gate(attempt& a) noexcept {
      if (fail_closed) return gate::reject(errc::rate_limited, opts.probe_interval);
      return local.acquire(local_tat, a);
    }

    // Adds a lease of `n` permits at `now` (permits of an expired lease are dropped first).
    void add_lease(std::int64_t n, time_point now) noexcept {
      const std::int64_t t = now.time_since_epoch().count();
      if (t >= lease_expiry.load(std::memory_order_relaxed)) {
        const std::int64_t left = permits.exchange(0, std::memory_order_acq_rel);
        if (left > 0) permits_expired.fetch_add(static_cast<std::uint64_t>(left), std::memory_order_relaxed);
      }
      lease_expiry.store(t + lease_ttl.count(), std::memory_order_release);
      if (n > 0) permits.fetch_add(n, std::memory_order_acq_rel);
    }

    // The size of the next lease: grows while leases are spent before they expire, shrinks
    // while they expire with most of their permits.
    std::int64_t next_want(time_point now) noexcept {
      if (!leasing()) return 1;
      const bool expired = now.time_since_epoch().count() >= lease_expiry.load(std::memory_order_relaxed);
      const std::int64_t left = permits.load(std::memory_order_relaxed);
      if (!expired) want = std::min(lease_cap, want * 2);
      else if (left > want / 2) want = std::max<std::int64_t>(1, want / 2);
      return want;
    }

    shared_rate_limit_stats snapshot() const noexcept {
      auto ld = [](const std::atomic<std::uint64_t>& x) { return x.load(std::memory_order_relaxed); };
      return {ld(round_trips), ld(permits_leased), ld(permits_expired), ld(refusals), ld(failures), ld(fallbacks),
              ld(recoveries), fallback.load(std::memory_order_relaxed)};
    }

    // After a refusal, how much later than the server's retry-after this replica asks again: a
    // random share of the time the other replicas' leases take to build up, so that refused
    // replicas do not all come back at once (a round trip each, for one lease). Bounded so that
    // the permits building up meanwhile stay within the burst.
    duration refusal_spread(std::int64_t at_least) {
      const std::int64_t others = std::min<std::int64_t>((opts.replicas - 1) * at_least, opts.burst_limit - at_least);
      if (others <= 0) return {};
      const double u = std::uniform_real_distribution<double>(0.0, 1.0)(spread_source);
      return duration(static_cast<duration::rep>(u * static_cast<double>(others) * interval));
    }

    shared::gcra_params params(std::int64_t n, std::int64_t at_least) const {
      shared::gcra_params p;
      p.interval_us = interval / 1000.0;
      p.tolerance_us = p.interval_us * (opts.burst_limit - 1);
      p.want = n;
      p.min = at_least;
      return p;
    }

    // One GCRA decision on the link (only on its executor), answered by `deadline`; counts it.
    asio::awaitable<result<shared::gcra_reply>> decide(std::int64_t n, std::int64_t at_least,
                                                       std::chrono::steady_clock::time_point deadline) {
      const shared::gcra_params p = params(n, at_least);
      round_trips.fetch_add(1, std::memory_order_relaxed);
      const std::vector<std::string> keys{opts.key};
      const std::vector<std::string> args = shared::gcra_args(p);
      auto r = co_await opts.link->eval(shared::gcra_script(), keys, args, deadline);
      if (!r) co_return r.error();
      co_return shared::parse_gcra_reply(*r, p);
    }

    // Goes over to the local fallback and starts probing Redis (on the link's executor).
    template <class Clock>
    void enter_fallback(const Clock& clock) {
      failures.fetch_add(1, std::memory_order_relaxed);
      if (fallback.exchange(true, std::memory_order_acq_rel)) return;
      fallbacks.fetch_add(1, std::memory_order_relaxed);
      asio::co_spawn(opts.link->executor(), probe(self, clock, opts.link->executor(), opts.probe_interval), asio::detached);
    }
  };

  // Asks Redis again every probe_interval until it answers; holds the limiter only while asking.
  template <class Clock>
  static asio::awaitable<void> probe(std::weak_ptr<state> w, Clock clock, asio::any_io_executor ex, std::chrono::nanoseconds every) {
    for (;;) {
      asio::steady_timer t(ex, every);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      auto s = w.lock();
      if (!s) co_return;
      auto r = co_await s->decide(1, 1, std::chrono::steady_clock::time_point::max());
      if (!r) {
        s->failures.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      const time_point now = clock.now();
      s->refused_until.store(0, std::memory_order_relaxed);
      if (r->granted > 0) {
        s->permits_leased.fetch_add(static_cast<std::uint64_t>(r->granted), std::memory_order_relaxed);
        s->add_lease(r->granted, now);
      } else {
        s->refusals.fetch_add(1, std::memory_order_relaxed);
        s->refused_until.store((now + r->retry_after).time_since_epoch().count(), std::memory_order_relaxed);
      }
      s->want = 1;
      s->fallback.store(false, std::memory_order_release);
      s->recoveries.fetch_add(1, std::memory_order_relaxed);
      co_return;
    }
  }

  // On the link's executor: takes a leased permit, or joins the lease request in flight, or sends
  // one. Waits at most the Redis command timeout in all; a caller left with less than half of it
  // after waiting for another's request has this one call decided by the fallback.
  template <class Clock>
  static asio::awaitable<outcome> on_link(state& s, Clock clock) {
    const auto timeout = s.opts.link->options().command_timeout;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const time_point now = clock.now();
      if (s.take_leased(now)) co_return outcome::granted;
      if (s.fallback.load(std::memory_order_acquire)) co_return outcome::fallback;
      if (now.time_since_epoch().count() < s.refused_until.load(std::memory_order_relaxed)) co_return outcome::refused;
      if (deadline - std::chrono::steady_clock::now() < timeout / 2) co_return outcome::fallback;
      if (s.leasing() && s.flight.busy()) {
        co_await s.flight.join(s.opts.link->executor(), deadline);
        continue;
      }
      const std::int64_t n = s.next_want(now);
      const std::int64_t at_least = std::max<std::int64_t>(1, n / 2);
      s.flight.begin();
      auto r = co_await s.decide(n, at_least, deadline);
      const time_point after = clock.now();
      outcome o = outcome::granted;
      if (!r) {
        s.enter_fallback(clock);
        o = outcome::fallback;
      } else if (r->granted > 0) {
        s.permits_leased.fetch_add(static_cast<std::uint64_t>(r->granted), std::memory_order_relaxed);
        s.add_lease(r->granted - 1, after);  // one is this caller's
      } else {
        s.refusals.fetch_add(1, std::memory_order_relaxed);
        const time_point until = after + r->retry_after + s.refusal_spread(at_least);
        s.refused_until.store(until.time_since_epoch().count(), std::memory_order_relaxed);
        o = outcome::refused;
      }
      s.flight.end();
      co_return o;
    }
  }

  // The caller's side of a decision that needs Redis: hops onto the link and back, then follows
  // the answer (admitted; refused: rejected, or waits when max_wait allows; fallback: the local
  // limiter decides). The hop ignores the caller's cancellation: it ends within the command timeout.
  template <class Clock>
  static asio::awaitable<error> acquire_shared(state& s, time_point at, Clock clock, asio::any_io_executor ex) {
    const time_point give_up = clock.now() + std::min<duration>(s.opts.max_wait, std::chrono::hours(24));
    for (;;) {
      if (at > clock.now())
        if (error e = co_await detail::sleep_until(clock, ex, at)) co_return e;
      const outcome o = co_await asio::co_spawn(s.opts.link->executor(), on_link(s, clock),
                                                asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
      if (o == outcome::granted) co_return error{};
      const time_point now = clock.now();
      if (o == outcome::fallback) {
        if (s.fail_closed) co_return gate::reject(errc::rate_limited, s.opts.probe_interval).to_error();
        const gate g = s.local.acquire(s.local_tat, now);
        if (g.decision == gate::verdict::proceed) co_return error{};
        if (g.decision == gate::verdict::reject) co_return g.to_error();
        co_return co_await detail::wait_for_reserved_slot(g, clock, ex, s.local, &s.local_tat);
      }
      const time_point until(duration(s.refused_until.load(std::memory_order_relaxed)));
      if (until <= now) {
        at = now;  // already over (a slow hop back): ask again
        continue;
      }
      if (until > give_up) co_return gate::reject(errc::rate_limited, until - now).to_error();
      at = until;
    }
  }

  std::shared_ptr<state> s_;
};

}  // namespace intg
