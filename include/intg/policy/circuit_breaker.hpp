// intg::circuit_breaker: stops calling a failing dependency. Trips on consecutive failures or on
// a failure-rate / slow-call-rate over a sliding window (count- or time-based, with a minimum
// throughput); after the recovery timeout it lets a bounded number of probe calls through
// (half-open) and closes again when they succeed. Lock-free on the hot path; an open breaker
// rejects without throwing and without allocating.
#pragma once

#include <boost/json/object.hpp>

#include <intg/core/integration_config.hpp>
#include <intg/policy/layer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace intg {

enum class breaker_state : std::uint8_t {
  closed,     ///< calls flow; outcomes are recorded
  open,       ///< calls are rejected with errc::circuit_open until the recovery timeout passes
  half_open,  ///< a bounded number of probe calls decide between closed and open
  isolated,   ///< forced open by isolate() until reset()
  disabled    ///< always lets calls through and records nothing
};

inline std::string_view to_string(breaker_state s) noexcept {
  switch (s) {
    case breaker_state::closed: return "closed";
    case breaker_state::open: return "open";
    case breaker_state::half_open: return "half_open";
    case breaker_state::isolated: return "isolated";
    case breaker_state::disabled: return "disabled";
  }
  return "unknown";
}

/// The default failure predicate: what says something about the dependency's health. Local
/// rejections (rate_limited by our limiter, bulkhead_full, circuit_open), the caller's cancellation
/// and the caller's own mistakes (4xx other than 408/429, invalid_argument, not_found,
/// invalid_grant, unauthorized, not_initialized, disabled, config_error) do not count.
inline bool breaker_counts_as_failure(const error& e) noexcept {
  if (is_local_rejection(e)) return false;
  // A 4xx answer is the caller's mistake whoever classified it (intg's http_error or a provider's
  // error: S3's NoSuchKey, Stripe's card_declined), except a timeout or a limit.
  if (const int s = e.http_status(); s >= 400 && s < 500) return s == 408 || s == 429;
  if (e == errc::http_error) {
    const int s = e.http_status();
    return s >= 500 || s == 408 || s == 429;
  }
  if (e == errc::invalid_argument || e == errc::not_found || e == errc::invalid_grant || e == errc::unauthorized ||
      e == errc::not_initialized || e == errc::disabled || e == errc::config_error)
    return false;
  return true;
}

template <class Tag = void>
class circuit_breaker {
 public:
  struct options {
    breaker_window window = breaker_window::consecutive;
    int failure_threshold = 5;               ///< consecutive mode (the seed's `failure_threshold`)
    double failure_rate_threshold = 0.5;     ///< count/time modes: trip at this failure ratio
    int window_size = 100;                   ///< count mode: calls in the window
    std::chrono::nanoseconds window_duration{std::chrono::seconds(60)};  ///< time mode
    int minimum_calls = 10;                  ///< count/time modes: no verdict below this many calls
    std::chrono::nanoseconds slow_call_duration{};  ///< 0 disables slow-call accounting
    double slow_call_rate_threshold = 1.0;   ///< count/time modes: trip at this slow-call ratio
    std::chrono::nanoseconds recovery_timeout{std::chrono::seconds(60)};  ///< open -> half-open
    int half_open_max_calls = 1;             ///< probes admitted (and needed to close) in half-open
    bool (*is_failure)(const error&) = &breaker_counts_as_failure;
    /// Called on every state change (from, to). Not on the hot path; may be empty.
    std::function<void(breaker_state, breaker_state)> on_state_change{};
  };

  struct ticket {
    bool probe = false;
    bool recorded = false;
  };

