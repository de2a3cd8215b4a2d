// Constant-time comparison for MACs, signatures and tokens (OpenSSL's CRYPTO_memcmp), so that the
// time a comparison takes does not reveal how many leading bytes matched.
#pragma once

#include <openssl/crypto.h>

#include <cstdint>
#include <span>
#include <string_view>

namespace intg::crypto {

/// True when `a` and `b` are equal. Runs in time independent of the contents; the lengths are
/// treated as public (they are, for MACs and digests).
inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}
inline bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept {
  return constant_time_equal(std::string_view(reinterpret_cast<const char*>(a.data()), a.size()),
                             std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
}

}  // namespace intg::crypto
