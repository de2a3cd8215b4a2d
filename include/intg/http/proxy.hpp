// Forward-proxy settings for the HTTP client: explicit, or read from http_proxy / https_proxy /
// no_proxy as curl and most HTTP stacks do.
#pragma once

#include <intg/http/url.hpp>

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace intg::http {

/// Which proxy, if any, carries a request. HTTPS goes through the proxy as a CONNECT tunnel (the
/// proxy sees only the host and port); plain HTTP is sent to the proxy in absolute form.
struct proxy_settings {
  std::optional<url> http;   ///< proxy for http:// targets
  std::optional<url> https;  ///< proxy for https:// targets
  /// Hosts reached directly: exact names or IPs, ".example.com" / "example.com" for a domain and
  /// its subdomains, "*" for everything.
  std::vector<std::string> no_proxy;

  /// Reads https_proxy / HTTPS_PROXY, http_proxy / HTTP_PROXY and no_proxy / NO_PROXY. A proxy
  /// URL without a scheme is taken as http://. A malformed proxy URL is an error.
  static result<proxy_settings> from_environment() {
    proxy_settings s;
    auto env = [](const char* lower, const char* upper) -> std::string_view {
      const char* v = std::getenv(lower);
      if (!v || !*v) v = std::getenv(upper);
      return v ? std::string_view(v) : std::string_view{};
    };
    auto read = [](std::string_view v, std::optional<url>& out) -> result<void> {
      if (v.empty()) return {};
      std::string text(v);
      if (text.find("://") == std::string::npos) text = "http://" + text;
      auto u = url::parse(text);
      if (!u) return error(errc::config_error, "malformed proxy URL in the environment: " + std::string(u.error().message()));
      out = std::move(*u);
      return {};
    };
    if (auto r = read(env("https_proxy", "HTTPS_PROXY"), s.https); !r) return r.error();
    if (auto r = read(env("http_proxy", "HTTP_PROXY"), s.http); !r) return r.error();
    std::string_view np = env("no_proxy", "NO_PROXY");
    while (!np.empty()) {
      const auto comma = np.find(',');
      std::string_view item = np.substr(0, comma);
      np = comma == std::string_view::npos ? std::string_view{} : np.substr(comma + 1);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      if (!item.empty()) s.no_proxy.emplace_back(item);
    }
    return s;
  }

  /// The proxy for `target`, or nullptr to connect directly.
  const url* for_target(const url& target) const noexcept {
    const std::optional<url>& p = target.tls() ? https : http;
    if (!p || bypasses(target.host())) return nullptr;
    return &*p;
  }

  bool bypasses(std::string_view host) const noexcept {
    for (const auto& raw : no_proxy) {
      std::string_view rule = raw;
      if (rule == "*") return true;
      if (!rule.empty() && rule.front() == '.') rule.remove_prefix(1);
      if (host.size() == rule.size() && iequals(host, rule)) return true;
      if (host.size() > rule.size() && host[host.size() - rule.size() - 1] == '.' &&
          iequals(host.substr(host.size() - rule.size()), rule))
        return true;
    }
    return false;
  }

 private:
  static bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      auto l = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
      if (l(a[i]) != l(b[i])) return false;
    }
    return true;
  }
};

}  // namespace intg::http
