// AWS Signature Version 4: signs a request with an access key for one region and service, in the
// Authorization header or as a presigned URL. Each step of the algorithm is a function of its own
// (canonical request, string to sign, signing key, signature, Authorization header) so that tests
// compare each one with AWS's test suite and with botocore. `signer` signs an intg http::request
// in place and plugs into the provider kit as `rest::signed_by<sigv4::signer<"sqs">>`.
// Errors name what is wrong, never a value: no key, token or header value reaches a message.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/fixed_string.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>
#include <intg/http/message.hpp>
#include <intg/http/url.hpp>
#include <intg/security/auth/detail/signing.hpp>
#include <intg/security/auth/settings_source.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/hash.hpp>
#include <intg/security/crypto/hmac.hpp>

#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace intg::auth::sigv4 {

inline constexpr std::string_view algorithm = "AWS4-HMAC-SHA256";
/// The payload line of a request whose body is not signed (S3 presigned URLs, streamed uploads).
inline constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";
/// The longest validity AWS accepts for a presigned URL: seven days.
inline constexpr std::chrono::seconds max_expires{604800};

/// An access key. The secret key and the session token never leave this struct except into HMAC
/// and the X-Amz-Security-Token header (or query parameter).
struct credentials {
  std::string access_key_id{};
  secret secret_access_key{};
  secret session_token{};  ///< temporary (STS) credentials only; empty for long-term keys
};

/// Header name/value pairs in the order they are sent; a name may repeat.
using header_list = auth::header_list;

/// A request as it is signed.
struct request {
  std::string method{};  ///< "GET", as sent
  /// The path as on the request line: percent-encoded ("/a%20b") or not ("/a b", the test suite's
  /// form); empty means "/". An invalid percent escape is an error.
  std::string path{};
  std::string query{};      ///< the query as on the request line, without '?'
  header_list headers{};    ///< must include Host
  std::string body{};
  /// The payload line when it is not the SHA-256 of `body`: a precomputed lowercase hex SHA-256,
  /// or UNSIGNED-PAYLOAD.
  std::string payload_hash{};
};

/// What a signature is bound to.
struct params {
  std::string region{};                          ///< "us-east-1"
  std::string service{};                         ///< the signing name: "s3", "sqs", "execute-api"
  std::chrono::system_clock::time_point time{};  ///< the signing time (UTC, whole seconds count)
  /// Sign without the session token, then add it (AWS IoT's WebSocket endpoint wants this; the
  /// test suite's post-sts-header-after case). Off: the token is signed, as every SDK does.
  bool omit_session_token = false;
};

/// What sign() computed, and the headers it added to the request (in this order).
struct signing {
  std::string canonical_request{};
  std::string string_to_sign{};
  std::string signature{};      ///< lowercase hex
  std::string authorization{};  ///< the Authorization header's value
  header_list added{};          ///< X-Amz-Date, X-Amz-Security-Token, X-Amz-Content-SHA256, Authorization
};

/// A presigned URL and the values that led to it.
struct presigned {
  std::string url{};
  std::string canonical_request{};
  std::string string_to_sign{};
  std::string signature{};
};

/// The canonical form of a header list: "name:value\n" per name, and the signed-headers list.
struct canonical_header_block {
  std::string headers{};
  std::string signed_headers{};
};

namespace detail {

inline error fail(std::string what) { return error(errc::invalid_argument, "sigv4: " + std::move(what)); }

using auth::detail::find_header;
using auth::detail::iequal;
using auth::detail::lower;

// RFC 9110 token characters: what a header name and a method may hold.
inline bool is_tchar(unsigned char c) noexcept {
  return http::detail::is_unreserved(c) || std::string_view("!#$%&'*+^`|").find(static_cast<char>(c)) != std::string_view::npos;
}
inline bool is_token(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

// Headers SDKs leave unsigned (botocore's list, plus Authorization, which a signature replaces):
// hop-by-hop headers a proxy may change or drop, and headers clients and proxies rewrite.
inline bool never_signed(std::string_view lower_name) noexcept {
  static constexpr std::string_view names[] = {"authorization", "connection", "expect", "keep-alive",
                                               "proxy-authenticate", "proxy-authorization", "te", "trailer",
                                               "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id"};
  return std::find(std::begin(names), std::end(names), lower_name) != std::end(names);
}

// Region and service go into the credential scope "date/region/service/aws4_request" and into
// the Authorization header: a '/', ',' or space there would change what the scope means.
inline bool is_scope_word(std::string_view s) noexcept {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
  });
}

