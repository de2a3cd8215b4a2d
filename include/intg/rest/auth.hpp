// intg::rest auth schemes: small types a provider names (`using auth = rest::bearer<"secret_key">`)
// that read their credentials from the tenant's settings once (configure) and put them on each
// request (apply). Token schemes cache through auth::oauth2::token_manager: one refresh in flight
// per client, so per tenant connection. A rotated refresh token is written to the token store
// before the access token that came with it is used. Credentials go into headers, never into
// messages: every error names a setting, never its value.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>
#include <intg/http/client.hpp>
#include <intg/rest/provider.hpp>
#include <intg/security/auth/jwt.hpp>
#include <intg/security/auth/oauth2.hpp>
#include <intg/security/auth/pkce.hpp>
#include <intg/security/auth/token_endpoint.hpp>
#include <intg/security/auth/token_manager.hpp>
#include <intg/security/crypto/encoding.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <concepts>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

namespace intg::rest {

namespace asio = boost::asio;

/// Where rotated credentials are kept: anything with `get(name) -> result<secret>` and
/// `put(name, const secret&) -> result<void>`, e.g. secrets::encrypted_file_store (whose put()
/// writes the whole file atomically: temporary file + rename).
template <class S>
concept secret_store = requires(S& s, std::string_view n, const secret& v) {
  { s.get(n) } -> std::same_as<result<secret>>;
  { s.put(n, v) } -> std::same_as<result<void>>;
};

/// A secret store behind a type-erased handle (what client_options holds).
class token_store {
 public:
  token_store() = default;
  template <secret_store S>
  explicit token_store(std::shared_ptr<S> s)
      : get_([s](std::string_view n) { return s->get(n); }),
        put_([s](std::string_view n, const secret& v) { return s->put(n, v); }) {}
  explicit operator bool() const noexcept { return static_cast<bool>(get_); }
  result<secret> get(std::string_view n) const { return get_(n); }
  result<void> put(std::string_view n, const secret& v) const { return put_(n, v); }

 private:
  std::function<result<secret>(std::string_view)> get_;
  std::function<result<void>(std::string_view, const secret&)> put_;
};

/// A process-local secret store (tests; deployments that do not need tokens to survive restarts).
class memory_token_store {
 public:
  result<secret> get(std::string_view n) const {
    std::lock_guard lock(m_);
    auto it = v_.find(std::string(n));
    if (it == v_.end()) return error(errc::not_found, "no stored token " + std::string(n));
    return it->second;
  }
  result<void> put(std::string_view n, const secret& v) {
    std::lock_guard lock(m_);
    v_[std::string(n)] = v;
    ++puts_;
    return {};
  }
  std::size_t puts() const noexcept { return puts_; }

 private:
  mutable std::mutex m_;
  std::map<std::string, secret> v_;
  std::size_t puts_ = 0;
};

/// What a scheme sees when it is configured (at initialize()).
struct auth_context {
  std::string_view provider;
  const boost::json::object* settings = nullptr;
  http::client* http = nullptr;
  asio::any_io_executor executor;
  const token_store* store = nullptr;  ///< may be empty
  std::string store_prefix;            ///< "<provider>/<tenant>/<integration>/": names in the store
  /// Parses a URL and checks its host against the provider's allowlist (token endpoints too).
  std::function<result<http::url>(std::string_view)> check_url;
  std::string_view default_token_url;

