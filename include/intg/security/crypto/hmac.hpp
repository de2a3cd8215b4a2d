// HMAC (RFC 2104) with SHA-1 and SHA-2 through OpenSSL's EVP_MAC interface.
#pragma once

#include <intg/security/crypto/detail/openssl.hpp>

#include <openssl/core_names.h>
#include <openssl/params.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
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
struct mac_ctx_free {
  void operator()(EVP_MAC_CTX* c) const noexcept { EVP_MAC_CTX_free(c); }
};

// An HMAC context of this thread with its digest set, keyed anew at each use. OpenSSL 3's
// one-shot EVP_Q_mac looks up HMAC and the digest and builds a context on every call, which cost
// more than the MAC itself on short inputs (SigV4 computes five per request).
inline EVP_MAC_CTX* thread_hmac(hmac_hash h) {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);  // once per process, kept for its life
  thread_local std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> contexts[4];
  auto& c = contexts[static_cast<int>(h)];
  if (!c && mac) {
    std::unique_ptr<EVP_MAC_CTX, mac_ctx_free> made(EVP_MAC_CTX_new(mac));
    char name[8] = {};
    std::memcpy(name, digest_name(h), std::strlen(digest_name(h)));
    const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name, 0), OSSL_PARAM_construct_end()};
    if (made && EVP_MAC_CTX_set_params(made.get(), params) == 1) c = std::move(made);
  }
  if (!c) throw intg::exception(openssl_error(errc::crypto_failure, "HMAC is not available"));
  return c.get();
}

inline void hmac_into(hmac_hash h, std::string_view key, std::string_view data, unsigned char* out, std::size_t cap) {
  // OpenSSL treats a null key pointer as "no key"; an empty key is a valid (if weak) HMAC key.
  static const unsigned char empty = 0;
  const unsigned char* k = key.empty() ? &empty : uchar(key);
  EVP_MAC_CTX* ctx = thread_hmac(h);
  std::size_t len = 0;
  if (EVP_MAC_init(ctx, k, key.size(), nullptr) != 1 || EVP_MAC_update(ctx, uchar(data), data.size()) != 1 ||
      EVP_MAC_final(ctx, out, &len, cap) != 1 || len != digest_size(h))
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