  /// Options from an integration's `circuit_breaker` section.
  static options options_from_config(const integration_config& c) {
    const circuit_breaker_settings& b = c.circuit_breaker;
    options o;
    o.window = b.window;
    o.failure_threshold = b.failure_threshold;
    o.failure_rate_threshold = b.failure_rate_threshold;
    o.window_size = b.window_size;
    o.window_duration = b.window_duration;
    o.minimum_calls = b.minimum_calls;
    o.slow_call_duration = b.slow_call_duration;
    o.slow_call_rate_threshold = b.slow_call_rate_threshold;
    o.recovery_timeout = b.recovery_timeout;
    o.half_open_max_calls = b.half_open_max_calls;
    return o;
  }

  circuit_breaker() : circuit_breaker(options{}) {}
  explicit circuit_breaker(options o) : s_(std::make_shared<shared>(std::move(o))) {}

  breaker_state state() const noexcept { return s_->st.load(std::memory_order_acquire); }
  const options& get_options() const noexcept { return s_->opts; }

  /// Forces the breaker open (rejecting every call) until reset().
  void isolate() { transition_to(breaker_state::isolated); }
  /// Closes the breaker and clears its window.
  void reset() { transition_to(breaker_state::closed); }
  /// Lets every call through without recording anything, until reset().
  void disable() { transition_to(breaker_state::disabled); }

  /// Failures recorded in the current window (consecutive count in consecutive mode).
  int failures() const noexcept { return s_->failure_count(); }

  /// The error a rejection surfaces as: errc::circuit_open whose message names the failure that
  /// opened the breaker (to_string(): "circuit breaker is open: opened by <failure>"), so callers see the cause.
  /// The message is built once, when the breaker trips; a rejection copies it (a reference count).
  error rejection(const gate& g) const noexcept {
    if (auto cause = s_->open_reason.load(std::memory_order_acquire)) {
      error e = *cause;
      if (g.ticks > 0) e.with_retry_after(std::chrono::ceil<std::chrono::milliseconds>(g.retry_after()));
      return e;
    }
    return g.to_error();
  }

  /// Reports the state and the failures counted in the current window (for status pages).
  void describe(boost::json::object& out, time_point) const {
    out["circuit_breaker"] = {{"state", to_string(state())}, {"failures", failures()}};
  }

  gate admit(attempt& a, ticket& t) noexcept {
    t = {};
    shared& s = *s_;
    for (;;) {
      breaker_state st = s.st.load(std::memory_order_acquire);
      switch (st) {
        case breaker_state::closed:
          t.recorded = true;
          if (s.opts.slow_call_duration.count() > 0) (void)a.started();  // slow calls need the true start
          return gate::proceed();
        case breaker_state::disabled:
          return gate::proceed();
        case breaker_state::isolated:
          return gate::reject(errc::circuit_open);
        case breaker_state::open: {
          const auto reopen = s.opened_at.load(std::memory_order_acquire) + s.opts.recovery_timeout.count();
          const auto now = a.approximate_start().time_since_epoch().count();  // half-open at most a tick late
          if (now < reopen) return gate::reject(errc::circuit_open, duration(reopen - now));
          if (s.st.compare_exchange_strong(st, breaker_state::half_open, std::memory_order_acq_rel)) {
            s.probes_left.store(s.opts.half_open_max_calls, std::memory_order_release);
            s.probe_successes.store(0, std::memory_order_release);
            s.notify(breaker_state::open, breaker_state::half_open);
          }
          continue;
        }
        case breaker_state::half_open: {
          if (s.probes_left.fetch_sub(1, std::memory_order_acq_rel) > 0) {
            t.probe = true;
            return gate::proceed();
          }
          s.probes_left.fetch_add(1, std::memory_order_acq_rel);
          return gate::reject(errc::circuit_open, s.opts.recovery_timeout);
        }
      }
    }
  }

