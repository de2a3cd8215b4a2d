// SHA-2 digests (SHA-256, SHA-384, SHA-512) through OpenSSL's EVP interface, and MD5 for the
// legacy protocols that still ask for it; in one call, or fed piece by piece (streamed data).
#pragma once

#include <intg/security/crypto/detail/openssl.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace intg::crypto {

namespace detail {
// OpenSSL 3 looks up ("fetches") an algorithm's implementation each time a legacy handle such as
// EVP_sha256() is used: a lock and a property query, about as long as hashing 200 bytes. The
// implementation is fetched once per process here and kept for its life.
inline const EVP_MD* fetched_digest(const char* name) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  if (!md) throw intg::exception(openssl_error(errc::crypto_failure, std::string("no ") + name + " implementation"));
  return md;
}
inline const EVP_MD* sha256_md() {
  static const EVP_MD* md = fetched_digest("SHA256");
  return md;
}
inline const EVP_MD* sha384_md() {
  static const EVP_MD* md = fetched_digest("SHA384");
  return md;
}
inline const EVP_MD* sha512_md() {
  static const EVP_MD* md = fetched_digest("SHA512");
  return md;
}
inline const EVP_MD* md5_md() {
  static const EVP_MD* md = fetched_digest("MD5");
  return md;
}

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
inline std::array<std::uint8_t, 32> sha256(std::string_view data) { return detail::digest<32>(detail::sha256_md(), data); }
/// SHA-384 of `data`.
inline std::array<std::uint8_t, 48> sha384(std::string_view data) { return detail::digest<48>(detail::sha384_md(), data); }
/// SHA-512 of `data`.
inline std::array<std::uint8_t, 64> sha512(std::string_view data) { return detail::digest<64>(detail::sha512_md(), data); }
/// MD5 of `data`. Broken as a hash: only for protocols that define their signatures with it
/// (Last.fm's api_sig), never for anything new.
inline std::array<std::uint8_t, 16> md5(std::string_view data) { return detail::digest<16>(detail::md5_md(), data); }

/// A digest of data that arrives in pieces (a streamed download): update() with each piece, then
/// finish() once. `sha256_hasher` and `md5_hasher` name the two that storage services use.
template <std::size_t N>
class hasher {
 public:
  explicit hasher(const EVP_MD* md) : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), md, nullptr) != 1)
      throw intg::exception(detail::openssl_error(errc::crypto_failure, "EVP_DigestInit_ex failed"));
  }
  hasher& update(std::string_view data) {
    if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1)
      throw intg::exception(detail::openssl_error(errc::crypto_failure, "EVP_DigestUpdate failed"));
    return *this;
  }
  std::array<std::uint8_t, N> finish() {
    std::array<std::uint8_t, N> out{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), out.data(), &len) != 1 || len != N)
      throw intg::exception(detail::openssl_error(errc::crypto_failure, "EVP_DigestFinal_ex failed"));
    return out;
  }

 private:
  detail::md_ctx_ptr ctx_;
};

struct sha256_hasher : hasher<32> {
  sha256_hasher() : hasher<32>(detail::sha256_md()) {}
};
/// MD5: only where a protocol defines its checksum with it (S3 ETags, Azure's Content-MD5).
struct md5_hasher : hasher<16> {
  md5_hasher() : hasher<16>(detail::md5_md()) {}
};

}  // namespace intg::crypto
