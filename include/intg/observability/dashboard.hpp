// The seed's text dashboard ("Tableau de Bord Santé Intégrations"), rendered from live data:
// totals, healthy and degraded counts, call success rate, average latency, and a bar per category
// showing the share of that category's integrations that are healthy.
#pragma once

#include <intg/core/integration_config.hpp>
#include <intg/observability/call_recorder.hpp>
#include <intg/core/registry.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace intg {

inline std::string_view category_label(integration_type t) noexcept {
  switch (t) {
    case integration_type::external_api: return "APIs Externes";
    case integration_type::cloud_service: return "Services Cloud";
    case integration_type::communication: return "Communication";
    case integration_type::authentication: return "Authentification";
    case integration_type::data_pipeline: return "Pipelines Données";
    case integration_type::security: return "Sécurité";
    case integration_type::monitoring: return "Surveillance";
  }
  return "";
}

namespace detail {
// Display width of UTF-8 text (one column per code point; the labels hold no wide characters).
inline std::size_t columns(std::string_view s) noexcept {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
inline std::string pad(std::string s, std::size_t width) {
  const std::size_t w = columns(s);
  if (w < width) s.append(width - w, ' ');
  return s;
}
}  // namespace detail

/// Renders the dashboard. Categories without integrations are left out.
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
  for (auto t : all_integration_types) {
    std::size_t n = 0, ok = 0;
    for (const auto& s : integrations) {
      if (s.type != t) continue;
      ++n;
      ok += s.status == integration_status::healthy;
    }
    if (!n) continue;
    const double pct = 100.0 * static_cast<double>(ok) / static_cast<double>(n);
    const std::size_t bar = static_cast<std::size_t>(pct / 100.0 * 32 + 0.5);
    std::string row = " " + detail::pad(std::string(category_label(t)), 17) + " │ ";
    for (std::size_t i = 0; i < 32; ++i) row += i < bar ? "█" : " ";
    std::snprintf(buf, sizeof buf, " %3.0f%%", pct);
    line(row + buf);
  }
  rule("╚", "╝");
  return out;
}

}  // namespace intg
