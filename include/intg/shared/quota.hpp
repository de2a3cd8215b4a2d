// intg::shared_quota: calls allowed per calendar minute, day and month (UTC), counted across
// replicas on Redis (shared/quota_script.hpp) or, without a `shared` section, in this process.
// A quota is an allowance, not a pace: once a period's allowance is used up, calls are rejected
// with errc::quota_exhausted and a retry-after until that period resets. To keep the hot path
// local, a replica leases a few units at a time and spends them with one compare-and-swap per
// call; what it leased and did not spend goes back with its next request. While Redis is
// unavailable, each replica counts alone at a share of each limit, or admits, or rejects.
#pragma once

#include <intg/core/integration_config.hpp>
#include <intg/policy/layer.hpp>
#include <intg/redis/options.hpp>
#include <intg/shared/quota_script.hpp>
#include <intg/shared/redis_link.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace intg {

/// Options of intg::shared_quota.
struct shared_quota_options {
  std::int64_t per_minute = 0;  ///< calls per calendar minute (UTC); 0: unlimited
  std::int64_t per_day = 0;     ///< per calendar day (UTC)
  std::int64_t per_month = 0;   ///< per calendar month (UTC)
  /// The counters' key: the Redis base key when shared, and the name under which quotas of this
  /// process share their local counters (two integrations with one key count together).
  std::string key = "intg:quota:{default}";
  std::shared_ptr<shared::redis_link> link;  ///< null: counted in this process only
  int replicas = 1;                          ///< processes sharing the quota (>= 1)
  /// A lease holds at most lease_fraction * (the smallest limit) / replicas units; 0: a Redis
  /// round trip per call. In [0, 1].
  double lease_fraction = 0.05;
  quota_fallback on_redis_unavailable = quota_fallback::count_locally;
  /// count_locally: the share of each limit this replica admits alone; negative: 1 / replicas.
  double fallback_share = -1;
  std::chrono::nanoseconds probe_interval = std::chrono::seconds(1);  ///< > 0
  /// The clock that decides the calendar periods of what this process counts itself (a local
  /// quota, the count_locally fallback); empty: std::chrono::system_clock. Tests set it.
  std::function<std::chrono::system_clock::time_point()> wall_clock{};

  std::array<std::int64_t, 3> limits() const noexcept { return {per_minute, per_day, per_month}; }
};

