// intg::rate_limiter and intg::keyed_rate_limiter: GCRA (the generic cell rate algorithm, a token
// bucket in one number) updated by compare-and-swap on a single 64-bit atomic. Rate and burst come
// from config (`requests_per_minute`, `burst_limit`); a call over the limit is rejected at once with
// errc::rate_limited and a retry-after hint, or waits up to `max_wait` for its slot.
#pragma once

#include <boost/json/object.hpp>

#include <intg/detail/sleep.hpp>
#include <intg/core/integration_config.hpp>
#include <intg/policy/layer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace intg {

struct rate_limit_options {
  double requests_per_minute = 600;  ///< sustained rate; finite and > 0
  int burst_limit = 20;              ///< calls allowed at once from a full bucket; >= 1
  std::chrono::nanoseconds max_wait{};  ///< 0: reject at once; else wait up to this for a slot (>= 0)
};

/// Throws intg::exception (errc::invalid_argument) naming the bad value when the options are
/// outside their documented range. The limiters call it when they are built.
inline void validate(const rate_limit_options& o) {
  auto fail = [](std::string what) { throw exception(error{errc::invalid_argument, "rate limiter: " + std::move(what)}); };
  if (!std::isfinite(o.requests_per_minute) || !(o.requests_per_minute > 0))
    fail("requests_per_minute must be finite and greater than 0 (got " + std::to_string(o.requests_per_minute) + ")");
  if (o.burst_limit < 1) fail("burst_limit must be at least 1 (got " + std::to_string(o.burst_limit) + ")");
  if (o.max_wait.count() < 0) fail("max_wait must not be negative (got " + std::to_string(o.max_wait.count()) + " ns)");
}

namespace detail {

// One GCRA cell: `tat` is the theoretical arrival time (ns on the clock's epoch) of the next call.
// Every quantity is capped (interval and tolerance at 2^61 ns, about 73 years; tat at 2^62 ns) so
// that no sum or difference below can overflow, whatever rate and burst the options name.
class gcra {
 public:
  static constexpr std::int64_t span_max = std::int64_t{1} << 61;
  static constexpr std::int64_t tat_max = std::int64_t{1} << 62;

  void configure(const rate_limit_options& o) {
    validate(o);
    const double interval = 60e9 / o.requests_per_minute;
    interval_ = interval >= static_cast<double>(span_max) ? span_max : std::max<std::int64_t>(1, static_cast<std::int64_t>(interval));
    const std::int64_t extra = o.burst_limit - 1;
    tolerance_ = extra > span_max / interval_ ? span_max : interval_ * extra;
    burst_ = o.burst_limit;
    max_wait_ = std::min<std::int64_t>(o.max_wait.count(), span_max);
  }

  /// Admits the call at `approx`, a reading no later than the true time, when that alone admits it
  /// (then the true time would too); false leaves the cell untouched. Over the limit, the caller
  /// asks again with the precise time, so a coarse clock never rejects or delays a call.
  bool try_admit(std::atomic<std::int64_t>& tat, time_point approx) const noexcept {
    const std::int64_t now = approx.time_since_epoch().count();
    std::int64_t t = tat.load(std::memory_order_relaxed);
    for (;;) {
      const std::int64_t base = std::max(t, now);
      if (base - now > tolerance_) return false;
      if (tat.compare_exchange_weak(t, next(base), std::memory_order_acq_rel, std::memory_order_relaxed)) return true;
    }
  }

  /// try_admit() at the attempt's approximate start, else acquire() at its precise start.
  gate acquire(std::atomic<std::int64_t>& tat, const attempt& a) const noexcept {
    return try_admit(tat, a.approximate_start()) ? gate::proceed() : acquire(tat, a.started());
  }

  /// Admits (proceed), reserves a future slot (wait), or rejects with the time until a slot frees.
  gate acquire(std::atomic<std::int64_t>& tat, time_point now_tp) const noexcept {
    const std::int64_t now = now_tp.time_since_epoch().count();
    std::int64_t t = tat.load(std::memory_order_relaxed);
    for (;;) {
      const std::int64_t base = std::max(t, now);
      const std::int64_t wait = (base - now) - tolerance_;  // > 0: over the limit by this much
      if (wait > 0 && wait > max_wait_) return gate::reject(errc::rate_limited, duration(wait));
      if (tat.compare_exchange_weak(t, next(base), std::memory_order_acq_rel, std::memory_order_relaxed))
        return wait > 0 ? gate::wait_until(now_tp + duration(wait)) : gate::proceed();
    }
  }

