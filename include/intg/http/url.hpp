// Absolute http/https URLs for the client: Boost.URL parses, resolves and percent-encodes; this
// header adds the strict checks a client needs (http or https only, a plain host name or IP
// literal, a valid port, no credentials in the URL) and the parts a request is built from.
// Bad URLs are errors that say what is wrong.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>

#include <boost/url/encode.hpp>
#include <boost/url/grammar/string_token.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <boost/url/url.hpp>

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
inline std::string_view view(boost::urls::string_view s) noexcept { return {s.data(), s.size()}; }

// Boost.URL 1.81's resolve() keeps ".." segments that climb above the root ("../../../g" against
// "http://a/b/c/d;p?q" gives "http://a/../g"); RFC 3986 section 5.2.4 removes them.
inline void drop_leading_dot_dot(boost::urls::url& u) {
  std::string_view p = view(u.encoded_path());
  std::size_t cut = 0;
  while (p.substr(cut).starts_with("/../")) cut += 3;
  if (p.substr(cut) == "/..") {
    u.set_encoded_path("/");
  } else if (cut) {
    u.set_encoded_path(std::string(p.substr(cut)));
  }
}
}  // namespace detail

/// Percent-encodes everything but RFC 3986's unreserved characters (query keys and values, path
/// segments). '+' is encoded too, so a form-decoding server never reads it as a space.
inline void percent_encode_to(std::string& out, std::string_view s) {
  const auto n = boost::urls::encoded_size(s, boost::urls::unreserved_chars);
  const auto at = out.size();
  out.resize(at + n);
  boost::urls::encode(out.data() + at, n, s, boost::urls::unreserved_chars);
}

inline std::string percent_encode(std::string_view s) {
  std::string out;
  percent_encode_to(out, s);
  return out;
}

/// Decodes %XX escapes (and '+' as space when `plus_is_space`, as in forms). Bad escapes are errors.
inline result<std::string> percent_decode(std::string_view s, bool plus_is_space = false) {
  auto pct = boost::urls::make_pct_string_view({s.data(), s.size()});
  if (!pct) return error(errc::invalid_argument, "invalid percent escape: " + pct.error().message());
  boost::urls::encoding_opts opt;
  opt.space_as_plus = plus_is_space;
  std::string out;
  pct->decode(opt, boost::urls::string_token::assign_to(out));
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
  /// Whether a parameter named `key` was added.
  bool contains(std::string_view key) const {
    std::string k;
    percent_encode_to(k, key);
    k += '=';
    for (std::size_t at = 0; at < encoded_.size();) {
      if (std::string_view(encoded_).substr(at).starts_with(k)) return true;
      const auto amp = encoded_.find('&', at);
      if (amp == std::string::npos) break;
      at = amp + 1;
    }
    return false;
  }

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

/// Resolves a URI reference against an absolute base URI (RFC 3986 section 5.2, any scheme),
/// returning the target URI, fragment included. For redirects, url::resolve() adds the client's
/// checks on top.
inline result<std::string> resolve_reference(std::string_view base, std::string_view reference) {
  auto b = boost::urls::parse_uri({base.data(), base.size()});
  if (!b) return error(errc::invalid_argument, "invalid base URI: " + b.error().message());
  auto r = boost::urls::parse_uri_reference({reference.data(), reference.size()});
  if (!r) return error(errc::invalid_argument, "invalid URI reference: " + r.error().message());
  boost::urls::url out;
  if (auto ok = boost::urls::resolve(*b, *r, out); !ok)
    return error(errc::invalid_argument, "cannot resolve the reference: " + ok.error().message());
  detail::drop_leading_dot_dot(out);
  return std::string(detail::view(out.buffer()));
}

/// An absolute http or https URL. Userinfo is refused (credentials do not belong in URLs) and a
/// fragment is dropped (fragments are never sent).
class url {
 public:
  url() = default;

  /// Parses and validates `text`; the error names what is wrong.
  static result<url> parse(std::string_view text) {
    auto fail = [](std::string_view why) { return error(errc::invalid_argument, "invalid URL: " + std::string(why)); };
    if (text.size() > 8192) return fail("longer than 8192 characters");
    for (unsigned char c : text)
      if (c <= 0x20 || c >= 0x7f) return fail("contains a space, control or non-ASCII character");
    if (text.find("://") == std::string_view::npos) return fail("missing scheme (expected http:// or https://)");
    auto parsed = boost::urls::parse_uri({text.data(), text.size()});
    if (!parsed) return fail(parsed.error().message());
    const boost::urls::url_view& v = *parsed;
    url u;
    if (v.scheme_id() == boost::urls::scheme::http) {
      u.tls_ = false;
    } else if (v.scheme_id() == boost::urls::scheme::https) {
      u.tls_ = true;
    } else {
      return fail("scheme must be http or https");
    }
    if (v.has_userinfo()) return fail("userinfo (user:password@) is not allowed");
    const std::string_view host = detail::view(v.encoded_host());
    switch (v.host_type()) {
      case boost::urls::host_type::ipv6:
        u.host_.assign(host.substr(1, host.size() - 2));  // without the brackets
        u.ipv6_ = true;
        break;
      case boost::urls::host_type::ipv4:
        u.host_.assign(host);
        break;
      case boost::urls::host_type::name:
        if (host.empty()) return fail("missing host");
        for (char ch : host)
          if (!detail::is_unreserved(static_cast<unsigned char>(ch))) return fail("invalid character in host");
        if (host.front() == '.' || host.back() == '-' || host.find("..") != std::string_view::npos)
          return fail("malformed host name");
        if (host.size() > 253) return fail("host longer than 253 characters");
        u.host_.assign(host);
        break;
      default:
        return fail("unsupported host (IPvFuture)");
    }
    for (auto& ch : u.host_) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    if (v.has_port()) {
      const std::string_view port = detail::view(v.port());
      if (port.empty()) return fail("empty port");
      if (port.size() > 5) return fail("port out of range");
      std::uint32_t p = 0;
      for (char ch : port) p = p * 10 + static_cast<std::uint32_t>(ch - '0');  // the grammar allows digits only
      if (p == 0 || p > 65535) return fail("port out of range");
      u.port_ = static_cast<std::uint16_t>(p);
    } else {
      u.port_ = u.tls_ ? 443 : 80;
    }
    const std::string_view path = detail::view(v.encoded_path());
    // After an authority the path is empty or starts with '/' (RFC 3986 section 3.3); Boost.URL
    // 1.81 accepts "http://[::1]*80/" with the path "*80/".
    if (!path.empty() && path.front() != '/') return fail("malformed authority");
    u.target_ = path.empty() ? "/" : std::string(path);
    if (v.has_query()) {
      u.target_ += '?';
      u.target_ += detail::view(v.encoded_query());
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
  /// scheme://host[:port], the port only when not the default: two URLs have the same origin
  /// exactly when their scheme, lower-cased host and effective port agree. Also the pool's key.
  std::string origin() const { return std::string(scheme()) + "://" + host_header(); }
  std::string str() const { return origin() + target_; }

  /// Appends encoded query parameters.
  url& add_query(const query& q) {
    if (q.empty()) return *this;
    target_ += target_.find('?') == std::string::npos ? '?' : '&';
    target_ += q.str();
    return *this;
  }

  /// Resolves a reference (a redirect's Location: absolute, network-path, absolute-path or
  /// relative) against this URL; the result must itself be a valid http(s) URL.
  result<url> resolve(std::string_view reference) const {
    auto target = resolve_reference(str(), reference);
    if (!target) return target.error();
    return parse(*target);
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
