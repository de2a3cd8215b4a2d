// intg::spotify::client against the local Spotify server: every operation, paging, parameter
// checks, token refresh on 401, Retry-After, the breaker under a 500 storm, timeouts, broken
// bodies, PKCE, and tenant isolation.
#define BOOST_TEST_MODULE intg_spotify_client
#include <boost/test/unit_test.hpp>

#include "test_util.hpp"

#include "spotify/local_server.hpp"

#include <intg/providers/spotify/client.hpp>

#include <chrono>
#include <set>

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
