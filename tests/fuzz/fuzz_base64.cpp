// libFuzzer target: the strict decoders (hex, base64, base64url, base32) never crash, and what
// they accept re-encodes to exactly the input (one canonical form).
#include <intg/security/auth/base32.hpp>
#include <intg/security/crypto/encoding.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace c = intg::crypto;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto d = c::base64_decode(in); d && c::base64_encode(*d) != in) std::abort();
  if (auto d = c::base64url_decode(in); d && c::base64url_encode(*d) != in) std::abort();
  if (auto d = c::from_hex(in); d && c::from_hex(c::to_hex(*d)).value() != *d) std::abort();
  if (auto d = intg::auth::base32_decode(in); d) {
    auto again = intg::auth::base32_decode(intg::auth::base32_encode(*d));
    if (!again || *again != *d) std::abort();
  }
  // Encoders round-trip any bytes.
  if (c::base64_decode(c::base64_encode(in)).value() != in) std::abort();
  if (c::base64url_decode(c::base64url_encode(in)).value() != in) std::abort();
  return 0;
}
