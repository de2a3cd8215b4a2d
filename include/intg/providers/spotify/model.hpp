// The Spotify Web API's objects as C++ structs (tracks, albums, artists, playlists, users, paging
// objects, search results, error objects, token responses), with a non-throwing parser that names
// the JSON path of the first problem, and Boost.JSON conversions both ways so that a client and a
// local stand-in of the API share one definition of each shape.
//
// Field names follow Spotify's OpenAPI description. Which fields are required: the description's
// `required` lists (paging objects, albums, images, error objects) plus the identity fields the API
// always sends (id, name, href, uri, type, and a track's artists, album and duration). Fields the
// description marks nullable are std::optional; fields it marks deprecated (popularity, markets,
// external ids, genres...) are read when present and left at their defaults when absent, because
// Spotify has started to drop them for some apps. Unknown fields are ignored.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace intg::spotify {

namespace json = boost::json;

/// ExternalUrlObject: `{"spotify": "https://open.spotify.com/track/..."}`.
struct external_urls_object {
  std::string spotify;
};

/// ExternalIdObject: ISRC for tracks, UPC / EAN for albums.
struct external_ids_object {
  std::optional<std::string> isrc, ean, upc;
};

/// ImageObject; width and height are null when unknown.
struct image {
  std::string url;
  std::optional<int> height, width;
};

/// FollowersObject (`href` is always null in today's API).
struct followers_object {
  std::optional<std::string> href;
  int total = 0;
};

/// TrackRestrictionObject / AlbumRestrictionObject: why an item is not playable ("market", ...).
struct restrictions_object {
  std::string reason;
};

/// CopyrightObject: `type` is "C" (copyright) or "P" (sound recording).
struct copyright {
  std::string text, type;
};

/// SimplifiedArtistObject.
struct simplified_artist {
  external_urls_object external_urls;
  std::string href, id, name, type = "artist", uri;
};

/// ArtistObject.
struct artist {
  external_urls_object external_urls;
  followers_object followers;
  std::vector<std::string> genres;
  std::string href, id;
  std::vector<image> images;
  std::string name;
  int popularity = 0;
  std::string type = "artist", uri;
};

/// SimplifiedAlbumObject (AlbumBase plus artists).
struct simplified_album {
  std::string album_type;  ///< "album", "single" or "compilation"
  int total_tracks = 0;
  std::vector<std::string> available_markets;
  external_urls_object external_urls;
  std::string href, id;
  std::vector<image> images;
  std::string name;
  std::string release_date;            ///< "1981", "1981-12" or "1981-12-15"
  std::string release_date_precision;  ///< "year", "month" or "day"
  std::optional<restrictions_object> restrictions;
  std::string type = "album", uri;
  std::vector<simplified_artist> artists;
};

/// LinkedTrackObject: the originally requested track when track relinking replaced it.
struct linked_track {
  external_urls_object external_urls;
  std::string href, id, type = "track", uri;
};

/// SimplifiedTrackObject (a track as listed inside an album).
struct simplified_track {
  std::vector<simplified_artist> artists;
  std::vector<std::string> available_markets;
  int disc_number = 1;
  int duration_ms = 0;
  bool is_explicit = false;  ///< JSON "explicit"
  external_urls_object external_urls;
  std::string href, id;
  std::optional<bool> is_playable;  ///< present when a market was given (track relinking)
  std::optional<linked_track> linked_from;
  std::optional<restrictions_object> restrictions;
  std::string name;
  std::optional<std::string> preview_url;  ///< nullable
  int track_number = 1;
  std::string type = "track", uri;
  bool is_local = false;
};

/// TrackObject.
struct track {
  simplified_album album;
  std::vector<simplified_artist> artists;
  std::vector<std::string> available_markets;
  int disc_number = 1;
  int duration_ms = 0;
  bool is_explicit = false;  ///< JSON "explicit"
  external_ids_object external_ids;
  external_urls_object external_urls;
  std::string href, id;
  std::optional<bool> is_playable;  ///< present when a market was given (track relinking)
  std::optional<linked_track> linked_from;
  std::optional<restrictions_object> restrictions;
  std::string name;
  int popularity = 0;
  std::optional<std::string> preview_url;  ///< nullable
  int track_number = 1;
  std::string type = "track", uri;
  bool is_local = false;
};

