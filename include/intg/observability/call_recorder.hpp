// Per-integration call accounting: a span_observer that counts one integration's calls by outcome,
// sums their latency for the status report and the dashboard, and feeds the Prometheus metrics.
// The registry makes one per integration; plug it into the tracing policy's `observer`.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/health.hpp>
#include <intg/observability/metrics.hpp>
#include <intg/policy/circuit_breaker.hpp>
#include <intg/policy/tracing.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <limits>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace intg {

/// Call outcomes to show next to the registry's state.
struct call_totals {
  std::uint64_t calls = 0;
  std::uint64_t succeeded = 0;
  std::chrono::microseconds total_latency{0};
  std::uint64_t failed = 0;    ///< the dependency failed (errors, timeouts, after retries)
  std::uint64_t rejected = 0;  ///< refused locally: open breaker, rate limit, full bulkhead, cancelled

  call_totals& operator+=(const call_totals& o) noexcept {
    calls += o.calls;
    succeeded += o.succeeded;
    total_latency += o.total_latency;
    failed += o.failed;
    rejected += o.rejected;
    return *this;
  }
  /// Share of calls that succeeded, in [0, 1]; NaN when there were no calls (reports show n/a,
  /// JSON null): no calls is no evidence of success.
  double success_rate() const noexcept {
    return calls ? static_cast<double>(succeeded) / static_cast<double>(calls) : std::numeric_limits<double>::quiet_NaN();
  }
  std::chrono::microseconds average_latency() const noexcept {
    return calls ? total_latency / static_cast<std::int64_t>(calls) : std::chrono::microseconds{0};
  }
};

namespace observability {

/// The metric families the registry maintains for its integrations.
struct integration_metrics {
  explicit integration_metrics(metrics_registry& r)
      : calls(r.add_counter("intg_calls_total", "Calls through an integration's pipeline, by outcome.",
                            {"integration", "tenant", "outcome"})),
        call_duration(r.add_histogram("intg_call_duration_seconds",
                                      "Duration of calls through an integration's pipeline, retries included.",
                                      {"integration", "tenant"})),
        checks(r.add_counter("intg_health_checks_total", "Health checks run by the registry, by outcome.",
                             {"integration", "tenant", "outcome"})),
        check_duration(r.add_histogram("intg_health_check_duration_seconds", "Duration of health checks.",
                                       {"integration", "tenant"})),
        status(r.add_gauge("intg_integration_status", "1 for the integration's current status, 0 for the others.",
                           {"integration", "tenant", "status"})),
        breaker_state(r.add_gauge("intg_circuit_breaker_state", "1 for the circuit breaker's current state, 0 for the others.",
                                  {"integration", "tenant", "state"})),
        breaker_transitions(r.add_counter("intg_circuit_breaker_transitions_total",
                                          "Circuit breaker state changes, by the state left and the state entered.",
                                          {"integration", "tenant", "from", "to"})),
        quota_limit(r.add_gauge("intg_quota_limit", "Calls a quota allows per calendar period (UTC).",
                                {"integration", "tenant", "period"})),
        quota_remaining(r.add_gauge("intg_quota_remaining",
                                    "Calls a quota still allows in the current period (cluster-wide when shared, as last reported).",
                                    {"integration", "tenant", "period"})) {}

  /// Sets the breaker state set of one integration: 1 for `current`, 0 for the others.
  void set_breaker_state(std::string_view integration, std::string_view tenant, std::string_view current) {
    for (auto st : {intg::breaker_state::closed, intg::breaker_state::open, intg::breaker_state::half_open,
                    intg::breaker_state::isolated, intg::breaker_state::disabled})
      breaker_state.with({integration, tenant, to_string(st)}).set(to_string(st) == current ? 1.0 : 0.0);
  }

  family<counter>& calls;
  family<histogram>& call_duration;
  family<counter>& checks;
  family<histogram>& check_duration;
  family<gauge>& status;
  family<gauge>& breaker_state;
  family<counter>& breaker_transitions;
  family<gauge>& quota_limit;
  family<gauge>& quota_remaining;
};

/// Counts one integration's calls (call spans only; attempt spans are ignored). Thread-safe and
/// allocation-free per call: the metric children are looked up once, here.
class call_recorder final : public span_observer, public std::enable_shared_from_this<call_recorder> {
 public:
  call_recorder() = default;
  call_recorder(integration_metrics& m, std::string_view integration, std::string_view tenant)
      : success_(&m.calls.with({integration, tenant, "success"})),
        failure_(&m.calls.with({integration, tenant, "failure"})),
        rejected_(&m.calls.with({integration, tenant, "rejected"})),
        duration_(&m.call_duration.with({integration, tenant})),
        metrics_(&m),
        integration_(integration),
        tenant_(tenant) {}

  /// For `circuit_breaker<>::options::on_state_change`: counts the breaker's transitions
  /// (intg_circuit_breaker_transitions_total) and keeps intg_circuit_breaker_state current. Keeps
  /// this recorder alive; a no-op without metrics. Transitions are rare: the lookups are fine.
  std::function<void(breaker_state, breaker_state)> breaker_listener() {
    return [self = shared_from_this()](breaker_state from, breaker_state to) {
      if (!self->metrics_) return;
      self->metrics_->breaker_transitions.with({self->integration_, self->tenant_, to_string(from), to_string(to)}).inc();
      self->metrics_->set_breaker_state(self->integration_, self->tenant_, to_string(to));
    };
  }

  void on_span_end(const span_record& s) noexcept override {
    if (s.kind != span_kind::call) return;
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(s.elapsed()).count();
    calls_.fetch_add(1, std::memory_order_relaxed);
    micros_.fetch_add(static_cast<std::uint64_t>(us < 0 ? 0 : us), std::memory_order_relaxed);
    counter* c = success_;
    if (s.ok()) {
      ok_.fetch_add(1, std::memory_order_relaxed);
    } else if (is_local_rejection(*s.outcome)) {
      rejected_n_.fetch_add(1, std::memory_order_relaxed);
      c = rejected_;
    } else {
      failed_.fetch_add(1, std::memory_order_relaxed);
      c = failure_;
    }
    if (c) c->inc();
    if (duration_) duration_->observe(static_cast<double>(us) / 1e6);
  }

  call_totals totals() const noexcept {
    call_totals t;
    t.calls = calls_.load(std::memory_order_relaxed);
    t.succeeded = ok_.load(std::memory_order_relaxed);
    t.failed = failed_.load(std::memory_order_relaxed);
    t.rejected = rejected_n_.load(std::memory_order_relaxed);
    t.total_latency = std::chrono::microseconds(static_cast<std::int64_t>(micros_.load(std::memory_order_relaxed)));
    return t;
  }

 private:
  std::atomic<std::uint64_t> calls_{0}, ok_{0}, failed_{0}, rejected_n_{0}, micros_{0};
  counter* success_ = nullptr;
  counter* failure_ = nullptr;
  counter* rejected_ = nullptr;
  histogram* duration_ = nullptr;
  integration_metrics* metrics_ = nullptr;
  std::string integration_, tenant_;
};

}  // namespace observability
}  // namespace intg
