// intg::health_server: the HTTP endpoints operators watch integrations through (Kubernetes-style
// liveness and readiness probes, health overall and per integration, Prometheus metrics, a detailed
// status report, the text dashboard, and an OpenAPI description of it all), served from a
// registry's live state.
#pragma once

#include <intg/observability/dashboard.hpp>
#include <intg/http/server.hpp>
#include <intg/http/url.hpp>
#include <intg/observability/metrics.hpp>
#include <intg/core/registry.hpp>
#include <intg/core/secret.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/crypto.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>

namespace intg {

struct health_server_options {
  http::server_options http{};
  /// Metrics served at /integrations/metrics (usually the registry's registry_options::metrics).
  std::shared_ptr<observability::metrics_registry> metrics{};
  /// When set, every endpoint but /openapi.json requires `Authorization: Bearer <token>`.
  secret bearer_token{};
};

/// Every path the health server serves, in one place: handle() routes by it, the OpenAPI document
/// describes each of them (a test checks), and tools/check_docs.py checks the docs against it.
///   /livez   200 while the process serves HTTP: a liveness probe (restart when it fails).
///   /readyz  200 when ready to take traffic: no enabled integration is still registered or
///            initializing, and no critical one (integration_config::critical) is failed or
///            unhealthy; 503 otherwise. A readiness probe (stop routing traffic when it fails).
///   /integrations/...  detailed health for people and dashboards; /integrations/health answers
///            503 when any one integration is not healthy, so it is not a probe.
inline constexpr std::string_view health_server_paths[] = {
    "/livez", "/readyz", "/integrations/health", "/integrations/health/{name}", "/integrations/metrics",
    "/integrations/status", "/integrations/dashboard", "/openapi.json"};

namespace detail {
inline std::string iso8601(std::chrono::system_clock::time_point tp) {
  if (tp == std::chrono::system_clock::time_point{}) return {};
  const std::time_t t = std::chrono::system_clock::to_time_t(tp);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
inline double millis(std::chrono::microseconds us) { return static_cast<double>(us.count()) / 1000.0; }

/// Boost.JSON (1.81) writes every double in exponent form (a latency of 0.845 ms as 8.45E-1, 12 ms
/// as 1.2E1); people read these endpoints too, so doubles are written in their shortest plain
/// form (std::to_chars: 0.845, 12.0), which parses back to the same value.
inline void write_plain_json(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::double_: {
      if (!std::isfinite(v.get_double())) {
        out += "null";  // JSON has no infinities
        return;
      }
      char buf[32];
      const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_double());
      out.append(buf, end);
      // 12 would read back as an integer: keep it a double (12.0) for readers that ask for one.
      if (std::string_view(buf, static_cast<std::size_t>(end - buf)).find_first_of(".e") == std::string_view::npos) out += ".0";
      return;
    }
    case boost::json::kind::array: {
      out += '[';
      const char* sep = "";
      for (const auto& e : v.get_array()) {
        out += sep;
        write_plain_json(out, e);
        sep = ",";
      }
      out += ']';
      return;
    }
    case boost::json::kind::object: {
      out += '{';
      const char* sep = "";
      for (const auto& [k, e] : v.get_object()) {
        out += sep;
        out += boost::json::serialize(k);
        out += ':';
        write_plain_json(out, e);
        sep = ",";
      }
      out += '}';
      return;
    }
    default:
      out += boost::json::serialize(v);
  }
}
inline std::string to_plain_json(const boost::json::value& v) {
  std::string out;
  write_plain_json(out, v);
  return out;
}

// Rates and averages over no calls are n/a: JSON null, as the dashboard shows "n/a".
inline boost::json::object calls_json(const call_totals& c) {
  boost::json::object o{{"total", c.calls}, {"succeeded", c.succeeded}, {"failed", c.failed}, {"rejected", c.rejected}};
  if (c.calls) {
    o["success_rate"] = c.success_rate();
    o["average_latency_ms"] = millis(c.average_latency());
  } else {
    o["success_rate"] = nullptr;
    o["average_latency_ms"] = nullptr;
  }
  return o;
}

inline boost::json::object integration_json(const integration_snapshot& s, bool detailed) {
  boost::json::object o{{"name", s.name}, {"tenant", s.tenant}, {"category", s.category}, {"type", s.category}, {"status", to_string(s.status)}};
  boost::json::object last{{"status", to_string(s.last_check.status)},
                           {"message", s.last_check.message},
                           {"latency_ms", millis(s.last_check.latency)},
                           {"checked_at", iso8601(s.last_check.checked_at)}};
  if (!s.last_check.details.empty()) last["details"] = s.last_check.details;
  o["last_check"] = std::move(last);
  if (!detailed) return o;
  o["checks"] = s.checks;
  o["failed_checks"] = s.failed_checks;
  o["average_check_latency_ms"] = millis(s.average_check_latency);
  o["critical"] = s.critical;
  o["calls"] = calls_json(s.calls);
  o["policies"] = s.policies;
  return o;
}

inline bool counts_for_health(integration_status s) noexcept { return s != integration_status::disabled; }

inline boost::json::object openapi_document() {
  using boost::json::object;
  using boost::json::array;
  auto json_response = [](std::string_view description, std::string_view schema_ref) {
    return object{{"description", description},
                  {"content", object{{"application/json", object{{"schema", object{{"$ref", schema_ref}}}}}}}};
  };
  auto error_response = [&](std::string_view description) { return json_response(description, "#/components/schemas/Error"); };
  object unauthorized = error_response("Missing or wrong bearer token (when the server requires one)");
  auto probe = [&](std::string_view summary, std::string_view ok, std::string_view unavailable) {
    object responses{{"200", json_response(ok, "#/components/schemas/Probe")}};
    if (!unavailable.empty()) responses["503"] = json_response(unavailable, "#/components/schemas/Probe");
    return object{{"get", object{{"summary", summary}, {"security", array{}}, {"responses", std::move(responses)}}}};
  };
  object paths{
      {"/livez", probe("Liveness probe: the process serves HTTP (no registry state is read)", "Alive", "")},
      {"/readyz", probe("Readiness probe: every enabled integration has been initialized, and no critical one is failed or "
                        "unhealthy (degraded, unknown and non-critical integrations do not count)",
                        "Ready to take traffic", "Not ready: still starting, or a critical integration is down")},
      {"/integrations/health",
       object{{"get", object{{"summary", "Overall health of every enabled integration, for people (not a probe: use /readyz)"},
                             {"responses", object{{"200", json_response("All enabled integrations are healthy", "#/components/schemas/Health")},
                                                  {"503", json_response("At least one integration is not healthy (or not checked yet)", "#/components/schemas/Health")},
                                                  {"401", unauthorized}}}}}}},
      {"/integrations/health/{name}",
       object{{"get",
               object{{"summary", "Health of one integration"},
                      {"parameters",
                       array{object{{"name", "name"}, {"in", "path"}, {"required", true}, {"schema", object{{"type", "string"}}}},
                             object{{"name", "tenant"},
                                    {"in", "query"},
                                    {"required", false},
                                    {"description", "Needed when several tenants have an integration of that name"},
                                    {"schema", object{{"type", "string"}}}}}},
                      {"responses", object{{"200", json_response("The integration is healthy", "#/components/schemas/Integration")},
                                           {"503", json_response("The integration is not healthy", "#/components/schemas/Integration")},
                                           {"400", error_response("Ambiguous name: add ?tenant=")},
                                           {"404", error_response("No such integration")},
                                           {"401", unauthorized}}}}}}},
      {"/integrations/metrics",
       object{{"get", object{{"summary", "Prometheus metrics (text exposition format 0.0.4)"},
                             {"responses", object{{"200", object{{"description", "Metrics"},
                                                                 {"content", object{{"text/plain", object{{"schema", object{{"type", "string"}}}}}}}}},
                                                  {"401", unauthorized}}}}}}},
      {"/integrations/status",
       object{{"get", object{{"summary", "Detailed report: every integration with checks, calls and policy state"},
                             {"responses", object{{"200", json_response("Report", "#/components/schemas/Status")}, {"401", unauthorized}}}}}}},
      {"/integrations/dashboard",
       object{{"get", object{{"summary", "The health dashboard as text"},
                             {"responses", object{{"200", object{{"description", "Dashboard"},
                                                                 {"content", object{{"text/plain", object{{"schema", object{{"type", "string"}}}}}}}}},
                                                  {"401", unauthorized}}}}}}},
      {"/openapi.json",
       object{{"get", object{{"summary", "This document"}, {"security", array{}}, {"responses", object{{"200", object{{"description", "OpenAPI document"}}}}}}}}}};
  object str{{"type", "string"}};
  object num{{"type", "number"}};
  object integer{{"type", "integer"}};
  object status_enum{{"type", "string"},
                     {"enum", array{"registered", "initializing", "unknown", "healthy", "degraded", "unhealthy", "failed", "disabled"}}};
  object nullable_num{{"type", "number"}, {"nullable", true}, {"description", "null (n/a) when there were no calls"}};
  object integration{
      {"type", "object"},
      {"required", array{"name", "tenant", "category", "type", "status", "last_check"}},
      {"properties",
       object{{"name", str},
              {"tenant", str},
              {"category", str},
              {"type", object{{"type", "string"}, {"description", "the category under its 0.1 name"}}},
              {"status", status_enum},
              {"critical", object{{"type", "boolean"}}},
              {"last_check", object{{"type", "object"},
                                    {"properties", object{{"status", status_enum}, {"message", str}, {"latency_ms", num},
                                                          {"checked_at", object{{"type", "string"}, {"description", "RFC 3339 UTC time; empty before the first check"}}},
                                                          {"details", object{{"type", "object"}}}}}}},
              {"checks", integer},
              {"failed_checks", integer},
              {"average_check_latency_ms", num},
              {"calls", object{{"type", "object"},
                               {"properties", object{{"total", integer}, {"succeeded", integer}, {"failed", integer}, {"rejected", integer},
                                                     {"success_rate", nullable_num}, {"average_latency_ms", nullable_num}}}}},
              {"policies", object{{"type", "object"}, {"description", "circuit_breaker / rate_limiter / bulkhead state when the integration reports it"}}}}}};
  object health{{"type", "object"},
                {"required", array{"status", "total", "healthy", "degraded", "unknown", "unhealthy", "integrations"}},
                {"properties", object{{"status", object{{"type", "string"}, {"enum", array{"healthy", "unknown", "degraded", "unhealthy"}}}},
                                      {"total", integer}, {"healthy", integer}, {"degraded", integer}, {"unknown", integer}, {"unhealthy", integer},
                                      {"integrations", object{{"type", "array"}, {"items", object{{"$ref", "#/components/schemas/Integration"}}}}}}}};
  object status{{"type", "object"},
                {"required", array{"generated_at", "summary", "integrations"}},
                {"properties", object{{"generated_at", str},
                                      {"summary", object{{"type", "object"}}},
                                      {"integrations", object{{"type", "array"}, {"items", object{{"$ref", "#/components/schemas/Integration"}}}}}}}};
  object probe_schema{{"type", "object"},
                      {"required", array{"status"}},
                      {"properties", object{{"status", object{{"type", "string"}, {"enum", array{"alive", "ready", "not_ready"}}}},
                                            {"starting", integer},
                                            {"critical_down", integer}}}};
  object err{{"type", "object"},
             {"required", array{"error"}},
             {"properties", object{{"error", object{{"type", "object"},
                                                    {"required", array{"status", "message"}},
                                                    {"properties", object{{"status", integer}, {"message", str}}}}}}}};
  return object{{"openapi", "3.0.3"},
                {"info", object{{"title", "intg integration health"}, {"version", INTG_VERSION_STRING}}},
                {"paths", std::move(paths)},
                {"security", array{object{{"bearer", array{}}}}},
                {"components", object{{"securitySchemes", object{{"bearer", object{{"type", "http"}, {"scheme", "bearer"}}}}},
                                      {"schemas", object{{"Integration", std::move(integration)},
                                                         {"Health", std::move(health)},
                                                         {"Status", std::move(status)},
                                                         {"Probe", std::move(probe_schema)},
                                                         {"Error", std::move(err)}}}}}};
}
}  // namespace detail

