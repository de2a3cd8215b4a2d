// JSON Web Keys (RFC 7517/7518): symmetric (oct), RSA, EC (P-256/384/521) and OKP (Ed25519/Ed448)
// keys parsed from JWK objects or PEM into OpenSSL keys (built with EVP_PKEY_fromdata and
// OSSL_PARAM), and JWK Sets with `kid` lookup. Private members (d, p, q, ...) make a signing key.
#pragma once

#include <intg/security/crypto/detail/openssl.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/detail/strict_json.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace intg::auth {

/// A JWK's `kty`.
enum class key_type { oct, rsa, ec, okp };

/// One key: its type, optional `kid`/`alg`/`use`, and the key material (an OpenSSL key for
/// RSA/EC/OKP, the raw bytes for oct). Copies share the immutable OpenSSL key.
class jwk {
 public:
  /// Parses a JWK object. Unsupported `kty`/`crv`, bad base64url, wrong coordinate sizes, RSA
  /// moduli under 2048 bits and points off the curve are errc::key_invalid.
  static result<jwk> from_json(const boost::json::object& o);
  /// Parses JWK text (strictly: duplicate member names are refused).
  static result<jwk> from_json_text(std::string_view text) {
    auto o = intg::detail::strict_parse_object(text, errc::key_invalid, "JWK");
    if (!o) return o.error();
    return from_json(*o);
  }
  /// Loads a PEM key: a private key (PKCS#8 or traditional; unencrypted) or a public key
  /// (SubjectPublicKeyInfo). RSA, EC and Ed25519/Ed448 keys are accepted.
  static result<jwk> from_pem(std::string_view pem);
  /// A fresh key pair: "RSA" (bits >= 2048), "P-256", "P-384", "P-521", "Ed25519" or "Ed448".
  static result<jwk> generate(std::string_view kind, unsigned rsa_bits = 2048);
  /// A symmetric key for HS256/384/512 from raw bytes.
  static jwk from_secret(std::string_view bytes) {
    jwk k;
    k.type_ = key_type::oct;
    k.oct_ = secret{std::string(bytes)};
    return k;
  }

  key_type type() const noexcept { return type_; }
  const std::string& kid() const noexcept { return kid_; }
  /// The key's own `alg`; empty when it did not name one. A token must use this algorithm.
  const std::string& alg() const noexcept { return alg_; }
  const std::string& use() const noexcept { return use_; }
  /// "P-256", "P-384", "P-521", "Ed25519" or "Ed448"; empty for oct and RSA.
  const std::string& curve() const noexcept { return crv_; }
  /// Whether the key can sign (oct keys always can).
  bool has_private() const noexcept { return type_ == key_type::oct || private_; }
  /// The OpenSSL key (RSA, EC, OKP), nullptr for oct.
  EVP_PKEY* pkey() const noexcept { return pkey_.get(); }
  /// The symmetric key bytes (oct only).
  std::string_view secret_bytes() const noexcept { return oct_.reveal(); }

  jwk& with_kid(std::string kid) {
    kid_ = std::move(kid);
    return *this;
  }
  jwk& with_alg(std::string alg) {
    alg_ = std::move(alg);
    return *this;
  }

  /// The public half as a JWK object (kty, crv, x, y / n, e, plus kid, alg and use when set), e.g.
  /// to publish in a JWKS. Oct keys have no public half.
  result<boost::json::object> public_json() const;

  /// The public key as PEM (SubjectPublicKeyInfo), e.g. for another language's verifier.
  result<std::string> public_pem() const {
    if (!pkey_) return error{errc::key_invalid, "an oct key has no public part"};
    std::unique_ptr<BIO, crypto::detail::deleter<BIO, BIO_free_all>> bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1)
      return crypto::detail::openssl_error(errc::crypto_failure, "writing PEM failed");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(n));
  }
  /// The private key as unencrypted PKCS#8 PEM, e.g. to hand a freshly generated key to a
  /// setting that takes PEM. A credential: it comes as an intg::secret.
  result<secret> private_pem() const {
    if (!pkey_ || !private_) return error{errc::key_invalid, "only an RSA, EC or OKP private key has a private PEM"};
    std::unique_ptr<BIO, crypto::detail::deleter<BIO, BIO_free_all>> bio(BIO_new(BIO_s_mem()));
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
      return crypto::detail::openssl_error(errc::crypto_failure, "writing PEM failed");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    return secret{std::string(data, static_cast<std::size_t>(n))};
  }

 private:
  static result<jwk> from_pkey(crypto::detail::pkey_ptr p, bool is_private);

  key_type type_ = key_type::oct;
  std::string kid_, alg_, use_, crv_;
  std::shared_ptr<EVP_PKEY> pkey_;
  secret oct_;
  bool private_ = false;
};

