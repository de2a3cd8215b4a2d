// intg::rest proactive rate limiting from response headers: when a window's remaining count
// reaches 0 (or the provider answers 429), the tenant's next calls in that bucket wait until the
// reset instead of collecting 429s. Buckets: one per client (tenant connection), one per
// operation, or the one a bucket header names (per-route limits, shared by the routes the
// provider puts in the same bucket); each split by the operation's major parameters (a channel's
// limits are not another channel's). Several windows at once (per second and per day): a call
// waits for the latest reset of the exhausted ones. A global 429 blocks every bucket. Answers that
// count against a provider's cap on invalid requests are counted, and calls are refused before
// the cap is reached.
#pragma once

#include <intg/core/clock.hpp>
#include <intg/http/message.hpp>
#include <intg/rest/errors.hpp>
#include <intg/rest/provider.hpp>

#include <boost/json/value.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace intg::rest {

/// The major-parameter part of a bucket key: the first `n` path arguments, hashed (a webhook's
/// token is one of them: the key must not keep it); empty when `n` is 0.
inline std::string major_key(const std::string_view* args, std::size_t n) {
  if (n == 0) return {};
  std::string joined;
  for (std::size_t i = 0; i < n; ++i) {
    joined += args[i];
    joined += '/';
  }
  return std::to_string(std::hash<std::string>{}(joined));
}

/// The blocked buckets of one client. Not thread-safe (like the client).
class header_limits {
 public:
  explicit header_limits(rate_limit_headers cfg = {}) : cfg_(cfg), invalid_cap_(cfg.invalid.max) {}

  /// Until when calls of `operation` (with major parameters `major`) must wait; nullopt when they may go now.
  std::optional<time_point> blocked_until(std::string_view operation, std::string_view major, time_point now) {
    std::optional<time_point> out;
    if (global_ > now) out = global_;
    auto it = blocked_.find(bucket_of(operation, major));
    if (it == blocked_.end()) return out;
    if (it->second <= now) {
      blocked_.erase(it);
      return out;
    }
    return out ? std::max(*out, it->second) : it->second;
  }
  std::optional<time_point> blocked_until(std::string_view operation, time_point now) { return blocked_until(operation, {}, now); }

  /// Reads an answer's headers: the bucket it names, an exhausted window blocks the bucket until
  /// the reset, an invalid request is counted.
  void observe(std::string_view operation, std::string_view major, const http::response& res, time_point now,
               std::chrono::system_clock::time_point wall_now) {
    if (!cfg_.bucket.empty())
      if (auto b = res.find(cfg_.bucket); b != res.end()) route_[std::string(operation)] = std::string(b->value());
    count_invalid(res, now);
    // One entry per bucket and major parameter (channel): forget the expired ones now and then.
    if (blocked_.size() > 1024) std::erase_if(blocked_, [&](const auto& b) { return b.second <= now; });
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
    if (wait.count() > 0) block(operation, major, now + wait);
  }
  void observe(std::string_view operation, const http::response& res, time_point now, std::chrono::system_clock::time_point wall_now) {
    observe(operation, {}, res, now, wall_now);
  }

  /// Blocks `operation`'s bucket until `until` (a 429's retry-after, say).
  void block(std::string_view operation, std::string_view major, time_point until) {
    auto& t = blocked_[bucket_of(operation, major)];
    if (t < until) t = until;
  }
  void block(std::string_view operation, time_point until) { block(operation, {}, until); }
  /// Blocks every bucket until `until` (a global 429).
  void block_all(time_point until) { global_ = std::max(global_, until); }

  /// Whether a 429 says it is global (the provider's global header or body member).
  bool global(const http::response& res, const boost::json::value* body) const {
    if (!cfg_.global.empty())
      if (auto it = res.find(cfg_.global); it != res.end() && boost::beast::iequals(it->value(), "true")) return true;
    if (body && !cfg_.global_body.empty())
      if (const auto* g = detail::at(*body, cfg_.global_body); g && g->is_bool() && g->get_bool()) return true;
    return false;
  }

  /// The cap on invalid requests in the provider's window (default: the provider's own limit);
  /// calls are refused once `cap` are counted. 0 turns the count off.
  void invalid_cap(std::size_t cap) noexcept { invalid_cap_ = cap; }
  std::size_t invalid_cap() const noexcept { return invalid_cap_; }
  /// Invalid requests counted in the current window.
  std::size_t invalid_count(time_point now) {
    expire(now);
    return invalid_.size();
  }
  /// When sending is refused (the cap is reached): until when; nullopt otherwise.
  std::optional<time_point> invalid_refused_until(time_point now) {
    if (invalid_cap_ == 0) return std::nullopt;
    expire(now);
    if (invalid_.size() < invalid_cap_) return std::nullopt;
    return invalid_[invalid_.size() - invalid_cap_] + cfg_.invalid.window;
  }

  const rate_limit_headers& config() const noexcept { return cfg_; }

 private:
  std::string bucket_of(std::string_view operation, std::string_view major) const {
    std::string key;
    if (auto it = route_.find(std::string(operation)); it != route_.end()) key = "bucket:" + it->second;
    else if (cfg_.per_operation) key = "op:" + std::string(operation);
    if (!major.empty()) key += "|" + std::string(major);
    return key;
  }
  void count_invalid(const http::response& res, time_point now) {
    if (invalid_cap_ == 0) return;
    const int status = static_cast<int>(res.result_int());
    if (std::find(cfg_.invalid.statuses.begin(), cfg_.invalid.statuses.end(), status) == cfg_.invalid.statuses.end()) return;
    if (!cfg_.invalid.scope.empty())
      if (auto it = res.find(cfg_.invalid.scope); it != res.end() && boost::beast::iequals(it->value(), cfg_.invalid.exempt)) return;
    expire(now);
    invalid_.push_back(now);
    while (invalid_.size() > invalid_cap_) invalid_.pop_front();  // bounded: only the newest `cap` matter
  }
  void expire(time_point now) {
    while (!invalid_.empty() && invalid_.front() + cfg_.invalid.window <= now) invalid_.pop_front();
  }

  rate_limit_headers cfg_;
  std::map<std::string, time_point> blocked_;
  std::map<std::string, std::string> route_;  // operation -> bucket named by the provider
  time_point global_{};
  std::size_t invalid_cap_ = 0;
  std::deque<time_point> invalid_;  // when each counted invalid answer came, oldest first
};

}  // namespace intg::rest
