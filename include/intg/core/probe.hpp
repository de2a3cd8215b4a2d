// intg::probe_pipeline: the stack a health check runs its probe through. Only a timeout: no retry,
// no circuit breaker, no rate limiter, no bulkhead, no tracing. A probe so neither spends the
// tenant's quota, nor is refused by the breaker it is meant to probe, nor counts as a call.
#pragma once

#include <intg/core/integration_config.hpp>
#include <intg/core/pipeline.hpp>
#include <intg/policy/timeout.hpp>

namespace intg {

/// The probe stack on clock `Clock` (the integration's pipeline's clock, so tests drive both).
template <clock Clock = steady_clock>
using basic_probe_pipeline = basic_pipeline<Clock, timeout<>>;

/// The probe stack on the real clock.
using probe_pipeline = basic_probe_pipeline<steady_clock>;

/// A probe stack for `pipeline`'s clock, bounded by the integration's per-attempt timeout. Use it
/// in `health_check()`: `co_await probe.execute(op)` where the calls use `pipeline.execute(op)`.
template <class Pipeline>
basic_probe_pipeline<typename Pipeline::clock_type> make_probe_pipeline(const Pipeline& pipeline, const integration_config& c) {
  return basic_probe_pipeline<typename Pipeline::clock_type>(pipeline.clock(), timeout<>::options_from_config(c));
}

}  // namespace intg
