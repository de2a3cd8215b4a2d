// A local fake of Last.fm's API 2.0 for tests, following Last.fm's API documentation: one endpoint
// (/2.0/) with the method in the `method` parameter; JSON only (format=json); the API key as a
// parameter; auth.getToken, auth.getSession and track.scrobble signed with api_sig (MD5 of the
// sorted parameters but format and callback, then the shared secret), checked here independently
// of the client's signer; track.scrobble POSTed with the session key; errors as
// {"error": N, "message": "..."} with Last.fm's codes (3 invalid method, 4 invalid token, 6
// invalid parameters, 9 invalid session key, 10 invalid API key, 11 service offline, 13 invalid
// signature, 14 unauthorised token, 29 rate limit); pages with "@attr" page/totalPages; and, as
// Last.fm's JSON converted from XML does, a list of one item written as a lone object.
//
//   fakes::lastfm_fake fake(io.get_executor());
//   fake.start();                          // http://127.0.0.1:PORT/2.0
//   fake.script(fakes::lastfm_fake::rate_limited());
#pragma once

#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/hash.hpp>
#include <intg/testing/fake_api.hpp>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace fakes {

namespace json = boost::json;
namespace http = intg::http;
namespace t = intg::testing;
using verb = boost::beast::http::verb;
using status = boost::beast::http::status;

class lastfm_fake {
 public:
  static constexpr std::string_view api_key = "0123456789abcdef0123456789abcdef";
  static constexpr std::string_view shared_secret = "fedcba9876543210fedcba9876543210";
  static constexpr std::string_view user = "intg-listener";

  struct track {
    std::string name, artist;
    std::int64_t listeners;
  };

  explicit lastfm_fake(boost::asio::any_io_executor ex) : api_(ex, options()) {
    api_.route(verb::get, "/2.0/", [this](t::call& c) { return dispatch(c, false); }, false);
    api_.route(verb::post, "/2.0/", [this](t::call& c) { return dispatch(c, true); }, false);
    catalogue_ = {{"Blue Monday", "New Order", 912000},      {"Blue Velvet", "Bobby Vinton", 310000},
                  {"Blue Jeans", "Lana Del Rey", 1200000},   {"Into the Blue", "Moby", 95000},
                  {"Ceremony", "New Order", 640000},         {"Regret", "New Order", 420000},
                  {"Temptation", "New Order", 700000},       {"True Faith", "New Order", 560000},
                  {"Bizarre Love Triangle", "New Order", 800000}, {"Age of Consent", "New Order", 510000},
                  {"Video Games", "Lana Del Rey", 1500000},  {"Young and Beautiful", "Lana Del Rey", 1100000},
                  {"Porcelain", "Moby", 890000},             {"Why Does My Heart Feel So Bad?", "Moby", 400000},
                  {"So What", "Miles Davis", 1300000},       {"Freddie Freeloader", "Miles Davis", 700000},
                  {"Giant Steps", "John Coltrane", 900000},  {"Naima", "John Coltrane", 600000}};
  }

  std::uint16_t start() { return api_.start(); }
  /// The base URL the kit's client takes (settings.base_url).
  std::string kit_base_url() const { return api_.base_url() + "/2.0"; }
  boost::asio::awaitable<void> stop() { co_await api_.stop(); }
  void script(t::scenario s) { api_.script(std::move(s)); }
  t::fake_api& api() noexcept { return api_; }
  const std::vector<track>& catalogue() const noexcept { return catalogue_; }

  /// The user approves `token` (the step a browser does in the desktop flow).
  void approve(std::string_view token) {
    if (auto it = tokens_.find(std::string(token)); it != tokens_.end()) it->second = true;
  }
  /// A session key the fake accepts (what auth.getSession hands out).
  std::string session_key_for_tests() {
    sessions_.push_back("sk-" + std::to_string(++sequence_) + "-0123456789abcdef");
    return sessions_.back();
  }
  /// Listens accepted by track.scrobble so far.
  const std::vector<track>& scrobbled() const noexcept { return scrobbled_; }

