// SHA-2 digests (SHA-256, SHA-384, SHA-512) through OpenSSL's EVP interface, and MD5 for the
// legacy protocols that still ask for it.
#pragma once

#include <intg/security/crypto/detail/openssl.hpp>

#include <array>
#include <cstdint>
#include <string_view>

namespace intg::crypto {

namespace detail {
template <std::size_t N>
std::array<std::uint8_t, N> digest(const EVP_MD* md, std::string_view data) {
  std::array<std::uint8_t, N> out{};
  unsigned int len = 0;
  // Fails only when OpenSSL cannot allocate or has no provider: a broken process, not bad input.
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 || len != N)
    throw intg::exception(openssl_error(errc::crypto_failure, "EVP_Digest failed"));
  return out;
}
}  // namespace detail

/// SHA-256 of `data`.
inline std::array<std::uint8_t, 32> sha256(std::string_view data) { return detail::digest<32>(EVP_sha256(), data); }
/// SHA-384 of `data`.
inline std::array<std::uint8_t, 48> sha384(std::string_view data) { return detail::digest<48>(EVP_sha384(), data); }
/// SHA-512 of `data`.
inline std::array<std::uint8_t, 64> sha512(std::string_view data) { return detail::digest<64>(EVP_sha512(), data); }
/// MD5 of `data`. Broken as a hash: only for protocols that define their signatures with it
/// (Last.fm's api_sig), never for anything new.
inline std::array<std::uint8_t, 16> md5(std::string_view data) { return detail::digest<16>(EVP_md5(), data); }

}  // namespace intg::crypto
