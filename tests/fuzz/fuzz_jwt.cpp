// libFuzzer target: the JWT parser and verifier (segments, base64url, strict JSON with duplicate
// detection, algorithm selection, claim checks) must turn any input into a value or an error, and
// what it accepts must make sense: a token that verifies also decodes, names an algorithm that is
// not `none` and fits the key that verified it; a token intg signs verifies.
#include <intg/security/auth/jwk.hpp>
#include <intg/security/auth/jwt.hpp>
#include <intg/security/crypto/encoding.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace jwt = intg::auth::jwt;

namespace {
void check_accepted(std::string_view token, const intg::auth::jwk& key) {
  auto d = jwt::decode(token);
  if (!d || d->alg == "none") std::abort();
  const auto* alg = jwt::detail::find_algorithm(d->alg);
  if (!alg || !jwt::detail::check_key_fits(*alg, key)) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto hs = intg::auth::jwk::from_secret(std::string(32, 'k'));
  static const auto ec = intg::auth::jwk::from_json_text(
      R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})");
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  (void)jwt::decode(token);
  if (jwt::verify(token, hs, {})) check_accepted(token, hs);
  if (ec && jwt::verify(token, *ec, {.issuer = "x", .audience = "y", .required_claims = {"sub"}})) check_accepted(token, *ec);
  // The same bytes as a JWK.
  (void)intg::auth::jwk::from_json_text(token);
  // Claims survive signing and verification (hex: JSON strings must be valid UTF-8).
  const std::string hex = intg::crypto::to_hex(token);
  const boost::json::object claims{{"data", hex}};
  auto signed_token = jwt::sign(claims, hs, "HS256");
  if (!signed_token) std::abort();
  auto back = jwt::verify(*signed_token, hs, {});
  if (!back || back->at("data").as_string() != hex) std::abort();
  return 0;
}
