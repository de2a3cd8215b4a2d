// A local fake of the Apple Music API for tests: catalog search (songs, albums, playlists; `next`
// paths), songs, albums and playlists by id, genres (the health call), and the user's library songs
// (Music-User-Token), with Apple's documented shapes: resources {id, type, href, attributes},
// {"data": [...]}, {"results": {...}, "meta": {...}} and errors {"errors": [{id, title, detail,
// status, code}]} (developer.apple.com/documentation/applemusicapi). No machine-readable
// description of the Apple Music API is published; the shapes follow Apple's reference pages.
//
// Every request's developer token is checked the way Apple documents it, with OpenSSL directly
// (not intg's JWT code, so that the client's signing is checked by another implementation): a JWT
// whose header is {"alg": "ES256", "kid": <the 10-character key id>}, whose claims are {iss: <the
// team id>, iat, exp} with exp after now and at most 15,777,000 s after iat, and whose signature
// is the raw 64-byte R||S of ECDSA P-256 over SHA-256 (not DER), made with the key registered here.
#pragma once

#include <intg/security/crypto/encoding.hpp>
#include <intg/testing/fake_api.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
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

class apple_music_fake {
 public:
  static constexpr std::string_view key_id = "ABC123DEFG";
  static constexpr std::string_view team_id = "TEAM456789";
  static constexpr std::string_view user_token = "AgAAAIntgFakeMusicUserToken0123456789";

  /// `public_key`: the MusicKit key's public half (the fake only ever verifies).
  apple_music_fake(boost::asio::any_io_executor ex, EVP_PKEY* public_key) : api_(std::move(ex), options()), key_(public_key) {
    EVP_PKEY_up_ref(key_);
    auto add = [this](std::string templ, auto fn) {
      api_.route(verb::get, templ, [this, fn](t::call& c) { return developer_ok(c) ? fn(c) : unauthorized(); }, false);
    };
    add("/v1/catalog/{storefront}/search", [this](t::call& c) { return search(c); });
    add("/v1/catalog/{storefront}/songs/{id}", [this](t::call& c) { return by_id(c, "songs"); });
    add("/v1/catalog/{storefront}/songs", [this](t::call& c) { return by_ids(c); });
    add("/v1/catalog/{storefront}/albums/{id}", [this](t::call& c) { return by_id(c, "albums"); });
    add("/v1/catalog/{storefront}/playlists/{id}", [this](t::call& c) { return by_id(c, "playlists"); });
    add("/v1/catalog/{storefront}/genres", [this](t::call& c) { return genres(c); });
    add("/v1/me/library/songs", [this](t::call& c) { return library(c); });
    seed();
  }
  ~apple_music_fake() { EVP_PKEY_free(key_); }
  apple_music_fake(const apple_music_fake&) = delete;
  apple_music_fake& operator=(const apple_music_fake&) = delete;

