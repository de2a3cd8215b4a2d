// Absolute http/https URLs: strict parsing into the parts a client needs (scheme, host, port,
// request target), percent-encoding, and query-string / form building. Bad URLs are errors.
#pragma once

#include <intg/error.hpp>
#include <intg/result.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace intg::http {

namespace detail {
inline bool is_unreserved(unsigned char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}
inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
// Characters allowed as-is in a path or query (RFC 3986 pchar plus '/' and '?'), besides '%'.
inline bool is_target_char(unsigned char c) noexcept {
  if (is_unreserved(c)) return true;
  switch (c) {
    case '!': case '$': case '&': case '\'': case '(': case ')': case '*': case '+': case ',': case ';':
    case '=': case ':': case '@': case '/': case '?':
      return true;
    default:
      return false;
  }
}
}  // namespace detail

/// Percent-encodes everything but RFC 3986's unreserved characters (for query keys and values).
inline void percent_encode_to(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (detail::is_unreserved(c)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
}

inline std::string percent_encode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  percent_encode_to(out, s);
  return out;
}

/// Decodes %XX escapes (and '+' as space when `plus_is_space`, as in forms). Bad escapes are errors.
inline result<std::string> percent_decode(std::string_view s, bool plus_is_space = false) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return error(errc::invalid_argument, "truncated percent escape");
      const int hi = detail::hex_value(s[i + 1]), lo = detail::hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return error(errc::invalid_argument, "invalid percent escape");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

/// A list of key/value pairs encoded as `k=v&k2=v2` (query strings and form bodies).
class query {
 public:
  query() = default;
  query(std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
    for (auto& [k, v] : kv) add(k, v);
  }
  query& add(std::string_view key, std::string_view value) {
    if (!encoded_.empty()) encoded_ += '&';
    percent_encode_to(encoded_, key);
    encoded_ += '=';
    percent_encode_to(encoded_, value);
    return *this;
  }
  const std::string& str() const noexcept { return encoded_; }
  bool empty() const noexcept { return encoded_.empty(); }

  /// Parses `k=v&...` (form or query encoding); a bad escape is an error.
  static result<std::vector<std::pair<std::string, std::string>>> parse(std::string_view s) {
    std::vector<std::pair<std::string, std::string>> out;
    while (!s.empty()) {
      const auto amp = s.find('&');
      std::string_view part = s.substr(0, amp);
      s = amp == std::string_view::npos ? std::string_view{} : s.substr(amp + 1);
      if (part.empty()) continue;
      const auto eq = part.find('=');
      auto k = percent_decode(part.substr(0, eq), true);
      if (!k) return k.error();
      auto v = percent_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1), true);
      if (!v) return v.error();
      out.emplace_back(std::move(*k), std::move(*v));
    }
    return out;
  }

 private:
  std::string encoded_;
};

/// An absolute http or https URL. Userinfo and fragments are refused (credentials do not belong
/// in URLs; fragments are never sent).
class url {
 public:
  url() = default;

