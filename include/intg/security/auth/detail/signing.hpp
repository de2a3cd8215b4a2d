// Pieces the request signers (SigV4, Azure Shared Key and SAS) share: ASCII case folding for
// header names, a header lookup, and a time split into UTC calendar fields for the date formats
// each service signs ("20261130T130059Z", "2026-11-30T13:00:59Z", "Mon, 30 Nov 2026 13:00:59 GMT").
#pragma once

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace intg::auth {

/// Header name/value pairs in the order they are sent.
using header_list = std::vector<std::pair<std::string, std::string>>;

namespace detail {

inline char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }
inline bool iequal(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}
inline const std::string* find_header(const header_list& h, std::string_view name) {
  for (auto& [n, v] : h)
    if (iequal(n, name)) return &v;
  return nullptr;
}

/// A time point's UTC calendar fields, to the second. system_clock's range (years 1678 to 2261)
/// always has four-digit years.
struct utc_fields {
  int year = 0;
  unsigned month = 0, day = 0, weekday = 0;  // weekday: 0 is Sunday
  int hour = 0, minute = 0, second = 0;
};
inline utc_fields utc(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto s = floor<seconds>(t);
  const auto d = floor<days>(s);
  const year_month_day ymd{d};
  const hh_mm_ss hms{s - d};
  return {static_cast<int>(ymd.year()),          static_cast<unsigned>(ymd.month()),   static_cast<unsigned>(ymd.day()),
          weekday{d}.c_encoding(),                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
          static_cast<int>(hms.seconds().count())};
}

}  // namespace detail
}  // namespace intg::auth