/// A JWK Set (`{"keys":[...]}`) with lookup by `kid`.
class jwk_set {
 public:
  /// Parses a JWK Set. Keys of a type or curve intg does not support are skipped (RFC 7517 §5);
  /// a supported key that is malformed fails the whole set.
  static result<jwk_set> from_json(const boost::json::object& o);

  /// The key with this `kid`, or nullptr.
  const jwk* find(std::string_view kid) const noexcept {
    for (const auto& k : keys_)
      if (k.kid() == kid) return &k;
    return nullptr;
  }
  void add(jwk k) { keys_.push_back(std::move(k)); }
  const std::vector<jwk>& keys() const noexcept { return keys_; }
  std::size_t skipped() const noexcept { return skipped_; }

 private:
  std::vector<jwk> keys_;
  std::size_t skipped_ = 0;
};

namespace detail {

using namespace intg::crypto::detail;

inline error bad_key(std::string why) { return error{errc::key_invalid, "JWK: " + std::move(why)}; }

// A required (or, with `optional`, possibly absent) base64url member.
inline result<std::optional<std::string>> jwk_bytes(const boost::json::object& o, std::string_view name, bool optional) {
  const auto* v = o.if_contains(name);
  if (!v) {
    if (optional) return std::optional<std::string>{};
    return bad_key("missing member \"" + std::string(name) + "\"");
  }
  if (!v->is_string()) return bad_key("member \"" + std::string(name) + "\" is not a string");
  auto s = v->get_string();
  auto d = crypto::base64url_decode(std::string_view(s.data(), s.size()));
  if (!d) return bad_key("member \"" + std::string(name) + "\" is not base64url");
  if (d->empty()) return bad_key("member \"" + std::string(name) + "\" is empty");
  return std::optional<std::string>(std::move(*d));
}

inline result<std::string> jwk_string(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (!v) return std::string{};
  if (!v->is_string()) return bad_key("member \"" + std::string(name) + "\" is not a string");
  return std::string(v->get_string());
}

struct bn_list {
  std::vector<bn_ptr> items;
  BIGNUM* make(std::string_view bytes) {
    items.emplace_back(BN_bin2bn(uchar(bytes), static_cast<int>(bytes.size()), nullptr));
    return items.back().get();
  }
};

inline result<pkey_ptr> pkey_from_params(const char* name, OSSL_PARAM_BLD* bld, bool is_private) {
  params_ptr params(OSSL_PARAM_BLD_to_param(bld));
  pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, name, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1)
    return openssl_error(errc::crypto_failure, "JWK: key import unavailable");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, is_private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    clear_errors();
    return bad_key("OpenSSL refused the key parameters");
  }
  return pkey_ptr(raw);
}

inline result<pkey_ptr> rsa_from_jwk(const boost::json::object& o, bool& is_private) {
  auto n = jwk_bytes(o, "n", false);
  if (!n) return n.error();
  auto e = jwk_bytes(o, "e", false);
  if (!e) return e.error();
  auto d = jwk_bytes(o, "d", true);
  if (!d) return d.error();
  if (o.contains("oth")) return bad_key("RSA keys with more than two primes are not supported");
  is_private = d->has_value();
  param_bld_ptr bld(OSSL_PARAM_BLD_new());
  bn_list bns;
  if (!bld) return openssl_error(errc::crypto_failure, "JWK: out of memory");
  bool ok = OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bns.make(**n)) &&
            OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bns.make(**e));
  if (is_private) {
    ok = ok && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, bns.make(**d));
    static constexpr std::pair<const char*, const char*> crt[] = {
        {"p", OSSL_PKEY_PARAM_RSA_FACTOR1},      {"q", OSSL_PKEY_PARAM_RSA_FACTOR2},
        {"dp", OSSL_PKEY_PARAM_RSA_EXPONENT1},   {"dq", OSSL_PKEY_PARAM_RSA_EXPONENT2},
        {"qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1}};
    int present = 0;
    for (auto [member, param] : crt) {
      auto v = jwk_bytes(o, member, true);
      if (!v) return v.error();
      if (v->has_value()) {
        ++present;
        ok = ok && OSSL_PARAM_BLD_push_BN(bld.get(), param, bns.make(**v));
      }
    }
    // RFC 7518 §6.3.2: the CRT members come all together or not at all.
    if (present != 0 && present != 5) return bad_key("RSA private key with only some of p, q, dp, dq, qi");
  }
  if (!ok) return openssl_error(errc::crypto_failure, "JWK: out of memory");
  auto key = pkey_from_params("RSA", bld.get(), is_private);
  if (key && EVP_PKEY_get_bits(key->get()) < 2048) return bad_key("RSA modulus under 2048 bits");
  return key;
}