  error config(std::string_view key, std::string_view why) const {
    return error(errc::config_error, std::string(provider) + ": settings." + std::string(key) + " " + std::string(why))
        .with_json_path("$.settings." + std::string(key));
  }
  /// A string setting; empty when absent and not required.
  result<std::string> string(std::string_view key, bool required = true) const {
    const auto* v = settings ? settings->if_contains(key) : nullptr;
    if (!v) {
      if (required) return config(key, "is required");
      return std::string{};
    }
    if (!v->is_string()) return config(key, "must be a string");
    return std::string(v->get_string());
  }
  result<secret> secret_setting(std::string_view key, bool required = true) const {
    auto s = string(key, required);
    if (!s) return s.error();
    if (required && s->empty()) return config(key, "must not be empty");
    return secret{std::move(*s)};
  }
  /// The token endpoint: settings.token_url, else the provider's `token_url`.
  result<http::url> token_url() const {
    auto s = string("token_url", false);
    if (!s) return s.error();
    std::string_view u = s->empty() ? default_token_url : std::string_view(*s);
    if (u.empty()) return config("token_url", "is required (the provider declares no token_url)");
    return check_url(u);
  }
};

/// A scheme: `configure(auth_context&) -> result<void>` and either `apply(http::request&) ->
/// result<void>` (static credentials) or `apply_async(http::request&) ->
/// asio::awaitable<result<void>>` (tokens). Optional: `obtain()` (initialize() gets a first
/// token) and `unauthorized() -> bool` (a 401 arrived: drop the token; true when a new one may help).
template <class S>
concept auth_scheme = requires(S& s, auth_context& c, http::request& r) {
  { s.configure(c) } -> std::same_as<result<void>>;
} && (requires(S& s, http::request& r) {
  { s.apply(r) } -> std::same_as<result<void>>;
} || requires(S& s, http::request& r) {
  { s.apply_async(r) } -> std::same_as<asio::awaitable<result<void>>>;
} || requires(S& s, http::request& r, std::size_t which) {
  { s.apply_async(r, which) } -> std::same_as<asio::awaitable<result<void>>>;
});

/// No credentials.
struct no_auth {
  result<void> configure(auth_context&) { return {}; }
  result<void> apply(http::request&) { return {}; }
};

/// An API key in a header: `api_key<"api_key", "X-Api-Key">`, or with a prefix
/// `api_key<"token", "Authorization", "Token ">`.
template <fixed_string Setting, fixed_string Header, fixed_string Prefix = "">
struct api_key {
  secret value;
  result<void> configure(auth_context& c) {
    auto s = c.secret_setting(Setting.view());
    if (!s) return s.error();
    value = secret{std::string(Prefix.view()) + std::string(s->reveal())};
    return {};
  }
  result<void> apply(http::request& r) {
    r.set(Header.view(), value.reveal());
    return {};
  }
};

/// An API key in the query string: `api_key_query<"api_key", "key">`. (Visible in server logs:
/// use it only where the provider offers nothing else.)
template <fixed_string Setting, fixed_string Param>
struct api_key_query {
  secret value;
  result<void> configure(auth_context& c) {
    auto s = c.secret_setting(Setting.view());
    if (!s) return s.error();
    value = std::move(*s);
    return {};
  }
  result<void> apply(http::request& r) {
    http::query q;
    q.add(Param.view(), value.reveal());
    r.target.add_query(q);
    r.message.target(r.target.target());
    return {};
  }
};

/// A static bearer token: `Authorization: Bearer <settings.Setting>`.
template <fixed_string Setting>
struct bearer {
  secret header;
  result<void> configure(auth_context& c) {
    auto s = c.secret_setting(Setting.view());
    if (!s) return s.error();
    header = secret{"Bearer " + std::string(s->reveal())};
    return {};
  }
  result<void> apply(http::request& r) {
    r.set(http::field::authorization, header.reveal());
    return {};
  }
};

/// HTTP Basic: `basic<"username", "password">`. The password may be absent (Stripe-style keys)
/// unless `RequirePassword` (Twilio's auth token).
template <fixed_string User, fixed_string Password, bool RequirePassword = false>
struct basic {
  secret header;
  result<void> configure(auth_context& c) {
    auto u = c.secret_setting(User.view());
    if (!u) return u.error();
    auto p = c.secret_setting(Password.view(), RequirePassword);
    if (!p) return p.error();
    secret creds{std::string(u->reveal()) + ":" + std::string(p->reveal())};
    header = secret{"Basic " + crypto::base64_encode(creds.reveal())};
    return {};
  }
  result<void> apply(http::request& r) {
    r.set(http::field::authorization, header.reveal());
    return {};
  }
};

namespace detail {

// A scheme built on a token manager. `Derived::fetch(const oauth2::token* previous)` obtains a
// token; this base caches it (single flight) and puts it on requests.
template <class Derived>
class token_scheme {
 public:
  struct source {
    Derived* self;
    asio::awaitable<result<auth::oauth2::token>> operator()(const auth::oauth2::token* previous) const {
      co_return co_await self->fetch(previous);
    }
  };

