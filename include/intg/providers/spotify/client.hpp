// intg::spotify::client: the Spotify Web API as an intg integration. Typed operations (search,
// tracks, artists, albums, playlists) run through a resilience pipeline with app tokens
// (client credentials) or user tokens (authorization code + PKCE, refresh), validate their
// parameters against the API's documented ranges before sending, and turn the API's error objects
// into intg errors the policies understand (401 → one refresh and replay, 429 → Retry-After).
#pragma once

#include <intg/core/attempt.hpp>
#include <intg/security/auth/oauth2.hpp>
#include <intg/security/auth/pkce.hpp>
#include <intg/security/auth/token_endpoint.hpp>
#include <intg/security/auth/token_manager.hpp>
#include <intg/core/error.hpp>
#include <intg/core/health.hpp>
#include <intg/http/client.hpp>
#include <intg/core/integration_config.hpp>
#include <intg/core/pipeline.hpp>
#include <intg/policy/circuit_breaker.hpp>
#include <intg/policy/rate_limiter.hpp>
#include <intg/policy/retry.hpp>
#include <intg/policy/timeout.hpp>
#include <intg/policy/tracing.hpp>
#include <intg/core/probe.hpp>
#include <intg/core/registry.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>
#include <intg/providers/spotify/model.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace intg::spotify {

/// The pipeline a client gets when none is named: tracing, retry, breaker, limiter, timeout.
using default_pipeline =
    intg::pipeline<intg::tracing<>, intg::retry<>, intg::circuit_breaker<>, intg::rate_limiter<>, intg::timeout<>>;

/// Search parameters. `limit` is 1..10 (Spotify's maximum for search since February 2026; the
/// API's default is 5), `offset` 0..1000.
struct search_options {
  int limit = 5;
  int offset = 0;
  /// ISO 3166-1 alpha-2, or empty. A view, like the query: it must outlive the call. (A view also
  /// keeps the options trivially copyable: g++ 12 copies coroutine parameters of aggregate type
  /// bitwise, which breaks a std::string member.)
  std::string_view market{};
};

/// Paging parameters of the other list endpoints: `limit` 1..50, `offset` >= 0.
struct page_options {
  int limit = 20;
  int offset = 0;
  std::string_view market{};  ///< as in search_options
};

/// Where the client talks to and as whom, read from an integration's `settings`:
/// `client_id`, `client_secret` (use `${env:SPOTIFY_CLIENT_SECRET}` in the file), `scope`,
/// `api_base` (default https://api.spotify.com/v1), `accounts_base` (default
/// https://accounts.spotify.com), `market` (default market, optional).
struct settings {
  std::string client_id;
  secret client_secret;
  std::string scope;
  std::string api_base = "https://api.spotify.com/v1";
  std::string accounts_base = "https://accounts.spotify.com";
  std::string market{};

  static result<settings> from_config(const integration_config& c) {
    settings s;
    auto read = [&](std::string_view key, std::string& out, bool required) -> result<void> {
      const auto* v = c.settings.if_contains(key);
      if (!v) {
        if (required) return error(errc::config_error, "spotify: settings." + std::string(key) + " is required")
                          .with_json_path("$.settings." + std::string(key));
        return {};
      }
      if (!v->is_string())
        return error(errc::config_error, "spotify: settings." + std::string(key) + " must be a string")
            .with_json_path("$.settings." + std::string(key));
      out = std::string(v->get_string());
      return {};
    };
    std::string secret_text;
    for (auto [key, out, required] : {std::tuple{"client_id", &s.client_id, true},
                                      std::tuple{"client_secret", &secret_text, false},
                                      std::tuple{"scope", &s.scope, false},
                                      std::tuple{"api_base", &s.api_base, false},
                                      std::tuple{"accounts_base", &s.accounts_base, false},
                                      std::tuple{"market", &s.market, false}})
      if (auto r = read(key, *out, required); !r) return r.error();
    s.client_secret = secret(std::move(secret_text));
    while (!s.api_base.empty() && s.api_base.back() == '/') s.api_base.pop_back();
    while (!s.accounts_base.empty() && s.accounts_base.back() == '/') s.accounts_base.pop_back();
    for (const std::string* u : {&s.api_base, &s.accounts_base})
      if (!http::url::parse(*u)) return error(errc::config_error, "spotify: invalid URL " + *u);
    return s;
  }
};

