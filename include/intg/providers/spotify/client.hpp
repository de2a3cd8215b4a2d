// Spotify's Web API on the provider kit: an app token (client credentials) for public data and the
// user's token (authorization code + PKCE, refresh) for /me, `next` links for paging, the error
// object {"error":{"status","message"}}, parameters checked against the API's documented ranges
// before anything is sent, and one line per operation, called through the kit or through the
// member functions that take views:
//   intg::spotify::search_params p{.q = "miles", .type = "track", .limit = 10};
//   auto r = co_await sp.call(intg::spotify::search, p);               // result<search_result>
//   auto t = co_await sp.get_track(id);                                 // result<track>
#pragma once

#include <intg/providers/spotify/model.hpp>
#include <intg/rest.hpp>

#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace intg::spotify {

namespace detail {
inline result<void> invalid(std::string what) { return error(errc::invalid_argument, "spotify: " + std::move(what)); }
inline result<void> check_range(int v, int lo, int hi, std::string_view what) {
  if (v >= lo && v <= hi) return {};
  return invalid(std::string(what) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + std::to_string(v));
}
constexpr bool upper(char c) { return c >= 'A' && c <= 'Z'; }
inline result<void> check_market(std::string_view m) {  // ISO 3166-1 alpha-2, or from_token
  if (m.empty() || m == "from_token" || (m.size() == 2 && upper(m[0]) && upper(m[1]))) return {};
  return invalid("market must be an ISO 3166-1 alpha-2 code such as FR");
}
inline result<void> check_id(std::string_view id) {  // base62
  auto base62 = [](char c) { return upper(c) || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (id.empty() || id.size() > 64 || !std::all_of(id.begin(), id.end(), base62))
    return invalid("ids must be 1 to 64 letters and digits (base62)");
  return {};
}
inline result<void> check_user_id(std::string_view id) {  // any characters, percent-encoded
  if (id.size() > 128) return invalid("user ids must be 1 to 128 characters");
  return {};
}
inline opt_string view_to_opt(std::string_view v) { return v.empty() ? opt_string{} : opt_string(std::string(v)); }
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

/// The playlist listings: `limit` 1..50, `offset` 0..100000.
struct page_params {
  int limit = 20, offset = 0;
  result<void> validate() const {
    if (auto r = detail::check_range(limit, 1, 50, "limit"); !r) return r;
    return detail::check_range(offset, 0, 100000, "offset");
  }
};
BOOST_DESCRIBE_STRUCT(page_params, (), (limit, offset))

/// A playlist's items: as page_params, with a market.
struct playlist_items_params : page_params {
  opt_string market{};
  result<void> validate() const {
    if (auto r = page_params::validate(); !r) return r;
    return detail::check_market(market.value_or(""));
  }
};
BOOST_DESCRIBE_STRUCT(playlist_items_params, (page_params), (market))

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
  static constexpr std::string_view category = "music";
  static constexpr std::string_view default_base_url = "https://api.spotify.com/v1";
  static constexpr std::string_view allowed_hosts[] = {"api.spotify.com", "accounts.spotify.com"};
  static constexpr std::string_view token_url = "https://accounts.spotify.com/api/token";
  static constexpr std::string_view user_agent = "intg-spotify/0.2";
  /// credential 0: the app (client credentials; only with a client_secret: a public PKCE client
  /// has none); 1: the signed-in user (authorization code + PKCE, refresh).
  using auth = rest::auth_set<rest::if_set<"client_secret", rest::oauth2_client_credentials>, rest::oauth2_authorization_code>;
  using pagination = rest::next_url_body<"/next", "/items">;
  static constexpr rest::error_body errors{.message = "/error/message"};
  /// settings.market: the default market of calls that take one.
  static constexpr rest::setting_param settings_params[] = {{"market", "market"}};
  static constexpr rest::call health{http::verb::get, "/search?q=a&type=track&limit=1"};
};

using http::verb;
using rest::operation;
inline constexpr operation<search_result, search_params> search{verb::get, "/search", "spotify.search"};
inline constexpr operation<track, market_params, 1> get_track{.method = verb::get, .path = "/tracks/{}", .name = "spotify.get_track", .check = detail::check_id};
inline constexpr operation<several_tracks, several_params> get_several_tracks{verb::get, "/tracks", "spotify.get_several_tracks"};
inline constexpr operation<artist, rest::none, 1> get_artist{.method = verb::get, .path = "/artists/{}", .name = "spotify.get_artist", .check = detail::check_id};
inline constexpr operation<album, market_params, 1> get_album{.method = verb::get, .path = "/albums/{}", .name = "spotify.get_album", .check = detail::check_id};
inline constexpr operation<paging<simplified_playlist>, page_params, 1> get_user_playlists{
    .method = verb::get, .path = "/users/{}/playlists", .name = "spotify.get_user_playlists", .check = detail::check_user_id};
inline constexpr operation<paging<simplified_playlist>, page_params> get_current_user_playlists{
    .method = verb::get, .path = "/me/playlists", .name = "spotify.get_current_user_playlists", .credential = 1};
inline constexpr operation<paging<playlist_track>, playlist_items_params, 1> get_playlist_items{
    .method = verb::get, .path = "/playlists/{}/tracks", .name = "spotify.get_playlist_items", .check = detail::check_id};

/// The member functions' options. Views (they must outlive the call): g++ 12 copies coroutine
/// parameters of aggregate type bitwise, which breaks a std::string member.
struct search_options {
  int limit = 5, offset = 0;
  std::string_view market{};
};
struct page_options {
  int limit = 20, offset = 0;
  std::string_view market{};  ///< playlist items only
};

using default_pipeline = rest::default_pipeline;

/// Settings: client_id, client_secret (absent: a public PKCE client, which has no app token),
/// scope, market (the default market), base_url (default https://api.spotify.com/v1; `api_base` is
/// read too), token_url (default https://accounts.spotify.com/api/token; `accounts_base` +
/// /api/token is read too), refresh_token. Operations run as `call(spotify::get_track, id,
/// params)` or through the member functions below, which take views.
template <class Pipeline = rest::default_pipeline>
class client : public rest::client<provider, Pipeline> {
  using base = rest::client<provider, Pipeline>;