  void complete(attempt& a, ticket& t, const error* e) noexcept {
    shared& s = *s_;
    const bool ignored = e && !s.opts.is_failure(*e);
    const bool failed = e && !ignored;
    if (t.probe) {
      if (ignored) {
        s.probes_left.fetch_add(1, std::memory_order_acq_rel);  // give the probe back
      } else if (failed) {
        trip(breaker_state::half_open, a.ended(), e);
      } else if (s.probe_successes.fetch_add(1, std::memory_order_acq_rel) + 1 >= s.opts.half_open_max_calls) {
        breaker_state expected = breaker_state::half_open;
        if (s.st.compare_exchange_strong(expected, breaker_state::closed, std::memory_order_acq_rel)) {
          s.clear_window();
          s.open_reason.store(nullptr, std::memory_order_release);
          s.notify(breaker_state::half_open, breaker_state::closed);
        }
      }
      return;
    }
    if (!t.recorded || ignored) return;
    const bool slow = s.opts.slow_call_duration.count() > 0 && (a.ended() - a.started()) >= s.opts.slow_call_duration;
    if (s.record(failed, slow, a)) trip(breaker_state::closed, a.ended(), e);
  }

 private:
  struct bucket {
    std::atomic<std::int64_t> epoch{-1};
    std::atomic<std::int32_t> calls{0}, failures{0}, slow{0};
  };

  struct shared {
    explicit shared(options o) : opts(std::move(o)) {
      if (opts.window == breaker_window::count) ring = std::vector<std::atomic<std::uint8_t>>(std::max(1, opts.window_size));
      if (opts.window == breaker_window::time) {
        buckets = std::vector<bucket>(time_buckets);
        bucket_width = std::max<std::int64_t>(1, opts.window_duration.count() / time_buckets);
      }
    }

    // Returns true when this outcome trips the breaker.
    bool record(bool failed, bool slow, const attempt& a) noexcept {
      switch (opts.window) {
        case breaker_window::consecutive:
          if (!failed) {
            if (consecutive.load(std::memory_order_relaxed) != 0) consecutive.store(0, std::memory_order_relaxed);
            return false;
          }
          return consecutive.fetch_add(1, std::memory_order_acq_rel) + 1 >= opts.failure_threshold;
        case breaker_window::count: {
          const std::uint8_t v = static_cast<std::uint8_t>((failed ? 1 : 0) | (slow ? 2 : 0));
          const std::uint64_t i = position.fetch_add(1, std::memory_order_acq_rel);
          const std::uint8_t old = ring[i % ring.size()].exchange(v, std::memory_order_acq_rel);
          const int df = (v & 1) - (old & 1), ds = ((v >> 1) & 1) - ((old >> 1) & 1);
          const int f = df ? window_failures.fetch_add(df, std::memory_order_acq_rel) + df
                           : window_failures.load(std::memory_order_acquire);
          const int sl = ds ? window_slow.fetch_add(ds, std::memory_order_acq_rel) + ds
                            : window_slow.load(std::memory_order_acquire);
          const std::uint64_t calls = std::min<std::uint64_t>(i + 1, ring.size());
          return verdict(static_cast<double>(calls), f, sl);
        }
        case breaker_window::time: {
          const std::int64_t b = a.ended().time_since_epoch().count() / bucket_width;
          bucket& bk = buckets[static_cast<std::size_t>(b % time_buckets)];
          std::int64_t e = bk.epoch.load(std::memory_order_acquire);
          if (e != b && bk.epoch.compare_exchange_strong(e, b, std::memory_order_acq_rel)) {
            bk.calls.store(0, std::memory_order_relaxed);
            bk.failures.store(0, std::memory_order_relaxed);
            bk.slow.store(0, std::memory_order_relaxed);
          }
          bk.calls.fetch_add(1, std::memory_order_relaxed);
          if (failed) bk.failures.fetch_add(1, std::memory_order_relaxed);
          if (slow) bk.slow.fetch_add(1, std::memory_order_relaxed);
          std::int64_t calls = 0, f = 0, sl = 0;
          for (auto& x : buckets) {
            const std::int64_t xe = x.epoch.load(std::memory_order_acquire);
            if (xe > b - time_buckets && xe <= b) {
              calls += x.calls.load(std::memory_order_relaxed);
              f += x.failures.load(std::memory_order_relaxed);
              sl += x.slow.load(std::memory_order_relaxed);
            }
          }
          return verdict(static_cast<double>(calls), static_cast<double>(f), static_cast<double>(sl));
        }
      }
      return false;
    }

