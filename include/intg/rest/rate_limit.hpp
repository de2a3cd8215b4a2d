// intg::rest proactive rate limiting from response headers: when a window's remaining count
// reaches 0 (or the provider answers 429), the tenant's next calls in that bucket wait until the
// reset instead of collecting 429s. Buckets: one per client (tenant connection), one per
// operation, or the one a bucket header names (per-route limits). Several windows at once (per
// second and per day): a call waits for the latest reset of the exhausted ones.
#pragma once

#include <intg/core/clock.hpp>
#include <intg/http/message.hpp>
#include <intg/rest/errors.hpp>
#include <intg/rest/provider.hpp>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace intg::rest {

/// The blocked buckets of one client. Not thread-safe (like the client).
class header_limits {
 public:
  explicit header_limits(rate_limit_headers cfg = {}) : cfg_(cfg) {}

  /// Until when calls of `operation` must wait; nullopt when they may go now.
  std::optional<time_point> blocked_until(std::string_view operation, time_point now) {
    auto it = blocked_.find(bucket_of(operation));
    if (it == blocked_.end()) return std::nullopt;
    if (it->second <= now) {
      blocked_.erase(it);
      return std::nullopt;
    }
    return it->second;
  }

  /// Reads an answer's headers: an exhausted window blocks its bucket until the reset.
  void observe(std::string_view operation, const http::response& res, time_point now,
               std::chrono::system_clock::time_point wall_now) {
    if (!cfg_.bucket.empty())
      if (auto b = res.find(cfg_.bucket); b != res.end()) route_[std::string(operation)] = std::string(b->value());
    std::chrono::milliseconds wait{-1};
    for (const auto& w : cfg_.windows) {
      if (w.remaining.empty()) continue;
      auto rem = res.find(w.remaining);
      if (rem == res.end()) continue;
      auto n = detail::seconds_of(rem->value());
      if (!n || *n > 0) continue;
      auto reset = res.find(w.reset);
      if (reset == res.end()) continue;
      wait = std::max(wait, reset_delay(reset->value(), wall_now));
    }
    if (wait.count() > 0) block(operation, now + wait);
  }

  /// Blocks `operation`'s bucket until `until` (a 429's retry-after, say).
  void block(std::string_view operation, time_point until) {
    auto& t = blocked_[bucket_of(operation)];
    if (t < until) t = until;
  }

  const rate_limit_headers& config() const noexcept { return cfg_; }

 private:
  std::string bucket_of(std::string_view operation) const {
    if (auto it = route_.find(std::string(operation)); it != route_.end()) return "bucket:" + it->second;
    return cfg_.per_operation ? "op:" + std::string(operation) : std::string();
  }

  rate_limit_headers cfg_;
  std::map<std::string, time_point> blocked_;
  std::map<std::string, std::string> route_;  // operation -> bucket named by the provider
};

}  // namespace intg::rest
