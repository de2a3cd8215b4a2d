// The Spotify integration, in one test program (each translation unit costs CI minutes):
// - spotify_server: the Spotify models (parsing with JSON paths, nulls, serialisation) and the
//   local Spotify server (examples/spotify/local_server.hpp) driven over real sockets by
//   intg::http::client: token grants and their errors, PKCE, paging links, parameter validation,
//   404/401, the rate limit and every fault switch. Its last case writes sample responses that
//   spotify_openapi_validation checks against Spotify's OpenAPI description.
// - spotify_client: intg::spotify::client against the local Spotify server: every operation,
//   paging, parameter checks, token refresh on 401, Retry-After, the breaker under a 500 storm,
//   timeouts, broken bodies, PKCE, and tenant isolation.
#define BOOST_TEST_MODULE intg_spotify
#include <boost/test/unit_test.hpp>

#include "spotify/local_server.hpp"
#include "test_util.hpp"

#include <intg/http/client.hpp>
#include <intg/providers/spotify/client.hpp>
#include <intg/providers/spotify/model.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(spotify_server)

namespace asio = boost::asio;
namespace json = boost::json;
namespace sp = intg::spotify;
namespace http = intg::http;
using namespace std::chrono_literals;
using intg::errc;

// Inside coroutines GCC 12 cannot compile BOOST_REQUIRE ("array used as initializer"): a failed
// requirement throws instead, which run() reports through Boost.Test as an uncaught exception.
#define CO_REQUIRE(...)                                                                                 \
  do {                                                                                                  \
    if (!(__VA_ARGS__)) throw std::runtime_error(std::string("requirement failed at line ") + std::to_string(__LINE__)); \
  } while (0)

namespace {

// Runs one coroutine on `io` to the end (servers and clients of a test share that context).
void run(asio::io_context& io, asio::awaitable<void> aw) {
  bool done = false;
  asio::co_spawn(io, std::move(aw), [&](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
    done = true;
  });
  io.restart();
  io.run();
  BOOST_REQUIRE(done);
}

// A started local server and a client on one io_context.
struct local {
  explicit local(spotify_local::server_options o = {}) : srv(io.get_executor(), std::move(o)), client(io.get_executor()) {
    BOOST_REQUIRE(srv.listen("127.0.0.1", 0));
    srv.start();
  }
  // Runs `body` then shuts the server down.
  template <class F>
  void operator()(F body) {
    auto all = [&]() -> asio::awaitable<void> {
      co_await body();
      client.close_idle();
      co_await srv.shutdown(100ms);
    };
    run(io, all());
  }
  std::string api(std::string_view path) const { return srv.api_base() + std::string(path); }
  std::string accounts(std::string_view path) const { return srv.accounts_base() + std::string(path); }

  asio::io_context io;
  spotify_local::server srv;
  http::client client;
};

std::string basic(std::string_view id, std::string_view secret) {
  return "Basic " + intg::crypto::base64_encode(std::string(id) + ":" + std::string(secret));
}

asio::awaitable<intg::result<http::response>> get(http::client& c, std::string url, std::string token = {}) {
  auto req = http::request::make(http::verb::get, url);
  if (!req) co_return req.error();
  if (!token.empty()) req->set(http::field::authorization, "Bearer " + token);
  co_return co_await c.send(*req);
}

asio::awaitable<intg::result<http::response>> post_form(http::client& c, std::string url, http::query form,
                                                        std::string authorization = {}) {
  auto req = http::request::make(http::verb::post, url);
  if (!req) co_return req.error();
  req->form(form);
  if (!authorization.empty()) req->set(http::field::authorization, authorization);
  co_return co_await c.send(*req);
}

// A form or query from alternating keys and values (built outside co_await expressions: GCC 12
// cannot keep an initializer_list's array alive across a suspension).
template <class... A>
http::query kv(const A&... a) {
  const std::string_view items[] = {std::string_view(a)...};
  http::query q;
  for (std::size_t i = 0; i + 1 < sizeof...(A); i += 2) q.add(items[i], items[i + 1]);
  return q;
}

asio::awaitable<std::string> app_token(local& l) {
  auto r = co_await post_form(l.client, l.accounts("/api/token"), kv("grant_type", "client_credentials"),
                              basic(l.srv.client_id(), l.srv.client_secret()));
  CO_REQUIRE(r);
  CO_REQUIRE((r->result_int()) == (200u));
  auto t = sp::parse<spotify_local::token_response>(r->body());
  CO_REQUIRE(t);
  co_return t->access_token;
}

json::value body_json(const http::response& r) { return json::parse(r.body()); }

// The Web API error object of a response, checked for the envelope's shape.
sp::error_detail api_error(const http::response& r) {
  auto e = sp::parse<sp::error_object>(r.body());
  CO_REQUIRE(e);
  BOOST_TEST(e->error.status == static_cast<int>(r.result_int()));
  return e->error;
}

spotify_local::oauth_error oauth_error(const http::response& r) {
  auto e = sp::parse<spotify_local::oauth_error>(r.body());
  CO_REQUIRE(e);
  return *e;
}

// Query parameter `key` of a URL (percent-decoded), or "".
std::string query_param(std::string_view url, std::string_view key) {
  const auto q = url.find('?');
  if (q == std::string_view::npos) return "";
  auto pairs = http::query::parse(url.substr(q + 1));
  if (!pairs) return "";
  for (auto& [k, v] : *pairs)
    if (k == key) return v;
  return "";
}

struct pkce_result {
  std::string location, code;
};

// GET /authorize with a PKCE challenge; returns the redirect and the code in it.
asio::awaitable<pkce_result> authorize(local& l, std::string_view verifier, std::string redirect = "http://127.0.0.1:8888/callback",
                                       std::string method = "S256") {
  http::query q = kv("client_id", l.srv.client_id(), "response_type", "code", "redirect_uri", redirect, "scope", "playlist-read-private user-read-private", "state", "xyz-123", "code_challenge_method", method, "code_challenge", spotify_local::detail::s256_challenge(verifier));
  auto r = co_await get(l.client, l.accounts("/authorize?" + q.str()));
  CO_REQUIRE(r);
  CO_REQUIRE((r->result_int()) == (302u));
  pkce_result out;
  out.location = std::string(r->at(http::field::location));
  out.code = query_param(out.location, "code");
  co_return out;
}

const std::string verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more-entropy";

}  // namespace

// ------------------------------------------------------------------------------------------------
// Models
// ------------------------------------------------------------------------------------------------

// A track as Spotify documents it, with nulls and fields the model does not know.
const char* track_json = R"({
  "album": {"album_type": "album", "total_tracks": 9, "available_markets": ["CA", "BR"],
            "external_urls": {"spotify": "https://open.spotify.com/album/2up3OPMp9Tb4dAKM2erWXQ"},
            "href": "https://api.spotify.com/v1/albums/2up3OPMp9Tb4dAKM2erWXQ", "id": "2up3OPMp9Tb4dAKM2erWXQ",
            "images": [{"url": "https://i.scdn.co/image/ab67616d00001e02", "height": 300, "width": 300},
                       {"url": "https://i.scdn.co/image/x", "height": null, "width": null}],
            "name": "Björk's Album", "release_date": "1981-12", "release_date_precision": "month",
            "type": "album", "uri": "spotify:album:2up3OPMp9Tb4dAKM2erWXQ",
            "artists": [{"external_urls": {"spotify": "s"}, "href": "h", "id": "a1", "name": "Björk", "type": "artist", "uri": "spotify:artist:a1"}]},
  "artists": [{"external_urls": {"spotify": "s"}, "href": "h", "id": "a1", "name": "Björk", "type": "artist", "uri": "spotify:artist:a1"}],
  "available_markets": ["CA"], "disc_number": 1, "duration_ms": 215000, "explicit": true,
  "external_ids": {"isrc": "USUM71703861"}, "external_urls": {"spotify": "https://open.spotify.com/track/11dFghVXANMlKmJXsNCbNl"},
  "href": "https://api.spotify.com/v1/tracks/11dFghVXANMlKmJXsNCbNl", "id": "11dFghVXANMlKmJXsNCbNl",
  "is_playable": false, "restrictions": {"reason": "market"}, "name": "Cut To The Feeling", "popularity": 63,
  "preview_url": null, "track_number": 1, "type": "track", "uri": "spotify:track:11dFghVXANMlKmJXsNCbNl",
  "is_local": false, "a_field_from_the_future": {"x": [1, 2]}
})";

BOOST_AUTO_TEST_CASE(a_documented_track_parses_with_its_nulls_and_unknown_fields_ignored) {
  auto t = sp::parse<sp::track>(std::string_view(track_json));
  BOOST_REQUIRE_MESSAGE(t, t.error().to_string());
  BOOST_TEST(t->name == "Cut To The Feeling");
  BOOST_TEST(t->explicit_.value());
  BOOST_TEST(t->duration_ms == 215000);
  BOOST_TEST(!t->preview_url);
  BOOST_TEST(t->is_playable.value() == false);
  BOOST_TEST(t->restrictions->reason.value() == "market");
  BOOST_TEST(t->album.name == "Björk's Album");
  BOOST_TEST(t->album.images.size() == 2u);
  BOOST_TEST(t->album.images[0].width.value() == 300);
  BOOST_TEST(!t->album.images[1].width);
  BOOST_TEST(t->external_ids->isrc.value() == "USUM71703861");
  BOOST_TEST(t->artists.at(0).name == "Björk");
  // Serialising and parsing again gives the same object.
  auto again = sp::parse<sp::track>(sp::to_json(*t));
  BOOST_REQUIRE(again);
  BOOST_TEST(json::serialize(sp::to_json(*again)) == json::serialize(sp::to_json(*t)));
}

