// Azure Storage Shared Key authorization: signs a request with a storage account's key
// ("Authorization: SharedKey account:signature"), as the Storage REST documentation describes.
// Each step (canonicalized headers, canonicalized resource, string to sign, signature) is a
// function of its own so that tests compare each with the official SDK and with Azurite, which
// verifies signatures. `signer` signs an intg http::request in place and plugs into the provider
// kit as `rest::signed_by<azure::signer>`. Errors name what is wrong, never a value: no key,
// signature or header value reaches a message.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>
#include <intg/http/message.hpp>
#include <intg/security/auth/detail/signing.hpp>
#include <intg/security/auth/settings_source.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/hmac.hpp>

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace intg::auth::azure {

/// The x-ms-version sent when none is configured: the newest version Azurite 3.35 accepts.
inline constexpr std::string_view default_version = "2025-11-05";
/// The oldest version signed here: from 2015-02-21 a zero Content-Length signs as an empty line.
inline constexpr std::string_view oldest_version = "2015-02-21";
/// The longest path, query or header value signed (64 KiB): longer input is refused.
inline constexpr std::size_t max_field = 64 * 1024;

/// How x-ms-* header names are sorted. The service compares names with a culture-aware
/// comparison in which '-' weighs nothing at the first level; the official SDKs emulate it and
/// that is the default. Azurite sorts with JavaScript's localeCompare (ICU), where '-' sorts
/// after '_' and before digits and letters. The two differ only for names that differ where one
/// has a '-' (x-ms-a-c and x-ms-ab); Azure's own headers and metadata names (C# identifiers) never do.
enum class header_order { azure, azurite };

/// Header name/value pairs in the order they are sent.
using header_list = auth::header_list;

namespace detail {

inline error fail(std::string what) { return error(errc::invalid_argument, "azure sharedkey: " + std::move(what)); }

using auth::detail::find_header;
using auth::detail::iequal;
using auth::detail::lower;
inline std::string lowered(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = lower(c);
  return out;
}
inline bool is_storage_header(std::string_view name) noexcept { return name.size() > 5 && iequal(name.substr(0, 5), "x-ms-"); }
inline bool valid_account(std::string_view a) noexcept {
  return a.size() >= 3 && a.size() <= 24 && std::all_of(a.begin(), a.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}
// The standard headers whose values are lines of the string to sign (Content-Length aside).
inline constexpr std::string_view standard_headers[] = {"content-encoding", "content-language", "content-md5", "content-type",
                                                        "date", "if-modified-since", "if-match", "if-none-match",
                                                        "if-unmodified-since", "range"};
inline bool is_signed_header(std::string_view name) noexcept {
  return is_storage_header(name) || std::any_of(std::begin(standard_headers), std::end(standard_headers), [&](auto h) { return iequal(h, name); });
}

// The weight of a character of an x-ms- name at the first level: '_' below digits below letters;
// 0 for '-' in the service's order (it weighs nothing there). Names hold [a-z0-9_-] only.
inline int weight(char c, header_order o) noexcept {
  if (c == '-') return o == header_order::azure ? 0 : 2;
  if (c == '_') return 1;
  if (c >= '0' && c <= '9') return 10 + (c - '0');
  return 100 + (c - 'a');
}

// Appends the first-level weights of `s` (the characters that weigh something).
inline std::vector<int> weights(std::string_view s, header_order o) {
  std::vector<int> w;
  w.reserve(s.size());
  for (char c : s)
    if (int v = weight(c, o)) w.push_back(v);
  return w;
}

}  // namespace detail

/// Whether x-ms- header name `a` sorts before `b` (both lower-case, [a-z0-9_-]).
/// Azure's order: compare ignoring '-', a prefix first; on a tie, at the first byte where the
/// names differ the one without the '-' comes first ("x-ms-ab" before "x-ms-a-b"), as the SDK's
/// comparator does. Azurite's: plain comparison with '_' < '-' < digits < letters.
inline bool header_name_less(std::string_view a, std::string_view b, header_order o = header_order::azure) {
  const auto wa = detail::weights(a, o), wb = detail::weights(b, o);
  if (wa != wb) return std::lexicographical_compare(wa.begin(), wa.end(), wb.begin(), wb.end());
  const auto m = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  if (m.first == a.end() || m.second == b.end()) return false;  // equal names (a tie on weights means same length)
  return *m.second == '-';
}

/// A storage account's name and key. The key (base64, as the portal shows it) is decoded once
/// and kept as a secret; it leaves this class only into HMAC.
class shared_key_credential {
 public:
  /// Fails when the name is not 3 to 24 lower-case letters and digits or the key is empty or not
  /// base64; the error never shows the key.
  static result<shared_key_credential> make(std::string account, const secret& account_key) {
    if (!detail::valid_account(account))
      return detail::fail("the account name must be 3 to 24 lower-case letters and digits");
    if (account_key.empty()) return detail::fail("the account key is empty");
    if (account_key.reveal().size() > 1024) return detail::fail("the account key is longer than 1024 characters");
    auto raw = crypto::base64_decode(account_key.reveal());
    if (!raw) return detail::fail("the account key is not valid base64");
    secret key{std::move(*raw)};
    if (key.empty()) return detail::fail("the account key is empty");
    shared_key_credential c;
    c.account_ = std::move(account);
    c.key_ = std::move(key);
    return c;
  }

  const std::string& account() const noexcept { return account_; }

  /// Base64 HMAC-SHA256 of `string_to_sign` under the decoded key: a Shared Key or SAS
  /// signature. It is a credential: never log it.
  std::string sign(std::string_view string_to_sign) const {
    return crypto::base64_encode(crypto::hmac_sha256(key_.reveal(), string_to_sign));
  }

 private:
  std::string account_;
  secret key_;
};

/// A request as it is signed.
struct request {
  std::string method{};  ///< "GET", as sent
  /// The path as on the request line, percent-encoded as sent ("/container/a%20b"); empty means
  /// "/". With the emulator's path-style URLs it starts with the account: "/devstoreaccount1/c".
  std::string path{};
  std::string query{};          ///< as on the request line, without '?'
  header_list headers{};        ///< Content-Length here is not read: content_length is
  std::uint64_t content_length = 0;  ///< the body's size; 0 signs as an empty line
};

/// What a signature is bound to.
struct params {
  std::chrono::system_clock::time_point time{};         ///< x-ms-date
  std::string version{std::string(default_version)};    ///< x-ms-version
  header_order order = header_order::azure;
};

/// What sign() computed, and the headers it set on the request (in this order).
struct signing {
  std::string string_to_sign{};
  std::string signature{};      ///< base64; a credential
  std::string authorization{};  ///< "SharedKey account:signature"; a credential
  header_list added{};          ///< x-ms-date, x-ms-version, Authorization
};

namespace detail {

// A value holds no control characters (tabs aside): no CR or LF, so no header can be smuggled
// into the string to sign, where each line has a fixed meaning.
inline bool valid_value(std::string_view v) noexcept {
  return std::none_of(v.begin(), v.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return (c < 0x20 && c != '\t') || c == 0x7f;
  });
}

// Trimmed, inner runs of spaces and tabs as one space.
inline std::string folded(std::string_view v) {
  std::string out;
  bool pending = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      pending = !out.empty();
      continue;
    }
    if (pending) out += ' ';
    out += c;
    pending = false;
  }
  return out;
}