  asio::awaitable<result<void>> apply_async(http::request& r) {
    if (!manager_) co_return error(errc::not_initialized, "auth: initialize() first");
    auto h = co_await manager_->authorization();
    if (!h) co_return h.error();
    r.set(http::field::authorization, h->reveal());
    co_return result<void>{};
  }
  asio::awaitable<result<void>> obtain() {
    if (!manager_) co_return error(errc::not_initialized, "auth: initialize() first");
    auto t = co_await manager_->get();
    if (!t) co_return t.error();
    co_return result<void>{};
  }
  bool unauthorized() {
    if (manager_) manager_->invalidate();
    return true;
  }
  /// How many token requests were sent, or tokens signed (for tests and dashboards).
  std::uint64_t fetches() const noexcept { return fetches_; }
  /// The token manager's options (refresh margin); set before initialize().
  auth::oauth2::token_manager_options manager_options{};

 protected:
  void start(auth_context& c) {
    ctx_ = &c;
    manager_.emplace(c.executor, source{static_cast<Derived*>(this)}, manager_options);
  }
  asio::awaitable<result<auth::oauth2::token>> request(const auth::oauth2::token_request& req) {
    ++fetches_;
    co_return co_await auth::oauth2::request_token(*ctx_->http, token_url_, req);
  }
  auth_context* ctx_ = nullptr;
  http::url token_url_;
  std::optional<auth::oauth2::token_manager<source>> manager_;
  std::uint64_t fetches_ = 0;
};

inline result<auth::oauth2::client> oauth_client(auth_context& c) {
  auto id = c.string("client_id");
  if (!id) return id.error();
  auto sec = c.secret_setting("client_secret", false);
  if (!sec) return sec.error();
  auth::oauth2::client out{std::move(*id), std::move(*sec), auth::oauth2::client_auth::basic};
  if (out.client_secret.empty()) out.auth = auth::oauth2::client_auth::none;
  return out;
}

}  // namespace detail

/// OAuth 2.0 client credentials (RFC 6749 section 4.4). Settings: client_id, client_secret,
/// scope (optional), token_url (optional: the provider's `token_url`).
class oauth2_client_credentials : public detail::token_scheme<oauth2_client_credentials> {
 public:
  result<void> configure(auth_context& c) {
    auto cl = detail::oauth_client(c);
    if (!cl) return cl.error();
    client_ = std::move(*cl);
    auto sc = c.string("scope", false);
    if (!sc) return sc.error();
    scope_ = std::move(*sc);
    auto u = c.token_url();
    if (!u) return u.error();
    token_url_ = std::move(*u);
    start(c);
    return {};
  }
  asio::awaitable<result<auth::oauth2::token>> fetch(const auth::oauth2::token*) {
    co_return co_await request(auth::oauth2::client_credentials_request(client_, scope_));
  }

 private:
  auth::oauth2::client client_;
  std::string scope_;
};

/// OAuth 2.0 authorization code + PKCE with refresh-token rotation. Settings: client_id,
/// client_secret (absent: a public client), scope, token_url, authorize_url (or the provider's),
/// refresh_token (optional: a grant obtained earlier). The refresh token is read from and written
/// to the client's token store under "<prefix>refresh_token": a rotated one is stored (store.put,
/// atomic for encrypted_file_store) before the access token it came with is handed out; when the
/// store refuses, the call fails rather than lose the only valid grant.
class oauth2_authorization_code : public detail::token_scheme<oauth2_authorization_code> {
 public:
  result<void> configure(auth_context& c) {
    auto cl = detail::oauth_client(c);
    if (!cl) return cl.error();
    client_ = std::move(*cl);
    auto sc = c.string("scope", false);
    if (!sc) return sc.error();
    scope_ = std::move(*sc);
    auto u = c.token_url();
    if (!u) return u.error();
    token_url_ = std::move(*u);
    auto rt = c.secret_setting("refresh_token", false);
    if (!rt) return rt.error();
    initial_refresh_ = std::move(*rt);
    start(c);
    return {};
  }

  /// The URL to send the user to (S256 challenge of `verifier`, from auth::pkce_verifier()).
  std::string authorization_url(std::string_view authorize_endpoint, std::string_view redirect_uri,
                                std::string_view state, std::string_view verifier) const {
    return auth::oauth2::authorization_url(authorize_endpoint, client_.client_id, redirect_uri, scope_, state,
                                           auth::pkce_challenge(verifier));
  }

