// A local stand-in for Spotify's accounts service and Web API, built on intg::http::server, for
// tests, demos and benchmarks without credentials or network: OAuth 2.0 token grants (client
// credentials, authorization code with PKCE, refresh) with RFC 6749 errors, the search, track,
// artist, album and playlist endpoints with the Web API's exact JSON shapes and error objects,
// token expiry on an adjustable clock, a rolling-window rate limit answering 429 + Retry-After,
// fault injection (latency, 5xx, resets, malformed and truncated bodies) and counters.
// It is not part of the library: it lives with the examples and tests that use it.
#pragma once

#include "catalogue.hpp"

#include <intg/security/auth/pkce.hpp>
#include <intg/security/crypto/compare.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/core/error.hpp>
#include <intg/http/server.hpp>
#include <intg/http/url.hpp>
#include <intg/core/result.hpp>
#include <intg/providers/spotify/model.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

namespace spotify_local {

/// The accounts service's token answer (RFC 6749 section 5.1) and error (section 5.2).
struct token_response {
  std::string access_token{}, token_type = "Bearer";
  int expires_in = 0;
  std::optional<std::string> scope{}, refresh_token{};  ///< no refresh_token: keep using the previous one
};
BOOST_DESCRIBE_STRUCT(token_response, (), (access_token, token_type, expires_in, scope, refresh_token))
struct oauth_error {
  std::string error{};
  std::optional<std::string> error_description{};
};
BOOST_DESCRIBE_STRUCT(oauth_error, (), (error, error_description))
INTG_REST_MODELS();

namespace asio = boost::asio;
namespace http = intg::http;
namespace sp = intg::spotify;
namespace json = boost::json;
using status = boost::beast::http::status;

/// An application registered with the accounts service.
struct app_credentials {
  std::string client_id, client_secret;
};

struct server_options {
  /// Accepted applications; empty: one deterministic app (see server::client_id()).
  std::vector<app_credentials> clients;
  std::chrono::seconds token_lifetime{3600};  ///< `expires_in` of every access token
  std::chrono::seconds code_lifetime{600};    ///< authorization codes expire after this
  /// API requests allowed per client id within `rate_window` (rolling); 0 disables the limit.
  std::size_t rate_limit = 1800;
  std::chrono::seconds rate_window{30};
  std::string user_id = "anna.lindqvist";  ///< the test user who approves /authorize at once
  std::vector<std::string> redirect_uris;  ///< allowed redirect URIs; empty: any http(s) URI
  bool rotate_refresh_tokens = true;       ///< PKCE refreshes return a new refresh token and revoke the old
  std::uint64_t seed = 20240601;           ///< catalogue seed
  std::string public_base_url;             ///< links use this when set, else http://HOST:PORT
  http::server_options http;
};

/// Faults to inject into /v1 API responses (the accounts endpoints are never faulted). Every
/// setter is thread-safe. Counted faults ("next N") are used up before random ones.
class fault_control {
 public:
  enum class kind { none, http_error, reset, malformed_json, truncated_body };

  /// Delay added before every API response.
  void set_latency(std::chrono::milliseconds d) {
    std::lock_guard lock(mu_);
    latency_ = d;
  }
  /// The next `n` API requests answer `http_status` (500, 502, 503...) with an error object;
  /// 503 carries `Retry-After: 1`.
  void fail_next(std::size_t n, int http_status = 500) {
    std::lock_guard lock(mu_);
    fail_next_ = n;
    fail_status_ = http_status;
  }
  /// The next `n` API requests get their connection reset without an answer.
  void reset_next(std::size_t n) {
    std::lock_guard lock(mu_);
    reset_next_ = n;
  }
  /// The next `n` API requests get a 200 whose body is cut JSON (with a matching Content-Length).
  void malform_next(std::size_t n) {
    std::lock_guard lock(mu_);
    malformed_next_ = n;
  }
  /// The next `n` API requests get half their body, then the connection closes.
  void truncate_next(std::size_t n) {
    std::lock_guard lock(mu_);
    truncated_next_ = n;
  }
  /// A share (0..1) of API requests fail at random: `http_status` errors when `errors_only`,
  /// else errors, resets, malformed and truncated bodies alike. Deterministic for a given seed.
  void set_random_failures(double share, int http_status = 503, bool errors_only = false, std::uint64_t seed = 7) {
    std::lock_guard lock(mu_);
    share_ = share;
    random_status_ = http_status;
    errors_only_ = errors_only;
    rng_ = prng(seed);
  }
  /// Removes every fault and the latency.
  void clear() {
    std::lock_guard lock(mu_);
    latency_ = {};
    fail_next_ = reset_next_ = malformed_next_ = truncated_next_ = 0;
    share_ = 0;
  }

  std::chrono::milliseconds latency() const {
    std::lock_guard lock(mu_);
    return latency_;
  }

  /// Draws the fault for one request (and the status for http_error).
  std::pair<kind, int> draw() {
    std::lock_guard lock(mu_);
    if (fail_next_) return --fail_next_, std::pair{kind::http_error, fail_status_};
    if (reset_next_) return --reset_next_, std::pair{kind::reset, 0};
    if (malformed_next_) return --malformed_next_, std::pair{kind::malformed_json, 0};
    if (truncated_next_) return --truncated_next_, std::pair{kind::truncated_body, 0};
    if (share_ > 0 && static_cast<double>(rng_.next() % 1'000'000) < share_ * 1'000'000) {
      if (errors_only_) return {kind::http_error, random_status_};
      switch (rng_.next() % 4) {
        case 0: return {kind::reset, 0};
        case 1: return {kind::malformed_json, 0};
        case 2: return {kind::truncated_body, 0};
        default: return {kind::http_error, random_status_};
      }
    }
    return {kind::none, 0};
  }

