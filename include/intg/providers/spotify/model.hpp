// The Spotify Web API's objects (tracks, albums, artists, playlists, users, paging objects, search
// results, error objects, token responses), declared once with Boost.Describe; intg::rest decodes
// and encodes them (unknown fields ignored, the JSON path of the first problem in the error).
//
// Field names follow Spotify's OpenAPI description. Required (a plain member): the description's
// `required` lists (paging objects, albums, images, error objects) plus the identity fields the API
// always sends (id, name, href, uri, type, and a track's artists, album and duration). Nullable
// fields, and fields Spotify marks deprecated or has started to drop for some apps (popularity,
// markets, external ids, genres, followers...), are std::optional: read when present.
#pragma once

#include <intg/core/result.hpp>
#include <intg/rest/json.hpp>

#include <boost/describe.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace intg::spotify {

namespace json = boost::json;
using opt_string = std::optional<std::string>;

struct external_urls_object { opt_string spotify{}; };
BOOST_DESCRIBE_STRUCT(external_urls_object, (), (spotify))

struct external_ids_object { opt_string isrc{}, ean{}, upc{}; };
BOOST_DESCRIBE_STRUCT(external_ids_object, (), (isrc, ean, upc))

struct image { std::string url{}; std::optional<int> height{}, width{}; };  // height, width: required, nullable
BOOST_DESCRIBE_STRUCT(image, (), (url, height, width))

struct followers_object { opt_string href{}; std::optional<int> total{}; };
BOOST_DESCRIBE_STRUCT(followers_object, (), (href, total))

struct restrictions_object { opt_string reason{}; };
BOOST_DESCRIBE_STRUCT(restrictions_object, (), (reason))

struct copyright { opt_string text{}, type{}; };
BOOST_DESCRIBE_STRUCT(copyright, (), (text, type))

struct simplified_artist { std::optional<external_urls_object> external_urls{}; std::string href{}, id{}, name{}, type = "artist", uri{}; };
BOOST_DESCRIBE_STRUCT(simplified_artist, (), (external_urls, href, id, name, type, uri))

struct artist {
  std::optional<external_urls_object> external_urls{};
  std::optional<followers_object> followers{};
  std::optional<std::vector<std::string>> genres{};
  std::optional<std::vector<image>> images{};
  std::optional<int> popularity{};
  std::string href{}, id{}, name{}, type = "artist", uri{};
};
BOOST_DESCRIBE_STRUCT(artist, (), (external_urls, followers, genres, href, id, images, name, popularity, type, uri))

struct simplified_album {
  std::string album_type{}, href{}, id{}, name{}, type = "album", uri{};  ///< album_type: album, single, compilation
  std::string release_date{}, release_date_precision{};  ///< "1981-12" with "month" ("year", "day")
  int total_tracks = 0;
  std::vector<std::string> available_markets{};
  external_urls_object external_urls{};
  std::vector<image> images{};
  std::optional<restrictions_object> restrictions{};
  std::vector<simplified_artist> artists{};
};
BOOST_DESCRIBE_STRUCT(simplified_album, (), (album_type, total_tracks, available_markets, external_urls, href, id, images,
                                             name, release_date, release_date_precision, restrictions, type, uri, artists))

struct linked_track { std::optional<external_urls_object> external_urls{}; opt_string href{}, id{}, type{}, uri{}; };
BOOST_DESCRIBE_STRUCT(linked_track, (), (external_urls, href, id, type, uri))

/// The fields simplified and full tracks share. `explicit_` is JSON "explicit"; `is_playable`,
/// `linked_from`, `restrictions` come when a market was given (track relinking).
struct track_fields {
  std::vector<simplified_artist> artists{};
  std::optional<std::vector<std::string>> available_markets{};
  std::optional<int> disc_number{}, track_number{};
  int duration_ms = 0;
  std::optional<bool> explicit_{}, is_playable{}, is_local{};
  std::optional<external_urls_object> external_urls{};
  std::optional<linked_track> linked_from{};
  std::optional<restrictions_object> restrictions{};
  std::string href{}, id{}, name{}, type = "track", uri{};
  opt_string preview_url{};  ///< nullable
};
BOOST_DESCRIBE_STRUCT(track_fields, (), (artists, available_markets, disc_number, duration_ms, explicit_, external_urls, href,
                                         id, is_playable, linked_from, restrictions, name, preview_url, track_number, type, uri,
                                         is_local))

struct simplified_track : track_fields {};
BOOST_DESCRIBE_STRUCT(simplified_track, (track_fields), ())

struct track : track_fields {
  simplified_album album{};
  std::optional<external_ids_object> external_ids{};
  std::optional<int> popularity{};
};
BOOST_DESCRIBE_STRUCT(track, (track_fields), (album, external_ids, popularity))

template <class T>
struct paging {
  std::string href{};
  std::vector<T> items{};
  int limit = 0;
  opt_string next{};  ///< required, nullable
  int offset = 0;
  opt_string previous{};
  int total = 0;
  BOOST_DESCRIBE_CLASS(paging, (), (href, items, limit, next, offset, previous, total), (), ())
};