// What is wrong with credentials or parameters, named by their setting (never by their value).
struct problem {
  std::string_view setting;
  std::string_view why;
};
inline std::optional<problem> check(const credentials& c, const params& p) {
  auto word = [](std::string_view s) -> std::string_view {
    if (s.empty()) return "is empty";
    return is_scope_word(s) ? "" : "holds a character other than letters, digits, '-', '_' and '.'";
  };
  if (auto w = word(c.access_key_id); !w.empty()) return problem{"access_key_id", w};
  if (c.secret_access_key.empty()) return problem{"secret_access_key", "is empty"};
  for (char ch : c.session_token.reveal())
    if (static_cast<unsigned char>(ch) <= 0x20 || static_cast<unsigned char>(ch) >= 0x7f)
      return problem{"session_token", "holds a space, control or non-ASCII character"};
  if (auto w = word(p.region); !w.empty()) return problem{"region", w};
  if (auto w = word(p.service); !w.empty()) return problem{"service", w};
  return std::nullopt;
}
inline result<void> validate(const credentials& c, const params& p) {
  if (auto bad = check(c, p)) return fail(std::string(bad->setting) + " " + std::string(bad->why));
  return {};
}

// Checks the %XX escapes of `s` (the error says where the first bad one is).
inline result<void> check_escapes(std::string_view s, std::string_view what) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size() || crypto::detail::hex_value(s[i + 1]) < 0 || crypto::detail::hex_value(s[i + 2]) < 0)
      return fail(std::string(what) + " has an invalid percent escape at offset " + std::to_string(i));
    i += 2;
  }
  return {};
}

inline void append_decoded(std::string& out, std::string_view s) {  // escapes already checked
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      out += static_cast<char>(crypto::detail::hex_value(s[i + 1]) * 16 + crypto::detail::hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
}
inline std::string decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  append_decoded(out, s);
  return out;
}
// Percent-encodes the decoded form of `s` (escapes already checked) onto `out`; most parts have
// no escape and are encoded as they are.
inline void append_reencoded(std::string& out, std::string_view s) {
  if (s.find('%') == std::string_view::npos) return http::percent_encode_to(out, s);
  http::percent_encode_to(out, decode(s));
}

template <class F>
void for_each_part(std::string_view s, char sep, F&& f) {
  for (;;) {
    const auto at = s.find(sep);
    f(s.substr(0, at));
    if (at == std::string_view::npos) return;
    s.remove_prefix(at + 1);
  }
}

// Trimall: no leading or trailing whitespace, inner runs as one space. Line breaks count as
// whitespace, so an obsolete folded value ("a\r\n  b") becomes "a b".
inline void append_trimmed(std::string& out, std::string_view v) {
  // Whole runs of non-space characters at a time, one space between runs.
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  std::size_t i = 0;
  bool first = true;
  while (i < v.size()) {
    while (i < v.size() && space(v[i])) ++i;
    if (i == v.size()) break;
    std::size_t j = i;
    while (j < v.size() && !space(v[j])) ++j;
    if (!first) out += ' ';
    out.append(v.data() + i, j - i);
    first = false;
    i = j;
  }
}

// A header value may hold visible characters, obs-text, spaces and tabs, and line breaks only
// as the start of a folded continuation line (a break followed by a space or tab).
inline bool valid_value(std::string_view v) noexcept {
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if (c == '\r' || c == '\n') {
      std::size_t j = i + 1;
      if (c == '\r' && j < v.size() && v[j] == '\n') ++j;
      if (j >= v.size() || (v[j] != ' ' && v[j] != '\t')) return false;
      i = j - 1;
      continue;
    }
    if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
  }
  return true;
}

// "YYYYMMDDTHHMMSSZ". system_clock's range (years 1678 to 2261) always has four-digit years.
// Written digit by digit: snprintf's "%02d" draws -Wformat-truncation at -O2, where g++ cannot see
// that the fields are in range.
struct date_chars {
  std::array<char, 16> c;
  std::string_view full() const noexcept { return {c.data(), c.size()}; }  // 20150830T123600Z
  std::string_view day() const noexcept { return {c.data(), 8}; }          // 20150830
};
inline date_chars amz_date_chars(std::chrono::system_clock::time_point t) {
  // One signature needs its date four times; the calendar arithmetic is done once per second.
  thread_local std::chrono::system_clock::time_point last_time{};
  thread_local std::optional<date_chars> last;
  const auto second = std::chrono::floor<std::chrono::seconds>(t);
  if (last && last_time == second) return *last;
  const auto u = auth::detail::utc(t);
  date_chars out{{'0', '0', '0', '0', '0', '0', '0', '0', 'T', '0', '0', '0', '0', '0', '0', 'Z'}};
  auto put = [&](std::size_t at, std::size_t width, long v) {
    for (std::size_t i = width; i-- > 0; v /= 10) out.c[at + i] = static_cast<char>('0' + v % 10);
  };
  put(0, 4, static_cast<long>(u.year));
  put(4, 2, static_cast<long>(u.month));
  put(6, 2, static_cast<long>(u.day));
  put(9, 2, static_cast<long>(u.hour));
  put(11, 2, static_cast<long>(u.minute));
  put(13, 2, static_cast<long>(u.second));
  last_time = second;
  last = out;
  return out;
}
inline std::string amz_date(std::chrono::system_clock::time_point t) { return std::string(amz_date_chars(t).full()); }