 private:
  mutable std::mutex mu_;
  std::chrono::milliseconds latency_{};
  std::size_t fail_next_ = 0, reset_next_ = 0, malformed_next_ = 0, truncated_next_ = 0;
  int fail_status_ = 500, random_status_ = 503;
  double share_ = 0;
  bool errors_only_ = false;
  prng rng_{7};
};

/// What the server has done, for tests and the demo's output.
struct server_stats {
  std::map<std::string, std::uint64_t> requests;  ///< per endpoint, e.g. "GET /v1/search"
  std::uint64_t tokens_issued = 0;    ///< access tokens, all grants
  std::uint64_t codes_issued = 0;     ///< authorization codes
  std::uint64_t rate_limited = 0;     ///< 429 answers
  std::uint64_t unauthorized = 0;     ///< 401 answers from the API
  std::uint64_t faults_injected = 0;  ///< requests answered by fault_control
  std::uint64_t count(const std::string& endpoint) const {
    auto it = requests.find(endpoint);
    return it == requests.end() ? 0 : it->second;
  }
};

namespace detail {

/// RFC 7636 S256, computed with intg's own PKCE helper (the same one the client uses).
inline std::string s256_challenge(std::string_view verifier) { return intg::auth::pkce_challenge(verifier); }

inline bool valid_pkce_string(std::string_view s) {  // 43..128 unreserved characters
  if (s.size() < 43 || s.size() > 128) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~'))
      return false;
  return true;
}

// Constant-time comparison for secrets, so the stand-in does not model a timing oracle.
inline bool same_secret(std::string_view a, std::string_view b) { return intg::crypto::constant_time_equal(a, b); }

}  // namespace detail

/// The local Spotify server. Like intg::http::server it runs on one executor; fault_control,
/// stats(), advance_clock() and expire_all_tokens() may be called from any thread.
///
///   spotify_local::server srv(io.get_executor());
///   srv.listen("127.0.0.1", 0);  srv.start();
///   srv.api_base();      // http://127.0.0.1:PORT/v1      (Web API)
///   srv.accounts_base(); // http://127.0.0.1:PORT         (/authorize, /api/token)
///   srv.faults().fail_next(5, 500);
///   co_await srv.shutdown();
class server {
 public:
  using clock = std::chrono::steady_clock;

  explicit server(asio::any_io_executor ex, server_options opts = {})
      : opts_(std::move(opts)),
        catalogue_(opts_.seed),
        http_(ex, [this](http::server_request& req) { return handle(req); }, opts_.http),
        token_rng_(std::random_device{}()) {
    if (opts_.clients.empty()) {
      prng rng(opts_.seed ^ 0x5eedULL);
      app_credentials app;
      static constexpr std::string_view hex = "0123456789abcdef";
      for (int i = 0; i < 32; ++i) app.client_id += hex[rng.next() % 16];
      for (int i = 0; i < 32; ++i) app.client_secret += hex[rng.next() % 16];
      opts_.clients.push_back(std::move(app));
    }
  }

  /// Binds; port 0 picks a free port.
  intg::result<void> listen(std::string_view host, std::uint16_t port) {
    auto r = http_.listen(host, port);
    if (r) host_ = std::string(host);
    return r;
  }
  /// "HOST:PORT".
  intg::result<void> listen(std::string_view host_port) {
    auto r = http_.listen(host_port);
    if (r) {
      host_ = std::string(host_port.substr(0, host_port.rfind(':')));
      if (host_.size() > 1 && host_.front() == '[') host_ = host_.substr(1, host_.size() - 2);
    }
    return r;
  }
  void start() { http_.start(); }
  asio::awaitable<void> shutdown(std::chrono::milliseconds grace = std::chrono::seconds(2)) {
    co_await http_.shutdown(grace);
  }

  std::uint16_t port() const { return http_.port(); }
  /// Where links point: http://HOST:PORT (0.0.0.0 and :: become loopback addresses).
  std::string base_url() const {
    if (!opts_.public_base_url.empty()) return opts_.public_base_url;
    std::string h = host_ == "0.0.0.0" || host_.empty() ? "127.0.0.1" : host_ == "::" ? "::1" : host_;
    if (h.find(':') != std::string::npos) h = "[" + h + "]";
    return "http://" + h + ":" + std::to_string(port());
  }
  std::string api_base() const { return base_url() + "/v1"; }
  std::string accounts_base() const { return base_url(); }

  /// The first registered application (the deterministic one by default).
  std::string client_id() const {
    std::lock_guard lock(mu_);
    return opts_.clients.front().client_id;
  }
  std::string client_secret() const {
    std::lock_guard lock(mu_);
    return opts_.clients.front().client_secret;
  }
  /// Registers another application (e.g. one per tenant: each gets its own rate-limit window).
  void add_client(std::string id, std::string secret) {
    std::lock_guard lock(mu_);
    opts_.clients.push_back({std::move(id), std::move(secret)});
  }

  fault_control& faults() { return faults_; }
  const spotify_local::catalogue& catalogue() const { return catalogue_; }
  const server_options& options() const { return opts_; }

  server_stats stats() const {
    std::lock_guard lock(mu_);
    return stats_;
  }

  /// Moves the server's clock forward (token expiry, code expiry, rate-limit windows).
  void advance_clock(std::chrono::nanoseconds d) { offset_ns_ += d.count(); }
  /// Every access token issued so far expires now (refresh tokens stay valid).
  void expire_all_tokens() {
    std::lock_guard lock(mu_);
    const auto t = now();
    for (auto& [k, tok] : access_tokens_) tok.expires = std::min(tok.expires, t);
  }
  /// Changes the rate limit (0 disables it) and clears the windows.
  void set_rate_limit(std::size_t per_window, std::chrono::seconds window = std::chrono::seconds(30)) {
    std::lock_guard lock(mu_);
    opts_.rate_limit = per_window;
    opts_.rate_window = window;
    windows_.clear();
  }
  /// When set, /authorize redirects with error=access_denied (the user refused).
  void deny_authorization(bool deny) { deny_ = deny; }