struct curve_info {
  std::string_view jwk_name;
  const char* group;
  std::size_t size;
};
inline const curve_info* find_curve(std::string_view crv) noexcept {
  static constexpr curve_info curves[] = {
      {"P-256", "prime256v1", 32}, {"P-384", "secp384r1", 48}, {"P-521", "secp521r1", 66}};
  for (const auto& c : curves)
    if (c.jwk_name == crv) return &c;
  return nullptr;
}

inline result<pkey_ptr> ec_from_jwk(const boost::json::object& o, const curve_info& curve, bool& is_private) {
  auto x = jwk_bytes(o, "x", false);
  if (!x) return x.error();
  auto y = jwk_bytes(o, "y", false);
  if (!y) return y.error();
  auto d = jwk_bytes(o, "d", true);
  if (!d) return d.error();
  if ((*x)->size() != curve.size || (*y)->size() != curve.size) return bad_key("EC coordinates of the wrong size");
  if (d->has_value() && (*d)->size() != curve.size) return bad_key("EC private key of the wrong size");
  is_private = d->has_value();
  std::string point = "\x04" + **x + **y;  // uncompressed SEC1 point
  param_bld_ptr bld(OSSL_PARAM_BLD_new());
  bn_list bns;
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve.group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) ||
      (is_private && !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, bns.make(**d))))
    return openssl_error(errc::crypto_failure, "JWK: out of memory");
  auto key = pkey_from_params("EC", bld.get(), is_private);
  if (!key) return key;
  // Refuse points that are not on the curve (invalid-curve attacks).
  pkey_ctx_ptr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key->get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    clear_errors();
    return bad_key("EC point is not on the curve");
  }
  return key;
}

inline result<pkey_ptr> okp_from_jwk(const boost::json::object& o, std::string_view crv, bool& is_private) {
  const char* name = crv == "Ed25519" ? "ED25519" : "ED448";
  const std::size_t size = crv == "Ed25519" ? 32 : 57;
  auto x = jwk_bytes(o, "x", false);
  if (!x) return x.error();
  auto d = jwk_bytes(o, "d", true);
  if (!d) return d.error();
  if ((*x)->size() != size || (d->has_value() && (*d)->size() != size)) return bad_key("OKP key of the wrong size");
  is_private = d->has_value();
  EVP_PKEY* raw = is_private ? EVP_PKEY_new_raw_private_key_ex(nullptr, name, nullptr, uchar(**d), size)
                             : EVP_PKEY_new_raw_public_key_ex(nullptr, name, nullptr, uchar(**x), size);
  if (!raw) {
    clear_errors();
    return bad_key("OpenSSL refused the OKP key");
  }
  pkey_ptr key(raw);
  if (is_private) {  // the public part given must be the one derived from d
    std::string pub(size, '\0');
    std::size_t len = size;
    if (EVP_PKEY_get_raw_public_key(raw, reinterpret_cast<unsigned char*>(pub.data()), &len) != 1 || len != size ||
        pub != **x)
      return bad_key("OKP public key does not match the private key");
  }
  return key;
}

inline int no_password(char*, int, int, void*) { return 0; }  // never prompt on a terminal

}  // namespace detail