inline std::string hex_sha256(std::string_view data) { return crypto::to_hex(crypto::sha256(data)); }

// Header names must be RFC 9110 tokens; values must hold no control characters. The error
// counts headers from 1 in the caller's list and never shows a value.
inline result<void> check_headers(const header_list& h) {
  for (std::size_t i = 0; i < h.size(); ++i) {
    if (!is_token(h[i].first)) return fail("header #" + std::to_string(i + 1) + " has an empty or invalid name");
    if (!valid_value(h[i].second)) return fail("the value of header " + h[i].first + " holds a control character");
  }
  return {};
}

}  // namespace detail

/// Whether `service` follows S3's rules: the path is neither normalised nor encoded twice, and
/// requests carry X-Amz-Content-SHA256. The S3 family signs as "s3" (botocore's S3SigV4Auth also
/// serves S3 on Outposts and S3 Object Lambda).
inline bool uses_s3_rules(std::string_view service) noexcept {
  return service == "s3" || service == "s3-outposts" || service == "s3-object-lambda";
}

/// The time as SigV4 writes it (X-Amz-Date): "20150830T123600Z".
inline std::string amz_date(std::chrono::system_clock::time_point t) { return detail::amz_date(t); }

/// "20150830/us-east-1/service/aws4_request".
inline std::string credential_scope(const params& p) {
  std::string out(detail::amz_date_chars(p.time).day());
  out.reserve(8 + p.region.size() + p.service.size() + 15);
  out += '/';
  out += p.region;
  out += '/';
  out += p.service;
  out += "/aws4_request";
  return out;
}

namespace detail {
inline void append_scope(std::string& out, std::string_view day, const params& p) {
  out += day;
  out += '/';
  out += p.region;
  out += '/';
  out += p.service;
  out += "/aws4_request";
}

// canonical_uri() onto `out`.
inline result<void> append_canonical_uri(std::string& out, std::string_view path, std::string_view service) {
  if (path.empty()) {
    out += '/';
    return {};
  }
  if (path.front() != '/') return fail("the path must start with '/'");
  if (auto ok = check_escapes(path, "the path"); !ok) return ok.error();
  if (uses_s3_rules(service)) {
    for_each_part(path.substr(1), '/', [&](std::string_view seg) {
      out += '/';
      append_reencoded(out, seg);
    });
    return {};
  }
  // botocore's remove_dot_segments: a trailing '/' stays when anything is left.
  boost::container::small_vector<std::string_view, 16> kept;
  for_each_part(path.substr(1), '/', [&](std::string_view seg) {
    if (seg.empty() || seg == ".") return;
    if (seg == "..") {
      if (!kept.empty()) kept.pop_back();
      return;
    }
    kept.push_back(seg);
  });
  for (auto seg : kept) {
    out += '/';
    http::percent_encode_to(out, seg);
  }
  if (kept.empty()) out += '/';
  else if (path.back() == '/') out += '/';
  return {};
}

// canonical_query() onto `out`.
inline result<void> append_canonical_query(std::string& out, std::string_view query) {
  if (auto ok = check_escapes(query, "the query"); !ok) return ok.error();
  boost::container::small_vector<std::pair<std::string, std::string>, 8> pairs;
  for_each_part(query, '&', [&](std::string_view part) {
    if (part.empty()) return;
    const auto eq = part.find('=');
    auto& [k, v] = pairs.emplace_back();
    append_reencoded(k, part.substr(0, eq));
    if (eq != std::string_view::npos) append_reencoded(v, part.substr(eq + 1));
  });
  std::sort(pairs.begin(), pairs.end());
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (i > 0) out += '&';
    out += pairs[i].first;
    out += '=';
    out += pairs[i].second;
  }
  return {};
}
}  // namespace detail

