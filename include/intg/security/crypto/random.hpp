// Cryptographically secure random bytes from OpenSSL's DRBG (RAND_bytes), for keys, nonces,
// PKCE verifiers and token identifiers. (intg::random is for jitter only.)
#pragma once

#include <intg/security/crypto/detail/openssl.hpp>
#include <intg/core/result.hpp>

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <span>
#include <string>

namespace intg::crypto {

/// Fills `out` with secure random bytes.
inline result<void> fill_random(std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {  // RAND_bytes takes an int count
    const int n = static_cast<int>(std::min<std::size_t>(out.size() - done, INT_MAX));
    if (RAND_bytes(out.data() + done, n) != 1) return detail::openssl_error(errc::crypto_failure, "RAND_bytes failed");
    done += static_cast<std::size_t>(n);
  }
  return {};
}

/// `n` secure random bytes.
inline result<std::string> random_bytes(std::size_t n) {
  std::string out(n, '\0');
  auto r = fill_random({reinterpret_cast<std::uint8_t*>(out.data()), out.size()});
  if (!r) return r.error();
  return out;
}

}  // namespace intg::crypto