/// PagingObject: one page of `items` and the links to its neighbours (null at the ends).
template <class T>
struct paging {
  std::string href;
  std::vector<T> items;
  int limit = 0;
  std::optional<std::string> next;
  int offset = 0;
  std::optional<std::string> previous;
  int total = 0;
};

/// AlbumObject.
struct album : simplified_album {
  paging<simplified_track> tracks;
  std::vector<copyright> copyrights;
  external_ids_object external_ids;
  std::vector<std::string> genres;
  std::string label;
  int popularity = 0;
};

/// PlaylistUserObject: who added a playlist item.
struct playlist_user {
  external_urls_object external_urls;
  std::string href, id, type = "user", uri;
};

/// PlaylistOwnerObject: PlaylistUserObject plus a nullable display name.
struct playlist_owner : playlist_user {
  std::optional<std::string> display_name;
};

/// PlaylistTracksRefObject: where a playlist's items are and how many there are.
struct tracks_ref {
  std::string href;
  int total = 0;
};

/// SimplifiedPlaylistObject. `items` and `tracks` carry the same reference (`tracks` is the
/// deprecated name); when only one is present the parser fills both.
struct simplified_playlist {
  bool collaborative = false;
  std::optional<std::string> description;
  external_urls_object external_urls;
  std::string href, id;
  std::vector<image> images;  ///< empty when the API sends null
  std::string name;
  playlist_owner owner;
  std::optional<bool> is_public;  ///< JSON "public"; null when not relevant
  std::string snapshot_id;
  tracks_ref items, tracks;
  std::string type = "playlist", uri;
};

/// PlaylistTrackObject. `track` is empty when the item is no longer available (the API sends
/// null) or is a podcast episode (episodes are not modelled). Read from "item", else "track".
struct playlist_track {
  std::optional<std::string> added_at;  ///< ISO 8601 date-time; null for very old playlists
  std::optional<playlist_user> added_by;
  bool is_local = false;
  std::optional<spotify::track> track;
};

/// PublicUserObject.
struct public_user {
  std::optional<std::string> display_name;
  external_urls_object external_urls;
  followers_object followers;
  std::string href, id;
  std::vector<image> images;
  std::string type = "user", uri;
};

/// The answer of GET /search: one paging object per requested type.
struct search_result {
  std::optional<paging<track>> tracks;
  std::optional<paging<artist>> artists;
  std::optional<paging<simplified_album>> albums;
  std::optional<paging<simplified_playlist>> playlists;
};

/// The answer of GET /tracks?ids=: an unknown id gives null at its place.
struct several_tracks {
  std::vector<std::optional<track>> tracks;
};

/// ErrorObject, the body of every Web API error as `{"error": {...}}`.
struct error_object {
  int status = 0;
  std::string message;
};

/// The accounts service's token answer (RFC 6749 section 5.1).
struct token_response {
  std::string access_token;
  std::string token_type = "Bearer";
  int expires_in = 0;
  std::optional<std::string> scope;
  std::optional<std::string> refresh_token;  ///< absent: keep using the previous one
};

/// The accounts service's error answer (RFC 6749 section 5.2), e.g. {"error":"invalid_grant"}.
struct oauth_error {
  std::string error;
  std::optional<std::string> error_description;
};

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

namespace detail {

// Walks a document, keeping the JSON path of where it is; the first problem is kept.
struct reader {
  std::string path = "$";
  intg::error err;