inline bool valid_version(std::string_view v) noexcept {  // YYYY-MM-DD
  return v.size() == 10 && v[4] == '-' && v[7] == '-' &&
         std::all_of(v.begin(), v.end(), [](char c) { return c == '-' || (c >= '0' && c <= '9'); });
}

inline result<void> check_escapes(std::string_view s, std::string_view what) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size() || crypto::detail::hex_value(s[i + 1]) < 0 || crypto::detail::hex_value(s[i + 2]) < 0)
      return fail(std::string(what) + " has an invalid percent escape at offset " + std::to_string(i));
    i += 2;
  }
  return {};
}

// Decodes a query component as the service reads it: '+' is a space.
inline std::string decode_query(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      out += static_cast<char>(crypto::detail::hex_value(s[i + 1]) * 16 + crypto::detail::hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// RFC 1123, as x-ms-date is written: "Sun, 06 Nov 1994 08:49:37 GMT".
inline std::string rfc1123(std::chrono::system_clock::time_point t) {
  static constexpr const char* days_[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto u = auth::detail::utc(t);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%s, %02u %s %04d %02d:%02d:%02d GMT", days_[u.weekday], u.day, months[u.month - 1], u.year,
                u.hour, u.minute, u.second);
  return buf;
}

}  // namespace detail

/// The time as x-ms-date carries it: "Mon, 30 Nov 2026 13:00:59 GMT".
inline std::string ms_date(std::chrono::system_clock::time_point t) { return detail::rfc1123(t); }

/// The CanonicalizedHeaders: every x-ms-* header, name lower-cased, value trimmed with inner
/// runs of spaces and tabs as one space, "name:value\n" each, sorted by `order`. A name may
/// appear once; names hold letters, digits, '-' and '_'; values hold no CR, LF or other control
/// character and at most max_field bytes. Errors name the header, never its value.
inline result<std::string> canonicalized_headers(const header_list& headers, header_order order = header_order::azure) {
  std::vector<std::pair<std::string, std::string>> ms;
  for (const auto& [name, value] : headers) {
    if (!detail::valid_value(value)) return detail::fail("the value of header " + name.substr(0, 64) + " holds a line break or control character");
    if (value.size() > max_field) return detail::fail("the value of header " + name.substr(0, 64) + " is longer than 65536 bytes");
    if (!detail::is_storage_header(name)) continue;
    auto lower = detail::lowered(name);
    if (!std::all_of(lower.begin(), lower.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'; }))
      return detail::fail("x-ms- header names hold letters, digits, '-' and '_' only");
    ms.emplace_back(std::move(lower), detail::folded(value));
  }
  std::sort(ms.begin(), ms.end(), [order](const auto& a, const auto& b) { return header_name_less(a.first, b.first, order); });
  for (std::size_t i = 1; i < ms.size(); ++i)
    if (ms[i].first == ms[i - 1].first) return detail::fail("header " + ms[i].first + " appears more than once");
  std::string out;
  for (auto& [n, v] : ms) out += n + ':' + v + '\n';
  return out;
}

/// The CanonicalizedResource: "/account" + the path as sent, then one line per query parameter,
/// "name:value" with the name lower-cased and the value decoded ('+' as a space, as the service
/// reads it), sorted by name; the values of a repeated name sorted and joined with ','. A
/// parameter without '=' signs with an empty value.
inline result<std::string> canonicalized_resource(std::string_view account, std::string_view path, std::string_view query) {
  if (path.size() > max_field || query.size() > max_field) return detail::fail("the path or query is longer than 65536 bytes");
  if (path.empty()) path = "/";
  if (path.front() != '/') return detail::fail("the path must start with '/'");
  if (auto ok = detail::check_escapes(path, "the path"); !ok) return ok.error();
  if (auto ok = detail::check_escapes(query, "the query"); !ok) return ok.error();
  for (char c : std::string(path) + std::string(query))
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return detail::fail("the path or query holds a space or control character");
  std::vector<std::pair<std::string, std::string>> params;
  std::string_view q = query;
  while (!q.empty()) {
    const auto amp = q.find('&');
    const auto part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    const auto eq = part.find('=');
    auto value = detail::decode_query(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1));
    if (!detail::valid_value(value)) return detail::fail("a query parameter decodes to a control character");
    params.emplace_back(detail::lowered(detail::decode_query(part.substr(0, eq))), std::move(value));
  }
  std::sort(params.begin(), params.end());
  std::string out = "/" + std::string(account) + std::string(path);
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (i > 0 && params[i].first == params[i - 1].first) {
      out += ',' + params[i].second;
      continue;
    }
    out += '\n' + params[i].first + ':' + params[i].second;
  }
  return out;
}

/// The string to sign: the method, the values of Content-Encoding, Content-Language,
/// Content-Length (empty when 0), Content-MD5, Content-Type, Date, If-Modified-Since, If-Match,
/// If-None-Match, If-Unmodified-Since and Range (trimmed; empty when absent), one per line, then
/// the canonicalized headers and resource. Content-Encoding comes before Content-Language, as in
/// the REST documentation and in what Azurite checks (the JavaScript SDK lists them the other way).
inline result<std::string> string_to_sign(const request& r, std::string_view account, header_order order = header_order::azure) {
  if (r.method.empty() || r.method.size() > 32 ||
      !std::all_of(r.method.begin(), r.method.end(), [](char c) { return c >= 'A' && c <= 'Z'; }))
    return detail::fail("the method must be upper-case letters");
  auto headers = canonicalized_headers(r.headers, order);
  if (!headers) return headers.error();
  auto resource = canonicalized_resource(account, r.path, r.query);
  if (!resource) return resource.error();
  std::string out = r.method + '\n';
  auto line = [&](std::string_view name) {
    const std::string* value = nullptr;
    for (auto& [n, v] : r.headers) {
      if (!detail::iequal(n, name)) continue;
      if (value) return false;
      value = &v;
    }
    if (value) out += detail::folded(*value);
    out += '\n';
    return true;
  };
  for (auto name : detail::standard_headers) {
    if (name == "content-md5") {  // Content-Length's line comes before Content-MD5's
      if (r.content_length > 0) out += std::to_string(r.content_length);
      out += '\n';
    }
    if (!line(name)) return detail::fail("header " + std::string(name) + " appears more than once");
  }
  return out + *headers + *resource;
}

/// "SharedKey account:signature".
inline std::string authorization_header(std::string_view account, std::string_view signature) {
  return "SharedKey " + std::string(account) + ':' + std::string(signature);
}

/// Signs `r` in its headers: sets x-ms-date and x-ms-version (replacing earlier ones and an
/// earlier Authorization, so a retry signs again) and Authorization. On error `r` is unchanged.
inline result<signing> sign(request& r, const shared_key_credential& key, const params& p) {
  if (!detail::valid_version(p.version) || p.version < oldest_version)
    return detail::fail("the version must be a date (YYYY-MM-DD) no older than 2015-02-21");
  signing out;
  out.added.emplace_back("x-ms-date", detail::rfc1123(p.time));
  out.added.emplace_back("x-ms-version", p.version);
  request work{r.method, r.path, r.query, r.headers, r.content_length};
  std::erase_if(work.headers, [](const auto& h) {
    return detail::iequal(h.first, "authorization") || detail::iequal(h.first, "x-ms-date") || detail::iequal(h.first, "x-ms-version");
  });
  work.headers.insert(work.headers.end(), out.added.begin(), out.added.end());
  auto sts = string_to_sign(work, key.account(), p.order);
  if (!sts) return sts.error();
  out.string_to_sign = std::move(*sts);
  out.signature = key.sign(out.string_to_sign);
  out.authorization = authorization_header(key.account(), out.signature);
  out.added.emplace_back("Authorization", out.authorization);
  work.headers.emplace_back("Authorization", out.authorization);
  r.headers = std::move(work.headers);
  return out;
}

/// Signs intg http::requests in place with Shared Key: a Signer for `rest::signed_by<signer>`,
/// or used on its own. The clock is a member so that tests sign at a fixed time.
class signer {
 public:
  std::string version{std::string(default_version)};
  header_order order = header_order::azure;
  /// The signing time; the service refuses a request whose x-ms-date is more than 15 minutes off.
  std::function<std::chrono::system_clock::time_point()> clock = [] { return std::chrono::system_clock::now(); };

  /// Settings: account_name, account_key (a secret, base64 as the portal shows it).
  template <settings_source Settings>
  result<void> configure(Settings& s) {
    auto name = s.string("account_name");
    if (!name) return name.error();
    auto key = s.secret_setting("account_key");
    if (!key) return key.error();
    if (!detail::valid_account(*name)) return s.config("account_name", "is not 3 to 24 lower-case letters and digits");
    auto c = shared_key_credential::make(std::move(*name), *key);
    if (!c) return s.config("account_key", "is empty or not base64");
    key_ = std::move(*c);
    return {};
  }

  /// Sets the credential directly.
  result<void> configure(shared_key_credential c) {
    key_ = std::move(c);
    return {};
  }

  /// Signs `r` at clock().
  result<void> sign(http::request& r) const { return sign(r, clock()); }

  /// Signs the final request at `now`: the path and query from its request line, its headers,
  /// and the body's size (or its Content-Length header, when it has one). The signed headers' values are
  /// rewritten trimmed with inner runs of whitespace as one space, so that what is sent is what
  /// was signed whichever way a server normalises them. Sets x-ms-date, x-ms-version and
  /// Authorization; a retry signs again, replacing them.
  result<void> sign(http::request& r, std::chrono::system_clock::time_point now) const {
    if (!key_) return detail::fail("no credential configured");
    request sr;
    sr.method = std::string(r.message.method_string());
    std::string_view target = r.message.target();
    if (target.empty()) target = r.target.target();
    const auto q = target.find('?');
    sr.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) sr.query = std::string(target.substr(q + 1));
    sr.content_length = r.message.body().size();
    for (const auto& f : r.message) {
      if (f.name() == http::field::content_length) {
        std::uint64_t n = 0;
        const auto v = f.value();
        if (v.empty() || v.size() > 19 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
          return detail::fail("the Content-Length header is not a number");
        for (char c : v) n = n * 10 + static_cast<std::uint64_t>(c - '0');
        sr.content_length = n;
        continue;
      }
      sr.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    auto s = azure::sign(sr, *key_, params{now, version, order});
    if (!s) return s.error();
    for (const auto& [name, value] : sr.headers)
      if (detail::is_signed_header(name)) r.message.set(name, detail::folded(value));
    for (const auto& [name, value] : s->added) r.message.set(name, value);
    return {};
  }

  const shared_key_credential* credential() const noexcept { return key_ ? &*key_ : nullptr; }

 private:
  std::optional<shared_key_credential> key_;
};

}  // namespace intg::auth::azure