struct album : simplified_album {
  paging<simplified_track> tracks{};
  std::vector<copyright> copyrights{};
  external_ids_object external_ids{};
  std::vector<std::string> genres{};
  std::string label{};
  int popularity = 0;
};
BOOST_DESCRIBE_STRUCT(album, (simplified_album), (tracks, copyrights, external_ids, genres, label, popularity))

struct playlist_user { std::optional<external_urls_object> external_urls{}; std::string href{}, id{}, type = "user", uri{}; };
BOOST_DESCRIBE_STRUCT(playlist_user, (), (external_urls, href, id, type, uri))

struct playlist_owner : playlist_user { opt_string display_name{}; };
BOOST_DESCRIBE_STRUCT(playlist_owner, (playlist_user), (display_name))

/// PlaylistTracksRefObject: where a playlist's items are and how many there are.
struct tracks_ref { std::string href{}; int total = 0; };
BOOST_DESCRIBE_STRUCT(tracks_ref, (), (href, total))

/// SimplifiedPlaylistObject. `items` replaced `tracks` (the deprecated name): the API sends one
/// or both; items_ref() reads whichever came. `public_` is JSON "public" (nullable).
struct simplified_playlist {
  std::optional<bool> collaborative{}, public_{};
  opt_string description{}, snapshot_id{};
  std::optional<external_urls_object> external_urls{};
  std::optional<std::vector<image>> images{};  ///< empty when the API sends null
  std::string href{}, id{}, name{}, type = "playlist", uri{};
  playlist_owner owner{};
  std::optional<tracks_ref> items{}, tracks{};
  tracks_ref items_ref() const { return items ? *items : tracks.value_or(tracks_ref{}); }
};
BOOST_DESCRIBE_STRUCT(simplified_playlist, (), (collaborative, description, external_urls, href, id, images, name, owner,
                                                public_, snapshot_id, items, tracks, type, uri))

/// PlaylistTrackObject. `track` is read from "item", else "track" (its deprecated name); it is
/// empty when the API sends null (an item no longer available) or for a podcast episode (not
/// modelled). Written back under both names, as the API does.
struct playlist_track_fields {
  opt_string added_at{};  ///< ISO 8601 date-time; null for very old playlists
  std::optional<playlist_user> added_by{};
  std::optional<bool> is_local{};
};
BOOST_DESCRIBE_STRUCT(playlist_track_fields, (), (added_at, added_by, is_local))
struct playlist_track : playlist_track_fields {
  std::optional<spotify::track> track{};
};

struct public_user {
  opt_string display_name{};
  std::optional<external_urls_object> external_urls{};
  std::optional<followers_object> followers{};
  std::optional<std::vector<image>> images{};
  std::string href{}, id{}, type = "user", uri{};
};
BOOST_DESCRIBE_STRUCT(public_user, (), (display_name, external_urls, followers, href, id, images, type, uri))

/// The answer of GET /search: one paging object per requested type.
struct search_result {
  std::optional<paging<track>> tracks{};
  std::optional<paging<artist>> artists{};
  std::optional<paging<simplified_album>> albums{};
  std::optional<paging<simplified_playlist>> playlists{};
};
BOOST_DESCRIBE_STRUCT(search_result, (), (tracks, artists, albums, playlists))

/// The answer of GET /tracks?ids=: an unknown id gives null at its place.
struct several_tracks {
  std::vector<std::optional<track>> tracks{};
};
BOOST_DESCRIBE_STRUCT(several_tracks, (), (tracks))

/// The body of every Web API error: {"error": {"status": ..., "message": ...}}.
struct error_detail { int status = 0; std::string message{}; };
BOOST_DESCRIBE_STRUCT(error_detail, (), (status, message))
struct error_object { error_detail error{}; };
BOOST_DESCRIBE_STRUCT(error_object, (), (error))


INTG_REST_MODELS();

inline json::result<playlist_track> tag_invoke(json::try_value_to_tag<playlist_track>, const json::value& v) {
  auto head = rest::json_detail::try_value_to<playlist_track_fields>(v);
  if (!head) return head.error();
  playlist_track out{std::move(*head)};
  const auto& o = v.get_object();
  const json::value* item = o.if_contains(o.contains("item") ? "item" : "track");
  const auto* io = item ? item->if_object() : nullptr;
  if (!io || (io->contains("type") && io->at("type") == "episode")) return out;
  auto t = rest::json_detail::try_value_to<track>(*item);
  if (!t) return t.error();
  out.track = std::move(*t);
  return out;
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const playlist_track& p) {
  jv = rest::encode(static_cast<const playlist_track_fields&>(p));
  json::value t = p.track ? rest::encode(*p.track) : json::value(nullptr);
  jv.as_object()["item"] = t;
  jv.as_object()["track"] = std::move(t);
}

/// Reads a T from a parsed document or a body (errc::invalid_response with the JSON path).
template <class T> result<T> parse(const json::value& v) { return rest::decode<T>(v); }
template <class T> result<T> parse(std::string_view body) { return rest::decode_body<T>(body); }
/// Writes a model as the API sends it (empty optionals omitted).
template <class T> json::value to_json(const T& x) { return rest::encode(x); }

}  // namespace intg::spotify