/// The canonical URI. S3: each segment of the path as it is, decoded then encoded once (no
/// dot-segment removal: "." and ".." are key names). Other services: "." and ".." segments and
/// empty segments removed, then each segment encoded, which encodes a wire path a second time as
/// AWS requires ("/a%20b" signs as "/a%2520b"; the suite's raw "/a b" as "/a%20b").
inline result<std::string> canonical_uri(std::string_view path, std::string_view service) {
  std::string out;
  if (auto ok = detail::append_canonical_uri(out, path, service); !ok) return ok.error();
  return out;
}

/// The canonical query string: each parameter decoded ('+' is a plus, as in RFC 3986, not a
/// space), encoded again with everything but unreserved characters escaped, sorted by name then
/// value; a parameter without a value is "name=". Empty parts ("a=1&&b=2") are dropped.
inline result<std::string> canonical_query(std::string_view query) {
  std::string out;
  if (auto ok = detail::append_canonical_query(out, query); !ok) return ok.error();
  return out;
}

namespace detail {
// The canonical headers onto `out` ("name:value\n" per name) and the signed-headers list onto
// `signed_headers`, for headers whose names and values are known to be valid. `Headers` is a
// range of name/value pairs (strings or views).
template <class Headers>
inline result<void> append_canonical_headers(std::string& out, std::string& signed_headers, const Headers& headers) {
  bool host = false;
  std::size_t total = 0;
  for (const auto& [name, value] : headers) {
    host = host || iequal(name, "host");
    total += std::string_view(name).size();
  }
  if (!host) return fail("the request has no Host header");
  // Lower-case names side by side in one buffer; (offset, length, position), sorted stably.
  boost::container::small_vector<char, 512> names;
  names.reserve(total);
  struct entry {
    std::size_t at, size;
    std::string_view value;
  };
  boost::container::small_vector<entry, 24> order;
  for (const auto& [name_, value] : headers) {
    const std::string_view name(name_);
    const std::size_t at = names.size();
    names.resize(at + name.size());
    std::transform(name.begin(), name.end(), names.begin() + static_cast<std::ptrdiff_t>(at), [](char c) { return lower(c); });
    if (never_signed(std::string_view(names.data() + at, name.size()))) {
      names.resize(at);
      continue;
    }
    order.push_back({at, name.size(), std::string_view(value)});
  }
  auto name_of = [&](const entry& e) { return std::string_view(names.data() + e.at, e.size); };
  std::stable_sort(order.begin(), order.end(), [&](const entry& a, const entry& b) { return name_of(a) < name_of(b); });
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::string_view name = name_of(order[i]);
    if (i > 0 && name == name_of(order[i - 1])) {
      out.back() = ',';  // replaces the '\n' of the previous value of this name
    } else {
      if (!signed_headers.empty()) signed_headers += ';';
      signed_headers += name;
      out += name;
      out += ':';
    }
    append_trimmed(out, order[i].value);
    out += '\n';
  }
  return {};
}

// canonical_headers() once the names and values are known to be valid.
inline result<canonical_header_block> canonical_headers_checked(const header_list& headers) {
  canonical_header_block out;
  if (auto ok = append_canonical_headers(out.headers, out.signed_headers, headers); !ok) return ok.error();
  return out;
}
}  // namespace detail

/// The canonical headers: names lower-cased and sorted, values trimmed with inner runs of
/// whitespace as one space (folded lines too), the values of a repeated name joined with ',' in
/// the order they appear. Headers a proxy or client may rewrite are left out (see never_signed).
/// A name that is not an RFC 9110 token or a value with control characters is an error.
inline result<canonical_header_block> canonical_headers(const header_list& headers) {
  if (auto ok = detail::check_headers(headers); !ok) return ok.error();
  return detail::canonical_headers_checked(headers);
}

/// The payload line: `payload_hash` when set, else an X-Amz-Content-SHA256 header the request
/// already carries (so a caller can declare UNSIGNED-PAYLOAD or a precomputed hash on the
/// request itself, as aws-sdk-js reads it; botocore does too except for S3, where it always
/// hashes the body), else the hex SHA-256 of the body.
inline std::string payload_line(const request& r) {
  if (!r.payload_hash.empty()) return r.payload_hash;
  if (auto* h = detail::find_header(r.headers, "x-amz-content-sha256")) return *h;
  return detail::hex_sha256(r.body);
}