/// Serves a registry's health over HTTP. Runs on one executor (see http::server); the registry
/// may live on another: everything read from it is a snapshot.
template <class Registry>
class basic_health_server {
 public:
  basic_health_server(asio::any_io_executor ex, const Registry& registry, health_server_options opts = {})
      : registry_(registry),
        opts_(std::move(opts)),
        server_(std::move(ex), [this](http::server_request& r) { return handle(r); }, opts_.http) {}

  result<void> listen(std::string_view host, std::uint16_t port) { return server_.listen(host, port); }
  result<void> listen(std::string_view host_port) { return server_.listen(host_port); }
  std::uint16_t port() const { return server_.port(); }
  void start() { server_.start(); }
  asio::awaitable<void> shutdown(std::chrono::milliseconds grace = std::chrono::seconds(10)) {
    co_await server_.shutdown(grace);
  }
  const http::server& server() const noexcept { return server_; }

  /// Answers one request (also usable without a socket, e.g. from another HTTP framework).
  asio::awaitable<http::server_response> handle(http::server_request& req) {
    namespace bh = boost::beast::http;
    std::string_view target = req.target();
    const auto q = target.find('?');
    const std::string_view path = target.substr(0, q);
    const std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);

    if (!served(path)) co_return http::json_error(bh::status::not_found, "no such endpoint");
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      auto res = http::json_error(bh::status::method_not_allowed, "only GET and HEAD are allowed");
      res.set(http::field::allow, "GET, HEAD");
      co_return res;
    }
    if (path == "/openapi.json") co_return http::make_response(bh::status::ok, openapi_json());
    // Probes need no token (a kubelet sends none) and reveal no names.
    if (path == "/livez") co_return http::make_response(bh::status::ok, R"({"status":"alive"})");
    if (path == "/readyz") co_return readiness(registry_.snapshot());
    if (!authorized(req)) {
      auto res = http::json_error(bh::status::unauthorized, "a valid bearer token is required");
      res.set(http::field::www_authenticate, "Bearer");
      co_return res;
    }
    if (path == "/integrations/metrics") {
      if (!opts_.metrics) co_return http::json_error(bh::status::not_found, "this server has no metrics registry");
      co_return http::make_response(bh::status::ok, opts_.metrics->render_prometheus(),
                                    "text/plain; version=0.0.4; charset=utf-8");
    }
    const auto snaps = registry_.snapshot();
    if (path == "/integrations/health") co_return overall(snaps);
    if (path == "/integrations/status") co_return status(snaps);
    if (path == "/integrations/dashboard") {
      call_totals totals;
      for (const auto& s : snaps) totals += s.calls;
      co_return http::make_response(bh::status::ok, render_dashboard(snaps, totals), "text/plain; charset=utf-8");
    }
    co_return one(snaps, path.substr(std::string_view("/integrations/health/").size()), query);
  }

 private:
  static bool served(std::string_view path) {
    for (std::string_view p : health_server_paths) {
      if (p == path) return true;
      if (p.ends_with("/{name}")) {
        const auto prefix = p.substr(0, p.size() - 6);
        if (path.size() > prefix.size() && path.starts_with(prefix)) return true;
      }
    }
    return false;
  }

  static http::server_response readiness(const std::vector<integration_snapshot>& snaps) {
    std::size_t starting = 0, critical_down = 0;
    for (const auto& s : snaps) {
      starting += s.status == integration_status::registered || s.status == integration_status::initializing;
      critical_down += s.critical && (s.status == integration_status::failed || s.status == integration_status::unhealthy);
    }
    const bool ready = !starting && !critical_down;
    boost::json::object o{{"status", ready ? "ready" : "not_ready"}, {"starting", starting}, {"critical_down", critical_down}};
    return http::make_response(ready ? boost::beast::http::status::ok : boost::beast::http::status::service_unavailable,
                               boost::json::serialize(o));
  }

  bool authorized(const http::server_request& req) const {
    if (opts_.bearer_token.empty()) return true;
    auto it = req.find(http::field::authorization);
    if (it == req.end()) return false;
    std::string_view v = it->value();
    if (v.size() < 7 || !(v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ")) return false;
    v.remove_prefix(7);
    const std::string_view want = opts_.bearer_token.reveal();
    return v.size() == want.size() && CRYPTO_memcmp(v.data(), want.data(), want.size()) == 0;
  }

  const std::string& openapi_json() {
    if (openapi_.empty()) openapi_ = boost::json::serialize(detail::openapi_document());
    return openapi_;
  }

  static http::server_response overall(const std::vector<integration_snapshot>& snaps) {
    std::size_t total = 0, healthy = 0, degraded = 0, unknown = 0;
    boost::json::array list;
    for (const auto& s : snaps) {
      if (!detail::counts_for_health(s.status)) continue;
      ++total;
      healthy += s.status == integration_status::healthy;
      degraded += s.status == integration_status::degraded;
      unknown += s.status == integration_status::unknown;
      list.push_back(detail::integration_json(s, false));
    }
    const std::size_t unhealthy = total - healthy - degraded - unknown;
    const char* verdict = unhealthy ? "unhealthy" : degraded ? "degraded" : unknown ? "unknown" : "healthy";
    boost::json::object o{{"status", verdict}, {"total", total}, {"healthy", healthy}, {"degraded", degraded},
                          {"unknown", unknown}, {"unhealthy", unhealthy}, {"integrations", std::move(list)}};
    return http::make_response(healthy == total ? boost::beast::http::status::ok : boost::beast::http::status::service_unavailable,
                               detail::to_plain_json(o));
  }

  static http::server_response status(const std::vector<integration_snapshot>& snaps) {
    boost::json::array list;
    call_totals totals;
    std::size_t healthy = 0;
    for (const auto& s : snaps) {
      list.push_back(detail::integration_json(s, true));
      totals += s.calls;
      healthy += s.status == integration_status::healthy;
    }
    const auto calls = detail::calls_json(totals);
    boost::json::object summary{{"total", snaps.size()},
                                {"healthy", healthy},
                                {"calls", totals.calls},
                                {"success_rate", calls.at("success_rate")},
                                {"average_latency_ms", calls.at("average_latency_ms")}};
    boost::json::object o{{"generated_at", detail::iso8601(std::chrono::system_clock::now())},
                          {"summary", std::move(summary)},
                          {"integrations", std::move(list)}};
    return http::make_response(boost::beast::http::status::ok, detail::to_plain_json(o));
  }

  static http::server_response one(const std::vector<integration_snapshot>& snaps, std::string_view encoded_name,
                                   std::string_view query) {
    namespace bh = boost::beast::http;
    auto name = http::percent_decode(encoded_name);
    if (!name || name->empty()) return http::json_error(bh::status::bad_request, "malformed integration name");
    auto params = http::query::parse(query);
    if (!params) return http::json_error(bh::status::bad_request, "malformed query string");
    std::optional<std::string> tenant;
    for (auto& [k, v] : *params)
      if (k == "tenant") tenant = v;
    const integration_snapshot* found = nullptr;
    int matches = 0;
    for (const auto& s : snaps) {
      if (s.name != *name || (tenant && s.tenant != *tenant)) continue;
      found = &s;
      ++matches;
    }
    if (!found) return http::json_error(bh::status::not_found, "no integration named '" + *name + "'" +
                                                                   (tenant ? " for tenant '" + *tenant + "'" : std::string{}));
    if (matches > 1)
      return http::json_error(bh::status::bad_request, "several tenants have an integration named '" + *name + "': add ?tenant=");
    return http::make_response(found->status == integration_status::healthy ? bh::status::ok : bh::status::service_unavailable,
                               detail::to_plain_json(detail::integration_json(*found, true)));
  }

  const Registry& registry_;
  health_server_options opts_;
  http::server server_;
  std::string openapi_;
};

/// The health server of an intg::registry.
using health_server = basic_health_server<registry>;

}  // namespace intg
