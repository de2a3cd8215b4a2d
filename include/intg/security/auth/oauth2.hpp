// OAuth 2.0 (RFC 6749) without the transport: the token type, parsing of token-endpoint answers
// (success and `{"error":...,"error_description":...}` bodies, mapped to intg errors), the form
// bodies of the client-credentials, authorization-code + PKCE, refresh-token and JWT-bearer
// (RFC 7523, Google service accounts) grants, and the authorization URL. Whatever sends the
// request (an HTTP client) stays outside; intg::auth::oauth2::token_manager caches the result.
#pragma once

#include <intg/security/auth/jwk.hpp>
#include <intg/security/auth/jwt.hpp>
#include <intg/core/clock.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/detail/strict_json.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>

#include <boost/json/object.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace intg::auth::oauth2 {

/// An access token and what came with it. Tokens are secrets: they never print.
struct token {
  secret access_token;
  std::string token_type = "Bearer";
  /// Lifetime announced by the server (`expires_in`), if any.
  std::optional<std::chrono::seconds> expires_in{};
  /// When it expires on the token manager's clock (set by the manager from expires_in).
  std::optional<time_point> expires_at{};
  secret refresh_token;  ///< empty when the server sent none
  std::string scope;     ///< granted scope (space-separated), if the server said
  secret id_token;       ///< OpenID Connect ID token, if any

  /// Whether the token is expired, or will be within `margin`, at `now`. Tokens without a known
  /// expiry never expire by time.
  bool expires_within(time_point now, duration margin = duration::zero()) const noexcept {
    return expires_at && *expires_at - margin <= now;
  }
};

namespace detail {
inline std::string clean_description(std::string_view s) {
  // The server's text goes into error messages and logs: keep it short and printable.
  std::string out;
  for (char c : s.substr(0, 200)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  return out;
}
}  // namespace detail

/// The intg error for an RFC 6749 §5.2 error code: invalid_grant -> errc::invalid_grant (never
/// retried), invalid_client / unauthorized_client / access_denied -> errc::unauthorized,
/// temporarily_unavailable / server_error -> errc::unavailable (transient), slow_down ->
/// errc::rate_limited, anything else -> errc::invalid_argument.
inline errc map_error_code(std::string_view code) noexcept {
  if (code == "invalid_grant") return errc::invalid_grant;
  if (code == "invalid_client" || code == "unauthorized_client" || code == "access_denied") return errc::unauthorized;
  if (code == "temporarily_unavailable" || code == "server_error") return errc::unavailable;
  if (code == "slow_down") return errc::rate_limited;
  return errc::invalid_argument;  // invalid_request, unsupported_grant_type, invalid_scope, ...
}

/// Parses a token endpoint's answer. `http_status` is the response status: an `error` body is
/// turned into its intg error (message "token endpoint: <error>: <error_description>", the HTTP
/// status attached); a success body must carry a non-empty `access_token`.
inline result<token> parse_token_response(std::string_view body, int http_status = 200) {
  auto o = intg::detail::strict_parse_object(body, errc::invalid_response, "token response");
  if (!o) {
    if (http_status >= 400)
      return error::http(http_status, std::chrono::milliseconds{-1}, "token endpoint answered with a non-JSON error");
    return o.error();
  }
  if (const auto* e = o->if_contains("error")) {
    if (!e->is_string()) return error{errc::invalid_response, "token endpoint: \"error\" is not a string"};
    const std::string_view code = e->get_string();
    std::string msg = "token endpoint: " + detail::clean_description(code);
    if (const auto* d = o->if_contains("error_description"); d && d->is_string())
      msg += ": " + detail::clean_description(d->get_string());
    error err{map_error_code(code), std::move(msg)};
    if (http_status >= 400) err.with_http_status(http_status);
    return err;
  }
  if (http_status >= 400) return error::http(http_status, std::chrono::milliseconds{-1}, "token endpoint error without an error code");
  token t;
  const auto* at = o->if_contains("access_token");
  if (!at || !at->is_string() || at->get_string().empty())
    return error{errc::invalid_response, "token response without access_token"};
  t.access_token = secret{std::string(at->get_string())};
  if (const auto* tt = o->if_contains("token_type")) {
    if (!tt->is_string()) return error{errc::invalid_response, "token_type is not a string"};
    t.token_type = std::string(tt->get_string());
  }
  if (const auto* ei = o->if_contains("expires_in")) {
    // Some servers send the number as a string; accept both, refuse anything else.
    std::optional<double> secs;
    if (ei->is_int64()) secs = static_cast<double>(ei->get_int64());
    else if (ei->is_uint64()) secs = static_cast<double>(ei->get_uint64());
    else if (ei->is_double()) secs = ei->get_double();
    else if (ei->is_string()) {
      std::string_view s = ei->get_string();
      std::int64_t n = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (ec == std::errc{} && p == s.data() + s.size() && !s.empty()) secs = static_cast<double>(n);
    }
    if (!secs || !std::isfinite(*secs) || *secs < 0 || *secs > 1e9)
      return error{errc::invalid_response, "expires_in is not a valid number of seconds"};
    t.expires_in = std::chrono::seconds(static_cast<std::int64_t>(*secs));
  }
  for (auto [name, field] : {std::pair{"refresh_token", &t.refresh_token}, std::pair{"id_token", &t.id_token}}) {
    if (const auto* v = o->if_contains(name)) {
      if (!v->is_string()) return error{errc::invalid_response, std::string(name) + " is not a string"};
      *field = secret{std::string(v->get_string())};
    }
  }
  if (const auto* sc = o->if_contains("scope"); sc && sc->is_string()) t.scope = std::string(sc->get_string());
  return t;
}

/// application/x-www-form-urlencoded encoding of one value.
inline std::string form_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '*') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