namespace detail {
// The canonical request onto `out` (method, canonical URI, canonical query, canonical headers,
// signed headers, payload line), the signed-headers list onto `signed_headers`. Header names and
// values already checked.
template <class Headers>
inline result<void> append_canonical_request(std::string& out, std::string& signed_headers, std::string_view method,
                                             std::string_view path, std::string_view query, const Headers& headers,
                                             std::string_view payload, std::string_view service) {
  if (!is_token(method)) return fail("the method is empty or not a token");
  out += method;
  out += '\n';
  if (auto ok = append_canonical_uri(out, path, service); !ok) return ok.error();
  out += '\n';
  if (auto ok = append_canonical_query(out, query); !ok) return ok.error();
  out += '\n';
  if (auto ok = append_canonical_headers(out, signed_headers, headers); !ok) return ok.error();
  out += '\n';
  out += signed_headers;
  out += '\n';
  out += payload;
  return {};
}

inline result<std::string> canonical_request(const request& r, std::string_view service, bool headers_checked) {
  if (!headers_checked)
    if (auto ok = check_headers(r.headers); !ok) return ok.error();
  std::string out, signed_headers;
  out.reserve(256);
  if (auto ok = append_canonical_request(out, signed_headers, r.method, r.path, r.query, r.headers, payload_line(r), service); !ok)
    return ok.error();
  return out;
}
}  // namespace detail

/// The canonical request of `r` as it stands (sign() first adds X-Amz-Date and the rest):
/// method, canonical URI, canonical query, canonical headers, signed headers, payload line.
inline result<std::string> canonical_request(const request& r, std::string_view service) {
  return detail::canonical_request(r, service, false);
}

/// The string to sign: algorithm, X-Amz-Date, credential scope, hex SHA-256 of the canonical request.
inline std::string string_to_sign(std::string_view canonical_request, const params& p) {
  const auto date = detail::amz_date_chars(p.time);
  std::string out;
  out.reserve(algorithm.size() + 16 + 8 + p.region.size() + p.service.size() + 15 + 64 + 3);
  out += algorithm;
  out += '\n';
  out += date.full();
  out += '\n';
  detail::append_scope(out, date.day(), p);
  out += '\n';
  crypto::append_hex(out, crypto::sha256(canonical_request));
  return out;
}

/// The signing key: HMAC-SHA256 chained over date, region, service and "aws4_request", starting
/// from "AWS4" + the secret key. Raw bytes, held as a secret (it signs for a whole day).
inline secret signing_key(const secret& secret_access_key, const params& p) {
  using crypto::hmac_hash;
  const secret start{"AWS4" + std::string(secret_access_key.reveal())};
  const secret k_date{crypto::hmac(hmac_hash::sha256, start.reveal(), detail::amz_date(p.time).substr(0, 8))};
  const secret k_region{crypto::hmac(hmac_hash::sha256, k_date.reveal(), p.region)};
  const secret k_service{crypto::hmac(hmac_hash::sha256, k_region.reveal(), p.service)};
  return secret{crypto::hmac(hmac_hash::sha256, k_service.reveal(), "aws4_request")};
}

/// Signing keys already derived, so that a signer pays the four HMACs of signing_key() once a day
/// per secret, region and service rather than on every request (the AWS SDKs keep them too).
/// Holds the last few keys as secrets; safe to share between threads.
class signing_key_cache {
 public:
  signing_key_cache() = default;
  // A copy (of a signer) starts empty: the cache only saves work.
  signing_key_cache(const signing_key_cache&) {}
  signing_key_cache& operator=(const signing_key_cache&) { return *this; }

  /// signing_key(secret_access_key, p), derived or remembered.
  secret get(const secret& secret_access_key, const params& p) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return find(secret_access_key, p).key;
  }

  /// signature(signing_key(secret_access_key, p), string_to_sign), without copying the key out.
  std::string sign(const secret& secret_access_key, const params& p, std::string_view string_to_sign) const {
    std::array<std::uint8_t, 32> mac;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      mac = crypto::hmac_sha256(find(secret_access_key, p).key.reveal(), string_to_sign);
    }
    return crypto::to_hex(mac);
  }

 private:
  struct entry;
  // The entry for (secret, day, region, service), derived into the least recently used one if
  // none holds it. Called with the lock held.
  entry& find(const secret& secret_access_key, const params& p) const {
    const auto date = detail::amz_date_chars(p.time);
    const std::string_view day = date.day();
    for (auto& e : entries_)
      if (e.used && e.day == day && e.region == p.region && e.service == p.service && e.secret_key.reveal() == secret_access_key.reveal()) {
        e.used = ++clock_;
        return e;
      }
    entry* slot = &entries_[0];  // the least recently used
    for (auto& e : entries_)
      if (e.used < slot->used) slot = &e;
    *slot = entry{secret_access_key, std::string(day), p.region, p.service, signing_key(secret_access_key, p), ++clock_};
    return *slot;
  }

  struct entry {
    secret secret_key{};
    std::string day{}, region{}, service{};
    secret key{};
    std::uint64_t used = 0;  ///< 0: empty
  };
  mutable std::mutex mutex_;
  mutable std::array<entry, 4> entries_{};
  mutable std::uint64_t clock_ = 0;
};

