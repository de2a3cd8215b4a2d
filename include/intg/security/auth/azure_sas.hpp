// Azure Storage shared access signatures signed with an account key: service SAS for a blob or
// a container and account SAS, as the Storage REST documentation describes them (signed version
// 2020-12-06 and later). A SAS is a credential: `sas_token` holds it as an intg::secret and
// prints as "***"; errors name the field that is wrong, never a value.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>
#include <intg/http/url.hpp>
#include <intg/security/auth/azure_sharedkey.hpp>

#include <chrono>
#include <cstdio>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace intg::auth::azure {

/// The oldest signed version (sv) produced here: the string-to-sign layouts below are those of
/// 2020-12-06 and later.
inline constexpr std::string_view oldest_sas_version = "2020-12-06";

/// The letters each kind of SAS accepts, in the order they must appear (the order the SDKs
/// write them and the services expect).
inline constexpr std::string_view blob_permissions = "racwdxtmeiy";
inline constexpr std::string_view container_permissions = "racwdxltmeiyf";
inline constexpr std::string_view account_permissions = "rwdxftlacupiy";
inline constexpr std::string_view account_services = "btqf";
inline constexpr std::string_view account_resource_types = "sco";

/// A shared access signature: the query string to append to a resource URL ("sv=...&sig=...").
/// Anyone holding it may use it until it expires, so it is kept as a secret and prints as "***".
class sas_token {
 public:
  sas_token() = default;
  sas_token(secret query, std::string string_to_sign) : query_(std::move(query)), string_to_sign_(std::move(string_to_sign)) {}

  /// The query string, without '?'. A credential: never log it.
  std::string_view reveal() const noexcept { return query_.reveal(); }
  /// `resource_url` with the SAS as its query ('&' joins it to a query already there).
  secret url(std::string_view resource_url) const {
    const char sep = resource_url.find('?') == std::string_view::npos ? '?' : '&';
    return secret{std::string(resource_url) + sep + std::string(query_.reveal())};
  }
  /// What was signed (no key, no signature: safe to compare in tests).
  const std::string& string_to_sign() const noexcept { return string_to_sign_; }

  friend std::ostream& operator<<(std::ostream& os, const sas_token&) { return os << secret::redacted; }

 private:
  secret query_;
  std::string string_to_sign_;
};

/// spr: which protocols the SAS may be used with.
enum class sas_protocol { any, https_only, https_and_http };

/// What both kinds of SAS hold.
struct sas_common {
  std::string permissions{};                                  ///< sp, letters in their order
  std::optional<std::chrono::system_clock::time_point> start{};  ///< st (whole seconds)
  std::chrono::system_clock::time_point expiry{};             ///< se (whole seconds)
  std::string ip_range{};                                     ///< sip: "1.2.3.4" or "1.2.3.4-1.2.3.9"
  sas_protocol protocol = sas_protocol::any;                  ///< spr
  std::string version{std::string(default_version)};          ///< sv
};

/// A service SAS for one blob (`blob` set, sr=b) or a whole container (`blob` empty, sr=c).
struct service_sas {
  sas_common common{};
  std::string container{};
  std::string blob{};  ///< the blob's name, unencoded ("dir/a b.txt")
  // Response headers the service sends back when the SAS is used (rscc, rscd, rsce, rscl, rsct).
  std::string cache_control{};
  std::string content_disposition{};
  std::string content_encoding{};
  std::string content_language{};
  std::string content_type{};
};

/// An account SAS: services (ss: b, t, q, f) and resource types (srt: s, c, o).
struct account_sas {
  sas_common common{};
  std::string services{};
  std::string resource_types{};
};

namespace detail {

inline error sas_fail(std::string what) { return error(errc::invalid_argument, "azure sas: " + std::move(what)); }

// Checks that `letters` is non-empty, uses only `allowed` and follows its order without repeats.
inline result<void> check_letters(std::string_view letters, std::string_view allowed, std::string_view field) {
  if (letters.empty()) return sas_fail(std::string(field) + " is empty");
  std::size_t at = 0;
  for (char c : letters) {
    const auto pos = allowed.find(c);
    if (pos == std::string_view::npos)
      return sas_fail(std::string(field) + " holds a letter that is not one of \"" + std::string(allowed) + "\"");
    if (pos < at) return sas_fail(std::string(field) + " must list its letters once each, in the order \"" + std::string(allowed) + "\"");
    at = pos + 1;
  }
  return {};
}

// "2026-11-30T13:00:59Z".
inline std::string iso8601(std::chrono::system_clock::time_point t) {
  const auto u = auth::detail::utc(t);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", u.year, u.month, u.day, u.hour, u.minute, u.second);
  return buf;
}

inline bool valid_ipv4(std::string_view s) {
  int parts = 0;
  while (true) {
    std::size_t n = 0;
    int v = 0;
    while (n < s.size() && s[n] >= '0' && s[n] <= '9' && n < 3) v = v * 10 + (s[n++] - '0');
    if (n == 0 || v > 255 || (n > 1 && s[0] == '0')) return false;
    s.remove_prefix(n);
    if (++parts == 4) return s.empty();
    if (s.empty() || s.front() != '.') return false;
    s.remove_prefix(1);
  }
}

inline result<void> check_common(const sas_common& c) {
  if (!valid_version(c.version) || c.version < oldest_sas_version)
    return sas_fail("the signed version must be a date (YYYY-MM-DD) no older than 2020-12-06");
  if (c.expiry.time_since_epoch().count() == 0) return sas_fail("the expiry is not set");
  if (c.start && *c.start >= c.expiry) return sas_fail("the start is not before the expiry");
  if (!c.ip_range.empty()) {
    const auto dash = c.ip_range.find('-');
    std::string_view r = c.ip_range;
    if (!valid_ipv4(r.substr(0, dash)) || (dash != std::string_view::npos && !valid_ipv4(r.substr(dash + 1))))
      return sas_fail("the IP range must be an IPv4 address or two joined by '-'");
  }
  return {};
}

inline std::string_view protocol_value(sas_protocol p) noexcept {
  switch (p) {
    case sas_protocol::https_only: return "https";
    case sas_protocol::https_and_http: return "https,http";
    default: return "";
  }
}

inline result<void> check_text(std::string_view v, std::string_view field) {
  if (v.size() > max_field) return sas_fail(std::string(field) + " is longer than 65536 bytes");
  if (!valid_value(v)) return sas_fail(std::string(field) + " holds a line break or control character");
  return {};
}

// Appends "&name=value" (value percent-encoded) when value is not empty.
inline void add(std::string& q, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  if (!q.empty()) q += '&';
  q += name;
  q += '=';
  http::percent_encode_to(q, value);
}

}  // namespace detail