  /// Exchanges the code the user brought back; stores the refresh token; later calls use the grant.
  asio::awaitable<result<void>> complete_authorization(std::string_view code, std::string_view redirect_uri,
                                                       const secret& verifier) {
    if (!manager_) co_return error(errc::not_initialized, "auth: initialize() first");
    auto t = co_await request(auth::oauth2::authorization_code_request(client_, code, redirect_uri, verifier));
    if (!t) co_return t.error();
    if (!t->refresh_token.empty())
      if (auto r = persist(t->refresh_token); !r) co_return r.error();
    pending_ = std::move(*t);
    manager_->invalidate();
    manager_->reset();
    co_return co_await obtain();
  }

  /// Resumes a grant obtained earlier (a refresh token saved from a previous session): stored
  /// like a rotated one, and the next call refreshes with it.
  result<void> set_refresh_token(secret refresh_token) {
    if (!manager_) return error(errc::not_initialized, "auth: initialize() first");
    if (auto r = persist(refresh_token); !r) return r;
    initial_refresh_ = std::move(refresh_token);
    manager_->invalidate();
    manager_->reset();
    return {};
  }

  /// No token until the user signed in or a refresh token is known: initialize() must not fail.
  asio::awaitable<result<void>> obtain() {
    if (initial_refresh_.empty() && !stored_refresh()) co_return result<void>{};
    co_return co_await token_scheme::obtain();
  }

  asio::awaitable<result<auth::oauth2::token>> fetch(const auth::oauth2::token* previous) {
    if (pending_) {
      auto t = std::move(*pending_);
      pending_.reset();
      co_return t;
    }
    secret rt;
    if (previous && !previous->refresh_token.empty()) rt = previous->refresh_token;
    else if (auto s = stored_refresh()) rt = std::move(*s);
    else rt = initial_refresh_;
    if (rt.empty()) co_return error(errc::unauthorized, std::string(ctx_->provider) + ": no user is signed in (authorization code first)");
    auto t = co_await request(auth::oauth2::refresh_token_request(client_, rt));
    if (!t) co_return t.error();
    if (t->refresh_token.empty()) {
      t->refresh_token = rt;  // not rotated: the old one stays valid
    } else if (t->refresh_token.reveal() != rt.reveal()) {
      // Rotated: the old grant is now dead. Keep the new one durably before anything uses it.
      if (auto r = persist(t->refresh_token); !r)
        co_return error(r.error()).with_message(std::string(ctx_->provider) + ": the rotated refresh token could not be stored");
    }
    co_return t;
  }

 private:
  std::string key() const { return ctx_->store_prefix + "refresh_token"; }
  std::optional<secret> stored_refresh() const {
    if (!ctx_ || !ctx_->store || !*ctx_->store) return std::nullopt;
    auto s = ctx_->store->get(key());
    if (!s || s->empty()) return std::nullopt;
    return std::move(*s);
  }
  result<void> persist(const secret& rt) {
    if (ctx_->store && *ctx_->store) return ctx_->store->put(key(), rt);
    initial_refresh_ = rt;  // no store: kept in memory only
    return {};
  }

  auth::oauth2::client client_;
  std::string scope_;
  secret initial_refresh_;
  std::optional<auth::oauth2::token> pending_;
};

/// OAuth 2.0 JWT bearer assertion (RFC 7523), Google service-account style: settings.Key holds
/// the service account's JSON key file (client_email, private_key, token_uri), settings.scope the
/// scopes (space-separated; `DefaultScope` when absent). Each token request signs a fresh RS256
/// assertion. The key's token_uri must be an allowed host too.
template <fixed_string Key = "service_account", fixed_string DefaultScope = "">
class jwt_bearer : public detail::token_scheme<jwt_bearer<Key, DefaultScope>> {
  using base = detail::token_scheme<jwt_bearer<Key, DefaultScope>>;

 public:
  result<void> configure(auth_context& c) {
    auto text = c.secret_setting(Key.view());
    if (!text) return text.error();
    auto sa = auth::oauth2::service_account::from_json(text->reveal());
    if (!sa) return c.config(Key.view(), "is not a usable service account key");
    auto sc = c.string("scope", false);
    if (!sc) return sc.error();
    scope_ = sc->empty() ? std::string(DefaultScope.view()) : std::move(*sc);
    auto u = c.check_url(sa->token_uri);
    if (!u) return u.error();
    this->token_url_ = std::move(*u);
    sa_ = std::move(*sa);
    this->start(c);
    return {};
  }
  asio::awaitable<result<auth::oauth2::token>> fetch(const auth::oauth2::token*) {
    auto assertion = auth::oauth2::jwt_bearer_assertion(sa_, scope_, std::chrono::system_clock::now());
    if (!assertion) co_return assertion.error();
    co_return co_await this->request(auth::oauth2::jwt_bearer_request(*assertion));
  }

