// intg::timeout: a deadline per attempt (inside intg::retry) or per call (outside it). When it
// passes, the attempt's cancellation signal fires, so the operation's bound async calls really
// stop (Asio per-operation cancellation), and the attempt ends with errc::timeout.
#pragma once

#include <intg/core/integration_config.hpp>
#include <intg/policy/layer.hpp>

#include <chrono>

namespace intg {

template <class Tag = void>
class timeout {
 public:
  struct options {
    std::chrono::nanoseconds per_attempt{std::chrono::seconds(30)};  ///< <= 0 disables the deadline
  };

  /// Options from an integration's `timeout`.
  static options options_from_config(const integration_config& c) { return options{c.timeout}; }

  timeout() = default;
  explicit timeout(options o) : opts_(o) {}

  const options& get_options() const noexcept { return opts_; }

  gate admit(attempt& a, no_ticket&) noexcept {
    if (opts_.per_attempt.count() > 0) {
      (void)a.approximate_start();  // the deadline counts from the attempt's start, not from its first wait
      a.tighten_timeout(opts_.per_attempt);
    }
    return gate::proceed();
  }

 private:
  options opts_{};
};

}  // namespace intg