 public:
  template <class... A>
  explicit client(integration_config cfg, A&&... a) : base(aliases(std::move(cfg)), std::forward<A>(a)...) {}
  using base::collect_all;

  // ---- one page or one object per call -------------------------------------------------------
  asio::awaitable<result<track>> get_track(std::string_view id, std::string_view market = {}) {
    market_params p{detail::view_to_opt(market)};
    co_return co_await this->call(spotify::get_track, id, p);
  }
  asio::awaitable<result<artist>> get_artist(std::string_view id) { co_return co_await this->call(spotify::get_artist, id); }
  asio::awaitable<result<album>> get_album(std::string_view id, std::string_view market = {}) {
    market_params p{detail::view_to_opt(market)};
    co_return co_await this->call(spotify::get_album, id, p);
  }
  /// Up to 50 tracks at once; an unknown id gives an empty optional at its place.
  asio::awaitable<result<std::vector<std::optional<track>>>> get_several_tracks(std::span<const std::string> ids, std::string_view market = {}) {
    if (ids.empty() || ids.size() > 50) co_return error(errc::invalid_argument, "spotify: between 1 and 50 track ids");
    several_params p{.ids = {}, .market = detail::view_to_opt(market)};
    for (const auto& id : ids) p.ids += (p.ids.empty() ? "" : ",") + id;
    auto r = co_await this->call(spotify::get_several_tracks, p);
    if (!r) co_return r.error();
    co_return std::move(r->tracks);
  }
  /// GET /search for any comma-separated list of types (track, artist, album, playlist).
  asio::awaitable<result<search_result>> search(std::string_view q, std::string_view types, search_options o = {}) {
    search_params p{.q = std::string(q), .type = std::string(types), .limit = o.limit, .offset = o.offset, .market = detail::view_to_opt(o.market)};
    co_return co_await this->call(spotify::search, p);
  }
  asio::awaitable<result<paging<track>>> search_tracks(std::string_view q, search_options o = {}) { return search_one<&search_result::tracks>(q, "track", o); }
  asio::awaitable<result<paging<artist>>> search_artists(std::string_view q, search_options o = {}) { return search_one<&search_result::artists>(q, "artist", o); }
  asio::awaitable<result<paging<simplified_album>>> search_albums(std::string_view q, search_options o = {}) { return search_one<&search_result::albums>(q, "album", o); }
  /// A user's public playlists (app token).
  asio::awaitable<result<paging<simplified_playlist>>> get_user_playlists(std::string_view user_id, page_options o = {}) {
    page_params p{o.limit, o.offset};
    co_return co_await this->call(spotify::get_user_playlists, user_id, p);
  }
  /// The signed-in user's playlists (a user token with playlist-read-private).
  asio::awaitable<result<paging<simplified_playlist>>> get_current_user_playlists(page_options o = {}) {
    page_params p{o.limit, o.offset};
    co_return co_await this->call(spotify::get_current_user_playlists, p);
  }
  /// A playlist's items; the app token reads public playlists.
  asio::awaitable<result<paging<playlist_track>>> get_playlist_items(std::string_view playlist_id, page_options o = {}) {
    playlist_items_params p;
    p.limit = o.limit;
    p.offset = o.offset;
    p.market = detail::view_to_opt(o.market);
    co_return co_await this->call(spotify::get_playlist_items, playlist_id, p);
  }

