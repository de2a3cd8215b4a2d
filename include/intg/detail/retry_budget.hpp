// A retry budget in the style of tower's TpsBudget and Envoy's retry_budget: every call deposits
// `ratio` of a token, every retry withdraws one, and a reserve of `min_per_second` retries per
// second keeps a fresh or quiet service retryable. Ten time slots, each one 64-bit atomic holding
// its time slot number and its balance together, so that starting a slot over never loses an
// update. No lock. A slot spans the power of two nanoseconds nearest to a tenth of the window, so
// that finding the slot is a shift rather than a division on every call.
#pragma once

#include <intg/core/clock.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace intg::detail {

class retry_budget {
 public:
  static constexpr int slots = 10;
  static constexpr std::int64_t unit = 1000;  // milli-tokens per retry

  retry_budget() noexcept {
    for (auto& w : slot_) w.store(static_cast<std::uint64_t>(bias), std::memory_order_relaxed);
  }

  void configure(double ratio, int min_per_second, std::chrono::nanoseconds window) noexcept {
    deposit_ = static_cast<std::int64_t>(ratio * unit);
    const std::int64_t want = std::max<std::int64_t>(window.count() / slots, 1);
    shift_ = 0;
    while (shift_ < 62 && (std::int64_t{1} << (shift_ + 1)) <= want) ++shift_;
    if ((std::int64_t{1} << (shift_ + 1)) - want < want - (std::int64_t{1} << shift_)) ++shift_;
    const std::int64_t window_ns = (std::int64_t{1} << shift_) * slots;
    reserve_ = static_cast<std::int64_t>(static_cast<double>(min_per_second) * unit * static_cast<double>(window_ns) / 1e9);
  }

  /// Every call: one locked add while the slot is current (a compare-and-swap once per slot).
  void deposit(time_point now) noexcept {
    const std::uint64_t s = slot_number(now);
    auto& w = slot_[static_cast<std::size_t>(s % slots)];
    std::uint64_t v = w.load(std::memory_order_relaxed);
    if (epoch_of(v) == (s & epoch_mask)) {
      w.fetch_add(static_cast<std::uint64_t>(deposit_), std::memory_order_relaxed);  // wraps into the biased balance
      return;
    }
    while (epoch_of(v) != (s & epoch_mask) && !w.compare_exchange_weak(v, pack(s, deposit_), std::memory_order_relaxed)) {
    }
    if (epoch_of(v) == (s & epoch_mask)) w.fetch_add(static_cast<std::uint64_t>(deposit_), std::memory_order_relaxed);
  }

  /// Takes one retry's worth if the budget allows it. Check and withdrawal are one compare-and-swap
  /// on the current slot, so concurrent retries cannot all pass one check and overshoot.
  bool try_withdraw(time_point now) noexcept {
    const std::uint64_t s = slot_number(now);
    auto& w = slot_[static_cast<std::size_t>(s % slots)];
    std::uint64_t v = w.load(std::memory_order_relaxed);
    for (;;) {
      const std::int64_t mine = (epoch_of(v) == (s & epoch_mask) ? value_of(v) : 0) - unit;
      if (others(s, &w) + mine + reserve_ < 0) return false;
      if (w.compare_exchange_weak(v, pack(s, mine), std::memory_order_acq_rel, std::memory_order_relaxed)) return true;
    }
  }

  std::int64_t balance(time_point now) const noexcept { return others(slot_number(now), nullptr); }

 private:
  // A slot word: the low 24 bits of its time slot number above a 40-bit balance stored with a bias
  // of 2^39 (so adding to it never carries into the slot number). A zero-initialized word reads as
  // slot 0 with a balance of -2^39: words start at `bias` instead (slot 0, balance 0).
  static constexpr int value_bits = 40;
  static constexpr std::uint64_t value_mask = (std::uint64_t{1} << value_bits) - 1;
  static constexpr std::uint64_t epoch_mask = (std::uint64_t{1} << (64 - value_bits)) - 1;
  static constexpr std::int64_t bias = std::int64_t{1} << (value_bits - 1);

  static std::uint64_t epoch_of(std::uint64_t w) noexcept { return w >> value_bits; }
  static std::int64_t value_of(std::uint64_t w) noexcept { return static_cast<std::int64_t>(w & value_mask) - bias; }
  static std::uint64_t pack(std::uint64_t s, std::int64_t value) noexcept {
    const std::int64_t v = std::clamp<std::int64_t>(value, -bias, bias - 1) + bias;
    return ((s & epoch_mask) << value_bits) | static_cast<std::uint64_t>(v);
  }

  std::uint64_t slot_number(time_point now) const noexcept {
    return static_cast<std::uint64_t>(now.time_since_epoch().count()) >> shift_;
  }

  // The balance of the window ending at slot `s`, leaving out `skip`.
  std::int64_t others(std::uint64_t s, const std::atomic<std::uint64_t>* skip) const noexcept {
    std::int64_t sum = 0;
    for (const auto& w : slot_) {
      if (&w == skip) continue;
      const std::uint64_t v = w.load(std::memory_order_relaxed);
      if (((s - epoch_of(v)) & epoch_mask) < static_cast<std::uint64_t>(slots)) sum += value_of(v);
    }
    return sum;
  }

  std::array<std::atomic<std::uint64_t>, slots> slot_{};
  std::int64_t deposit_ = 200;
  int shift_ = 30;  // 2^30 ns = 1.07 s per slot for the default 10 s window
  std::int64_t reserve_ = 100 * unit;
};

}  // namespace intg::detail