BOOST_AUTO_TEST_CASE(a_missing_required_field_is_an_error_naming_its_json_path) {
  json::value track = json::parse(track_json);
  json::object page{{"href", "h"}, {"limit", 5}, {"next", nullptr}, {"offset", 0}, {"previous", nullptr}, {"total", 4}};
  json::array items;
  for (int i = 0; i < 4; ++i) items.push_back(track);
  items[3].as_object()["album"].as_object().erase("name");
  page["items"] = std::move(items);
  json::value doc = json::object{{"tracks", std::move(page)}};
  auto r = sp::parse<sp::search_result>(doc);
  BOOST_REQUIRE(!r);
  BOOST_TEST((r.error() == errc::invalid_response));
  BOOST_TEST(r.error().json_path() == "$.tracks.items[3].album.name");
  BOOST_TEST(r.error().message() == "missing required member (expected a string)");

  // A paging object's `next` may be null or absent (the kit reads a std::optional either way).
  doc.as_object()["tracks"].as_object()["items"].as_array().clear();
  doc.as_object()["tracks"].as_object().erase("next");
  auto p = sp::parse<sp::search_result>(doc);
  BOOST_REQUIRE(p);
  BOOST_TEST(!p->tracks->next);
}

BOOST_AUTO_TEST_CASE(a_value_of_the_wrong_type_is_an_error_naming_its_json_path) {
  json::value t = json::parse(track_json);
  t.as_object()["artists"].as_array()[0].as_object()["name"] = 42;
  auto r = sp::parse<sp::track>(t);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().json_path() == "$.artists[0].name");
  BOOST_TEST(r.error().message() == "expected a string, got an integer");

  t = json::parse(track_json);
  t.as_object()["duration_ms"] = "215000";
  r = sp::parse<sp::track>(t);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().json_path() == "$.duration_ms");
  BOOST_TEST(r.error().message() == "expected an integer in [-2147483648, 2147483647], got a string");

  // A required non-nullable field that is null is a type error, not an absent value.
  t = json::parse(track_json);
  t.as_object()["id"] = nullptr;
  r = sp::parse<sp::track>(t);
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().json_path() == "$.id");

  BOOST_TEST(!sp::parse<sp::track>(std::string_view("{\"album\": ")));  // not JSON at all
  BOOST_TEST(!sp::parse<sp::track>(json::value(json::array{})));
  // value_to throws what parse would return.
  BOOST_CHECK_THROW(json::value_to<sp::track>(t), intg::exception);
  BOOST_TEST(json::value_to<sp::track>(json::parse(track_json)).id == "11dFghVXANMlKmJXsNCbNl");
}

BOOST_AUTO_TEST_CASE(playlist_items_may_be_null_or_episodes_and_playlists_may_carry_only_tracks) {
  json::value doc = json::parse(R"({
    "href": "h", "limit": 20, "next": null, "offset": 0, "previous": null, "total": 2,
    "items": [
      {"added_at": null, "added_by": null, "is_local": false, "track": null},
      {"added_at": "2024-01-01T00:00:00Z", "is_local": false, "item": {"type": "episode", "id": "e"}}
    ]})");
  auto p = sp::parse<sp::paging<sp::playlist_track>>(doc);
  BOOST_REQUIRE_MESSAGE(p, p.error().to_string());
  BOOST_TEST(p->items.size() == 2u);
  BOOST_TEST(!p->items[0].track);
  BOOST_TEST(!p->items[0].added_at);
  BOOST_TEST(!p->items[1].track);

  json::value pl = json::parse(R"({"collaborative": false, "description": null, "href": "h", "id": "p", "images": null,
    "name": "Mix", "owner": {"href": "h", "id": "u", "type": "user", "uri": "spotify:user:u", "display_name": null},
    "public": null, "snapshot_id": "s", "tracks": {"href": "t", "total": 7}, "type": "playlist", "uri": "spotify:playlist:p"})");
  auto s = sp::parse<sp::simplified_playlist>(pl);
  BOOST_REQUIRE_MESSAGE(s, s.error().to_string());
  BOOST_TEST(s->items_ref().total == 7);
  BOOST_TEST(!s->images);
  BOOST_TEST(!s->public_);
  BOOST_TEST(!s->owner.display_name);
  pl.as_object().erase("tracks");
  auto none = sp::parse<sp::simplified_playlist>(pl);  // neither: accepted, no reference
  BOOST_REQUIRE(none);
  BOOST_TEST(none->items_ref().total == 0);
}

// ------------------------------------------------------------------------------------------------
// Catalogue
// ------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_catalogue_is_deterministic_realistic_and_sized_as_documented) {
  spotify_local::catalogue a, b, other(99);
  BOOST_TEST(a.tracks.size() >= 300u);
  BOOST_TEST(a.tracks.size() <= 900u);
  BOOST_TEST(a.artists.size() == 60u);
  BOOST_TEST(a.albums.size() == 100u);
  BOOST_TEST(a.playlists.size() == 40u);
  BOOST_TEST(a.tracks.front().id == b.tracks.front().id);
  BOOST_TEST(a.tracks.back().name == b.tracks.back().name);
  BOOST_TEST(a.tracks.front().id != other.tracks.front().id);
  bool non_ascii = false;
  for (const auto& t : a.tracks) {
    BOOST_TEST(spotify_local::is_spotify_id(t.id));
    for (unsigned char c : t.name) non_ascii |= c >= 0x80;
  }
  BOOST_TEST(non_ascii);
  BOOST_TEST(spotify_local::fold_case("BJÖRN Ødegaard") == "björn ødegaard");
}

// ------------------------------------------------------------------------------------------------
// Accounts service
// ------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(client_credentials_issue_a_bearer_token_and_refuse_bad_clients_per_rfc_6749) {
  local l;
  auto body = [&]() -> asio::awaitable<void> {
    const auto url = l.accounts("/api/token");
    auto ok = co_await post_form(l.client, url, kv("grant_type", "client_credentials"), basic(l.srv.client_id(), l.srv.client_secret()));
    CO_REQUIRE(ok);
    BOOST_TEST(ok->result_int() == 200u);
    BOOST_TEST(ok->at(http::field::cache_control) == "no-store");
    auto t = sp::parse<spotify_local::token_response>(ok->body());
    CO_REQUIRE(t);
    BOOST_TEST(t->token_type == "Bearer");
    BOOST_TEST(t->expires_in == 3600);
    BOOST_TEST(!t->refresh_token);
    BOOST_TEST(!t->access_token.empty());

    // Credentials in the body work too.
    auto in_body = co_await post_form(l.client, url, kv("grant_type", "client_credentials", "client_id", l.srv.client_id(), "client_secret", l.srv.client_secret()));
    BOOST_TEST(in_body->result_int() == 200u);

    auto wrong_secret = co_await post_form(l.client, url, kv("grant_type", "client_credentials"), basic(l.srv.client_id(), "nope"));
    BOOST_TEST(wrong_secret->result_int() == 401u);
    BOOST_TEST(oauth_error(*wrong_secret).error == "invalid_client");
    BOOST_TEST(oauth_error(*wrong_secret).error_description.value() == "Invalid client secret");
    BOOST_TEST(wrong_secret->at(http::field::www_authenticate).starts_with("Basic"));

    auto unknown = co_await post_form(l.client, url, kv("grant_type", "client_credentials"), basic("someone", "x"));
    BOOST_TEST(unknown->result_int() == 401u);
    BOOST_TEST(oauth_error(*unknown).error == "invalid_client");

    auto body_wrong = co_await post_form(l.client, url, kv("grant_type", "client_credentials", "client_id", l.srv.client_id(), "client_secret", "bad"));
    BOOST_TEST(body_wrong->result_int() == 400u);
    BOOST_TEST(oauth_error(*body_wrong).error == "invalid_client");

    auto no_secret = co_await post_form(l.client, url, kv("grant_type", "client_credentials", "client_id", l.srv.client_id()));
    BOOST_TEST(no_secret->result_int() == 400u);
    BOOST_TEST(oauth_error(*no_secret).error == "invalid_client");

    auto no_grant = co_await post_form(l.client, url, kv("foo", "bar"), basic(l.srv.client_id(), l.srv.client_secret()));
    BOOST_TEST(no_grant->result_int() == 400u);
    BOOST_TEST(oauth_error(*no_grant).error == "unsupported_grant_type");

    auto odd_grant = co_await post_form(l.client, url, kv("grant_type", "password"), basic(l.srv.client_id(), l.srv.client_secret()));
    BOOST_TEST(odd_grant->result_int() == 400u);
    BOOST_TEST(oauth_error(*odd_grant).error == "unsupported_grant_type");

    auto json_body = http::request::make(http::verb::post, url);
    json_body->json(json::object{{"grant_type", "client_credentials"}});
    auto as_json = co_await l.client.send(*json_body);
    BOOST_TEST(as_json->result_int() == 400u);
    BOOST_TEST(oauth_error(*as_json).error == "invalid_request");

    auto as_get = co_await get(l.client, url);
    BOOST_TEST(as_get->result_int() == 405u);
    BOOST_TEST(l.srv.stats().tokens_issued == 2u);
  };
  l(body);
}

