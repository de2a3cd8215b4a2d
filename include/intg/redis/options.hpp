// intg::redis::options: where and how to connect to Redis, from code or from the `settings` of
// an integration_config (JSON). The password is an intg::secret: never printed, never in errors.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/integration_config.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>
#include <intg/http/tls.hpp>
#include <intg/redis/resp3.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace intg::redis {

struct options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string unix_socket{};    ///< a path: connect there instead of host:port (no TLS)
  std::string username{};       ///< ACL user; empty with a password means "default"
  intg::secret password{};
  int db = 0;                   ///< SELECTed after HELLO when not 0
  std::string client_name{};    ///< CLIENT SETNAME, through HELLO (shows in CLIENT LIST)
  bool tls = false;
  http::tls_options tls_options{};  ///< CAs, client certificate; peers are verified unless turned off there
  std::string tls_server_name{};    ///< SNI and the name the certificate must match; empty: host
  std::chrono::milliseconds connect_timeout{10'000};   ///< resolve + TCP + TLS + HELLO/SELECT
  std::chrono::milliseconds command_timeout{10'000};   ///< from a call's start to its last reply
  std::size_t max_in_flight = 4096;       ///< commands sent and unanswered; callers beyond wait (back-pressure)
  std::size_t max_queued_messages = 4096; ///< pub/sub messages waiting for receive(); beyond, new ones are dropped and counted
  std::chrono::milliseconds reconnect_backoff{100};        ///< after a failed connect; doubles per failure
  std::chrono::milliseconds max_reconnect_backoff{5'000};
  resp3::limits limits{};

  /// Reads the keys host, port, unix_socket, username, password, db, client_name, tls,
  /// tls_ca_file, tls_server_name, connect_timeout_ms, command_timeout_ms, max_in_flight,
  /// max_queued_messages, max_bulk_length; absent keys keep their defaults.
  static result<options> from_json(const boost::json::object& s) {
    options o;
    auto bad = [](std::string_view key, const char* want) {
      error e(intg::errc::config_error, "redis setting '" + std::string(key) + "' must be " + want);
      e.with_json_path("$.settings." + std::string(key));
      return e;
    };
    auto str = [&](std::string_view key, std::string& out) -> result<void> {
      if (auto* v = s.if_contains(key)) {
        if (!v->is_string()) return bad(key, "a string");
        out = std::string(v->as_string());
      }
      return {};
    };
    auto num = [&](std::string_view key, std::int64_t lo, std::int64_t hi, auto set) -> result<void> {
      if (auto* v = s.if_contains(key)) {
        if (!v->is_int64() && !v->is_uint64()) return bad(key, "an integer");
        const auto n = v->is_int64() ? v->as_int64() : static_cast<std::int64_t>(std::min<std::uint64_t>(v->as_uint64(), INT64_MAX));
        if (n < lo || n > hi) return bad(key, ("between " + std::to_string(lo) + " and " + std::to_string(hi)).c_str());
        set(n);
      }
      return {};
    };
    std::string password;
    for (auto r : {str("host", o.host), str("unix_socket", o.unix_socket), str("username", o.username),
                   str("password", password), str("client_name", o.client_name),
                   str("tls_ca_file", o.tls_options.ca_file), str("tls_server_name", o.tls_server_name)})
      if (!r) return r.error();
    if (!password.empty()) o.password = intg::secret(std::move(password));
    if (auto* v = s.if_contains("tls")) {
      if (!v->is_bool()) return bad("tls", "a boolean");
      o.tls = v->as_bool();
    }
    using ms = std::chrono::milliseconds;
    for (auto r : {num("port", 1, 65535, [&](auto n) { o.port = static_cast<std::uint16_t>(n); }),
                   num("db", 0, 1 << 20, [&](auto n) { o.db = static_cast<int>(n); }),
                   num("connect_timeout_ms", 1, 3'600'000, [&](auto n) { o.connect_timeout = ms(n); }),
                   num("command_timeout_ms", 1, 86'400'000, [&](auto n) { o.command_timeout = ms(n); }),
                   num("max_in_flight", 1, 1 << 24, [&](auto n) { o.max_in_flight = static_cast<std::size_t>(n); }),
                   num("max_queued_messages", 1, 1 << 24, [&](auto n) { o.max_queued_messages = static_cast<std::size_t>(n); }),
                   num("max_bulk_length", 1, 512ll << 20, [&](auto n) { o.limits.max_bulk_length = static_cast<std::uint64_t>(n); })})
      if (!r) return r.error();
    return o;
  }

  /// From an integration's settings (a `${env:REDIS_PASSWORD}` reference resolves as for any
  /// setting); command_timeout defaults to the integration's timeout.
  static result<options> from_config(const integration_config& c) {
    auto o = from_json(c.settings);
    if (o && !c.settings.contains("command_timeout_ms")) o->command_timeout = c.timeout;
    return o;
  }
};

}  // namespace intg::redis
