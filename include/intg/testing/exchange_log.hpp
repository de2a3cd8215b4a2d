// intg::testing: the record of every request a fake received and every answer it gave, for
// tests to inspect and for validators to check against the provider's API description (written
// as JSON Lines). Credentials are redacted: Authorization keeps its scheme only, and body or
// query fields a fake names as secret (Slack's `token`) read "[redacted]". Test helpers only.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace intg::testing {

using header_list = std::vector<std::pair<std::string, std::string>>;

/// One request and what the fake did with it.
struct exchange {
  std::string method;          ///< "POST"
  std::string path;            ///< "/v1/customers" (no query)
  std::string query;           ///< the raw query string, "" when none
  std::string route;           ///< the matched template ("/v1/customers/{id}"), "" when none matched
  header_list request_headers;
  std::string request_body;
  int status = 0;              ///< 0 when the connection was broken instead (see fault)
  header_list response_headers;
  std::string response_body;
  std::string scenario;        ///< the scenario that caught it, "" for a normal answer
  std::string fault;           ///< "reset" / "truncate" when the connection was broken

  /// A request header's value ("" when absent; names compare case-insensitively).
  std::string_view request_header(std::string_view name) const { return find(request_headers, name); }
  std::string_view response_header(std::string_view name) const { return find(response_headers, name); }

  boost::json::object to_json() const {
    auto headers = [](const header_list& h) {
      boost::json::object o;
      for (auto& [k, v] : h) o[lower(k)] = v;
      return o;
    };
    return {{"method", method},
            {"path", path},
            {"query", query},
            {"route", route},
            {"request", {{"headers", headers(request_headers)}, {"body", request_body}}},
            {"response", {{"status", status}, {"headers", headers(response_headers)}, {"body", response_body}}},
            {"scenario", scenario},
            {"fault", fault}};
  }

  static std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
  }

 private:
  static std::string_view find(const header_list& h, std::string_view name) {
    const auto n = lower(name);
    for (auto& [k, v] : h)
      if (lower(k) == n) return v;
    return {};
  }
};

/// Writes `log` as JSON Lines (one exchange per line); false when the file cannot be written.
inline bool write_jsonl(const std::vector<exchange>& log, const std::string& file) {
  std::ofstream out(file, std::ios::trunc);
  for (const auto& e : log) out << boost::json::serialize(e.to_json()) << '\n';
  return static_cast<bool>(out.flush());
}

}  // namespace intg::testing
