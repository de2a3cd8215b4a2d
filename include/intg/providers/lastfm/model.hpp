// Last.fm API 2.0 objects and parameters, declared once with Boost.Describe; intg::rest decodes
// and encodes them. Last.fm's JSON is converted from its XML: counts are strings ("1204"), and
// keys such as "#text" and "@attr" are not C++ names: the models map them (rest::json_key).
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/rest/json.hpp>

#include <boost/describe.hpp>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace intg::lastfm {

using opt_string = std::optional<std::string>;
using opt_int = std::optional<std::int64_t>;

/// An image URL in one size ("small", "medium", "large", "extralarge"); the URL may be empty.
struct image_link {
  std::string text{};
  opt_string size{};
  static constexpr rest::json_key json_keys[] = {{"text", "#text"}};
};
BOOST_DESCRIBE_STRUCT(image_link, (), (text, size))

/// A track in search results (the artist is a name here).
struct track_match {
  std::string name{}, artist{};
  opt_string url{}, listeners{}, mbid{}, streamable{};
  std::optional<std::vector<image_link>> image{};
};
BOOST_DESCRIBE_STRUCT(track_match, (), (name, artist, url, listeners, mbid, streamable, image))

/// An artist in search results.
struct artist_match {
  std::string name{};
  opt_string url{}, listeners{}, mbid{};
  std::optional<std::vector<image_link>> image{};
};
BOOST_DESCRIBE_STRUCT(artist_match, (), (name, url, listeners, mbid, image))

struct artist_ref {
  std::string name{};
  opt_string mbid{}, url{};
};
BOOST_DESCRIBE_STRUCT(artist_ref, (), (name, mbid, url))

struct rank_attr {
  opt_string rank{};
};
BOOST_DESCRIBE_STRUCT(rank_attr, (), (rank))

/// One of an artist's top tracks (the artist is an object here); `attr` is "@attr": its rank.
struct top_track {
  std::string name{};
  opt_string playcount{}, listeners{}, mbid{}, url{};
  artist_ref artist{};
  std::optional<std::vector<image_link>> image{};
  std::optional<rank_attr> attr{};
  static constexpr rest::json_key json_keys[] = {{"attr", "@attr"}};
};
BOOST_DESCRIBE_STRUCT(top_track, (), (name, playcount, listeners, mbid, url, artist, image, attr))

/// auth.getToken's answer: a token the user authorises at authorization_url().
struct token_answer {
  std::string token{};
};
BOOST_DESCRIBE_STRUCT(token_answer, (), (token))

/// A web service session: `key` is the session key (settings.session_key), valid until the user
/// revokes it. A credential: keep it in a secret store.
struct session_info {
  std::string name{}, key{};
  std::optional<boost::json::value> subscriber{};
};
BOOST_DESCRIBE_STRUCT(session_info, (), (name, key, subscriber))

struct session_answer {
  session_info session{};
};
BOOST_DESCRIBE_STRUCT(session_answer, (), (session))

/// track.search: `track` required, `artist` narrows it; `limit` per page (Last.fm's default 30).
struct track_search_params {
  std::string track{};
  opt_string artist{};
  opt_int limit{}, page{};
  result<void> validate() const {
    if (track.empty()) return error(errc::invalid_argument, "lastfm: track.search needs a track name");
    return {};
  }
};
BOOST_DESCRIBE_STRUCT(track_search_params, (), (track, artist, limit, page))

struct artist_search_params {
  std::string artist{};
  opt_int limit{}, page{};
  result<void> validate() const {
    if (artist.empty()) return error(errc::invalid_argument, "lastfm: artist.search needs an artist name");
    return {};
  }
};
BOOST_DESCRIBE_STRUCT(artist_search_params, (), (artist, limit, page))

/// artist.getTopTracks: by name or MusicBrainz id; `autocorrect` 1 fixes misspelt names.
struct top_tracks_params {
  opt_string artist{}, mbid{};
  opt_int autocorrect{}, limit{}, page{};
  result<void> validate() const {
    if (!artist && !mbid) return error(errc::invalid_argument, "lastfm: artist.getTopTracks needs an artist or an mbid");
    return {};
  }
};
BOOST_DESCRIBE_STRUCT(top_tracks_params, (), (artist, mbid, autocorrect, limit, page))

struct session_params {
  std::string token{};
};
BOOST_DESCRIBE_STRUCT(session_params, (), (token))

/// One listen to scrobble. `timestamp`: when it started, Unix seconds (Last.fm ignores listens
/// older than 14 days).
struct scrobble {
  std::string artist{}, track{};
  std::int64_t timestamp = 0;
  opt_string album{}, album_artist{}, mbid{};
  opt_int track_number{}, duration{};
};

/// track.scrobble's batch (1 to 50 listens), sent as Last.fm's indexed form fields
/// (`artist[0]`, `track[0]`, `timestamp[0]`, ...). Build it with add().
struct scrobble_batch {
  std::vector<std::string> artist{}, track{};
  std::vector<std::int64_t> timestamp{};
  std::vector<opt_string> album{}, albumArtist{}, mbid{};
  std::vector<opt_int> trackNumber{}, duration{};

  scrobble_batch& add(const scrobble& s) {
    artist.push_back(s.artist);
    track.push_back(s.track);
    timestamp.push_back(s.timestamp);
    album.push_back(s.album);
    albumArtist.push_back(s.album_artist);
    mbid.push_back(s.mbid);
    trackNumber.push_back(s.track_number);
    duration.push_back(s.duration);
    return *this;
  }
  std::size_t size() const noexcept { return artist.size(); }
  result<void> validate() const {
    if (artist.empty() || artist.size() > 50) return error(errc::invalid_argument, "lastfm: a scrobble batch holds 1 to 50 listens");
    for (std::size_t i = 0; i < artist.size(); ++i)
      if (artist[i].empty() || track[i].empty() || timestamp[i] <= 0)
        return error(errc::invalid_argument, "lastfm: scrobble " + std::to_string(i) + " needs an artist, a track and a timestamp");
    return {};
  }
};
BOOST_DESCRIBE_STRUCT(scrobble_batch, (), (artist, track, timestamp, album, albumArtist, mbid, trackNumber, duration))

/// How many listens of a batch Last.fm accepted and ignored (an ignored one is not an error: too
/// old, or filtered as spam).
struct scrobble_counts {
  std::int64_t accepted = 0, ignored = 0;
};

}  // namespace intg::lastfm