/// The signature: lowercase hex HMAC-SHA256 of the string to sign under the signing key.
inline std::string signature(const secret& signing_key, std::string_view string_to_sign) {
  return crypto::to_hex(crypto::hmac_sha256(signing_key.reveal(), string_to_sign));
}

/// "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request,
/// SignedHeaders=host;x-amz-date, Signature=..." (one line).
inline std::string authorization_header(const credentials& c, const params& p, std::string_view signed_headers,
                                        std::string_view signature) {
  std::string out;
  out.reserve(algorithm.size() + 12 + c.access_key_id.size() + 1 + 8 + p.region.size() + p.service.size() + 15 + 16 +
              signed_headers.size() + 12 + signature.size());
  out += algorithm;
  out += " Credential=";
  out += c.access_key_id;
  out += '/';
  detail::append_scope(out, detail::amz_date_chars(p.time).day(), p);
  out += ", SignedHeaders=";
  out += signed_headers;
  out += ", Signature=";
  out += signature;
  return out;
}

/// Signs `r` in its headers: replaces X-Amz-Date (and Authorization), adds X-Amz-Security-Token
/// for temporary credentials, X-Amz-Content-SHA256 for S3 (and for any unsigned payload), then
/// Authorization. On error `r` is unchanged.
/// With `keys`, the day's signing key is taken from (or put into) that cache.
inline result<signing> sign(request& r, const credentials& c, const params& p, const signing_key_cache* keys = nullptr) {
  if (auto ok = detail::validate(c, p); !ok) return ok.error();
  if (auto ok = detail::check_headers(r.headers); !ok) return ok.error();  // before the list changes
  const std::string payload = payload_line(r);
  const bool token = !c.session_token.empty();
  signing out;
  out.added.reserve(4);
  out.added.emplace_back("X-Amz-Date", std::string(detail::amz_date_chars(p.time).full()));
  if (token && !p.omit_session_token) out.added.emplace_back("X-Amz-Security-Token", c.session_token.reveal());
  if (uses_s3_rules(p.service) || payload == unsigned_payload) out.added.emplace_back("X-Amz-Content-SHA256", payload);
  // What signing replaces: an earlier signature (a retry), its date, token and payload line.
  auto replaced = [&](std::string_view name) {
    if (detail::iequal(name, "authorization") || (token && detail::iequal(name, "x-amz-security-token"))) return true;
    return std::any_of(out.added.begin(), out.added.end(), [&](const auto& a) { return detail::iequal(name, a.first); });
  };

  // What is signed: the request's headers but those replaced, then the added ones (views, no copies).
  boost::container::small_vector<std::pair<std::string_view, std::string_view>, 24> signed_view;
  for (const auto& [name, value] : r.headers)
    if (!replaced(name)) signed_view.emplace_back(name, value);
  for (const auto& [name, value] : out.added) signed_view.emplace_back(name, value);
  std::string signed_headers;
  std::size_t size = r.method.size() + 3 * (r.path.size() + r.query.size()) + 2 * payload.size() + 16;
  for (const auto& [name, value] : signed_view) size += 2 * name.size() + value.size() + 2;
  out.canonical_request.reserve(size);
  if (auto ok = detail::append_canonical_request(out.canonical_request, signed_headers, r.method, r.path, r.query, signed_view,
                                                 payload, p.service);
      !ok)  // the headers were checked above
    return ok.error();
  out.string_to_sign = string_to_sign(out.canonical_request, p);
  out.signature = keys ? keys->sign(c.secret_access_key, p, out.string_to_sign)
                       : signature(signing_key(c.secret_access_key, p), out.string_to_sign);
  out.authorization = authorization_header(c, p, signed_headers, out.signature);
  out.added.emplace_back("Authorization", out.authorization);
  if (token && p.omit_session_token) out.added.emplace_back("X-Amz-Security-Token", c.session_token.reveal());

  std::erase_if(r.headers, [&](const auto& h) { return replaced(h.first); });
  r.headers.insert(r.headers.end(), out.added.begin(), out.added.end());
  return out;
}

