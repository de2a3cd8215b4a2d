// A retry budget in the style of tower's TpsBudget and Envoy's retry_budget: every call deposits
// `ratio` of a token, every retry withdraws one, and a reserve of `min_per_second` retries per
// second keeps a fresh or quiet service retryable. Ten time slots of atomics, no lock. A slot
// spans the power of two nanoseconds nearest to a tenth of the window, so that finding the slot
// is a shift rather than a division on every call.
#pragma once

#include <intg/clock.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace intg::detail {

class retry_budget {
 public:
  static constexpr int slots = 10;
  static constexpr std::int64_t unit = 1000;  // milli-tokens per retry

  void configure(double ratio, int min_per_second, std::chrono::nanoseconds window) noexcept {
    deposit_ = static_cast<std::int64_t>(ratio * unit);
    const std::int64_t want = std::max<std::int64_t>(window.count() / slots, 1);
    shift_ = 0;
    while (shift_ < 62 && (std::int64_t{1} << (shift_ + 1)) <= want) ++shift_;
    if ((std::int64_t{1} << (shift_ + 1)) - want < want - (std::int64_t{1} << shift_)) ++shift_;
    const std::int64_t window_ns = (std::int64_t{1} << shift_) * slots;
    reserve_ = static_cast<std::int64_t>(static_cast<double>(min_per_second) * unit * static_cast<double>(window_ns) / 1e9);
  }

  void deposit(time_point now) noexcept { add(now, deposit_); }

  /// Takes one retry's worth if the budget allows it. Withdraws first and checks after (giving
  /// the token back when the balance went below the reserve), so concurrent retries cannot all
  /// pass one check and overshoot: the last withdrawal in the slot's order sees every earlier one.
  bool try_withdraw(time_point now) noexcept {
    const std::int64_t s = now.time_since_epoch().count() >> shift_;
    slot& sl = current(s);
    const std::int64_t mine = sl.value.fetch_add(-unit, std::memory_order_acq_rel) - unit;
    if (others(s, &sl) + mine + reserve_ >= 0) return true;
    sl.value.fetch_add(unit, std::memory_order_relaxed);
    return false;
  }

  std::int64_t balance(time_point now) const noexcept { return others(now.time_since_epoch().count() >> shift_, nullptr); }

 private:
  struct slot {
    std::atomic<std::int64_t> epoch{-1};
    std::atomic<std::int64_t> value{0};
  };

  // The slot for time slot `s`; a stale one starts over (approximate under races at the boundary).
  slot& current(std::int64_t s) noexcept {
    slot& sl = slot_[static_cast<std::size_t>(s % slots)];
    std::int64_t e = sl.epoch.load(std::memory_order_relaxed);
    if (e != s && sl.epoch.compare_exchange_strong(e, s, std::memory_order_relaxed)) sl.value.store(0, std::memory_order_relaxed);
    return sl;
  }

  // The balance of the window ending at slot `s`, leaving out `skip`.
  std::int64_t others(std::int64_t s, const slot* skip) const noexcept {
    std::int64_t sum = 0;
    for (const auto& sl : slot_) {
      if (&sl == skip) continue;
      const std::int64_t e = sl.epoch.load(std::memory_order_relaxed);
      if (e > s - slots && e <= s) sum += sl.value.load(std::memory_order_relaxed);
    }
    return sum;
  }

  void add(time_point now, std::int64_t amount) noexcept {
    current(now.time_since_epoch().count() >> shift_).value.fetch_add(amount, std::memory_order_relaxed);  // a locked add: cheap
  }

  std::array<slot, slots> slot_{};
  std::int64_t deposit_ = 200;
  int shift_ = 30;  // 2^30 ns = 1.07 s per slot for the default 10 s window
  std::int64_t reserve_ = 100 * unit;
};

}  // namespace intg::detail