  clock::time_point now() const { return clock::now() + std::chrono::nanoseconds(offset_ns_.load()); }

  /// One request, as intg::http::server hands it over.
  asio::awaitable<http::server_response> handle(http::server_request& req) {
    const std::string target(req.target());
    const std::string path = target.substr(0, target.find('?'));
    const std::string query = target.find('?') == std::string::npos ? "" : target.substr(target.find('?') + 1);
    count(std::string(req.method_string()) + " " + endpoint_name(path));

    if (path == "/api/token") co_return token_endpoint(req);
    if (path == "/authorize") co_return authorize_endpoint(req, query);
    if (!path.starts_with("/v1/")) co_return api_error(status::not_found, "Service not found");

    if (auto d = faults_.latency(); d.count() > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor, d);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    const auto [fault, fault_status] = faults_.draw();
    if (fault != fault_control::kind::none) bump(&server_stats::faults_injected);
    if (fault == fault_control::kind::reset) throw http::connection_fault{http::connection_fault::reset, {}};
    if (fault == fault_control::kind::http_error) {
      auto res = api_error(static_cast<status>(fault_status), fault_status == 503 ? "Service unavailable" : "Server error");
      if (fault_status == 503) res.set(http::field::retry_after, "1");
      co_return res;
    }

    http::server_response res = api(req, path, query);
    if (fault == fault_control::kind::malformed_json) {
      res.body() = res.body().substr(0, res.body().size() / 2);  // valid HTTP, broken JSON
    } else if (fault == fault_control::kind::truncated_body) {
      throw http::connection_fault{http::connection_fault::truncate, std::move(res)};
    }
    co_return res;
  }

 private:
  struct access_token {
    std::string client_id;
    std::optional<std::size_t> user;  // user tokens only
    std::string scope;
    clock::time_point expires;
  };
  struct refresh_token {
    std::string client_id;
    std::size_t user;
    std::string scope;
    bool public_client;  // issued through PKCE without a secret
  };
  struct auth_code {
    std::string client_id, redirect_uri, challenge, scope;
    std::size_t user;
    clock::time_point expires;
  };
  using params = std::vector<std::pair<std::string, std::string>>;

  static const std::string* param(const params& p, std::string_view key) {
    for (const auto& [k, v] : p)
      if (k == key) return &v;
    return nullptr;
  }

  static std::string endpoint_name(const std::string& path) {
    // Ids are replaced by their placeholder so that counters stay a bounded set.
    if (!path.starts_with("/v1/")) return path;
    std::string out;
    std::size_t i = 0;
    int segment = 0;
    std::string first;
    while (i < path.size()) {
      const auto next = path.find('/', i + 1);
      std::string seg = path.substr(i + 1, next == std::string::npos ? std::string::npos : next - i - 1);
      if (segment == 1) first = seg;
      if (segment == 2 && first != "me" && first != "search") seg = first == "users" ? "{user_id}" : "{id}";
      out += "/" + seg;
      ++segment;
      if (next == std::string::npos) break;
      i = next;
    }
    return out;
  }

  void count(const std::string& endpoint) {
    std::lock_guard lock(mu_);
    ++stats_.requests[endpoint];
  }
  void bump(std::uint64_t server_stats::*field) {
    std::lock_guard lock(mu_);
    ++(stats_.*field);
  }

  std::string random_token(std::string_view prefix, std::size_t n) {
    std::string s(prefix);
    for (std::size_t i = 0; i < n; ++i) s += base62[token_rng_() % base62.size()];
    return s;
  }

  const app_credentials* find_client(std::string_view id) const {
    for (const auto& c : opts_.clients)
      if (c.client_id == id) return &c;
    return nullptr;
  }

  // ----- responses -------------------------------------------------------------------------

  static http::server_response json_response(status s, json::value v) {
    with_nulls(v);
    return http::make_response(s, json::serialize(v));
  }
  /// The models omit empty optionals; the API writes the fields its description marks required
  /// and nullable as null. This puts them back, by the shape of each object.
  static void with_nulls(json::value& v) {
    if (auto* a = v.if_array())
      for (auto& x : *a) with_nulls(x);
    auto* o = v.if_object();
    if (!o) return;
    auto ensure = [&](std::initializer_list<std::string_view> keys) {
      for (auto k : keys)
        if (!o->contains(k)) (*o)[k] = nullptr;
    };
    // A copy: ensure() inserts into *o, which may move its elements.
    std::string type;
    if (const auto* t = o->if_contains("type"); t && t->is_string()) type = t->get_string();
    auto is = [&](std::string_view t) { return type == t; };
    if (o->contains("items") && o->contains("limit") && o->contains("offset")) ensure({"next", "previous"});
    if (o->contains("url") && !o->contains("href")) ensure({"height", "width"});
    if (is("track")) ensure({"preview_url"});
    if (is("playlist")) ensure({"description", "public"});
    if (auto* w = o->if_contains("owner"); w && w->is_object() && !w->as_object().contains("display_name")) w->as_object()["display_name"] = nullptr;
    if (o->contains("item")) ensure({"added_at", "added_by"});
    if (auto* f = o->if_contains("followers"); f && f->is_object() && !f->as_object().contains("href")) f->as_object()["href"] = nullptr;
    for (auto& kv : *o) with_nulls(kv.value());
  }
  /// The Web API's error object.
  static http::server_response api_error(status s, std::string_view message) {
    return json_response(s, sp::to_json(sp::error_object{{static_cast<int>(s), std::string(message)}}));
  }
  /// The accounts service's RFC 6749 error.
  static http::server_response oauth_error(status s, std::string_view error, std::string_view description) {
    auto res = json_response(s, sp::to_json(spotify_local::oauth_error{std::string(error), std::string(description)}));
    if (s == status::unauthorized) res.set(http::field::www_authenticate, "Basic realm=\"spotify\"");
    return res;
  }

