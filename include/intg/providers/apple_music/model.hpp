// Apple Music API resources (developer.apple.com/documentation/applemusicapi), declared once with
// Boost.Describe; intg::rest decodes them. Every resource is {id, type, href, attributes}, with
// attribute names in Apple's camelCase. Apple adds attributes often: unknown ones are ignored, and
// only what every resource of a kind carries is required.
#pragma once

#include <boost/describe.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace intg::apple_music {

using opt_string = std::optional<std::string>;
using opt_int = std::optional<std::int64_t>;

/// An image: `url` has {w} and {h} placeholders for the size wanted.
struct artwork {
  std::string url{};
  opt_int width{}, height{};
  opt_string bgColor{}, textColor1{}, textColor2{};
};
BOOST_DESCRIBE_STRUCT(artwork, (), (url, width, height, bgColor, textColor1, textColor2))

struct play_params {
  std::string id{}, kind{};
};
BOOST_DESCRIBE_STRUCT(play_params, (), (id, kind))

struct preview {
  std::string url{};
};
BOOST_DESCRIBE_STRUCT(preview, (), (url))

struct song_attributes {
  std::string name{}, artistName{};
  opt_string albumName{}, isrc{}, releaseDate{}, url{}, composerName{}, contentRating{};
  std::vector<std::string> genreNames{};
  opt_int durationInMillis{}, trackNumber{}, discNumber{};
  std::optional<apple_music::artwork> artwork{};
  std::optional<play_params> playParams{};
  std::optional<std::vector<preview>> previews{};
};
BOOST_DESCRIBE_STRUCT(song_attributes, (), (name, artistName, albumName, isrc, releaseDate, url, composerName, contentRating,
                                            genreNames, durationInMillis, trackNumber, discNumber, artwork, playParams, previews))

struct album_attributes {
  std::string name{}, artistName{};
  opt_string releaseDate{}, recordLabel{}, upc{}, url{}, copyright{}, contentRating{};
  std::vector<std::string> genreNames{};
  opt_int trackCount{};
  std::optional<bool> isSingle{}, isComplete{};
  std::optional<apple_music::artwork> artwork{};
  std::optional<play_params> playParams{};
};
BOOST_DESCRIBE_STRUCT(album_attributes, (), (name, artistName, releaseDate, recordLabel, upc, url, copyright, contentRating,
                                             genreNames, trackCount, isSingle, isComplete, artwork, playParams))

struct description {
  opt_string standard{}, short_{};  ///< JSON "short"
};
BOOST_DESCRIBE_STRUCT(description, (), (standard, short_))

struct playlist_attributes {
  std::string name{};
  opt_string curatorName{}, playlistType{}, lastModifiedDate{}, url{};
  std::optional<apple_music::description> description{};
  std::optional<apple_music::artwork> artwork{};
  std::optional<play_params> playParams{};
};
BOOST_DESCRIBE_STRUCT(playlist_attributes, (), (name, curatorName, playlistType, lastModifiedDate, url, description, artwork, playParams))

struct library_song_attributes {
  std::string name{};
  opt_string artistName{}, albumName{}, releaseDate{}, contentRating{};
  std::vector<std::string> genreNames{};
  opt_int durationInMillis{}, trackNumber{}, discNumber{};
  std::optional<bool> hasLyrics{};
  std::optional<apple_music::artwork> artwork{};
  std::optional<play_params> playParams{};
};
BOOST_DESCRIBE_STRUCT(library_song_attributes, (), (name, artistName, albumName, releaseDate, contentRating, genreNames,
                                                    durationInMillis, trackNumber, discNumber, hasLyrics, artwork, playParams))

/// A resource of kind `Attributes` ("songs", "albums", "playlists", "library-songs").
template <class Attributes>
struct resource {
  std::string id{}, type{}, href{};
  std::optional<Attributes> attributes{};
  BOOST_DESCRIBE_CLASS(resource, (), (id, type, href, attributes), (), ())
};
using song = resource<song_attributes>;
using album = resource<album_attributes>;
using playlist = resource<playlist_attributes>;
using library_song = resource<library_song_attributes>;

/// {"data": [...]}: what fetching resources by id answers (unknown ids are left out).
template <class T>
struct data_of {
  std::vector<T> data{};
  BOOST_DESCRIBE_CLASS(data_of, (), (data), (), ())
};

/// One kind of search results: a page of it, `next` a path ("/v1/catalog/us/search?offset=25&...").
template <class T>
struct result_page {
  std::string href{};
  opt_string next{};
  std::vector<T> data{};
  BOOST_DESCRIBE_CLASS(result_page, (), (href, next, data), (), ())
};

struct search_results {
  std::optional<result_page<song>> songs{};
  std::optional<result_page<album>> albums{};
  std::optional<result_page<playlist>> playlists{};
};
BOOST_DESCRIBE_STRUCT(search_results, (), (songs, albums, playlists))

struct search_response {
  search_results results{};
};
BOOST_DESCRIBE_STRUCT(search_response, (), (results))

}  // namespace intg::apple_music
