// intg::rate_limiter and intg::keyed_rate_limiter: GCRA (the generic cell rate algorithm, a token
// bucket in one number) updated by compare-and-swap on a single 64-bit atomic. Rate and burst come
// from config (`requests_per_minute`, `burst_limit`); a call over the limit is rejected at once with
// errc::rate_limited and a retry-after hint, or waits up to `max_wait` for its slot.
#pragma once

#include <boost/json/object.hpp>

#include <intg/detail/sleep.hpp>
#include <intg/integration_config.hpp>
#include <intg/policy/layer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

namespace intg {

struct rate_limit_options {
  double requests_per_minute = 600;  ///< sustained rate; must be > 0
  int burst_limit = 20;              ///< calls allowed at once from a full bucket; >= 1
  std::chrono::nanoseconds max_wait{};  ///< 0: reject at once; else wait up to this for a slot
};

namespace detail {

// One GCRA cell: `tat` is the theoretical arrival time (ns on the clock's epoch) of the next call.
class gcra {
 public:
  void configure(const rate_limit_options& o) noexcept {
    const double rpm = o.requests_per_minute > 0 ? o.requests_per_minute : 1e-9;
    interval_ = std::max<std::int64_t>(1, static_cast<std::int64_t>(60e9 / rpm));
    tolerance_ = interval_ * (std::max(1, o.burst_limit) - 1);
    max_wait_ = o.max_wait.count();
  }

  /// Admits the call at `approx`, a reading no later than the true time, when that alone admits it
  /// (then the true time would too); false leaves the cell untouched. Over the limit, the caller
  /// asks again with the precise time, so a coarse clock never rejects or delays a call.
  bool try_admit(std::atomic<std::int64_t>& tat, time_point approx) const noexcept {
    const std::int64_t now = approx.time_since_epoch().count();
    std::int64_t t = tat.load(std::memory_order_relaxed);
    for (;;) {
      const std::int64_t base = std::max(t, now);
      if (base - tolerance_ - now > 0) return false;
      if (tat.compare_exchange_weak(t, base + interval_, std::memory_order_acq_rel, std::memory_order_relaxed)) return true;
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
      const std::int64_t wait = base - tolerance_ - now;  // > 0: over the limit by this much
      if (wait > 0 && wait > max_wait_) return gate::reject(errc::rate_limited, duration(wait));
      if (tat.compare_exchange_weak(t, base + interval_, std::memory_order_acq_rel, std::memory_order_relaxed))
        return wait > 0 ? gate::wait_until(now_tp + duration(wait)) : gate::proceed();
    }
  }

  /// True when a cell with this tat is fully replenished (indistinguishable from a fresh one).
  bool idle(std::int64_t tat, time_point now) const noexcept { return tat <= now.time_since_epoch().count(); }

  /// Calls that would be admitted at once at `now` (the bucket's level), between 0 and the burst.
  std::int64_t available(std::int64_t tat, time_point now_tp) const noexcept {
    const std::int64_t now = now_tp.time_since_epoch().count();
    const std::int64_t burst = tolerance_ / interval_ + 1;
    if (tat <= now) return burst;
    const std::int64_t n = (now + tolerance_ + interval_ - tat) / interval_;
    return std::clamp<std::int64_t>(n, 0, burst);
  }

 private:
  std::int64_t interval_ = 100'000'000;
  std::int64_t tolerance_ = 0;
  std::int64_t max_wait_ = 0;
};

template <clock Clock>
asio::awaitable<error> wait_for_reserved_slot(const gate& g, const Clock& clock, const asio::any_io_executor& ex) {
  error e = co_await sleep_until(clock, ex, g.until());
  co_return e;
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
    return detail::wait_for_reserved_slot(g, clock, ex);
  }

 private:
  struct state {
    explicit state(options o) : opts(o) { cell.configure(opts); }
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

  gate admit(attempt& a, no_ticket&) noexcept {
    state& s = *s_;
    std::uint64_t h = std::hash<std::string_view>{}(a.partition_key());
    if (h == 0) h = 1;  // 0 marks an empty cell
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
  asio::awaitable<error> wait(attempt&, no_ticket&, const gate& g, const Clock& clock, const asio::any_io_executor& ex) {
    return detail::wait_for_reserved_slot(g, clock, ex);
  }

 private:
  static constexpr std::size_t probe_length = 8;
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
      gcra.configure(opts);
    }
    options opts;
    detail::gcra gcra;
    std::vector<cell> cells;
    std::size_t mask = 0;
  };
  std::shared_ptr<state> s_;
};

}  // namespace intg
