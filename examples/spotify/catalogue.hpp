// The local Spotify server's music catalogue: artists, albums, tracks, users and playlists
// generated deterministically from word lists with a fixed-seed PRNG (the same seed gives the same
// ids and names on every machine), plus the search that matches queries against it. It holds raw
// data; local_server.hpp turns it into the Web API's JSON shapes (hrefs depend on the server's URL).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace spotify_local {

/// splitmix64: tiny, fast, and the same sequence everywhere (std distributions are not portable).
class prng {
 public:
  explicit prng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  /// Uniform in [lo, hi] (the modulo bias is irrelevant for a catalogue).
  int between(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<std::uint64_t>(hi - lo + 1)); }
  bool chance(int percent) { return between(1, 100) <= percent; }
  template <class C>
  const auto& pick(const C& c) {
    return c[static_cast<std::size_t>(next() % c.size())];
  }

 private:
  std::uint64_t s_;
};

inline constexpr std::string_view base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whether `s` looks like a Spotify id: 22 characters of base62.
inline bool is_spotify_id(std::string_view s) {
  return s.size() == 22 && std::all_of(s.begin(), s.end(), [](char c) { return base62.find(c) != std::string_view::npos; });
}

/// Lower-cases ASCII and the Latin-1 letters (À..Þ) of UTF-8 text, enough for case-insensitive
/// search over the catalogue's names ("BJÖRK" finds "Björk").
inline std::string fold_case(std::string_view s) {
  std::string out(s);
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto c = static_cast<unsigned char>(out[i]);
    if (c >= 'A' && c <= 'Z') {
      out[i] = static_cast<char>(c + 32);
    } else if (c == 0xC3 && i + 1 < out.size()) {
      auto d = static_cast<unsigned char>(out[i + 1]);
      if (d >= 0x80 && d <= 0x9E && d != 0x97) out[i + 1] = static_cast<char>(d + 0x20);
      ++i;
    }
  }
  return out;
}

struct artist_entry {
  std::string id, name;
  std::vector<std::string> genres;
  int popularity = 0, followers = 0;
};

struct album_entry {
  std::string id, name, album_type, release_date, release_date_precision, label, upc;
  std::vector<std::size_t> artists;  ///< indexes into catalogue::artists
  std::vector<std::size_t> tracks;   ///< indexes into catalogue::tracks, in album order
  std::vector<std::string> markets;
  int popularity = 0;
  int year() const { return std::stoi(release_date.substr(0, 4)); }
};

struct track_entry {
  std::string id, name, isrc, preview_id;  ///< no preview_url when preview_id is empty
  std::size_t album = 0;
  std::vector<std::size_t> artists;
  int disc_number = 1, track_number = 1, duration_ms = 0, popularity = 0;
  bool is_explicit = false;
};

struct user_entry {
  std::string id;
  std::optional<std::string> display_name;
  int followers = 0;
};

struct playlist_entry {
  struct item {
    std::size_t track;
    std::string added_at;
    std::size_t added_by;  ///< index into catalogue::users
  };
  std::string id, name, description, snapshot_id;
  std::size_t owner = 0;
  bool is_public = true, collaborative = false;
  bool sized_image = true;  ///< some playlist images have no known size (null width/height)
  std::vector<item> items;
};

/// Parameters of a search: the query's plain terms and field filters.
struct search_query {
  std::vector<std::string> terms;  ///< folded; each must appear in the item's names
  std::optional<std::string> artist, track, album, genre;  ///< folded field filters
  std::optional<std::pair<int, int>> years;                ///< year:1990 or year:1990-1999

