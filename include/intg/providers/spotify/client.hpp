// Spotify's Web API on the provider kit: an app token (client credentials) for public data and the
// user's token (authorization code + PKCE, refresh) for /me, `next` links for paging, the error
// object {"error":{"status","message"}}, parameters checked against the API's documented ranges
// before anything is sent, and one line per operation:
//   intg::spotify::search_params p{.q = "miles", .type = "track", .limit = 10};
//   auto r = co_await sp.call(intg::spotify::search, p);               // result<search_result>
//   auto t = co_await sp.call(intg::spotify::get_track, id, market);   // market_params market{};
#pragma once

#include <intg/providers/spotify/model.hpp>
#include <intg/rest.hpp>

namespace intg::spotify {

namespace detail {
inline result<void> invalid(std::string what) { return error(errc::invalid_argument, "spotify: " + std::move(what)); }
inline result<void> check_range(int v, int lo, int hi, std::string_view what) {
  if (v >= lo && v <= hi) return {};
  return invalid(std::string(what) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + std::to_string(v));
}
inline result<void> check_market(std::string_view m) {  // ISO 3166-1 alpha-2, or from_token
  if (m.empty() || m == "from_token" || (m.size() == 2 && std::isupper(static_cast<unsigned char>(m[0])) && std::isupper(static_cast<unsigned char>(m[1]))))
    return {};
  return invalid("market must be an ISO 3166-1 alpha-2 code such as FR");
}
inline result<void> check_id(std::string_view id) {  // base62
  if (id.empty() || id.size() > 64 || !std::all_of(id.begin(), id.end(), [](unsigned char c) { return std::isalnum(c); }))
    return invalid("ids must be 1 to 64 letters and digits (base62)");
  return {};
}
}  // namespace detail

/// GET /search. `type`: a comma-separated list of track, artist, album, playlist. `limit` 1..10
/// (Spotify's maximum for search since February 2026), `offset` 0..1000.
struct search_params {
  std::string q{}, type{};
  int limit = 5, offset = 0;
  opt_string market{};
  result<void> validate() const {
    if (q.empty()) return detail::invalid("search query must not be empty");
    if (auto r = detail::check_range(limit, 1, 10, "search limit"); !r) return r;
    if (auto r = detail::check_range(offset, 0, 1000, "search offset"); !r) return r;
    return detail::check_market(market.value_or(""));
  }
};
BOOST_DESCRIBE_STRUCT(search_params, (), (q, type, limit, offset, market))

struct market_params {
  opt_string market{};
  result<void> validate() const { return detail::check_market(market.value_or("")); }
};
BOOST_DESCRIBE_STRUCT(market_params, (), (market))

/// The other listings: `limit` 1..50, `offset` 0..100000.
struct page_options {
  int limit = 20, offset = 0;
  opt_string market{};
  result<void> validate() const {
    if (auto r = detail::check_range(limit, 1, 50, "limit"); !r) return r;
    if (auto r = detail::check_range(offset, 0, 100000, "offset"); !r) return r;
    return detail::check_market(market.value_or(""));
  }
};
BOOST_DESCRIBE_STRUCT(page_options, (), (limit, offset, market))

/// GET /tracks?ids=a,b,c: 1 to 50 ids; an unknown id gives an empty optional at its place.
struct several_params {
  std::string ids{};
  opt_string market{};
  result<void> validate() const {
    std::size_t n = 0;
    for (std::size_t b = 0, e; b <= ids.size(); b = e + 1, ++n) {
      e = std::min(ids.find(',', b), ids.size());
      if (auto r = detail::check_id(std::string_view(ids).substr(b, e - b)); !r) return r;
    }
    if (n > 50) return detail::invalid("between 1 and 50 track ids");
    return detail::check_market(market.value_or(""));
  }
};
BOOST_DESCRIBE_STRUCT(several_params, (), (ids, market))

struct provider {
  static constexpr std::string_view name = "spotify";
  static constexpr std::string_view default_base_url = "https://api.spotify.com/v1";
  static constexpr std::string_view allowed_hosts[] = {"api.spotify.com", "accounts.spotify.com"};
  static constexpr std::string_view token_url = "https://accounts.spotify.com/api/token";
  static constexpr std::string_view user_agent = "intg-spotify/0.2";
  /// credential 0: the app (client credentials); 1: the signed-in user (authorization code + PKCE).
  using auth = rest::auth_set<rest::oauth2_client_credentials, rest::oauth2_authorization_code>;
  using pagination = rest::next_url_body<"/next", "/items">;
  static constexpr rest::error_body errors{.message = "/error/message"};
  static constexpr rest::call health{http::verb::get, "/search?q=a&type=track&limit=1"};
};

using http::verb;
inline constexpr rest::operation<search_result, search_params> search{verb::get, "/search", "spotify.search"};
inline constexpr rest::operation<track, market_params, 1> get_track{verb::get, "/tracks/{}", "spotify.get_track"};
inline constexpr rest::operation<several_tracks, several_params> get_several_tracks{verb::get, "/tracks", "spotify.get_several_tracks"};
inline constexpr rest::operation<artist, rest::none, 1> get_artist{verb::get, "/artists/{}", "spotify.get_artist"};
inline constexpr rest::operation<album, market_params, 1> get_album{verb::get, "/albums/{}", "spotify.get_album"};
inline constexpr rest::list_operation<simplified_playlist, page_options, 1> get_user_playlists{
    verb::get, "/users/{}/playlists", "spotify.get_user_playlists"};
inline constexpr rest::list_operation<simplified_playlist, page_options> get_current_user_playlists{
    .method = verb::get, .path = "/me/playlists", .name = "spotify.get_current_user_playlists", .credential = 1};
inline constexpr rest::list_operation<playlist_track, page_options, 1> get_playlist_items{
    verb::get, "/playlists/{}/tracks", "spotify.get_playlist_items"};

/// The search shorthands' options (views: they must outlive the call).
struct search_options {
  int limit = 5, offset = 0;
  std::string_view market{};
};

/// Settings: client_id, client_secret (absent: a public PKCE client), scope, base_url (default
/// https://api.spotify.com/v1; `api_base` is read too), token_url (default
/// https://accounts.spotify.com/api/token; `accounts_base` + /api/token is read too), refresh_token.
template <class Pipeline = rest::default_pipeline>
class client : public rest::client<provider, Pipeline> {
  using base = rest::client<provider, Pipeline>;