BOOST_AUTO_TEST_CASE(authorization_code_with_pkce_verifies_s256_and_refresh_rotates_the_token) {
  local l;
  auto body = [&]() -> asio::awaitable<void> {
    const auto url = l.accounts("/api/token");
    auto a = co_await authorize(l, verifier);
    BOOST_TEST(a.location.starts_with("http://127.0.0.1:8888/callback?"));
    BOOST_TEST(query_param(a.location, "state") == "xyz-123");
    CO_REQUIRE(!a.code.empty());

    auto wrong = co_await post_form(l.client, url, kv("grant_type", "authorization_code", "code", a.code, "redirect_uri", "http://127.0.0.1:8888/callback", "client_id", l.srv.client_id(), "code_verifier", verifier + "x"));
    BOOST_TEST(wrong->result_int() == 400u);
    BOOST_TEST(oauth_error(*wrong).error == "invalid_grant");
    // The failed attempt used the code up.
    auto reused = co_await post_form(l.client, url, kv("grant_type", "authorization_code", "code", a.code, "redirect_uri", "http://127.0.0.1:8888/callback", "client_id", l.srv.client_id(), "code_verifier", verifier));
    BOOST_TEST(oauth_error(*reused).error == "invalid_grant");

    auto b = co_await authorize(l, verifier);
    auto bad_redirect = co_await post_form(l.client, url, kv("grant_type", "authorization_code", "code", b.code, "redirect_uri", "http://127.0.0.1:9999/elsewhere", "client_id", l.srv.client_id(), "code_verifier", verifier));
    BOOST_TEST(oauth_error(*bad_redirect).error == "invalid_grant");

    auto c = co_await authorize(l, verifier);
    auto no_verifier = co_await post_form(l.client, url, kv("grant_type", "authorization_code", "code", c.code, "redirect_uri", "http://127.0.0.1:8888/callback", "client_id", l.srv.client_id()));
    BOOST_TEST(no_verifier->result_int() == 400u);
    BOOST_TEST(oauth_error(*no_verifier).error == "invalid_request");

    auto d = co_await authorize(l, verifier);
    auto good = co_await post_form(l.client, url, kv("grant_type", "authorization_code", "code", d.code, "redirect_uri", "http://127.0.0.1:8888/callback", "client_id", l.srv.client_id(), "code_verifier", verifier));
    CO_REQUIRE((good->result_int()) == (200u));
    auto t = sp::parse<spotify_local::token_response>(good->body());
    CO_REQUIRE(t);
    BOOST_TEST(t->scope.value() == "playlist-read-private user-read-private");
    CO_REQUIRE(t->refresh_token);

    // The user token reads the user's own playlists, private ones included.
    auto mine = co_await get(l.client, l.api("/me/playlists?limit=50"), t->access_token);
    CO_REQUIRE((mine->result_int()) == (200u));
    auto page = sp::parse<sp::paging<sp::simplified_playlist>>(mine->body());
    CO_REQUIRE(page);
    BOOST_TEST(page->total > 0);
    bool any_private = false;
    for (const auto& p : page->items) {
      BOOST_TEST(p.owner.id == "anna.lindqvist");
      any_private |= !p.public_.value();
    }
    BOOST_TEST(any_private);

    // Refresh: a new access token and a rotated refresh token; the old one is revoked.
    auto refreshed = co_await post_form(l.client, url, kv("grant_type", "refresh_token", "refresh_token", *t->refresh_token, "client_id", l.srv.client_id()));
    CO_REQUIRE((refreshed->result_int()) == (200u));
    auto t2 = sp::parse<spotify_local::token_response>(refreshed->body());
    CO_REQUIRE(t2);
    BOOST_TEST(t2->access_token != t->access_token);
    CO_REQUIRE(t2->refresh_token);
    BOOST_TEST(*t2->refresh_token != *t->refresh_token);
    auto old = co_await post_form(l.client, url, kv("grant_type", "refresh_token", "refresh_token", *t->refresh_token, "client_id", l.srv.client_id()));
    BOOST_TEST(oauth_error(*old).error == "invalid_grant");
    auto no_token = co_await post_form(l.client, url, kv("grant_type", "refresh_token", "client_id", l.srv.client_id()));
    BOOST_TEST(oauth_error(*no_token).error == "invalid_request");

    // An app token cannot read /me.
    const auto app = co_await app_token(l);
    auto as_app = co_await get(l.client, l.api("/me/playlists"), app);
    BOOST_TEST(as_app->result_int() == 401u);
    BOOST_TEST(api_error(*as_app).message == "Valid user authentication required");
  };
  l(body);
}

BOOST_AUTO_TEST_CASE(authorize_refuses_bad_requests_and_redirects_protocol_errors) {
  local l;
  auto body = [&]() -> asio::awaitable<void> {
    auto plain = co_await get(l.client, l.accounts("/authorize?" + kv("client_id", l.srv.client_id(), "response_type", "code", "redirect_uri", "http://localhost/cb", "code_challenge_method", "plain", "code_challenge", verifier).str()));
    BOOST_TEST(plain->result_int() == 302u);
    BOOST_TEST(query_param(plain->at(http::field::location), "error") == "invalid_request");

    auto token = co_await get(l.client, l.accounts("/authorize?" + kv("client_id", l.srv.client_id(), "response_type", "token", "redirect_uri", "http://localhost/cb").str()));
    BOOST_TEST(query_param(token->at(http::field::location), "error") == "unsupported_response_type");

    auto unknown = co_await get(l.client, l.accounts("/authorize?client_id=nobody&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%2Fcb"));
    BOOST_TEST(unknown->result_int() == 400u);
    BOOST_TEST(oauth_error(*unknown).error == "invalid_client");

    l.srv.deny_authorization(true);
    auto denied = co_await get(l.client, l.accounts("/authorize?" + kv("client_id", l.srv.client_id(), "response_type", "code", "redirect_uri", "http://localhost/cb", "state", "s1").str()));
    BOOST_TEST(query_param(denied->at(http::field::location), "error") == "access_denied");
    BOOST_TEST(query_param(denied->at(http::field::location), "state") == "s1");
    l.srv.deny_authorization(false);

    // A confidential client may skip PKCE but must then show its secret; its refresh keeps the token.
    auto conf = co_await get(l.client, l.accounts("/authorize?" + kv("client_id", l.srv.client_id(), "response_type", "code", "redirect_uri", "http://localhost/cb").str()));
    const auto code = query_param(conf->at(http::field::location), "code");
    auto t = co_await post_form(l.client, l.accounts("/api/token"),
                                kv("grant_type", "authorization_code", "code", code, "redirect_uri", "http://localhost/cb"),
                                basic(l.srv.client_id(), l.srv.client_secret()));
    CO_REQUIRE((t->result_int()) == (200u));
    auto tok = sp::parse<spotify_local::token_response>(t->body());
    auto r = co_await post_form(l.client, l.accounts("/api/token"), kv("grant_type", "refresh_token", "refresh_token", *tok->refresh_token),
                                basic(l.srv.client_id(), l.srv.client_secret()));
    CO_REQUIRE((r->result_int()) == (200u));
    BOOST_TEST(!sp::parse<spotify_local::token_response>(r->body())->refresh_token);  // keep the old one
  };
  l(body);
}

