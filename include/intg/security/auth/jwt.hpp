// JSON Web Tokens (RFC 7519) in JWS compact form (RFC 7515): signing and verification with
// HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512 and EdDSA through OpenSSL's
// EVP_DigestSign/EVP_DigestVerify, and claim validation against an injectable time.
//
// What verify() refuses, whatever the token says: `alg: none`; an algorithm that does not fit the
// key (an HS256 token checked with an RSA public key: the classic confusion attack), or differs
// from the key's own `alg`; unknown `crit` extensions; anything but three strict base64url
// segments; tokens over the size limit; duplicate member names in the header or claims.
#pragma once

#include <intg/security/auth/jwk.hpp>
#include <intg/security/crypto/compare.hpp>
#include <intg/security/crypto/detail/openssl.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/hmac.hpp>
#include <intg/detail/strict_json.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/ec.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace intg::auth::jwt {

/// How verify() checks a token. `exp` and `nbf` are always checked when present; `iss`, `aud`
/// and required claims only when named here.
struct verify_options {
  /// The time to check against; empty (the default) reads the system clock at each verification,
  /// so options kept from start-up keep checking against the current time.
  std::optional<std::chrono::system_clock::time_point> now{};
  std::chrono::seconds leeway{0};                  ///< clock skew tolerated on exp, nbf and iat
  std::optional<std::string> issuer{};             ///< `iss` must equal this
  std::optional<std::string> audience{};           ///< `aud` (a string or an array) must contain this
  std::vector<std::string> required_claims{};      ///< these claims must be present
  std::vector<std::string> algorithms{};           ///< allowed algorithms; empty = any that fits the key
  std::optional<std::chrono::seconds> max_age{};   ///< when set, `iat` is required and must be this recent
  std::size_t max_token_size = 16 * 1024;          ///< longer tokens are refused before any parsing
};

/// A token split and decoded but NOT verified: for routing (which key? which tenant?) only.
struct decoded {
  boost::json::object header;
  boost::json::object claims;
  std::string alg;
  std::string kid;
  std::string_view signing_input;  ///< "header.payload", a view into the token
  std::string signature;           ///< raw signature bytes
};

namespace detail {

enum class family { hmac, rsa_pkcs1, rsa_pss, ecdsa, eddsa };

struct algorithm {
  std::string_view name;
  family kind;
  const char* digest;       // nullptr for EdDSA
  std::size_t size;         // HMAC: minimum key bytes; ECDSA: bytes of r and of s
  std::string_view curve;   // ECDSA only
  crypto::hmac_hash hmac = crypto::hmac_hash::sha256;
};

inline const algorithm* find_algorithm(std::string_view name) noexcept {
  static constexpr algorithm table[] = {
      {"HS256", family::hmac, "SHA256", 32, {}, crypto::hmac_hash::sha256},
      {"HS384", family::hmac, "SHA384", 48, {}, crypto::hmac_hash::sha384},
      {"HS512", family::hmac, "SHA512", 64, {}, crypto::hmac_hash::sha512},
      {"RS256", family::rsa_pkcs1, "SHA256", 0, {}},
      {"RS384", family::rsa_pkcs1, "SHA384", 0, {}},
      {"RS512", family::rsa_pkcs1, "SHA512", 0, {}},
      {"PS256", family::rsa_pss, "SHA256", 0, {}},
      {"PS384", family::rsa_pss, "SHA384", 0, {}},
      {"PS512", family::rsa_pss, "SHA512", 0, {}},
      {"ES256", family::ecdsa, "SHA256", 32, "P-256"},
      {"ES384", family::ecdsa, "SHA384", 48, "P-384"},
      {"ES512", family::ecdsa, "SHA512", 66, "P-521"},
      {"EdDSA", family::eddsa, nullptr, 0, {}},
  };
  for (const auto& a : table)
    if (a.name == name) return &a;
  return nullptr;
}

inline error bad_alg(std::string why) { return error{errc::algorithm_invalid, "JWT: " + std::move(why)}; }
inline error malformed(std::string why) { return error{errc::token_malformed, "JWT: " + std::move(why)}; }

// Whether `key` may be used with `alg` at all: the algorithm family must match the key type
// (this is what stops algorithm confusion), and the key's own `alg`/`use` must agree.
inline result<void> check_key_fits(const algorithm& alg, const jwk& key) {
  if (!key.alg().empty() && key.alg() != alg.name)
    return bad_alg("token algorithm " + std::string(alg.name) + " differs from the key's alg " + key.alg());
  if (!key.use().empty() && key.use() != "sig") return bad_alg("the key's use is not \"sig\"");
  switch (alg.kind) {
    case family::hmac:
      if (key.type() != key_type::oct) return bad_alg(std::string(alg.name) + " needs a symmetric (oct) key");
      if (key.secret_bytes().size() < alg.size)
        return error{errc::key_invalid, "JWT: " + std::string(alg.name) + " needs a key of at least " +
                                            std::to_string(alg.size) + " bytes"};
      return {};
    case family::rsa_pkcs1:
    case family::rsa_pss:
      if (key.type() != key_type::rsa) return bad_alg(std::string(alg.name) + " needs an RSA key");
      return {};
    case family::ecdsa:
      if (key.type() != key_type::ec || key.curve() != alg.curve)
        return bad_alg(std::string(alg.name) + " needs an EC key on " + std::string(alg.curve));
      return {};
    case family::eddsa:
      if (key.type() != key_type::okp) return bad_alg("EdDSA needs an OKP (Ed25519/Ed448) key");
      return {};
  }
  return bad_alg("unsupported algorithm");
}

using namespace intg::crypto::detail;

inline result<void> init_pss(EVP_PKEY_CTX* pctx) {
  if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0)  // RFC 7518 §3.5: salt = hash size
    return openssl_error(errc::crypto_failure, "JWT: PSS setup failed");
  return {};
}