namespace detail {

// Spotify ids are base62; anything else would change the request path.
inline result<void> check_id(std::string_view id, std::string_view what) {
  if (id.empty() || id.size() > 64) return error(errc::invalid_argument, "spotify: " + std::string(what) + " id must be 1 to 64 characters");
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
      return error(errc::invalid_argument, "spotify: " + std::string(what) + " id must be base62 (letters and digits)");
  return {};
}

inline result<void> check_range(int v, int lo, int hi, std::string_view what) {
  if (v < lo || v > hi)
    return error(errc::invalid_argument, "spotify: " + std::string(what) + " must be between " + std::to_string(lo) +
                                             " and " + std::to_string(hi) + ", got " + std::to_string(v));
  return {};
}

inline result<void> check_market(std::string_view m) {
  if (m.empty() || m == "from_token") return {};
  if (m.size() != 2 || m[0] < 'A' || m[0] > 'Z' || m[1] < 'A' || m[1] > 'Z')
    return error(errc::invalid_argument, "spotify: market must be an ISO 3166-1 alpha-2 code such as FR");
  return {};
}

// The Web API's error object ({"error":{"status":..,"message":..}}) as an intg error with the status
// and the server's Retry-After, so the policies can classify it.
inline error api_error(const http::response& res) {
  error e = http::status_error(res);
  std::string msg = "spotify: HTTP " + std::to_string(res.result_int());
  boost::system::error_code ec;
  auto v = boost::json::parse(res.body(), ec);
  if (!ec && v.is_object()) {
    if (const auto* inner = v.as_object().if_contains("error"); inner && inner->is_object()) {
      if (const auto* m = inner->as_object().if_contains("message"); m && m->is_string()) {
        msg += ": ";
        msg += std::string_view(m->get_string()).substr(0, 300);
      }
    }
  }
  return e.with_message(std::move(msg));
}

}  // namespace detail

/// The Spotify integration. Satisfies intg::integration; the registry constructs it from an
/// `integration_config` (and its services: executor, call recorder). One client per tenant gives
/// each tenant its own tokens, limiter and breaker.
template <class Pipeline = default_pipeline>
class client {
  struct state;

 public:
  using pipeline_type = Pipeline;

  client(integration_config cfg, registry_services& services)
      : client(std::move(cfg), services.executor, services.calls) {}

  client(integration_config cfg, asio::any_io_executor ex, std::shared_ptr<span_observer> calls = {})
      : cfg_(std::move(cfg)), ex_(ex), state_(std::make_unique<state>(ex)), pipeline_(make_pipeline(cfg_, std::move(calls))) {}

  /// With a pipeline built by the caller, e.g. on intg::manual_clock in tests:
  /// `client<basic_pipeline<manual_clock, ...>>(cfg, ex, Pipeline(clock, cfg))`.
  client(integration_config cfg, asio::any_io_executor ex, Pipeline pipeline)
      : cfg_(std::move(cfg)), ex_(ex), state_(std::make_unique<state>(ex)), pipeline_(std::move(pipeline)) {}

  client(const client&) = delete;
  client& operator=(const client&) = delete;

  std::string_view name() const noexcept { return cfg_.name; }
  const integration_config& config() const noexcept { return cfg_; }
  Pipeline& pipeline() noexcept { return pipeline_; }
  boost::json::object describe() const { return pipeline_.describe(); }
  http::client& http() noexcept { return state_->http; }

