// The Spotify models (parsing with JSON paths, nulls, serialisation) and the local Spotify server
// (examples/spotify/local_server.hpp) driven over real sockets by intg::http::client: token grants
// and their errors, PKCE, paging links, parameter validation, 404/401, the rate limit and every
// fault switch. The last case writes sample responses that spotify_openapi_validation checks
// against Spotify's OpenAPI description.
#define BOOST_TEST_MODULE intg_spotify_server
#include <boost/test/unit_test.hpp>

#include "spotify/local_server.hpp"

#include <intg/http/client.hpp>
#include <intg/providers/spotify/model.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <vector>
#include <stdexcept>
#include <string>

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