    bool verdict(double calls, double failures, double slow) const noexcept {
      if (calls < opts.minimum_calls || calls <= 0) return false;
      if (failures / calls >= opts.failure_rate_threshold) return true;
      return opts.slow_call_duration.count() > 0 && slow / calls >= opts.slow_call_rate_threshold;
    }

    void clear_window() noexcept {
      consecutive.store(0, std::memory_order_relaxed);
      for (auto& r : ring) r.store(0, std::memory_order_relaxed);
      position.store(0, std::memory_order_relaxed);
      window_failures.store(0, std::memory_order_relaxed);
      window_slow.store(0, std::memory_order_relaxed);
      for (auto& b : buckets) b.epoch.store(-1, std::memory_order_relaxed);
    }

    int failure_count() const noexcept {
      switch (opts.window) {
        case breaker_window::consecutive: return consecutive.load(std::memory_order_relaxed);
        case breaker_window::count: return window_failures.load(std::memory_order_relaxed);
        case breaker_window::time: {
          std::int64_t newest = -1;
          for (auto& b : buckets) newest = std::max(newest, b.epoch.load(std::memory_order_relaxed));
          int f = 0;
          for (auto& b : buckets) {
            const std::int64_t e = b.epoch.load(std::memory_order_relaxed);
            if (e >= 0 && e > newest - time_buckets) f += b.failures.load(std::memory_order_relaxed);
          }
          return f;
        }
      }
      return 0;
    }

    void notify(breaker_state from, breaker_state to) {
      if (opts.on_state_change) opts.on_state_change(from, to);
    }

    static constexpr std::int64_t time_buckets = 10;
    options opts;
    std::atomic<breaker_state> st{breaker_state::closed};
    // Why the breaker last opened: written when it trips (rare), copied by rejections.
    std::atomic<std::shared_ptr<const error>> open_reason{};
    std::atomic<std::int64_t> opened_at{0};
    std::atomic<int> probes_left{0};
    std::atomic<int> probe_successes{0};
    std::atomic<int> consecutive{0};
    std::vector<std::atomic<std::uint8_t>> ring;
    std::atomic<std::uint64_t> position{0};
    std::atomic<int> window_failures{0}, window_slow{0};
    std::vector<bucket> buckets;
    std::int64_t bucket_width = 1;
  };

  // `cause` is the failure that trips it; null when a success trips it (a slow call).
  void trip(breaker_state from, time_point now, const error* cause) noexcept {
    shared& s = *s_;
    breaker_state expected = from;
    if (s.st.load(std::memory_order_acquire) != from) return;  // someone else already moved it
    try {
      std::string why = cause ? "opened by " + cause->to_string() : "opened by slow calls";
      s.open_reason.store(std::make_shared<const error>(errc::circuit_open, std::move(why)), std::memory_order_release);
    } catch (...) {
      s.open_reason.store(nullptr, std::memory_order_release);  // out of memory: the plain circuit_open error
    }
    s.opened_at.store(now.time_since_epoch().count(), std::memory_order_release);
    if (s.st.compare_exchange_strong(expected, breaker_state::open, std::memory_order_acq_rel)) s.notify(from, breaker_state::open);
  }

  void transition_to(breaker_state to) {
    breaker_state from = s_->st.exchange(to, std::memory_order_acq_rel);
    s_->open_reason.store(nullptr, std::memory_order_release);  // isolated, closed or disabled by hand
    if (to == breaker_state::closed) s_->clear_window();
    if (from != to) s_->notify(from, to);
  }

  std::shared_ptr<shared> s_;
};

}  // namespace intg