/// Throws intg::exception (errc::invalid_argument) naming the bad value.
inline void validate(const shared_quota_options& o) {
  auto fail = [](std::string what) { throw exception(error{errc::invalid_argument, "quota: " + std::move(what)}); };
  const std::array<std::int64_t, 3> limits = o.limits();
  static constexpr const char* names[3] = {"per_minute", "per_day", "per_month"};
  for (std::size_t i = 0; i < 3; ++i)
    if (limits[i] < 0 || limits[i] > 1'000'000'000'000'000)
      fail(std::string(names[i]) + " must be between 0 and 1e15 (got " + std::to_string(limits[i]) + ")");
  if (o.key.empty()) fail("a quota needs a key");
  if (o.replicas < 1) fail("replicas must be at least 1 (got " + std::to_string(o.replicas) + ")");
  if (!(o.lease_fraction >= 0 && o.lease_fraction <= 1)) fail("lease_fraction must be between 0 and 1");
  if (!(o.fallback_share <= 1) || std::isnan(o.fallback_share)) fail("fallback_share must be at most 1");
  if (o.probe_interval.count() <= 0) fail("probe_interval must be greater than 0");
}

/// Counters of a quota (this process's view).
struct shared_quota_stats {
  std::uint64_t round_trips = 0;     ///< quota scripts sent to Redis
  std::uint64_t units_leased = 0;    ///< units Redis granted
  std::uint64_t units_returned = 0;  ///< leased units given back unspent
  std::uint64_t refusals = 0;        ///< requests Redis refused (a period used up)
  std::uint64_t failures = 0;        ///< requests that failed (Redis unavailable, slow, broken reply)
  std::uint64_t fallbacks = 0;       ///< times the quota went over to its fallback
  std::uint64_t recoveries = 0;      ///< times it came back to Redis
  bool in_fallback = false;
};

namespace detail {

/// The calendar windows (UTC) a wall-clock time falls in, numbered as the quota script numbers
/// them, and the time until each ends.
struct calendar_windows {
  std::array<std::int64_t, 3> window{};
  std::array<std::chrono::milliseconds, 3> resets_in{};

  explicit calendar_windows(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    const auto ms = time_point_cast<milliseconds>(t);
    const auto day = floor<days>(ms);
    const year_month_day ymd{day};
    const year_month next = year_month{ymd.year(), ymd.month()} + months{1};
    const std::int64_t now = ms.time_since_epoch().count();
    window = {now / 60'000, day.time_since_epoch().count(),
              static_cast<std::int64_t>(static_cast<int>(ymd.year())) * 12 + static_cast<unsigned>(ymd.month()) - 1};
    resets_in = {milliseconds((window[0] + 1) * 60'000 - now), milliseconds((window[1] + 1) * 86'400'000 - now),
                 duration_cast<milliseconds>(sys_days{next / 1}.time_since_epoch()) - milliseconds(now)};
  }
};

/// Units counted in this process for one key, per calendar window: a local quota's counters, and
/// what a shared quota admitted on its own while Redis was away. Shared by every quota of the
/// process with that key.
class quota_counter {
 public:
  /// Takes `n` units if every limited period has them; else answers which period is used up.
  bool try_take(const calendar_windows& w, const std::array<std::int64_t, 3>& limits, std::int64_t n, std::size_t& exhausted) {
    std::lock_guard lock(m_);
    roll(w);
    for (std::size_t i = 0; i < 3; ++i)
      if (limits[i] > 0 && used_[i] + n > limits[i]) {
        exhausted = i;
        return false;
      }
    for (auto& u : used_) u += n;
    return true;
  }
  /// Units used in the windows of `w`.
  std::array<std::int64_t, 3> used(const calendar_windows& w) const {
    std::lock_guard lock(m_);
    std::array<std::int64_t, 3> u{};
    for (std::size_t i = 0; i < 3; ++i) u[i] = window_[i] == w.window[i] ? used_[i] : 0;
    return u;
  }
  /// Takes what was counted (as units to add to Redis's counters) and starts again from zero.
  std::array<shared::quota_adjustment, 3> drain() {
    std::lock_guard lock(m_);
    std::array<shared::quota_adjustment, 3> a{};
    for (std::size_t i = 0; i < 3; ++i) {
      a[i] = {-used_[i], window_[i]};
      used_[i] = 0;
    }
    return a;
  }
  /// Puts back what drain() took, when it could not be handed to Redis.
  void restore(const std::array<shared::quota_adjustment, 3>& a) {
    std::lock_guard lock(m_);
    for (std::size_t i = 0; i < 3; ++i)
      if (window_[i] == a[i].window) used_[i] -= a[i].units;
  }

  /// The process-wide counter for `key`, kept while some quota holds it.
  static std::shared_ptr<quota_counter> for_key(const std::string& key) {
    static std::mutex m;
    static std::map<std::string, std::weak_ptr<quota_counter>> counters;
    std::lock_guard lock(m);
    std::erase_if(counters, [](const auto& e) { return e.second.expired(); });
    if (auto it = counters.find(key); it != counters.end())
      if (auto c = it->second.lock()) return c;
    auto c = std::make_shared<quota_counter>();
    counters[key] = c;
    return c;
  }

 private:
  void roll(const calendar_windows& w) {
    for (std::size_t i = 0; i < 3; ++i)
      if (window_[i] != w.window[i]) {
        window_[i] = w.window[i];
        used_[i] = 0;
      }
  }

  mutable std::mutex m_;
  std::array<std::int64_t, 3> window_{-1, -1, -1};
  std::array<std::int64_t, 3> used_{};
};

}  // namespace detail

template <class Tag = void>
class shared_quota {
 public:
  using options = shared_quota_options;

  /// Options from an integration's `quotas` section. The key is key_prefix + "{" + integration +
  /// ":" + tenant + "}" (scope integration) or key_prefix + "{tenant:" + tenant + "}" (scope
  /// tenant); with a `shared` member, the Redis connection is the process-wide link for its
  /// settings. Throws intg::exception (config_error) for bad Redis settings.
  static options options_from_config(const integration_config& c) {
    options o;
    const quota_settings& q = c.quotas;
    o.per_minute = q.per_minute;
    o.per_day = q.per_day;
    o.per_month = q.per_month;
    const std::string prefix = q.shared ? q.shared->key_prefix : shared_quota_settings{}.key_prefix;
    o.key = prefix + "{" +
            (q.scope == quota_scope::tenant ? "tenant:" + detail::key_component(c.tenant)
                                            : detail::key_component(c.name) + ":" + detail::key_component(c.tenant)) +
            "}";
    if (!q.shared || !q.limited()) return o;
    const shared_quota_settings& s = *q.shared;
    o.link = shared::link_for_settings(s.redis, "quotas", c.name, s.probe_interval);
    o.replicas = s.replicas;
    o.lease_fraction = s.lease_fraction;
    o.on_redis_unavailable = s.on_redis_unavailable;
    o.fallback_share = s.fallback_share ? *s.fallback_share : -1.0;
    o.probe_interval = s.probe_interval;
    return o;
  }

  shared_quota() : shared_quota(options{}) {}
  explicit shared_quota(options o) : s_(std::make_shared<state>(std::move(o))) { s_->self = s_; }

  const options& get_options() const noexcept { return s_->opts; }
  bool is_shared() const noexcept { return s_->opts.link != nullptr; }
  shared_quota_stats stats() const noexcept { return s_->snapshot(); }

  /// Each limited period's limit, use and remaining allowance (cluster-wide as Redis last
  /// reported it when shared), and where the quota is shared (for status pages and metrics).
  void describe(boost::json::object& out, time_point now) const {
    const state& s = *s_;
    if (!s.limited) return;
    boost::json::object o;
    static constexpr const char* names[3] = {"per_minute", "per_day", "per_month"};
    if (!s.opts.link) {
      const detail::calendar_windows w(s.wall_now());
      const auto used = s.counter->used(w);
      for (std::size_t i = 0; i < 3; ++i)
        if (s.limits[i] > 0)
          o[names[i]] = period_json(s.limits[i], used[i], w.resets_in[i]);
    } else {
      std::lock_guard lock(s.seen_mutex);
      for (std::size_t i = 0; i < 3; ++i) {
        if (s.limits[i] <= 0) continue;
        if (!s.seen) {
          o[names[i]] = {{"limit", s.limits[i]}, {"used", nullptr}, {"remaining", nullptr}};
        } else if (now >= s.seen_resets_at[i]) {
          // The window Redis last reported has ended: the next one starts unused.
          o[names[i]] = {{"limit", s.limits[i]}, {"used", 0}, {"remaining", s.limits[i]}};
        } else {
          o[names[i]] = period_json(s.limits[i], s.seen_used[i], std::chrono::duration_cast<std::chrono::milliseconds>(s.seen_resets_at[i] - now));
        }
      }
      const bool live = now.time_since_epoch().count() < s.lease_expiry.load(std::memory_order_relaxed);
      boost::json::object sh{{"redis", s.opts.link->endpoint()},
                             {"key", s.opts.key},
                             {"replicas", s.opts.replicas},
                             {"lease_cap", s.lease_cap},
                             {"leased", live ? s.units.load(std::memory_order_relaxed) : 0},
                             {"mode", s.fallback.load(std::memory_order_relaxed) ? "fallback" : "shared"}};
      if (s.seen) sh["reported_ms_ago"] = std::chrono::duration_cast<std::chrono::milliseconds>(now - s.seen_at).count();
      o["shared"] = std::move(sh);
    }
    out["quota"] = std::move(o);
  }

  gate admit(attempt& a, no_ticket&) noexcept {
    state& s = *s_;
    if (!s.limited) return gate::proceed();
    if (!s.opts.link) return s.count_here(s.limits);
    const time_point now = a.approximate_start();
    if (s.take_leased(now)) return gate::proceed();
    if (s.fallback.load(std::memory_order_acquire)) return s.fallback_gate();
    const std::int64_t until = s.refused_until.load(std::memory_order_relaxed);
    if (now.time_since_epoch().count() < until) return gate::reject(errc::quota_exhausted, duration(until) - now.time_since_epoch());
    return gate::wait_until(now);  // the wait is the round trip to Redis
  }

  template <clock Clock>
  asio::awaitable<error> wait(attempt&, no_ticket&, const gate&, const Clock& clock, const asio::any_io_executor&) {
    state& s = *s_;
    const outcome o = co_await asio::co_spawn(s.opts.link->executor(), on_link(s, clock),
                                              asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
    switch (o) {
      case outcome::granted: co_return error{};
      case outcome::fallback: co_return s.fallback_gate().to_error();
      case outcome::refused: break;
    }
    const duration left = duration(s.refused_until.load(std::memory_order_relaxed)) - clock.now().time_since_epoch();
    co_return gate::reject(errc::quota_exhausted, std::max(left, duration(std::chrono::milliseconds(1)))).to_error();
  }

 private:
  enum class outcome : std::uint8_t { granted, refused, fallback };

  static boost::json::object period_json(std::int64_t limit, std::int64_t used, std::chrono::milliseconds resets_in) {
    return {{"limit", limit}, {"used", used}, {"remaining", std::max<std::int64_t>(0, limit - used)}, {"resets_in_ms", resets_in.count()}};
  }

  struct state {
    explicit state(options o) : opts(std::move(o)) {
      validate(opts);
      limits = opts.limits();
      limited = opts.per_minute > 0 || opts.per_day > 0 || opts.per_month > 0;
      if (limited) counter = detail::quota_counter::for_key(opts.key);
      std::int64_t smallest = 0;
      for (auto l : limits)
        if (l > 0 && (smallest == 0 || l < smallest)) smallest = l;
      lease_cap = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::floor(opts.lease_fraction * static_cast<double>(smallest) / opts.replicas)));
      const double share = opts.fallback_share < 0 ? 1.0 / opts.replicas : opts.fallback_share;
      for (std::size_t i = 0; i < 3; ++i)
        fallback_limits[i] = limits[i] > 0 ? std::max<std::int64_t>(1, std::llround(static_cast<double>(limits[i]) * share)) : 0;
      if (share <= 0 && opts.on_redis_unavailable == quota_fallback::count_locally) fallback_closed = true;
    }

    options opts;
    std::weak_ptr<state> self;
    std::array<std::int64_t, 3> limits{};
    bool limited = false;
    std::shared_ptr<detail::quota_counter> counter;
    std::array<std::int64_t, 3> fallback_limits{};
    bool fallback_closed = false;
    // The lease, spent from any thread: units, valid until lease_expiry (ns on the pipeline's
    // clock: the earliest end of its windows); lease_windows only on the link's executor.
    std::int64_t lease_cap = 1;
    std::atomic<std::int64_t> units{0};
    std::atomic<std::int64_t> lease_expiry{0};
    std::array<std::int64_t, 3> lease_windows{};
    std::atomic<std::int64_t> refused_until{0};
    std::atomic<bool> fallback{false};
    shared::detail::single_flight flight;  // on the link's executor
    // What Redis last reported (for describe()).
    mutable std::mutex seen_mutex;
    bool seen = false;
    time_point seen_at{};
    std::array<std::int64_t, 3> seen_used{};
    std::array<time_point, 3> seen_resets_at{};
    std::atomic<std::uint64_t> round_trips{0}, units_leased{0}, units_returned{0}, refusals{0}, failures{0}, fallbacks{0},
        recoveries{0};

    std::chrono::system_clock::time_point wall_now() const {
      return opts.wall_clock ? opts.wall_clock() : std::chrono::system_clock::now();
    }

    // Decides a call with this process's counters against `l`.
    gate count_here(const std::array<std::int64_t, 3>& l) noexcept {
      try {
        const detail::calendar_windows w(wall_now());
        std::size_t exhausted = 0;
        if (counter->try_take(w, l, 1, exhausted)) return gate::proceed();
        return gate::reject(errc::quota_exhausted, w.resets_in[exhausted]);
      } catch (...) {  // a throwing wall_clock, a mutex failure
        return gate::reject(errc::quota_exhausted, opts.probe_interval);
      }
    }

    gate fallback_gate() noexcept {
      switch (opts.on_redis_unavailable) {
        case quota_fallback::allow: return gate::proceed();
        case quota_fallback::reject: return gate::reject(errc::quota_exhausted, opts.probe_interval);
        case quota_fallback::count_locally: break;
      }
      if (fallback_closed) return gate::reject(errc::quota_exhausted, opts.probe_interval);
      return count_here(fallback_limits);
    }

    bool take_leased(time_point now) noexcept {
      if (now.time_since_epoch().count() >= lease_expiry.load(std::memory_order_acquire)) return false;
      std::int64_t u = units.load(std::memory_order_relaxed);
      while (u > 0)
        if (units.compare_exchange_weak(u, u - 1, std::memory_order_acq_rel, std::memory_order_relaxed)) return true;
      return false;
    }

    shared_quota_stats snapshot() const noexcept {
      auto ld = [](const std::atomic<std::uint64_t>& x) { return x.load(std::memory_order_relaxed); };
      return {ld(round_trips), ld(units_leased), ld(units_returned), ld(refusals), ld(failures), ld(fallbacks), ld(recoveries),
              fallback.load(std::memory_order_relaxed)};
    }

    // Records what Redis reported at `at` (pipeline clock).
    void observe(const shared::quota_reply& r, time_point at) {
      std::lock_guard lock(seen_mutex);
      seen = true;
      seen_at = at;
      for (std::size_t i = 0; i < 3; ++i) {
        seen_used[i] = r.periods[i].used;
        seen_resets_at[i] = at + r.periods[i].resets_in;
      }
    }

    // One script run on the link (only on its executor), answered by `deadline`; counts it.
    asio::awaitable<result<shared::quota_reply>> ask(const shared::quota_params& p, std::chrono::steady_clock::time_point deadline) {
      round_trips.fetch_add(1, std::memory_order_relaxed);
      const std::vector<std::string> keys{opts.key};
      const std::vector<std::string> args = shared::quota_args(p);
      auto r = co_await opts.link->eval(shared::quota_script(), keys, args, deadline);
      if (!r) co_return r.error();
      co_return shared::parse_quota_reply(*r, p);
    }

    shared::quota_params params(std::int64_t want) const {
      shared::quota_params p;
      p.limits = limits;
      p.want = want;
      p.min = want > 0 ? 1 : 0;
      p.share_among = opts.replicas;
      return p;
    }

    // Goes over to the fallback and starts probing Redis (on the link's executor).
    template <class Clock>
    void enter_fallback(const Clock& clock) {
      failures.fetch_add(1, std::memory_order_relaxed);
      if (fallback.exchange(true, std::memory_order_acq_rel)) return;
      fallbacks.fetch_add(1, std::memory_order_relaxed);
      asio::co_spawn(opts.link->executor(), probe(self, clock, opts.link->executor(), opts.probe_interval), asio::detached);
    }
  };

  // Asks Redis again every probe_interval until it answers; the answering request also adds what
  // this process admitted on its own meanwhile, so that Redis's counts catch up.
  template <class Clock>
  static asio::awaitable<void> probe(std::weak_ptr<state> w, Clock clock, asio::any_io_executor ex, std::chrono::nanoseconds every) {
    for (;;) {
      asio::steady_timer t(ex, every);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      auto s = w.lock();
      if (!s) co_return;
      shared::quota_params p = s->params(0);
      const bool counted = s->opts.on_redis_unavailable == quota_fallback::count_locally;
      if (counted) p.adjust = s->counter->drain();
      auto r = co_await s->ask(p, std::chrono::steady_clock::time_point::max());
      if (!r) {
        if (counted) s->counter->restore(p.adjust);
        s->failures.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      s->observe(*r, clock.now());
      s->refused_until.store(0, std::memory_order_relaxed);
      s->fallback.store(false, std::memory_order_release);
      s->recoveries.fetch_add(1, std::memory_order_relaxed);
      co_return;
    }
  }

  // On the link's executor: takes a leased unit, or joins the request in flight, or sends one
  // (giving back what an expired lease left). Waits at most the Redis command timeout in all.
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
      if (s.flight.busy()) {
        co_await s.flight.join(s.opts.link->executor(), deadline);
        continue;
      }
      shared::quota_params p = s.params(s.lease_cap);
      // Only an expired lease can hold units here (a live one would have given one above).
      const std::int64_t left = s.units.exchange(0, std::memory_order_acq_rel);
      if (left > 0)
        for (std::size_t i = 0; i < 3; ++i) p.adjust[i] = {left, s.lease_windows[i]};
      s.flight.begin();
      auto r = co_await s.ask(p, deadline);
      const time_point after = clock.now();
      outcome o = outcome::granted;
      if (!r) {
        // The units given back may or may not have reached Redis: they are not counted again.
        s.enter_fallback(clock);
        o = outcome::fallback;
      } else {
        if (left > 0) s.units_returned.fetch_add(static_cast<std::uint64_t>(left), std::memory_order_relaxed);
        s.observe(*r, after);
        if (r->granted > 0) {
          s.units_leased.fetch_add(static_cast<std::uint64_t>(r->granted), std::memory_order_relaxed);
          duration life = duration::max();
          for (std::size_t i = 0; i < 3; ++i) {
            s.lease_windows[i] = r->periods[i].window;
            if (s.limits[i] > 0) life = std::min<duration>(life, r->periods[i].resets_in);
          }
          s.lease_expiry.store((after + life).time_since_epoch().count(), std::memory_order_release);
          s.units.store(r->granted - 1, std::memory_order_release);  // one is this caller's
        } else {
          s.refusals.fetch_add(1, std::memory_order_relaxed);
          s.refused_until.store((after + r->retry_after).time_since_epoch().count(), std::memory_order_relaxed);
          o = outcome::refused;
        }
      }
      s.flight.end();
      co_return o;
    }
  }

  std::shared_ptr<state> s_;
};

}  // namespace intg