 private:
  auth::oauth2::service_account sa_;
  std::string scope_;
};

/// An access token from the metadata server of the Google Cloud machine the program runs on
/// (Compute Engine, GKE with Workload Identity, Cloud Run, Cloud Functions): GET
/// http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token
/// with `Metadata-Flavor: Google`. The answer must carry that header too, which a proxy or a
/// captive portal answering in the server's place does not. Settings (both optional):
/// `metadata_url`, another address of the server (metadata.google.internal and 169.254.169.254
/// over http, or a host the deployment allows: tests run a local one); `scope`, scopes
/// space-separated (`DefaultScope` when absent; the machine's own scopes when both are empty).
template <fixed_string DefaultScope = "">
class google_metadata : public detail::token_scheme<google_metadata<DefaultScope>> {
  using base = detail::token_scheme<google_metadata<DefaultScope>>;

 public:
  static constexpr std::string_view default_url = "http://metadata.google.internal";
  static constexpr std::string_view token_path = "/computeMetadata/v1/instance/service-accounts/default/token";

  result<void> configure(auth_context& c) {
    auto text = c.string("metadata_url", false);
    if (!text) return text.error();
    if (text->empty()) *text = std::string(default_url);
    auto u = http::url::parse(*text);
    if (!u) return c.config("metadata_url", "is not a URL");
    if (u->host() != "metadata.google.internal" && u->host() != "169.254.169.254") {
      auto checked = c.check_url(*text);
      if (!checked) return checked.error();
    }
    auto sc = c.string("scope", false);
    if (!sc) return sc.error();
    std::string scopes = sc->empty() ? std::string(DefaultScope.view()) : std::move(*sc);
    for (char& ch : scopes)
      if (ch == ' ') ch = ',';  // the metadata server takes them comma-separated
    std::string target = u->origin() + std::string(token_path);
    if (!scopes.empty()) target += "?scopes=" + http::percent_encode(scopes);
    auto t = http::url::parse(target);
    if (!t) return c.config("metadata_url", "is not a usable base URL");
    this->token_url_ = std::move(*t);
    this->start(c);
    return {};
  }

  asio::awaitable<result<auth::oauth2::token>> fetch(const auth::oauth2::token*) {
    ++this->fetches_;
    http::request req(http::verb::get, this->token_url_);
    req.set("Metadata-Flavor", "Google");
    req.set(http::field::accept, "application/json");
    auto res = co_await this->ctx_->http->send(req);
    if (!res) co_return res.error();
    const int status = static_cast<int>(res->result_int());
    const std::string where = "metadata server " + this->token_url_.origin();
    if (auto it = res->find("Metadata-Flavor"); it == res->end() || it->value() != "Google")
      co_return error(errc::invalid_response, where + " answered without Metadata-Flavor: Google (not the metadata server)");
    if (status >= 500 || status == 429) {
      error e = http::status_error(*res);
      co_return e.with_message(where + " answered HTTP " + std::to_string(status));
    }
    if (status == 404) co_return error(errc::unauthorized, where + ": this machine has no service account (HTTP 404)");
    co_return auth::oauth2::parse_token_response(res->body(), status);
  }
};

/// A token the client signs itself with ES256 (Apple Music, APNs, App Store Connect): header
/// {alg, kid}, claims {iss, iat, exp}, renewed `Margin` seconds before its `Lifetime` ends.
/// Settings: Key (a PEM or JWK private P-256 key), KeyId, Issuer.
template <fixed_string Key = "private_key", fixed_string KeyId = "key_id", fixed_string Issuer = "team_id",
          int Lifetime = 1800, int Margin = 300>
class self_signed_es256 : public detail::token_scheme<self_signed_es256<Key, KeyId, Issuer, Lifetime, Margin>> {
  static_assert(Lifetime > Margin && Margin >= 0, "self_signed_es256: the lifetime must exceed the renewal margin");
  using base = detail::token_scheme<self_signed_es256>;

