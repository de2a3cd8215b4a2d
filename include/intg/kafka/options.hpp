// intg::kafka::options: where the cluster is and how producers and consumers behave, from code
// or from the `settings` of an integration_config. librdkafka properties pass through as they are
// (SASL, TLS, batching); those holding secrets are intg::secret and never appear in logs or errors.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/integration_config.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>

#include <boost/json/object.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace intg::kafka {

/// A topic's partition.
struct topic_partition {
  std::string topic;
  std::int32_t partition = 0;
  friend bool operator==(const topic_partition&, const topic_partition&) = default;
};

/// librdkafka properties that hold secrets (librdkafka's own "sensitive" ones), and any property
/// whose name says password or secret.
inline bool is_secret_property(std::string_view name) noexcept {
  for (std::string_view s : {"sasl.password", "ssl.key.password", "ssl.key.pem", "ssl.keystore.password",
                             "sasl.oauthbearer.config", "sasl.oauthbearer.client.secret"})
    if (name == s) return true;
  return name.find("password") != std::string_view::npos || name.find("secret") != std::string_view::npos;
}

struct options {
  std::string bootstrap_servers{};  ///< "host:9092,host2:9092" (required)
  std::string client_id = "intg";
  std::string group_id{};           ///< consumers only (required there)

  /// librdkafka properties, applied after intg's defaults ("security.protocol", "sasl.mechanism",
  /// "sasl.username", "ssl.ca.location", "linger.ms", "partition.assignment.strategy", ...).
  /// The properties intg manages (see docs/kafka.md) are refused here.
  std::vector<std::pair<std::string, std::string>> properties{};
  /// Properties whose values are secrets ("sasl.password", "ssl.key.password"): never logged,
  /// never in an error (a refused value is reported without librdkafka's text, which quotes it).
  std::vector<std::pair<std::string, intg::secret>> secret_properties{};

  /// Producer: messages queued or awaiting their delivery report. A sender beyond it waits for a
  /// report (back-pressure: a stalled cluster slows producers instead of growing memory). Also
  /// librdkafka's queue.buffering.max.messages.
  std::size_t max_queued_messages = 10'000;
  /// Consumer: messages received and not yet acknowledged, plus those fetched and not yet
  /// received. At the bound the consumer pauses its partitions; it resumes at half.
  std::size_t max_in_flight = 1'000;
  /// Consumer: acknowledged offsets are committed this long after the first unacknowledged
  /// ack (0: only by commit(), before a revocation and on close).
  std::chrono::milliseconds commit_interval{1'000};
  /// Consumer: where a group without a committed offset starts ("earliest" or "latest").
  std::string auto_offset_reset = "earliest";
  /// Producer: how long close() waits for outstanding deliveries; consumer: for the final commit
  /// and leaving the group.
  std::chrono::milliseconds close_timeout{30'000};

  /// librdkafka's log lines (syslog levels: 3 error ... 7 debug), called on the executor. Unset:
  /// dropped (errors reach callers as error values and health reports anyway).
  std::function<void(int level, std::string_view facility, std::string_view message)> on_log{};
  /// Consumer: partitions assigned to this consumer, after it took them.
  std::function<void(const std::vector<topic_partition>&)> on_assign{};
  /// Consumer: partitions about to be taken away. Acks made inside this callback are still
  /// committed: the consumer commits what is acknowledged right after it returns.
  std::function<void(const std::vector<topic_partition>&)> on_revoke{};

  /// Reads bootstrap_servers, client_id, group_id, max_queued_messages, max_in_flight,
  /// commit_interval_ms, auto_offset_reset, close_timeout_ms, sasl_password (a shorthand for the
  /// property) and properties (an object of strings, numbers or booleans). Properties that are
  /// secrets (is_secret_property) go to secret_properties. Absent keys keep their defaults.
  static result<options> from_json(const boost::json::object& s) {
    options o;
    auto bad = [](std::string_view key, const std::string& want) {
      error e(intg::errc::config_error, "kafka setting '" + std::string(key) + "' must be " + want);
      e.with_json_path("$.settings." + std::string(key));
      return e;
    };
    for (const auto& kv : s) {
      const std::string_view key = kv.key();
      const boost::json::value& v = kv.value();  // not a structured binding: clang 14 cannot capture those
      auto str = [&](std::string& out) -> result<void> {
        if (!v.is_string()) return bad(key, "a string");
        out = std::string(v.as_string());
        return {};
      };
      auto num = [&](std::int64_t lo, std::int64_t hi) -> result<std::int64_t> {
        if (!v.is_int64() && !v.is_uint64()) return bad(key, "an integer");
        const auto n = v.is_int64() ? v.as_int64() : static_cast<std::int64_t>(std::min<std::uint64_t>(v.as_uint64(), INT64_MAX));
        if (n < lo || n > hi) return bad(key, "between " + std::to_string(lo) + " and " + std::to_string(hi));
        return n;
      };
      result<void> r;
      if (key == "bootstrap_servers") r = str(o.bootstrap_servers);
      else if (key == "client_id") r = str(o.client_id);
      else if (key == "group_id") r = str(o.group_id);
      else if (key == "auto_offset_reset") {
        r = str(o.auto_offset_reset);
        if (r && o.auto_offset_reset != "earliest" && o.auto_offset_reset != "latest") r = bad(key, "\"earliest\" or \"latest\"");
      } else if (key == "sasl_password") {
        std::string p;
        r = str(p);
        if (r) o.secret_properties.emplace_back("sasl.password", intg::secret(std::move(p)));
      } else if (key == "max_queued_messages" || key == "max_in_flight") {
        auto n = num(1, 10'000'000);
        if (!n) return n.error();
        (key == "max_in_flight" ? o.max_in_flight : o.max_queued_messages) = static_cast<std::size_t>(*n);
      } else if (key == "commit_interval_ms" || key == "close_timeout_ms") {
        auto n = num(key == "commit_interval_ms" ? 0 : 1, 3'600'000);
        if (!n) return n.error();
        (key == "commit_interval_ms" ? o.commit_interval : o.close_timeout) = std::chrono::milliseconds(*n);
      } else if (key == "properties") {
        if (!v.is_object()) return bad(key, "an object of librdkafka properties");
        for (const auto& [pk, pv] : v.as_object()) {
          std::string value;
          if (pv.is_string()) value = std::string(pv.as_string());
          else if (pv.is_bool()) value = pv.as_bool() ? "true" : "false";
          else if (pv.is_int64()) value = std::to_string(pv.as_int64());
          else if (pv.is_uint64()) value = std::to_string(pv.as_uint64());
          else {
            error e(intg::errc::config_error, "kafka property '" + std::string(pk) + "' must be a string, a number or a boolean");
            e.with_json_path("$.settings.properties." + std::string(pk));
            return e;
          }
          if (is_secret_property(pk)) o.secret_properties.emplace_back(std::string(pk), intg::secret(std::move(value)));
          else o.properties.emplace_back(std::string(pk), std::move(value));
        }
      }
      // Other keys belong to the application (the registry passes every setting).
      if (!r) return r.error();
    }
    return o;
  }

  /// From an integration's settings (`${env:KAFKA_PASSWORD}` references resolve as for any setting).
  static result<options> from_config(const integration_config& c) { return from_json(c.settings); }
};

}  // namespace intg::kafka
