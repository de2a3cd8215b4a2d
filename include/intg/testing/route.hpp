// intg::testing: path templates for fakes of HTTP APIs. `/v1/customers/{id}` matches
// `/v1/customers/cus_123` and captures id = "cus_123" (percent-decoded); a `{name}` captures one
// whole segment, never a '/'. Test helpers, not library code.
#pragma once

#include <intg/http/url.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace intg::testing {

using path_params = std::map<std::string, std::string, std::less<>>;

/// The parameters `path` (no query) gives `templ`, or nullopt when it does not match.
inline std::optional<path_params> match_path(std::string_view templ, std::string_view path) {
  path_params out;
  while (!templ.empty() || !path.empty()) {
    if (templ.empty() || path.empty()) return std::nullopt;
    if (templ.front() != '/' || path.front() != '/') return std::nullopt;
    templ.remove_prefix(1);
    path.remove_prefix(1);
    const auto te = templ.find('/'), pe = path.find('/');
    const auto tseg = templ.substr(0, te), pseg = path.substr(0, pe);
    // "{name}" or "{name}.suffix" (Twilio's "{Sid}.json") captures the segment less the suffix.
    const auto close = tseg.find('}');
    if (tseg.size() > 2 && tseg.front() == '{' && close != std::string_view::npos && close > 1) {
      const auto suffix = tseg.substr(close + 1);
      if (pseg.size() <= suffix.size() || !pseg.ends_with(suffix)) return std::nullopt;
      auto decoded = http::percent_decode(pseg.substr(0, pseg.size() - suffix.size()));
      if (!decoded) return std::nullopt;
      out.emplace(std::string(tseg.substr(1, close - 1)), std::move(*decoded));
    } else if (tseg != pseg) {
      return std::nullopt;
    }
    templ = te == std::string_view::npos ? std::string_view{} : templ.substr(te);
    path = pe == std::string_view::npos ? std::string_view{} : path.substr(pe);
  }
  return out;
}

}  // namespace intg::testing