  bool failed() const noexcept { return static_cast<bool>(err); }
  void fail(std::string message) {
    if (failed()) return;
    err = intg::error(errc::invalid_response, std::move(message));
    err.with_json_path(path);
  }
};

// Appends ".key" or "[i]" to the path for the lifetime of the scope.
struct path_scope {
  reader& r;
  std::size_t size;
  path_scope(reader& rd, std::string_view key) : r(rd), size(rd.path.size()) {
    r.path += '.';
    r.path += key;
  }
  path_scope(reader& rd, std::size_t index) : r(rd), size(rd.path.size()) {
    r.path += '[';
    r.path += std::to_string(index);
    r.path += ']';
  }
  ~path_scope() { r.path.resize(size); }
  path_scope(const path_scope&) = delete;
  path_scope& operator=(const path_scope&) = delete;
};

inline const char* kind_name(const json::value& v) noexcept {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64: return "an integer";
    case json::kind::double_: return "a number";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "?";
}

inline void wrong_type(reader& r, const json::value& v, const char* expected) {
  r.fail(std::string("expected ") + expected + ", got " + kind_name(v));
}

inline const json::object* as_object(reader& r, const json::value& v) {
  if (const auto* o = v.if_object()) return o;
  wrong_type(r, v, "an object");
  return nullptr;
}

inline void read_value(reader& r, const json::value& v, std::string& out) {
  if (const auto* s = v.if_string()) {
    out.assign(s->data(), s->size());
  } else {
    wrong_type(r, v, "a string");
  }
}

inline void read_value(reader& r, const json::value& v, bool& out) {
  if (const auto* b = v.if_bool()) {
    out = *b;
  } else {
    wrong_type(r, v, "a boolean");
  }
}

inline void read_value(reader& r, const json::value& v, int& out) {
  if (const auto* i = v.if_int64()) {
    if (*i < std::numeric_limits<int>::min() || *i > std::numeric_limits<int>::max())
      return r.fail("integer out of range");
    out = static_cast<int>(*i);
  } else if (const auto* u = v.if_uint64()) {
    if (*u > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) return r.fail("integer out of range");
    out = static_cast<int>(*u);
  } else {
    wrong_type(r, v, "an integer");
  }
}

template <class T>
void read_value(reader& r, const json::value& v, std::optional<T>& out);
template <class T>
void read_value(reader& r, const json::value& v, std::vector<T>& out);
template <class T>
void read_value(reader& r, const json::value& v, paging<T>& out);

// A field that must be present. Null is accepted only when T is std::optional (nullable fields
// such as a paging object's `next` are required yet may be null).
template <class T>
void required(reader& r, const json::object& o, std::string_view key, T& out) {
  if (r.failed()) return;
  const json::value* v = o.if_contains(key);
  path_scope s(r, key);
  if (!v) return r.fail("missing required field '" + std::string(key) + "'");
  read_value(r, *v, out);
}

// A field that may be absent; null counts as absent (out keeps its default).
template <class T>
void optional_field(reader& r, const json::object& o, std::string_view key, T& out) {
  if (r.failed()) return;
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return;
  path_scope s(r, key);
  read_value(r, *v, out);
}

template <class T>
void read_value(reader& r, const json::value& v, std::optional<T>& out) {
  if (v.is_null()) {
    out.reset();
    return;
  }
  out.emplace();
  read_value(r, v, *out);
}

template <class T>
void read_value(reader& r, const json::value& v, std::vector<T>& out) {
  const auto* a = v.if_array();
  if (!a) return wrong_type(r, v, "an array");
  out.clear();
  out.reserve(a->size());
  for (std::size_t i = 0; i < a->size() && !r.failed(); ++i) {
    path_scope s(r, i);
    out.emplace_back();
    read_value(r, (*a)[i], out.back());
  }
}

template <class T>
void read_value(reader& r, const json::value& v, paging<T>& p) {
  const auto* o = as_object(r, v);
  if (!o) return;
  required(r, *o, "href", p.href);
  required(r, *o, "items", p.items);
  required(r, *o, "limit", p.limit);
  required(r, *o, "next", p.next);
  required(r, *o, "offset", p.offset);
  required(r, *o, "previous", p.previous);
  required(r, *o, "total", p.total);
}

inline void read_value(reader& r, const json::value& v, external_urls_object& e) {
  if (const auto* o = as_object(r, v)) optional_field(r, *o, "spotify", e.spotify);
}

inline void read_value(reader& r, const json::value& v, external_ids_object& e) {
  const auto* o = as_object(r, v);
  if (!o) return;
  optional_field(r, *o, "isrc", e.isrc);
  optional_field(r, *o, "ean", e.ean);
  optional_field(r, *o, "upc", e.upc);
}

inline void read_value(reader& r, const json::value& v, image& i) {
  const auto* o = as_object(r, v);
  if (!o) return;
  required(r, *o, "url", i.url);
  required(r, *o, "height", i.height);
  required(r, *o, "width", i.width);
}

inline void read_value(reader& r, const json::value& v, followers_object& f) {
  const auto* o = as_object(r, v);
  if (!o) return;
  optional_field(r, *o, "href", f.href);
  optional_field(r, *o, "total", f.total);
}

inline void read_value(reader& r, const json::value& v, restrictions_object& x) {
  if (const auto* o = as_object(r, v)) optional_field(r, *o, "reason", x.reason);
}

inline void read_value(reader& r, const json::value& v, copyright& c) {
  const auto* o = as_object(r, v);
  if (!o) return;
  optional_field(r, *o, "text", c.text);
  optional_field(r, *o, "type", c.type);
}

inline void read_value(reader& r, const json::value& v, simplified_artist& a) {
  const auto* o = as_object(r, v);
  if (!o) return;
  optional_field(r, *o, "external_urls", a.external_urls);
  required(r, *o, "href", a.href);
  required(r, *o, "id", a.id);
  required(r, *o, "name", a.name);
  required(r, *o, "type", a.type);
  required(r, *o, "uri", a.uri);
}

inline void read_value(reader& r, const json::value& v, artist& a) {
  const auto* o = as_object(r, v);
  if (!o) return;
  optional_field(r, *o, "external_urls", a.external_urls);
  optional_field(r, *o, "followers", a.followers);
  optional_field(r, *o, "genres", a.genres);
  required(r, *o, "href", a.href);
  required(r, *o, "id", a.id);
  optional_field(r, *o, "images", a.images);
  required(r, *o, "name", a.name);
  optional_field(r, *o, "popularity", a.popularity);
  required(r, *o, "type", a.type);
  required(r, *o, "uri", a.uri);
}

// AlbumBase's fields, shared by simplified and full albums (all required but restrictions).
inline void read_album_base(reader& r, const json::object& o, simplified_album& a) {
  required(r, o, "album_type", a.album_type);
  required(r, o, "total_tracks", a.total_tracks);
  required(r, o, "available_markets", a.available_markets);
  required(r, o, "external_urls", a.external_urls);
  required(r, o, "href", a.href);
  required(r, o, "id", a.id);
  required(r, o, "images", a.images);
  required(r, o, "name", a.name);
  required(r, o, "release_date", a.release_date);
  required(r, o, "release_date_precision", a.release_date_precision);
  optional_field(r, o, "restrictions", a.restrictions);
  required(r, o, "type", a.type);
  required(r, o, "uri", a.uri);
  required(r, o, "artists", a.artists);
}

inline void read_value(reader& r, const json::value& v, simplified_album& a) {
  if (const auto* o = as_object(r, v)) read_album_base(r, *o, a);
}

inline void read_value(reader& r, const json::value& v, linked_track& t) {
  const auto* o = as_object(r, v);
  if (!o) return;
  optional_field(r, *o, "external_urls", t.external_urls);
  optional_field(r, *o, "href", t.href);
  optional_field(r, *o, "id", t.id);
  optional_field(r, *o, "type", t.type);
  optional_field(r, *o, "uri", t.uri);
}

// The fields simplified and full tracks share.
template <class Track>
void read_track_common(reader& r, const json::object& o, Track& t) {
  required(r, o, "artists", t.artists);
  optional_field(r, o, "available_markets", t.available_markets);
  optional_field(r, o, "disc_number", t.disc_number);
  required(r, o, "duration_ms", t.duration_ms);
  optional_field(r, o, "explicit", t.is_explicit);
  optional_field(r, o, "external_urls", t.external_urls);
  required(r, o, "href", t.href);
  required(r, o, "id", t.id);
  optional_field(r, o, "is_playable", t.is_playable);
  optional_field(r, o, "linked_from", t.linked_from);
  optional_field(r, o, "restrictions", t.restrictions);
  required(r, o, "name", t.name);
  optional_field(r, o, "preview_url", t.preview_url);
  optional_field(r, o, "track_number", t.track_number);
  required(r, o, "type", t.type);
  required(r, o, "uri", t.uri);
  optional_field(r, o, "is_local", t.is_local);
}

inline void read_value(reader& r, const json::value& v, simplified_track& t) {
  if (const auto* o = as_object(r, v)) read_track_common(r, *o, t);
}

inline void read_value(reader& r, const json::value& v, track& t) {
  const auto* o = as_object(r, v);
  if (!o) return;
  required(r, *o, "album", t.album);
  read_track_common(r, *o, t);
  optional_field(r, *o, "external_ids", t.external_ids);
  optional_field(r, *o, "popularity", t.popularity);
}

inline void read_value(reader& r, const json::value& v, album& a) {
  const auto* o = as_object(r, v);
  if (!o) return;
  read_album_base(r, *o, a);
  required(r, *o, "tracks", a.tracks);
  required(r, *o, "copyrights", a.copyrights);
  required(r, *o, "external_ids", a.external_ids);
  required(r, *o, "genres", a.genres);
  required(r, *o, "label", a.label);
  required(r, *o, "popularity", a.popularity);
}

inline void read_user_fields(reader& r, const json::object& o, playlist_user& u) {
  optional_field(r, o, "external_urls", u.external_urls);
  required(r, o, "href", u.href);
  required(r, o, "id", u.id);
  required(r, o, "type", u.type);
  required(r, o, "uri", u.uri);
}

inline void read_value(reader& r, const json::value& v, playlist_user& u) {
  if (const auto* o = as_object(r, v)) read_user_fields(r, *o, u);
}

inline void read_value(reader& r, const json::value& v, playlist_owner& u) {
  const auto* o = as_object(r, v);
  if (!o) return;
  read_user_fields(r, *o, u);
  optional_field(r, *o, "display_name", u.display_name);
}

inline void read_value(reader& r, const json::value& v, tracks_ref& t) {
  const auto* o = as_object(r, v);
  if (!o) return;
  required(r, *o, "href", t.href);
  required(r, *o, "total", t.total);
}

inline void read_value(reader& r, const json::value& v, simplified_playlist& p) {
  const auto* o = as_object(r, v);
  if (!o) return;
  optional_field(r, *o, "collaborative", p.collaborative);
  optional_field(r, *o, "description", p.description);
  optional_field(r, *o, "external_urls", p.external_urls);
  required(r, *o, "href", p.href);
  required(r, *o, "id", p.id);
  optional_field(r, *o, "images", p.images);
  required(r, *o, "name", p.name);
  required(r, *o, "owner", p.owner);
  optional_field(r, *o, "public", p.is_public);
  optional_field(r, *o, "snapshot_id", p.snapshot_id);
  // `items` replaced `tracks`; servers of either age must work, but one of them is required.
  const bool has_items = o->contains("items"), has_tracks = o->contains("tracks");
  if (has_items) required(r, *o, "items", p.items);
  if (has_tracks) required(r, *o, "tracks", p.tracks);
  if (!has_items && !has_tracks) required(r, *o, "items", p.items);
  if (!has_items) p.items = p.tracks;
  if (!has_tracks) p.tracks = p.items;
  required(r, *o, "type", p.type);
  required(r, *o, "uri", p.uri);
}

inline void read_value(reader& r, const json::value& v, playlist_track& p) {
  const auto* o = as_object(r, v);
  if (!o) return;
  optional_field(r, *o, "added_at", p.added_at);
  optional_field(r, *o, "added_by", p.added_by);
  optional_field(r, *o, "is_local", p.is_local);
  const char* key = o->contains("item") ? "item" : "track";
  const json::value* item = o->if_contains(key);
  if (!item || item->is_null()) return;
  // Episodes share the array with tracks; they are not modelled and left empty.
  if (const auto* io = item->if_object()) {
    if (const auto* t = io->if_contains("type"); t && t->is_string() && t->get_string() == "episode") return;
  }
  path_scope s(r, key);
  read_value(r, *item, p.track);
}

inline void read_value(reader& r, const json::value& v, public_user& u) {
  const auto* o = as_object(r, v);
  if (!o) return;
  optional_field(r, *o, "display_name", u.display_name);
  optional_field(r, *o, "external_urls", u.external_urls);
  optional_field(r, *o, "followers", u.followers);
  required(r, *o, "href", u.href);
  required(r, *o, "id", u.id);
  optional_field(r, *o, "images", u.images);
  required(r, *o, "type", u.type);
  required(r, *o, "uri", u.uri);
}

inline void read_value(reader& r, const json::value& v, search_result& s) {
  const auto* o = as_object(r, v);
  if (!o) return;
  optional_field(r, *o, "tracks", s.tracks);
  optional_field(r, *o, "artists", s.artists);
  optional_field(r, *o, "albums", s.albums);
  optional_field(r, *o, "playlists", s.playlists);
}

inline void read_value(reader& r, const json::value& v, several_tracks& s) {
  if (const auto* o = as_object(r, v)) required(r, *o, "tracks", s.tracks);
}

// Reads the ErrorObject inside `{"error": {...}}` (the envelope is what the API sends).
inline void read_value(reader& r, const json::value& v, error_object& e) {
  const auto* o = as_object(r, v);
  if (!o) return;
  const json::value* inner = o->if_contains("error");
  path_scope s(r, "error");
  if (!inner) return r.fail("missing required field 'error'");
  const auto* io = as_object(r, *inner);
  if (!io) return;
  required(r, *io, "status", e.status);
  required(r, *io, "message", e.message);
}

inline void read_value(reader& r, const json::value& v, token_response& t) {
  const auto* o = as_object(r, v);
  if (!o) return;
  required(r, *o, "access_token", t.access_token);
  required(r, *o, "token_type", t.token_type);
  required(r, *o, "expires_in", t.expires_in);
  optional_field(r, *o, "scope", t.scope);
  optional_field(r, *o, "refresh_token", t.refresh_token);
}

inline void read_value(reader& r, const json::value& v, oauth_error& e) {
  const auto* o = as_object(r, v);
  if (!o) return;
  required(r, *o, "error", e.error);
  optional_field(r, *o, "error_description", e.error_description);
}

template <class T>
struct is_paging : std::false_type {};
template <class T>
struct is_paging<paging<T>> : std::true_type {};

}  // namespace detail

