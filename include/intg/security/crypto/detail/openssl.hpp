// Owning handles for OpenSSL objects and the conversion of OpenSSL's error queue into an
// intg::error. Internal to intg::crypto and intg::auth.
#pragma once

#include <intg/core/error.hpp>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>

#include <memory>
#include <string>
#include <string_view>

namespace intg::crypto::detail {

template <class T, void (*Free)(T*)>
struct deleter {
  void operator()(T* p) const noexcept { Free(p); }
};

using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using cipher_ctx_ptr = std::unique_ptr<EVP_CIPHER_CTX, deleter<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>>;
using cipher_ptr = std::unique_ptr<EVP_CIPHER, deleter<EVP_CIPHER, EVP_CIPHER_free>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY, EVP_PKEY_free>>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using kdf_ptr = std::unique_ptr<EVP_KDF, deleter<EVP_KDF, EVP_KDF_free>>;
using kdf_ctx_ptr = std::unique_ptr<EVP_KDF_CTX, deleter<EVP_KDF_CTX, EVP_KDF_CTX_free>>;
using bn_ptr = std::unique_ptr<BIGNUM, deleter<BIGNUM, BN_clear_free>>;
using param_bld_ptr = std::unique_ptr<OSSL_PARAM_BLD, deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using params_ptr = std::unique_ptr<OSSL_PARAM, deleter<OSSL_PARAM, OSSL_PARAM_free>>;

/// An intg::error for a failed OpenSSL call. The error queue is drained so that a later, unrelated
/// failure is not blamed on this one; its last reason (never key material) goes in the message.
inline error openssl_error(errc code, std::string_view what) {
  unsigned long last = 0;
  while (unsigned long e = ERR_get_error()) last = e;
  std::string msg(what);
  if (last != 0) {
    char buf[256];
    ERR_error_string_n(last, buf, sizeof buf);
    msg += " (";
    msg += buf;
    msg += ')';
  }
  return error{code, std::move(msg)};
}

/// Drops whatever OpenSSL queued (used when a failure is an expected answer, e.g. a bad signature).
inline void clear_errors() noexcept { ERR_clear_error(); }

inline const unsigned char* uchar(std::string_view s) noexcept {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace intg::crypto::detail