// ------------------------------------------------------------------------------------------------
// Web API
// ------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(search_pages_with_links_built_from_the_servers_own_url) {
  local l;
  auto body = [&]() -> asio::awaitable<void> {
    const auto token = co_await app_token(l);
    // A word every generated artist name of the form "The X Y" contains.
    auto r = co_await get(l.client, l.api("/search?q=the&type=artist,track"), token);
    CO_REQUIRE((r->result_int()) == (200u));
    auto s = sp::parse<sp::search_result>(r->body());
    CO_REQUIRE(s);
    CO_REQUIRE(s->artists);
    CO_REQUIRE(s->tracks);
    BOOST_TEST(!s->albums);
    BOOST_TEST(s->artists->limit == 5);  // the documented default
    BOOST_TEST(s->artists->items.size() == 5u);
    BOOST_TEST(s->artists->total >= 20);
    BOOST_TEST(s->artists->href.starts_with(l.srv.api_base() + "/search?"));
    BOOST_TEST(!s->artists->previous);
    CO_REQUIRE(s->artists->next);
    for (const auto& a : s->artists->items) BOOST_TEST(spotify_local::fold_case(a.name).find("the") != std::string::npos);

    // Following `next` gives the following page; its `previous` leads back.
    auto n = co_await get(l.client, *s->artists->next, token);
    CO_REQUIRE((n->result_int()) == (200u));
    auto s2 = sp::parse<sp::search_result>(n->body());
    CO_REQUIRE(s2 && s2->artists);
    BOOST_TEST(!s2->tracks);
    BOOST_TEST(s2->artists->offset == 5);
    BOOST_TEST(s2->artists->items.front().id != s->artists->items.front().id);
    CO_REQUIRE(s2->artists->previous);
    BOOST_TEST(query_param(*s2->artists->previous, "offset") == "0");

    // Case-insensitive, non-ASCII included, and field filters.
    const auto& cat = l.srv.catalogue();
    const auto& artist = cat.artists[1];
    std::string upper;
    for (char c : artist.name) upper += static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c);
    auto f = co_await get(l.client, l.api("/search?" + kv("q", "artist:\"" + upper + "\"", "type", "track", "limit", "10").str()), token);
    auto fs = sp::parse<sp::search_result>(f->body());
    CO_REQUIRE(fs && fs->tracks);
    BOOST_TEST(fs->tracks->total > 0);
    for (const auto& t : fs->tracks->items) {
      bool by = false;
      for (const auto& a : t.artists) by |= spotify_local::fold_case(a.name).find(spotify_local::fold_case(artist.name)) != std::string::npos;
      BOOST_TEST(by);
    }
    auto none = co_await get(l.client, l.api("/search?q=zzqqxx&type=track"), token);
    auto ns = sp::parse<sp::search_result>(none->body());
    BOOST_TEST(ns->tracks->total == 0);
    BOOST_TEST(!ns->tracks->next);
    BOOST_TEST(l.srv.stats().count("GET /v1/search") == 4u);
  };
  l(body);
}

BOOST_AUTO_TEST_CASE(search_parameters_outside_the_documented_ranges_are_400_error_objects) {
  local l;
  auto body = [&]() -> asio::awaitable<void> {
    const auto token = co_await app_token(l);
    std::string failed_queries;
    const std::vector<std::string> queries = {"/search?q=a&type=track&limit=11", "/search?q=a&type=track&limit=0", "/search?q=a&type=track&limit=x",
                          "/search?q=a&type=track&offset=1001", "/search?type=track", "/search?q=a", "/search?q=a&type=song",
                          "/search?q=a&type=track&market=usa"};
    for (const auto& q : queries) {
      auto r = co_await get(l.client, l.api(q), token);
      BOOST_TEST(r->result_int() == 400u);
      BOOST_TEST(!api_error(*r).message.empty());
      if (r->result_int() != 400u) failed_queries += q + " ";
    }
    BOOST_TEST(failed_queries == "");
    auto ten = co_await get(l.client, l.api("/search?q=a&type=track&limit=10&offset=1000"), token);
    BOOST_TEST(ten->result_int() == 200u);
  };
  l(body);
}

BOOST_AUTO_TEST_CASE(tracks_artists_and_albums_by_id_with_404_and_400_error_objects) {
  local l;
  auto body = [&]() -> asio::awaitable<void> {
    const auto token = co_await app_token(l);
    const auto& cat = l.srv.catalogue();
    const auto& t0 = cat.tracks[0];
    auto r = co_await get(l.client, l.api("/tracks/" + t0.id), token);
    CO_REQUIRE((r->result_int()) == (200u));
    auto t = sp::parse<sp::track>(r->body());
    CO_REQUIRE(t);
    BOOST_TEST(t->uri == "spotify:track:" + t0.id);
    BOOST_TEST(t->href == l.srv.api_base() + "/tracks/" + t0.id);
    BOOST_TEST(t->album.id == cat.albums[t0.album].id);
    BOOST_TEST(t->name == t0.name);

    auto missing = co_await get(l.client, l.api("/tracks/0000000000000000000000"), token);
    BOOST_TEST(missing->result_int() == 404u);
    BOOST_TEST(api_error(*missing).message == "Resource not found");
    auto invalid = co_await get(l.client, l.api("/tracks/not-an-id"), token);
    BOOST_TEST(invalid->result_int() == 400u);

    std::string ids = cat.tracks[1].id + ",0000000000000000000000," + cat.tracks[2].id;
    auto several = co_await get(l.client, l.api("/tracks?ids=" + ids), token);
    auto st = sp::parse<sp::several_tracks>(several->body());
    CO_REQUIRE(st);
    BOOST_TEST(st->tracks.size() == 3u);
    BOOST_TEST(st->tracks[0]->id == cat.tracks[1].id);
    BOOST_TEST(!st->tracks[1]);
    std::string many;
    for (int i = 0; i < 51; ++i) many += (i ? "," : "") + cat.tracks[static_cast<std::size_t>(i)].id;
    auto too_many = co_await get(l.client, l.api("/tracks?ids=" + many), token);
    BOOST_TEST(too_many->result_int() == 400u);

    auto ar = co_await get(l.client, l.api("/artists/" + cat.artists[3].id), token);
    auto a = sp::parse<sp::artist>(ar->body());
    CO_REQUIRE(a);
    BOOST_TEST(a->name == cat.artists[3].name);
    BOOST_TEST(a->images->size() == 3u);
    BOOST_TEST((co_await get(l.client, l.api("/artists/0000000000000000000000"), token))->result_int() == 404u);

    auto al = co_await get(l.client, l.api("/albums/" + cat.albums[5].id + "?market=US"), token);
    auto album = sp::parse<sp::album>(al->body());
    CO_REQUIRE(album);
    BOOST_TEST(album->tracks.total == album->total_tracks);
    BOOST_TEST(album->tracks.items.size() == cat.albums[5].tracks.size());
    BOOST_TEST(album->tracks.items[0].is_playable.has_value());
    BOOST_TEST((co_await get(l.client, l.api("/albums/0000000000000000000000"), token))->result_int() == 404u);
    BOOST_TEST((co_await get(l.client, l.api("/nothing/here"), token))->result_int() == 404u);
  };
  l(body);
}

BOOST_AUTO_TEST_CASE(playlists_of_a_user_and_their_items_page_to_the_end) {
  local l;
  auto body = [&]() -> asio::awaitable<void> {
    const auto token = co_await app_token(l);
    auto r = co_await get(l.client, l.api("/users/spotify/playlists?limit=5"), token);
    CO_REQUIRE((r->result_int()) == (200u));
    auto p = sp::parse<sp::paging<sp::simplified_playlist>>(r->body());
    CO_REQUIRE(p);
    BOOST_TEST(p->total == 12);
    BOOST_TEST(p->items.size() == 5u);
    BOOST_TEST(query_param(*p->next, "offset") == "5");
    BOOST_TEST((co_await get(l.client, l.api("/users/spotify/playlists?limit=51"), token))->result_int() == 400u);
    BOOST_TEST((co_await get(l.client, l.api("/users/no.such.user/playlists"), token))->result_int() == 404u);

    // Another user's private playlists are not listed.
    auto anna = co_await get(l.client, l.api("/users/anna.lindqvist/playlists?limit=50"), token);
    auto ap = sp::parse<sp::paging<sp::simplified_playlist>>(anna->body());
    for (const auto& pl : ap->items) BOOST_TEST(pl.public_.value());

    // Walk a playlist's items through `next` until it is null.
    const auto& list = p->items[0];
    std::string next = list.items_ref().href + "?limit=7";
    int seen = 0, pages = 0;
    while (!next.empty() && pages <= list.items_ref().total) {  // bounded: a `next` that never ends fails below
      auto page = co_await get(l.client, next, token);
      CO_REQUIRE((page->result_int()) == (200u));
      auto items = sp::parse<sp::paging<sp::playlist_track>>(page->body());
      CO_REQUIRE(items);
      BOOST_TEST(items->limit == 7);
      for (const auto& it : items->items) {
        BOOST_TEST(it.track.has_value());
        BOOST_TEST(it.added_at.has_value());
      }
      seen += static_cast<int>(items->items.size());
      ++pages;
      next = items->next.value_or("");
    }
    BOOST_TEST(seen == list.items_ref().total);
    BOOST_TEST(pages == (list.items_ref().total + 6) / 7);
    BOOST_TEST((co_await get(l.client, l.api("/playlists/" + list.id + "/tracks?limit=101"), token))->result_int() == 400u);
    BOOST_TEST((co_await get(l.client, l.api("/playlists/0000000000000000000000/tracks"), token))->result_int() == 404u);
  };
  l(body);
}