inline result<jwk> jwk::from_pkey(crypto::detail::pkey_ptr p, bool is_private) {
  jwk k;
  k.private_ = is_private;
  if (EVP_PKEY_is_a(p.get(), "RSA")) {
    if (EVP_PKEY_get_bits(p.get()) < 2048) return detail::bad_key("RSA modulus under 2048 bits");
    k.type_ = key_type::rsa;
  } else if (EVP_PKEY_is_a(p.get(), "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(p.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1)
      return detail::bad_key("EC key without a named curve");
    const std::string_view g(group, len);
    k.crv_ = g == "prime256v1" ? "P-256" : g == "secp384r1" ? "P-384" : g == "secp521r1" ? "P-521" : "";
    if (k.crv_.empty()) return detail::bad_key("unsupported EC curve");
    k.type_ = key_type::ec;
  } else if (EVP_PKEY_is_a(p.get(), "ED25519") || EVP_PKEY_is_a(p.get(), "ED448")) {
    k.type_ = key_type::okp;
    k.crv_ = EVP_PKEY_is_a(p.get(), "ED25519") ? "Ed25519" : "Ed448";
  } else {
    return detail::bad_key("unsupported key type");
  }
  k.pkey_ = std::shared_ptr<EVP_PKEY>(p.release(), EVP_PKEY_free);
  return k;
}

inline result<boost::json::object> jwk::public_json() const {
  using namespace crypto::detail;
  if (!pkey_) return error{errc::key_invalid, "an oct key has no public part"};
  auto bn_bytes = [&](const char* name, std::size_t pad) -> result<std::string> {
    BIGNUM* bn = nullptr;
    if (!EVP_PKEY_get_bn_param(pkey_.get(), name, &bn)) return openssl_error(errc::crypto_failure, "reading a key parameter failed");
    std::string out(std::max<std::size_t>(pad, static_cast<std::size_t>(BN_num_bytes(bn))), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
    BN_free(bn);
    return out;
  };
  boost::json::object o;
  if (type_ == key_type::rsa) {
    auto n = bn_bytes(OSSL_PKEY_PARAM_RSA_N, 0);
    auto e = bn_bytes(OSSL_PKEY_PARAM_RSA_E, 0);
    if (!n) return n.error();
    if (!e) return e.error();
    o["kty"] = "RSA";
    o["n"] = crypto::base64url_encode(*n);
    o["e"] = crypto::base64url_encode(*e);
  } else if (type_ == key_type::ec) {
    const auto* c = detail::find_curve(crv_);
    if (!c) return error{errc::key_invalid, "unknown curve"};
    auto x = bn_bytes(OSSL_PKEY_PARAM_EC_PUB_X, c->size);
    auto y = bn_bytes(OSSL_PKEY_PARAM_EC_PUB_Y, c->size);
    if (!x) return x.error();
    if (!y) return y.error();
    o["kty"] = "EC";
    o["crv"] = crv_;
    o["x"] = crypto::base64url_encode(*x);
    o["y"] = crypto::base64url_encode(*y);
  } else {
    std::size_t len = 0;
    if (!EVP_PKEY_get_raw_public_key(pkey_.get(), nullptr, &len)) return openssl_error(errc::crypto_failure, "reading the public key failed");
    std::string raw(len, '\0');
    if (!EVP_PKEY_get_raw_public_key(pkey_.get(), reinterpret_cast<unsigned char*>(raw.data()), &len))
      return openssl_error(errc::crypto_failure, "reading the public key failed");
    o["kty"] = "OKP";
    o["crv"] = crv_;
    o["x"] = crypto::base64url_encode(raw);
  }
  if (!kid_.empty()) o["kid"] = kid_;
  if (!alg_.empty()) o["alg"] = alg_;
  if (!use_.empty()) o["use"] = use_;
  return o;
}

inline result<jwk> jwk::generate(std::string_view kind, unsigned rsa_bits) {
  using namespace crypto::detail;
  EVP_PKEY* p = nullptr;
  if (kind == "RSA") {
    if (rsa_bits < 2048 || rsa_bits > 16384) return detail::bad_key("RSA keys must have 2048 to 16384 bits");
    p = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(rsa_bits));
  } else if (const auto* c = detail::find_curve(kind)) {
    p = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", c->group);
  } else if (kind == "Ed25519" || kind == "Ed448") {
    p = EVP_PKEY_Q_keygen(nullptr, nullptr, kind == "Ed25519" ? "ED25519" : "ED448");
  } else {
    return detail::bad_key("unsupported key kind \"" + std::string(kind) + "\"");
  }
  if (!p) return openssl_error(errc::crypto_failure, "key generation failed");
  return from_pkey(pkey_ptr(p), true);
}

inline result<jwk> jwk::from_pem(std::string_view pem) {
  using namespace crypto::detail;
  using bio_ptr = std::unique_ptr<BIO, deleter<BIO, BIO_free_all>>;
  if (pem.size() > 1 << 20) return detail::bad_key("PEM too large");
  {
    bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) return openssl_error(errc::crypto_failure, "BIO");
    if (EVP_PKEY* p = PEM_read_bio_PrivateKey(bio.get(), nullptr, detail::no_password, nullptr))
      return from_pkey(pkey_ptr(p), true);
  }
  clear_errors();
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return openssl_error(errc::crypto_failure, "BIO");
  if (EVP_PKEY* p = PEM_read_bio_PUBKEY(bio.get(), nullptr, detail::no_password, nullptr))
    return from_pkey(pkey_ptr(p), false);
  clear_errors();
  return detail::bad_key("not a PEM private or public key (encrypted keys are not supported)");
}