/// A presigned URL ("query signing"): `scheme://host/path?...&X-Amz-Signature=...`, valid for
/// `expires` (1 s to 7 days). The query holds the request's own parameters and X-Amz-Algorithm,
/// -Credential, -Date, -Expires, -SignedHeaders and -Security-Token, in canonical order (what is
/// signed is exactly what the URL says), then X-Amz-Signature. The headers in `r` (Host at least)
/// are signed and must be sent with the URL. S3 signs UNSIGNED-PAYLOAD unless `payload_hash` is
/// set; other services sign the body's hash. For a service other than S3 the path must already
/// be percent-encoded (it goes into the URL as it is); for S3 it is encoded canonically.
inline result<presigned> presign(const request& r, const credentials& c, const params& p, std::chrono::seconds expires,
                                 std::string_view scheme = "https", const signing_key_cache* keys = nullptr) {
  if (auto ok = detail::validate(c, p); !ok) return ok.error();
  if (expires.count() < 1 || expires > max_expires)
    return detail::fail("X-Amz-Expires must be between 1 and 604800 seconds (7 days), not " + std::to_string(expires.count()));
  if (scheme != "https" && scheme != "http") return detail::fail("the scheme must be http or https");
  if (!detail::is_token(r.method)) return detail::fail("the method is empty or not a token");
  const auto* host = detail::find_header(r.headers, "host");
  if (!host) return detail::fail("the request has no Host header");
  const bool s3 = uses_s3_rules(p.service);
  auto uri = canonical_uri(r.path, p.service);
  if (!uri) return uri.error();
  std::string path = r.path.empty() ? std::string("/") : r.path;
  if (s3) {
    path = *uri;
  } else {
    for (char ch : path)
      if (!http::detail::is_unreserved(static_cast<unsigned char>(ch)) && std::string_view("/%!$&'()*+,;=:@").find(ch) == std::string_view::npos)
        return detail::fail("the path must be percent-encoded to go into a URL");
  }
  auto headers = canonical_headers(r.headers);
  if (!headers) return headers.error();

  // The request's own parameters, without auth parameters of an earlier presigning.
  if (auto ok = detail::check_escapes(r.query, "the query"); !ok) return ok.error();
  http::query q;
  detail::for_each_part(r.query, '&', [&](std::string_view part) {
    if (part.empty()) return;
    const auto eq = part.find('=');
    const auto name = detail::decode(part.substr(0, eq));
    static constexpr std::string_view auth_params[] = {"X-Amz-Algorithm",     "X-Amz-Credential", "X-Amz-Date",
                                                       "X-Amz-Expires",       "X-Amz-SignedHeaders",
                                                       "X-Amz-Security-Token", "X-Amz-Signature"};
    if (std::find(std::begin(auth_params), std::end(auth_params), name) != std::end(auth_params)) return;
    q.add(name, detail::decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1)));
  });
  q.add("X-Amz-Algorithm", algorithm);
  q.add("X-Amz-Credential", c.access_key_id + '/' + credential_scope(p));
  q.add("X-Amz-Date", detail::amz_date(p.time));
  q.add("X-Amz-Expires", std::to_string(expires.count()));
  q.add("X-Amz-SignedHeaders", headers->signed_headers);
  const bool token = !c.session_token.empty();
  if (token && !p.omit_session_token) q.add("X-Amz-Security-Token", c.session_token.reveal());
  auto query = canonical_query(q.str());
  if (!query) return query.error();

  std::string payload = r.payload_hash;
  if (payload.empty()) payload = s3 ? std::string(unsigned_payload) : payload_line(r);
  presigned out;
  out.canonical_request = r.method + '\n' + *uri + '\n' + *query + '\n' + headers->headers + '\n' +
                          headers->signed_headers + '\n' + payload;
  out.string_to_sign = string_to_sign(out.canonical_request, p);
  out.signature = signature(keys ? keys->get(c.secret_access_key, p) : signing_key(c.secret_access_key, p), out.string_to_sign);
  std::string hostv;
  detail::append_trimmed(hostv, *host);
  out.url = std::string(scheme) + "://" + hostv + path + '?' + *query + "&X-Amz-Signature=" + out.signature;
  if (token && p.omit_session_token) {
    out.url += "&X-Amz-Security-Token=";
    http::percent_encode_to(out.url, c.session_token.reveal());
  }
  if (auto u = http::url::parse(out.url); !u) return detail::fail("the presigned URL is not valid (" + std::string(u.error().message()) + ")");
  return out;
}

/// Signs intg http::requests in place: a Signer for `rest::signed_by<signer<"sqs">>`, or used on
/// its own. The service is the template argument or the `service` member; the clock is a member
/// so that tests sign at a fixed time.
template <fixed_string Service = "">
class signer {
 public:
  credentials keys{};
  std::string region{};
  std::string service{Service.view()};
  bool omit_session_token = false;
  /// The signing time; AWS refuses a request whose time is more than fifteen minutes off its own
  /// (RequestTimeTooSkewed).
  std::function<std::chrono::system_clock::time_point()> clock = [] { return std::chrono::system_clock::now(); };
  /// Added to clock() when signing: set by refused() from the time AWS answered with.
  std::chrono::seconds clock_offset{0};
  /// The largest offset refused() applies: a server whose clock is further off than this is not
  /// believed (nor is a machine whose clock is that wrong papered over).
  std::chrono::seconds max_clock_correction{std::chrono::hours(24)};