BOOST_AUTO_TEST_CASE(missing_invalid_and_expired_bearer_tokens_get_401) {
  local l;
  auto body = [&]() -> asio::awaitable<void> {
    const auto url = l.api("/tracks/" + l.srv.catalogue().tracks[0].id);
    auto none = co_await get(l.client, url);
    BOOST_TEST(none->result_int() == 401u);
    BOOST_TEST(api_error(*none).message == "No token provided");
    auto bogus = co_await get(l.client, url, "BQnot-a-token");
    BOOST_TEST(bogus->result_int() == 401u);
    BOOST_TEST(api_error(*bogus).message == "Invalid access token");

    auto token = co_await app_token(l);
    BOOST_TEST((co_await get(l.client, url, token))->result_int() == 200u);
    l.srv.expire_all_tokens();
    auto expired = co_await get(l.client, url, token);
    BOOST_TEST(expired->result_int() == 401u);
    BOOST_TEST(api_error(*expired).message == "The access token expired");
    BOOST_TEST(std::string(expired->at(http::field::www_authenticate)).find("invalid_token") != std::string::npos);
    BOOST_TEST((intg::http::status_error(*expired) == errc::unauthorized));

    // Tokens also expire when their lifetime passes on the server's clock.
    token = co_await app_token(l);
    l.srv.advance_clock(3599s);
    BOOST_TEST((co_await get(l.client, url, token))->result_int() == 200u);
    l.srv.advance_clock(2s);
    BOOST_TEST((co_await get(l.client, url, token))->result_int() == 401u);
    BOOST_TEST(l.srv.stats().unauthorized == 4u);
  };
  l(body);
}

BOOST_AUTO_TEST_CASE(the_rolling_window_rate_limit_answers_429_with_retry_after_per_client) {
  local l;
  l.srv.set_rate_limit(3, 30s);
  l.srv.add_client("tenant-b-client", "tenant-b-secret");
  auto body = [&]() -> asio::awaitable<void> {
    const auto url = l.api("/tracks/" + l.srv.catalogue().tracks[0].id);
    const auto token = co_await app_token(l);
    for (int i = 0; i < 3; ++i) BOOST_TEST((co_await get(l.client, url, token))->result_int() == 200u);
    auto limited = co_await get(l.client, url, token);
    CO_REQUIRE((limited->result_int()) == (429u));
    BOOST_TEST(limited->at(http::field::retry_after) == "30");
    BOOST_TEST(api_error(*limited).message == "API rate limit exceeded");
    auto e = intg::http::status_error(*limited);
    BOOST_TEST((e == errc::rate_limited));
    BOOST_TEST(e.retry_after().count() == 30'000);

    // Another application has its own window.
    auto other = co_await post_form(l.client, l.accounts("/api/token"), kv("grant_type", "client_credentials"),
                                    basic("tenant-b-client", "tenant-b-secret"));
    auto other_token = sp::parse<spotify_local::token_response>(other->body())->access_token;
    BOOST_TEST((co_await get(l.client, url, other_token))->result_int() == 200u);

    // Retry-After shrinks as the window rolls, and the request after it passes.
    l.srv.advance_clock(10s);
    auto later = co_await get(l.client, url, token);
    BOOST_TEST(later->at(http::field::retry_after) == "20");
    l.srv.advance_clock(20s);
    BOOST_TEST((co_await get(l.client, url, token))->result_int() == 200u);
    BOOST_TEST(l.srv.stats().rate_limited == 2u);
  };
  l(body);
}

BOOST_AUTO_TEST_CASE(fault_switches_inject_5xx_resets_malformed_and_truncated_bodies_and_latency) {
  local l;
  auto body = [&]() -> asio::awaitable<void> {
    const auto url = l.api("/search?q=the&type=track");
    const auto token = co_await app_token(l);
    l.srv.faults().fail_next(2, 500);
    BOOST_TEST((co_await get(l.client, url, token))->result_int() == 500u);
    auto second = co_await get(l.client, url, token);
    BOOST_TEST(second->result_int() == 500u);
    BOOST_TEST(api_error(*second).status == 500);
    BOOST_TEST((co_await get(l.client, url, token))->result_int() == 200u);

    l.srv.faults().fail_next(1, 503);
    auto unavailable = co_await get(l.client, url, token);
    BOOST_TEST(unavailable->result_int() == 503u);
    BOOST_TEST(intg::http::status_error(*unavailable).retry_after().count() == 1000);

    // On a fresh connection: a reset of a reused keep-alive connection before any byte arrives
    // looks like a stale connection, which the client replaces transparently.
    l.client.close_idle();
    l.srv.faults().reset_next(1);
    auto reset = co_await get(l.client, url, token);
    CO_REQUIRE(!reset);
    BOOST_TEST(intg::is_transient(reset.error()));

    l.srv.faults().malform_next(1);
    auto malformed = co_await get(l.client, url, token);
    CO_REQUIRE(malformed);
    BOOST_TEST(malformed->result_int() == 200u);
    auto parsed = sp::parse<sp::search_result>(malformed->body());
    CO_REQUIRE(!parsed);
    BOOST_TEST((parsed.error() == errc::invalid_response));

    l.srv.faults().truncate_next(1);
    auto truncated = co_await get(l.client, url, token);
    CO_REQUIRE(!truncated);
    BOOST_TEST((truncated.error() == errc::unavailable));
    BOOST_TEST(std::string(truncated.error().message()).find("closed before the response was complete") != std::string::npos);

    BOOST_TEST((co_await get(l.client, url, token))->result_int() == 200u);  // all used up

    l.srv.faults().set_latency(120ms);
    const auto start = std::chrono::steady_clock::now();
    BOOST_TEST((co_await get(l.client, url, token))->result_int() == 200u);
    BOOST_TEST((std::chrono::steady_clock::now() - start >= 120ms));
    l.srv.faults().set_latency(0ms);

    l.srv.faults().set_random_failures(1.0, 502, true);
    for (int i = 0; i < 3; ++i) BOOST_TEST((co_await get(l.client, url, token))->result_int() == 502u);
    l.srv.faults().set_random_failures(0.5);
    int failed = 0;
    for (int i = 0; i < 40; ++i) {
      auto r = co_await get(l.client, url, token);
      if (!r || r->result_int() != 200u || !sp::parse<sp::search_result>(r->body())) ++failed;
    }
    BOOST_TEST(failed > 5);
    BOOST_TEST(failed < 35);
    l.srv.faults().clear();
    BOOST_TEST((co_await get(l.client, url, token))->result_int() == 200u);
    // The accounts service is never faulted.
    l.srv.faults().fail_next(5, 500);
    co_await app_token(l);
    l.srv.faults().clear();
    // Random resets on reused connections are retried by the client and draw again: at least.
    BOOST_TEST(l.srv.stats().faults_injected >= 9u + static_cast<unsigned>(failed));
  };
  l(body);
}

// ------------------------------------------------------------------------------------------------
// Samples for the OpenAPI validation (spotify_openapi_validation in CMake)
// ------------------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(sample_responses_of_every_endpoint_are_written_for_openapi_validation) {
  local l;
  namespace fs = std::filesystem;
  const fs::path dir = "spotify_openapi_samples";
  fs::remove_all(dir);
  fs::create_directories(dir);
  int written = 0;
  // One file per sample: the OpenAPI path template, the status and the body.
  auto save = [&](std::string name, std::string path, const http::response& r) {
    json::object o{{"path", path}, {"method", "get"}, {"status", r.result_int()}, {"body", body_json(r)}};
    std::ofstream(dir / (name + ".json")) << json::serialize(o);
    ++written;
  };
  auto body = [&]() -> asio::awaitable<void> {
    const auto& cat = l.srv.catalogue();
    const auto token = co_await app_token(l);
    auto a = co_await authorize(l, verifier);
    auto t = co_await post_form(l.client, l.accounts("/api/token"), kv("grant_type", "authorization_code", "code", a.code, "redirect_uri", "http://127.0.0.1:8888/callback", "client_id", l.srv.client_id(), "code_verifier", verifier));
    const auto user_token = sp::parse<spotify_local::token_response>(t->body())->access_token;

    save("search_all_types", "/search", *co_await get(l.client, l.api("/search?q=the&type=track,artist,album,playlist&limit=10"), token));
    save("search_market", "/search", *co_await get(l.client, l.api("/search?q=a&type=track,album&market=SE&offset=3"), token));
    save("search_empty", "/search", *co_await get(l.client, l.api("/search?q=zzqqxx&type=track,playlist"), token));
    const std::vector<std::size_t> some_tracks = {0, 7, 123}, some_albums = {0, 61, 99};
    for (std::size_t i : some_tracks) {
      save("track_" + std::to_string(i), "/tracks/{id}", *co_await get(l.client, l.api("/tracks/" + cat.tracks[i].id), token));
    }
    save("track_market", "/tracks/{id}", *co_await get(l.client, l.api("/tracks/" + cat.tracks[9].id + "?market=JP"), token));
    save("several_tracks", "/tracks",
         *co_await get(l.client, l.api("/tracks?ids=" + cat.tracks[1].id + "," + cat.tracks[2].id + "," + cat.tracks[3].id), token));
    save("artist", "/artists/{id}", *co_await get(l.client, l.api("/artists/" + cat.artists[4].id), token));
    for (std::size_t i : some_albums) {
      save("album_" + std::to_string(i), "/albums/{id}", *co_await get(l.client, l.api("/albums/" + cat.albums[i].id), token));
    }
    save("me_playlists", "/me/playlists", *co_await get(l.client, l.api("/me/playlists?limit=50"), user_token));
    for (const auto& u : cat.users)
      save("user_playlists_" + std::to_string(cat.index_of(u)), "/users/{user_id}/playlists",
           *co_await get(l.client, l.api("/users/" + u.id + "/playlists?limit=50"), token));
    save("playlist_tracks", "/playlists/{playlist_id}/tracks",
         *co_await get(l.client, l.api("/playlists/" + cat.playlists[2].id + "/tracks?offset=2&limit=30"), token));
    save("playlist_tracks_empty", "/playlists/{playlist_id}/tracks",
         *co_await get(l.client, l.api("/playlists/" + cat.playlists[39].id + "/tracks"), token));
    // Error objects.
    save("error_400", "/search", *co_await get(l.client, l.api("/search?q=a&type=track&limit=11"), token));
    save("error_401", "/search", *co_await get(l.client, l.api("/search?q=a&type=track")));
    save("error_404", "/tracks/{id}", *co_await get(l.client, l.api("/tracks/0000000000000000000000"), token));
    l.srv.set_rate_limit(1, 30s);
    co_await get(l.client, l.api("/tracks/" + cat.tracks[0].id), token);
    save("error_429", "/tracks/{id}", *co_await get(l.client, l.api("/tracks/" + cat.tracks[0].id), token));
  };
  l(body);
  BOOST_TEST(written == 25);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(spotify_client)

namespace asio = boost::asio;
using namespace std::chrono_literals;
using intg::errc;
using sp_client = intg::spotify::client<>;
// The default stack on intg::manual_clock: breaker recovery and limiter refill without sleeping.
// (A request that hangs still fails: the HTTP client's own timeouts run on the steady clock.)
using manual_pipeline = intg::basic_pipeline<intg::manual_clock, intg::tracing<>, intg::retry<>,
                                             intg::circuit_breaker<>, intg::rate_limiter<>, intg::timeout<>>;
using manual_client = intg::spotify::client<manual_pipeline>;
namespace spotify = intg::spotify;

namespace {

// The local server listens on 127.0.0.1 over plain http: a host the deployment allows.
intg::rest::client_options local_options() {
  intg::rest::client_options o;
  o.extra_allowed_hosts = {"127.0.0.1"};
  return o;
}

// The local user approves at once: the authorization code from the 302's Location.
asio::awaitable<std::string> approve(intg::http::client& http, const std::string& url) {
  auto res = co_await http.get(url);
  BOOST_REQUIRE(res);
  BOOST_REQUIRE(res->result_int() == 302u);
  auto location = intg::http::url::parse((*res)[intg::http::field::location]);
  BOOST_REQUIRE(location);
  auto params = intg::http::query::parse(location->query_string());
  BOOST_REQUIRE(params);
  for (auto& [k, v] : *params)
    if (k == "code") co_return v;
  co_return std::string{};
}

// Signs the local server's user in on `sp` (authorization code + PKCE).
template <class Client>
asio::awaitable<void> sign_in(Client& sp) {
  auto verifier = intg::auth::pkce_verifier();
  BOOST_REQUIRE(verifier);
  const std::string redirect = "http://127.0.0.1:9/callback";
  const std::string code = co_await approve(sp.http(), sp.authorization_url(redirect, "st", verifier->reveal()));
  auto ok = co_await sp.complete_authorization(code, redirect, *verifier);
  BOOST_REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().to_string()));
}

