// Apple Music on the provider kit: a developer token the client signs itself (ES256 with the
// MusicKit key; header {alg, kid = the 10-character key id}, claims {iss = the team id, iat, exp},
// raw R||S signature) and renews before it expires; the user's Music-User-Token for library calls;
// `next` paths for paging; errors as {"errors": [{id, title, detail, status, code}]}. Catalog calls
// name the storefront ("us", "fr") as their first path argument.
#pragma once

#include <intg/providers/apple_music/model.hpp>
#include <intg/rest.hpp>

namespace intg::apple_music {

INTG_REST_MODELS();

namespace detail {
inline result<void> invalid(std::string what) { return error(errc::invalid_argument, "apple_music: " + std::move(what)); }
// Storefronts ("us"), catalog ids ("1440857781") and library ids ("i.PkdZbQXsPJ4DX"): letters,
// digits, '.', '-' and '_' only, so an argument can never change the request's path.
inline result<void> check_path_argument(std::string_view s) {
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'; };
  if (s.size() > 64 || !std::all_of(s.begin(), s.end(), ok)) return invalid("storefronts and ids are letters, digits, '.', '-' and '_'");
  return {};
}
inline result<void> check_limit(std::optional<std::int64_t> v, std::int64_t max) {
  if (v && (*v < 1 || *v > max)) return invalid("limit must be between 1 and " + std::to_string(max));
  return {};
}
}  // namespace detail

/// GET /catalog/{storefront}/search: `types` a comma-separated list of songs, albums, playlists;
/// `limit` 1..25 per type (Apple's maximum), `offset` a multiple Apple accepts.
struct search_params {
  std::string term{}, types = "songs";
  std::optional<std::int64_t> limit{}, offset{};
  opt_string l{};  ///< the localization ("en-US")
  result<void> validate() const {
    if (term.empty()) return detail::invalid("search term must not be empty");
    for (std::size_t b = 0, e; b <= types.size(); b = e + 1) {
      e = std::min(types.find(',', b), types.size());
      const std::string_view t = std::string_view(types).substr(b, e - b);
      if (t != "songs" && t != "albums" && t != "playlists") return detail::invalid("search types are songs, albums and playlists");
    }
    if (offset && *offset < 0) return detail::invalid("offset must not be negative");
    return detail::check_limit(limit, 25);
  }
};
BOOST_DESCRIBE_STRUCT(search_params, (), (term, types, limit, offset, l))

/// GET /catalog/{storefront}/songs?ids=a,b: up to 300 ids.
struct ids_params {
  std::string ids{};
  result<void> validate() const {
    std::size_t n = 0;
    for (std::size_t b = 0, e; b <= ids.size(); b = e + 1, ++n) {
      e = std::min(ids.find(',', b), ids.size());
      const auto id = std::string_view(ids).substr(b, e - b);
      if (id.empty()) return detail::invalid("ids must not be empty");
      if (auto r = detail::check_path_argument(id); !r) return r;
    }
    if (n > 300) return detail::invalid("at most 300 ids");
    return {};
  }
};
BOOST_DESCRIBE_STRUCT(ids_params, (), (ids))

/// The user's library listings: `limit` 1..100.
struct library_params {
  std::optional<std::int64_t> limit{}, offset{};
  result<void> validate() const { return detail::check_limit(limit, 100); }
};
BOOST_DESCRIBE_STRUCT(library_params, (), (limit, offset))

struct provider {
  static constexpr std::string_view name = "apple_music";
  static constexpr std::string_view category = "music";
  static constexpr std::string_view default_base_url = "https://api.music.apple.com/v1";
  static constexpr std::string_view allowed_hosts[] = {"api.music.apple.com"};
  static constexpr std::string_view user_agent = "intg-apple-music/0.2";
  /// Settings private_key (the MusicKit .p8 key, PEM), key_id, team_id. Apple accepts tokens up
  /// to 15,777,000 s (six months); twelve hours, renewed an hour before they end.
  static constexpr int token_lifetime = 12 * 3600;
  static_assert(token_lifetime <= 15'777'000, "Apple refuses developer tokens that live longer than 15,777,000 s");
  using auth = rest::self_signed_es256<"private_key", "key_id", "team_id", token_lifetime, 3600>;
  /// The signed-in user's token, for /me calls (settings.music_user_token).
  static constexpr rest::setting_header settings_headers[] = {{"Music-User-Token", "music_user_token"}};
  using pagination = rest::next_url_body<"/next", "/data">;
  static constexpr rest::error_body errors{.code = "/errors/0/code", .message = "/errors/0/detail", .details = {"/errors/0/title"}};
  static constexpr rest::rate_limit_headers rate_limits{.windows = {}};  // Apple announces none
  static constexpr rest::call health{http::verb::get, "/catalog/us/genres?limit=1"};
};

using client = rest::client<provider>;
using http::verb;
using rest::operation;
constexpr auto path_check = detail::check_path_argument;

inline constexpr operation<search_response, search_params, 1> search{
    .method = verb::get, .path = "/catalog/{}/search", .name = "catalog.search", .check = path_check};
/// Every song matching a search, page after page (the `songs` results' `next` paths).
inline constexpr rest::list_operation<song, search_params, 1, rest::next_url_body<"/results/songs/next", "/results/songs/data">>
    search_songs{.method = verb::get, .path = "/catalog/{}/search", .name = "catalog.search", .check = path_check};
inline constexpr operation<data_of<song>, rest::none, 2> get_song{
    .method = verb::get, .path = "/catalog/{}/songs/{}", .name = "catalog.songs.get", .check = path_check};
inline constexpr operation<data_of<song>, ids_params, 1> get_songs{
    .method = verb::get, .path = "/catalog/{}/songs", .name = "catalog.songs.list", .check = path_check};
inline constexpr operation<data_of<album>, rest::none, 2> get_album{
    .method = verb::get, .path = "/catalog/{}/albums/{}", .name = "catalog.albums.get", .check = path_check};
inline constexpr operation<data_of<playlist>, rest::none, 2> get_playlist{
    .method = verb::get, .path = "/catalog/{}/playlists/{}", .name = "catalog.playlists.get", .check = path_check};
inline constexpr rest::list_operation<library_song, library_params> library_songs{
    verb::get, "/me/library/songs", "library.songs.list"};

}  // namespace intg::apple_music