 public:
  result<void> configure(auth_context& c) {
    auto k = c.secret_setting(Key.view());
    if (!k) return k.error();
    result<auth::jwk> key = error(errc::key_invalid);
    if (k->reveal().starts_with("-----BEGIN")) {
      key = auth::jwk::from_pem(k->reveal());
    } else {
      boost::system::error_code ec;
      auto v = boost::json::parse(k->reveal(), ec);
      if (!ec && v.is_object()) key = auth::jwk::from_json(v.get_object());
    }
    if (!key || key->type() != auth::key_type::ec || !key->has_private())
      return c.config(Key.view(), "is not a P-256 private key (PEM or JWK)");
    auto kid = c.string(KeyId.view());
    if (!kid) return kid.error();
    auto iss = c.string(Issuer.view());
    if (!iss) return iss.error();
    key->with_kid(*kid);
    key_ = std::move(*key);
    issuer_ = std::move(*iss);
    this->manager_options.refresh_margin = std::chrono::seconds(Margin);
    this->start(c);
    return {};
  }
  asio::awaitable<result<auth::oauth2::token>> fetch(const auth::oauth2::token*) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    boost::json::object claims{{"iss", issuer_}, {"iat", now}, {"exp", now + Lifetime}};
    auto jwt = auth::jwt::sign(claims, key_, "ES256");
    if (!jwt) co_return jwt.error();
    ++this->fetches_;
    auth::oauth2::token t;
    t.access_token = secret{std::move(*jwt)};
    t.expires_in = std::chrono::seconds(Lifetime);
    co_return t;
  }
  bool unauthorized() { return base::unauthorized(); }

 private:
  auth::jwk key_;
  std::string issuer_;
};

/// A request-signing hook: `Signer` has `result<void> configure(auth_context&)` and
/// `result<void> sign(http::request&)`, called last on each attempt, so it sees the final method,
/// URL (query included), headers (idempotency key included) and body. AWS SigV4 and Azure
/// SharedKey are signers.
template <class Signer>
struct signed_by {
  Signer signer{};
  result<void> configure(auth_context& c) { return signer.configure(c); }
  result<void> apply(http::request& r) { return signer.sign(r); }
  /// The provider refused the signature in a way the signer may fix (SigV4: the request's time,
  /// corrected from the answer's Date): true when it did, and the request is signed and sent once
  /// more.
  bool refused(const http::response& res) {
    if constexpr (requires { signer.refused(res); }) return signer.refused(res);
    else return false;
  }
};

/// A credential that exists only when the tenant's settings name `Setting` (non-empty): Spotify's
/// app token needs a client_secret, which a public (PKCE-only) client does not have. Absent, it
/// obtains nothing at initialize() and an operation that needs it fails with errc::unauthorized
/// naming the missing setting, without sending anything.
template <fixed_string Setting, class Scheme>
class if_set {
 public:
  result<void> configure(auth_context& c) {
    auto s = c.string(Setting.view(), false);
    if (!s) return s.error();
    present_ = !s->empty();
    provider_ = c.provider;
    return present_ ? scheme_.configure(c) : result<void>{};
  }
  asio::awaitable<result<void>> obtain() {
    if constexpr (requires { scheme_.obtain(); })
      if (present_) co_return co_await scheme_.obtain();
    co_return result<void>{};
  }
  asio::awaitable<result<void>> apply_async(http::request& r) {
    if (!present_)
      co_return error(errc::unauthorized, std::string(provider_) + ": this operation needs a credential the settings do not configure (settings." +
                                              std::string(Setting.view()) + " is not set)");
    if constexpr (requires { scheme_.apply_async(r); }) co_return co_await scheme_.apply_async(r);
    else co_return scheme_.apply(r);
  }
  bool unauthorized() {
    if constexpr (requires { scheme_.unauthorized(); }) return present_ && scheme_.unauthorized();
    else return false;
  }
  bool present() const noexcept { return present_; }
  Scheme& scheme() noexcept { return scheme_; }
  const Scheme& scheme() const noexcept { return scheme_; }

 private:
  Scheme scheme_{};
  bool present_ = false;
  std::string_view provider_;
};

/// Several credentials for one provider (Spotify: an app token for public data, the user's token
/// for /me): an operation picks one by index (`operation::credential`, 0 by default). All are
/// configured from the same settings; initialize() obtains those that can be obtained.
template <class... Schemes>
class auth_set {
  static_assert(sizeof...(Schemes) >= 1, "auth_set needs at least one scheme");

