// intg::retry: retries failed attempts with exponential backoff and jitter, honours a server's
// Retry-After hint (never retries early), and spends from a retry budget so an outage cannot
// multiply the load on a struggling dependency.
#pragma once

#include <intg/detail/retry_budget.hpp>
#include <intg/policy/backoff.hpp>
#include <intg/core/integration_config.hpp>
#include <intg/policy/layer.hpp>
#include <intg/core/random.hpp>

#include <chrono>
#include <memory>

namespace intg {

/// The default retry predicate: transient errors (connection failures, timeouts, 429, 5xx,
/// `unavailable`). Never `circuit_open`, permanent 4xx, `invalid_grant` or the caller's cancellation.
inline bool retry_on_transient(const error& e) noexcept { return is_transient(e); }

template <random_source Random = thread_random>
class retry {
 public:
  struct options {
    int max_attempts = 3;  ///< total attempts, the first included (1 disables retrying)
    std::chrono::nanoseconds base_delay{std::chrono::milliseconds(100)};
    double multiplier = 2.0;  ///< the seed's `backoff_multiplier`
    std::chrono::nanoseconds max_delay{std::chrono::seconds(30)};
    intg::jitter jitter = intg::jitter::full;
    /// Which errors to retry; a plain function pointer so that calls never allocate.
    bool (*retry_on)(const error&) = &retry_on_transient;
    /// The longest server hint (Retry-After) we wait for; a longer one ends the call with its error.
    std::chrono::nanoseconds max_retry_after{std::chrono::seconds(60)};
    /// Retry budget: retries may add `budget_ratio` of the calls made in `budget_window`, plus
    /// `budget_min_per_second` retries per second. Set `budget_ratio` < 0 to disable the budget.
    double budget_ratio = 0.2;
    int budget_min_per_second = 10;
    std::chrono::nanoseconds budget_window{std::chrono::seconds(10)};
    Random random{};
  };

  struct ticket {
    std::chrono::nanoseconds previous{};
  };

  /// Options from an integration's `retry_policy` section.
  static options options_from_config(const integration_config& c) {
    options o;
    o.max_attempts = c.retry.max_attempts;
    o.multiplier = c.retry.backoff_multiplier;
    o.base_delay = c.retry.base_delay;
    o.max_delay = c.retry.max_delay;
    o.jitter = c.retry.jitter;
    o.budget_ratio = c.retry.budget_ratio;
    o.budget_min_per_second = c.retry.budget_min_per_second;
    o.budget_window = c.retry.budget_window;
    return o;
  }

  retry() : retry(options{}) {}
  explicit retry(options o) : state_(std::make_shared<state>(std::move(o))) {}

  const options& get_options() const noexcept { return state_->opts; }

  gate admit(attempt& a, ticket&) noexcept {
    if (state_->opts.budget_ratio >= 0) state_->budget.deposit(a.approximate_start());  // the budget counts in ~1 s slots
    return gate::proceed();
  }

  retry_decision decide(attempt& a, ticket& t, const error& e) {
    const options& o = state_->opts;
    if (a.number() >= o.max_attempts || !o.retry_on(e)) return {};
    std::chrono::nanoseconds delay =
        backoff{o.base_delay, o.multiplier, o.max_delay, o.jitter}.delay(a.number(), t.previous, state_->random);
    t.previous = delay;
    std::chrono::milliseconds hint = a.retry_after().count() >= 0 ? a.retry_after() : e.retry_after();
    if (hint.count() >= 0) {
      if (hint > o.max_retry_after) return {};  // the server wants more patience than allowed
      if (hint > delay) delay = hint;
    }
    if (o.budget_ratio >= 0 && !state_->budget.try_withdraw(a.ended())) {
      error give_up{errc::retry_budget_exhausted, "retry budget exhausted; last error: " + e.to_string()};
      give_up.with_http_status(e.http_status());
      if (e.has_retry_after()) give_up.with_retry_after(e.retry_after());
      return {false, {}, std::move(give_up)};
    }
    return {true, delay, {}};
  }

 private:
  struct state {
    explicit state(options o) : opts(std::move(o)), random(opts.random) {
      budget.configure(opts.budget_ratio, opts.budget_min_per_second, opts.budget_window);
    }
    options opts;
    Random random;
    detail::retry_budget budget;
  };
  std::shared_ptr<state> state_;
};

}  // namespace intg
