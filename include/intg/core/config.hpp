// Loading integration configuration: JSON with per-environment sections (the seed's production /
// development example) and per-tenant overrides, `${env:NAME}` substitution for secrets, and strict
// validation: unknown keys, wrong types and out-of-range values are rejected with an error that
// names the JSON path. Start-up misconfiguration throws intg::exception.
//
//   { "environments": { "production": { "integrations": { "spotify_main": {
//         "category": "music", "enabled": true, "timeout": 30, "health_check_interval": "30s",
//         "settings": { "client_id": "...", "client_secret": "${env:SPOTIFY_CLIENT_SECRET}" },
//         "retry_policy": { "max_attempts": 3, "backoff_multiplier": 2.0, "base_delay": "100ms" },
//         "rate_limits": { "requests_per_minute": 100, "burst_limit": 20 },
//         "circuit_breaker": { "failure_threshold": 5, "recovery_timeout": 60 } } } } },
//     "tenants": { "tenant_123": { "rate_limits": { "requests_per_minute": 1000 },
//         "features": ["premium_apis"], "sla": "99.9%",
//         "integrations": { "spotify_main": { "rate_limits": { "burst_limit": 50 } } } } } }
//
// Durations are numbers of seconds (the seed's units) or strings with a unit: "250ms", "30s", "2m", "1h".
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/integration_config.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace intg {

/// Looks an environment variable up; returns nullopt when unset. Injectable for tests.
using env_lookup = std::function<std::optional<std::string>(std::string_view)>;

inline std::optional<std::string> process_env(std::string_view name) {
  if (const char* v = std::getenv(std::string(name).c_str())) return std::string(v);
  return std::nullopt;
}

namespace detail {

[[noreturn]] inline void config_fail(const std::string& path, std::string what) {
  throw exception(error{errc::config_error, std::move(what)}.with_json_path(path));
}

inline std::string member_path(const std::string& parent, std::string_view key) {
  std::string p = parent;
  bool plain = !key.empty();
  for (char c : key) plain &= (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
  if (plain) {
    p += '.';
    p += key;
  } else {
    p += "[\"";
    for (char c : key) {
      if (c == '"' || c == '\\') p += '\\';
      p += c;
    }
    p += "\"]";
  }
  return p;
}

inline const boost::json::object& expect_object(const boost::json::value& v, const std::string& path) {
  if (!v.is_object()) config_fail(path, "expected an object");
  return v.get_object();
}

inline void only_keys(const boost::json::object& o, const std::string& path, std::initializer_list<std::string_view> allowed) {
  for (const auto& [k, v] : o) {
    bool ok = false;
    for (auto a : allowed) ok |= (a == std::string_view(k));
    if (!ok) config_fail(member_path(path, k), "unknown key '" + std::string(k) + "'");
  }
}

inline double expect_number(const boost::json::value& v, const std::string& path, double min, double max) {
  double d;
  if (v.is_int64()) d = static_cast<double>(v.get_int64());
  else if (v.is_uint64()) d = static_cast<double>(v.get_uint64());
  else if (v.is_double()) d = v.get_double();
  else config_fail(path, "expected a number");
  if (!std::isfinite(d) || d < min || d > max) {
    std::ostringstream os;
    os << "value " << d << " is out of range [" << min << ", " << max << "]";
    config_fail(path, os.str());
  }
  return d;
}

inline int expect_int(const boost::json::value& v, const std::string& path, int min, int max) {
  if (!v.is_int64() && !v.is_uint64()) config_fail(path, "expected an integer");
  const double d = expect_number(v, path, min, max);
  return static_cast<int>(d);
}

inline bool expect_bool(const boost::json::value& v, const std::string& path) {
  if (!v.is_bool()) config_fail(path, "expected true or false");
  return v.get_bool();
}

inline std::string expect_string(const boost::json::value& v, const std::string& path) {
  if (!v.is_string()) config_fail(path, "expected a string");
  return std::string(v.get_string());
}

/// Seconds as a number, or a string with a unit (ms, s, m, h). Non-negative, at most 30 days.
inline std::chrono::milliseconds expect_duration(const boost::json::value& v, const std::string& path) {
  constexpr double max_ms = 30.0 * 24 * 3600 * 1000;
  if (v.is_number()) {
    const double s = expect_number(v, path, 0, max_ms / 1000);
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(s * 1000)));
  }
  if (!v.is_string()) config_fail(path, "expected a duration (seconds, or a string like \"250ms\", \"30s\")");
  std::string_view s = v.get_string();
  double n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  std::string_view unit(ptr, static_cast<std::size_t>(s.data() + s.size() - ptr));
  double scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m" || unit == "min") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  if (ec != std::errc{} || ptr == s.data() || scale == 0 || !std::isfinite(n) || n < 0 || n * scale > max_ms)
    config_fail(path, "invalid duration \"" + std::string(s) + "\" (use a number of seconds or e.g. \"250ms\", \"30s\", \"2m\")");
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(n * scale)));
}