  // ----- accounts service --------------------------------------------------------------------

  struct client_auth {
    const app_credentials* app = nullptr;
    bool authenticated = false;  // the secret was shown
    std::optional<http::server_response> failure;
  };

  // Client authentication: HTTP Basic (a failure is 401), client_secret in the body (a failure is
  // 400), or a bare client_id for public (PKCE) clients.
  client_auth authenticate(const http::server_request& req, const params& form) const {
    client_auth out;
    if (auto it = req.find(http::field::authorization); it != req.end()) {
      std::string_view v = it->value();
      if (!v.starts_with("Basic ")) {
        out.failure = oauth_error(status::unauthorized, "invalid_client", "Invalid authorization header");
        return out;
      }
      auto decoded = intg::crypto::base64_decode(v.substr(6));
      const auto colon = decoded ? decoded->find(':') : std::string::npos;
      if (!decoded || colon == std::string::npos) {
        out.failure = oauth_error(status::unauthorized, "invalid_client", "Invalid authorization header");
        return out;
      }
      out.app = find_client(std::string_view(*decoded).substr(0, colon));
      if (!out.app) {
        out.failure = oauth_error(status::unauthorized, "invalid_client", "Invalid client");
      } else if (!detail::same_secret(out.app->client_secret, std::string_view(*decoded).substr(colon + 1))) {
        out.failure = oauth_error(status::unauthorized, "invalid_client", "Invalid client secret");
      } else {
        out.authenticated = true;
      }
      return out;
    }
    const std::string* id = param(form, "client_id");
    if (!id) return out;
    out.app = find_client(*id);
    if (!out.app) {
      out.failure = oauth_error(status::bad_request, "invalid_client", "Invalid client");
      return out;
    }
    if (const std::string* secret = param(form, "client_secret")) {
      if (!detail::same_secret(out.app->client_secret, *secret)) {
        out.failure = oauth_error(status::bad_request, "invalid_client", "Invalid client secret");
      } else {
        out.authenticated = true;
      }
    }
    return out;
  }

  http::server_response token_answer(const std::string& client, std::optional<std::size_t> user, const std::string& scope,
                                     std::optional<std::string> refresh) {
    std::string token = random_token("BQ", 86);
    access_tokens_[token] = {client, user, scope, now() + opts_.token_lifetime};
    ++stats_.tokens_issued;
    token_response t;
    t.access_token = token;
    t.expires_in = static_cast<int>(opts_.token_lifetime.count());
    if (user) t.scope = scope;
    t.refresh_token = std::move(refresh);
    auto res = json_response(status::ok, sp::to_json(t));
    res.set(http::field::cache_control, "no-store");
    res.set(http::field::pragma, "no-cache");
    return res;
  }

  http::server_response token_endpoint(const http::server_request& req) {
    if (req.method() != http::verb::post) {
      auto res = oauth_error(status::method_not_allowed, "invalid_request", "use POST");
      res.set(http::field::allow, "POST");
      return res;
    }
    auto ct = req.find(http::field::content_type);
    if (ct == req.end() || !ct->value().starts_with("application/x-www-form-urlencoded"))
      return oauth_error(status::bad_request, "invalid_request", "Content-Type must be application/x-www-form-urlencoded");
    auto parsed = http::query::parse(req.body());
    if (!parsed) return oauth_error(status::bad_request, "invalid_request", "malformed form body");
    const params& form = *parsed;
    const std::string* grant = param(form, "grant_type");
    if (!grant) return oauth_error(status::bad_request, "unsupported_grant_type", "grant_type parameter is missing");
    if (*grant != "client_credentials" && *grant != "authorization_code" && *grant != "refresh_token")
      return oauth_error(status::bad_request, "unsupported_grant_type",
                         "grant_type must be client_credentials, authorization_code or refresh_token");

    std::lock_guard lock(mu_);
    client_auth auth = authenticate(req, form);
    if (auth.failure) return std::move(*auth.failure);
    if (!auth.app) return oauth_error(status::bad_request, "invalid_client", "Invalid client");

    if (*grant == "client_credentials") {
      if (!auth.authenticated)
        return oauth_error(status::bad_request, "invalid_client", "client_credentials needs the client secret");
      return token_answer(auth.app->client_id, std::nullopt, "", std::nullopt);
    }

    if (*grant == "authorization_code") {
      const std::string* code = param(form, "code");
      const std::string* redirect = param(form, "redirect_uri");
      if (!code) return oauth_error(status::bad_request, "invalid_request", "code is missing");
      if (!redirect) return oauth_error(status::bad_request, "invalid_request", "redirect_uri is missing");
      auto it = codes_.find(*code);
      if (it == codes_.end()) return oauth_error(status::bad_request, "invalid_grant", "Invalid authorization code");
      const auth_code c = it->second;
      codes_.erase(it);  // single use, whatever happens next
      if (c.client_id != auth.app->client_id)
        return oauth_error(status::bad_request, "invalid_grant", "Invalid authorization code");
      if (now() >= c.expires) return oauth_error(status::bad_request, "invalid_grant", "Authorization code expired");
      if (c.redirect_uri != *redirect) return oauth_error(status::bad_request, "invalid_grant", "Invalid redirect URI");
      if (!c.challenge.empty()) {
        const std::string* verifier = param(form, "code_verifier");
        if (!verifier) return oauth_error(status::bad_request, "invalid_request", "code_verifier required");
        if (!detail::valid_pkce_string(*verifier) || detail::s256_challenge(*verifier) != c.challenge)
          return oauth_error(status::bad_request, "invalid_grant", "code_verifier was incorrect");
      } else if (!auth.authenticated) {
        return oauth_error(status::bad_request, "invalid_client", "Invalid client secret");
      }
      std::string refresh = random_token("AQ", 120);
      refresh_tokens_[refresh] = {c.client_id, c.user, c.scope, !auth.authenticated};
      return token_answer(c.client_id, c.user, c.scope, refresh);
    }

    // refresh_token
    const std::string* rt = param(form, "refresh_token");
    if (!rt) return oauth_error(status::bad_request, "invalid_request", "refresh_token must be supplied");
    auto it = refresh_tokens_.find(*rt);
    if (it == refresh_tokens_.end() || it->second.client_id != auth.app->client_id)
      return oauth_error(status::bad_request, "invalid_grant", "Invalid refresh token");
    const refresh_token r = it->second;
    if (!r.public_client && !auth.authenticated)
      return oauth_error(status::bad_request, "invalid_client", "Invalid client secret");
    std::optional<std::string> next;
    if (r.public_client && opts_.rotate_refresh_tokens) {
      refresh_tokens_.erase(it);
      next = random_token("AQ", 120);
      refresh_tokens_[*next] = r;
    }
    return token_answer(r.client_id, r.user, r.scope, next);
  }