/// A form body from name/value pairs; pairs with an empty value are left out.
inline std::string form_body(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  std::string out;
  for (auto [k, v] : fields) {
    if (v.empty()) continue;
    if (!out.empty()) out += '&';
    out += form_encode(k);
    out += '=';
    out += form_encode(v);
  }
  return out;
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
enum class client_auth {
  basic,  ///< `Authorization: Basic base64(urlencode(id):urlencode(secret))` (recommended)
  post,   ///< client_id and client_secret in the form body
  none,   ///< public client (PKCE): client_id in the body, no secret
};

struct client {
  std::string client_id;
  secret client_secret;
  client_auth auth = client_auth::basic;
};

/// A token request ready to POST with `Content-Type: application/x-www-form-urlencoded`. The
/// body and the header hold credentials, so both are secrets.
struct token_request {
  secret body;
  secret authorization;  ///< the Authorization header value, empty when none is needed
};

namespace detail {
inline token_request finish(const client& c, std::string body) {
  token_request r;
  if (c.auth == client_auth::basic && !c.client_secret.empty()) {
    std::string creds = form_encode(c.client_id) + ":" + form_encode(c.client_secret.reveal());
    r.authorization = secret{"Basic " + crypto::base64_encode(creds)};
    secret wipe{std::move(creds)};
  } else {
    body += (body.empty() ? "" : "&") + std::string("client_id=") + form_encode(c.client_id);
    if (c.auth == client_auth::post && !c.client_secret.empty())
      body += "&client_secret=" + form_encode(c.client_secret.reveal());
  }
  r.body = secret{std::move(body)};
  return r;
}
}  // namespace detail

/// grant_type=client_credentials (RFC 6749 §4.4).
inline token_request client_credentials_request(const client& c, std::string_view scope = {},
                                                std::string_view audience = {}) {
  return detail::finish(c, form_body({{"grant_type", "client_credentials"}, {"scope", scope}, {"audience", audience}}));
}

/// grant_type=authorization_code with the PKCE code_verifier (RFC 6749 §4.1.3, RFC 7636 §4.5).
inline token_request authorization_code_request(const client& c, std::string_view code, std::string_view redirect_uri,
                                                const secret& code_verifier) {
  return detail::finish(c, form_body({{"grant_type", "authorization_code"},
                                      {"code", code},
                                      {"redirect_uri", redirect_uri},
                                      {"code_verifier", code_verifier.reveal()}}));
}

/// grant_type=refresh_token (RFC 6749 §6).
inline token_request refresh_token_request(const client& c, const secret& refresh_token, std::string_view scope = {}) {
  return detail::finish(
      c, form_body({{"grant_type", "refresh_token"}, {"refresh_token", refresh_token.reveal()}, {"scope", scope}}));
}

/// grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer with a signed assertion (RFC 7523
/// §2.1). No client authentication: the assertion is the credential.
inline token_request jwt_bearer_request(const secret& assertion) {
  token_request r;
  r.body = secret{form_body({{"grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"}, {"assertion", assertion.reveal()}})};
  return r;
}

/// The URL to send the user to for the authorization-code flow with PKCE (S256).
inline std::string authorization_url(std::string_view authorize_endpoint, std::string_view client_id,
                                     std::string_view redirect_uri, std::string_view scope, std::string_view state,
                                     std::string_view code_challenge) {
  std::string url(authorize_endpoint);
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += form_body({{"response_type", "code"},
                    {"client_id", client_id},
                    {"redirect_uri", redirect_uri},
                    {"scope", scope},
                    {"state", state},
                    {"code_challenge", code_challenge},
                    {"code_challenge_method", code_challenge.empty() ? "" : "S256"}});
  return url;
}

/// A Google service account, from its JSON key file.
struct service_account {
  std::string client_email;
  std::string private_key_id;
  std::string token_uri = "https://oauth2.googleapis.com/token";
  jwk key;  ///< the RSA private key, with kid = private_key_id

  /// Parses the key file Google hands out ({"type":"service_account","private_key":"-----BEGIN
  /// PRIVATE KEY-----...", "client_email":..., "private_key_id":..., "token_uri":...}).
  static result<service_account> from_json(std::string_view text) {
    auto o = intg::detail::strict_parse_object(text, errc::config_error, "service account key");
    if (!o) return o.error();
    auto str = [&](std::string_view name) -> std::string {
      const auto* v = o->if_contains(name);
      return v && v->is_string() ? std::string(v->get_string()) : std::string{};
    };
    if (str("type") != "service_account") return error{errc::config_error, "service account key: type is not service_account"};
    service_account sa;
    sa.client_email = str("client_email");
    sa.private_key_id = str("private_key_id");
    if (auto uri = str("token_uri"); !uri.empty()) sa.token_uri = std::move(uri);
    if (sa.client_email.empty()) return error{errc::config_error, "service account key: no client_email"};
    secret pem{str("private_key")};
    auto key = jwk::from_pem(pem.reveal());
    if (!key) return error{errc::config_error, "service account key: private_key is not a usable PEM key"};
    if (key->type() != key_type::rsa || !key->has_private())
      return error{errc::config_error, "service account key: private_key is not an RSA private key"};
    sa.key = std::move(*key);
    if (!sa.private_key_id.empty()) sa.key.with_kid(sa.private_key_id);
    return sa;
  }
};

/// The signed RS256 assertion of the JWT-bearer grant as Google expects it: iss = client_email,
/// scope, aud = token_uri, iat = now, exp = now + lifetime (at most one hour), and sub when
/// impersonating a user (domain-wide delegation).
inline result<secret> jwt_bearer_assertion(const service_account& sa, std::string_view scope,
                                           std::chrono::system_clock::time_point now, std::string_view subject = {},
                                           std::chrono::seconds lifetime = std::chrono::seconds{3600}) {
  if (lifetime <= std::chrono::seconds::zero() || lifetime > std::chrono::seconds{3600})
    return error{errc::invalid_argument, "JWT-bearer assertion lifetime must be 1 to 3600 seconds"};
  const auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  boost::json::object claims;
  claims["iss"] = sa.client_email;
  if (!scope.empty()) claims["scope"] = scope;
  claims["aud"] = sa.token_uri;
  claims["iat"] = iat;
  claims["exp"] = iat + lifetime.count();
  if (!subject.empty()) claims["sub"] = subject;
  auto token = jwt::sign(claims, sa.key, "RS256");
  if (!token) return token.error();
  return secret{std::move(*token)};
}

}  // namespace intg::auth::oauth2