 public:
  template <class... A>
  explicit client(integration_config cfg, A&&... a) : base(aliases(std::move(cfg)), std::forward<A>(a)...) {}

  /// The URL to send the user to (S256 challenge of `verifier`, from auth::pkce_verifier()).
  std::string authorization_url(std::string_view redirect_uri, std::string_view state, std::string_view verifier) {
    return this->auth().template get<1>().authorization_url(accounts_base() + "/authorize", redirect_uri, state, verifier);
  }
  asio::awaitable<result<void>> complete_authorization(std::string_view code, std::string_view redirect_uri, const secret& verifier) {
    co_return co_await this->auth().template get<1>().complete_authorization(code, redirect_uri, verifier);
  }
  /// Token requests made so far: (app, user).
  std::pair<std::uint64_t, std::uint64_t> token_requests() { return {this->auth().template get<0>().fetches(), this->auth().template get<1>().fetches()}; }

  /// Shorthands for GET /search with one type: its paging object.
  asio::awaitable<result<paging<track>>> search_tracks(std::string_view q, search_options o = {}) { return search_one<&search_result::tracks>(q, "track", o); }
  asio::awaitable<result<paging<artist>>> search_artists(std::string_view q, search_options o = {}) { return search_one<&search_result::artists>(q, "artist", o); }
  asio::awaitable<result<paging<simplified_album>>> search_albums(std::string_view q, search_options o = {}) { return search_one<&search_result::albums>(q, "album", o); }

 private:
  template <auto Member, class Page = typename std::remove_cvref_t<decltype(std::declval<search_result&>().*Member)>::value_type>
  asio::awaitable<result<Page>> search_one(std::string_view q, std::string_view type, search_options o) {
    search_params p{.q = std::string(q), .type = std::string(type), .limit = o.limit, .offset = o.offset};
    if (!o.market.empty()) p.market = std::string(o.market);
    auto r = co_await this->call(search, p);
    if (!r) co_return r.error();
    if (!((*r).*Member)) co_return error(errc::invalid_response, "spotify: search answer without " + p.type + "s");
    co_return std::move(*((*r).*Member));
  }
  static integration_config aliases(integration_config cfg) {
    auto& s = cfg.settings;
    const auto* a = s.if_contains("accounts_base");
    if (a && a->is_string() && !s.contains("token_url")) s["token_url"] = std::string(a->get_string()) + "/api/token";
    if (const auto* b = s.if_contains("api_base"); b && !s.contains("base_url")) s["base_url"] = *b;
    return cfg;
  }
  std::string accounts_base() const {
    const auto* a = this->config().settings.if_contains("accounts_base");
    return a && a->is_string() ? std::string(a->get_string()) : "https://accounts.spotify.com";
  }
};

}  // namespace intg::spotify
