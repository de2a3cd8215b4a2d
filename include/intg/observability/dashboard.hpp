// The seed's text dashboard ("Tableau de Bord Santé Intégrations"), rendered from live data:
// totals, healthy and degraded counts, call success rate, average latency, and a bar per category
// showing the share of that category's integrations that are healthy.
#pragma once

#include <intg/core/integration_config.hpp>
#include <intg/observability/call_recorder.hpp>
#include <intg/core/registry.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace intg {

/// The dashboard's label of a category: French for the predefined ones, the name itself otherwise.
inline std::string_view category_label(std::string_view category) noexcept {
  for (const auto& p : categories::predefined)
    if (p.name == category) return p.label;
  return category;
}

namespace detail {
// Display width of UTF-8 text (one column per code point; the labels hold no wide characters).
inline std::size_t columns(std::string_view s) noexcept {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
// Predefined categories first in their fixed order, then the others sorted by name.
inline std::vector<std::string> categories_present(const std::vector<integration_snapshot>& integrations) {
  std::vector<std::string> out;
  auto present = [&](std::string_view c) {
    return std::any_of(integrations.begin(), integrations.end(), [&](const auto& s) { return s.category == c; });
  };
  for (const auto& p : categories::predefined)
    if (present(p.name)) out.emplace_back(p.name);
  std::vector<std::string> others;
  for (const auto& s : integrations) {
    const bool predefined = std::any_of(std::begin(categories::predefined), std::end(categories::predefined),
                                        [&](const auto& p) { return p.name == s.category; });
    if (!predefined && std::find(others.begin(), others.end(), s.category) == others.end()) others.push_back(s.category);
  }
  std::sort(others.begin(), others.end());
  out.insert(out.end(), others.begin(), others.end());
  return out;
}
inline std::string pad(std::string s, std::size_t width) {
  const std::size_t w = columns(s);
  if (w < width) s.append(width - w, ' ');
  return s;
}
}  // namespace detail

/// Renders the dashboard: one bar per category present (predefined categories first in their
/// fixed order with their French labels, then the others sorted, labelled by name).
inline std::string render_dashboard(const std::vector<integration_snapshot>& integrations, const call_totals& calls = {}) {
  constexpr std::size_t inner = 62;
  std::size_t healthy = 0, degraded = 0;
  for (const auto& s : integrations) {
    healthy += s.status == integration_status::healthy;
    degraded += s.status == integration_status::degraded;
  }
  char buf[160];
  std::string out = "Tableau de Bord Santé Intégrations\n";
  auto rule = [&](const char* l, const char* r) {
    out += l;
    for (std::size_t i = 0; i < inner; ++i) out += "═";
    out += r;
    out += '\n';
  };
  auto line = [&](const std::string& text) { out += "║" + detail::pad(text, inner) + "║\n"; };
  rule("╔", "╗");
  std::snprintf(buf, sizeof buf, " Total Intégrations: %-5zu Saines: %-5zu Dégradées: %zu", integrations.size(), healthy, degraded);
  line(buf);
  if (calls.calls) {
    const double rate = 100.0 * static_cast<double>(calls.succeeded) / static_cast<double>(calls.calls);
    const double avg_ms = static_cast<double>(calls.total_latency.count()) / 1000.0 / static_cast<double>(calls.calls);
    std::snprintf(buf, sizeof buf, " Taux Succès: %.1f%%       Temps Moy: %.0fms", rate, avg_ms);
  } else {
    std::snprintf(buf, sizeof buf, " Taux Succès: n/a          Temps Moy: n/a");
  }
  line(buf);
  rule("╠", "╣");
  constexpr std::size_t label_width = 17;
  for (const auto& c : detail::categories_present(integrations)) {
    std::size_t n = 0, ok = 0;
    for (const auto& s : integrations) {
      if (s.category != c) continue;
      ++n;
      ok += s.status == integration_status::healthy;
    }
    const double pct = 100.0 * static_cast<double>(ok) / static_cast<double>(n);
    const std::size_t bar = static_cast<std::size_t>(pct / 100.0 * 32 + 0.5);
    std::string label(category_label(c));
    if (detail::columns(label) > label_width) label = label.substr(0, label_width - 1) + "…";  // names are ASCII
    std::string row = " " + detail::pad(std::move(label), label_width) + " │ ";
    for (std::size_t i = 0; i < 32; ++i) row += i < bar ? "█" : " ";
    std::snprintf(buf, sizeof buf, " %3.0f%%", pct);
    line(row + buf);
  }
  rule("╚", "╝");
  return out;
}

}  // namespace intg