  /// Walks the `next` links from `first` (with the user's token when `user`), collecting items
  /// until there are no more pages or `max_items` are collected. Each page goes through the
  /// pipeline; a link that leaves the API's origin is refused before anything is sent.
  template <class T>
  asio::awaitable<result<std::vector<T>>> collect_all(paging<T> first, std::size_t max_items = 1000, bool user = false) {
    static constexpr rest::list_operation<T> app_pages{.method = verb::get, .path = "/", .name = "spotify.next_page"};
    static constexpr rest::list_operation<T> user_pages{.method = verb::get, .path = "/", .name = "spotify.next_page", .credential = 1};
    std::vector<T> out = std::move(first.items);
    if (first.next && out.size() < max_items) {
      rest::page_cap cap{max_items};
      auto pages = this->pages(user ? user_pages : app_pages, cap);
      if (auto s = pages.start_at(*first.next); !s) co_return s.error();
      while (out.size() < max_items) {
        auto page = co_await pages.next();
        if (!page) co_return page.error();
        if (!*page || (*page)->empty()) break;
        for (auto& item : **page) out.push_back(std::move(item));
      }
    }
    if (out.size() > max_items) out.resize(max_items);
    co_return out;
  }

  // ---- the user's authorization (authorization code + PKCE) ------------------------------------
  /// The URL to send the user to (S256 challenge of `verifier`, from auth::pkce_verifier()).
  std::string authorization_url(std::string_view redirect_uri, std::string_view state, std::string_view verifier) {
    return this->auth().template get<1>().authorization_url(accounts_base() + "/authorize", redirect_uri, state, verifier);
  }
  asio::awaitable<result<void>> complete_authorization(std::string_view code, std::string_view redirect_uri, const secret& verifier) {
    co_return co_await this->auth().template get<1>().complete_authorization(code, redirect_uri, verifier);
  }
  /// Resumes a session saved earlier (kept in the client_options' token store, if any).
  result<void> set_user_refresh_token(secret refresh_token) {
    return this->auth().template get<1>().set_refresh_token(std::move(refresh_token));
  }
  /// Token requests made so far: (app, user).
  std::pair<std::uint64_t, std::uint64_t> token_requests() {
    return {this->auth().template get<0>().scheme().fetches(), this->auth().template get<1>().fetches()};
  }

 private:
  template <auto Member, class Page = typename std::remove_cvref_t<decltype(std::declval<search_result&>().*Member)>::value_type>
  asio::awaitable<result<Page>> search_one(std::string_view q, std::string_view type, search_options o) {
    auto r = co_await search(q, type, o);
    if (!r) co_return r.error();
    if (!((*r).*Member)) co_return error(errc::invalid_response, "spotify: search answer without " + std::string(type) + "s");
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