inline result<jwk> jwk::from_json(const boost::json::object& o) {
  jwk k;
  auto kty = detail::jwk_string(o, "kty");
  if (!kty) return kty.error();
  for (auto [member, field] : {std::pair{"kid", &k.kid_}, std::pair{"alg", &k.alg_}, std::pair{"use", &k.use_}}) {
    auto v = detail::jwk_string(o, member);
    if (!v) return v.error();
    *field = std::move(*v);
  }
  if (*kty == "oct") {
    auto bytes = detail::jwk_bytes(o, "k", false);
    if (!bytes) return bytes.error();
    k.type_ = key_type::oct;
    k.oct_ = secret{std::move(**bytes)};
    return k;
  }
  bool is_private = false;
  result<crypto::detail::pkey_ptr> key = crypto::detail::pkey_ptr{};
  if (*kty == "RSA") {
    k.type_ = key_type::rsa;
    key = detail::rsa_from_jwk(o, is_private);
  } else if (*kty == "EC") {
    auto crv = detail::jwk_string(o, "crv");
    if (!crv) return crv.error();
    const auto* curve = detail::find_curve(*crv);
    if (!curve) return detail::bad_key("unsupported EC curve \"" + *crv + "\"");
    k.type_ = key_type::ec;
    k.crv_ = *crv;
    key = detail::ec_from_jwk(o, *curve, is_private);
  } else if (*kty == "OKP") {
    auto crv = detail::jwk_string(o, "crv");
    if (!crv) return crv.error();
    if (*crv != "Ed25519" && *crv != "Ed448") return detail::bad_key("unsupported OKP curve \"" + *crv + "\"");
    k.type_ = key_type::okp;
    k.crv_ = *crv;
    key = detail::okp_from_jwk(o, *crv, is_private);
  } else if (kty->empty()) {
    return detail::bad_key("missing \"kty\"");
  } else {
    return detail::bad_key("unsupported kty \"" + *kty + "\"");
  }
  if (!key) return key.error();
  k.private_ = is_private;
  k.pkey_ = std::shared_ptr<EVP_PKEY>(key->release(), EVP_PKEY_free);
  return k;
}

inline result<jwk_set> jwk_set::from_json(const boost::json::object& o) {
  const auto* keys = o.if_contains("keys");
  if (!keys || !keys->is_array()) return detail::bad_key("JWK Set without a \"keys\" array");
  jwk_set set;
  std::size_t i = 0;
  for (const auto& v : keys->get_array()) {
    if (!v.is_object()) return error{errc::key_invalid, "JWK Set: keys[" + std::to_string(i) + "] is not an object"};
    auto k = jwk::from_json(v.get_object());
    if (!k) {
      // Unsupported kinds of key are skipped; broken keys of supported kinds are not.
      if (k.error().message().find("unsupported") != std::string_view::npos) {
        ++set.skipped_;
        ++i;
        continue;
      }
      return error{errc::key_invalid, "JWK Set: keys[" + std::to_string(i) + "]: " + std::string(k.error().message())};
    }
    set.keys_.push_back(std::move(*k));
    ++i;
  }
  return set;
}

}  // namespace intg::auth