// A local server plus a client configured for it; tests tune `cfg` before calling start().
struct fixture {
  fixture() : local(io.get_executor(), server_options()) {
    BOOST_REQUIRE(local.listen("127.0.0.1", 0));
    local.start();
    cfg = config_for("acme", local.client_id(), local.client_secret());
  }
  static spotify_local::server_options server_options() {
    spotify_local::server_options o;
    o.rate_limit = 0;  // tests that need the server's limit turn it on
    return o;
  }
  intg::integration_config config_for(std::string tenant, std::string id, std::string secret) const {
    intg::integration_config c;
    c.name = "spotify_main";
    c.tenant = std::move(tenant);
    c.category = intg::categories::external_api;
    c.settings["client_id"] = id;
    c.settings["client_secret"] = secret;
    c.settings["scope"] = "playlist-read-private";
    c.settings["api_base"] = local.api_base();
    c.settings["accounts_base"] = local.accounts_base();
    c.retry.base_delay = 1ms;
    c.timeout = 2s;
    c.rate_limits.requests_per_minute = 60000;
    c.rate_limits.burst_limit = 1000;
    return c;
  }
  // Runs `body` with an initialized client on this fixture's io_context, then shuts down.
  template <class Body>
  void run(Body body) {
    sp_client sp(cfg, io.get_executor(), local_options());
    run_with(sp, body);
  }
  // The same with the client's policies on `clock`.
  template <class Body>
  void run_manual(Body body) {
    manual_client sp(cfg, io.get_executor(), manual_pipeline(clock, cfg), local_options());
    run_with(sp, body);
  }
  template <class Client, class Body>
  void run_with(Client& sp, Body& body) {
    auto wrapped = [&]() -> asio::awaitable<void> {
      auto init = co_await sp.initialize();
      BOOST_REQUIRE_MESSAGE(init, (init ? "" : init.error().to_string()));
      co_await body(sp);
      co_await sp.cleanup();
      co_await local.shutdown(1s);
    };
    test::run(io, wrapped());
  }

  asio::io_context io;
  spotify_local::server local;
  intg::integration_config cfg;
  intg::manual_clock clock;
};

}  // namespace

BOOST_AUTO_TEST_CASE(every_operation_returns_typed_results) {
  fixture f;
  const auto& cat = f.local.catalogue();
  f.run([&](sp_client& sp) -> asio::awaitable<void> {
    const auto& t0 = cat.tracks.front();
    auto tracks = co_await sp.search_tracks(t0.name, {.limit = 10});
    BOOST_REQUIRE_MESSAGE(tracks, (tracks ? "" : tracks.error().to_string()));
    BOOST_TEST(tracks->limit == 10);
    BOOST_TEST(!tracks->items.empty());
    BOOST_TEST(tracks->items.front().uri.starts_with("spotify:track:"));

    auto artists = co_await sp.search_artists(cat.artists.front().name, {.limit = 3});
    BOOST_REQUIRE(artists);
    BOOST_TEST(artists->items.front().type == "artist");
    auto albums = co_await sp.search_albums(cat.albums.front().name, {.limit = 3});
    BOOST_REQUIRE(albums);
    BOOST_TEST(!albums->items.empty());

    auto track = co_await sp.get_track(t0.id);
    BOOST_REQUIRE(track);
    BOOST_TEST(track->id == t0.id);
    BOOST_TEST(track->name == t0.name);
    BOOST_TEST(track->duration_ms == t0.duration_ms);

    std::vector<std::string> ids{cat.tracks[1].id, "0000000000000000000000", cat.tracks[2].id};
    auto several = co_await sp.get_several_tracks(ids);
    BOOST_REQUIRE(several);
    BOOST_REQUIRE(several->size() == 3u);
    BOOST_TEST((*several)[0].has_value());
    BOOST_TEST(!(*several)[1].has_value());  // unknown id: null at its place

    auto artist = co_await sp.get_artist(cat.artists.front().id);
    BOOST_REQUIRE(artist);
    BOOST_TEST(artist->name == cat.artists.front().name);
    auto album = co_await sp.get_album(cat.albums.front().id);
    BOOST_REQUIRE(album);
    BOOST_TEST(album->tracks.total == static_cast<int>(cat.albums.front().tracks.size()));

    const auto& owner = cat.users[cat.playlists.front().owner].id;
    auto lists = co_await sp.get_user_playlists(owner, {.limit = 50});
    BOOST_REQUIRE_MESSAGE(lists, (lists ? "" : lists.error().to_string()));
    BOOST_TEST(!lists->items.empty());
    auto items = co_await sp.get_playlist_items(cat.playlists.front().id, {.limit = 5});
    BOOST_REQUIRE(items);
    BOOST_TEST(items->total == static_cast<int>(cat.playlists.front().items.size()));

    auto missing = co_await sp.get_track("0000000000000000000000");
    BOOST_REQUIRE(!missing);
    BOOST_TEST((missing.error() == intg::condition::not_found));  // a provider error, of the not_found condition
    BOOST_TEST(missing.error().http_status() == 404);
    BOOST_TEST(missing.error().message().starts_with("spotify: HTTP 404"));
  });
}

BOOST_AUTO_TEST_CASE(collect_all_walks_the_next_links_up_to_a_cap) {
  fixture f;
  const auto& cat = f.local.catalogue();
  const auto& big = *std::max_element(cat.playlists.begin(), cat.playlists.end(),
                                      [](const auto& a, const auto& b) { return a.items.size() < b.items.size(); });
  f.run([&](sp_client& sp) -> asio::awaitable<void> {
    auto first = co_await sp.get_playlist_items(big.id, {.limit = 2});
    BOOST_REQUIRE(first);
    BOOST_REQUIRE(first->next.has_value());
    const std::size_t cap = std::min<std::size_t>(7, big.items.size());
    auto all = co_await sp.collect_all(std::move(*first), cap);
    BOOST_REQUIRE_MESSAGE(all, (all ? "" : all.error().to_string()));
    BOOST_TEST(all->size() == cap);
    auto everything = co_await sp.get_playlist_items(big.id, {.limit = 50});
    auto whole = co_await sp.collect_all(std::move(*everything), 100000);
    BOOST_REQUIRE(whole);
    BOOST_TEST(whole->size() == big.items.size());
    // A next link to another origin would carry the token away: refused.
    intg::spotify::paging<intg::spotify::playlist_track> evil;
    evil.next = "http://evil.example/v1/playlists/x/tracks?offset=2";
    auto refused = co_await sp.collect_all(std::move(evil), 10);
    BOOST_TEST(!refused);
  });
}