  std::uint16_t start() { return api_.start(); }
  /// What the client's settings.base_url is: "http://127.0.0.1:PORT/v1".
  std::string base_url() const { return api_.base_url() + "/v1"; }
  boost::asio::awaitable<void> stop() { return api_.stop(); }
  void script(t::scenario s) { api_.script(std::move(s)); }
  t::fake_api& api() noexcept { return api_; }
  /// Developer tokens seen and accepted, and refused.
  std::size_t tokens_accepted() const noexcept { return accepted_; }
  std::size_t tokens_refused() const noexcept { return refused_; }
  /// Distinct developer tokens accepted (the client caches and renews them).
  std::size_t distinct_tokens() const noexcept { return seen_.size(); }
  /// Adds `n` songs to the user's library.
  void seed_library(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      const std::string id = "i." + std::to_string(100000 + library_.size());
      library_.push_back({{"id", id},
                          {"type", "library-songs"},
                          {"href", "/v1/me/library/songs/" + id},
                          {"attributes", {{"name", "Library song " + std::to_string(library_.size() + 1)}, {"artistName", "Various"},
                                          {"genreNames", json::array{"Pop"}}, {"durationInMillis", 200000},
                                          {"playParams", {{"id", id}, {"kind", "song"}, {"isLibrary", true}}}}}});
    }
  }

  /// 429 with Apple's error object.
  static t::scenario rate_limited() {
    return t::scenarios::respond(status::too_many_requests, json::serialize(errors("429", "42900", "Too Many Requests", "Rate limit exceeded")),
                                 "application/json", "rate_limited");
  }

 private:
  static t::fake_api_options options() {
    t::fake_api_options o;
    o.not_found = [](const t::call&) {
      return http::make_response(status::not_found, json::serialize(errors("404", "40400", "Resource Not Found", "Resource not found")), "application/json");
    };
    return o;
  }
  static json::object errors(std::string_view st, std::string_view code, std::string_view title, std::string_view detail) {
    static std::uint64_t n = 0;
    return {{"errors", json::array{json::object{{"id", "INTGFAKE" + std::to_string(++n)}, {"title", title}, {"detail", detail},
                                                {"status", st}, {"code", code}}}}};
  }
  static http::server_response fail(status s, std::string_view code, std::string_view title, std::string_view detail) {
    return http::make_response(s, json::serialize(errors(std::to_string(static_cast<int>(s)), code, title, detail)), "application/json");
  }
  static http::server_response ok(const json::object& body) { return http::make_response(status::ok, json::serialize(body), "application/json"); }
  http::server_response unauthorized() { return fail(status::unauthorized, "40100", "Unauthorized", "Authentication failed"); }

  // The developer token, checked as Apple documents it (see the header comment).
  bool developer_ok(const t::call& c) {
    const auto auth = c.header("Authorization");
    bool good = auth.starts_with("Bearer ") && verify(auth.substr(7));
    (good ? accepted_ : refused_)++;
    if (good) seen_.emplace(std::string(auth.substr(7)), true);
    return good;
  }
  bool verify(std::string_view jwt) const {
    const auto d1 = jwt.find('.'), d2 = jwt.rfind('.');
    if (d1 == std::string_view::npos || d1 == d2) return false;
    auto header = intg::crypto::base64url_decode(jwt.substr(0, d1));
    auto claims = intg::crypto::base64url_decode(jwt.substr(d1 + 1, d2 - d1 - 1));
    auto sig = intg::crypto::base64url_decode(jwt.substr(d2 + 1));
    if (!header || !claims || !sig || sig->size() != 64) return false;  // raw R||S, never DER
    boost::system::error_code ec;
    auto h = json::parse(*header, ec);
    if (ec || !h.is_object()) return false;
    auto cl = json::parse(*claims, ec);
    if (ec || !cl.is_object()) return false;
    const auto& ho = h.get_object();
    const auto& co = cl.get_object();
    if (!ho.contains("alg") || ho.at("alg") != "ES256" || !ho.contains("kid") || ho.at("kid") != json::value(key_id)) return false;
    if (!co.contains("iss") || co.at("iss") != json::value(team_id)) return false;
    if (!co.contains("iat") || !co.contains("exp") || !co.at("iat").is_int64() || !co.at("exp").is_int64()) return false;
    const std::int64_t iat = co.at("iat").get_int64(), exp = co.at("exp").get_int64(), now = std::time(nullptr);
    if (exp <= now || exp - iat > 15'777'000 || iat > now + 60) return false;
    // R||S to the DER form OpenSSL verifies.
    const auto* raw = reinterpret_cast<const unsigned char*>(sig->data());
    ECDSA_SIG* es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(raw, 32, nullptr), BN_bin2bn(raw + 32, 32, nullptr));
    unsigned char* der = nullptr;
    const int der_len = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    const std::string_view signed_part = jwt.substr(0, d2);
    const bool ok = der_len > 0 && EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, key_) == 1 &&
                    EVP_DigestVerify(md, der, static_cast<std::size_t>(der_len), reinterpret_cast<const unsigned char*>(signed_part.data()),
                                     signed_part.size()) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    return ok;
  }

  static bool storefront_ok(std::string_view s) { return s == "us" || s == "fr" || s == "gb"; }

  void seed() {
    const char* names[] = {"Blue in Green", "So What", "Freddie Freeloader", "All Blues", "Flamenco Sketches", "Blue Train",
                           "Moment's Notice", "Giant Steps", "Naima", "Blue Monk"};
    const char* artists[] = {"Miles Davis", "Miles Davis", "Miles Davis", "Miles Davis", "Miles Davis", "John Coltrane",
                             "John Coltrane", "John Coltrane", "John Coltrane", "Thelonious Monk"};
    for (std::size_t i = 0; i < std::size(names); ++i) {
      const std::string id = std::to_string(1440857781 + i);
      songs_.push_back({{"id", id},
                        {"type", "songs"},
                        {"attributes", {{"name", names[i]}, {"artistName", artists[i]}, {"albumName", i < 5 ? "Kind of Blue" : "Giant Steps"},
                                        {"genreNames", json::array{"Jazz", "Music"}}, {"durationInMillis", 300000 + 1000 * static_cast<int>(i)},
                                        {"trackNumber", static_cast<int>(i % 5) + 1}, {"discNumber", 1}, {"isrc", "USSM1590000" + std::to_string(i)},
                                        {"releaseDate", "1959-08-17"}, {"url", "https://music.apple.com/us/song/" + id},
                                        {"artwork", {{"url", "https://is1-ssl.mzstatic.com/image/thumb/{w}x{h}bb.jpg"}, {"width", 1400}, {"height", 1400}}},
                                        {"playParams", {{"id", id}, {"kind", "song"}}},
                                        {"previews", json::array{json::object{{"url", "https://audio-ssl.itunes.apple.com/" + id + ".m4a"}}}}}}});
    }
    albums_.push_back({{"id", "1440857000"}, {"type", "albums"},
                       {"attributes", {{"name", "Kind of Blue"}, {"artistName", "Miles Davis"}, {"trackCount", 5}, {"releaseDate", "1959-08-17"},
                                       {"recordLabel", "Columbia"}, {"upc", "074646193522"}, {"isSingle", false}, {"isComplete", true},
                                       {"genreNames", json::array{"Jazz"}}, {"url", "https://music.apple.com/us/album/1440857000"},
                                       {"playParams", {{"id", "1440857000"}, {"kind", "album"}}}}}});
    playlists_.push_back({{"id", "pl.f4d106fed2bd41149aaacabb233eb5eb"}, {"type", "playlists"},
                          {"attributes", {{"name", "Blue Note Essentials"}, {"curatorName", "Apple Music Jazz"}, {"playlistType", "editorial"},
                                          {"lastModifiedDate", "2026-11-01T08:00:00Z"},
                                          {"description", {{"standard", "The label's classics."}, {"short", "Classics."}}},
                                          {"url", "https://music.apple.com/us/playlist/pl.f4d106fed2bd41149aaacabb233eb5eb"},
                                          {"playParams", {{"id", "pl.f4d106fed2bd41149aaacabb233eb5eb"}, {"kind", "playlist"}}}}}});
  }

  static std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }
  static bool number(std::string_view s, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
    out = std::stoll(std::string(s));
    return out >= lo && out <= hi;
  }

  // Apple's search: `term` matched in names and artists, per type, `limit` (default 5, at most
  // 25) items from `offset`, a `next` path while there are more.
  http::server_response search(const t::call& c) {
    const auto sf = c.params.at("storefront");
    if (!storefront_ok(sf)) return fail(status::not_found, "40400", "Resource Not Found", "Storefront not found");
    const std::string term(c.arg_str("term"));
    if (term.empty()) return fail(status::bad_request, "40005", "Invalid Parameter Value", "Missing required parameter 'term'");
    std::string types(c.arg_str("types"));
    if (types.empty()) return fail(status::bad_request, "40005", "Invalid Parameter Value", "Missing required parameter 'types'");
    std::int64_t limit = 5, offset = 0;
    if (auto l = c.arg_str("limit"); !l.empty() && !number(l, 1, 25, limit))
      return fail(status::bad_request, "40005", "Invalid Parameter Value", "Value of 'limit' must be an integer less than or equal to 25");
    if (auto o = c.arg_str("offset"); !o.empty() && !number(o, 0, 100000, offset))
      return fail(status::bad_request, "40005", "Invalid Parameter Value", "Value of 'offset' must be a non-negative integer");
    const std::string q = lower(term);
    json::object results;
    json::array order;
    auto page = [&](std::string_view type, const std::vector<json::object>& all, bool by_artist) {
      std::vector<const json::object*> hits;
      for (const auto& r : all) {
        const auto& a = r.at("attributes").get_object();
        if (lower(a.at("name").get_string()).find(q) != std::string::npos ||
            (by_artist && lower(a.at("artistName").get_string()).find(q) != std::string::npos))
          hits.push_back(&r);
      }
      if (hits.empty()) return;
      json::array data;
      const auto first = static_cast<std::size_t>(offset), last = std::min(hits.size(), first + static_cast<std::size_t>(limit));
      for (std::size_t i = first; i < last; ++i) {
        json::object r = *hits[i];
        r["href"] = "/v1/catalog/" + sf + "/" + std::string(type) + "/" + std::string(r.at("id").get_string());
        data.push_back(std::move(r));
      }
      const std::string base = "/v1/catalog/" + sf + "/search?term=" + http::percent_encode(term) + "&types=" + std::string(type);
      json::object p{{"href", base + "&limit=" + std::to_string(limit) + (offset ? "&offset=" + std::to_string(offset) : "")}, {"data", std::move(data)}};
      if (last < hits.size()) p["next"] = base + "&offset=" + std::to_string(last) + "&limit=" + std::to_string(limit);
      results[type] = std::move(p);
      order.push_back(json::string(type));
    };
    for (std::size_t b = 0, e; b <= types.size(); b = e + 1) {
      e = std::min(types.find(',', b), types.size());
      const std::string type = types.substr(b, e - b);
      if (type == "songs") page(type, songs_, true);
      else if (type == "albums") page(type, albums_, true);
      else if (type == "playlists") page(type, playlists_, false);
      else return fail(status::bad_request, "40005", "Invalid Parameter Value", "Invalid type '" + type + "'");
    }
    return ok({{"results", std::move(results)}, {"meta", {{"results", {{"order", order}, {"rawOrder", order}}}}}});
  }

  const json::object* find(std::string_view kind, std::string_view id) const {
    const auto& all = kind == "songs" ? songs_ : kind == "albums" ? albums_ : playlists_;
    for (const auto& r : all)
      if (r.at("id").get_string() == id) return &r;
    return nullptr;
  }
  http::server_response by_id(const t::call& c, std::string_view kind) {
    const auto sf = c.params.at("storefront");
    const auto* r = storefront_ok(sf) ? find(kind, c.params.at("id")) : nullptr;
    if (!r) return fail(status::not_found, "40400", "Resource Not Found", "Resource with requested id was not found");
    json::object out = *r;
    out["href"] = "/v1/catalog/" + sf + "/" + std::string(kind) + "/" + c.params.at("id");
    return ok({{"data", json::array{out}}});
  }
  http::server_response by_ids(const t::call& c) {
    const auto sf = c.params.at("storefront");
    const std::string ids(c.arg_str("ids"));
    if (!storefront_ok(sf)) return fail(status::not_found, "40400", "Resource Not Found", "Storefront not found");
    if (ids.empty()) return fail(status::bad_request, "40005", "Invalid Parameter Value", "Missing required parameter 'ids'");
    json::array data;
    for (std::size_t b = 0, e; b <= ids.size(); b = e + 1) {
      e = std::min(ids.find(',', b), ids.size());
      if (const auto* r = find("songs", std::string_view(ids).substr(b, e - b))) {
        json::object out = *r;
        out["href"] = "/v1/catalog/" + sf + "/songs/" + std::string(out.at("id").get_string());
        data.push_back(std::move(out));
      }
    }
    return ok({{"data", std::move(data)}});  // unknown ids are left out, as Apple does
  }
  http::server_response genres(const t::call& c) {
    const auto sf = c.params.at("storefront");
    return ok({{"data", json::array{json::object{{"id", "34"}, {"type", "genres"}, {"href", "/v1/catalog/" + sf + "/genres/34"},
                                                 {"attributes", {{"name", "Music"}}}}}}});
  }
  // The library needs the user's token too; `limit` default 25, at most 100.
  http::server_response library(const t::call& c) {
    if (c.header("Music-User-Token") != user_token) return fail(status::forbidden, "40300", "Forbidden", "Invalid authentication");
    std::int64_t limit = 25, offset = 0;
    if (auto l = c.arg_str("limit"); !l.empty() && !number(l, 1, 100, limit))
      return fail(status::bad_request, "40005", "Invalid Parameter Value", "Value of 'limit' must be an integer less than or equal to 100");
    if (auto o = c.arg_str("offset"); !o.empty() && !number(o, 0, 100000, offset))
      return fail(status::bad_request, "40005", "Invalid Parameter Value", "Value of 'offset' must be a non-negative integer");
    json::array data;
    const auto first = static_cast<std::size_t>(offset), last = std::min(library_.size(), first + static_cast<std::size_t>(limit));
    for (std::size_t i = first; i < last; ++i) data.push_back(library_[i]);
    json::object body{{"data", std::move(data)}, {"meta", {{"total", library_.size()}}}};
    if (last < library_.size()) body["next"] = "/v1/me/library/songs?offset=" + std::to_string(last) + "&limit=" + std::to_string(limit);
    return ok(body);
  }

  t::fake_api api_;
  EVP_PKEY* key_;
  std::vector<json::object> songs_, albums_, playlists_, library_;
  std::size_t accepted_ = 0, refused_ = 0;
  std::map<std::string, bool> seen_;
};

}  // namespace fakes