  /// Reads the settings and obtains an app token (client credentials).
  asio::awaitable<result<void>> initialize() {
    auto s = settings::from_config(cfg_);
    if (!s) co_return s.error();
    settings_ = std::move(*s);
    auto token_url = http::url::parse(settings_.accounts_base + "/api/token");
    if (!token_url) co_return error(errc::config_error, "spotify: invalid accounts_base");
    state_->token_url = *token_url;
    state_->oauth_client = auth::oauth2::client{settings_.client_id, settings_.client_secret,
                                                settings_.client_secret.empty() ? auth::oauth2::client_auth::none
                                                                                : auth::oauth2::client_auth::basic};
    state_->app.emplace(ex_, app_source{state_.get()});
    state_->user.emplace(ex_, user_source{state_.get()});
    if (settings_.client_secret.empty()) co_return result<void>{};  // a public (PKCE-only) client has no app token
    auto t = co_await state_->app->get();
    if (!t) co_return error(t.error()).with_message("spotify: could not obtain an app token: " + t.error().to_string());
    co_return result<void>{};
  }

  /// A cheap authenticated call (a one-result search), timed; healthy when it succeeds. It runs
  /// through the probe stack (timeout only, see intg/core/probe.hpp): it spends none of the tenant's
  /// rate limit, an open breaker does not refuse it, and it is not counted as a call.
  asio::awaitable<health_report> health_check() {
    health_report h;
    const auto t0 = std::chrono::steady_clock::now();
    http::query qs;
    qs.add("q", "a");
    qs.add("type", "track");
    qs.add("limit", "1");
    add_market(qs, {});
    auto r = co_await get_json<search_result>("/search", qs, "spotify.health_check", false, true);
    h.latency = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
    if (r) {
      h.status = integration_status::healthy;
      h.message = "search answered";
    } else {
      h.status = is_local_rejection(r.error()) || r.error() == errc::rate_limited ? integration_status::degraded
                                                                                  : integration_status::unhealthy;
      h.message = r.error().to_string();
    }
    h.details = pipeline_.describe();
    co_return h;
  }

  /// Closes pooled connections.
  asio::awaitable<void> cleanup() {
    state_->http.close_idle();
    co_return;
  }

  // ---- operations ------------------------------------------------------------------------

  asio::awaitable<result<track>> get_track(std::string_view id, std::string_view market = {}) {
    if (auto r = detail::check_id(id, "track"); !r) co_return r.error();
    if (auto r = detail::check_market(market); !r) co_return r.error();
    http::query qs;
    add_market(qs, market);
    co_return co_await get_json<track>("/tracks/" + std::string(id), qs, "spotify.get_track", false);
  }

