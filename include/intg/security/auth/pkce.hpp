// PKCE (RFC 7636) for the OAuth 2.0 authorization-code flow: a random code verifier and its S256
// code challenge (BASE64URL(SHA256(verifier))). The plain method is deliberately not offered.
#pragma once

#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/hash.hpp>
#include <intg/security/crypto/random.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>

#include <string>
#include <string_view>

namespace intg::auth {

/// The S256 code challenge of `verifier`: BASE64URL-ENCODE(SHA256(ASCII(verifier))), unpadded.
inline std::string pkce_challenge(std::string_view verifier) {
  return crypto::base64url_encode(crypto::sha256(verifier));
}

/// Whether `verifier` is a valid code verifier: 43 to 128 characters of [A-Z a-z 0-9 - . _ ~].
inline bool pkce_verifier_valid(std::string_view verifier) noexcept {
  if (verifier.size() < 43 || verifier.size() > 128) return false;
  for (char c : verifier)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
          c == '_' || c == '~'))
      return false;
  return true;
}

/// A fresh code verifier: 32 secure random bytes, base64url-encoded (43 characters, 256 bits),
/// as RFC 7636 §4.1 recommends. Keep it secret until the token request.
inline result<secret> pkce_verifier() {
  auto bytes = crypto::random_bytes(32);
  if (!bytes) return bytes.error();
  secret s{crypto::base64url_encode(*bytes)};
  secret wipe{std::move(*bytes)};  // the raw bytes are wiped when this goes away
  return s;
}

}  // namespace intg::auth