// DER ECDSA-Sig-Value -> JOSE r || s, each left-padded to the curve size.
inline result<std::string> der_to_jose(std::string_view der, std::size_t size) {
  const unsigned char* p = uchar(der);
  std::unique_ptr<ECDSA_SIG, deleter<ECDSA_SIG, ECDSA_SIG_free>> sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return openssl_error(errc::crypto_failure, "JWT: bad ECDSA signature from OpenSSL");
  const BIGNUM *r = nullptr, *s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string out(2 * size, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(r, o, static_cast<int>(size)) < 0 || BN_bn2binpad(s, o + size, static_cast<int>(size)) < 0)
    return openssl_error(errc::crypto_failure, "JWT: ECDSA conversion failed");
  return out;
}

// JOSE r || s -> DER, for EVP_DigestVerify. A wrong length is a bad signature, not an error of ours.
inline result<std::string> jose_to_der(std::string_view raw, std::size_t size) {
  if (raw.size() != 2 * size) return error{errc::signature_invalid, "JWT: ECDSA signature of the wrong length"};
  std::unique_ptr<ECDSA_SIG, deleter<ECDSA_SIG, ECDSA_SIG_free>> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(uchar(raw), static_cast<int>(size), nullptr);
  BIGNUM* s = BN_bin2bn(uchar(raw) + size, static_cast<int>(size), nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return openssl_error(errc::crypto_failure, "JWT: out of memory");
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return openssl_error(errc::crypto_failure, "JWT: ECDSA conversion failed");
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

inline result<std::string> sign_bytes(const algorithm& alg, const jwk& key, std::string_view input) {
  if (alg.kind == family::hmac) return crypto::hmac(alg.hmac, key.secret_bytes(), input);
  if (!key.has_private()) return error{errc::key_invalid, "JWT: signing needs a private key"};
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestSignInit_ex(ctx.get(), &pctx, alg.digest, nullptr, nullptr, key.pkey(), nullptr) != 1)
    return openssl_error(errc::crypto_failure, "JWT: sign init failed");
  if (alg.kind == family::rsa_pss)
    if (auto r = init_pss(pctx); !r) return r.error();
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, uchar(input), input.size()) != 1)
    return openssl_error(errc::crypto_failure, "JWT: sign failed");
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, uchar(input), input.size()) != 1)
    return openssl_error(errc::crypto_failure, "JWT: sign failed");
  sig.resize(len);
  if (alg.kind == family::ecdsa) return der_to_jose(sig, alg.size);
  return sig;
}

inline result<void> verify_bytes(const algorithm& alg, const jwk& key, std::string_view input, std::string_view sig) {
  const error mismatch{errc::signature_invalid, "JWT: signature does not verify"};
  if (alg.kind == family::hmac) {
    const std::string expected = crypto::hmac(alg.hmac, key.secret_bytes(), input);
    if (!crypto::constant_time_equal(expected, sig)) return mismatch;
    return {};
  }
  std::string der;
  if (alg.kind == family::ecdsa) {
    auto d = jose_to_der(sig, alg.size);
    if (!d) return d.error();
    der = std::move(*d);
    sig = der;
  }
  md_ctx_ptr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), &pctx, alg.digest, nullptr, nullptr, key.pkey(), nullptr) != 1)
    return openssl_error(errc::crypto_failure, "JWT: verify init failed");
  if (alg.kind == family::rsa_pss)
    if (auto r = init_pss(pctx); !r) return r.error();
  if (EVP_DigestVerify(ctx.get(), uchar(sig), sig.size(), uchar(input), input.size()) != 1) {
    clear_errors();  // a bad signature is an answer, not a library failure
    return mismatch;
  }
  return {};
}

