// intg::integration_config: the configuration of one integration for one tenant, in the seed's
// terms (name, category, enabled, settings, timeout, retry / rate-limit / circuit-breaker sections),
// and the tenant-wide settings of the seed's multi-tenant example.
#pragma once

#include <intg/policy/backoff.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace intg {

/// Predefined names of integration categories. Categories are open: a provider declares its
/// own (any name that is_valid_category() accepts); the dashboard groups by the ones it finds and
/// labels these in French, in this order. The first seven are the seed's.
namespace categories {
inline constexpr std::string_view external_api = "external_api";
inline constexpr std::string_view cloud_service = "cloud_service";
inline constexpr std::string_view communication = "communication";
inline constexpr std::string_view authentication = "authentication";
inline constexpr std::string_view data_pipeline = "data_pipeline";
inline constexpr std::string_view security = "security";
inline constexpr std::string_view monitoring = "monitoring";
inline constexpr std::string_view payment = "payment";
inline constexpr std::string_view music = "music";
inline constexpr std::string_view analytics = "analytics";
inline constexpr std::string_view social = "social";
inline constexpr std::string_view messaging = "messaging";

/// The predefined names with their dashboard labels, in display order.
struct predefined_entry {
  std::string_view name;
  std::string_view label;
};
inline constexpr predefined_entry predefined[] = {
    {external_api, "APIs Externes"},     {cloud_service, "Services Cloud"}, {communication, "Communication"},
    {authentication, "Authentification"}, {data_pipeline, "Pipelines Données"}, {security, "Sécurité"},
    {monitoring, "Surveillance"},        {payment, "Paiement"},             {music, "Musique"},
    {analytics, "Analytique"},           {social, "Réseaux Sociaux"},       {messaging, "Messagerie"}};
}  // namespace categories

