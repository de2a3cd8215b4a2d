// Integration status and health reports.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace intg {

/// Lifecycle and health of an integration (the seed's IntegrationStatus plus lifecycle states).
enum class integration_status : std::uint8_t {
  registered,    ///< registered, not yet enabled
  initializing,  ///< initialize() is running
  healthy,       ///< working normally
  degraded,      ///< working, but a check failed or reported trouble
  unhealthy,     ///< failing: several checks in a row failed
  failed,        ///< initialize() failed or timed out
  disabled,      ///< disabled by configuration or by disable()
  unknown,       ///< initialized, not checked yet: neither healthy nor unhealthy
};

inline std::string_view to_string(integration_status s) noexcept {
  switch (s) {
    case integration_status::registered: return "registered";
    case integration_status::initializing: return "initializing";
    case integration_status::healthy: return "healthy";
    case integration_status::degraded: return "degraded";
    case integration_status::unhealthy: return "unhealthy";
    case integration_status::failed: return "failed";
    case integration_status::disabled: return "disabled";
    case integration_status::unknown: return "unknown";
  }
  return "unknown";
}

/// What a health check found.
struct health_report {
  integration_status status = integration_status::unhealthy;
  std::chrono::microseconds latency{0};  ///< how long the check took (filled by the registry)
  std::string message;                   ///< short explanation; never secrets
  std::chrono::system_clock::time_point checked_at{};  ///< filled by the registry
  boost::json::object details;           ///< anything else worth reporting

  bool healthy() const noexcept { return status == integration_status::healthy; }
};

}  // namespace intg
