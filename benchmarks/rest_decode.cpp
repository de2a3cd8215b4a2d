// Typed decoding through the provider kit's converter (intg::rest::decode, described structs) next
// to the hand-written Spotify models (intg::spotify::parse) on the same bytes: a GET /search
// answer with a page of 20 full track objects. Issue 12's goal: the converter within 1.1x.
//
//   BM_spotify_parse_value / BM_rest_decode_value   from the parsed document (the mapping alone)
//   BM_spotify_parse_body  / BM_rest_decode_body    from the response bytes (parse + mapping)
//
// Pair them with benchmarks/ratio.py:
//   rest_decode --benchmark_repetitions=10 --benchmark_enable_random_interleaving=true
//       --benchmark_format=json > run.json
//   python3 benchmarks/ratio.py run.json BM_rest_decode_value BM_spotify_parse_value
//
// The twins below declare what the hand-written reader reads: its required fields as plain
// members, its "read when present" fields as std::optional (the kit's rule for absent members).
#include "malloc_counter.hpp"

#include <intg/providers/spotify/model.hpp>
#include <intg/rest/json.hpp>

#include <benchmark/benchmark.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace twin {

struct external_urls_object {
  std::optional<std::string> spotify;
};
BOOST_DESCRIBE_STRUCT(external_urls_object, (), (spotify))

struct external_ids_object {
  std::optional<std::string> isrc, ean, upc;
};
BOOST_DESCRIBE_STRUCT(external_ids_object, (), (isrc, ean, upc))

struct image {
  std::string url;
  std::optional<int> height, width;
};
BOOST_DESCRIBE_STRUCT(image, (), (url, height, width))

struct restrictions_object {
  std::optional<std::string> reason;
};
BOOST_DESCRIBE_STRUCT(restrictions_object, (), (reason))

struct simplified_artist {
  std::optional<external_urls_object> external_urls;
  std::string href, id, name, type, uri;
};
BOOST_DESCRIBE_STRUCT(simplified_artist, (), (external_urls, href, id, name, type, uri))

struct simplified_album {
  std::string album_type;
  int total_tracks = 0;
  std::vector<std::string> available_markets;
  external_urls_object external_urls;
  std::string href, id;
  std::vector<image> images;
  std::string name, release_date, release_date_precision;
  std::optional<restrictions_object> restrictions;
  std::string type, uri;
  std::vector<simplified_artist> artists;
};
BOOST_DESCRIBE_STRUCT(simplified_album, (),
                      (album_type, total_tracks, available_markets, external_urls, href, id, images, name,
                       release_date, release_date_precision, restrictions, type, uri, artists))

struct linked_track {
  std::optional<external_urls_object> external_urls;
  std::optional<std::string> href, id, type, uri;
};
BOOST_DESCRIBE_STRUCT(linked_track, (), (external_urls, href, id, type, uri))

struct track {
  simplified_album album;
  std::vector<simplified_artist> artists;
  std::optional<std::vector<std::string>> available_markets;
  std::optional<int> disc_number;
  int duration_ms = 0;
  std::optional<bool> explicit_;
  std::optional<external_ids_object> external_ids;
  std::optional<external_urls_object> external_urls;
  std::string href, id;
  std::optional<bool> is_playable;
  std::optional<linked_track> linked_from;
  std::optional<restrictions_object> restrictions;
  std::string name;
  std::optional<int> popularity;
  std::optional<std::string> preview_url;
  std::optional<int> track_number;
  std::string type, uri;
  std::optional<bool> is_local;
};
BOOST_DESCRIBE_STRUCT(track, (),
                      (album, artists, available_markets, disc_number, duration_ms, explicit_, external_ids,
                       external_urls, href, id, is_playable, linked_from, restrictions, name, popularity,
                       preview_url, track_number, type, uri, is_local))

struct paging_of_tracks {
  std::string href;
  std::vector<track> items;
  int limit = 0;
  std::optional<std::string> next;
  int offset = 0;
  std::optional<std::string> previous;
  int total = 0;
};
BOOST_DESCRIBE_STRUCT(paging_of_tracks, (), (href, items, limit, next, offset, previous, total))

struct search_result {
  std::optional<paging_of_tracks> tracks;
};
BOOST_DESCRIBE_STRUCT(search_result, (), (tracks))

}  // namespace twin

namespace {

namespace json = boost::json;
namespace sp = intg::spotify;

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
    t.external_urls.spotify = "https://open.spotify.com/track/" + t.id;
    t.external_ids.isrc = "USRC1120030" + n;
    t.duration_ms = 243960 + i;
    t.popularity = 70 + i % 30;
    t.track_number = 2;
    t.is_explicit = i % 3 == 0;
    t.preview_url = "https://p.scdn.co/mp3-preview/3eb16018c2a700240e9dfb8817b6f2d041f15eb1" + n;
    for (const char* m : markets) t.available_markets.emplace_back(m);
    for (int a = 0; a < 2; ++a) {
      sp::simplified_artist ar;
      ar.id = "63MQldklfxkjYDoUE4Tppz" + std::to_string(a);
      ar.name = a ? "Anthony Gonzalez" : "M83";
      ar.href = "https://api.spotify.com/v1/artists/" + ar.id;
      ar.uri = "spotify:artist:" + ar.id;
      ar.external_urls.spotify = "https://open.spotify.com/artist/" + ar.id;
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
    al.available_markets = t.available_markets;
    al.artists = {t.artists[0]};
    for (int s : {640, 300, 64}) al.images.push_back({"https://i.scdn.co/image/ab67616d0000b273" + n, s, s});
    page.items.push_back(std::move(t));
  }
  return json::serialize(sp::to_json(r));
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
    auto r = sp::parse<sp::search_result>(document());
    if (!r) std::abort();
    benchmark::DoNotOptimize(r);
  });
}
void BM_rest_decode_value(benchmark::State& state) {
  measure(state, [] {
    auto r = intg::rest::decode<twin::search_result>(document());
    if (!r) std::abort();
    benchmark::DoNotOptimize(r);
  });
}
void BM_spotify_parse_body(benchmark::State& state) {
  measure(state, [] {
    auto r = sp::parse<sp::search_result>(std::string_view(body()));
    if (!r) std::abort();
    benchmark::DoNotOptimize(r);
  });
}
void BM_rest_decode_body(benchmark::State& state) {
  measure(state, [] {
    auto r = intg::rest::decode_body<twin::search_result>(body());
    if (!r) std::abort();
    benchmark::DoNotOptimize(r);
  });
}
void BM_rest_parse_then_decode(benchmark::State& state) {  // decode_body without its arena
  measure(state, [] {
    auto v = json::parse(body());
    auto r = intg::rest::decode<twin::search_result>(v);
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
  auto a = sp::parse<sp::search_result>(document());
  auto b = intg::rest::decode<twin::search_result>(document());
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
    std::fprintf(stderr, "rest_decode: the twins and the hand-written models read the answer differently\n");
    return 1;
  }
  std::fprintf(stderr, "search answer: %zu bytes\n", body().size());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