  /// Parses `q`: words and "quoted phrases" are terms; artist:, track:, album:, genre:, year:
  /// are filters (their value may be quoted). Other filters (tag:, isrc:, upc:) are ignored.
  static search_query parse(std::string_view q) {
    search_query out;
    std::size_t i = 0;
    auto read_word = [&]() {
      std::string w;
      if (i < q.size() && q[i] == '"') {
        ++i;
        while (i < q.size() && q[i] != '"') w += q[i++];
        if (i < q.size()) ++i;
      } else {
        bool in_quotes = false;  // artist:"two words" stays one word, without its quotes
        while (i < q.size() && (in_quotes || q[i] != ' ')) {
          if (q[i] == '"') {
            in_quotes = !in_quotes;
            ++i;
          } else {
            w += q[i++];
          }
        }
      }
      return w;
    };
    while (i < q.size()) {
      if (q[i] == ' ') {
        ++i;
        continue;
      }
      const bool quoted = q[i] == '"';
      std::string w = read_word();
      if (const auto colon = w.find(':'); !quoted && colon != std::string::npos && colon > 0) {
        std::string field = fold_case(w.substr(0, colon));
        std::string value = w.substr(colon + 1);
        value = fold_case(value);
        if (field == "artist") out.artist = value;
        else if (field == "track") out.track = value;
        else if (field == "album") out.album = value;
        else if (field == "genre") out.genre = value;
        else if (field == "year") {
          const auto dash = value.find('-');
          try {
            const int a = std::stoi(value.substr(0, dash));
            const int b = dash == std::string::npos ? a : std::stoi(value.substr(dash + 1));
            out.years = std::pair{a, b};
          } catch (...) {
            out.years = std::pair{1, 0};  // an unparsable year matches nothing
          }
        }
        continue;
      }
      if (!w.empty()) out.terms.push_back(fold_case(w));
    }
    return out;
  }
  bool has_filters() const { return artist || track || album || genre || years; }
};

/// The generated catalogue.
class catalogue {
 public:
  std::vector<artist_entry> artists;
  std::vector<album_entry> albums;
  std::vector<track_entry> tracks;
  std::vector<user_entry> users;
  std::vector<playlist_entry> playlists;
  static constexpr std::array<std::string_view, 20> all_markets = {
      "US", "GB", "DE", "FR", "SE", "JP", "BR", "ES", "IT", "NL", "CA", "AU", "MX", "PL", "NO", "DK", "FI", "KR", "IN", "ZA"};

  /// Generates the catalogue; the same seed always gives the same catalogue.
  explicit catalogue(std::uint64_t seed = 20240601) {
    prng rng(seed);
    make_artists(rng);
    make_albums_and_tracks(rng);
    make_users();
    make_playlists(rng);
    index();
  }

  const artist_entry* find_artist(std::string_view id) const { return find(artist_ids_, artists, id); }
  const album_entry* find_album(std::string_view id) const { return find(album_ids_, albums, id); }
  const track_entry* find_track(std::string_view id) const { return find(track_ids_, tracks, id); }
  const playlist_entry* find_playlist(std::string_view id) const { return find(playlist_ids_, playlists, id); }
  const user_entry* find_user(std::string_view id) const { return find(user_ids_, users, id); }
  std::size_t index_of(const user_entry& u) const { return static_cast<std::size_t>(&u - users.data()); }
  std::size_t index_of(const track_entry& t) const { return static_cast<std::size_t>(&t - tracks.data()); }

  bool available(const album_entry& a, std::string_view market) const {
    return std::find(a.markets.begin(), a.markets.end(), market) != a.markets.end();
  }

