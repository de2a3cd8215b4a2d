// W3C Trace Context (traceparent) ids: parsing, formatting and generation, without allocation.
#pragma once

#include <intg/core/random.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace intg {

/// A W3C trace context: 16-byte trace id, 8-byte parent (span) id and flags.
struct trace_context {
  std::array<std::uint8_t, 16> trace_id{};
  std::array<std::uint8_t, 8> span_id{};
  std::uint8_t flags = 0;  // bit 0: sampled

  bool valid() const noexcept {
    auto nonzero = [](const auto& a) {
      for (auto b : a)
        if (b) return true;
      return false;
    };
    return nonzero(trace_id) && nonzero(span_id);
  }
  bool sampled() const noexcept { return flags & 1; }

  /// Length of a version-00 traceparent value.
  static constexpr std::size_t traceparent_size = 55;

  /// Writes "00-<trace>-<span>-<flags>" into `out` (55 chars). Unknown flag bits are sent as zero.
  void format_traceparent(char (&out)[traceparent_size]) const noexcept {
    static constexpr char hex[] = "0123456789abcdef";
    char* p = out;
    auto put = [&](std::uint8_t b) {
      *p++ = hex[b >> 4];
      *p++ = hex[b & 15];
    };
    put(0);
    *p++ = '-';
    for (auto b : trace_id) put(b);
    *p++ = '-';
    for (auto b : span_id) put(b);
    *p++ = '-';
    put(flags & 1);
  }

  /// Parses a traceparent header value per the W3C spec; nullopt means "start a new trace".
  static std::optional<trace_context> parse_traceparent(std::string_view v) noexcept {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    if (v.size() < traceparent_size) return std::nullopt;
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;  // uppercase is invalid too
    };
    auto byte = [&](std::size_t at) -> int {
      int h = nib(v[at]), l = nib(v[at + 1]);
      return (h < 0 || l < 0) ? -1 : (h << 4 | l);
    };
    int version = byte(0);
    if (version < 0 || version == 0xff) return std::nullopt;
    if (v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
    if (version == 0 && v.size() != traceparent_size) return std::nullopt;
    if (v.size() > traceparent_size && v[traceparent_size] != '-') return std::nullopt;
    trace_context tc;
    for (std::size_t i = 0; i < 16; ++i) {
      int b = byte(3 + 2 * i);
      if (b < 0) return std::nullopt;
      tc.trace_id[i] = static_cast<std::uint8_t>(b);
    }
    for (std::size_t i = 0; i < 8; ++i) {
      int b = byte(36 + 2 * i);
      if (b < 0) return std::nullopt;
      tc.span_id[i] = static_cast<std::uint8_t>(b);
    }
    int f = byte(53);
    if (f < 0) return std::nullopt;
    tc.flags = static_cast<std::uint8_t>(f);
    if (!tc.valid()) return std::nullopt;
    return tc;
  }

  /// Fills fresh random ids from `rng` (re-drawing the vanishingly rare all-zero id). `n` is 8 or 16.
  template <random_source R>
  static void fill(R& rng, std::uint8_t* out, std::size_t n) noexcept {
    std::uint64_t w[2];
    do {
      w[0] = rng();
      w[1] = n > 8 ? rng() : 0;
    } while ((w[0] | w[1]) == 0);
    std::memcpy(out, w, n);
  }
};

}  // namespace intg
