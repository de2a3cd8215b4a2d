// The formats the cloud stores write in their answers, read once for all of them: ISO 8601 / RFC
// 3339 times in UTC (S3 listings, Google Cloud Storage), HTTP dates (Last-Modified), decimal sizes,
// quoted ETags, and values cleaned before they go into messages. Each reader refuses what is not
// exactly its format (nullopt), never guesses.
#pragma once

#include <intg/http/message.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace intg::cloud {

namespace detail {

// The n decimal digits at `at`; -1 when any is not a digit or the text is too short.
inline int digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[at + i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

inline std::optional<std::chrono::system_clock::time_point> make_time(int y, int mo, int d, int h, int mi, int s) {
  using namespace std::chrono;
  // system_clock counts nanoseconds in 64 bits: it ends in 2262.
  if (y < 1970 || y > 2261 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60) return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (mo < 1 || d < 1 || !ymd.ok()) return std::nullopt;
  return system_clock::time_point(sys_days{ymd} + hours{h} + minutes{mi} + seconds{s});
}

// A header of an answer; empty when absent.
inline std::string_view header(const http::response& res, std::string_view name) {
  auto it = res.find(name);
  return it == res.end() ? std::string_view{} : std::string_view(it->value());
}

// A value that goes into messages and logs: cut, control characters blanked.
inline std::string clean(std::string_view v, std::size_t max = 300) {
  std::string s(v.substr(0, max));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return s;
}

}  // namespace detail

/// "2009-10-12T17:50:30.000Z" (ISO 8601 / RFC 3339 in UTC, as S3 listings and Google Cloud
/// Storage write it; up to nine fraction digits, which are dropped).
inline std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view s) {
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s.back() != 'Z')
    return std::nullopt;
  if (s.size() > 20) {
    if (s[19] != '.' || s.size() > 30 || s.size() < 22) return std::nullopt;
    for (char c : s.substr(20, s.size() - 21))
      if (c < '0' || c > '9') return std::nullopt;
  }
  using detail::digits;
  return detail::make_time(digits(s, 0, 4), digits(s, 5, 2), digits(s, 8, 2), digits(s, 11, 2), digits(s, 14, 2),
                           digits(s, 17, 2));
}

/// "Wed, 12 Oct 2009 17:50:00 GMT" (an HTTP date, as Last-Modified headers write it).
using http::parse_http_date;

/// A decimal size; nullopt when it is not one or does not fit 64 bits.
inline std::optional<std::uint64_t> parse_size(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

/// An ETag without its quotes (`"9b2cf535f27731c974343645a3985328"` in headers, bare in some
/// listings).
inline std::string unquote_etag(std::string_view e) {
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return std::string(e);
}

}  // namespace intg::cloud