  // GET /authorize: the test user approves at once; the answer is the redirect back to the app.
  http::server_response authorize_endpoint(const http::server_request& req, const std::string& query) {
    if (req.method() != http::verb::get) return oauth_error(status::method_not_allowed, "invalid_request", "use GET");
    auto parsed = http::query::parse(query);
    if (!parsed) return oauth_error(status::bad_request, "invalid_request", "malformed query");
    const params& q = *parsed;
    const std::string* client = param(q, "client_id");
    const std::string* redirect = param(q, "redirect_uri");
    std::lock_guard lock(mu_);
    // Until the client and redirect URI are known good, errors are shown, never redirected.
    if (!client || !find_client(*client)) return oauth_error(status::bad_request, "invalid_client", "Invalid client");
    if (!redirect || !http::url::parse(*redirect))
      return oauth_error(status::bad_request, "invalid_request", "Invalid redirect URI");
    if (!opts_.redirect_uris.empty() &&
        std::find(opts_.redirect_uris.begin(), opts_.redirect_uris.end(), *redirect) == opts_.redirect_uris.end())
      return oauth_error(status::bad_request, "invalid_request", "Invalid redirect URI");

    const std::string* state = param(q, "state");
    auto back = [&](http::query answer) {
      if (state) answer.add("state", *state);
      http::server_response res{status::found, 11};
      res.set(http::field::location, *redirect + (redirect->find('?') == std::string::npos ? "?" : "&") + answer.str());
      return res;
    };
    const std::string* type = param(q, "response_type");
    if (!type || *type != "code") return back({{"error", "unsupported_response_type"}});
    const std::string* method = param(q, "code_challenge_method");
    const std::string* challenge = param(q, "code_challenge");
    if (method && *method != "S256") return back({{"error", "invalid_request"}, {"error_description", "code_challenge_method must be S256"}});
    if ((method != nullptr) != (challenge != nullptr))
      return back({{"error", "invalid_request"}, {"error_description", "code_challenge and code_challenge_method go together"}});
    if (challenge && !detail::valid_pkce_string(*challenge))
      return back({{"error", "invalid_request"}, {"error_description", "invalid code_challenge"}});
    if (deny_) return back({{"error", "access_denied"}});
    const user_entry* user = catalogue_.find_user(opts_.user_id);
    std::string code = random_token("AQ", 100);
    const std::string* scope = param(q, "scope");
    codes_[code] = {*client, *redirect, challenge ? *challenge : "", scope ? *scope : "",
                    user ? catalogue_.index_of(*user) : 1, now() + opts_.code_lifetime};
    ++stats_.codes_issued;
    return back({{"code", code}});
  }

  // ----- Web API -----------------------------------------------------------------------------

  struct caller {
    std::string client_id;
    std::optional<std::size_t> user;
    std::string scope;
  };

  // The bearer token's owner, or the 401/400 to answer.
  std::variant<caller, http::server_response> authorize_api(const http::server_request& req) {
    auto unauthorized = [&](std::string_view message) {
      ++stats_.unauthorized;
      auto res = api_error(status::unauthorized, message);
      res.set(http::field::www_authenticate,
              "Bearer realm=\"spotify\", error=\"invalid_token\", error_description=\"" + std::string(message) + "\"");
      return res;
    };
    auto it = req.find(http::field::authorization);
    if (it == req.end()) return unauthorized("No token provided");
    std::string_view v = it->value();
    if (!v.starts_with("Bearer ")) return api_error(status::bad_request, "Only valid bearer authentication supported");
    auto tok = access_tokens_.find(std::string(v.substr(7)));
    if (tok == access_tokens_.end()) return unauthorized("Invalid access token");
    if (now() >= tok->second.expires) return unauthorized("The access token expired");
    return caller{tok->second.client_id, tok->second.user, tok->second.scope};
  }

  // The rolling window: at most rate_limit requests per client in any rate_window.
  std::optional<http::server_response> rate_limit(const std::string& client) {
    if (opts_.rate_limit == 0) return std::nullopt;
    auto& w = windows_[client];
    const auto t = now();
    while (!w.empty() && w.front() <= t - opts_.rate_window) w.pop_front();
    if (w.size() < opts_.rate_limit) {
      w.push_back(t);
      return std::nullopt;
    }
    // The oldest request leaves the window at front + window: that is when a slot frees up.
    const auto wait = w.front() + opts_.rate_window - t;
    const auto secs = std::max<std::int64_t>(1, (std::chrono::duration_cast<std::chrono::milliseconds>(wait).count() + 999) / 1000);
    ++stats_.rate_limited;
    auto res = api_error(status::too_many_requests, "API rate limit exceeded");
    res.set(http::field::retry_after, std::to_string(secs));
    return res;
  }

  static std::optional<int> to_int(const std::string& s) {
    if (s.empty() || s.size() > 9) return std::nullopt;
    int v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    return v;
  }

