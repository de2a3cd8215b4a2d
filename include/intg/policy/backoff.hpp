// Backoff schedules for intg::retry: exponential growth with a cap, and jitter (none, full,
// decorrelated), computed without allocation from an injectable random source.
#pragma once

#include <intg/core/clock.hpp>
#include <intg/core/random.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

namespace intg {

enum class jitter {
  none,         ///< base * multiplier^(n-1), capped
  full,         ///< uniform in [0, capped exponential] (AWS "full jitter")
  decorrelated  ///< uniform in [base, 3 * previous delay], capped (AWS "decorrelated jitter")
};

struct backoff {
  std::chrono::nanoseconds base_delay{std::chrono::milliseconds(100)};
  double multiplier = 2.0;
  std::chrono::nanoseconds max_delay{std::chrono::seconds(30)};
  intg::jitter jitter = intg::jitter::full;

  /// Delay before retry number `retry` (1 = first retry); `previous` is the last delay used.
  template <random_source R>
  std::chrono::nanoseconds delay(int retry, std::chrono::nanoseconds previous, R& rng) const noexcept {
    const double base = static_cast<double>(base_delay.count());
    const double cap = static_cast<double>(max_delay.count());
    double d;
    switch (jitter) {
      case intg::jitter::decorrelated: {
        double prev = std::max(base, static_cast<double>(previous.count()));
        double hi = std::max(base, prev * 3.0);
        d = base + unit_interval(rng()) * (hi - base);
        break;
      }
      case intg::jitter::full:
        d = unit_interval(rng()) * exponential(base, cap, retry);
        break;
      default:
        d = exponential(base, cap, retry);
    }
    d = std::min(d, cap);
    return std::chrono::nanoseconds(static_cast<std::int64_t>(d));
  }

 private:
  double exponential(double base, double cap, int retry) const noexcept {
    double d = base * std::pow(multiplier, std::max(0, retry - 1));
    return std::isfinite(d) ? std::min(d, cap) : cap;
  }
};

}  // namespace intg