  asio::awaitable<result<paging<track>>> search_tracks(std::string_view q, search_options o = {}) {
    auto r = co_await search(q, "track", o);
    if (!r) co_return r.error();
    if (!r->tracks) co_return error(errc::invalid_response, "spotify: search answer without tracks");
    co_return std::move(*r->tracks);
  }
  asio::awaitable<result<paging<artist>>> search_artists(std::string_view q, search_options o = {}) {
    auto r = co_await search(q, "artist", o);
    if (!r) co_return r.error();
    if (!r->artists) co_return error(errc::invalid_response, "spotify: search answer without artists");
    co_return std::move(*r->artists);
  }
  asio::awaitable<result<paging<simplified_album>>> search_albums(std::string_view q, search_options o = {}) {
    auto r = co_await search(q, "album", o);
    if (!r) co_return r.error();
    if (!r->albums) co_return error(errc::invalid_response, "spotify: search answer without albums");
    co_return std::move(*r->albums);
  }
  /// GET /search for any comma-separated list of types (track, artist, album, playlist).
  asio::awaitable<result<search_result>> search(std::string_view q, std::string_view types, search_options o = {}) {
    if (q.empty()) co_return error(errc::invalid_argument, "spotify: search query must not be empty");
    if (auto r = detail::check_range(o.limit, 1, 10, "search limit"); !r) co_return r.error();
    if (auto r = detail::check_range(o.offset, 0, 1000, "search offset"); !r) co_return r.error();
    if (auto r = detail::check_market(o.market); !r) co_return r.error();
    http::query qs{{"q", q}, {"type", types}};
    qs.add("limit", std::to_string(o.limit)).add("offset", std::to_string(o.offset));
    add_market(qs, o.market);
    co_return co_await get_json<search_result>("/search", qs, "spotify.search", false);
  }
  asio::awaitable<result<paging<simplified_playlist>>> get_user_playlists(std::string_view user_id, page_options o = {}) {
    if (user_id.empty() || user_id.size() > 128) co_return error(errc::invalid_argument, "spotify: user id must be 1 to 128 characters");
    if (auto r = check_page(o); !r) co_return r.error();
    http::query qs;
    qs.add("limit", std::to_string(o.limit)).add("offset", std::to_string(o.offset));
    co_return co_await get_json<paging<simplified_playlist>>("/users/" + http::percent_encode(user_id) + "/playlists", qs,
                                                            "spotify.get_user_playlists", false);
  }
  asio::awaitable<result<paging<simplified_playlist>>> get_current_user_playlists(page_options o = {}) {
    if (auto r = check_page(o); !r) co_return r.error();
    http::query qs;
    qs.add("limit", std::to_string(o.limit)).add("offset", std::to_string(o.offset));
    co_return co_await get_json<paging<simplified_playlist>>("/me/playlists", qs, "spotify.get_current_user_playlists", true);
  }
  asio::awaitable<result<paging<playlist_track>>> get_playlist_items(std::string_view playlist_id, page_options o = {}) {
    if (auto r = detail::check_id(playlist_id, "playlist"); !r) co_return r.error();
    if (auto r = check_page(o); !r) co_return r.error();
    if (auto r = detail::check_market(o.market); !r) co_return r.error();
    http::query qs;
    qs.add("limit", std::to_string(o.limit)).add("offset", std::to_string(o.offset));
    add_market(qs, o.market);
    co_return co_await get_json<paging<playlist_track>>("/playlists/" + std::string(playlist_id) + "/tracks", qs,
                                                       "spotify.get_playlist_items", false);
  }

  /// Up to 50 tracks at once; an unknown id gives an empty optional at its place.
  asio::awaitable<result<std::vector<std::optional<track>>>> get_several_tracks(std::span<const std::string> ids,
                                                                                std::string_view market = {}) {
    if (ids.empty() || ids.size() > 50) co_return error(errc::invalid_argument, "spotify: between 1 and 50 track ids");
    std::string joined;
    for (const auto& id : ids) {
      if (auto r = detail::check_id(id, "track"); !r) co_return r.error();
      if (!joined.empty()) joined += ',';
      joined += id;
    }
    if (auto r = detail::check_market(market); !r) co_return r.error();
    http::query qs{{"ids", joined}};
    add_market(qs, market);
    auto r = co_await get_json<several_tracks>("/tracks", qs, "spotify.get_several_tracks", false);
    if (!r) co_return r.error();
    co_return std::move(r->tracks);
  }

  asio::awaitable<result<artist>> get_artist(std::string_view id) {
    if (auto r = detail::check_id(id, "artist"); !r) co_return r.error();
    const http::query none;
    co_return co_await get_json<artist>("/artists/" + std::string(id), none, "spotify.get_artist", false);
  }

  asio::awaitable<result<album>> get_album(std::string_view id, std::string_view market = {}) {
    if (auto r = detail::check_id(id, "album"); !r) co_return r.error();
    if (auto r = detail::check_market(market); !r) co_return r.error();
    http::query qs;
    add_market(qs, market);
    co_return co_await get_json<album>("/albums/" + std::string(id), qs, "spotify.get_album", false);
  }

  /// A user's public playlists (app token).

  /// The signed-in user's playlists (needs a user token with playlist-read-private).

  /// A playlist's items (tracks); the app token reads public playlists.