/// The model types parse<T>() and the Boost.JSON conversions accept.
template <class T>
concept model = std::is_same_v<T, external_urls_object> || std::is_same_v<T, external_ids_object> ||
                std::is_same_v<T, image> || std::is_same_v<T, followers_object> ||
                std::is_same_v<T, restrictions_object> || std::is_same_v<T, copyright> ||
                std::is_same_v<T, simplified_artist> || std::is_same_v<T, artist> ||
                std::is_same_v<T, simplified_album> || std::is_same_v<T, album> ||
                std::is_same_v<T, linked_track> || std::is_same_v<T, simplified_track> ||
                std::is_same_v<T, track> || std::is_same_v<T, playlist_user> ||
                std::is_same_v<T, playlist_owner> || std::is_same_v<T, tracks_ref> ||
                std::is_same_v<T, simplified_playlist> || std::is_same_v<T, playlist_track> ||
                std::is_same_v<T, public_user> || std::is_same_v<T, search_result> ||
                std::is_same_v<T, several_tracks> || std::is_same_v<T, error_object> ||
                std::is_same_v<T, token_response> || std::is_same_v<T, oauth_error> || detail::is_paging<T>::value;

/// Reads a T from a parsed document. A missing required field or a value of the wrong type is
/// errc::invalid_response whose json_path() says where, e.g. "$.tracks.items[3].album.name".
template <model T>
result<T> parse(const json::value& v) {
  detail::reader r;
  T out{};
  detail::read_value(r, v, out);
  if (r.failed()) return r.err;
  return out;
}