  // limit / offset with the endpoint's documented default and range; nullopt means 400.
  static std::optional<int> int_param(const params& q, std::string_view key, int def, int lo, int hi) {
    const std::string* v = param(q, key);
    if (!v) return def;
    auto i = to_int(*v);
    if (!i || *i < lo || *i > hi) return std::nullopt;
    return i;
  }

  static bool valid_market(const std::string& m) {
    return m == "from_token" || (m.size() == 2 && m[0] >= 'A' && m[0] <= 'Z' && m[1] >= 'A' && m[1] <= 'Z');
  }

  // ----- objects -----------------------------------------------------------------------------

  std::string href(std::string_view kind, const std::string& id) const { return api_base() + "/" + std::string(kind) + "/" + id; }
  static sp::external_urls_object open_url(std::string_view kind, const std::string& id) {
    return {"https://open.spotify.com/" + std::string(kind) + "/" + id};
  }
  static std::vector<sp::image> images(std::string_view prefix, const std::string& id) {
    std::string h;
    static constexpr std::string_view hex = "0123456789abcdef";
    for (char c : id) h += hex[static_cast<unsigned char>(c) % 16];
    std::vector<sp::image> out;
    for (int size : {640, 300, 64}) out.push_back({"https://i.scdn.co/image/" + std::string(prefix) + h.substr(0, 16) + std::to_string(size), size, size});
    return out;
  }

  sp::simplified_artist simple_artist(std::size_t i) const {
    const auto& a = catalogue_.artists[i];
    return {open_url("artist", a.id), href("artists", a.id), a.id, a.name, "artist", "spotify:artist:" + a.id};
  }
  std::vector<sp::simplified_artist> simple_artists(const std::vector<std::size_t>& v) const {
    std::vector<sp::simplified_artist> out;
    for (auto i : v) out.push_back(simple_artist(i));
    return out;
  }

  sp::artist full_artist(std::size_t i) const {
    const auto& a = catalogue_.artists[i];
    sp::artist out;
    out.external_urls = open_url("artist", a.id);
    out.followers = {std::nullopt, a.followers};
    out.genres = a.genres;
    out.href = href("artists", a.id);
    out.id = a.id;
    out.images = images("ab6761610000e5eb", a.id);
    out.name = a.name;
    out.popularity = a.popularity;
    out.uri = "spotify:artist:" + a.id;
    return out;
  }

  void fill_album_base(sp::simplified_album& out, std::size_t i) const {
    const auto& a = catalogue_.albums[i];
    out.album_type = a.album_type;
    out.total_tracks = static_cast<int>(a.tracks.size());
    out.available_markets = a.markets;
    out.external_urls = open_url("album", a.id);
    out.href = href("albums", a.id);
    out.id = a.id;
    out.images = images("ab67616d0000b273", a.id);
    out.name = a.name;
    out.release_date = a.release_date;
    out.release_date_precision = a.release_date_precision;
    out.uri = "spotify:album:" + a.id;
    out.artists = simple_artists(a.artists);
  }

  sp::simplified_album simple_album(std::size_t i) const {
    sp::simplified_album out;
    fill_album_base(out, i);
    return out;
  }

  template <class Track>
  void fill_track(Track& out, const track_entry& t, const std::string& market) const {
    const auto& al = catalogue_.albums[t.album];
    out.artists = simple_artists(t.artists);
    out.available_markets = al.markets;
    out.disc_number = t.disc_number;
    out.duration_ms = t.duration_ms;
    out.explicit_ = t.is_explicit;
    out.is_local = false;
    out.external_urls = open_url("track", t.id);
    out.href = href("tracks", t.id);
    out.id = t.id;
    if (!market.empty() && market != "from_token") {
      out.is_playable = catalogue_.available(al, market);
      if (!*out.is_playable) out.restrictions = sp::restrictions_object{"market"};
    }
    out.name = t.name;
    if (!t.preview_id.empty()) out.preview_url = "https://p.scdn.co/mp3-preview/" + t.preview_id;
    out.track_number = t.track_number;
    out.uri = "spotify:track:" + t.id;
  }

  sp::track full_track(std::size_t i, const std::string& market) const {
    const auto& t = catalogue_.tracks[i];
    sp::track out;
    out.album = simple_album(t.album);
    fill_track(out, t, market);
    out.external_ids.emplace().isrc = t.isrc;
    out.popularity = t.popularity;
    return out;
  }

  sp::playlist_owner owner(std::size_t u) const {
    const auto& user = catalogue_.users[u];
    sp::playlist_owner o;
    o.external_urls = open_url("user", user.id);
    o.href = api_base() + "/users/" + http::percent_encode(user.id);
    o.id = user.id;
    o.uri = "spotify:user:" + user.id;
    o.display_name = user.display_name;
    return o;
  }

  sp::simplified_playlist simple_playlist(std::size_t i) const {
    const auto& p = catalogue_.playlists[i];
    sp::simplified_playlist out;
    out.collaborative = p.collaborative;
    out.description = p.description;
    out.external_urls = open_url("playlist", p.id);
    out.href = href("playlists", p.id);
    out.id = p.id;
    out.images.emplace();
    if (!p.items.empty()) {
      std::optional<int> size;
      if (p.sized_image) size = 640;
      out.images->push_back({"https://mosaic.scdn.co/640/" + p.snapshot_id, size, size});
    }
    out.name = p.name;
    out.owner = owner(p.owner);
    out.public_ = p.is_public;
    out.snapshot_id = p.snapshot_id;
    out.items = out.tracks = sp::tracks_ref{href("playlists", p.id) + "/tracks", static_cast<int>(p.items.size())};
    out.uri = "spotify:playlist:" + p.id;
    return out;
  }