  /// Walks the `next` links from `first`, collecting items until there are no more pages or
  /// `max_items` are collected. Each page goes through the pipeline like any call.
  template <class T>
  asio::awaitable<result<std::vector<T>>> collect_all(paging<T> first, std::size_t max_items = 1000, bool user = false) {
    std::vector<T> out = std::move(first.items);
    std::optional<std::string> next = std::move(first.next);
    const std::string base_origin = state_->api_origin;
    while (next && out.size() < max_items) {
      auto u = http::url::parse(*next);
      // Follow links to the API only: a `next` pointing elsewhere would carry our token away.
      if (!u || u->origin() != base_origin)
        co_return error(errc::invalid_response, "spotify: a paging link leaves the API: " + *next);
      auto page = co_await fetch<paging<T>>(std::move(*u), "spotify.next_page", user);
      if (!page) co_return page.error();
      if (page->items.empty()) break;
      for (auto& item : page->items) out.push_back(std::move(item));
      next = std::move(page->next);
    }
    if (out.size() > max_items) out.resize(max_items);
    co_return out;
  }

  // ---- user authorization (authorization code + PKCE) ---------------------------------------

  /// The URL to send the user to; keep `verifier` (from auth::pkce_verifier()) for
  /// complete_authorization().
  std::string authorization_url(std::string_view redirect_uri, std::string_view state, std::string_view verifier) const {
    return auth::oauth2::authorization_url(settings_.accounts_base + "/authorize", settings_.client_id, redirect_uri,
                                           settings_.scope, state, auth::pkce_challenge(verifier));
  }

  /// Exchanges the authorization code for the user's tokens; later calls that need a user token
  /// use them and refresh them as they expire.
  asio::awaitable<result<void>> complete_authorization(std::string_view code, std::string_view redirect_uri,
                                                       const secret& verifier) {
    if (!state_->user) co_return error(errc::not_initialized, "spotify: initialize() first");
    auto req = auth::oauth2::authorization_code_request(state_->oauth_client, code, redirect_uri, verifier);
    auto t = co_await auth::oauth2::request_token(state_->http, state_->token_url, req);
    if (!t) co_return t.error();
    state_->pending_user_token = std::move(*t);
    state_->user->invalidate();
    state_->user->reset();
    auto got = co_await state_->user->get();
    if (!got) co_return got.error();
    co_return result<void>{};
  }

  /// Uses a refresh token obtained earlier (e.g. stored from a previous session).
  void set_user_refresh_token(secret refresh_token) {
    state_->user_refresh = std::move(refresh_token);
    if (state_->user) {
      state_->user->invalidate();
      state_->user->reset();
    }
  }

  /// How many token requests were made (app, user): for tests and dashboards.
  std::pair<std::uint64_t, std::uint64_t> token_requests() const noexcept { return {state_->app_fetches, state_->user_fetches}; }

 private:
  struct app_source {
    state* s;
    asio::awaitable<result<auth::oauth2::token>> operator()() const {
      ++s->app_fetches;
      co_return co_await auth::oauth2::request_token(s->http, s->token_url,
                                                     auth::oauth2::client_credentials_request(s->oauth_client));
    }
  };

  struct user_source {
    state* s;
    asio::awaitable<result<auth::oauth2::token>> operator()(const auth::oauth2::token* previous) const {
      if (s->pending_user_token) {  // fresh from the authorization-code exchange
        auto t = std::move(*s->pending_user_token);
        s->pending_user_token.reset();
        if (!t.refresh_token.empty()) s->user_refresh = t.refresh_token;
        co_return t;
      }
      const secret& rt = previous && !previous->refresh_token.empty() ? previous->refresh_token : s->user_refresh;
      if (rt.empty()) co_return error(errc::unauthorized, "spotify: no user is signed in (authorization code + PKCE first)");
      ++s->user_fetches;
      auto t = co_await auth::oauth2::request_token(s->http, s->token_url,
                                                    auth::oauth2::refresh_token_request(s->oauth_client, rt));
      if (t && t->refresh_token.empty()) t->refresh_token = rt;  // the server kept the old one
      // Kept here too: a 401 makes the manager drop its cached token, refresh token included.
      if (t) s->user_refresh = t->refresh_token;
      co_return t;
    }
  };