/// Parses a response body, then reads a T from it (a body that is not JSON is invalid_response).
template <model T>
result<T> parse(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return intg::error(errc::invalid_response, "response body is not valid JSON: " + ec.message());
  return parse<T>(v);
}

/// Boost.JSON's value_to<T>() for the model types: throws intg::exception where parse<T>() would
/// return an error.
template <model T>
T tag_invoke(json::value_to_tag<T>, const json::value& v) {
  return parse<T>(v).value();
}

// ---------------------------------------------------------------------------------------------
// Serialisation (json::value_from), for servers and tests. Nullable fields are written as null;
// optional fields the API omits when they do not apply (is_playable, linked_from, restrictions)
// are written only when set.
// ---------------------------------------------------------------------------------------------

namespace detail {

inline json::value to_value(const std::string& s) { return json::value(s); }
inline json::value to_value(int i) { return json::value(i); }
inline json::value to_value(bool b) { return json::value(b); }
template <class T>
json::value to_value(const std::optional<T>& o);
template <class T>
json::value to_value(const std::vector<T>& v);
template <class T>
json::value to_value(const T& x) {
  return json::value_from(x);
}
template <class T>
json::value to_value(const std::optional<T>& o) {
  return o ? to_value(*o) : json::value(nullptr);
}
template <class T>
json::value to_value(const std::vector<T>& v) {
  json::array a;
  a.reserve(v.size());
  for (const auto& x : v) a.push_back(to_value(x));
  return a;
}

template <class T>
void put_if(json::object& o, std::string_view key, const std::optional<T>& x) {
  if (x) o[key] = to_value(*x);
}

inline void put_album_base(json::object& o, const simplified_album& a) {
  o["album_type"] = a.album_type;
  o["total_tracks"] = a.total_tracks;
  o["available_markets"] = to_value(a.available_markets);
  o["external_urls"] = to_value(a.external_urls);
  o["href"] = a.href;
  o["id"] = a.id;
  o["images"] = to_value(a.images);
  o["name"] = a.name;
  o["release_date"] = a.release_date;
  o["release_date_precision"] = a.release_date_precision;
  put_if(o, "restrictions", a.restrictions);
  o["type"] = a.type;
  o["uri"] = a.uri;
  o["artists"] = to_value(a.artists);
}

template <class Track>
void put_track_common(json::object& o, const Track& t) {
  o["artists"] = to_value(t.artists);
  o["available_markets"] = to_value(t.available_markets);
  o["disc_number"] = t.disc_number;
  o["duration_ms"] = t.duration_ms;
  o["explicit"] = t.is_explicit;
  o["external_urls"] = to_value(t.external_urls);
  o["href"] = t.href;
  o["id"] = t.id;
  put_if(o, "is_playable", t.is_playable);
  put_if(o, "linked_from", t.linked_from);
  put_if(o, "restrictions", t.restrictions);
  o["name"] = t.name;
  o["preview_url"] = to_value(t.preview_url);
  o["track_number"] = t.track_number;
  o["type"] = t.type;
  o["uri"] = t.uri;
  o["is_local"] = t.is_local;
}

inline void put_user_fields(json::object& o, const playlist_user& u) {
  o["external_urls"] = to_value(u.external_urls);
  o["href"] = u.href;
  o["id"] = u.id;
  o["type"] = u.type;
  o["uri"] = u.uri;
}

}  // namespace detail

