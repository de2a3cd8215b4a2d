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
// The local server listens on 127.0.0.1 over plain http: a host the deployment allows.
intg::rest::client_options local_options() {
  intg::rest::client_options o;
  o.extra_allowed_hosts = {"127.0.0.1"};
  return o;
}

namespace {

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

    spotify::market_params any_market;
    auto track = co_await sp.call(spotify::get_track, t0.id, any_market);
    BOOST_REQUIRE(track);
    BOOST_TEST(track->id == t0.id);
    BOOST_TEST(track->name == t0.name);
    BOOST_TEST(track->duration_ms == t0.duration_ms);

    spotify::several_params ids{.ids = cat.tracks[1].id + ",0000000000000000000000," + cat.tracks[2].id};
    auto several = co_await sp.call(spotify::get_several_tracks, ids);
    BOOST_REQUIRE(several);
    BOOST_REQUIRE(several->tracks.size() == 3u);
    BOOST_TEST(several->tracks[0].has_value());
    BOOST_TEST(!several->tracks[1].has_value());  // unknown id: null at its place

    auto artist = co_await sp.call(spotify::get_artist, cat.artists.front().id);
    BOOST_REQUIRE(artist);
    BOOST_TEST(artist->name == cat.artists.front().name);
    auto album = co_await sp.call(spotify::get_album, cat.albums.front().id, any_market);
    BOOST_REQUIRE(album);
    BOOST_TEST(album->tracks.total == static_cast<int>(cat.albums.front().tracks.size()));

    const auto& owner = cat.users[cat.playlists.front().owner].id;
    spotify::page_options fifty{.limit = 50}, five{.limit = 5};
    auto lists = co_await sp.call(spotify::get_user_playlists, owner, fifty);  // the first page's items
    BOOST_REQUIRE_MESSAGE(lists, (lists ? "" : lists.error().to_string()));
    BOOST_TEST(!lists->empty());
    auto items = co_await sp.call(spotify::get_playlist_items, cat.playlists.front().id, five);
    BOOST_REQUIRE(items);
    BOOST_TEST(items->size() == std::min<std::size_t>(5, cat.playlists.front().items.size()));

    auto missing = co_await sp.call(spotify::get_track, "0000000000000000000000", any_market);
    BOOST_REQUIRE(!missing);
    BOOST_TEST((missing.error() == intg::condition::not_found));
    BOOST_TEST(missing.error().http_status() == 404);
    BOOST_TEST(missing.error().to_string().find("Resource not found") != std::string::npos, missing.error().to_string());
  });
}

BOOST_AUTO_TEST_CASE(collect_all_walks_the_next_links_up_to_a_cap) {
  fixture f;
  const auto& cat = f.local.catalogue();
  const auto& big = *std::max_element(cat.playlists.begin(), cat.playlists.end(),
                                      [](const auto& a, const auto& b) { return a.items.size() < b.items.size(); });
  f.run([&](sp_client& sp) -> asio::awaitable<void> {
    BOOST_REQUIRE(big.items.size() > 4u);
    spotify::page_options two{.limit = 2}, fifty{.limit = 50};
    auto capped = co_await sp.collect_all(spotify::get_playlist_items, big.id, two, intg::rest::page_cap{2});
    BOOST_REQUIRE_MESSAGE(capped, (capped ? "" : capped.error().to_string()));
    BOOST_TEST(capped->size() == 4u);  // two pages of two
    auto whole = co_await sp.collect_all(spotify::get_playlist_items, big.id, fifty);
    BOOST_REQUIRE(whole);
    BOOST_TEST(whole->size() == big.items.size());
    auto pages = sp.pages(spotify::get_playlist_items, big.id, two);
    auto page = co_await pages.next();
    BOOST_REQUIRE(page);
    BOOST_TEST((*page)->size() == 2u);
    // (A next link to another origin is refused by the kit before anything is sent: test_rest.)
  });
}

BOOST_AUTO_TEST_CASE(parameters_outside_the_documented_ranges_are_refused_before_sending) {
  fixture f;
  f.run([&](sp_client& sp) -> asio::awaitable<void> {
    const auto before = f.local.stats().count("GET /v1/search");
    for (auto o : {spotify::search_options{.limit = 11}, spotify::search_options{.limit = 0},
                   spotify::search_options{.offset = 1001}, spotify::search_options{.market = "fra"}}) {
      auto r = co_await sp.search_tracks("x", o);
      BOOST_TEST((r.error() == errc::invalid_argument));
    }
    BOOST_TEST(((co_await sp.search_tracks("", {})).error() == errc::invalid_argument));
    spotify::page_options too_many{.limit = 51};
    BOOST_TEST(((co_await sp.call(spotify::get_playlist_items, "abc", too_many)).error() == errc::invalid_argument));
    spotify::several_params many;
    for (int i = 0; i < 51; ++i) many.ids += (i ? ",": "") + std::string("4iV5W9uYEdYUVa79Axb7Rh");
    BOOST_TEST(((co_await sp.call(spotify::get_several_tracks, many)).error() == errc::invalid_argument));
    spotify::several_params bad{.ids = "4iV5W9uYEdYUVa79Axb7Rh,../me"};
    BOOST_TEST(((co_await sp.call(spotify::get_several_tracks, bad)).error() == errc::invalid_argument));
    // A path id is percent-encoded into one segment ("..%2Fme"): the API refuses it, nothing else is reached.
    spotify::market_params m;
    BOOST_TEST(((co_await sp.call(spotify::get_track, "../me", m)).error().http_status() == 400));
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
    spotify::page_options ten{.limit = 10};
    auto before = co_await sp.call(spotify::get_current_user_playlists, ten);
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
    auto mine = co_await sp.call(spotify::get_current_user_playlists, ten);
    BOOST_REQUIRE_MESSAGE(mine, (mine ? "" : mine.error().to_string()));
    f.local.expire_all_tokens();
    auto refreshed = co_await sp.call(spotify::get_current_user_playlists, ten);
    BOOST_TEST(refreshed.has_value());
    // Token-source calls: the one refused before sign-in, the code's tokens, one refresh-token grant.
    BOOST_TEST(sp.token_requests().second == 3u);
    BOOST_TEST(f.local.stats().tokens_issued >= 3u);
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