BOOST_AUTO_TEST_CASE(parameters_outside_the_documented_ranges_are_refused_before_sending) {
  fixture f;
  f.run([&](sp_client& sp) -> asio::awaitable<void> {
    const auto before = f.local.stats().count("GET /v1/search");
    for (auto o : {intg::spotify::search_options{.limit = 11}, intg::spotify::search_options{.limit = 0},
                   intg::spotify::search_options{.offset = 1001}, intg::spotify::search_options{.market = "fra"}}) {
      auto r = co_await sp.search_tracks("x", o);
      BOOST_TEST((r.error() == errc::invalid_argument));
    }
    BOOST_TEST(((co_await sp.search_tracks("", {})).error() == errc::invalid_argument));
    BOOST_TEST(((co_await sp.get_track("../me")).error() == errc::invalid_argument));
    BOOST_TEST(((co_await sp.get_playlist_items("abc", {.limit = 51})).error() == errc::invalid_argument));
    std::vector<std::string> many(51, "4iV5W9uYEdYUVa79Axb7Rh");
    BOOST_TEST(((co_await sp.get_several_tracks(many)).error() == errc::invalid_argument));
    auto msg = (co_await sp.search_tracks("x", {.limit = 11})).error().to_string();
    BOOST_TEST(msg.find("search limit must be between 1 and 10") != std::string::npos, msg);
    BOOST_TEST(f.local.stats().count("GET /v1/search") == before);  // nothing was sent
  });
}

BOOST_AUTO_TEST_CASE(an_expired_token_is_refreshed_once_and_the_request_replayed) {
  fixture f;
  f.run([&](sp_client& sp) -> asio::awaitable<void> {
    BOOST_TEST((co_await sp.search_tracks("a")).has_value());
    const auto tokens = f.local.stats().tokens_issued;
    f.local.expire_all_tokens();
    auto r = co_await sp.search_tracks("a");
    BOOST_TEST(r.has_value());
    BOOST_TEST(f.local.stats().unauthorized == 1u);
    BOOST_TEST(f.local.stats().tokens_issued == tokens + 1);
  });
}

BOOST_AUTO_TEST_CASE(a_429_is_retried_only_after_its_retry_after) {
  fixture f;
  f.cfg.retry.max_attempts = 3;
  f.run([&](sp_client& sp) -> asio::awaitable<void> {
    f.local.set_rate_limit(2, 1s);  // two API requests per rolling second
    BOOST_TEST((co_await sp.search_tracks("a")).has_value());
    BOOST_TEST((co_await sp.search_tracks("b")).has_value());
    const auto searches = f.local.stats().count("GET /v1/search");
    const auto t0 = std::chrono::steady_clock::now();
    auto r = co_await sp.search_tracks("c");  // 429 Retry-After: 1, then a retry a second later
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(r.has_value());
    BOOST_TEST(f.local.stats().rate_limited == 1u);
    BOOST_TEST(f.local.stats().count("GET /v1/search") == searches + 2);  // the refused one and the retry
    BOOST_TEST(took >= 900ms);  // the backoff alone would be a millisecond
  });
}

BOOST_AUTO_TEST_CASE(a_500_storm_opens_the_breaker_which_recovers_through_half_open) {
  fixture f;
  f.cfg.retry.max_attempts = 1;
  f.cfg.circuit_breaker.failure_threshold = 3;
  f.cfg.circuit_breaker.recovery_timeout = 200ms;
  f.run_manual([&](manual_client& sp) -> asio::awaitable<void> {
    auto& breaker = sp.pipeline().get<intg::circuit_breaker<>>();
    f.local.faults().fail_next(1000, 500);
    for (int i = 0; i < 3; ++i) {
      auto r = co_await sp.search_tracks("a");
      BOOST_TEST(r.error().http_status() == 500);
    }
    BOOST_TEST((breaker.state() == intg::breaker_state::open));
    const auto sent = f.local.stats().count("GET /v1/search");
    auto refused = co_await sp.search_tracks("a");
    BOOST_TEST((refused.error() == errc::circuit_open));
    BOOST_TEST(f.local.stats().count("GET /v1/search") == sent);  // refused without a request
    f.local.faults().clear();
    f.clock.advance(199ms);
    auto early = co_await sp.search_tracks("a");  // still open a moment before the recovery timeout
    BOOST_TEST((early.error() == errc::circuit_open));
    f.clock.advance(1ms);
    auto probe = co_await sp.search_tracks("a");  // the half-open probe succeeds
    BOOST_TEST(probe.has_value());
    BOOST_TEST((breaker.state() == intg::breaker_state::closed));
    auto h = co_await sp.health_check();
    BOOST_TEST((h.status == intg::integration_status::healthy));
  });
}

BOOST_AUTO_TEST_CASE(health_checks_spend_no_rate_limit_and_pass_an_open_breaker) {
  // A tenant at 60/min with a burst of 2, checked more often than its limit refills: the checks
  // must not eat its quota, and the breaker they probe must not refuse them.
  fixture f;
  f.cfg.rate_limits.requests_per_minute = 60;
  f.cfg.rate_limits.burst_limit = 2;
  f.run_manual([&](manual_client& sp) -> asio::awaitable<void> {
    for (int i = 0; i < 5; ++i) {
      auto h = co_await sp.health_check();
      BOOST_TEST((h.status == intg::integration_status::healthy), h.message);
    }
    auto limiter = sp.pipeline().describe().at("rate_limiter").as_object();
    BOOST_TEST(limiter.at("available").as_int64() == 2);  // the clock never moved: nothing refilled
    BOOST_TEST((co_await sp.search_tracks("a")).has_value());
    auto& breaker = sp.pipeline().get<intg::circuit_breaker<>>();
    breaker.isolate();
    auto refused = co_await sp.search_tracks("a");
    BOOST_TEST((refused.error() == errc::circuit_open));
    auto h = co_await sp.health_check();  // the dependency is fine: the probe says so
    BOOST_TEST((h.status == intg::integration_status::healthy), h.message);
    breaker.reset();
  });
}

BOOST_AUTO_TEST_CASE(timeouts_malformed_and_truncated_bodies_are_clear_errors) {
  fixture f;
  f.cfg.retry.max_attempts = 2;
  f.cfg.timeout = 100ms;
  f.run([&](sp_client& sp) -> asio::awaitable<void> {
    f.local.faults().set_latency(400ms);
    auto slow = co_await sp.search_tracks("a");
    BOOST_TEST((slow.error() == errc::timeout), slow.error());
    f.local.faults().clear();
    f.local.faults().malform_next(1);
    auto bad = co_await sp.search_tracks("a");
    BOOST_REQUIRE(!bad);
    BOOST_TEST((bad.error() == errc::invalid_response));
    BOOST_TEST(bad.error().message().find("not JSON") != std::string_view::npos, bad.error());
    f.local.faults().truncate_next(1);
    auto healed = co_await sp.search_tracks("a");  // truncation is transient: the retry succeeds
    BOOST_TEST(healed.has_value());
    f.local.faults().truncate_next(5);
    auto cut = co_await sp.search_tracks("a");
    BOOST_TEST((cut.error() == errc::unavailable), cut.error());
    f.local.faults().clear();
  });
}

BOOST_AUTO_TEST_CASE(user_tokens_come_from_authorization_code_with_pkce_and_refresh) {
  fixture f;
  f.run([&](sp_client& sp) -> asio::awaitable<void> {
    auto before = co_await sp.get_current_user_playlists();
    BOOST_TEST((before.error() == errc::unauthorized));  // nobody signed in yet
    auto verifier = intg::auth::pkce_verifier();
    BOOST_REQUIRE(verifier);
    const std::string redirect = "http://127.0.0.1:9/callback";
    const std::string url = sp.authorization_url(redirect, "st-42", verifier->reveal());
    auto approve = co_await sp.http().get(url);  // the local user approves at once: 302 with a code
    BOOST_REQUIRE(approve);
    BOOST_REQUIRE(approve->result_int() == 302u);
    auto location = intg::http::url::parse((*approve)[intg::http::field::location]);
    BOOST_REQUIRE(location);
    auto params = intg::http::query::parse(location->query_string());
    std::string code, state;
    for (auto& [k, v] : *params) {
      if (k == "code") code = v;
      if (k == "state") state = v;
    }
    BOOST_TEST(state == "st-42");
    auto wrong = co_await sp.complete_authorization(code, redirect, intg::secret(std::string(64, 'a')));
    BOOST_TEST(!wrong);  // the verifier does not match the challenge
    auto again = co_await sp.http().get(url);
    location = intg::http::url::parse((*again)[intg::http::field::location]);
    params = intg::http::query::parse(location->query_string());
    for (auto& [k, v] : *params)
      if (k == "code") code = v;
    auto ok = co_await sp.complete_authorization(code, redirect, *verifier);
    BOOST_REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().to_string()));
    auto mine = co_await sp.get_current_user_playlists({.limit = 10});
    BOOST_REQUIRE_MESSAGE(mine, (mine ? "" : mine.error().to_string()));
    f.local.expire_all_tokens();
    auto refreshed = co_await sp.get_current_user_playlists({.limit = 10});
    BOOST_TEST(refreshed.has_value());
    BOOST_TEST(sp.token_requests().second == 3u);  // the refused code, the right one, one refresh grant
  });
}