inline void substitute_env(boost::json::value& v, const std::string& path, const env_lookup& env, std::vector<std::string>& secrets,
                           std::string_view top_key);

// A string of at most `max` bytes.
inline std::string expect_short_string(const boost::json::value& v, const std::string& path, std::size_t max) {
  std::string s = expect_string(v, path);
  if (s.size() > max) config_fail(path, "longer than " + std::to_string(max) + " characters");
  return s;
}

// The `redis` member of a policy's `shared` section. Its settings are only checked to be an
// object here (with ${env:NAME} resolved): the Redis client, an optional part, reads them when the
// policy is built.
inline void read_shared_redis(const boost::json::object& o, const std::string& path, boost::json::object& out, const env_lookup& env) {
  if (auto* x = o.if_contains("redis")) {
    const std::string rp = member_path(path, "redis");
    boost::json::value copy = expect_object(*x, rp);
    std::vector<std::string> unused;
    substitute_env(copy, rp, env, unused, {});
    for (auto& [k, val] : copy.get_object()) out[k] = val;  // overrides merge key by key
  }
}

// At least 10 ms.
inline std::chrono::milliseconds expect_interval(const boost::json::value& v, const std::string& path) {
  auto d = expect_duration(v, path);
  if (d.count() < 10) config_fail(path, "must be at least 10ms");
  return d;
}

