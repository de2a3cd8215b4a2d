// HKDF-SHA256 key derivation (RFC 5869) through OpenSSL's EVP_KDF interface: derive separate keys
// for separate purposes from one master secret.
#pragma once

#include <intg/security/crypto/detail/openssl.hpp>
#include <intg/core/result.hpp>

#include <string>
#include <string_view>

namespace intg::crypto {

/// HKDF-SHA256 (extract then expand): `length` bytes (1 to 8160) from input keying material
/// `ikm`, an optional `salt` and a context string `info`.
inline result<std::string> hkdf_sha256(std::string_view ikm, std::string_view salt, std::string_view info,
                                       std::size_t length) {
  using namespace detail;
  if (length == 0 || length > 255 * 32) return error{errc::invalid_argument, "HKDF-SHA256: length must be 1 to 8160"};
  kdf_ptr kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return openssl_error(errc::crypto_failure, "HKDF unavailable");
  kdf_ctx_ptr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return openssl_error(errc::crypto_failure, "HKDF context");
  // OSSL_PARAM wants non-const pointers; OpenSSL only reads them.
  static char digest[] = "SHA256";
  static char empty = 0;
  auto ptr = [](std::string_view s) { return s.empty() ? &empty : const_cast<char*>(s.data()); };
  OSSL_PARAM params[5];
  int n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ptr(ikm), ikm.size());
  if (!salt.empty()) params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, ptr(salt), salt.size());
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ptr(info), info.size());
  params[n] = OSSL_PARAM_construct_end();
  std::string out(length, '\0');
  if (EVP_KDF_derive(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), out.size(), params) != 1)
    return openssl_error(errc::crypto_failure, "HKDF-SHA256 failed");
  return out;
}

}  // namespace intg::crypto
