// Typed decoding through the provider kit's converter (intg::rest::decode into the Spotify models,
// described structs) next to the hand-written reader those models had before they moved onto the
// kit (copied below as intg::spotify_handwritten) on the same bytes: a GET /search answer with a
// page of 20 full track objects. Issue 12's goal: the converter within 1.1x.
//
//   BM_spotify_parse_value / BM_rest_decode_value   from the parsed document (the mapping alone)
//   BM_spotify_parse_body  / BM_rest_decode_body    from the response bytes (parse + mapping)
//
// Pair them with benchmarks/ratio.py:
//   rest_decode --benchmark_repetitions=10 --benchmark_enable_random_interleaving=true
//       --benchmark_format=json > run.json
//   python3 benchmarks/ratio.py run.json BM_rest_decode_value BM_spotify_parse_value
//
// The kit's side reads intg::spotify's models, which declare what the hand-written reader read:
// its required fields as plain members, its "read when present" fields as std::optional.
#include "malloc_counter.hpp"

#include <intg/providers/spotify/model.hpp>
#include <intg/rest/json.hpp>

#include <benchmark/benchmark.h>
#include <boost/json/parse.hpp>
#include <boost/json/value_to.hpp>

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>

#include <limits>
#include <string_view>
#include <type_traits>
#include <boost/json/serialize.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

// ---- The hand-written reader this benchmark compares with: the Spotify models as they were
// before the port to the kit (include/intg/providers/spotify/model.hpp at intg 0.2, structs and
// parser, serialisation left out), kept here verbatim so the comparison stays honest.
namespace intg::spotify_handwritten {
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
  std::optional<spotify_handwritten::track> track;
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

template <class T>
result<T> parse(const json::value& v) {
  detail::reader r;
  T out{};
  detail::read_value(r, v, out);
  if (r.failed()) return r.err;
  return out;
}

/// Parses a response body, then reads a T from it (a body that is not JSON is invalid_response).
template <class T>
result<T> parse(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) return intg::error(errc::invalid_response, "response body is not valid JSON: " + ec.message());
  return parse<T>(v);
}

}  // namespace intg::spotify_handwritten