BOOST_AUTO_TEST_CASE(tenants_are_isolated_tokens_limiters_and_breakers) {
  fixture f;
  f.local.add_client("app-b", "secret-b");
  auto cfg_b = f.config_for("globex", "app-b", "secret-b");
  f.cfg.retry.max_attempts = 1;
  f.cfg.circuit_breaker.failure_threshold = 2;
  f.cfg.rate_limits.requests_per_minute = 60;  // tenant A: one call per second, burst 2, no waiting
  f.cfg.rate_limits.burst_limit = 2;
  sp_client b(cfg_b, f.io.get_executor(), local_options());
  f.run_manual([&](manual_client& a) -> asio::awaitable<void> {
    BOOST_REQUIRE((co_await b.initialize()).has_value());
    BOOST_TEST((co_await a.search_tracks("x")).has_value());
    BOOST_TEST((co_await a.search_tracks("x")).has_value());
    auto limited = co_await a.search_tracks("x");
    BOOST_TEST((limited.error() == errc::rate_limited));  // A's quota is spent ...
    for (int i = 0; i < 5; ++i) BOOST_TEST((co_await b.search_tracks("x")).has_value());  // ... B's is not
    f.clock.advance(2s);  // A's limiter refills two calls
    f.local.faults().fail_next(2, 500);  // A's breaker opens
    (void)co_await a.search_tracks("x");
    (void)co_await a.search_tracks("x");
    BOOST_TEST((a.pipeline().get<intg::circuit_breaker<>>().state() == intg::breaker_state::open));
    BOOST_TEST((co_await b.search_tracks("x")).has_value());  // B's is closed
    BOOST_TEST((b.pipeline().get<intg::circuit_breaker<>>().state() == intg::breaker_state::closed));
    BOOST_TEST(a.token_requests().first == 1u);
    BOOST_TEST(b.token_requests().first == 1u);  // each tenant its own token
    co_await b.cleanup();
  });
}

BOOST_AUTO_TEST_CASE(the_kit_s_call_style_and_the_member_functions_send_the_same_requests) {
  fixture f;
  const auto& cat = f.local.catalogue();
  f.run([&](sp_client& sp) -> asio::awaitable<void> {
    const std::string& id = cat.tracks.front().id;
    spotify::market_params fr{.market = "FR"};
    auto a = co_await sp.call(spotify::get_track, id, fr);
    auto b = co_await sp.get_track(id, "FR");
    BOOST_REQUIRE(a);
    BOOST_REQUIRE(b);
    BOOST_TEST(a->id == b->id);
    BOOST_TEST(a->is_playable.has_value());  // a market was sent
    BOOST_TEST((a->is_playable == b->is_playable));
    spotify::playlist_items_params two;
    two.limit = 2;
    auto page = co_await sp.call(spotify::get_playlist_items, cat.playlists.front().id, two);
    BOOST_REQUIRE(page);
    BOOST_TEST(page->total == static_cast<int>(cat.playlists.front().items.size()));  // the paging object
    spotify::search_params q{.q = cat.tracks.front().name, .type = "track,artist"};
    auto both = co_await sp.call(spotify::search, q);
    BOOST_REQUIRE(both);
    BOOST_TEST((both->tracks.has_value() && both->artists.has_value()));
    // Ids are checked before anything is sent, in both styles.
    auto total = [&] {
      std::uint64_t n = 0;
      for (const auto& [endpoint, k] : f.local.stats().requests) n += k;
      return n;
    };
    const auto sent = total();
    BOOST_TEST((((co_await sp.call(spotify::get_artist, "../me")).error() == errc::invalid_argument)));
    BOOST_TEST((((co_await sp.call(spotify::get_track, "a%2Fb", fr)).error() == errc::invalid_argument)));
    BOOST_TEST((((co_await sp.get_album("x y")).error() == errc::invalid_argument)));
    BOOST_TEST(total() == sent);
  });
}

BOOST_AUTO_TEST_CASE(settings_market_is_the_default_market_and_a_call_s_own_market_wins) {
  fixture f;
  const auto& cat = f.local.catalogue();
  // A track playable in FR and not in another market (or the reverse).
  const std::string fr = "FR";
  std::string other, id;
  const spotify_local::album_entry* album = nullptr;
  for (const auto& t : cat.tracks) {
    const auto& al = cat.albums[t.album];
    for (std::string m : {"US", "JP", "DE", "BR", "GB"})
      if (other.empty() && cat.available(al, fr) != cat.available(al, m)) {
        other = m;
        id = t.id;
        album = &al;
      }
  }
  BOOST_REQUIRE(album);
  f.cfg.settings["market"] = fr;
  f.run([&](sp_client& sp) -> asio::awaitable<void> {
    auto by_default = co_await sp.get_track(id);
    BOOST_REQUIRE(by_default);
    BOOST_REQUIRE(by_default->is_playable.has_value());
    BOOST_TEST(*by_default->is_playable == cat.available(*album, fr));
    auto own = co_await sp.get_track(id, other);
    BOOST_REQUIRE(own);
    BOOST_REQUIRE(own->is_playable.has_value());
    BOOST_TEST(*own->is_playable == cat.available(*album, other));
    auto artist = co_await sp.get_artist(cat.artists.front().id);  // takes no market: none is added
    BOOST_TEST(artist.has_value());
  });
  fixture g;
  g.cfg.settings["market"] = 42;
  sp_client bad(g.cfg, g.io.get_executor(), local_options());
  test::run(g.io, [&]() -> asio::awaitable<void> {
    auto r = co_await bad.initialize();
    BOOST_REQUIRE(!r);
    BOOST_TEST((r.error() == errc::config_error));
    BOOST_TEST(r.error().json_path() == "$.settings.market");
    co_await g.local.shutdown(1s);
  }());
}

BOOST_AUTO_TEST_CASE(a_public_client_initializes_without_a_secret_and_signs_users_in_with_pkce) {
  fixture f;
  f.cfg.settings.erase("client_secret");
  f.run([&](sp_client& sp) -> asio::awaitable<void> {
    const auto before = f.local.stats().count("GET /v1/search");
    auto app_only = co_await sp.search_tracks("a");
    BOOST_REQUIRE(!app_only);
    BOOST_TEST((app_only.error() == errc::unauthorized));
    BOOST_TEST(app_only.error().to_string().find("settings.client_secret is not set") != std::string::npos, app_only.error());
    BOOST_TEST(f.local.stats().count("GET /v1/search") == before);  // nothing was sent
    co_await sign_in(sp);
    spotify::page_params ten{.limit = 10};
    auto mine = co_await sp.call(spotify::get_current_user_playlists, ten);
    BOOST_REQUIRE_MESSAGE(mine, (mine ? "" : mine.error().to_string()));
    BOOST_TEST(sp.token_requests().first == 0u);  // no app token was ever asked for
  });
}

BOOST_AUTO_TEST_CASE(a_saved_refresh_token_resumes_the_session_in_another_client) {
  fixture f;
  auto store = std::make_shared<intg::rest::memory_token_store>();
  auto with_store = local_options();
  with_store.store = intg::rest::token_store(store);
  sp_client first(f.cfg, f.io.get_executor(), with_store);
  sp_client later(f.cfg, f.io.get_executor(), local_options());
  test::run(f.io, [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE((co_await first.initialize()).has_value());
    BOOST_REQUIRE((co_await later.initialize()).has_value());
    co_await sign_in(first);
    auto saved = store->get("spotify/acme/spotify_main/refresh_token");  // <provider>/<tenant>/<integration>/
    BOOST_REQUIRE(saved);
    BOOST_TEST(((co_await later.get_current_user_playlists()).error() == errc::unauthorized));
    BOOST_REQUIRE(later.set_user_refresh_token(*saved));
    auto mine = co_await later.get_current_user_playlists({.limit = 10});
    BOOST_REQUIRE_MESSAGE(mine, (mine ? "" : mine.error().to_string()));
    BOOST_TEST(later.token_requests().second == 1u);  // one refresh-token grant
    co_await first.cleanup();
    co_await later.cleanup();
    co_await f.local.shutdown(1s);
  }());
}

BOOST_AUTO_TEST_SUITE_END()