  /// AWS refused the request's time (RequestTimeTooSkewed): its answer's Date header is its own
  /// clock. Sets clock_offset so that signatures carry AWS's time, and returns true (send once
  /// more). False, changing nothing, when the answer has no usable Date, when AWS's time is already
  /// within the fifteen minutes of the corrected clock (the time was not the problem), or when the
  /// correction exceeds max_clock_correction.
  bool refused(const http::response& res) {
    using namespace std::chrono;
    auto it = res.find(http::field::date);
    if (it == res.end()) return false;
    const auto server = http::parse_http_date(it->value());
    if (!server) return false;
    const auto local = time_point_cast<seconds>(clock());
    const seconds offset = duration_cast<seconds>(*server - local);
    if (offset > max_clock_correction || -offset > max_clock_correction) return false;
    const seconds before = clock_offset;
    if (offset - before < minutes(15) && before - offset < minutes(15)) return false;
    clock_offset = offset;
    return true;
  }

  /// Settings: access_key_id, secret_access_key, session_token (optional), region.
  template <settings_source Settings>
  result<void> configure(Settings& s) {
    auto id = s.string("access_key_id");
    if (!id) return id.error();
    auto key = s.secret_setting("secret_access_key");
    if (!key) return key.error();
    auto token = s.secret_setting("session_token", false);
    if (!token) return token.error();
    auto reg = s.string("region");
    if (!reg) return reg.error();
    credentials c{std::move(*id), std::move(*key), std::move(*token)};
    if (auto bad = detail::check(c, params{*reg, service, {}, omit_session_token})) {
      if (bad->setting == "service") return detail::fail("service " + std::string(bad->why));  // not a setting
      return s.config(bad->setting, bad->why);
    }
    keys = std::move(c);
    region = std::move(*reg);
    return {};
  }

  /// Sets the credentials and region directly.
  result<void> configure(credentials c, std::string reg) {
    if (auto ok = detail::validate(c, params{reg, service, {}, omit_session_token}); !ok) return ok.error();
    keys = std::move(c);
    region = std::move(reg);
    return {};
  }

  /// Signs the final request: Host from its URL, path and query from its request line, its
  /// headers and body. Sets Host, X-Amz-Date, X-Amz-Security-Token, X-Amz-Content-SHA256 (S3)
  /// and Authorization; a retry signs again, replacing them.
  result<void> sign(http::request& r) const {
    auto sr = to_request(r);
    auto s = sigv4::sign(sr, keys, params{region, service, clock() + clock_offset, omit_session_token}, &signing_keys_);
    if (!s) return s.error();
    r.message.set(http::field::host, r.target.host_header());
    for (auto& [name, value] : s->added) r.message.set(name, value);
    return {};
  }

  /// A presigned URL for `r` (its method, URL and headers), valid for `expires`. S3 signs
  /// UNSIGNED-PAYLOAD; other services the hash of the body.
  result<std::string> presign(const http::request& r, std::chrono::seconds expires) const {
    auto sr = to_request(r);
    if (uses_s3_rules(service)) sr.payload_hash.clear();
    auto s = sigv4::presign(sr, keys, params{region, service, clock() + clock_offset, omit_session_token}, expires, r.target.scheme(),
                            &signing_keys_);
    if (!s) return s.error();
    return std::move(s->url);
  }

 private:
  signing_key_cache signing_keys_;

  static request to_request(const http::request& r) {
    request out;
    out.method = std::string(r.message.method_string());
    std::string_view target = r.message.target();
    if (target.empty()) target = r.target.target();
    const auto q = target.find('?');
    out.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) out.query = std::string(target.substr(q + 1));
    out.headers.emplace_back("Host", r.target.host_header());
    for (const auto& f : r.message) {
      // The client writes a new traceparent on each attempt, after signing: never sign it.
      if (f.name() == http::field::host || detail::iequal(f.name_string(), "traceparent") ||
          detail::iequal(f.name_string(), "tracestate"))
        continue;
      out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
    // The body's hash, not a copy of the body (unless the request declares its payload line).
    if (!detail::find_header(out.headers, "x-amz-content-sha256")) out.payload_hash = detail::hex_sha256(r.message.body());
    return out;
  }
};

}  // namespace intg::auth::sigv4
