// Hex, base64 and base64url encoding and strict decoding. Decoders refuse anything a canonical
// encoder would not produce (wrong alphabet, misplaced or missing padding, whitespace, non-zero
// trailing bits): signatures and tokens must have exactly one textual form. OpenSSL's own base64
// (EVP_DecodeBlock) is lenient and has no URL alphabet, hence these few lines of our own.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace intg::crypto {

/// Views bytes as characters (no copy).
inline std::string_view as_chars(std::span<const std::uint8_t> bytes) noexcept {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}
/// Views characters as bytes (no copy).
inline std::span<const std::uint8_t> as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// Lowercase hex of `bytes`, appended to `out`.
inline void append_hex(std::string& out, std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  const std::size_t at = out.size();
  out.resize(at + bytes.size() * 2);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[at + 2 * i] = digits[bytes[i] >> 4];
    out[at + 2 * i + 1] = digits[bytes[i] & 0xf];
  }
}
/// Lowercase hex of `bytes`.
inline std::string to_hex(std::span<const std::uint8_t> bytes) {
  std::string out;
  append_hex(out, bytes);
  return out;
}
/// Lowercase hex of the characters of `s` taken as bytes.
inline std::string to_hex(std::string_view s) { return to_hex(as_bytes(s)); }

namespace detail {
inline int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Sextet of a base64 character in the chosen alphabet, or -1.
inline int b64_value(char c, bool url) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == (url ? '-' : '+')) return 62;
  if (c == (url ? '_' : '/')) return 63;
  return -1;
}

inline std::string b64_encode(std::string_view in, bool url, bool pad) {
  const char* alphabet = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                             : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t(std::uint8_t(in[i])) << 16) | (std::uint32_t(std::uint8_t(in[i + 1])) << 8) |
                            std::uint8_t(in[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  const std::size_t rest = in.size() - i;
  if (rest == 1) {
    const std::uint32_t v = std::uint32_t(std::uint8_t(in[i])) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint32_t(std::uint8_t(in[i])) << 16) | (std::uint32_t(std::uint8_t(in[i + 1])) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

// `padded`: the input must be padded to a multiple of 4 with '='; otherwise '=' is refused.
inline result<std::string> b64_decode(std::string_view in, bool url, bool padded) {
  const char* name = url ? "base64url" : "base64";
  auto fail = [&](std::string why) { return error{errc::invalid_argument, std::string(name) + ": " + why}; };
  std::size_t data_len = in.size();
  if (padded) {
    if (in.size() % 4 != 0) return fail("length is not a multiple of 4");
    if (data_len > 0 && in[data_len - 1] == '=') --data_len;
    if (data_len > 0 && in[data_len - 1] == '=') --data_len;
  }
  if (data_len % 4 == 1) return fail("impossible length");
  std::string out;
  out.reserve(data_len / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < data_len; ++i) {
    const int v = b64_value(in[i], url);
    if (v < 0) return fail("invalid character at offset " + std::to_string(i));
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // Leftover bits must be zero, or two encodings would decode to the same bytes.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return fail("non-zero trailing bits");
  return out;
}
}  // namespace detail

/// Decodes hex (either case); an odd length or a non-hex character is an error.
inline result<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return error{errc::invalid_argument, "hex: odd length"};
  std::string out;
  out.resize(hex.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = detail::hex_value(hex[2 * i]);
    const int lo = detail::hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return error{errc::invalid_argument, "hex: invalid character at offset " + std::to_string(2 * i)};
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

/// Standard base64 (RFC 4648 §4) with '=' padding.
inline std::string base64_encode(std::string_view data) { return detail::b64_encode(data, false, true); }
inline std::string base64_encode(std::span<const std::uint8_t> data) { return base64_encode(as_chars(data)); }
/// Strict standard base64: padding required, no whitespace, canonical trailing bits.
inline result<std::string> base64_decode(std::string_view text) { return detail::b64_decode(text, false, true); }

/// base64url (RFC 4648 §5) without padding, as JOSE uses it.
inline std::string base64url_encode(std::string_view data) { return detail::b64_encode(data, true, false); }
inline std::string base64url_encode(std::span<const std::uint8_t> data) { return base64url_encode(as_chars(data)); }
/// Strict base64url without padding ('=' is refused), canonical trailing bits.
inline result<std::string> base64url_decode(std::string_view text) { return detail::b64_decode(text, true, false); }

}  // namespace intg::crypto