  // Everything the token sources point to lives here, at a stable address.
  struct state {
    explicit state(const asio::any_io_executor& ex) : http(ex) {}
    http::client http;
    http::url token_url;
    std::string api_origin;
    auth::oauth2::client oauth_client;
    std::optional<auth::oauth2::token> pending_user_token;
    secret user_refresh;
    std::uint64_t app_fetches = 0, user_fetches = 0;
    std::optional<auth::oauth2::token_manager<app_source>> app;
    std::optional<auth::oauth2::token_manager<user_source>> user;
  };

  static Pipeline make_pipeline(const integration_config& c, std::shared_ptr<span_observer> calls) {
    if constexpr (std::is_same_v<Pipeline, default_pipeline>) {
      intg::circuit_breaker<>::options cb = intg::circuit_breaker<>::options_from_config(c);
      if (auto rec = std::dynamic_pointer_cast<observability::call_recorder>(calls)) cb.on_state_change = rec->breaker_listener();
      intg::tracing<>::options t;
      t.observer = std::move(calls);
      return Pipeline(t, intg::retry<>::options_from_config(c), cb,
                      intg::rate_limiter<>::options_from_config(c), intg::timeout<>::options_from_config(c));
    } else if constexpr (std::is_constructible_v<Pipeline, const integration_config&>) {
      return Pipeline(c);
    } else {
      return Pipeline();
    }
  }

  result<void> check_page(const page_options& o) const {
    if (auto r = detail::check_range(o.limit, 1, 50, "limit"); !r) return r;
    return detail::check_range(o.offset, 0, 100000, "offset");
  }

  void add_market(http::query& qs, std::string_view market) const {
    if (!market.empty()) qs.add("market", market);
    else if (!settings_.market.empty()) qs.add("market", settings_.market);
  }

  template <class T>
  asio::awaitable<result<T>> get_json(std::string path, const http::query& qs, std::string_view operation, bool user,
                                      bool probe = false) {
    auto u = http::url::parse(settings_.api_base + path);
    if (!u) co_return error(errc::invalid_argument, "spotify: invalid request path");
    if (state_->api_origin.empty()) state_->api_origin = u->origin();
    u->add_query(qs);
    co_return co_await fetch<T>(std::move(*u), operation, user, probe);
  }

  // Through the pipeline, or through the probe stack when `probe` (health checks).
  template <class T>
  asio::awaitable<result<T>> fetch(http::url u, std::string_view operation, bool user, bool probe = false) {
    if (!state_->app) co_return error(errc::not_initialized, "spotify: initialize() first");
    http::request req(http::verb::get, std::move(u));
    req.set(http::field::accept, "application/json");
    call_options opts{.partition_key = cfg_.tenant, .operation = operation};
    auto op = [this, &req, user](attempt& a) -> asio::awaitable<result<T>> {
      result<http::response> res = error{errc::unavailable};
      if (user) res = co_await auth::oauth2::send_authorized(state_->http, *state_->user, req, &a);
      else res = co_await auth::oauth2::send_authorized(state_->http, *state_->app, req, &a);
      if (!res) co_return res.error();
      if (res->result_int() >= 400) co_return detail::api_error(*res);
      co_return parse<T>(res->body());
    };
    if (probe) {
      auto r = co_await probe_.execute(op, opts);
      co_return r;
    }
    auto r = co_await pipeline_.execute(op, opts);
    co_return r;
  }

  integration_config cfg_;
  asio::any_io_executor ex_;
  settings settings_;
  std::unique_ptr<state> state_;
  Pipeline pipeline_;
  basic_probe_pipeline<typename Pipeline::clock_type> probe_ = make_probe_pipeline(pipeline_, cfg_);
};

}  // namespace intg::spotify
