// libFuzzer target: the JWT parser and verifier (segments, base64url, strict JSON with duplicate
// detection, algorithm selection, claim checks) must turn any input into a value or an error.
#include <intg/auth/jwk.hpp>
#include <intg/auth/jwt.hpp>

#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const auto hs = intg::auth::jwk::from_secret(std::string(32, 'k'));
  static const auto ec = intg::auth::jwk::from_json_text(
      R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})");
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  (void)intg::auth::jwt::decode(token);
  (void)intg::auth::jwt::verify(token, hs, {});
  if (ec) (void)intg::auth::jwt::verify(token, *ec, {.issuer = "x", .audience = "y", .required_claims = {"sub"}});
  // The same bytes as a JWK.
  (void)intg::auth::jwk::from_json_text(token);
  return 0;
}