  /// Gives back a slot reserved by acquire() whose caller gave up waiting: the next caller may
  /// take it. Only while the cell still owes time (a cell already replenished has nothing to give).
  void refund(std::atomic<std::int64_t>& tat, time_point now_tp) const noexcept {
    const std::int64_t now = now_tp.time_since_epoch().count();
    std::int64_t t = tat.load(std::memory_order_relaxed);
    while (t > now && !tat.compare_exchange_weak(t, std::max(t - interval_, now), std::memory_order_acq_rel, std::memory_order_relaxed)) {
    }
  }

  /// True when a cell with this tat is fully replenished (indistinguishable from a fresh one).
  bool idle(std::int64_t tat, time_point now) const noexcept { return tat <= now.time_since_epoch().count(); }

  /// Calls that would be admitted at once at `now` (the bucket's level), between 0 and the burst.
  std::int64_t available(std::int64_t tat, time_point now_tp) const noexcept {
    const std::int64_t now = now_tp.time_since_epoch().count();
    if (tat <= now) return burst_;
    const std::int64_t n = ((now - tat) + tolerance_ + interval_) / interval_;
    return std::clamp<std::int64_t>(n, 0, burst_);
  }

 private:
  std::int64_t next(std::int64_t base) const noexcept { return std::min(base + interval_, tat_max); }

  std::int64_t interval_ = 100'000'000;
  std::int64_t tolerance_ = 0;
  std::int64_t burst_ = 1;
  std::int64_t max_wait_ = 0;
};

// Waits for a reserved slot; a caller cancelled meanwhile gives its slot back.
template <clock Clock>
asio::awaitable<error> wait_for_reserved_slot(const gate& g, const Clock& clock, const asio::any_io_executor& ex,
                                              const gcra& cell, std::atomic<std::int64_t>* tat) {
  error e = co_await sleep_until(clock, ex, g.until());
  if (e && tat) cell.refund(*tat, clock.now());
  co_return e;
}

/// A random seed drawn once per process, so that partition keys hash differently in every process.
inline std::uint64_t process_hash_seed() {
  static const std::uint64_t seed = [] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }();
  return seed;
}

// A seeded 64-bit hash: each 8-byte word goes through a bijective mixer (splitmix64's finalizer)
// after the seeded state, so which keys collide depends on the seed: a tenant cannot pick keys
// that collide with another's without knowing it. Not a MAC; enough for bucket selection.
inline std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
inline std::uint64_t seeded_hash(std::string_view key, std::uint64_t seed) noexcept {
  std::uint64_t h = mix64(seed ^ (key.size() * 0x9e3779b97f4a7c15ULL));
  std::size_t i = 0;
  for (; i + 8 <= key.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, key.data() + i, 8);
    h = mix64(h ^ w) + seed;
  }
  std::uint64_t w = 0;
  std::memcpy(&w, key.data() + i, key.size() - i);
  return mix64(h ^ w ^ seed);
}

}  // namespace detail

template <class Tag = void>
class rate_limiter {
 public:
  using options = rate_limit_options;

  /// Options from an integration's `rate_limits` section (tenant limits already applied).
  static options options_from_config(const integration_config& c) {
    return options{c.rate_limits.requests_per_minute, c.rate_limits.burst_limit, c.rate_limits.max_wait};
  }

  rate_limiter() : rate_limiter(options{}) {}
  explicit rate_limiter(options o) : s_(std::make_shared<state>(o)) {}

  const options& get_options() const noexcept { return s_->opts; }

  /// Reports the limit and the calls available now (for status pages).
  void describe(boost::json::object& out, time_point now) const {
    out["rate_limiter"] = {{"requests_per_minute", s_->opts.requests_per_minute},
                           {"burst_limit", s_->opts.burst_limit},
                           {"available", s_->cell.available(s_->tat.load(std::memory_order_relaxed), now)}};
  }

  gate admit(attempt& a, no_ticket&) noexcept { return s_->cell.acquire(s_->tat, a); }

  template <clock Clock>
  asio::awaitable<error> wait(attempt&, no_ticket&, const gate& g, const Clock& clock, const asio::any_io_executor& ex) {
    return detail::wait_for_reserved_slot(g, clock, ex, s_->cell, &s_->tat);
  }

 private:
  struct state {
    explicit state(options o) : opts(o) { cell.configure(opts); }  // throws on invalid options
    options opts;
    detail::gcra cell;
    std::atomic<std::int64_t> tat{0};
  };
  std::shared_ptr<state> s_;
};