inline void tag_invoke(json::value_from_tag, json::value& jv, const external_urls_object& e) {
  jv = json::object{{"spotify", e.spotify}};
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const external_ids_object& e) {
  json::object o;
  detail::put_if(o, "isrc", e.isrc);
  detail::put_if(o, "ean", e.ean);
  detail::put_if(o, "upc", e.upc);
  jv = std::move(o);
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const image& i) {
  jv = json::object{{"url", i.url}, {"height", detail::to_value(i.height)}, {"width", detail::to_value(i.width)}};
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const followers_object& f) {
  jv = json::object{{"href", detail::to_value(f.href)}, {"total", f.total}};
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const restrictions_object& x) {
  jv = json::object{{"reason", x.reason}};
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const copyright& c) {
  jv = json::object{{"text", c.text}, {"type", c.type}};
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const simplified_artist& a) {
  jv = json::object{{"external_urls", detail::to_value(a.external_urls)},
                    {"href", a.href}, {"id", a.id}, {"name", a.name}, {"type", a.type}, {"uri", a.uri}};
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const artist& a) {
  jv = json::object{{"external_urls", detail::to_value(a.external_urls)},
                    {"followers", detail::to_value(a.followers)},
                    {"genres", detail::to_value(a.genres)},
                    {"href", a.href},
                    {"id", a.id},
                    {"images", detail::to_value(a.images)},
                    {"name", a.name},
                    {"popularity", a.popularity},
                    {"type", a.type},
                    {"uri", a.uri}};
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const simplified_album& a) {
  json::object o;
  detail::put_album_base(o, a);
  jv = std::move(o);
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const linked_track& t) {
  jv = json::object{{"external_urls", detail::to_value(t.external_urls)},
                    {"href", t.href}, {"id", t.id}, {"type", t.type}, {"uri", t.uri}};
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const simplified_track& t) {
  json::object o;
  detail::put_track_common(o, t);
  jv = std::move(o);
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const track& t) {
  json::object o;
  o["album"] = detail::to_value(t.album);
  detail::put_track_common(o, t);
  o["external_ids"] = detail::to_value(t.external_ids);
  o["popularity"] = t.popularity;
  jv = std::move(o);
}
template <class T>
void tag_invoke(json::value_from_tag, json::value& jv, const paging<T>& p) {
  jv = json::object{{"href", p.href},
                    {"items", detail::to_value(p.items)},
                    {"limit", p.limit},
                    {"next", detail::to_value(p.next)},
                    {"offset", p.offset},
                    {"previous", detail::to_value(p.previous)},
                    {"total", p.total}};
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const album& a) {
  json::object o;
  detail::put_album_base(o, a);
  o["tracks"] = detail::to_value(a.tracks);
  o["copyrights"] = detail::to_value(a.copyrights);
  o["external_ids"] = detail::to_value(a.external_ids);
  o["genres"] = detail::to_value(a.genres);
  o["label"] = a.label;
  o["popularity"] = a.popularity;
  jv = std::move(o);
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const playlist_user& u) {
  json::object o;
  detail::put_user_fields(o, u);
  jv = std::move(o);
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const playlist_owner& u) {
  json::object o;
  detail::put_user_fields(o, u);
  o["display_name"] = detail::to_value(u.display_name);
  jv = std::move(o);
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const tracks_ref& t) {
  jv = json::object{{"href", t.href}, {"total", t.total}};
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const simplified_playlist& p) {
  jv = json::object{{"collaborative", p.collaborative},
                    {"description", detail::to_value(p.description)},
                    {"external_urls", detail::to_value(p.external_urls)},
                    {"href", p.href},
                    {"id", p.id},
                    {"images", detail::to_value(p.images)},
                    {"name", p.name},
                    {"owner", detail::to_value(p.owner)},
                    {"public", detail::to_value(p.is_public)},
                    {"snapshot_id", p.snapshot_id},
                    {"items", detail::to_value(p.items)},
                    {"tracks", detail::to_value(p.tracks)},
                    {"type", p.type},
                    {"uri", p.uri}};
}
/// Writes the item under both "item" and its deprecated name "track", as the API does.
inline void tag_invoke(json::value_from_tag, json::value& jv, const playlist_track& p) {
  json::value item = detail::to_value(p.track);
  json::object o{{"added_at", detail::to_value(p.added_at)},
                 {"added_by", detail::to_value(p.added_by)},
                 {"is_local", p.is_local},
                 {"item", item},
                 {"track", item}};
  jv = std::move(o);
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const public_user& u) {
  jv = json::object{{"display_name", detail::to_value(u.display_name)},
                    {"external_urls", detail::to_value(u.external_urls)},
                    {"followers", detail::to_value(u.followers)},
                    {"href", u.href},
                    {"id", u.id},
                    {"images", detail::to_value(u.images)},
                    {"type", u.type},
                    {"uri", u.uri}};
}
/// Writes only the types that were searched for.
inline void tag_invoke(json::value_from_tag, json::value& jv, const search_result& s) {
  json::object o;
  detail::put_if(o, "tracks", s.tracks);
  detail::put_if(o, "artists", s.artists);
  detail::put_if(o, "albums", s.albums);
  detail::put_if(o, "playlists", s.playlists);
  jv = std::move(o);
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const several_tracks& s) {
  jv = json::object{{"tracks", detail::to_value(s.tracks)}};
}
/// Writes the envelope the API sends: {"error": {"status": ..., "message": ...}}.
inline void tag_invoke(json::value_from_tag, json::value& jv, const error_object& e) {
  jv = json::object{{"error", json::object{{"status", e.status}, {"message", e.message}}}};
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const token_response& t) {
  json::object o{{"access_token", t.access_token}, {"token_type", t.token_type}, {"expires_in", t.expires_in}};
  detail::put_if(o, "scope", t.scope);
  detail::put_if(o, "refresh_token", t.refresh_token);
  jv = std::move(o);
}
inline void tag_invoke(json::value_from_tag, json::value& jv, const oauth_error& e) {
  json::object o{{"error", e.error}};
  detail::put_if(o, "error_description", e.error_description);
  jv = std::move(o);
}

/// Serialises a model object as the API would send it.
template <model T>
json::value to_json(const T& x) {
  return json::value_from(x);
}

}  // namespace intg::spotify