namespace {

namespace json = boost::json;
namespace sp = intg::spotify;
namespace hw = intg::spotify_handwritten;

// A realistic answer: 20 tracks, 40 markets each on album and track, two artists, three images.
std::string make_body() {
  static const char* const markets[] = {"AD", "AE", "AR", "AT", "AU", "BE", "BG", "BO", "BR", "CA",
                                        "CH", "CL", "CO", "CR", "CY", "CZ", "DE", "DK", "DO", "EC",
                                        "EE", "ES", "FI", "FR", "GB", "GR", "GT", "HK", "HN", "HU",
                                        "ID", "IE", "IL", "IN", "IS", "IT", "JP", "LI", "LT", "LU"};
  sp::search_result r;
  auto& page = r.tracks.emplace();
  page.href = "https://api.spotify.com/v1/search?query=midnight&type=track&offset=0&limit=20";
  page.limit = 20;
  page.offset = 0;
  page.total = 1000;
  page.next = "https://api.spotify.com/v1/search?query=midnight&type=track&offset=20&limit=20";
  for (int i = 0; i < 20; ++i) {
    sp::track t;
    const std::string n = std::to_string(i);
    t.id = "4iV5W9uYEdYUVa79Axb7Rh" + n;
    t.name = "Midnight City " + n;
    t.href = "https://api.spotify.com/v1/tracks/" + t.id;
    t.uri = "spotify:track:" + t.id;
    t.external_urls = sp::external_urls_object{"https://open.spotify.com/track/" + t.id};
    t.external_ids = sp::external_ids_object{.isrc = "USRC1120030" + n};
    t.duration_ms = 243960 + i;
    t.popularity = 70 + i % 30;
    t.track_number = 2;
    t.explicit_ = i % 3 == 0;
    t.is_local = false;
    t.preview_url = "https://p.scdn.co/mp3-preview/3eb16018c2a700240e9dfb8817b6f2d041f15eb1" + n;
    t.available_markets.emplace();
    for (const char* m : markets) t.available_markets->emplace_back(m);
    for (int a = 0; a < 2; ++a) {
      sp::simplified_artist ar;
      ar.id = "63MQldklfxkjYDoUE4Tppz" + std::to_string(a);
      ar.name = a ? "Anthony Gonzalez" : "M83";
      ar.href = "https://api.spotify.com/v1/artists/" + ar.id;
      ar.uri = "spotify:artist:" + ar.id;
      ar.external_urls = sp::external_urls_object{"https://open.spotify.com/artist/" + ar.id};
      t.artists.push_back(ar);
    }
    auto& al = t.album;
    al.album_type = "album";
    al.total_tracks = 22;
    al.id = "6R0ynY7RF20ofs9GJR5TXR" + n;
    al.name = "Hurry Up, We're Dreaming";
    al.href = "https://api.spotify.com/v1/albums/" + al.id;
    al.uri = "spotify:album:" + al.id;
    al.external_urls.spotify = "https://open.spotify.com/album/" + al.id;
    al.release_date = "2011-10-18";
    al.release_date_precision = "day";
    al.available_markets = *t.available_markets;
    al.artists = {t.artists[0]};
    for (int s : {640, 300, 64}) al.images.push_back({"https://i.scdn.co/image/ab67616d0000b273" + n, s, s});
    page.items.push_back(std::move(t));
  }
  json::value v = sp::to_json(r);
  v.as_object()["tracks"].as_object()["previous"] = nullptr;  // required and nullable: the API sends null
  return json::serialize(v);
}

const std::string& body() {
  static const std::string b = make_body();
  return b;
}
const json::value& document() {
  static const json::value v = json::parse(body());
  return v;
}

// Allocations per iteration, counted at the malloc level over the timed loop.
template <class F>
void measure(benchmark::State& state, F f) {
  f();  // warm
  const std::uint64_t before = bench::allocation_count();
  for (auto _ : state) f();
  state.counters["allocs_per_op"] = benchmark::Counter(
      static_cast<double>(bench::allocation_count() - before) / static_cast<double>(std::max<std::int64_t>(1, state.iterations())));
  state.SetBytesProcessed(static_cast<std::int64_t>(body().size()) * state.iterations());
}

void BM_spotify_parse_value(benchmark::State& state) {
  measure(state, [] {
    auto r = hw::parse<hw::search_result>(document());
    if (!r) std::abort();
    benchmark::DoNotOptimize(r);
  });
}
void BM_rest_decode_value(benchmark::State& state) {
  measure(state, [] {
    auto r = intg::rest::decode<sp::search_result>(document());
    if (!r) std::abort();
    benchmark::DoNotOptimize(r);
  });
}
void BM_spotify_parse_body(benchmark::State& state) {
  measure(state, [] {
    auto r = hw::parse<hw::search_result>(std::string_view(body()));
    if (!r) std::abort();
    benchmark::DoNotOptimize(r);
  });
}
void BM_rest_decode_body(benchmark::State& state) {
  measure(state, [] {
    auto r = intg::rest::decode_body<sp::search_result>(body());
    if (!r) std::abort();
    benchmark::DoNotOptimize(r);
  });
}
void BM_rest_parse_then_decode(benchmark::State& state) {  // decode_body without its arena
  measure(state, [] {
    auto v = json::parse(body());
    auto r = intg::rest::decode<sp::search_result>(v);
    if (!r) std::abort();
    benchmark::DoNotOptimize(r);
  });
}
// The parse alone, for scale: json::parse with the default allocator.
void BM_json_parse_only(benchmark::State& state) {
  measure(state, [] {
    auto v = json::parse(body());
    benchmark::DoNotOptimize(v);
  });
}

// The two readers must agree on what they read before their speed is compared.
bool same_reading() {
  auto a = hw::parse<hw::search_result>(document());
  auto b = intg::rest::decode<sp::search_result>(document());
  if (!a || !b || !a->tracks || !b->tracks) return false;
  const auto& x = a->tracks->items;
  const auto& y = b->tracks->items;
  if (x.size() != y.size() || x.size() != 20) return false;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (x[i].id != y[i].id || x[i].album.images.size() != y[i].album.images.size() ||
        x[i].available_markets != *y[i].available_markets || x[i].is_explicit != *y[i].explicit_ ||
        x[i].artists.back().name != y[i].artists.back().name || x[i].preview_url != y[i].preview_url)
      return false;
  }
  return true;
}

}  // namespace

BENCHMARK(BM_spotify_parse_value);
BENCHMARK(BM_rest_decode_value);
BENCHMARK(BM_spotify_parse_body);
BENCHMARK(BM_rest_decode_body);
BENCHMARK(BM_rest_parse_then_decode);
BENCHMARK(BM_json_parse_only);

int main(int argc, char** argv) {
  if (!same_reading()) {
    std::fprintf(stderr, "rest_decode: the kit-decoded models and the hand-written reader read the answer differently\n");
    return 1;
  }
  std::fprintf(stderr, "search answer: %zu bytes\n", body().size());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
