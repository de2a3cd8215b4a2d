// HMAC (RFC 2104) with SHA-1 and SHA-2 through OpenSSL's EVP_MAC interface.
#pragma once

#include <intg/security/crypto/detail/openssl.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace intg::crypto {

/// The digests HMAC is offered with. SHA-1 exists for HOTP/TOTP (RFC 4226), nothing else.
enum class hmac_hash { sha1, sha256, sha384, sha512 };

inline constexpr std::size_t digest_size(hmac_hash h) noexcept {
  switch (h) {
    case hmac_hash::sha1: return 20;
    case hmac_hash::sha256: return 32;
    case hmac_hash::sha384: return 48;
    case hmac_hash::sha512: return 64;
  }
  return 0;
}

inline constexpr const char* digest_name(hmac_hash h) noexcept {
  switch (h) {
    case hmac_hash::sha1: return "SHA1";
    case hmac_hash::sha256: return "SHA256";
    case hmac_hash::sha384: return "SHA384";
    case hmac_hash::sha512: return "SHA512";
  }
  return "SHA256";
}

namespace detail {
inline void hmac_into(hmac_hash h, std::string_view key, std::string_view data, unsigned char* out, std::size_t cap) {
  // OpenSSL treats a null key pointer as "no key"; an empty key is a valid (if weak) HMAC key.
  static const unsigned char empty = 0;
  const unsigned char* k = key.empty() ? &empty : uchar(key);
  std::size_t len = 0;
  if (!EVP_Q_mac(nullptr, "HMAC", nullptr, digest_name(h), nullptr, k, key.size(), uchar(data), data.size(), out, cap,
                 &len) ||
      len != digest_size(h))
    throw intg::exception(openssl_error(errc::crypto_failure, "HMAC failed"));
}
}  // namespace detail

/// HMAC of `data` keyed with `key`, as raw bytes (digest_size(h) of them).
inline std::string hmac(hmac_hash h, std::string_view key, std::string_view data) {
  std::string out(digest_size(h), '\0');
  detail::hmac_into(h, key, data, reinterpret_cast<unsigned char*>(out.data()), out.size());
  return out;
}

/// HMAC-SHA256 of `data` keyed with `key`.
inline std::array<std::uint8_t, 32> hmac_sha256(std::string_view key, std::string_view data) {
  std::array<std::uint8_t, 32> out{};
  detail::hmac_into(hmac_hash::sha256, key, data, out.data(), out.size());
  return out;
}
/// HMAC-SHA384 of `data` keyed with `key`.
inline std::array<std::uint8_t, 48> hmac_sha384(std::string_view key, std::string_view data) {
  std::array<std::uint8_t, 48> out{};
  detail::hmac_into(hmac_hash::sha384, key, data, out.data(), out.size());
  return out;
}
/// HMAC-SHA512 of `data` keyed with `key`.
inline std::array<std::uint8_t, 64> hmac_sha512(std::string_view key, std::string_view data) {
  std::array<std::uint8_t, 64> out{};
  detail::hmac_into(hmac_hash::sha512, key, data, out.data(), out.size());
  return out;
}

}  // namespace intg::crypto