// The `shared` member of a `rate_limits` section (read by intg::shared_rate_limiter).
inline void read_shared_rate_limit(const boost::json::value& v, const std::string& path, shared_rate_limit_settings& out,
                                   const env_lookup& env) {
  const auto& o = expect_object(v, path);
  only_keys(o, path, {"redis", "replicas", "lease_fraction", "window", "fallback_share", "probe_interval", "route", "key_prefix"});
  read_shared_redis(o, path, out.redis, env);
  if (auto* x = o.if_contains("replicas")) out.replicas = expect_int(*x, member_path(path, "replicas"), 1, 100'000);
  if (auto* x = o.if_contains("lease_fraction")) out.lease_fraction = expect_number(*x, member_path(path, "lease_fraction"), 0.0, 1.0);
  if (auto* x = o.if_contains("window")) out.window = expect_interval(*x, member_path(path, "window"));
  if (auto* x = o.if_contains("fallback_share")) out.fallback_share = expect_number(*x, member_path(path, "fallback_share"), 0.0, 1.0);
  if (auto* x = o.if_contains("probe_interval")) out.probe_interval = expect_interval(*x, member_path(path, "probe_interval"));
  if (auto* x = o.if_contains("route")) out.route = expect_short_string(*x, member_path(path, "route"), 256);
  if (auto* x = o.if_contains("key_prefix")) out.key_prefix = expect_short_string(*x, member_path(path, "key_prefix"), 256);
}

inline void read_rate_limits(const boost::json::value& v, const std::string& path, rate_limit_settings& out, const env_lookup& env) {
  const auto& o = expect_object(v, path);
  only_keys(o, path, {"requests_per_minute", "burst_limit", "max_wait", "shared"});
  if (auto* x = o.if_contains("requests_per_minute")) {
    out.requests_per_minute = expect_number(*x, member_path(path, "requests_per_minute"), 0, 1e12);
    if (out.requests_per_minute <= 0) config_fail(member_path(path, "requests_per_minute"), "must be greater than 0");
  }
  if (auto* x = o.if_contains("burst_limit")) out.burst_limit = expect_int(*x, member_path(path, "burst_limit"), 1, 1'000'000'000);
  if (auto* x = o.if_contains("max_wait")) out.max_wait = expect_duration(*x, member_path(path, "max_wait"));
  if (auto* x = o.if_contains("shared")) {
    if (!out.shared) out.shared.emplace();
    read_shared_rate_limit(*x, member_path(path, "shared"), *out.shared, env);
  }
}

// The `shared` member of a `quotas` section (read by intg::shared_quota).
inline void read_shared_quota(const boost::json::value& v, const std::string& path, shared_quota_settings& out, const env_lookup& env) {
  const auto& o = expect_object(v, path);
  only_keys(o, path, {"redis", "replicas", "lease_fraction", "on_redis_unavailable", "fallback_share", "probe_interval", "key_prefix"});
  read_shared_redis(o, path, out.redis, env);
  if (auto* x = o.if_contains("replicas")) out.replicas = expect_int(*x, member_path(path, "replicas"), 1, 100'000);
  if (auto* x = o.if_contains("lease_fraction")) out.lease_fraction = expect_number(*x, member_path(path, "lease_fraction"), 0.0, 1.0);
  if (auto* x = o.if_contains("on_redis_unavailable")) {
    const std::string p = member_path(path, "on_redis_unavailable");
    const std::string w = expect_string(*x, p);
    if (w == "count_locally") out.on_redis_unavailable = quota_fallback::count_locally;
    else if (w == "allow") out.on_redis_unavailable = quota_fallback::allow;
    else if (w == "reject") out.on_redis_unavailable = quota_fallback::reject;
    else config_fail(p, "expected \"count_locally\", \"allow\" or \"reject\"");
  }
  if (auto* x = o.if_contains("fallback_share")) out.fallback_share = expect_number(*x, member_path(path, "fallback_share"), 0.0, 1.0);
  if (auto* x = o.if_contains("probe_interval")) out.probe_interval = expect_interval(*x, member_path(path, "probe_interval"));
  if (auto* x = o.if_contains("key_prefix")) out.key_prefix = expect_short_string(*x, member_path(path, "key_prefix"), 256);
}

// A quota's allowance: a whole number of calls, 0 for none.
inline std::int64_t expect_allowance(const boost::json::value& v, const std::string& path) {
  if (!v.is_int64() && !v.is_uint64()) config_fail(path, "expected a whole number of calls (0: unlimited)");
  return static_cast<std::int64_t>(expect_number(v, path, 0, 1e15));
}

inline void read_quotas(const boost::json::value& v, const std::string& path, quota_settings& out, const env_lookup& env) {
  const auto& o = expect_object(v, path);
  only_keys(o, path, {"per_minute", "per_day", "per_month", "scope", "shared"});
  if (auto* x = o.if_contains("per_minute")) out.per_minute = expect_allowance(*x, member_path(path, "per_minute"));
  if (auto* x = o.if_contains("per_day")) out.per_day = expect_allowance(*x, member_path(path, "per_day"));
  if (auto* x = o.if_contains("per_month")) out.per_month = expect_allowance(*x, member_path(path, "per_month"));
  if (auto* x = o.if_contains("scope")) {
    const std::string w = expect_string(*x, member_path(path, "scope"));
    if (w == "integration") out.scope = quota_scope::integration;
    else if (w == "tenant") out.scope = quota_scope::tenant;
    else config_fail(member_path(path, "scope"), "expected \"integration\" or \"tenant\"");
  }
  if (auto* x = o.if_contains("shared")) {
    if (!out.shared) out.shared.emplace();
    read_shared_quota(*x, member_path(path, "shared"), *out.shared, env);
  }
}

inline void read_retry(const boost::json::value& v, const std::string& path, retry_settings& out) {
  const auto& o = expect_object(v, path);
  only_keys(o, path, {"max_attempts", "backoff_multiplier", "base_delay", "max_delay", "jitter", "budget_ratio",
                      "budget_min_per_second", "budget_window"});
  if (auto* x = o.if_contains("budget_ratio")) out.budget_ratio = expect_number(*x, member_path(path, "budget_ratio"), -1.0, 100.0);
  if (auto* x = o.if_contains("budget_min_per_second"))
    out.budget_min_per_second = expect_int(*x, member_path(path, "budget_min_per_second"), 0, 1'000'000);
  if (auto* x = o.if_contains("budget_window")) {
    out.budget_window = expect_duration(*x, member_path(path, "budget_window"));
    if (out.budget_window.count() < 10) config_fail(member_path(path, "budget_window"), "must be at least 10ms");
  }
  if (auto* x = o.if_contains("max_attempts")) out.max_attempts = expect_int(*x, member_path(path, "max_attempts"), 1, 100);
  if (auto* x = o.if_contains("backoff_multiplier"))
    out.backoff_multiplier = expect_number(*x, member_path(path, "backoff_multiplier"), 1.0, 100.0);
  if (auto* x = o.if_contains("base_delay")) out.base_delay = expect_duration(*x, member_path(path, "base_delay"));
  if (auto* x = o.if_contains("max_delay")) out.max_delay = expect_duration(*x, member_path(path, "max_delay"));
  if (auto* x = o.if_contains("jitter")) {
    const std::string j = expect_string(*x, member_path(path, "jitter"));
    if (j == "none") out.jitter = jitter::none;
    else if (j == "full") out.jitter = jitter::full;
    else if (j == "decorrelated") out.jitter = jitter::decorrelated;
    else config_fail(member_path(path, "jitter"), "expected \"none\", \"full\" or \"decorrelated\"");
  }
}

// A ratio in (0, 1].
inline double expect_ratio(const boost::json::value& v, const std::string& path) {
  const double d = expect_number(v, path, 0.0, 1.0);
  if (d <= 0) config_fail(path, "must be greater than 0 (and at most 1)");
  return d;
}

// The `shared` member of a `circuit_breaker` section (read by intg::shared_circuit_breaker).
inline void read_shared_breaker(const boost::json::value& v, const std::string& path, shared_breaker_settings& out,
                                const env_lookup& env) {
  const auto& o = expect_object(v, path);
  only_keys(o, path, {"redis", "probe_interval", "key_prefix"});
  read_shared_redis(o, path, out.redis, env);
  if (auto* x = o.if_contains("probe_interval")) out.probe_interval = expect_interval(*x, member_path(path, "probe_interval"));
  if (auto* x = o.if_contains("key_prefix")) out.key_prefix = expect_short_string(*x, member_path(path, "key_prefix"), 256);
}

inline void read_breaker(const boost::json::value& v, const std::string& path, circuit_breaker_settings& out, const env_lookup& env) {
  const auto& o = expect_object(v, path);
  only_keys(o, path, {"failure_threshold", "recovery_timeout", "half_open_max_calls", "window", "failure_rate_threshold",
                      "window_size", "window_duration", "minimum_calls", "slow_call_duration", "slow_call_rate_threshold", "shared"});
  if (auto* x = o.if_contains("shared")) {
    if (!out.shared) out.shared.emplace();
    read_shared_breaker(*x, member_path(path, "shared"), *out.shared, env);
  }
  if (auto* x = o.if_contains("window")) {
    const std::string w = expect_string(*x, member_path(path, "window"));
    if (w == "consecutive") out.window = breaker_window::consecutive;
    else if (w == "count") out.window = breaker_window::count;
    else if (w == "time") out.window = breaker_window::time;
    else config_fail(member_path(path, "window"), "expected \"consecutive\", \"count\" or \"time\"");
  }
  if (auto* x = o.if_contains("failure_rate_threshold"))
    out.failure_rate_threshold = expect_ratio(*x, member_path(path, "failure_rate_threshold"));
  if (auto* x = o.if_contains("window_size")) out.window_size = expect_int(*x, member_path(path, "window_size"), 1, 1'000'000);
  if (auto* x = o.if_contains("window_duration")) out.window_duration = expect_interval(*x, member_path(path, "window_duration"));
  if (auto* x = o.if_contains("minimum_calls")) out.minimum_calls = expect_int(*x, member_path(path, "minimum_calls"), 1, 1'000'000);
  if (auto* x = o.if_contains("slow_call_duration")) out.slow_call_duration = expect_duration(*x, member_path(path, "slow_call_duration"));
  if (auto* x = o.if_contains("slow_call_rate_threshold"))
    out.slow_call_rate_threshold = expect_ratio(*x, member_path(path, "slow_call_rate_threshold"));
  if (auto* x = o.if_contains("failure_threshold"))
    out.failure_threshold = expect_int(*x, member_path(path, "failure_threshold"), 1, 1'000'000);
  if (auto* x = o.if_contains("recovery_timeout")) out.recovery_timeout = expect_duration(*x, member_path(path, "recovery_timeout"));
  if (auto* x = o.if_contains("half_open_max_calls"))
    out.half_open_max_calls = expect_int(*x, member_path(path, "half_open_max_calls"), 1, 1'000'000);
}

inline void read_bulkhead(const boost::json::value& v, const std::string& path, bulkhead_settings& out) {
  const auto& o = expect_object(v, path);
  only_keys(o, path, {"max_concurrent", "max_queue", "queue_timeout"});
  if (auto* x = o.if_contains("max_concurrent")) out.max_concurrent = expect_int(*x, member_path(path, "max_concurrent"), 1, 1'000'000);
  if (auto* x = o.if_contains("max_queue")) out.max_queue = expect_int(*x, member_path(path, "max_queue"), 0, 1'000'000);
  if (auto* x = o.if_contains("queue_timeout")) out.queue_timeout = expect_duration(*x, member_path(path, "queue_timeout"));
}

// Replaces whole-string "${env:NAME}" values in settings (recursively); records top-level secret keys.
inline void substitute_env(boost::json::value& v, const std::string& path, const env_lookup& env, std::vector<std::string>& secrets,
                           std::string_view top_key) {
  if (v.is_string()) {
    std::string_view s = v.get_string();
    if (s.starts_with("${env:") && s.ends_with("}")) {
      std::string_view name = s.substr(6, s.size() - 7);
      if (name.empty()) config_fail(path, "empty variable name in ${env:}");
      auto value = env(name);
      if (!value) config_fail(path, "environment variable " + std::string(name) + " is not set");
      v = *value;
      if (!top_key.empty() && std::find(secrets.begin(), secrets.end(), top_key) == secrets.end())
        secrets.emplace_back(top_key);
    }
  } else if (v.is_object()) {
    for (auto& [k, x] : v.get_object()) substitute_env(x, member_path(path, k), env, secrets, top_key.empty() ? std::string_view(k) : top_key);
  } else if (v.is_array()) {
    std::size_t i = 0;
    for (auto& x : v.get_array()) substitute_env(x, path + "[" + std::to_string(i++) + "]", env, secrets, top_key);
  }
}

// Applies one integration section (full or partial override) onto `cfg`.
inline void read_integration(const boost::json::value& v, const std::string& path, integration_config& cfg, const env_lookup& env) {
  const auto& o = expect_object(v, path);
  only_keys(o, path, {"category", "type", "enabled", "settings", "timeout", "health_check_interval", "retry_policy",
                      "rate_limits", "circuit_breaker", "bulkhead", "quotas"});
  // "type" is the 0.1 name of "category" (its seven values are predefined categories).
  if (o.contains("category") && o.contains("type"))
    config_fail(member_path(path, "type"), "\"type\" is the old name of \"category\": give only one of them");
  for (std::string_view key : {"category", "type"}) {
    if (auto* x = o.if_contains(key)) {
      const std::string p = member_path(path, key);
      std::string c = expect_string(*x, p);
      if (!is_valid_category(c))
        config_fail(p, "invalid category \"" + c.substr(0, 64) + "\" (expected 1 to 64 characters of a-z, 0-9, '_' and '-')");
      cfg.category = std::move(c);
    }
  }
  if (auto* x = o.if_contains("enabled")) cfg.enabled = expect_bool(*x, member_path(path, "enabled"));
  if (auto* x = o.if_contains("timeout")) cfg.timeout = expect_duration(*x, member_path(path, "timeout"));
  if (auto* x = o.if_contains("health_check_interval"))
    cfg.health_check_interval = expect_duration(*x, member_path(path, "health_check_interval"));
  if (auto* x = o.if_contains("retry_policy")) read_retry(*x, member_path(path, "retry_policy"), cfg.retry);
  if (auto* x = o.if_contains("rate_limits")) read_rate_limits(*x, member_path(path, "rate_limits"), cfg.rate_limits, env);
  if (auto* x = o.if_contains("circuit_breaker")) read_breaker(*x, member_path(path, "circuit_breaker"), cfg.circuit_breaker, env);
  if (auto* x = o.if_contains("bulkhead")) read_bulkhead(*x, member_path(path, "bulkhead"), cfg.bulkhead);
  if (auto* x = o.if_contains("quotas")) read_quotas(*x, member_path(path, "quotas"), cfg.quotas, env);
  if (auto* x = o.if_contains("settings")) {
    const std::string sp = member_path(path, "settings");
    boost::json::value copy = expect_object(*x, sp);
    substitute_env(copy, sp, env, cfg.secret_keys, {});
    for (auto& [k, val] : copy.get_object()) cfg.settings[k] = val;  // overrides merge key by key
  }
}

}  // namespace detail

/// A loaded configuration: every integration of one environment, and the tenants.
class config {
 public:
  /// Effective configuration of integration `name` for `tenant` (environment section, then the
  /// tenant's rate limits and quotas, then the tenant's overrides). Throws intg::exception (config_error)
  /// when there is no such integration.
  integration_config integration(std::string_view name, std::string_view tenant = {}) const {
    auto it = integrations_.find(std::string(name));
    if (it == integrations_.end())
      throw exception(error{errc::config_error, "no integration '" + std::string(name) + "' in environment '" + environment_ + "'"});
    integration_config cfg = it->second;
    cfg.tenant = std::string(tenant);
    if (auto t = tenants_.find(std::string(tenant)); t != tenants_.end()) {
      // The tenant's limits override only the keys they name.
      if (t->second.rate_limits_json)
        detail::read_rate_limits(*t->second.rate_limits_json, "$.tenants." + std::string(tenant) + ".rate_limits", cfg.rate_limits,
                                 env_);
      if (t->second.quotas_json)
        detail::read_quotas(*t->second.quotas_json, "$.tenants." + std::string(tenant) + ".quotas", cfg.quotas, env_);
      if (auto o = t->second.overrides.find(cfg.name); o != t->second.overrides.end())
        detail::read_integration(o->second, "$.tenants." + std::string(tenant) + ".integrations." + cfg.name, cfg, env_);
    }
    return cfg;
  }

  bool has_integration(std::string_view name) const { return integrations_.count(std::string(name)) != 0; }

  std::vector<std::string> integration_names() const {
    std::vector<std::string> v;
    for (auto& [k, _] : integrations_) v.push_back(k);
    return v;
  }

  const tenant_settings* tenant(std::string_view id) const {
    auto it = tenants_.find(std::string(id));
    return it == tenants_.end() ? nullptr : &it->second.settings;
  }

  std::vector<std::string> tenant_ids() const {
    std::vector<std::string> v;
    for (auto& [k, _] : tenants_) v.push_back(k);
    return v;
  }

  const std::string& environment() const noexcept { return environment_; }

  /// Parses a configuration document for `environment`. Throws intg::exception on bad input.
  static config parse(std::string_view json_text, std::string_view environment, env_lookup env = process_env) {
    boost::system::error_code ec;
    boost::json::value doc = boost::json::parse(json_text, ec);
    if (ec) throw exception(error{errc::config_error, "invalid JSON: " + ec.message()}.with_json_path("$"));
    config c;
    c.environment_ = std::string(environment);
    c.env_ = std::move(env);
    const auto& root = detail::expect_object(doc, "$");
    detail::only_keys(root, "$", {"environments", "tenants"});
    const auto* envs = root.if_contains("environments");
    if (!envs) detail::config_fail("$", "missing \"environments\"");
    const auto& envo = detail::expect_object(*envs, "$.environments");
    const auto* section = envo.if_contains(environment);
    if (!section) detail::config_fail("$.environments", "no environment named \"" + std::string(environment) + "\"");
    const std::string sp = detail::member_path("$.environments", environment);
    const auto& so = detail::expect_object(*section, sp);
    detail::only_keys(so, sp, {"integrations"});
    if (auto* ints = so.if_contains("integrations")) {
      const std::string ip = sp + ".integrations";
      for (const auto& [name, body] : detail::expect_object(*ints, ip)) {
        integration_config cfg;
        cfg.name = std::string(name);
        detail::read_integration(body, detail::member_path(ip, name), cfg, c.env_);
        c.integrations_.emplace(cfg.name, std::move(cfg));
      }
    }
    if (auto* ts = root.if_contains("tenants")) {
      for (const auto& [id, body] : detail::expect_object(*ts, "$.tenants")) {
        const std::string tp = detail::member_path("$.tenants", id);
        const auto& to = detail::expect_object(body, tp);
        detail::only_keys(to, tp, {"rate_limits", "quotas", "features", "sla", "integrations"});
        tenant_entry t;
        t.settings.id = std::string(id);
        if (auto* x = to.if_contains("rate_limits")) {
          rate_limit_settings r;
          detail::read_rate_limits(*x, tp + ".rate_limits", r, c.env_);
          t.settings.rate_limits = r;
          t.rate_limits_json = *x;
        }
        if (auto* x = to.if_contains("quotas")) {
          quota_settings q;
          detail::read_quotas(*x, tp + ".quotas", q, c.env_);
          t.settings.quotas = q;
          t.quotas_json = *x;
        }
        if (auto* x = to.if_contains("features")) {
          if (!x->is_array()) detail::config_fail(tp + ".features", "expected an array of strings");
          std::size_t i = 0;
          for (auto& f : x->get_array()) t.settings.features.push_back(detail::expect_string(f, tp + ".features[" + std::to_string(i++) + "]"));
        }
        if (auto* x = to.if_contains("sla")) t.settings.sla = detail::expect_string(*x, tp + ".sla");
        if (auto* x = to.if_contains("integrations")) {
          const std::string ip = tp + ".integrations";
          for (const auto& [name, body2] : detail::expect_object(*x, ip)) {
            // Tenants apply to every environment: an override may name an integration that only
            // another environment has; a name no environment has is a mistake.
            bool known = false;
            for (const auto& [env_name, env_body] : envo)
              if (env_body.is_object())
                if (auto* ints = env_body.get_object().if_contains("integrations"); ints && ints->is_object())
                  known |= ints->get_object().contains(name);
            if (!known)
              detail::config_fail(detail::member_path(ip, name), "override for unknown integration '" + std::string(name) + "'");
            // Validate now so that errors surface at load time, not at first use.
            auto base = c.integrations_.find(std::string(name));
            integration_config probe = base != c.integrations_.end() ? base->second : integration_config{};
            detail::read_integration(body2, detail::member_path(ip, name), probe, c.env_);
            t.overrides.emplace(std::string(name), body2);
          }
        }
        c.tenants_.emplace(t.settings.id, std::move(t));
      }
    }
    return c;
  }

 private:
  struct tenant_entry {
    tenant_settings settings;
    std::optional<boost::json::value> rate_limits_json;
    std::optional<boost::json::value> quotas_json;
    std::map<std::string, boost::json::value> overrides;
  };
  std::string environment_;
  env_lookup env_;
  std::map<std::string, integration_config> integrations_;
  std::map<std::string, tenant_entry> tenants_;
};

/// Reads and parses a configuration file for `environment` (see intg::config::parse).
inline config load_config(const std::filesystem::path& path, std::string_view environment, env_lookup env = process_env) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw exception(error{errc::config_error, "cannot open configuration file " + path.string()});
  std::ostringstream text;
  text << in.rdbuf();
  constexpr std::size_t max_size = 16u << 20;
  if (text.str().size() > max_size) throw exception(error{errc::config_error, "configuration file is larger than 16 MiB"});
  return config::parse(text.str(), environment, std::move(env));
}

}  // namespace intg