/// A category name is 1 to 64 characters of [a-z0-9_-].
constexpr bool is_valid_category(std::string_view s) noexcept {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

/// The seed's `retry_policy` section, with the retry budget (see intg::retry<>::options).
struct retry_settings {
  int max_attempts = 3;
  double backoff_multiplier = 2.0;
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds max_delay{30'000};
  intg::jitter jitter = intg::jitter::full;
  double budget_ratio = 0.2;  ///< negative disables the budget
  int budget_min_per_second = 10;
  std::chrono::milliseconds budget_window{10'000};
};

/// The `shared` member of a `rate_limits` section: the limit counted across replicas on Redis by
/// intg::shared_rate_limiter (<intg/shared.hpp>, docs/shared_state.md).
struct shared_rate_limit_settings {
  boost::json::object redis;  ///< the Redis connection (the keys intg::redis::options::from_json reads)
  int replicas = 1;           ///< processes sharing the limit
  /// A lease holds at most this share of one window's requests, divided by `replicas`; 0: no
  /// leasing (a Redis round trip per call).
  double lease_fraction = 0.05;
  std::chrono::milliseconds window{60'000};  ///< the span over which the limit holds to within lease_fraction
  /// Share of the limit one replica admits alone while Redis is unavailable: absent, 1 / replicas;
  /// 0 rejects every call until Redis answers again (fail closed).
  std::optional<double> fallback_share;
  std::chrono::milliseconds probe_interval{1'000};  ///< how often a replica in fallback asks Redis again
  std::string route;                  ///< appended to the key (integration, tenant, route); empty: none
  std::string key_prefix = "intg:rl:";
};

/// The seed's `rate_limits` section.
struct rate_limit_settings {
  double requests_per_minute = 600;
  int burst_limit = 20;
  std::chrono::milliseconds max_wait{0};
  std::optional<shared_rate_limit_settings> shared{};  ///< counted across replicas on Redis when set
};

/// How a circuit breaker judges the dependency's health.
enum class breaker_window : std::uint8_t {
  consecutive,  ///< trip after `failure_threshold` failures in a row
  count,        ///< failure/slow rate over the last `window_size` calls
  time          ///< failure/slow rate over the last `window_duration`
};

/// The seed's `circuit_breaker` section, with the sliding window and slow-call options (see
/// intg::circuit_breaker<>::options).
/// The `shared` member of a `circuit_breaker` section: the breaker's open state shared across
/// replicas on Redis by intg::shared_circuit_breaker (<intg/shared.hpp>, docs/shared_state.md).
struct shared_breaker_settings {
  boost::json::object redis;  ///< the Redis connection (the keys intg::redis::options::from_json reads)
  std::chrono::milliseconds probe_interval{1'000};  ///< how often a replica deciding alone asks Redis again
  std::string key_prefix = "intg:cb:";              ///< keys are prefix + integration + ":" + tenant; events on prefix + "events"
};

struct circuit_breaker_settings {
  int failure_threshold = 5;
  std::chrono::milliseconds recovery_timeout{60'000};
  int half_open_max_calls = 1;
  breaker_window window = breaker_window::consecutive;
  double failure_rate_threshold = 0.5;
  int window_size = 100;
  std::chrono::milliseconds window_duration{60'000};
  int minimum_calls = 10;
  std::chrono::milliseconds slow_call_duration{0};  ///< 0 disables slow-call accounting
  double slow_call_rate_threshold = 1.0;
  std::optional<shared_breaker_settings> shared{};  ///< open state shared across replicas on Redis when set
};

/// The `bulkhead` section (see intg::bulkhead<>::options).
struct bulkhead_settings {
  int max_concurrent = 64;
  int max_queue = 0;
  std::chrono::milliseconds queue_timeout{1'000};
};

/// Whose calls a quota counts.
enum class quota_scope : std::uint8_t {
  integration,  ///< one integration's calls for one tenant
  tenant        ///< all the tenant's calls through integrations whose quota has this scope
};

/// What a shared quota does while Redis is unavailable.
enum class quota_fallback : std::uint8_t {
  count_locally,  ///< each replica counts alone, at `fallback_share` of each limit
  allow,          ///< admit every call (fail open)
  reject          ///< reject every call with errc::quota_exhausted (fail closed)
};

/// The `shared` member of a `quotas` section: the quota counted across replicas on Redis by
/// intg::shared_quota (<intg/shared.hpp>, docs/shared_state.md).
struct shared_quota_settings {
  boost::json::object redis;  ///< the Redis connection (the keys intg::redis::options::from_json reads)
  int replicas = 1;           ///< processes sharing the quota
  /// A lease holds at most this share of the smallest limit, divided by `replicas`; 0: no leasing
  /// (a Redis round trip per call).
  double lease_fraction = 0.05;
  quota_fallback on_redis_unavailable = quota_fallback::count_locally;
  /// count_locally: the share of each limit one replica admits alone; absent: 1 / replicas.
  std::optional<double> fallback_share;
  std::chrono::milliseconds probe_interval{1'000};  ///< how often a replica without Redis asks again
  std::string key_prefix = "intg:quota:";
};

/// The `quotas` section: calls allowed per calendar minute, day and month (UTC); 0 leaves a
/// period unlimited. Unlike a rate limit, which smooths bursts, a quota is an allowance: once used
/// up, calls are rejected (errc::quota_exhausted) until the period resets.
struct quota_settings {
  std::int64_t per_minute = 0;
  std::int64_t per_day = 0;
  std::int64_t per_month = 0;
  quota_scope scope = quota_scope::integration;
  std::optional<shared_quota_settings> shared{};  ///< counted across replicas on Redis when set

  bool limited() const noexcept { return per_minute > 0 || per_day > 0 || per_month > 0; }
};

/// Tenant-wide settings (the seed's `tenant_configs`).
struct tenant_settings {
  std::string id;
  std::optional<rate_limit_settings> rate_limits;  ///< applied to each of the tenant's integrations
  std::optional<quota_settings> quotas;           ///< likewise (scope `tenant`: one allowance for all of them)
  std::vector<std::string> features;
  std::string sla;  ///< e.g. "99.9%"

  bool has_feature(std::string_view f) const noexcept {
    return std::find(features.begin(), features.end(), f) != features.end();
  }
};

struct integration_config {
  std::string name;
  /// Its category (see intg::categories for the predefined names; any valid name is accepted).
  /// Empty: the one the integration type declares (a provider's `category()`), else external_api;
  /// the registry fills it in when it registers the integration.
  std::string category{};
  bool enabled = true;
  boost::json::object settings;  ///< integration-specific (client_id, scope, region, ...)
  std::chrono::milliseconds timeout{30'000};                ///< per attempt
  std::chrono::milliseconds health_check_interval{30'000};  ///< for the registry's monitor
  /// The application cannot serve without it: while it is failed or unhealthy, the health
  /// server's /readyz answers 503 (non-critical integrations never make a process unready).
  bool critical = false;
  retry_settings retry;
  rate_limit_settings rate_limits;
  circuit_breaker_settings circuit_breaker;
  bulkhead_settings bulkhead;
  quota_settings quotas;  ///< none by default
  std::string tenant;  ///< the tenant this effective configuration is for (empty: none)
  /// Keys of `settings` whose values came from secrets (`${env:NAME}`); redacted when shown.
  std::vector<std::string> secret_keys;

  /// A string setting, or `fallback` when absent or not a string.
  std::string setting(std::string_view key, std::string_view fallback = {}) const {
    if (auto* v = settings.if_contains(key); v && v->is_string()) return std::string(v->as_string());
    return std::string(fallback);
  }
  bool is_secret(std::string_view key) const noexcept {
    return std::find(secret_keys.begin(), secret_keys.end(), key) != secret_keys.end();
  }
  /// The settings with every secret value replaced by "***", safe to log or serve.
  boost::json::object redacted_settings() const {
    boost::json::object o = settings;
    for (auto& [k, v] : o)
      if (is_secret(k) || looks_secret(k)) v = "***";
    return o;
  }

 private:
  // Names that usually hold credentials, compared without case and separators ("clientSecret",
  // "API_KEY", "private-key" all match).
  static bool looks_secret(std::string_view k) {
    std::string folded;
    for (char c : k)
      if (c != '_' && c != '-' && c != '.') folded += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (std::string_view w : {"secret", "password", "passwd", "token", "privatekey", "apikey", "accesskey", "credential"})
      if (folded.find(w) != std::string::npos) return true;
    return false;
  }
};

}  // namespace intg
