// AES-256-GCM authenticated encryption with a fixed, documented wire format so that any language
// can open what intg seals:
//
//   sealed = nonce (12 bytes, random) | ciphertext (same length as the plaintext) | tag (16 bytes)
//
// The associated data (AAD) is authenticated but not stored: the opener must supply the same
// bytes. Any change to the nonce, ciphertext, tag, AAD or key makes decryption fail.
#pragma once

#include <intg/security/crypto/detail/openssl.hpp>
#include <intg/security/crypto/random.hpp>
#include <intg/core/result.hpp>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace intg::crypto {

inline constexpr std::size_t aes256gcm_key_size = 32;
inline constexpr std::size_t aes256gcm_nonce_size = 12;
inline constexpr std::size_t aes256gcm_tag_size = 16;

namespace detail {
// EVP_*Update take int lengths; refuse rather than silently truncate.
inline bool fits_int(std::size_t n) noexcept { return n <= static_cast<std::size_t>(INT_MAX - 64); }

inline result<std::string> gcm_seal(std::span<const std::uint8_t> key, std::string_view nonce, std::string_view plaintext,
                                    std::string_view aad) {
  if (key.size() != aes256gcm_key_size) return error{errc::invalid_argument, "AES-256-GCM: the key must be 32 bytes"};
  if (nonce.size() != aes256gcm_nonce_size) return error{errc::invalid_argument, "AES-256-GCM: the nonce must be 12 bytes"};
  if (!fits_int(plaintext.size()) || !fits_int(aad.size())) return error{errc::invalid_argument, "AES-256-GCM: input too large"};
  cipher_ctx_ptr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key.data(), uchar(nonce), nullptr) != 1)
    return openssl_error(errc::crypto_failure, "AES-256-GCM: init failed");
  std::string out;
  out.resize(nonce.size() + plaintext.size() + aes256gcm_tag_size);
  std::copy(nonce.begin(), nonce.end(), out.begin());
  int len = 0;
  if (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, uchar(aad), static_cast<int>(aad.size())) != 1)
    return openssl_error(errc::crypto_failure, "AES-256-GCM: AAD failed");
  auto* ct = reinterpret_cast<unsigned char*>(out.data() + nonce.size());
  int total = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), ct, &len, uchar(plaintext), static_cast<int>(plaintext.size())) != 1)
      return openssl_error(errc::crypto_failure, "AES-256-GCM: encryption failed");
    total = len;
  }
  if (EVP_EncryptFinal_ex(ctx.get(), ct + total, &len) != 1)
    return openssl_error(errc::crypto_failure, "AES-256-GCM: final failed");
  unsigned char* tag = ct + plaintext.size();
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, aes256gcm_tag_size),
                         OSSL_PARAM_construct_end()};
  if (EVP_CIPHER_CTX_get_params(ctx.get(), params) != 1)
    return openssl_error(errc::crypto_failure, "AES-256-GCM: reading the tag failed");
  return out;
}
}  // namespace detail

/// Encrypts `plaintext` with a fresh random nonce; returns nonce | ciphertext | tag.
/// `key` must be 32 bytes. `aad` is authenticated, not encrypted, and not part of the output.
inline result<std::string> aes256gcm_encrypt(std::span<const std::uint8_t> key, std::string_view plaintext,
                                             std::string_view aad = {}) {
  std::array<std::uint8_t, aes256gcm_nonce_size> nonce{};
  if (auto r = fill_random(nonce); !r) return r.error();
  return detail::gcm_seal(key, {reinterpret_cast<const char*>(nonce.data()), nonce.size()}, plaintext, aad);
}

/// Decrypts what aes256gcm_encrypt produced. Wrong key, wrong AAD, truncation or any altered
/// byte gives errc::decryption_failed (which of them is deliberately not said).
inline result<std::string> aes256gcm_decrypt(std::span<const std::uint8_t> key, std::string_view sealed,
                                             std::string_view aad = {}) {
  using namespace detail;
  if (key.size() != aes256gcm_key_size) return error{errc::invalid_argument, "AES-256-GCM: the key must be 32 bytes"};
  if (sealed.size() < aes256gcm_nonce_size + aes256gcm_tag_size)
    return error{errc::decryption_failed, "AES-256-GCM: sealed data shorter than nonce and tag"};
  if (!fits_int(sealed.size()) || !fits_int(aad.size())) return error{errc::invalid_argument, "AES-256-GCM: input too large"};
  const std::string_view nonce = sealed.substr(0, aes256gcm_nonce_size);
  const std::string_view ciphertext =
      sealed.substr(aes256gcm_nonce_size, sealed.size() - aes256gcm_nonce_size - aes256gcm_tag_size);
  std::string tag(sealed.substr(sealed.size() - aes256gcm_tag_size));
  cipher_ctx_ptr ctx(EVP_CIPHER_CTX_new());
  if (!ctx || EVP_DecryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), key.data(), uchar(nonce), nullptr) != 1)
    return openssl_error(errc::crypto_failure, "AES-256-GCM: init failed");
  int len = 0;
  if (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, uchar(aad), static_cast<int>(aad.size())) != 1)
    return openssl_error(errc::crypto_failure, "AES-256-GCM: AAD failed");
  std::string out;
  out.resize(ciphertext.size());
  auto* pt = reinterpret_cast<unsigned char*>(out.data());
  int total = 0;
  if (!ciphertext.empty()) {
    if (EVP_DecryptUpdate(ctx.get(), pt, &len, uchar(ciphertext), static_cast<int>(ciphertext.size())) != 1)
      return openssl_error(errc::crypto_failure, "AES-256-GCM: decryption failed");
    total = len;
  }
  OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag.data(), tag.size()),
                         OSSL_PARAM_construct_end()};
  if (EVP_CIPHER_CTX_set_params(ctx.get(), params) != 1)
    return openssl_error(errc::crypto_failure, "AES-256-GCM: setting the tag failed");
  if (EVP_DecryptFinal_ex(ctx.get(), pt + total, &len) != 1) {
    clear_errors();
    // Never hand back unauthenticated plaintext.
    OPENSSL_cleanse(out.data(), out.size());
    return error{errc::decryption_failed, "AES-256-GCM: authentication failed"};
  }
  return out;
}

}  // namespace intg::crypto