 public:
  result<void> configure(auth_context& c) {
    result<void> out;
    std::apply([&](auto&... s) { (void)((out = s.configure(c)) && ...); }, schemes_);
    return out;
  }
  asio::awaitable<result<void>> obtain() {
    result<void> out;
    co_await obtain_from<0>(out, sizeof...(Schemes));
    co_return out;
  }
  /// Obtains credential `which` only.
  asio::awaitable<result<void>> obtain(std::size_t which) {
    result<void> out;
    co_await obtain_from<0>(out, which);
    co_return out;
  }
  asio::awaitable<result<void>> apply_async(http::request& r, std::size_t which) {
    result<void> out = error(errc::invalid_argument, "auth_set: no credential with this index");
    co_await apply_at<0>(r, which, out);
    co_return out;
  }
  bool unauthorized(std::size_t which) {
    bool out = false;
    visit(which, [&](auto& s) {
      if constexpr (requires { s.unauthorized(); }) out = s.unauthorized();
    });
    return out;
  }
  /// Scheme I (e.g. to complete a user's authorization).
  template <std::size_t I>
  auto& get() noexcept { return std::get<I>(schemes_); }

 private:
  template <class F>
  void visit(std::size_t which, F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (void)((which == I ? (f(std::get<I>(schemes_)), true) : false) || ...);
    }(std::index_sequence_for<Schemes...>{});
  }
  // Obtains scheme `which`, or every scheme when `which` is out of range.
  template <std::size_t I>
  asio::awaitable<void> obtain_from(result<void>& out, std::size_t which) {
    if constexpr (I < sizeof...(Schemes)) {
      auto& s = std::get<I>(schemes_);
      if constexpr (requires { s.obtain(); }) {
        if (which == I || which >= sizeof...(Schemes)) {
          out = co_await s.obtain();
          if (!out) co_return;
        }
      }
      co_await obtain_from<I + 1>(out, which);
    }
  }
  template <std::size_t I>
  asio::awaitable<void> apply_at(http::request& r, std::size_t which, result<void>& out) {
    if constexpr (I < sizeof...(Schemes)) {
      if (which != I) {
        co_await apply_at<I + 1>(r, which, out);
        co_return;
      }
      auto& s = std::get<I>(schemes_);
      if constexpr (requires { s.apply_async(r); }) out = co_await s.apply_async(r);
      else out = s.apply(r);
    }
  }
  std::tuple<Schemes...> schemes_;
};

/// The first of several ways to authenticate that the tenant's settings configure (Twilio: an API
/// key pair when `api_key_sid` is set, else the account SID and auth token):
/// `rest::one_of<rest::if_set<"api_key_sid", rest::basic<"api_key_sid", "api_key_secret">>,
/// rest::basic<"account_sid", "auth_token">>`. An `if_set` alternative whose setting is absent is
/// skipped; any other alternative's configuration error is the client's (the last one is the
/// fallback, whose missing settings are named).
template <class... Schemes>
class one_of {
  static_assert(sizeof...(Schemes) >= 2, "one_of needs two alternatives or more");

 public:
  result<void> configure(auth_context& c) {
    result<void> out;
    bool chosen = false;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (void)((chosen || try_one<I>(c, out, chosen)) && ...);
    }(std::index_sequence_for<Schemes...>{});
    if (out && !chosen) return error(errc::config_error, std::string(c.provider) + ": no credentials are configured");
    return out;
  }
  asio::awaitable<result<void>> obtain() { co_return co_await set_.obtain(chosen_); }
  asio::awaitable<result<void>> apply_async(http::request& r) { co_return co_await set_.apply_async(r, chosen_); }
  bool unauthorized() { return set_.unauthorized(chosen_); }
  /// The index of the alternative in use (after initialize()).
  std::size_t chosen() const noexcept { return chosen_; }

 private:
  // Configures alternative I; false stops the search (chosen, or an error).
  template <std::size_t I>
  bool try_one(auth_context& c, result<void>& out, bool& chosen) {
    auto& s = set_.template get<I>();
    out = s.configure(c);
    if (!out) return false;
    if constexpr (requires { s.present(); })
      if (!s.present()) return true;  // its setting is absent: the next one
    chosen_ = I;
    chosen = true;
    return false;
  }
  auth_set<Schemes...> set_;
  std::size_t chosen_ = 0;
};

}  // namespace intg::rest