/// A service SAS for a blob or a container, signed with the account key. Permissions must use
/// the letters of blob_permissions (a blob) or container_permissions (a container), in that order.
inline result<sas_token> make_service_sas(const service_sas& s, const shared_key_credential& key) {
  const bool blob = !s.blob.empty();
  if (auto ok = detail::check_letters(s.common.permissions, blob ? blob_permissions : container_permissions, "the permissions (sp)"); !ok)
    return ok.error();
  if (auto ok = detail::check_common(s.common); !ok) return ok.error();
  if (s.container.size() < 3 || s.container.size() > 63 ||
      !std::all_of(s.container.begin(), s.container.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }))
    if (s.container != "$root" && s.container != "$web" && s.container != "$logs")
      return detail::sas_fail("the container name must be 3 to 63 lower-case letters, digits and '-'");
  const std::pair<std::string_view, std::string_view> texts[] = {
      {s.blob, "the blob name"},          {s.cache_control, "rscc"}, {s.content_disposition, "rscd"},
      {s.content_encoding, "rsce"},       {s.content_language, "rscl"}, {s.content_type, "rsct"}};
  for (auto [v, field] : texts)
    if (auto ok = detail::check_text(v, field); !ok) return ok.error();
  const auto& c = s.common;
  const std::string st = c.start ? detail::iso8601(*c.start) : "", se = detail::iso8601(c.expiry);
  const std::string_view sr = blob ? "b" : "c";
  std::string resource = "/blob/" + key.account() + '/' + s.container;
  if (blob) resource += '/' + s.blob;
  std::string sts;
  for (std::string_view part : {std::string_view(c.permissions), std::string_view(st), std::string_view(se), std::string_view(resource),
                                std::string_view{} /* si */, std::string_view(c.ip_range), detail::protocol_value(c.protocol),
                                std::string_view(c.version), sr, std::string_view{} /* snapshot */, std::string_view{} /* ses */,
                                std::string_view(s.cache_control), std::string_view(s.content_disposition),
                                std::string_view(s.content_encoding), std::string_view(s.content_language)}) {
    sts += part;
    sts += '\n';
  }
  sts += s.content_type;
  std::string q;
  detail::add(q, "sv", c.version);
  detail::add(q, "spr", detail::protocol_value(c.protocol));
  detail::add(q, "st", st);
  detail::add(q, "se", se);
  detail::add(q, "sip", c.ip_range);
  detail::add(q, "sr", sr);
  detail::add(q, "sp", c.permissions);
  detail::add(q, "rscc", s.cache_control);
  detail::add(q, "rscd", s.content_disposition);
  detail::add(q, "rsce", s.content_encoding);
  detail::add(q, "rscl", s.content_language);
  detail::add(q, "rsct", s.content_type);
  detail::add(q, "sig", key.sign(sts));
  return sas_token(secret{std::move(q)}, std::move(sts));
}

/// An account SAS, signed with the account key. Permissions use account_permissions, services
/// account_services and resource types account_resource_types, each in that order.
inline result<sas_token> make_account_sas(const account_sas& s, const shared_key_credential& key) {
  if (auto ok = detail::check_letters(s.common.permissions, account_permissions, "the permissions (sp)"); !ok) return ok.error();
  if (auto ok = detail::check_letters(s.services, account_services, "the services (ss)"); !ok) return ok.error();
  if (auto ok = detail::check_letters(s.resource_types, account_resource_types, "the resource types (srt)"); !ok) return ok.error();
  if (auto ok = detail::check_common(s.common); !ok) return ok.error();
  const auto& c = s.common;
  const std::string st = c.start ? detail::iso8601(*c.start) : "", se = detail::iso8601(c.expiry);
  std::string sts;
  for (std::string_view part : {std::string_view(key.account()), std::string_view(c.permissions), std::string_view(s.services),
                                std::string_view(s.resource_types), std::string_view(st), std::string_view(se),
                                std::string_view(c.ip_range), detail::protocol_value(c.protocol), std::string_view(c.version),
                                std::string_view{} /* ses */}) {
    sts += part;
    sts += '\n';
  }
  std::string q;
  detail::add(q, "sv", c.version);
  detail::add(q, "ss", s.services);
  detail::add(q, "srt", s.resource_types);
  detail::add(q, "spr", detail::protocol_value(c.protocol));
  detail::add(q, "st", st);
  detail::add(q, "se", se);
  detail::add(q, "sip", c.ip_range);
  detail::add(q, "sp", c.permissions);
  detail::add(q, "sig", key.sign(sts));
  return sas_token(secret{std::move(q)}, std::move(sts));
}

}  // namespace intg::auth::azure
