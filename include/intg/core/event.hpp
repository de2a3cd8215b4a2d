// Structured events from intg (the registry's status changes and lifecycle failures) delivered
// to a sink the application provides: no logging library is imposed. Fields are typed; a field
// built from an intg::secret is carried as "redacted" and can never be rendered.
#pragma once

#include <intg/core/secret.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace intg {

enum class event_level : std::uint8_t { debug, info, warning, error };

inline std::string_view to_string(event_level l) noexcept {
  switch (l) {
    case event_level::debug: return "debug";
    case event_level::info: return "info";
    case event_level::warning: return "warning";
    case event_level::error: return "error";
  }
  return "info";
}

struct redacted_value {};

/// One key/value of an event. Values are views: valid only while the sink runs.
struct event_field {
  using value_type = std::variant<std::monostate, std::string_view, std::int64_t, double, bool, redacted_value>;
  std::string_view key;
  value_type value;

  event_field(std::string_view k, std::string_view v) : key(k), value(v) {}
  event_field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  event_field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  event_field(std::string_view k, std::int64_t v) : key(k), value(v) {}
  event_field(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
  event_field(std::string_view k, double v) : key(k), value(v) {}
  event_field(std::string_view k, bool v) : key(k), value(v) {}
  event_field(std::string_view k, const secret&) : key(k), value(redacted_value{}) {}
};

struct event {
  event_level level = event_level::info;
  std::string_view name;         ///< e.g. "integration.status_changed"
  std::string_view integration;  ///< may be empty
  std::string_view tenant;       ///< may be empty
  std::string_view message;
  std::span<const event_field> fields;
  std::chrono::system_clock::time_point time = std::chrono::system_clock::now();
};

/// Receives events; must be thread-safe if the registry's executor is multi-threaded.
using event_sink = std::function<void(const event&)>;

/// Renders an event as one logfmt-style line: `level=info event=... integration=... key=value`.
inline std::string format(const event& e) {
  std::string out = "level=";
  out += to_string(e.level);
  auto put = [&](std::string_view k, std::string_view v) {
    out += ' ';
    out += k;
    out += '=';
    const bool quote = v.empty() || v.find_first_of(" \"=") != std::string_view::npos;
    if (quote) out += '"';
    for (char c : v) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    if (quote) out += '"';
  };
  put("event", e.name);
  if (!e.integration.empty()) put("integration", e.integration);
  if (!e.tenant.empty()) put("tenant", e.tenant);
  for (const auto& f : e.fields) {
    std::visit(
        [&](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::monostate>) put(f.key, "");
          else if constexpr (std::is_same_v<V, std::string_view>) put(f.key, v);
          else if constexpr (std::is_same_v<V, bool>) put(f.key, v ? "true" : "false");
          else if constexpr (std::is_same_v<V, redacted_value>) put(f.key, secret::redacted);
          else put(f.key, std::to_string(v));
        },
        f.value);
  }
  if (!e.message.empty()) put("msg", e.message);
  return out;
}

}  // namespace intg