  // Paging links: `base` is the endpoint's URL with its fixed parameters, offset and limit last.
  template <class T>
  sp::paging<T> page(const std::string& base, int offset, int limit, int total, std::vector<T> items, int max_offset = INT32_MAX) const {
    const char sep = base.find('?') == std::string::npos ? '?' : '&';
    auto link = [&](int o) { return base + sep + "offset=" + std::to_string(o) + "&limit=" + std::to_string(limit); };
    sp::paging<T> p;
    p.href = link(offset);
    p.items = std::move(items);
    p.limit = limit;
    p.offset = offset;
    p.total = total;
    if (offset + limit < total && offset + limit <= max_offset) p.next = link(offset + limit);
    if (offset > 0) p.previous = link(std::max(0, offset - limit));
    return p;
  }

  template <class F>
  static auto slice(const std::vector<std::size_t>& all, int offset, int limit, F make) {
    std::vector<decltype(make(std::size_t{}))> out;
    for (std::size_t k = static_cast<std::size_t>(offset); k < all.size() && out.size() < static_cast<std::size_t>(limit); ++k)
      out.push_back(make(all[k]));
    return out;
  }

  // ----- routing -----------------------------------------------------------------------------

  http::server_response api(const http::server_request& req, const std::string& path, const std::string& query) {
    std::lock_guard lock(mu_);
    auto who = authorize_api(req);
    if (auto* res = std::get_if<http::server_response>(&who)) return std::move(*res);
    const caller& c = std::get<caller>(who);
    if (auto limited = rate_limit(c.client_id)) return std::move(*limited);
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return api_error(status::method_not_allowed, "Method not allowed");
    auto parsed = http::query::parse(query);
    if (!parsed) return api_error(status::bad_request, "Malformed query string");
    const params& q = *parsed;
    std::string market;
    if (const std::string* m = param(q, "market")) {
      if (!valid_market(*m)) return api_error(status::bad_request, "Invalid market code");
      market = *m;
    }

    std::vector<std::string> seg;
    for (std::size_t i = 4; i <= path.size();) {  // after "/v1/"
      const auto next = path.find('/', i);
      auto s = http::percent_decode(path.substr(i, next == std::string::npos ? std::string::npos : next - i));
      if (!s) return api_error(status::bad_request, "Malformed path");
      seg.push_back(std::move(*s));
      if (next == std::string::npos) break;
      i = next + 1;
    }
    auto ok = [](const json::value& v) { return json_response(status::ok, v); };
    auto bad_id = [&](const std::string& id) { return !is_spotify_id(id); };

    if (seg.size() == 1 && seg[0] == "search") return search(q, market);
    if (seg.size() == 1 && seg[0] == "tracks") {
      const std::string* ids = param(q, "ids");
      if (!ids || ids->empty()) return api_error(status::bad_request, "No ids provided");
      sp::several_tracks out;
      std::size_t start = 0;
      for (;;) {
        const auto comma = ids->find(',', start);
        std::string id = ids->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (bad_id(id)) return api_error(status::bad_request, "Invalid base62 id");
        const auto* t = catalogue_.find_track(id);
        if (t) {
          out.tracks.push_back(full_track(catalogue_.index_of(*t), market));
        } else {
          out.tracks.emplace_back(std::nullopt);  // as the API does for unknown ids
        }
        if (out.tracks.size() > 50) return api_error(status::bad_request, "Too many ids requested");
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      return ok(sp::to_json(out));
    }
    if (seg.size() == 2 && seg[0] == "tracks") {
      if (bad_id(seg[1])) return api_error(status::bad_request, "Invalid base62 id");
      const auto* t = catalogue_.find_track(seg[1]);
      if (!t) return api_error(status::not_found, "Resource not found");
      return ok(sp::to_json(full_track(catalogue_.index_of(*t), market)));
    }
    if (seg.size() == 2 && seg[0] == "artists") {
      if (bad_id(seg[1])) return api_error(status::bad_request, "Invalid base62 id");
      const auto* a = catalogue_.find_artist(seg[1]);
      if (!a) return api_error(status::not_found, "Resource not found");
      return ok(sp::to_json(full_artist(static_cast<std::size_t>(a - catalogue_.artists.data()))));
    }
    if (seg.size() == 2 && seg[0] == "albums") {
      if (bad_id(seg[1])) return api_error(status::bad_request, "Invalid base62 id");
      const auto* a = catalogue_.find_album(seg[1]);
      if (!a) return api_error(status::not_found, "Resource not found");
      return ok(sp::to_json(full_album(static_cast<std::size_t>(a - catalogue_.albums.data()), market)));
    }
    if (seg.size() == 2 && seg[0] == "me" && seg[1] == "playlists") {
      if (!c.user) return api_error(status::unauthorized, "Valid user authentication required");
      // Private playlists need the playlist-read-private scope, as on Spotify.
      const bool with_private = (" " + c.scope + " ").find(" playlist-read-private ") != std::string::npos;
      return user_playlists(*c.user, q, api_base() + "/me/playlists", with_private);
    }
    if (seg.size() == 3 && seg[0] == "users" && seg[2] == "playlists") {
      const auto* u = catalogue_.find_user(seg[1]);
      if (!u) return api_error(status::not_found, "Resource not found");
      const bool own = c.user && *c.user == catalogue_.index_of(*u);
      return user_playlists(catalogue_.index_of(*u), q, api_base() + "/users/" + http::percent_encode(u->id) + "/playlists", own);
    }
    if (seg.size() == 3 && seg[0] == "playlists" && (seg[2] == "tracks" || seg[2] == "items")) {
      if (bad_id(seg[1])) return api_error(status::bad_request, "Invalid base62 id");
      const auto* p = catalogue_.find_playlist(seg[1]);
      if (!p) return api_error(status::not_found, "Resource not found");
      auto limit = int_param(q, "limit", 20, 1, 100);
      if (!limit) return api_error(status::bad_request, "Invalid limit");
      auto offset = int_param(q, "offset", 0, 0, 100'000);
      if (!offset) return api_error(status::bad_request, "Invalid offset");
      std::vector<sp::playlist_track> items;
      for (std::size_t k = static_cast<std::size_t>(*offset); k < p->items.size() && items.size() < static_cast<std::size_t>(*limit); ++k) {
        const auto& e = p->items[k];
        sp::playlist_track pt;
        pt.added_at = e.added_at;
        pt.is_local = false;
        sp::playlist_user by = owner(e.added_by);
        pt.added_by = by;
        pt.track = full_track(e.track, market);
        items.push_back(std::move(pt));
      }
      std::string base = href("playlists", p->id) + "/" + seg[2];
      if (!market.empty()) base += "?market=" + market;
      return ok(sp::to_json(page(base, *offset, *limit, static_cast<int>(p->items.size()), std::move(items))));
    }
    return api_error(status::not_found, "Service not found");
  }

  sp::album full_album(std::size_t i, const std::string& market) const {
    const auto& a = catalogue_.albums[i];
    sp::album out;
    fill_album_base(out, i);
    std::vector<sp::simplified_track> items;
    for (std::size_t k = 0; k < a.tracks.size() && k < 50; ++k) {
      sp::simplified_track t;
      fill_track(t, catalogue_.tracks[a.tracks[k]], market);
      items.push_back(std::move(t));
    }
    out.tracks = page(href("albums", a.id) + "/tracks", 0, 50, static_cast<int>(a.tracks.size()), std::move(items));
    out.copyrights = {{"© " + a.release_date.substr(0, 4) + " " + a.label, "C"}, {"℗ " + a.release_date.substr(0, 4) + " " + a.label, "P"}};
    out.external_ids.upc = a.upc;
    out.label = a.label;
    out.popularity = a.popularity;
    return out;
  }

  http::server_response user_playlists(std::size_t user, const params& q, const std::string& base, bool with_private) const {
    auto limit = int_param(q, "limit", 20, 1, 50);
    if (!limit) return api_error(status::bad_request, "Invalid limit");
    auto offset = int_param(q, "offset", 0, 0, 100'000);
    if (!offset) return api_error(status::bad_request, "Invalid offset");
    std::vector<std::size_t> mine;
    for (std::size_t i = 0; i < catalogue_.playlists.size(); ++i) {
      const auto& p = catalogue_.playlists[i];
      if (p.owner == user && (p.is_public || with_private)) mine.push_back(i);
    }
    auto items = slice(mine, *offset, *limit, [&](std::size_t i) { return simple_playlist(i); });
    return json_response(status::ok, sp::to_json(page(base, *offset, *limit, static_cast<int>(mine.size()), std::move(items))));
  }

  http::server_response search(const params& q, const std::string& market) const {
    const std::string* text = param(q, "q");
    if (!text) text = param(q, "query");  // the name Spotify's own paging links use
    if (!text || text->empty()) return api_error(status::bad_request, "No search query");
    const std::string* types = param(q, "type");
    if (!types || types->empty()) return api_error(status::bad_request, "Missing parameter type");
    bool want_track = false, want_artist = false, want_album = false, want_playlist = false;
    std::size_t start = 0;
    for (;;) {
      const auto comma = types->find(',', start);
      const std::string t = types->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (t == "track") want_track = true;
      else if (t == "artist") want_artist = true;
      else if (t == "album") want_album = true;
      else if (t == "playlist") want_playlist = true;
      else if (t == "show" || t == "episode" || t == "audiobook") {}  // valid types this catalogue has none of
      else return api_error(status::bad_request, "Bad search type field " + t);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    auto limit = int_param(q, "limit", 5, 1, 10);
    if (!limit) return api_error(status::bad_request, "Invalid limit");
    auto offset = int_param(q, "offset", 0, 0, 1000);
    if (!offset) return api_error(status::bad_request, "Invalid offset");

    const auto query = search_query::parse(*text);
    auto base = [&](std::string_view type) {
      std::string b = api_base() + "/search?query=" + http::percent_encode(*text) + "&type=" + std::string(type);
      if (!market.empty()) b += "&market=" + market;
      return b;
    };
    const std::string mk = market == "from_token" ? "" : market;
    sp::search_result r;
    if (want_track) {
      auto all = catalogue_.search_tracks(query, mk);
      r.tracks = page(base("track"), *offset, *limit, static_cast<int>(all.size()),
                      slice(all, *offset, *limit, [&](std::size_t i) { return full_track(i, market); }), 1000);
    }
    if (want_artist) {
      auto all = catalogue_.search_artists(query);
      r.artists = page(base("artist"), *offset, *limit, static_cast<int>(all.size()),
                       slice(all, *offset, *limit, [&](std::size_t i) { return full_artist(i); }), 1000);
    }
    if (want_album) {
      auto all = catalogue_.search_albums(query, mk);
      r.albums = page(base("album"), *offset, *limit, static_cast<int>(all.size()),
                      slice(all, *offset, *limit, [&](std::size_t i) { return simple_album(i); }), 1000);
    }
    if (want_playlist) {
      auto all = catalogue_.search_playlists(query);
      r.playlists = page(base("playlist"), *offset, *limit, static_cast<int>(all.size()),
                         slice(all, *offset, *limit, [&](std::size_t i) { return simple_playlist(i); }), 1000);
    }
    return json_response(status::ok, sp::to_json(r));
  }

  server_options opts_;
  spotify_local::catalogue catalogue_;
  http::server http_;
  std::string host_;
  fault_control faults_;
  mutable std::mutex mu_;  // tokens, codes, windows, stats (the setters may come from other threads)
  server_stats stats_;
  std::unordered_map<std::string, access_token> access_tokens_;
  std::unordered_map<std::string, refresh_token> refresh_tokens_;
  std::unordered_map<std::string, auth_code> codes_;
  std::unordered_map<std::string, std::deque<clock::time_point>> windows_;
  std::atomic<std::int64_t> offset_ns_{0};
  std::atomic<bool> deny_{false};
  std::mt19937_64 token_rng_;
};

}  // namespace spotify_local