// A NumericDate claim as seconds since the epoch (may be fractional); absent -> nullopt.
inline result<std::optional<double>> numeric_date(const boost::json::object& claims, std::string_view name) {
  const auto* v = claims.if_contains(name);
  if (!v) return std::optional<double>{};
  if (v->is_int64()) return std::optional<double>(static_cast<double>(v->get_int64()));
  if (v->is_uint64()) return std::optional<double>(static_cast<double>(v->get_uint64()));
  if (v->is_double() && std::isfinite(v->get_double())) return std::optional<double>(v->get_double());
  return error{errc::claim_invalid, "JWT: claim \"" + std::string(name) + "\" is not a NumericDate"};
}

inline result<void> validate_claims(const boost::json::object& claims, const verify_options& opts) {
  const auto at = opts.now ? *opts.now : std::chrono::system_clock::now();  // read at verification, not construction
  const double now = std::chrono::duration<double>(at.time_since_epoch()).count();
  const double leeway = static_cast<double>(opts.leeway.count());
  auto exp = numeric_date(claims, "exp");
  if (!exp) return exp.error();
  if (*exp && now - leeway >= **exp) return error{errc::token_expired, "JWT: token expired"};
  auto nbf = numeric_date(claims, "nbf");
  if (!nbf) return nbf.error();
  if (*nbf && now + leeway < **nbf) return error{errc::token_not_yet_valid, "JWT: token not valid before its nbf"};
  auto iat = numeric_date(claims, "iat");
  if (!iat) return iat.error();
  if (*iat && now + leeway < **iat) return error{errc::token_not_yet_valid, "JWT: token issued in the future"};
  if (opts.max_age) {
    if (!*iat) return error{errc::claim_invalid, "JWT: missing claim \"iat\" (max_age is set)"};
    if (now - leeway > **iat + static_cast<double>(opts.max_age->count()))
      return error{errc::token_expired, "JWT: token older than max_age"};
  }
  if (opts.issuer) {
    const auto* iss = claims.if_contains("iss");
    if (!iss || !iss->is_string() || iss->get_string() != *opts.issuer)
      return error{errc::claim_invalid, "JWT: issuer does not match"};
  }
  if (opts.audience) {
    const auto* aud = claims.if_contains("aud");
    bool ok = false;
    if (aud && aud->is_string()) ok = aud->get_string() == *opts.audience;
    if (aud && aud->is_array())
      for (const auto& a : aud->get_array()) ok = ok || (a.is_string() && a.get_string() == *opts.audience);
    if (!ok) return error{errc::claim_invalid, "JWT: audience does not match"};
  }
  for (const auto& name : opts.required_claims)
    if (!claims.contains(name)) return error{errc::claim_invalid, "JWT: missing required claim \"" + name + "\""};
  return {};
}

inline result<boost::json::object> decode_segment(std::string_view segment, std::string_view what) {
  if (segment.empty()) return malformed(std::string(what) + " segment is empty");
  auto json = crypto::base64url_decode(segment);
  if (!json) return malformed(std::string(what) + " segment is not base64url");
  return intg::detail::strict_parse_object(*json, errc::token_malformed, "JWT " + std::string(what));
}

}  // namespace detail

/// Splits and decodes a token without verifying anything but its form: three strict base64url
/// segments, header and claims JSON objects without duplicate names, a string `alg`.
inline result<decoded> decode(std::string_view token, std::size_t max_size = 16 * 1024) {
  if (token.size() > max_size) return detail::malformed("token larger than " + std::to_string(max_size) + " bytes");
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return detail::malformed("a token has exactly three segments");
  decoded out;
  auto header = detail::decode_segment(token.substr(0, d1), "header");
  if (!header) return header.error();
  out.header = std::move(*header);
  auto claims = detail::decode_segment(token.substr(d1 + 1, d2 - d1 - 1), "claims");
  if (!claims) return claims.error();
  out.claims = std::move(*claims);
  auto sig = crypto::base64url_decode(token.substr(d2 + 1));
  if (!sig) return detail::malformed("signature segment is not base64url");
  out.signature = std::move(*sig);
  out.signing_input = token.substr(0, d2);
  const auto* alg = out.header.if_contains("alg");
  if (!alg || !alg->is_string()) return detail::malformed("header has no string \"alg\"");
  out.alg = std::string(alg->get_string());
  if (const auto* kid = out.header.if_contains("kid")) {
    if (!kid->is_string()) return detail::malformed("\"kid\" is not a string");
    out.kid = std::string(kid->get_string());
  }
  return out;
}