  /// Error 29 on an HTTP 200, as Last.fm sends it.
  static t::scenario rate_limited() {
    return t::scenarios::respond(status::ok, json::serialize(error_object(29, "Rate Limit Exceeded - Your IP has made too many requests in a short period")),
                                 "application/json", "rate_limited");
  }
  /// Error 11, "service offline", on an HTTP 503.
  static t::scenario offline() {
    return t::scenarios::respond(status::service_unavailable, json::serialize(error_object(11, "Service Offline - This service is temporarily offline, try again later.")),
                                 "application/json", "offline");
  }

 private:
  using params = std::vector<std::pair<std::string, std::string>>;

  static json::object error_object(int code, std::string_view message) { return {{"error", code}, {"message", message}}; }
  static http::server_response error(status s, int code, std::string_view message) {
    return http::make_response(s, json::serialize(error_object(code, message)), "application/json");
  }
  static http::server_response ok(const json::object& body) { return http::make_response(status::ok, json::serialize(body), "application/json"); }
  static t::fake_api_options options() {
    t::fake_api_options o;
    o.secret_fields = {"api_key", "sk", "api_sig", "token"};
    return o;
  }

  static std::string get(const params& p, std::string_view name) {
    for (const auto& [k, v] : p)
      if (k == name) return v;
    return {};
  }
  // The signature as Last.fm's spec defines it, written out here rather than reusing the client's.
  static std::string expected_signature(params p) {
    std::sort(p.begin(), p.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string text;
    for (const auto& [k, v] : p)
      if (k != "format" && k != "callback" && k != "api_sig") text += k + v;
    text += shared_secret;
    return intg::crypto::to_hex(intg::crypto::md5(text));
  }

  http::server_response dispatch(const t::call& c, bool post) {
    auto q = http::query::parse(c.query);
    if (!q) return error(status::bad_request, 6, "Invalid parameters - bad query string");
    params p = std::move(*q);
    if (post) {
      if (!p.empty()) return error(status::bad_request, 6, "Invalid parameters - a POST carries its parameters in the body");
      auto b = http::query::parse(c.request.body());
      if (!b) return error(status::bad_request, 6, "Invalid parameters - bad form body");
      p = std::move(*b);
    }
    if (get(p, "format") != "json") return error(status::bad_request, 5, "Invalid format - This service doesn't exist in that format");
    if (get(p, "api_key") != api_key) return error(status::forbidden, 10, "Invalid API key - You must be granted a valid key by last.fm");
    const std::string method = get(p, "method");
    const bool signed_method = method == "auth.getToken" || method == "auth.getSession" || method == "track.scrobble";
    if (signed_method && get(p, "api_sig") != expected_signature(p))
      return error(status::forbidden, 13, "Invalid method signature supplied");
    if (method == "track.search") return search(p);
    if (method == "artist.search") return artist_search(p);
    if (method == "artist.getTopTracks") return top_tracks(p);
    if (method == "chart.getTopArtists") return ok({{"artists", {{"artist", json::array{}}}}});
    if (method == "auth.getToken") {
      const std::string token = "tok" + std::to_string(++sequence_) + "abcdefghijklmnopqrstuvwxyz";
      tokens_[token] = false;
      return ok({{"token", token}});
    }
    if (method == "auth.getSession") {
      auto it = tokens_.find(get(p, "token"));
      if (it == tokens_.end()) return error(status::forbidden, 4, "Invalid authentication token supplied");
      if (!it->second) return error(status::forbidden, 14, "Unauthorized Token - This token has not been authorized");
      tokens_.erase(it);  // a token gives one session
      return ok({{"session", {{"name", user}, {"key", session_key_for_tests()}, {"subscriber", 0}}}});
    }
    if (method == "track.scrobble") {
      if (!post) return error(status::bad_request, 6, "Invalid parameters - track.scrobble must be POSTed");
      if (std::find(sessions_.begin(), sessions_.end(), get(p, "sk")) == sessions_.end())
        return error(status::forbidden, 9, "Invalid session key - Please re-authenticate");
      return scrobble(p);
    }
    return error(status::bad_request, 3, "Invalid Method - No method with that name in this package");
  }

  // limit and page as Last.fm reads them: defaults 30 and 1.
  static bool page_args(const params& p, std::size_t& limit, std::size_t& page) {
    auto num = [](const std::string& s, std::size_t d, std::size_t& out) {
      if (s.empty()) return out = d, true;
      if (s.size() > 6 || !std::all_of(s.begin(), s.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) return false;
      out = std::stoul(s);
      return out > 0;
    };
    return num(get(p, "limit"), 30, limit) && num(get(p, "page"), 1, page);
  }
  // A list of one is a lone object, as in Last.fm's XML-derived JSON.
  static json::value list_of(json::array items) {
    if (items.size() == 1) return items[0];
    return items;
  }
  static json::array images() {
    return {json::object{{"#text", "https://lastfm.example/i/34s/x.png"}, {"size", "small"}},
            json::object{{"#text", "https://lastfm.example/i/64s/x.png"}, {"size", "medium"}}};
  }
  static bool contains(std::string_view hay, std::string_view needle) {
    auto lower = [](std::string_view s) {
      std::string o(s);
      for (auto& ch : o) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      return o;
    };
    return lower(hay).find(lower(needle)) != std::string::npos;
  }

  template <class Select, class Render>
  static json::object paged(const params& p, std::size_t limit, std::size_t page, const std::vector<track>& all, Select sel, Render render, json::array& out) {
    std::vector<const track*> hits;
    for (const auto& tr : all)
      if (sel(tr)) hits.push_back(&tr);
    for (std::size_t i = (page - 1) * limit; i < hits.size() && i < page * limit; ++i) out.push_back(render(*hits[i], i));
    (void)p;
    return {{"page", std::to_string(page)}, {"perPage", std::to_string(limit)}, {"total", std::to_string(hits.size())},
            {"totalPages", std::to_string((hits.size() + limit - 1) / limit)}};
  }

  http::server_response search(const params& p) {
    const std::string name = get(p, "track"), artist = get(p, "artist");
    std::size_t limit = 0, page = 0;
    if (name.empty() || !page_args(p, limit, page)) return error(status::bad_request, 6, "Invalid parameters - Your request is missing a required parameter");
    json::array items;
    auto attr = paged(p, limit, page, catalogue_, [&](const track& tr) { return contains(tr.name, name) && (artist.empty() || contains(tr.artist, artist)); },
                      [](const track& tr, std::size_t) {
                        return json::object{{"name", tr.name}, {"artist", tr.artist}, {"url", "https://www.last.fm/music/x/_/y"},
                                            {"streamable", "FIXME"} /* sic: Last.fm's own value */, {"listeners", std::to_string(tr.listeners)}, {"image", images()}, {"mbid", ""}};
                      }, items);
    return ok({{"results", {{"opensearch:Query", {{"#text", ""}, {"role", "request"}, {"searchTerms", name}, {"startPage", std::to_string(page)}}},
                            {"opensearch:totalResults", attr["total"]}, {"opensearch:startIndex", std::to_string((page - 1) * limit)},
                            {"opensearch:itemsPerPage", std::to_string(limit)}, {"trackmatches", {{"track", list_of(std::move(items))}}},
                            {"@attr", {{"for", name}}}}}});
  }

  http::server_response artist_search(const params& p) {
    const std::string name = get(p, "artist");
    std::size_t limit = 0, page = 0;
    if (name.empty() || !page_args(p, limit, page)) return error(status::bad_request, 6, "Invalid parameters - Your request is missing a required parameter");
    std::vector<track> artists;  // one entry per artist
    for (const auto& tr : catalogue_)
      if (std::none_of(artists.begin(), artists.end(), [&](const track& a) { return a.artist == tr.artist; })) artists.push_back({tr.artist, tr.artist, tr.listeners});
    json::array items;
    auto attr = paged(p, limit, page, artists, [&](const track& a) { return contains(a.artist, name); },
                      [](const track& a, std::size_t) {
                        return json::object{{"name", a.artist}, {"listeners", std::to_string(a.listeners)}, {"mbid", ""},
                                            {"url", "https://www.last.fm/music/x"}, {"streamable", "0"}, {"image", images()}};
                      }, items);
    return ok({{"results", {{"opensearch:totalResults", attr["total"]}, {"opensearch:startIndex", std::to_string((page - 1) * limit)},
                            {"opensearch:itemsPerPage", std::to_string(limit)}, {"artistmatches", {{"artist", list_of(std::move(items))}}},
                            {"@attr", {{"for", name}}}}}});
  }

  http::server_response top_tracks(const params& p) {
    const std::string artist = get(p, "artist");
    std::size_t limit = 0, page = 0;
    if (artist.empty() || !page_args(p, limit, page)) return error(status::bad_request, 6, "Invalid parameters - Your request is missing a required parameter");
    if (std::none_of(catalogue_.begin(), catalogue_.end(), [&](const track& tr) { return tr.artist == artist; }))
      return error(status::bad_request, 6, "The artist you supplied could not be found");
    std::vector<track> by_artist;
    for (const auto& tr : catalogue_)
      if (tr.artist == artist) by_artist.push_back(tr);
    std::sort(by_artist.begin(), by_artist.end(), [](const track& a, const track& b) { return a.listeners > b.listeners; });
    json::array items;
    auto attr = paged(p, limit, page, by_artist, [](const track&) { return true; },
                      [](const track& tr, std::size_t i) {
                        return json::object{{"name", tr.name}, {"playcount", std::to_string(tr.listeners * 7)}, {"listeners", std::to_string(tr.listeners)},
                                            {"mbid", ""}, {"url", "https://www.last.fm/music/x/_/y"}, {"streamable", "0"},
                                            {"artist", {{"name", tr.artist}, {"mbid", ""}, {"url", "https://www.last.fm/music/x"}}},
                                            {"image", images()}, {"@attr", {{"rank", std::to_string(i + 1)}}}};
                      }, items);
    attr["artist"] = artist;
    return ok({{"toptracks", {{"track", list_of(std::move(items))}, {"@attr", std::move(attr)}}}});
  }

  http::server_response scrobble(const params& p) {
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    json::array results;
    std::int64_t accepted = 0, ignored = 0;
    for (std::size_t i = 0;; ++i) {
      const std::string at = "[" + std::to_string(i) + "]";
      const std::string artist = get(p, "artist" + at), name = get(p, "track" + at), ts = get(p, "timestamp" + at);
      if (artist.empty() && name.empty() && ts.empty()) break;
      if (i >= 50) return error(status::bad_request, 6, "Invalid parameters - at most 50 scrobbles per batch");
      if (artist.empty() || name.empty() || ts.empty()) return error(status::bad_request, 6, "Invalid parameters - Your request is missing a required parameter");
      const auto when = std::strtoll(ts.c_str(), nullptr, 10);
      const bool too_old = when < now - 14 * 24 * 3600;
      (too_old ? ignored : accepted) += 1;
      if (!too_old) scrobbled_.push_back({name, artist, 0});
      results.push_back(json::object{{"artist", {{"corrected", "0"}, {"#text", artist}}},
                                     {"track", {{"corrected", "0"}, {"#text", name}}},
                                     {"timestamp", ts},
                                     {"ignoredMessage", {{"code", too_old ? "3" : "0"}, {"#text", too_old ? "Timestamp too old" : ""}}}});
    }
    if (results.empty()) return error(status::bad_request, 6, "Invalid parameters - Your request is missing a required parameter");
    return ok({{"scrobbles", {{"scrobble", list_of(std::move(results))}, {"@attr", {{"accepted", accepted}, {"ignored", ignored}}}}}});
  }

  t::fake_api api_;
  std::vector<track> catalogue_;
  std::vector<track> scrobbled_;
  std::map<std::string, bool> tokens_;  // token -> approved
  std::vector<std::string> sessions_;
  std::uint64_t sequence_ = 0;
};

}  // namespace fakes
