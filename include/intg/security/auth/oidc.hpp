// OpenID Connect for relying parties: provider discovery (/.well-known/openid-configuration), a
// JWKS cache that refetches on an unknown key id (key rotation) without hammering the provider,
// and ID-token verification (signature, iss, aud, exp, nonce).
#pragma once

#include <intg/security/auth/jwk.hpp>
#include <intg/security/auth/jwt.hpp>
#include <intg/detail/strict_json.hpp>
#include <intg/core/error.hpp>
#include <intg/http/client.hpp>
#include <intg/core/result.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace intg::auth::oidc {

/// The parts of a provider's discovery document a relying party needs.
struct provider_metadata {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  std::string userinfo_endpoint;  ///< optional
  std::vector<std::string> id_token_signing_alg_values_supported;

  /// Parses a discovery document. Its `issuer` must equal `expected_issuer` exactly (OpenID
  /// Connect Discovery 1.0, section 4.3): a provider may not speak for another issuer.
  static result<provider_metadata> parse(std::string_view json, std::string_view expected_issuer) {
    auto o = intg::detail::strict_parse_object(json, errc::invalid_response, "OpenID discovery document");
    if (!o) return o.error();
    provider_metadata m;
    auto str = [&](std::string_view name, std::string& out, bool required) -> result<void> {
      const auto* v = o->if_contains(name);
      if (!v) {
        if (required) return error{errc::invalid_response, "OpenID discovery document lacks " + std::string(name)};
        return {};
      }
      if (!v->is_string())
        return error(errc::invalid_response, "OpenID discovery document: " + std::string(name) + " is not a string")
            .with_json_path("$." + std::string(name));
      out = std::string(v->get_string());
      return {};
    };
    for (auto [name, field, required] : {std::tuple{"issuer", &m.issuer, true},
                                         std::tuple{"authorization_endpoint", &m.authorization_endpoint, true},
                                         std::tuple{"token_endpoint", &m.token_endpoint, false},
                                         std::tuple{"jwks_uri", &m.jwks_uri, true},
                                         std::tuple{"userinfo_endpoint", &m.userinfo_endpoint, false}})
      if (auto r = str(name, *field, required); !r) return r.error();
    if (m.issuer != expected_issuer)
      return error{errc::invalid_response, "OpenID discovery document is for issuer " + m.issuer + ", not " +
                                               std::string(expected_issuer)};
    if (const auto* algs = o->if_contains("id_token_signing_alg_values_supported"); algs && algs->is_array())
      for (const auto& a : algs->get_array())
        if (a.is_string()) m.id_token_signing_alg_values_supported.emplace_back(a.get_string());
    for (const std::string* u : {&m.authorization_endpoint, &m.jwks_uri})
      if (!http::url::parse(*u)) return error{errc::invalid_response, "OpenID discovery document has an invalid URL: " + *u};
    return m;
  }
};