namespace detail {
// The token's algorithm, if it is one we accept at all under these options.
inline result<const algorithm*> resolve_algorithm(const decoded& d, const verify_options& opts) {
  // `none` in any spelling: never a valid algorithm here, whatever the key.
  std::string lower = d.alg;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "none") return bad_alg("alg \"none\" is refused");
  const auto* alg = find_algorithm(d.alg);
  if (!alg) return bad_alg("unsupported algorithm \"" + d.alg + "\"");
  if (!opts.algorithms.empty() && std::find(opts.algorithms.begin(), opts.algorithms.end(), d.alg) == opts.algorithms.end())
    return bad_alg("algorithm " + d.alg + " is not allowed");
  // RFC 7515 §4.1.11: extensions we do not understand make the token invalid.
  if (d.header.contains("crit")) return malformed("unsupported \"crit\" header parameters");
  return alg;
}

inline result<boost::json::object> verify_decoded(decoded& d, const algorithm& alg, const jwk& key,
                                                  const verify_options& opts) {
  if (auto r = check_key_fits(alg, key); !r) return r.error();
  if (auto r = verify_bytes(alg, key, d.signing_input, d.signature); !r) return r.error();
  if (auto r = validate_claims(d.claims, opts); !r) return r.error();
  return std::move(d.claims);
}
}  // namespace detail

/// Verifies `token` with `key` and returns its claims. See the top of this header for what is
/// refused; errors: token_malformed, algorithm_invalid, key_invalid, signature_invalid,
/// token_expired, token_not_yet_valid, claim_invalid.
inline result<boost::json::object> verify(std::string_view token, const jwk& key, const verify_options& opts) {
  auto d = decode(token, opts.max_token_size);
  if (!d) return d.error();
  auto alg = detail::resolve_algorithm(*d, opts);
  if (!alg) return alg.error();
  return detail::verify_decoded(*d, **alg, key, opts);
}

/// Verifies with the key of a JWK Set named by the token's `kid`; without a `kid`, the set must
/// hold exactly one key that fits the token's algorithm.
inline result<boost::json::object> verify(std::string_view token, const jwk_set& keys, const verify_options& opts) {
  auto d = decode(token, opts.max_token_size);
  if (!d) return d.error();
  auto alg = detail::resolve_algorithm(*d, opts);
  if (!alg) return alg.error();
  if (!d->kid.empty()) {
    const jwk* k = keys.find(d->kid);
    if (!k) return error{errc::key_invalid, "JWT: no key with the token's kid in the key set"};
    return detail::verify_decoded(*d, **alg, *k, opts);
  }
  const jwk* only = nullptr;
  for (const auto& k : keys.keys()) {
    if (!detail::check_key_fits(**alg, k)) continue;
    if (only) return error{errc::key_invalid, "JWT: token without kid and several candidate keys"};
    only = &k;
  }
  if (!only) return error{errc::key_invalid, "JWT: no key in the set fits the token"};
  return detail::verify_decoded(*d, **alg, *only, opts);
}

/// Signs `claims` with `key` using `alg`. The header is {"alg":alg,"typ":"JWT"} plus the key's
/// `kid` when it has one. The key must fit the algorithm and hold a private part.
inline result<std::string> sign(const boost::json::object& claims, const jwk& key, std::string_view alg,
                                const boost::json::object& extra_header = {}) {
  const auto* a = detail::find_algorithm(alg);
  if (!a) return detail::bad_alg("unsupported algorithm \"" + std::string(alg) + "\"");
  if (auto r = detail::check_key_fits(*a, key); !r) return r.error();
  boost::json::object header;
  header["alg"] = alg;
  header["typ"] = "JWT";
  if (!key.kid().empty()) header["kid"] = key.kid();
  for (const auto& [k, v] : extra_header)
    if (k != "alg") header[k] = v;
  std::string token = crypto::base64url_encode(boost::json::serialize(header));
  token += '.';
  token += crypto::base64url_encode(boost::json::serialize(claims));
  auto sig = detail::sign_bytes(*a, key, token);
  if (!sig) return sig.error();
  token += '.';
  token += crypto::base64url_encode(*sig);
  return token;
}

}  // namespace intg::auth::jwt