  /// Indexes of the tracks matching `q` (and available in `market` when given), most popular first.
  std::vector<std::size_t> search_tracks(const search_query& q, std::string_view market) const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < tracks.size(); ++i) {
      const auto& t = tracks[i];
      const auto& al = albums[t.album];
      if (!market.empty() && !available(al, market)) continue;
      std::string text = fold_case(t.name) + " " + fold_case(al.name);
      std::string artist_names;
      for (auto a : t.artists) artist_names += fold_case(artists[a].name) + " ";
      text += " " + artist_names;
      if (!all_terms(q, text)) continue;
      if (q.track && fold_case(t.name).find(*q.track) == std::string::npos) continue;
      if (q.album && fold_case(al.name).find(*q.album) == std::string::npos) continue;
      if (q.artist && artist_names.find(*q.artist) == std::string::npos) continue;
      if (q.years && (al.year() < q.years->first || al.year() > q.years->second)) continue;
      if (q.genre && !any_genre(t.artists, *q.genre)) continue;
      out.push_back(i);
    }
    by_popularity(out, tracks);
    return out;
  }

  std::vector<std::size_t> search_artists(const search_query& q) const {
    std::vector<std::size_t> out;
    if (q.track || q.album || q.years) return out;  // filters that say nothing of an artist
    for (std::size_t i = 0; i < artists.size(); ++i) {
      const auto name = fold_case(artists[i].name);
      if (!all_terms(q, name)) continue;
      if (q.artist && name.find(*q.artist) == std::string::npos) continue;
      if (q.genre && !any_genre({i}, *q.genre)) continue;
      out.push_back(i);
    }
    by_popularity(out, artists);
    return out;
  }

  std::vector<std::size_t> search_albums(const search_query& q, std::string_view market) const {
    std::vector<std::size_t> out;
    if (q.track) return out;
    for (std::size_t i = 0; i < albums.size(); ++i) {
      const auto& al = albums[i];
      if (!market.empty() && !available(al, market)) continue;
      std::string artist_names;
      for (auto a : al.artists) artist_names += fold_case(artists[a].name) + " ";
      if (!all_terms(q, fold_case(al.name) + " " + artist_names)) continue;
      if (q.album && fold_case(al.name).find(*q.album) == std::string::npos) continue;
      if (q.artist && artist_names.find(*q.artist) == std::string::npos) continue;
      if (q.years && (al.year() < q.years->first || al.year() > q.years->second)) continue;
      if (q.genre && !any_genre(al.artists, *q.genre)) continue;
      out.push_back(i);
    }
    by_popularity(out, albums);
    return out;
  }

  /// Public playlists whose name or description contains every term; field filters exclude them.
  std::vector<std::size_t> search_playlists(const search_query& q) const {
    std::vector<std::size_t> out;
    if (q.has_filters() || q.terms.empty()) return out;
    for (std::size_t i = 0; i < playlists.size(); ++i) {
      const auto& p = playlists[i];
      if (p.is_public && all_terms(q, fold_case(p.name) + " " + fold_case(p.description))) out.push_back(i);
    }
    return out;
  }

 private:
  template <class T>
  static const T* find(const std::unordered_map<std::string, std::size_t>& ids, const std::vector<T>& v,
                       std::string_view id) {
    auto it = ids.find(std::string(id));
    return it == ids.end() ? nullptr : &v[it->second];
  }

  static bool all_terms(const search_query& q, const std::string& text) {
    return std::all_of(q.terms.begin(), q.terms.end(), [&](const std::string& t) { return text.find(t) != std::string::npos; });
  }

  bool any_genre(const std::vector<std::size_t>& who, const std::string& genre) const {
    for (auto a : who)
      for (const auto& g : artists[a].genres)
        if (fold_case(g).find(genre) != std::string::npos) return true;
    return false;
  }

  template <class T>
  static void by_popularity(std::vector<std::size_t>& v, const std::vector<T>& items) {
    std::stable_sort(v.begin(), v.end(), [&](std::size_t a, std::size_t b) { return items[a].popularity > items[b].popularity; });
  }

  std::string new_id(prng& rng) {
    for (;;) {
      std::string id;
      for (int i = 0; i < 22; ++i) id += base62[static_cast<std::size_t>(rng.next() % base62.size())];
      if (used_ids_.insert(id).second) return id;
    }
  }

  void make_artists(prng& rng) {
    static constexpr std::array<std::string_view, 24> first = {
        "Léa", "Björn", "Zoë", "Mateo", "Aiko", "Søren", "Amara", "Jonas", "Inès", "Kai", "Noor", "Élodie",
        "Tomás", "Freya", "Ravi", "Mira", "Dmitri", "Ana", "Yuki", "Olu", "Chloé", "Nils", "Ximena", "Jae"};
    static constexpr std::array<std::string_view, 18> last = {
        "Moreau", "Lindqvist", "Okafor", "Núñez", "Hansen", "Takahashi", "Schäfer", "Costa", "Novak",
        "Brennan", "Ødegaard", "Kowalski", "Ferreira", "Dubois", "Ivanova", "Park", "Mbeki", "Åberg"};
    static constexpr std::array<std::string_view, 16> adjective = {
        "Velvet", "Electric", "Silver", "Midnight", "Crimson", "Hollow", "Golden", "Wandering",
        "Neon", "Quiet", "Paper", "Broken", "Wild", "Frozen", "Lunar", "Café"};
    static constexpr std::array<std::string_view, 14> plural = {
        "Foxes", "Harbors", "Echoes", "Satellites", "Lanterns", "Rivers", "Pilots", "Wolves", "Giants",
        "Sparrows", "Machines", "Tides", "Comètes", "Nachtfalter"};
    static constexpr std::array<std::string_view, 14> genres = {
        "indie rock", "synth-pop", "jazz", "hip hop", "folk", "techno", "bossa nova", "k-pop",
        "ambient", "soul", "metal", "chanson", "afrobeats", "nordic folk"};
    std::set<std::string> names;
    while (artists.size() < 60) {
      std::string name;
      if (artists.size() % 3 == 0) {
        name = "The " + std::string(rng.pick(adjective)) + " " + std::string(rng.pick(plural));
      } else if (artists.size() % 7 == 1) {
        name = std::string(rng.pick(adjective)) + " " + std::string(rng.pick(plural));
      } else {
        name = std::string(rng.pick(first)) + " " + std::string(rng.pick(last));
      }
      if (!names.insert(name).second) continue;
      artist_entry a;
      a.id = new_id(rng);
      a.name = std::move(name);
      a.genres.emplace_back(rng.pick(genres));
      if (rng.chance(50)) a.genres.emplace_back(rng.pick(genres));
      if (a.genres.size() == 2 && a.genres[0] == a.genres[1]) a.genres.pop_back();
      a.popularity = rng.between(5, 95);
      a.followers = rng.between(120, 4'000'000);
      artists.push_back(std::move(a));
    }
  }

  static std::string title(prng& rng) {
    static constexpr std::array<std::string_view, 16> adjective = {
        "Midnight", "Golden", "Electric", "Summer", "Broken", "Silent", "Neon", "Paper",
        "Velvet", "Endless", "Lost", "Northern", "Wild", "Crystal", "Burning", "Slow"};
    static constexpr std::array<std::string_view, 16> noun = {
        "Heart", "River", "City", "Dreams", "Skyline", "Fire", "Rain", "Highway",
        "Lights", "Garden", "Echo", "Signal", "Ocean", "Mirror", "Satellite", "Avenue"};
    static constexpr std::array<std::string_view, 12> foreign = {
        "Canción del Mar", "Über den Wolken", "Sommarnatt", "Café Noir", "Ça ira", "Łąka",
        "東京の夜", "Rêverie", "Smörgåsbord Blues", "São Paulo Sunrise", "Ночь", "Fjäril"};
    static constexpr std::array<std::string_view, 4> suffix = {" (Acoustic)", " - Remastered 2011", " (feat. Strings)", " - Live"};
    std::string t;
    const int form = rng.between(1, 10);
    if (form <= 2) {
      t = std::string(rng.pick(foreign));
    } else if (form <= 4) {
      t = std::string(rng.pick(noun)) + " of the " + std::string(rng.pick(adjective)) + " " + std::string(rng.pick(noun));
    } else {
      t = std::string(rng.pick(adjective)) + " " + std::string(rng.pick(noun));
    }
    if (rng.chance(12)) t += rng.pick(suffix);
    return t;
  }

  void make_albums_and_tracks(prng& rng) {
    static constexpr std::array<std::string_view, 8> labels = {
        "Northern Lights Records", "Blue Harbor", "Disques Mistral", "Sonar Kollektiv Nord", "Tokyo Tape Club",
        "Atlântico Music", "Sub Rosa Sound", "Independent"};
    for (int i = 0; i < 100; ++i) {
      album_entry al;
      al.id = new_id(rng);
      const int kind = rng.between(1, 10);
      al.album_type = kind <= 6 ? "album" : kind <= 9 ? "single" : "compilation";
      const std::size_t main_artist = i < 60 ? static_cast<std::size_t>(i) : static_cast<std::size_t>(rng.between(0, 59));
      al.artists.push_back(main_artist);
      if (al.album_type == "compilation" || rng.chance(10)) {
        const auto other = static_cast<std::size_t>(rng.between(0, 59));
        if (other != main_artist) al.artists.push_back(other);
      }
      al.name = al.album_type == "compilation" ? "The Best of " + title(rng) : title(rng);
      const int year = rng.between(1965, 2025), month = rng.between(1, 12), day = rng.between(1, 28);
      char date[16];
      const int precision = rng.between(1, 10);
      if (precision <= 7) {
        std::snprintf(date, sizeof date, "%04d-%02d-%02d", year, month, day);
        al.release_date_precision = "day";
      } else if (precision == 8) {
        std::snprintf(date, sizeof date, "%04d-%02d", year, month);
        al.release_date_precision = "month";
      } else {
        std::snprintf(date, sizeof date, "%04d", year);
        al.release_date_precision = "year";
      }
      al.release_date = date;
      al.label = std::string(rng.pick(labels));
      al.upc = std::to_string(600000000000ULL + rng.next() % 99999999999ULL);
      al.popularity = rng.between(0, 100);
      if (rng.chance(75)) {
        al.markets.assign(all_markets.begin(), all_markets.end());
      } else {
        for (auto m : all_markets)
          if (rng.chance(60)) al.markets.emplace_back(m);
      }
      const int n = al.album_type == "single" ? rng.between(1, 3) : al.album_type == "album" ? rng.between(6, 9) : rng.between(8, 12);
      for (int k = 0; k < n; ++k) {
        track_entry t;
        t.id = new_id(rng);
        t.name = k == 0 && al.album_type == "single" ? al.name : title(rng);
        t.album = albums.size();
        t.artists.push_back(al.album_type == "compilation" ? al.artists[static_cast<std::size_t>(k) % al.artists.size()] : main_artist);
        if (rng.chance(15)) {
          const auto feat = static_cast<std::size_t>(rng.between(0, 59));
          if (feat != t.artists.front()) t.artists.push_back(feat);
        }
        t.disc_number = n > 10 && k >= n / 2 ? 2 : 1;
        t.track_number = t.disc_number == 2 ? k - n / 2 + 1 : k + 1;
        t.duration_ms = rng.between(95'000, 420'000);
        t.popularity = std::clamp(al.popularity + rng.between(-15, 15), 0, 100);
        t.is_explicit = rng.chance(15);
        char isrc[16];
        std::snprintf(isrc, sizeof isrc, "%s%s%02d%05d", std::string(rng.pick(all_markets)).c_str(), "X7Q", year % 100,
                      static_cast<int>(tracks.size() + 1));
        t.isrc = isrc;
        if (rng.chance(60)) {
          static constexpr std::string_view hex = "0123456789abcdef";
          for (int h = 0; h < 40; ++h) t.preview_id += hex[rng.next() % 16];
        }
        al.tracks.push_back(tracks.size());
        tracks.push_back(std::move(t));
      }
      albums.push_back(std::move(al));
    }
  }

  void make_users() {
    users.push_back({"spotify", "Spotify", 9'800'000});
    users.push_back({"anna.lindqvist", "Anna Lindqvist", 212});
    users.push_back({"marco_rossi", "Marco Rossi", 57});
    users.push_back({"dj.kenji", "DJ Kenji", 3'410});
    users.push_back({"zoe.muller", "Zoë Müller", 18});
    users.push_back({"31l5p7cvyxq2", std::nullopt, 0});  // a user without a display name
  }

  void make_playlists(prng& rng) {
    static constexpr std::array<std::string_view, 10> mood = {
        "Late Night", "Sunday Morning", "Deep Focus", "Road Trip", "Rainy Day", "Workout", "Dinner Party",
        "Café Mornings", "Sommarkväll", "Fête"};
    static constexpr std::array<std::string_view, 8> genre = {
        "Jazz", "Indie", "Synth-Pop", "Hip Hop", "Folk", "Techno", "Bossa Nova", "Chanson"};
    for (int i = 0; i < 40; ++i) {
      playlist_entry p;
      p.id = new_id(rng);
      p.owner = i < 12 ? 0 : static_cast<std::size_t>(1 + i % 5);
      const int form = rng.between(1, 4);
      if (form == 1) {
        p.name = std::string(rng.pick(mood)) + " " + std::string(rng.pick(genre));
      } else if (form == 2) {
        p.name = std::string(rng.pick(genre)) + " Essentials";
      } else if (form == 3) {
        p.name = "This Is " + artists[static_cast<std::size_t>(rng.between(0, 59))].name;
      } else {
        p.name = std::string(rng.pick(mood)) + " " + std::to_string(rng.between(2015, 2025));
      }
      p.description = p.owner == 0 ? "The " + std::string(rng.pick(genre)) + " songs everyone is playing right now." : "";
      // Every fourth user playlist is private (every user with playlists has one); some of those
      // are collaborative, as only private playlists can be.
      p.is_public = p.owner == 0 || i % 4 != 3;
      p.collaborative = !p.is_public && i % 8 == 7;
      p.sized_image = rng.chance(60);
      for (int h = 0; h < 32; ++h) p.snapshot_id += base62[static_cast<std::size_t>(rng.next() % base62.size())];
      const int n = i == 39 ? 0 : rng.between(5, 75);  // the last one is empty
      std::set<std::size_t> seen;
      for (int k = 0; k < n; ++k) {
        const auto t = static_cast<std::size_t>(rng.next() % tracks.size());
        if (!seen.insert(t).second) continue;
        char when[32];
        std::snprintf(when, sizeof when, "%04d-%02d-%02dT%02d:%02d:%02dZ", rng.between(2016, 2025), rng.between(1, 12),
                      rng.between(1, 28), rng.between(0, 23), rng.between(0, 59), rng.between(0, 59));
        const std::size_t by = p.collaborative ? static_cast<std::size_t>(rng.between(1, 5)) : p.owner;
        p.items.push_back({t, when, by});
      }
      playlists.push_back(std::move(p));
    }
  }

  void index() {
    for (std::size_t i = 0; i < artists.size(); ++i) artist_ids_.emplace(artists[i].id, i);
    for (std::size_t i = 0; i < albums.size(); ++i) album_ids_.emplace(albums[i].id, i);
    for (std::size_t i = 0; i < tracks.size(); ++i) track_ids_.emplace(tracks[i].id, i);
    for (std::size_t i = 0; i < playlists.size(); ++i) playlist_ids_.emplace(playlists[i].id, i);
    for (std::size_t i = 0; i < users.size(); ++i) user_ids_.emplace(users[i].id, i);
  }

  std::set<std::string> used_ids_;
  std::unordered_map<std::string, std::size_t> artist_ids_, album_ids_, track_ids_, playlist_ids_, user_ids_;
};

}  // namespace spotify_local
