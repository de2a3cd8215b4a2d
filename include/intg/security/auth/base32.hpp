// Base32 (RFC 4648 §6), the encoding of OTP secrets in authenticator apps and otpauth:// URIs.
// Decoding accepts either case and optional (but then correct) '=' padding, and refuses
// anything else, including spaces: strip user formatting ("JBSW Y3DP ...") before decoding.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace intg::auth {

/// Base32 of `data`, uppercase, without padding (as otpauth:// URIs carry it).
inline std::string base32_encode(std::string_view data, bool pad = false) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::string out;
  out.reserve((data.size() + 4) / 5 * 8);
  std::uint64_t acc = 0;
  int bits = 0;
  for (unsigned char c : data) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += alphabet[(acc >> bits) & 31];
    }
  }
  if (bits > 0) out += alphabet[(acc << (5 - bits)) & 31];
  if (pad)
    while (out.size() % 8 != 0) out += '=';
  return out;
}

/// Decodes base32 (case-insensitive, optional padding). Invalid characters, impossible lengths,
/// wrong padding and non-zero trailing bits are errors.
inline result<std::string> base32_decode(std::string_view text) {
  auto fail = [](std::string why) { return error{errc::invalid_argument, "base32: " + why}; };
  std::size_t len = text.size();
  while (len > 0 && text[len - 1] == '=') --len;
  if (len != text.size() && text.size() % 8 != 0) return fail("padding must complete a group of 8");
  // Valid unpadded lengths modulo 8 are 0, 2, 4, 5, 7 (1, 2, 3, 4 trailing bytes).
  const std::size_t rem = len % 8;
  if (rem == 1 || rem == 3 || rem == 6) return fail("impossible length");
  if (len != text.size() && text.size() - len >= 7) return fail("too much padding");
  std::string out;
  out.reserve(len * 5 / 8);
  std::uint64_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < len; ++i) {
    char c = text[i];
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a';
    else if (c >= '2' && c <= '7') v = c - '2' + 26;
    else return fail("invalid character at offset " + std::to_string(i));
    acc = (acc << 5) | static_cast<std::uint64_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return fail("non-zero trailing bits");
  return out;
}

}  // namespace intg::auth