  /// Parses and validates `text`; the error names what is wrong.
  static result<url> parse(std::string_view text) {
    auto fail = [](const char* why) { return error(errc::invalid_argument, std::string("invalid URL: ") + why); };
    if (text.size() > 8192) return fail("longer than 8192 characters");
    for (unsigned char c : text)
      if (c <= 0x20 || c >= 0x7f) return fail("contains a space, control or non-ASCII character");
    url u;
    const auto colon = text.find("://");
    if (colon == std::string_view::npos) return fail("missing scheme (expected http:// or https://)");
    std::string scheme(text.substr(0, colon));
    for (auto& c : scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    if (scheme == "http") {
      u.tls_ = false;
    } else if (scheme == "https") {
      u.tls_ = true;
    } else {
      return fail("scheme must be http or https");
    }
    std::string_view rest = text.substr(colon + 3);
    const auto end_authority = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, end_authority);
    std::string_view target = end_authority == std::string_view::npos ? std::string_view{} : rest.substr(end_authority);
    if (authority.find('@') != std::string_view::npos) return fail("userinfo (user:password@) is not allowed");
    if (authority.empty()) return fail("missing host");
    std::string_view host, port;
    if (authority.front() == '[') {
      const auto close = authority.find(']');
      if (close == std::string_view::npos) return fail("unterminated IPv6 literal");
      host = authority.substr(1, close - 1);
      if (host.empty()) return fail("empty IPv6 literal");
      for (char c : host)
        if (!(detail::hex_value(c) >= 0 || c == ':' || c == '.')) return fail("invalid IPv6 literal");
      std::string_view after = authority.substr(close + 1);
      if (!after.empty()) {
        if (after.front() != ':') return fail("unexpected characters after IPv6 literal");
        port = after.substr(1);
        if (port.empty()) return fail("empty port");
      }
      u.ipv6_ = true;
    } else {
      const auto c = authority.rfind(':');
      host = authority.substr(0, c);
      if (c != std::string_view::npos) {
        port = authority.substr(c + 1);
        if (port.empty()) return fail("empty port");
      }
      if (host.empty()) return fail("missing host");
      for (char ch : host)
        if (!(detail::is_unreserved(static_cast<unsigned char>(ch)))) return fail("invalid character in host");
      if (host.front() == '.' || host.back() == '-' || host.find("..") != std::string_view::npos)
        return fail("malformed host name");
    }
    if (host.size() > 253) return fail("host longer than 253 characters");
    u.host_.assign(host);
    for (auto& ch : u.host_) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    if (!port.empty()) {
      if (port.size() > 5) return fail("port out of range");
      std::uint32_t p = 0;
      for (char ch : port) {
        if (ch < '0' || ch > '9') return fail("port is not a number");
        p = p * 10 + static_cast<std::uint32_t>(ch - '0');
      }
      if (p == 0 || p > 65535) return fail("port out of range");
      u.port_ = static_cast<std::uint16_t>(p);
    } else {
      u.port_ = u.tls_ ? 443 : 80;
    }
    if (const auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
    if (target.empty() || target.front() == '?') u.target_ = "/";
    u.target_ += target;
    for (std::size_t i = 0; i < u.target_.size(); ++i) {
      const auto ch = static_cast<unsigned char>(u.target_[i]);
      if (ch == '%') {
        if (i + 2 >= u.target_.size() || detail::hex_value(u.target_[i + 1]) < 0 ||
            detail::hex_value(u.target_[i + 2]) < 0)
          return fail("invalid percent escape in path or query");
      } else if (!detail::is_target_char(ch)) {
        return fail("invalid character in path or query (percent-encode it)");
      }
    }
    return u;
  }

  bool tls() const noexcept { return tls_; }
  std::string_view scheme() const noexcept { return tls_ ? "https" : "http"; }
  /// Host name or IP literal, lower case, without IPv6 brackets.
  const std::string& host() const noexcept { return host_; }
  std::uint16_t port() const noexcept { return port_; }
  bool default_port() const noexcept { return port_ == (tls_ ? 443 : 80); }
  /// Path and query, as sent on the request line ("/v1/search?q=x").
  const std::string& target() const noexcept { return target_; }
  std::string_view path() const noexcept { return std::string_view(target_).substr(0, target_.find('?')); }
  std::string_view query_string() const noexcept {
    const auto q = target_.find('?');
    return q == std::string::npos ? std::string_view{} : std::string_view(target_).substr(q + 1);
  }

  /// The Host header value: host, plus the port when it is not the scheme's default.
  std::string host_header() const {
    std::string h = ipv6_ ? "[" + host_ + "]" : host_;
    if (!default_port()) h += ":" + std::to_string(port_);
    return h;
  }
  /// scheme://host[:port] — also the connection pool's key.
  std::string origin() const { return std::string(scheme()) + "://" + host_header(); }
  std::string str() const { return origin() + target_; }

  /// Appends encoded query parameters.
  url& add_query(const query& q) {
    if (q.empty()) return *this;
    target_ += target_.find('?') == std::string::npos ? '?' : '&';
    target_ += q.str();
    return *this;
  }

  /// Resolves a redirect's Location (absolute, or absolute-path) against this URL.
  result<url> resolve(std::string_view location) const {
    if (location.starts_with("//")) return parse(std::string(scheme()) + ":" + std::string(location));
    if (!location.empty() && location.front() == '/') return parse(origin() + std::string(location));
    return parse(location);
  }

  friend bool operator==(const url&, const url&) = default;

 private:
  std::string host_;
  std::string target_;
  std::uint16_t port_ = 0;
  bool tls_ = false;
  bool ipv6_ = false;
};

}  // namespace intg::http