/// Fetches `<issuer>/.well-known/openid-configuration` and checks it speaks for `issuer`.
inline asio::awaitable<result<provider_metadata>> discover(http::client& client, std::string issuer) {
  while (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
  auto req = http::request::make(http::verb::get, issuer + "/.well-known/openid-configuration");
  if (!req) co_return error{errc::config_error, "issuer is not a valid URL: " + issuer};
  auto res = co_await client.send(*req);
  if (!res) co_return res.error();
  if (auto e = http::status_error(*res)) co_return e.with_message("OpenID discovery at " + issuer + " failed");
  co_return provider_metadata::parse(res->body(), issuer);
}

struct jwks_cache_options {
  std::chrono::seconds max_age{3600};            ///< refetch keys older than this
  std::chrono::seconds min_refetch_interval{60};  ///< an unknown kid refetches at most this often
};

/// The provider's signing keys, fetched on first use and again when a token names a key id the
/// cache does not know (the provider rotated its keys) — at most once per min_refetch_interval, so
/// tokens with made-up key ids cannot turn us into a flood of requests. Single-threaded, like the
/// HTTP client it uses.
class jwks_cache {
 public:
  jwks_cache(http::client& client, http::url jwks_uri, jwks_cache_options opts = {})
      : client_(client), uri_(std::move(jwks_uri)), opts_(opts) {}

  /// The key with this id (or the only key, when `kid` is empty and there is exactly one).
  asio::awaitable<result<jwk>> key(std::string kid) {
    using clock = std::chrono::steady_clock;
    const auto now = clock::now();
    const bool stale = !fetched_ || now - *fetched_ > opts_.max_age;
    if (stale || (!find(kid) && (!fetched_ || now - *fetched_ >= opts_.min_refetch_interval))) {
      auto r = co_await refresh();
      if (!r && !keys_) co_return r.error();
    }
    if (const jwk* k = find(kid)) co_return *k;
    co_return error{errc::key_invalid, kid.empty() ? std::string("token has no kid and the JWKS holds several keys")
                                                   : "no key with kid '" + kid + "' in the provider's JWKS"};
  }

  /// Fetches the key set now.
  asio::awaitable<result<void>> refresh() {
    fetched_ = std::chrono::steady_clock::now();  // also when it fails: failures must not cause a flood
    http::request req(http::verb::get, uri_);
    auto res = co_await client_.send(req);
    if (!res) co_return res.error();
    if (auto e = http::status_error(*res)) co_return e.with_message("fetching the JWKS failed");
    auto o = intg::detail::strict_parse_object(res->body(), errc::invalid_response, "JWKS");
    if (!o) co_return o.error();
    auto set = jwk_set::from_json(*o);
    if (!set) co_return set.error();
    keys_ = std::move(*set);
    co_return result<void>{};
  }

 private:
  const jwk* find(const std::string& kid) const {
    if (!keys_) return nullptr;
    if (kid.empty()) return keys_->keys().size() == 1 ? &keys_->keys().front() : nullptr;
    return keys_->find(kid);
  }

  http::client& client_;
  http::url uri_;
  jwks_cache_options opts_;
  std::optional<jwk_set> keys_;
  std::optional<std::chrono::steady_clock::time_point> fetched_;
};

/// What an ID token must satisfy besides its signature.
struct id_token_expectations {
  std::string issuer;                   ///< provider_metadata::issuer
  std::string client_id;                ///< must be in `aud`
  std::optional<std::string> nonce{};   ///< the nonce sent in the authorization request
  std::chrono::seconds leeway{60};
  /// The time to check against; empty (the default) reads the system clock at each verification.
  std::optional<std::chrono::system_clock::time_point> now{};
};

/// Verifies an ID token: the key from the provider's JWKS by `kid`, an asymmetric algorithm
/// (HMAC ID tokens would need the client secret as key and are refused here), iss, aud, exp, iat,
/// and the nonce when one was sent. Returns the claims.
inline asio::awaitable<result<boost::json::object>> verify_id_token(jwks_cache& keys, std::string_view id_token,
                                                                    const id_token_expectations& expect) {
  auto d = jwt::decode(id_token);
  if (!d) co_return d.error();
  auto key = co_await keys.key(d->kid);
  if (!key) co_return key.error();
  jwt::verify_options o;
  o.now = expect.now;
  o.leeway = expect.leeway;
  o.issuer = expect.issuer;
  o.audience = expect.client_id;
  o.required_claims = {"sub", "iat", "exp"};
  o.algorithms = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"};
  auto claims = jwt::verify(id_token, *key, o);
  if (!claims) co_return claims.error();
  if (expect.nonce) {
    const auto* n = claims->if_contains("nonce");
    if (!n || !n->is_string() || n->get_string() != *expect.nonce)
      co_return error{errc::claim_invalid, "ID token nonce does not match the authorization request"};
  }
  co_return claims;
}

}  // namespace intg::auth::oidc