/// A rate limiter per partition key (attempt::partition_key(): a tenant, a host). Memory is fixed
/// at `max_keys` cells: a key probes 8 cells by hash, claims an empty one or takes over one whose
/// bucket is full again (idle keys are indistinguishable from fresh ones). When all 8 are busy with
/// other keys the call is rejected with errc::rate_limited rather than sharing another key's quota.
template <class Tag = void>
class keyed_rate_limiter {
 public:
  struct options : rate_limit_options {
    std::size_t max_keys = 4096;  ///< rounded up to a power of two
  };

  static options options_from_config(const integration_config& c) {
    options o;
    o.requests_per_minute = c.rate_limits.requests_per_minute;
    o.burst_limit = c.rate_limits.burst_limit;
    o.max_wait = c.rate_limits.max_wait;
    return o;
  }

  keyed_rate_limiter() : keyed_rate_limiter(options{}) {}
  explicit keyed_rate_limiter(options o) : s_(std::make_shared<state>(o)) {}

  const options& get_options() const noexcept { return s_->opts; }

  /// Reports the per-key limit (for status pages).
  void describe(boost::json::object& out, time_point) const {
    out["rate_limiter"] = {{"requests_per_minute", s_->opts.requests_per_minute},
                           {"burst_limit", s_->opts.burst_limit},
                           {"keyed", true}};
  }

  /// The hash of a partition key: seeded per process (see detail::seeded_hash).
  std::uint64_t key_hash(std::string_view key) const noexcept {
    const std::uint64_t h = detail::seeded_hash(key, s_->seed);
    return h == 0 ? 1 : h;  // 0 marks an empty cell
  }

  gate admit(attempt& a, no_ticket&) noexcept {
    state& s = *s_;
    const std::uint64_t h = key_hash(a.partition_key());
    const time_point now = a.approximate_start();  // idle at this time is idle at the true time too
    cell* victim = nullptr;
    for (std::size_t i = 0; i < probe_length; ++i) {
      cell& c = s.cells[(h + i) & s.mask];
      std::uint64_t k = c.key.load(std::memory_order_acquire);
      if (k == h) return s.gcra.acquire(c.tat, a);
      if (k == 0 && c.key.compare_exchange_strong(k, h, std::memory_order_acq_rel)) return s.gcra.acquire(c.tat, a);
      if (k == h) return s.gcra.acquire(c.tat, a);
      if (!victim && s.gcra.idle(c.tat.load(std::memory_order_relaxed), now)) victim = &c;
    }
    if (victim) {
      std::uint64_t k = victim->key.load(std::memory_order_acquire);
      if (s.gcra.idle(victim->tat.load(std::memory_order_relaxed), now) &&
          victim->key.compare_exchange_strong(k, h, std::memory_order_acq_rel)) {
        // No reset: an idle cell's tat is at or before now, which GCRA treats like a fresh cell.
        return s.gcra.acquire(victim->tat, a);
      }
    }
    return gate::reject(errc::rate_limited, std::chrono::milliseconds(1));
  }

  template <clock Clock>
  asio::awaitable<error> wait(attempt& a, no_ticket&, const gate& g, const Clock& clock, const asio::any_io_executor& ex) {
    // The reservation is in the key's cell, which cannot be taken over while it owes time.
    return detail::wait_for_reserved_slot(g, clock, ex, s_->gcra, find(key_hash(a.partition_key())));
  }

 private:
  static constexpr std::size_t probe_length = 8;

  std::atomic<std::int64_t>* find(std::uint64_t h) const noexcept {
    for (std::size_t i = 0; i < probe_length; ++i) {
      cell& c = s_->cells[(h + i) & s_->mask];
      if (c.key.load(std::memory_order_acquire) == h) return &c.tat;
    }
    return nullptr;
  }

  struct cell {
    std::atomic<std::uint64_t> key{0};
    std::atomic<std::int64_t> tat{0};
  };
  struct state {
    explicit state(options o) : opts(o) {
      std::size_t n = 16;
      while (n < opts.max_keys) n <<= 1;
      cells = std::vector<cell>(n);
      mask = n - 1;
      gcra.configure(opts);  // throws on invalid options
    }
    options opts;
    std::uint64_t seed = detail::process_hash_seed();
    detail::gcra gcra;
    std::vector<cell> cells;
    std::size_t mask = 0;
  };
  std::shared_ptr<state> s_;
};

}  // namespace intg
