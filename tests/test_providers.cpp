// Fakes of provider APIs (tests/fakes/) and their building blocks (intg/testing/): routes,
// nested form bodies, every scripted scenario and the exchange log; the Stripe and Slack fakes
// over real sockets with intg::http::client; the official Node SDKs (stripe, @slack/web-api)
// driving each fake through every operation it supports; and the JSON Lines logs that
// slack_openapi_validation checks against Slack's OpenAPI description.
#define BOOST_TEST_MODULE intg_providers
#include <boost/test/unit_test.hpp>

#include "fakes/apple_music_fake.hpp"
#include "fakes/lastfm_fake.hpp"
#include "fakes/slack_fake.hpp"
#include "fakes/stripe_fake.hpp"
#include "fakes/twilio_fake.hpp"
#include "test_util.hpp"

#include <intg/http/client.hpp>
#include <intg/providers/apple_music.hpp>
#include <intg/providers/lastfm.hpp>
#include <intg/providers/slack.hpp>
#include <intg/providers/stripe.hpp>
#include <intg/providers/twilio.hpp>
#include <intg/testing/fake_api.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/parse.hpp>


#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <sys/wait.h>

namespace asio = boost::asio;
namespace json = boost::json;
namespace bh = boost::beast::http;
namespace t = intg::testing;
using namespace std::chrono_literals;

namespace {

// Where the exchange logs go for the validators (ctest runs in the build's tests directory); each
// run starts them afresh (fake_api::append_run_log), and every Slack/Stripe/Twilio test appends its fake's log.
constexpr const char* slack_log_file = "slack_exchanges.jsonl";
constexpr const char* stripe_log_file = "stripe_exchanges.jsonl";
constexpr const char* twilio_log_file = "twilio_exchanges.jsonl";

// A request built from named objects (never temporaries inside co_await: see the plan's g++ 12 note).
intg::http::request make(bh::verb m, const std::string& url) {
  auto r = intg::http::request::make(m, url);
  if (!r) throw std::runtime_error("bad url " + url);
  return std::move(*r);
}

json::object body_of(const intg::http::response& r) {
  boost::system::error_code ec;
  auto v = json::parse(r.body(), ec);
  if (ec || !v.is_object()) return {};
  return v.get_object();
}

std::string header(const intg::http::response& r, std::string_view name) {
  auto it = r.find(name);
  return it == r.end() ? std::string() : std::string(it->value());
}

// A tiny API on fake_api for the building-block tests.
struct echo_api {
  t::fake_api api;
  explicit echo_api(asio::io_context& io) : api(io.get_executor()) {
    api.route(bh::verb::get, "/v1/things/{id}", [](t::call& c) {
      return intg::http::make_response(bh::status::ok, json::serialize(json::object{{"id", c.params["id"]}, {"query", c.query_params}}));
    });
    api.route(bh::verb::post, "/v1/things", [](t::call& c) {
      return intg::http::make_response(bh::status::ok, json::serialize(json::object{{"body", c.body}, {"token", c.token}}));
    });
    api.route(bh::verb::get, "/health", [](t::call&) { return intg::http::make_response(bh::status::ok, R"({"ok":true})"); }, false);
    api.require_bearer({"tok_1"}, [](const t::call&, bool missing) {
      return intg::http::make_response(bh::status::unauthorized, missing ? R"({"error":"missing"})" : R"({"error":"invalid"})");
    });
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(fake_api_building_blocks)

BOOST_AUTO_TEST_CASE(forms_parse_nested_keys_and_arrays) {
  auto f = t::parse_form("email=a%40b.c&metadata[order_id]=42&metadata[note]=a+b&expand[0]=x&expand[1]=y&tags[]=p&tags[]=q"
                         "&items[0][price]=pr_1&items[0][quantity]=2&items[1][price]=pr_2");
  BOOST_REQUIRE(f);
  BOOST_TEST(json::serialize(*f) ==
             R"({"email":"a@b.c","metadata":{"order_id":"42","note":"a b"},"expand":["x","y"],"tags":["p","q"],)"
             R"("items":[{"price":"pr_1","quantity":"2"},{"price":"pr_2"}]})");
  BOOST_TEST(!t::parse_form("a[b=1"));            // unpaired bracket
  BOOST_TEST(!t::parse_form("a=1&a[b]=2"));       // a value and a container
  BOOST_TEST(!t::parse_form("a=1&a=2"));          // a key twice
  BOOST_TEST(!t::parse_form("a=%zz"));            // bad escape
  BOOST_TEST(!t::integer(*f, "missing").has_value());
  auto g = t::parse_form("n=-12&b=true&s=x");
  BOOST_REQUIRE(g);
  BOOST_TEST(*t::integer(*g, "n") == -12);
  BOOST_TEST(*t::boolean(*g, "b"));
  BOOST_TEST(!t::integer(*g, "s"));
  auto j = t::parse_body("application/json; charset=utf-8", R"({"channel":"C1","n":3})");
  BOOST_REQUIRE(j);
  BOOST_TEST(*t::integer(*j, "n") == 3);
  BOOST_TEST(!t::parse_body("application/json", "[1]"));
  BOOST_TEST(!t::parse_body("application/json", "{"));
}

BOOST_AUTO_TEST_CASE(path_templates_capture_one_decoded_segment) {
  auto p = t::match_path("/v1/customers/{id}", "/v1/customers/cus%20123");
  BOOST_REQUIRE(p);
  BOOST_TEST(p->at("id") == "cus 123");
  BOOST_TEST(!t::match_path("/v1/customers/{id}", "/v1/customers/a/b"));
  BOOST_TEST(!t::match_path("/v1/customers/{id}", "/v1/customers/"));
  BOOST_TEST(!t::match_path("/v1/customers/{id}", "/v1/customers"));
  BOOST_TEST(t::match_path("/v1/payment_intents/{id}/confirm", "/v1/payment_intents/pi_1/confirm").has_value());
  BOOST_TEST(!t::match_path("/v1/payment_intents/{id}/confirm", "/v1/payment_intents/pi_1/capture"));
  BOOST_TEST(t::match_path("/api/chat.postMessage", "/api/chat.postMessage").has_value());
}

BOOST_AUTO_TEST_CASE(routes_bearer_check_and_unknown_paths_over_sockets) {
  asio::io_context io;
  echo_api e(io);
  const auto port = e.api.start();
  intg::http::client c(io.get_executor());
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  auto body = [&]() -> asio::awaitable<void> {
    auto get = make(bh::verb::get, base + "/v1/things/th%2F1?expand%5B%5D=a&limit=3");
    get.set(intg::http::field::authorization, "Bearer tok_1");
    auto r = co_await c.send(get);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->result_int() == 200);
    BOOST_TEST(r->body() == R"({"id":"th/1","query":{"expand":["a"],"limit":"3"}})");

    auto post = make(bh::verb::post, base + "/v1/things");
    post.set(intg::http::field::authorization, "Bearer tok_1");
    post.form(intg::http::query{{"metadata[k]", "v"}});
    r = co_await c.send(post);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->body() == R"({"body":{"metadata":{"k":"v"}},"token":"tok_1"})");

    auto anonymous = make(bh::verb::get, base + "/v1/things/x");
    r = co_await c.send(anonymous);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->result_int() == 401);
    BOOST_TEST(r->body() == R"({"error":"missing"})");
    auto wrong = make(bh::verb::get, base + "/v1/things/x");
    wrong.set(intg::http::field::authorization, "Bearer nope");
    r = co_await c.send(wrong);
    BOOST_TEST(r->body() == R"({"error":"invalid"})");
    e.api.revoke_token("tok_1");
    r = co_await c.send(get);
    BOOST_TEST(r->result_int() == 401);  // revoked: an expired token from now on

    auto health = make(bh::verb::get, base + "/health");
    r = co_await c.send(health);
    BOOST_TEST(r->result_int() == 200);  // public route: no token needed
    auto nowhere = make(bh::verb::get, base + "/v2/none");
    r = co_await c.send(nowhere);
    BOOST_TEST(r->result_int() == 404);
    auto wrong_method = make(bh::verb::delete_, base + "/health");
    r = co_await c.send(wrong_method);
    BOOST_TEST(r->result_int() == 405);
    co_await e.api.stop();
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_CASE(every_scenario_over_sockets) {
  asio::io_context io;
  echo_api e(io);
  const auto port = e.api.start();
  intg::http::client c(io.get_executor());
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/v1/things/a";
  using t::rate_limit_style;
  e.api.script(t::scenarios::rate_limited(rate_limit_style::retry_after_seconds, 2s));
  e.api.script(t::scenarios::rate_limited(rate_limit_style::retry_after_date, 30s));
  e.api.script(t::scenarios::rate_limited(rate_limit_style::reset_epoch, 5s));
  e.api.script(t::scenarios::rate_limited(rate_limit_style::reset_delta, 7s));
  e.api.script(t::scenarios::rate_limited(rate_limit_style::bucket, 3s, R"({"error":"rate_limited"})", "things:get"));
  e.api.script(t::scenarios::server_error(bh::status::service_unavailable).repeat(3));
  e.api.script(t::scenarios::expired_token());
  e.api.script(t::scenarios::html_error());
  e.api.script(t::scenarios::error_body_200(R"({"ok":false,"error":"invalid_auth"})"));
  e.api.script(t::scenarios::slow(300ms));
  e.api.script(t::scenarios::truncated());
  e.api.script(t::scenarios::reset());
  BOOST_TEST(e.api.pending_scenarios() == 14u);
  std::vector<intg::result<intg::http::response>> got;
  std::vector<std::chrono::milliseconds> took;
  auto body = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 16; ++i) {
      auto req = make(bh::verb::get, url);
      req.set(intg::http::field::authorization, "Bearer tok_1");
      const auto t0 = std::chrono::steady_clock::now();
      got.push_back(co_await c.send(req));
      took.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0));
    }
    co_await e.api.stop();
  };
  test::run(io, body());
  BOOST_REQUIRE(got.size() == 16u);
  const std::time_t now = std::time(nullptr);
  BOOST_TEST(got[0]->result_int() == 429);
  BOOST_TEST(header(*got[0], "Retry-After") == "2");
  BOOST_TEST(header(*got[1], "Retry-After").ends_with(" GMT"));
  const auto epoch = std::stoll(header(*got[2], "X-RateLimit-Reset"));
  BOOST_TEST((epoch >= now + 3 && epoch <= now + 6));
  BOOST_TEST(header(*got[2], "X-RateLimit-Remaining") == "0");
  BOOST_TEST(header(*got[3], "X-RateLimit-Reset") == "7");
  BOOST_TEST(header(*got[4], "X-RateLimit-Bucket") == "things:get");
  BOOST_TEST(header(*got[4], "X-RateLimit-Reset-After") == "3");
  for (int i = 5; i < 8; ++i) BOOST_TEST(got[static_cast<std::size_t>(i)]->result_int() == 503);  // a burst of three
  BOOST_TEST(got[8]->result_int() == 401);
  BOOST_TEST(header(*got[8], "WWW-Authenticate").find("invalid_token") != std::string::npos);
  BOOST_TEST(got[9]->result_int() == 502);
  BOOST_TEST(header(*got[9], "Content-Type") == "text/html");
  BOOST_TEST(got[9]->body().starts_with("<html>"));
  BOOST_TEST(got[10]->result_int() == 200);
  BOOST_TEST(got[10]->body() == R"({"ok":false,"error":"invalid_auth"})");
  BOOST_TEST(got[11]->result_int() == 200);  // slow, but the real answer
  BOOST_TEST(took[11] >= 290ms);
  BOOST_TEST(!got[12]);  // truncated: Content-Length promised more than came
  BOOST_TEST(!got[13]);  // reset
  BOOST_TEST(got[14]->result_int() == 200);  // the script is used up
  BOOST_TEST(e.api.pending_scenarios() == 0u);

  const auto log = e.api.log();
  BOOST_REQUIRE(log.size() == 16u);
  BOOST_TEST(log[0].scenario == "rate_limited");
  BOOST_TEST(log[0].status == 429);
  BOOST_TEST(log[12].fault == "truncate");
  BOOST_TEST(log[12].status == 0);
  BOOST_TEST(log[13].fault == "reset");
  BOOST_TEST(log[15].scenario.empty());
  BOOST_TEST(log[15].route == "/v1/things/{id}");
}

BOOST_AUTO_TEST_CASE(route_scenarios_come_before_global_ones) {
  asio::io_context io;
  echo_api e(io);
  const auto port = e.api.start();
  intg::http::client c(io.get_executor());
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  e.api.script(t::scenarios::server_error());
  e.api.script(bh::verb::post, "/v1/things", t::scenarios::respond(bh::status::conflict, R"({"error":"conflict"})"));
  std::vector<int> statuses;
  auto body = [&]() -> asio::awaitable<void> {
    auto post = make(bh::verb::post, base + "/v1/things");
    post.set(intg::http::field::authorization, "Bearer tok_1");
    auto get = make(bh::verb::get, base + "/v1/things/1");
    get.set(intg::http::field::authorization, "Bearer tok_1");
    for (auto* r : {&post, &get, &post, &get}) {
      auto res = co_await c.send(*r);
      statuses.push_back(res ? res->result_int() : -1);
    }
    co_await e.api.stop();
  };
  test::run(io, body());
  BOOST_TEST(statuses == (std::vector<int>{409, 500, 200, 200}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(the_log_redacts_credentials_and_is_written_as_json_lines) {
  asio::io_context io;
  t::fake_api_options o;
  o.secret_fields = {"token"};
  t::fake_api api(io.get_executor(), o);
  api.route(bh::verb::post, "/api/x", [](t::call&) { return intg::http::make_response(bh::status::ok, R"({"ok":true})"); });
  api.require_bearer({"xoxb-secret"}, [](const t::call&, bool) { return intg::http::make_response(bh::status::ok, R"({"ok":false})"); }, "token");
  const auto port = api.start();
  intg::http::client c(io.get_executor());
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/api/x";
  auto body = [&]() -> asio::awaitable<void> {
    auto a = make(bh::verb::post, url);
    a.set(intg::http::field::authorization, "Bearer xoxb-secret");
    a.json(json::object{{"channel", "C1"}, {"token", "xoxb-secret"}});
    (void)co_await c.send(a);
    auto b = make(bh::verb::post, url + "?token=xoxb-secret&x=1");
    b.form(intg::http::query{{"token", "xoxb-secret"}, {"text", "hi"}});
    (void)co_await c.send(b);
    co_await api.stop();
  };
  test::run(io, body());
  const auto log = api.log();
  BOOST_REQUIRE(log.size() == 2u);
  BOOST_TEST(log[0].request_header("authorization") == "Bearer [redacted]");
  BOOST_TEST(log[0].request_body.find("xoxb-secret") == std::string::npos);
  BOOST_TEST(log[0].request_body.find("C1") != std::string::npos);
  BOOST_TEST(log[1].query.find("xoxb-secret") == std::string::npos);
  BOOST_TEST(log[1].request_body == "token=%5Bredacted%5D&text=hi");
  BOOST_TEST(log[1].status == 200);
  const std::string file = "fake_api_log_test.jsonl";
  BOOST_REQUIRE(api.write_log(file));
  std::ifstream in(file);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) {
    auto v = json::parse(line);
    BOOST_TEST(v.at("method") == "POST");
    BOOST_TEST(v.at("response").at("status") == 200);
    BOOST_TEST(line.find("xoxb-secret") == std::string::npos);
    ++lines;
  }
  BOOST_TEST(lines == 2);
  std::remove(file.c_str());

  // append_run_log: the first call of the process starts the file afresh (a stale run's lines
  // go), later calls append.
  const std::string run_file = "fake_api_run_log_test.jsonl";
  std::ofstream(run_file) << "a stale line from an earlier run\n";
  BOOST_REQUIRE(api.append_run_log(run_file));
  BOOST_REQUIRE(api.append_run_log(run_file));
  std::ifstream run_in(run_file);
  int run_lines = 0;
  while (std::getline(run_in, line)) {
    BOOST_TEST(json::parse(line).at("method") == "POST");
    ++run_lines;
  }
  BOOST_TEST(run_lines == 4);
  std::remove(run_file.c_str());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
namespace {

// A Stripe call: form body, the fake's key, optional Idempotency-Key and Stripe-Account.
struct stripe_env {
  asio::io_context io;
  fakes::stripe_fake fake{io.get_executor()};
  intg::http::client client{io.get_executor()};
  std::string base;
  stripe_env() { base = "http://127.0.0.1:" + std::to_string(fake.start()); }
  ~stripe_env() { fake.api().append_run_log(stripe_log_file); }

  intg::http::request req(bh::verb m, const std::string& path, const intg::http::query& form = {}, std::string_view idem = {},
                          std::string_view account = {}) {
    auto r = make(m, base + path);
    r.set(intg::http::field::authorization, "Bearer " + std::string(fakes::stripe_fake::default_key));
    if (m == bh::verb::post) r.form(form);
    if (!idem.empty()) r.idempotency_key(idem);
    if (!account.empty()) r.set("Stripe-Account", account);
    return r;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(stripe_fake_behaviour)

BOOST_AUTO_TEST_CASE(customers_with_idempotent_replay_and_key_reuse_error) {
  stripe_env s;
  auto body = [&]() -> asio::awaitable<void> {
    const intg::http::query form{{"email", "ada@example.com"}, {"name", "Ada"}, {"metadata[order_id]", "42"}};
    auto create = s.req(bh::verb::post, "/v1/customers", form, "key-1");
    auto first = co_await s.client.send(create);
    BOOST_REQUIRE(first);
    BOOST_TEST(first->result_int() == 200);
    auto cus = body_of(*first);
    BOOST_TEST(cus.at("object") == "customer");
    BOOST_TEST(cus.at("email") == "ada@example.com");
    BOOST_TEST(cus.at("metadata").at("order_id") == "42");
    BOOST_TEST(cus.at("id").get_string().starts_with("cus_"));
    BOOST_TEST(header(*first, "Idempotent-Replayed").empty());

    auto again = s.req(bh::verb::post, "/v1/customers", form, "key-1");
    auto replay = co_await s.client.send(again);
    BOOST_REQUIRE(replay);
    BOOST_TEST(replay->body() == first->body());
    BOOST_TEST(header(*replay, "Idempotent-Replayed") == "true");

    const intg::http::query other{{"email", "eve@example.com"}};
    auto misuse = s.req(bh::verb::post, "/v1/customers", other, "key-1");
    auto refused = co_await s.client.send(misuse);
    BOOST_REQUIRE(refused);
    BOOST_TEST(refused->result_int() == 400);
    BOOST_TEST(body_of(*refused).at("error").at("type") == "idempotency_error");

    const std::string id(cus.at("id").get_string());
    const intg::http::query update_form{{"metadata[order_id]", ""}, {"metadata[tier]", "gold"}, {"name", "Ada L."}};
    auto update = s.req(bh::verb::post, "/v1/customers/" + id, update_form);
    auto updated = co_await s.client.send(update);
    BOOST_REQUIRE(updated);
    auto u = body_of(*updated);
    BOOST_TEST(u.at("name") == "Ada L.");
    BOOST_TEST(json::serialize(u.at("metadata")) == R"({"tier":"gold"})");
    auto get = s.req(bh::verb::get, "/v1/customers/" + id);
    auto got = co_await s.client.send(get);
    BOOST_TEST(got->body() == updated->body());

    auto list = s.req(bh::verb::get, "/v1/customers");
    auto listed = co_await s.client.send(list);
    BOOST_TEST(body_of(*listed).at("data").as_array().size() == 1u);  // the replay created nothing
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(error_objects_follow_stripes_shape) {
  stripe_env s;
  auto body = [&]() -> asio::awaitable<void> {
    auto missing = s.req(bh::verb::get, "/v1/customers/cus_nope");
    auto r = co_await s.client.send(missing);
    BOOST_TEST(r->result_int() == 404);
    auto e = body_of(*r).at("error").as_object();
    BOOST_TEST(e.at("type") == "invalid_request_error");
    BOOST_TEST(e.at("code") == "resource_missing");
    BOOST_TEST(e.at("param") == "id");
    BOOST_TEST(e.at("message") == "No such customer: 'cus_nope'");

    const intg::http::query no_amount{{"currency", "usd"}};
    auto bad = s.req(bh::verb::post, "/v1/payment_intents", no_amount);
    r = co_await s.client.send(bad);
    BOOST_TEST(r->result_int() == 400);
    BOOST_TEST(body_of(*r).at("error").at("code") == "parameter_missing");
    BOOST_TEST(body_of(*r).at("error").at("param") == "amount");

    const intg::http::query unknown{{"emial", "x"}};
    auto typo = s.req(bh::verb::post, "/v1/customers", unknown);
    r = co_await s.client.send(typo);
    BOOST_TEST(body_of(*r).at("error").at("code") == "parameter_unknown");

    const intg::http::query declined{{"amount", "2000"}, {"currency", "usd"}, {"payment_method", "pm_card_chargeDeclined"}, {"confirm", "true"}};
    auto pay = s.req(bh::verb::post, "/v1/payment_intents", declined);
    r = co_await s.client.send(pay);
    BOOST_TEST(r->result_int() == 402);
    e = body_of(*r).at("error").as_object();
    BOOST_TEST(e.at("type") == "card_error");
    BOOST_TEST(e.at("code") == "card_declined");
    BOOST_TEST(e.at("decline_code") == "generic_decline");
    BOOST_TEST(e.at("payment_intent").at("status") == "requires_payment_method");

    auto anonymous = make(bh::verb::get, s.base + "/v1/balance");
    r = co_await s.client.send(anonymous);
    BOOST_TEST(r->result_int() == 401);
    BOOST_TEST(body_of(*r).at("error").at("type") == "invalid_request_error");
    auto nowhere = s.req(bh::verb::get, "/v1/nothing");
    r = co_await s.client.send(nowhere);
    BOOST_TEST(r->result_int() == 404);
    BOOST_TEST(std::string(body_of(*r).at("error").at("message").as_string()).starts_with("Unrecognized request URL (GET: /v1/nothing)"));

    s.fake.script(fakes::stripe_fake::rate_limited(2s));
    auto balance = s.req(bh::verb::get, "/v1/balance");
    r = co_await s.client.send(balance);
    BOOST_TEST(r->result_int() == 429);
    BOOST_TEST(header(*r, "Retry-After") == "2");
    BOOST_TEST(body_of(*r).at("error").at("code") == "rate_limit");
    r = co_await s.client.send(balance);
    BOOST_TEST(r->result_int() == 200);
    BOOST_TEST(body_of(*r).at("object") == "balance");
    s.fake.script(fakes::stripe_fake::expired_key());
    r = co_await s.client.send(balance);
    BOOST_TEST(r->result_int() == 401);
    BOOST_TEST(body_of(*r).at("error").at("code") == "api_key_expired");
    s.fake.revoke_key(fakes::stripe_fake::default_key);
    r = co_await s.client.send(balance);
    BOOST_TEST(r->result_int() == 401);
    BOOST_TEST(std::string(body_of(*r).at("error").at("message").as_string()).starts_with("Invalid API Key provided: sk_test_"));
    BOOST_TEST(r->body().find(fakes::stripe_fake::default_key) == std::string::npos);  // never the whole key
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(payment_intent_lifecycle_refunds_events_and_accounts) {
  stripe_env s;
  auto body = [&]() -> asio::awaitable<void> {
    const intg::http::query manual{{"amount", "5000"}, {"currency", "eur"}, {"payment_method", "pm_card_visa"}, {"capture_method", "manual"}};
    auto create = s.req(bh::verb::post, "/v1/payment_intents", manual, "pi-key");
    auto pi = body_of(*co_await s.client.send(create));
    BOOST_TEST(pi.at("status") == "requires_confirmation");
    const std::string id(pi.at("id").get_string());
    auto confirm = s.req(bh::verb::post, "/v1/payment_intents/" + id + "/confirm");
    pi = body_of(*co_await s.client.send(confirm));
    BOOST_TEST(pi.at("status") == "requires_capture");
    BOOST_TEST(pi.at("amount_capturable") == 5000);
    const intg::http::query partial{{"amount_to_capture", "4000"}};
    auto capture = s.req(bh::verb::post, "/v1/payment_intents/" + id + "/capture", partial);
    pi = body_of(*co_await s.client.send(capture));
    BOOST_TEST(pi.at("status") == "succeeded");
    BOOST_TEST(pi.at("amount_received") == 4000);
    auto cancel = s.req(bh::verb::post, "/v1/payment_intents/" + id + "/cancel");
    auto r = co_await s.client.send(cancel);
    BOOST_TEST(r->result_int() == 400);
    BOOST_TEST(body_of(*r).at("error").at("code") == "payment_intent_unexpected_state");

    const intg::http::query refund_form{{"payment_intent", id}, {"amount", "1500"}};
    auto refund = s.req(bh::verb::post, "/v1/refunds", refund_form);
    auto re = body_of(*co_await s.client.send(refund));
    BOOST_TEST(re.at("object") == "refund");
    BOOST_TEST(re.at("amount") == 1500);
    const intg::http::query too_much{{"payment_intent", id}, {"amount", "3000"}};
    auto over = s.req(bh::verb::post, "/v1/refunds", too_much);
    r = co_await s.client.send(over);
    BOOST_TEST(body_of(*r).at("error").at("code") == "amount_too_large");
    auto balance = s.req(bh::verb::get, "/v1/balance");
    auto bal = body_of(*co_await s.client.send(balance));
    BOOST_TEST(bal.at("available").at(0).at("currency") == "eur");
    BOOST_TEST(bal.at("available").at(0).at("amount") == 2500);

    auto events = s.req(bh::verb::get, "/v1/events?type=payment_intent.*");
    auto ev = body_of(*co_await s.client.send(events));
    BOOST_TEST(ev.at("object") == "list");
    BOOST_TEST(ev.at("data").as_array().size() == 3u);  // created, amount_capturable_updated, succeeded
    BOOST_TEST(ev.at("data").at(0).at("type") == "payment_intent.succeeded");  // newest first
    BOOST_TEST(ev.at("data").at(2).at("request").at("idempotency_key") == "pi-key");

    // Stripe-Account: objects of a connected account are invisible to the platform.
    const intg::http::query connected{{"email", "c@example.com"}};
    auto on_account = s.req(bh::verb::post, "/v1/customers", connected, {}, "acct_1CONNECTED");
    r = co_await s.client.send(on_account);
    BOOST_TEST(header(*r, "Stripe-Account") == "acct_1CONNECTED");
    const std::string cid(body_of(*r).at("id").get_string());
    auto from_platform = s.req(bh::verb::get, "/v1/customers/" + cid);
    BOOST_TEST((co_await s.client.send(from_platform))->result_int() == 404);
    auto from_account = s.req(bh::verb::get, "/v1/customers/" + cid, {}, {}, "acct_1CONNECTED");
    BOOST_TEST((co_await s.client.send(from_account))->result_int() == 200);
    auto bogus = s.req(bh::verb::get, "/v1/balance", {}, {}, "not_an_account");
    BOOST_TEST((co_await s.client.send(bogus))->result_int() == 403);
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(cursor_pagination_both_ways) {
  stripe_env s;
  std::vector<std::string> ids;  // oldest first
  auto body = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 7; ++i) {
      const std::string email = "u" + std::to_string(i) + "@example.com";
      const intg::http::query f{{"email", email}};
      auto create = s.req(bh::verb::post, "/v1/customers", f);
      ids.push_back(std::string(body_of(*co_await s.client.send(create)).at("id").get_string()));
    }
    std::vector<std::string> seen;
    std::string after;
    int pages = 0;
    for (;;) {
      auto page_req = s.req(bh::verb::get, "/v1/customers?limit=3" + (after.empty() ? std::string() : "&starting_after=" + after));
      auto page = body_of(*co_await s.client.send(page_req));
      BOOST_TEST(page.at("url") == "/v1/customers");
      ++pages;
      for (auto& c : page.at("data").as_array()) seen.push_back(std::string(c.at("id").get_string()));
      if (!page.at("has_more").as_bool()) break;
      after = seen.back();
    }
    BOOST_TEST(pages == 3);
    BOOST_TEST(seen == std::vector<std::string>(ids.rbegin(), ids.rend()), boost::test_tools::per_element());
    // ending_before walks back towards the newest.
    auto back = s.req(bh::verb::get, "/v1/customers?limit=2&ending_before=" + ids[1]);
    auto page = body_of(*co_await s.client.send(back));
    BOOST_REQUIRE(page.at("data").as_array().size() == 2u);
    BOOST_TEST(page.at("data").at(0).at("id").as_string() == ids[3]);
    BOOST_TEST(page.at("data").at(1).at("id").as_string() == ids[2]);
    BOOST_TEST(page.at("has_more") == true);
    auto bad_limit = s.req(bh::verb::get, "/v1/customers?limit=101");
    BOOST_TEST((co_await s.client.send(bad_limit))->result_int() == 400);
    auto bad_cursor = s.req(bh::verb::get, "/v1/customers?starting_after=cus_gone");
    auto r = co_await s.client.send(bad_cursor);
    BOOST_TEST(body_of(*r).at("error").at("param") == "starting_after");
    auto filtered = s.req(bh::verb::get, "/v1/customers?email=u3%40example.com");
    BOOST_TEST(body_of(*co_await s.client.send(filtered)).at("data").as_array().size() == 1u);
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(a_5xx_before_execution_is_not_stored_so_the_retry_with_the_same_key_runs) {
  stripe_env s;
  s.fake.script(bh::verb::post, "/v1/customers", fakes::stripe_fake::api_error());
  auto body = [&]() -> asio::awaitable<void> {
    const intg::http::query f{{"email", "r@example.com"}};
    auto create = s.req(bh::verb::post, "/v1/customers", f, "retry-key");
    auto r = co_await s.client.send(create);
    BOOST_TEST(r->result_int() == 500);
    BOOST_TEST(body_of(*r).at("error").at("type") == "api_error");
    r = co_await s.client.send(create);
    BOOST_TEST(r->result_int() == 200);
    BOOST_TEST(header(*r, "Idempotent-Replayed").empty());
    co_await s.fake.stop();
  };
  test::run(s.io, body());
  const auto posts = s.fake.api().log(bh::verb::post, "/v1/customers");
  BOOST_REQUIRE(posts.size() == 2u);
  BOOST_TEST(posts[0].request_header("Idempotency-Key") == posts[1].request_header("Idempotency-Key"));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
namespace {

struct slack_env {
  asio::io_context io;
  fakes::slack_fake fake{io.get_executor()};
  intg::http::client client{io.get_executor()};
  std::string base;
  slack_env() {
    fake.start();
    base = fake.api_url();
  }
  ~slack_env() { fake.api().append_run_log(slack_log_file); }

  intg::http::request form(const std::string& method, const intg::http::query& q, bool bearer = true) {
    auto r = make(bh::verb::post, base + method);
    if (bearer) r.set(intg::http::field::authorization, "Bearer " + std::string(fakes::slack_fake::default_token));
    r.form(q);
    return r;
  }
  intg::http::request json_call(const std::string& method, const json::object& body) {
    auto r = make(bh::verb::post, base + method);
    r.set(intg::http::field::authorization, "Bearer " + std::string(fakes::slack_fake::default_token));
    r.json(body);
    r.set(intg::http::field::content_type, "application/json; charset=utf-8");
    return r;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(slack_fake_behaviour)

BOOST_AUTO_TEST_CASE(post_and_update_with_form_or_json_and_token_as_a_field) {
  slack_env s;
  auto body = [&]() -> asio::awaitable<void> {
    auto auth = s.form("auth.test", {});
    auto r = co_await s.client.send(auth);
    auto a = body_of(*r);
    BOOST_TEST(a.at("ok") == true);
    BOOST_TEST(a.at("team_id") == "T0INTGFAKE");
    BOOST_TEST(header(*r, "Content-Type") == "application/json; charset=utf-8");

    auto post = s.form("chat.postMessage", {{"channel", "C0GENERAL01"}, {"text", "hello"}});
    auto m = body_of(*co_await s.client.send(post));
    BOOST_TEST(m.at("ok") == true);
    BOOST_TEST(m.at("channel") == "C0GENERAL01");
    BOOST_TEST(m.at("message").at("text") == "hello");
    const std::string ts(m.at("ts").get_string());

    const json::object blocks_msg{{"channel", "#general"},
                                  {"text", "fallback"},
                                  {"blocks", json::array{json::object{{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", "*hi*"}}}}}}};
    auto as_json = s.json_call("chat.postMessage", blocks_msg);
    m = body_of(*co_await s.client.send(as_json));
    BOOST_TEST(m.at("ok") == true);
    BOOST_TEST(m.at("message").at("blocks").at(0).at("type") == "section");

    // The token as a form field, no Authorization header.
    auto field = s.form("chat.update", {{"token", std::string(fakes::slack_fake::default_token)}, {"channel", "C0GENERAL01"}, {"ts", ts}, {"text", "edited"}}, false);
    auto u = body_of(*co_await s.client.send(field));
    BOOST_TEST(u.at("ok") == true);
    BOOST_TEST(u.at("text") == "edited");
    BOOST_TEST(u.at("ts").as_string() == ts);
    co_await s.fake.stop();
  };
  test::run(s.io, body());
  const auto log = s.fake.log();
  BOOST_REQUIRE(log.size() == 4u);
  BOOST_TEST(log[3].request_body.find(std::string(fakes::slack_fake::default_token)) == std::string::npos);  // redacted
}

BOOST_AUTO_TEST_CASE(errors_are_ok_false_on_http_200) {
  slack_env s;
  auto body = [&]() -> asio::awaitable<void> {
    auto expect = [&](intg::http::request& req, std::string_view code) -> asio::awaitable<void> {
      auto r = co_await s.client.send(req);
      BOOST_REQUIRE(r);
      BOOST_TEST(r->result_int() == 200);
      auto b = body_of(*r);
      BOOST_TEST(b.at("ok") == false);
      BOOST_TEST(b.at("error").as_string() == code);
    };
    auto anonymous = s.form("auth.test", {}, false);
    co_await expect(anonymous, "not_authed");
    auto wrong = s.form("auth.test", {{"token", "xoxb-wrong"}}, false);
    co_await expect(wrong, "invalid_auth");
    auto nowhere = s.form("chat.postMessage", {{"channel", "C0NOWHERE01"}, {"text", "x"}});
    co_await expect(nowhere, "channel_not_found");
    auto hidden = s.form("chat.postMessage", {{"channel", "G0SECRET001"}, {"text", "x"}});
    co_await expect(hidden, "channel_not_found");
    auto archived = s.form("chat.postMessage", {{"channel", "C0ARCHIVE01"}, {"text", "x"}});
    co_await expect(archived, "is_archived");
    auto empty = s.form("chat.postMessage", {{"channel", "C0GENERAL01"}});
    co_await expect(empty, "no_text");
    auto no_msg = s.form("chat.update", {{"channel", "C0GENERAL01"}, {"ts", "1700000000.000001"}, {"text", "x"}});
    co_await expect(no_msg, "message_not_found");
    auto bad_cursor = s.form("conversations.history", {{"channel", "C0GENERAL01"}, {"cursor", "bm9wZQ=="}});
    co_await expect(bad_cursor, "invalid_cursor");

    s.fake.script(fakes::slack_fake::rate_limited(3s));
    auto limited = s.form("auth.test", {});
    auto r = co_await s.client.send(limited);
    BOOST_TEST(r->result_int() == 429);
    BOOST_TEST(header(*r, "Retry-After") == "3");
    BOOST_TEST(body_of(*r).at("error") == "ratelimited");
    s.fake.script(fakes::slack_fake::error("invalid_auth"));
    co_await expect(limited, "invalid_auth");

    s.fake.revoke_token(std::string(fakes::slack_fake::default_token));
    co_await expect(limited, "token_revoked");
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(per_method_rate_tiers_answer_429_with_retry_after) {
  slack_env s;
  s.fake.enforce_rate_tiers();
  s.fake.set_rate_limit("conversations.list", 2, 30s);
  auto body = [&]() -> asio::awaitable<void> {
    auto list = s.form("conversations.list", {});
    for (int i = 0; i < 2; ++i) BOOST_TEST((co_await s.client.send(list))->result_int() == 200);
    auto r = co_await s.client.send(list);
    BOOST_TEST(r->result_int() == 429);
    const int after = std::stoi(header(*r, "Retry-After"));
    BOOST_TEST((after >= 29 && after <= 30));
    BOOST_TEST(body_of(*r).at("error") == "ratelimited");
    auto other = s.form("auth.test", {});  // another method, another tier
    BOOST_TEST((co_await s.client.send(other))->result_int() == 200);
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(cursor_pagination_of_conversations_and_history) {
  slack_env s;
  s.fake.seed_messages(fakes::slack_fake::random, 10);
  auto body = [&]() -> asio::awaitable<void> {
    std::vector<std::string> names;
    std::string cursor;
    int pages = 0;
    do {
      intg::http::query q{{"types", "public_channel,private_channel"}, {"limit", "2"}};
      if (!cursor.empty()) q.add("cursor", cursor);
      auto req = s.form("conversations.list", q);
      auto page = body_of(*co_await s.client.send(req));
      BOOST_REQUIRE(page.at("ok") == true);
      for (auto& c : page.at("channels").as_array()) names.push_back(std::string(c.at("name").get_string()));
      cursor = std::string(page.at("response_metadata").at("next_cursor").get_string());
      ++pages;
    } while (!cursor.empty());
    BOOST_TEST(pages == 2);
    BOOST_TEST(names == (std::vector<std::string>{"general", "random", "old-project"}), boost::test_tools::per_element());

    std::vector<std::string> texts;
    cursor.clear();
    pages = 0;
    for (;;) {
      intg::http::query q{{"channel", std::string(fakes::slack_fake::random)}, {"limit", "4"}};
      if (!cursor.empty()) q.add("cursor", cursor);
      auto req = s.form("conversations.history", q);
      auto page = body_of(*co_await s.client.send(req));
      for (auto& m : page.at("messages").as_array()) texts.push_back(std::string(m.at("text").get_string()));
      ++pages;
      if (!page.at("has_more").as_bool()) {
        BOOST_TEST(!page.contains("response_metadata"));
        break;
      }
      cursor = std::string(page.at("response_metadata").at("next_cursor").get_string());
    }
    BOOST_TEST(pages == 3);
    BOOST_REQUIRE(texts.size() == 10u);
    BOOST_TEST(texts.front() == "message 10");  // newest first
    BOOST_TEST(texts.back() == "message 1");

    // GET with the arguments in the query works too.
    auto get = make(bh::verb::get, s.base + "conversations.history?channel=C0GENERAL01&limit=1");
    get.set(intg::http::field::authorization, "Bearer " + std::string(fakes::slack_fake::default_token));
    auto empty = body_of(*co_await s.client.send(get));
    BOOST_TEST(empty.at("ok") == true);
    BOOST_TEST(empty.at("messages").as_array().empty());
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
#ifdef INTG_FAKES_SDK_DIR
namespace {

// Runs `script` (tests/fakes/sdk/) with Node against a fake served on its own thread; npm ci
// installs the SDKs into the build tree once (tests/fakes/sdk/run.sh). Returns node's exit code.
template <class Fake>
int run_node(Fake& fake, asio::io_context& io, const std::string& script, const std::string& args) {
  std::thread server([&] { io.run(); });
  const std::string cmd = "bash " INTG_FAKES_SDK_DIR "/run.sh " INTG_FAKES_SDK_WORK " " + script + " " + args;
  const int rc = std::system(cmd.c_str());
  asio::co_spawn(io, fake.stop(), asio::detached);
  server.join();
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(official_sdks)

BOOST_AUTO_TEST_CASE(stripe_node_drives_every_operation) {
  asio::io_context io;
  fakes::stripe_fake fake(io.get_executor());
  const auto port = fake.start();
  // What the script expects, in its order: the first balance call is rate-limited; the first
  // refund creation fails with a 500 that the SDK retries with the same Idempotency-Key.
  fake.script(bh::verb::get, "/v1/balance", fakes::stripe_fake::rate_limited(1s));
  fake.script(bh::verb::post, "/v1/refunds", fakes::stripe_fake::api_error());
  const int rc = run_node(fake, io, "stripe.js", std::to_string(port) + " " + std::string(fakes::stripe_fake::default_key));
  fake.api().append_run_log(stripe_log_file);
  BOOST_TEST(rc == 0);
  const auto refunds = fake.api().log(bh::verb::post, "/v1/refunds");
  BOOST_REQUIRE(refunds.size() >= 2u);
  BOOST_TEST(refunds[0].status == 500);
  BOOST_TEST(refunds[1].status == 200);
  BOOST_TEST(!refunds[0].request_header("Idempotency-Key").empty());
  BOOST_TEST(refunds[0].request_header("Idempotency-Key") == refunds[1].request_header("Idempotency-Key"));
  BOOST_TEST(fake.api().pending_scenarios() == 0u);
}

BOOST_AUTO_TEST_CASE(slack_web_api_drives_every_operation) {
  asio::io_context io;
  fakes::slack_fake fake(io.get_executor());
  fake.seed_messages(fakes::slack_fake::random, 23);
  const auto port = fake.start();
  // The first auth.test is rate-limited: the SDK must wait Retry-After and retry on its own.
  fake.script(bh::verb::post, "/api/auth.test", fakes::slack_fake::rate_limited(1s));
  const int rc = run_node(fake, io, "slack.js", std::to_string(port) + " " + std::string(fakes::slack_fake::default_token));
  fake.api().append_run_log(slack_log_file);
  BOOST_TEST(rc == 0);
  const auto auth = fake.api().log(bh::verb::post, "/api/auth.test");
  BOOST_REQUIRE(auth.size() >= 2u);
  BOOST_TEST(auth[0].status == 429);
  BOOST_TEST(auth[1].status == 200);
  BOOST_TEST(fake.api().pending_scenarios() == 0u);
}

BOOST_AUTO_TEST_CASE(twilio_node_drives_every_operation_and_validates_the_callbacks) {
  asio::io_context io;
  fakes::twilio_fake fake(io.get_executor());
  fake.seed_messages(3);
  const auto port = fake.start();
  fake.script(bh::verb::get, "/2010-04-01/Accounts/{AccountSid}/Messages.json", fakes::twilio_fake::rate_limited());
  const int rc = run_node(fake, io, "twilio.js",
                          std::to_string(port) + " " + std::string(fakes::twilio_fake::account_sid) + " " + std::string(fakes::twilio_fake::auth_token));
  fake.api().append_run_log(twilio_log_file);
  BOOST_TEST(rc == 0);
  BOOST_TEST(fake.callbacks_sent() == 2u);  // the SDK's validateRequest accepted both signatures
  BOOST_TEST(fake.callbacks_failed() == 0u);
  BOOST_TEST(fake.api().pending_scenarios() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
#endif

// ---------------------------------------------------------------------------------------------
// intg::stripe::client and intg::slack::client (the providers on the kit) against the fakes.
namespace {

// A registry-style configuration of one tenant's integration, pointed at a fake.
intg::integration_config provider_config(std::string name, std::string base_url, json::object settings) {
  intg::integration_config c;
  c.name = std::move(name);
  c.tenant = "acme";
  settings["base_url"] = std::move(base_url);
  c.settings = std::move(settings);
  c.retry.base_delay = 1ms;
  c.retry.max_delay = 5ms;
  c.timeout = 5s;
  c.rate_limits.burst_limit = 1000;  // the tests' own pace is not what they test
  c.circuit_breaker.failure_threshold = 50;  // the scripted failures must reach the caller, not trip the breaker
  return c;
}

// The deployment allows the fakes' host; tenant settings alone could not.
intg::rest::client_options local_fakes() {
  intg::rest::client_options o;
  o.extra_allowed_hosts = {"127.0.0.1"};
  return o;
}

struct stripe_client_env {
  asio::io_context io;
  fakes::stripe_fake fake{io.get_executor()};
  std::string base = "http://127.0.0.1:" + std::to_string(fake.start());
  intg::stripe::client stripe{provider_config("payments", base, {{"secret_key", fakes::stripe_fake::default_key}}),
                              io.get_executor(), local_fakes()};
  ~stripe_client_env() { fake.api().append_run_log(stripe_log_file); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(stripe_client)

BOOST_AUTO_TEST_CASE(every_operation_through_the_kit) {
  stripe_client_env s;
  namespace st = intg::stripe;
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await s.stripe.initialize());
    auto health = co_await s.stripe.health_check();
    BOOST_TEST((health.status == intg::integration_status::healthy));

    st::customer_params ada{.email = "ada@example.com", .name = "Ada", .metadata = st::string_map{{"order_id", "42"}}};
    auto created = co_await s.stripe.call(st::create_customer, ada);
    BOOST_REQUIRE(created);
    BOOST_TEST(created->id.starts_with("cus_"));
    BOOST_TEST(created->metadata.at("order_id") == "42");
    const std::string id = created->id;
    auto got = co_await s.stripe.call(st::retrieve_customer, id);
    BOOST_REQUIRE(got);
    BOOST_TEST(*got->email == "ada@example.com");
    st::customer_params rename{.name = "Ada L."};
    auto updated = co_await s.stripe.call(st::update_customer, id, rename);
    BOOST_REQUIRE(updated);
    BOOST_TEST(*updated->name == "Ada L.");

    for (int i = 0; i < 4; ++i) {
      st::customer_params more{.email = "c" + std::to_string(i) + "@example.com"};
      BOOST_REQUIRE(co_await s.stripe.call(st::create_customer, more));
    }
    st::customer_list_params two_per_page{.limit = 2};
    auto all = co_await s.stripe.collect_all(st::list_customers, two_per_page);
    BOOST_REQUIRE(all);
    BOOST_TEST(all->size() == 5u);  // three pages of 2, 2, 1
    auto capped = co_await s.stripe.collect_all(st::list_customers, two_per_page, intg::rest::page_cap{2});
    BOOST_REQUIRE(capped);
    BOOST_TEST(capped->size() == 4u);

    st::payment_intent_params pay{.amount = 5000, .currency = "eur", .payment_method = "pm_card_visa", .capture_method = "manual"};
    auto pi = co_await s.stripe.call(st::create_payment_intent, pay);
    BOOST_REQUIRE(pi);
    BOOST_TEST((pi->status == st::payment_intent_status::requires_confirmation));
    const std::string pi_id = pi->id;
    st::confirm_params confirm{};
    pi = co_await s.stripe.call(st::confirm_payment_intent, pi_id, confirm);
    BOOST_REQUIRE(pi);
    BOOST_TEST((pi->status == st::payment_intent_status::requires_capture));
    st::capture_params capture{.amount_to_capture = 4000};
    pi = co_await s.stripe.call(st::capture_payment_intent, pi_id, capture);
    BOOST_REQUIRE(pi);
    BOOST_TEST(pi->amount_received == 4000);
    auto again = co_await s.stripe.call(st::retrieve_payment_intent, pi_id);
    BOOST_TEST((again && again->status == st::payment_intent_status::succeeded));

    st::refund_params part{.payment_intent = pi_id, .amount = 1500};
    auto refund = co_await s.stripe.call(st::create_refund, part);
    BOOST_REQUIRE(refund);
    BOOST_TEST(refund->amount == 1500);
    st::refund_list_params of_intent{.payment_intent = pi_id};
    auto refunds = co_await s.stripe.collect_all(st::list_refunds, of_intent);
    BOOST_TEST((refunds && refunds->size() == 1u));

    st::payment_intent_params other{.amount = 700, .currency = "eur"};
    auto second = co_await s.stripe.call(st::create_payment_intent, other);
    BOOST_REQUIRE(second);
    const std::string second_id = second->id;
    st::cancel_params why{.cancellation_reason = "requested_by_customer"};
    auto cancelled = co_await s.stripe.call(st::cancel_payment_intent, second_id, why);
    BOOST_TEST((cancelled && cancelled->status == st::payment_intent_status::canceled));
    st::payment_intent_list_params intents{};
    auto listed = co_await s.stripe.collect_all(st::list_payment_intents, intents);
    BOOST_REQUIRE_MESSAGE(listed, listed.error().to_string());
    BOOST_TEST(listed->size() == 2u);

    st::event_list_params succeeded{.type = "payment_intent.succeeded"};
    auto events = co_await s.stripe.collect_all(st::list_events, succeeded);
    BOOST_REQUIRE_MESSAGE(events, events.error().to_string());
    BOOST_REQUIRE(events->size() == 1u);
    BOOST_TEST(events->front().data.object.at("id").as_string() == pi_id);
    auto balance = co_await s.stripe.call(st::retrieve_balance);
    BOOST_REQUIRE(balance);
    BOOST_TEST(balance->available.at(0).amount == 2500);
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(a_retried_post_keeps_its_idempotency_key_and_creates_once) {
  stripe_client_env s;
  namespace st = intg::stripe;
  s.fake.script(bh::verb::post, "/v1/customers", fakes::stripe_fake::api_error());
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await s.stripe.initialize());
    st::customer_params p{.email = "once@example.com"};
    auto created = co_await s.stripe.call(st::create_customer, p);
    BOOST_REQUIRE(created);
    auto posts = s.fake.api().log(bh::verb::post, "/v1/customers");
    BOOST_REQUIRE(posts.size() == 2u);  // the 500, then the retry
    const std::string key(posts[0].request_header("Idempotency-Key"));
    BOOST_TEST(key.size() >= 16u);
    BOOST_TEST(posts[1].request_header("Idempotency-Key") == key);
    auto second = co_await s.stripe.call(st::create_customer, p);  // a new logical call: a new key
    BOOST_REQUIRE(second);
    posts = s.fake.api().log(bh::verb::post, "/v1/customers");
    BOOST_TEST(posts.back().request_header("Idempotency-Key") != key);
    st::customer_list_params all_params{};
    auto all = co_await s.stripe.collect_all(st::list_customers, all_params);
    BOOST_TEST((all && all->size() == 2u));
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(stripe_errors_carry_stripes_code_and_never_the_key) {
  stripe_client_env s;
  namespace st = intg::stripe;
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await s.stripe.initialize());
    const std::string missing = "cus_missing";
    auto r = co_await s.stripe.call(st::retrieve_customer, missing);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().provider_code() == "resource_missing");
    BOOST_TEST(r.error().http_status() == 404);
    BOOST_TEST((r.error() == intg::condition::not_found));
    BOOST_TEST(std::string(r.error().code().category().name()) == "stripe");

    st::payment_intent_params declined{.amount = 100, .currency = "eur", .payment_method = "pm_card_chargeDeclined", .confirm = true};
    auto pi = co_await s.stripe.call(st::create_payment_intent, declined);
    BOOST_REQUIRE(!pi);
    BOOST_TEST(pi.error().provider_code() == "card_declined");
    BOOST_TEST(pi.error().to_string().find("decline_code: generic_decline") != std::string::npos, pi.error().to_string());
    BOOST_TEST(pi.error().to_string().find("type: card_error") != std::string::npos);
    BOOST_TEST(pi.error().http_status() == 402);
    BOOST_TEST(!intg::is_transient(pi.error()));

    s.fake.script(fakes::stripe_fake::rate_limited(1s).repeat(3));
    auto limited = co_await s.stripe.call(st::retrieve_balance);
    BOOST_REQUIRE(!limited);
    BOOST_TEST((limited.error() == intg::condition::rate_limited));
    BOOST_TEST(limited.error().retry_after() == 1000ms);
    s.fake.api().clear_scenarios();

    s.fake.revoke_key(fakes::stripe_fake::default_key);
    auto refused = co_await s.stripe.call(st::retrieve_balance);
    BOOST_REQUIRE(!refused);
    BOOST_TEST((refused.error() == intg::condition::unauthorized), refused.error().to_string());
    BOOST_TEST(refused.error().to_string().find(fakes::stripe_fake::default_key) == std::string::npos);
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(the_connected_account_comes_from_settings_and_hosts_are_checked) {
  asio::io_context io;
  fakes::stripe_fake fake{io.get_executor()};
  const std::string base = "http://127.0.0.1:" + std::to_string(fake.start());
  namespace st = intg::stripe;
  st::client on_account{provider_config("payments", base, {{"secret_key", fakes::stripe_fake::default_key}, {"account_id", "acct_1CONNECTED"}}),
                        io.get_executor(), local_fakes()};
  st::client elsewhere{provider_config("payments", "https://api.stripe.com.evil.example", {{"secret_key", "sk_test_x"}}),
                       io.get_executor(), local_fakes()};
  st::client not_allowed{provider_config("payments", base, {{"secret_key", "sk_test_x"}}), io.get_executor()};
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await on_account.initialize());
    st::customer_params p{.email = "c@example.com"};
    auto c = co_await on_account.call(st::create_customer, p);
    BOOST_REQUIRE(c);
    BOOST_TEST(fake.api().log().back().request_header("Stripe-Account") == "acct_1CONNECTED");
    auto r = co_await elsewhere.initialize();
    BOOST_REQUIRE(!r);
    BOOST_TEST((r.error() == intg::errc::config_error));
    r = co_await not_allowed.initialize();  // 127.0.0.1 only when the deployment allows it
    BOOST_REQUIRE(!r);
    BOOST_TEST((r.error() == intg::errc::config_error));
    co_await fake.stop();
  };
  test::run(io, body());
  fake.api().append_run_log(stripe_log_file);
}

BOOST_AUTO_TEST_CASE(a_registry_builds_the_client_per_tenant_with_the_deployments_options) {
  asio::io_context io;
  fakes::stripe_fake fake{io.get_executor()};
  const std::string base = "http://127.0.0.1:" + std::to_string(fake.start());
  namespace st = intg::stripe;
  intg::registry reg(io.get_executor());
  intg::integration_config cfg = provider_config("payments", base, {{"secret_key", fakes::stripe_fake::default_key}});
  cfg.category.clear();  // unstated: the provider's own
  reg.register_integration<st::client>(cfg, "acme", local_fakes());
  auto body = [&]() -> asio::awaitable<void> {
    co_await reg.enable_all();
    auto* stripe = reg.get<st::client>("payments", "acme");
    BOOST_REQUIRE(stripe);
    auto balance = co_await stripe->call(st::retrieve_balance);
    BOOST_TEST(balance.has_value());
    BOOST_TEST(reg.snapshot().front().category == "payment");
    co_await reg.disable_all();
    co_await fake.stop();
  };
  test::run(io, body());
  fake.api().append_run_log(stripe_log_file);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

struct slack_client_env {
  asio::io_context io;
  fakes::slack_fake fake{io.get_executor()};
  std::string base = (fake.start(), fake.api_url());
  intg::slack::client slack{provider_config("chat", base, {{"bot_token", fakes::slack_fake::default_token}}), io.get_executor(),
                            local_fakes()};
  ~slack_client_env() { fake.api().append_run_log(slack_log_file); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(slack_client)

BOOST_AUTO_TEST_CASE(every_method_through_the_kit) {
  slack_client_env s;
  s.fake.seed_messages(fakes::slack_fake::random, 23);
  namespace sl = intg::slack;
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await s.slack.initialize());
    auto health = co_await s.slack.health_check();
    BOOST_TEST((health.status == intg::integration_status::healthy));
    auto who = co_await s.slack.call(sl::auth_test);
    BOOST_REQUIRE(who);
    BOOST_TEST(!who->team_id.empty());

    sl::post_message_args hello{.channel = std::string(fakes::slack_fake::general), .text = "Deploy finished"};
    auto posted = co_await s.slack.call(sl::post_message, hello);
    BOOST_REQUIRE(posted);
    BOOST_TEST(posted->channel == fakes::slack_fake::general);
    BOOST_TEST(*posted->message.text == "Deploy finished");
    sl::update_message_args edit{.channel = posted->channel, .ts = posted->ts, .text = "Deploy finished (v2)"};
    auto updated = co_await s.slack.call(sl::update_message, edit);
    BOOST_REQUIRE(updated);
    BOOST_TEST(updated->text == "Deploy finished (v2)");

    sl::list_conversations_args one_per_page{.limit = 1};
    auto channels = co_await s.slack.collect_all(sl::list_conversations, one_per_page);
    BOOST_REQUIRE(channels);
    BOOST_TEST(channels->size() >= 3u);

    sl::history_args history{.channel = std::string(fakes::slack_fake::random), .limit = 5};
    auto pages = s.slack.pages(sl::conversation_history, history);
    std::size_t messages = 0, page_count = 0;
    while (true) {
      auto page = co_await pages.next();
      BOOST_REQUIRE(page);
      if (!*page) break;
      messages += (*page)->size();
      ++page_count;
    }
    BOOST_TEST(messages == 23u);
    BOOST_TEST(page_count == 5u);
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(ok_false_is_an_error_with_slacks_code) {
  slack_client_env s;
  namespace sl = intg::slack;
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await s.slack.initialize());
    sl::post_message_args nowhere{.channel = "C0NOSUCHCHAN", .text = "hello"};
    auto r = co_await s.slack.call(sl::post_message, nowhere);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().provider_code() == "channel_not_found");
    BOOST_TEST(r.error().http_status() == 200);
    BOOST_TEST(!intg::is_transient(r.error()));
    BOOST_TEST(std::string(r.error().code().category().name()) == "slack");
    s.fake.script(fakes::slack_fake::error("invalid_auth"));
    auto refused = co_await s.slack.call(sl::auth_test);
    BOOST_REQUIRE(!refused);
    BOOST_TEST(refused.error().provider_code() == "invalid_auth");
    BOOST_TEST(refused.error().to_string().find(fakes::slack_fake::default_token) == std::string::npos);
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(a_429_is_waited_out_and_the_post_is_sent_once) {
  slack_client_env s;
  namespace sl = intg::slack;
  s.fake.script(fakes::slack_fake::rate_limited(1s));
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await s.slack.initialize());
    const auto t0 = std::chrono::steady_clock::now();
    sl::post_message_args hello{.channel = std::string(fakes::slack_fake::general), .text = "after the limit"};
    auto posted = co_await s.slack.call(sl::post_message, hello);
    BOOST_REQUIRE(posted);  // the 429 was refused before it ran: the retry posts once
    BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 900ms));
    sl::history_args general{.channel = std::string(fakes::slack_fake::general)};
    auto history = co_await s.slack.collect_all(sl::conversation_history, general);
    BOOST_REQUIRE(history);
    std::size_t copies = 0;
    for (const auto& m : *history) copies += m.text && *m.text == "after the limit";
    BOOST_TEST(copies == 1u);
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// Twilio through the kit against the Twilio fake: Basic auth (account SID and auth token, or an
// API key pair), the account SID in the base URL, form bodies, next_page_uri paging, Twilio's
// error object, signed status callbacks verified with verify_twilio, and no resend of a create.
namespace {

intg::integration_config twilio_config(const fakes::twilio_fake& fake, json::object auth) {
  auth["account_sid"] = fakes::twilio_fake::account_sid;
  return provider_config("sms", fake.kit_base_url(), std::move(auth));
}

struct twilio_env {
  asio::io_context io;
  fakes::twilio_fake fake{io.get_executor()};
  std::uint16_t port = fake.start();
  intg::twilio::client twilio{twilio_config(fake, {{"auth_token", fakes::twilio_fake::auth_token}}), io.get_executor(), local_fakes()};
  ~twilio_env() { fake.api().append_run_log(twilio_log_file); }
};

// Receives status callbacks on 127.0.0.1 and verifies each with verify_twilio, as an application would.
struct callback_receiver {
  explicit callback_receiver(asio::any_io_executor ex)
      : server(ex, [this](intg::http::server_request& r) -> asio::awaitable<intg::http::server_response> {
          intg::webhook::twilio_params params;
          if (auto p = intg::http::query::parse(r.body())) params.assign(p->begin(), p->end());
          auto it = r.find("X-Twilio-Signature");
          const std::string header = it == r.end() ? std::string() : std::string(it->value());
          auto ok = intg::webhook::verify_twilio(url(), params, header, fakes::twilio_fake::auth_token);
          if (!ok) {
            ++refused;
            co_return intg::http::make_response(bh::status::forbidden, "", "text/plain");
          }
          for (auto& [k, v] : params)
            if (k == "MessageStatus") statuses.push_back(v);
          co_return intg::http::make_response(bh::status::no_content, "", "");
        }) {
    BOOST_REQUIRE(server.listen("127.0.0.1", 0));
    server.start();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server.port()) + "/twilio/status?tenant=acme"; }
  intg::http::server server;
  std::vector<std::string> statuses;
  int refused = 0;
};

// Waits (polling the io_context's timers) until `done()` or about two seconds have passed.
template <class F>
asio::awaitable<void> wait_for(F done) {
  asio::steady_timer t(co_await asio::this_coro::executor);
  for (int i = 0; i < 200 && !done(); ++i) {
    t.expires_after(10ms);
    co_await t.async_wait(asio::use_awaitable);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(twilio_client)

BOOST_AUTO_TEST_CASE(every_operation_through_the_kit_with_signed_status_callbacks) {
  twilio_env s;
  s.fake.seed_messages(5);
  callback_receiver receiver(s.io.get_executor());
  namespace tw = intg::twilio;
  auto body = [&]() -> asio::awaitable<void> {
    auto init = co_await s.twilio.initialize();
    BOOST_REQUIRE_MESSAGE(init, (init ? "" : init.error().to_string()));
    BOOST_TEST(s.twilio.base_url().path() == "/2010-04-01/Accounts/" + std::string(fakes::twilio_fake::account_sid));
    auto health = co_await s.twilio.health_check();
    BOOST_TEST((health.status == intg::integration_status::healthy), health.message);

    tw::send_params hello{.To = "+15558675310", .From = std::string(fakes::twilio_fake::from_number), .Body = "Your code is 123456",
                          .StatusCallback = receiver.url()};
    auto sent = co_await s.twilio.call(tw::send_message, hello);
    BOOST_REQUIRE_MESSAGE(sent, (sent ? "" : sent.error().to_string()));
    BOOST_TEST(*sent->status == "queued");
    BOOST_TEST(sent->sid->starts_with("SM"));
    co_await wait_for([&] { return receiver.statuses.size() >= 2; });
    BOOST_TEST(receiver.refused == 0);
    BOOST_REQUIRE(receiver.statuses.size() == 2u);  // Twilio's order: sent, then delivered
    BOOST_TEST(receiver.statuses[0] == "sent");
    BOOST_TEST(receiver.statuses[1] == "delivered");

    auto fetched = co_await s.twilio.call(tw::fetch_message, *sent->sid);
    BOOST_REQUIRE(fetched);
    BOOST_TEST(*fetched->status == "delivered");
    BOOST_TEST(*fetched->body == "Your code is 123456");

    tw::list_params two{.PageSize = 2};
    auto all = co_await s.twilio.collect_all(tw::list_messages, two);
    BOOST_REQUIRE_MESSAGE(all, (all ? "" : all.error().to_string()));
    BOOST_TEST(all->size() == 6u);  // five seeded and ours, newest first, over three pages
    BOOST_TEST(*all->front().sid == *sent->sid);
    BOOST_TEST(s.fake.api().log(bh::verb::get, "/2010-04-01/Accounts/{AccountSid}/Messages.json").size() == 4u);  // health + 3 pages
    tw::list_params mine{.To = "+15558675310", .PageSize = 50};
    auto filtered = co_await s.twilio.call(tw::list_messages, mine);
    BOOST_REQUIRE(filtered);
    BOOST_TEST(filtered->size() == 6u);

    tw::update_params redact{.Body = ""};
    auto redacted = co_await s.twilio.call(tw::update_message, *sent->sid, redact);
    BOOST_REQUIRE(redacted);
    BOOST_TEST(redacted->body->empty());
    tw::update_params cancel{.Status = "canceled"};
    auto not_scheduled = co_await s.twilio.call(tw::update_message, *sent->sid, cancel);
    BOOST_REQUIRE(!not_scheduled);
    BOOST_TEST(not_scheduled.error().provider_code() == "30409");
    BOOST_TEST((not_scheduled.error() == intg::condition::invalid_argument));

    auto gone = co_await s.twilio.call(tw::delete_message, *sent->sid);
    BOOST_REQUIRE(gone);
    auto missing = co_await s.twilio.call(tw::fetch_message, *sent->sid);
    BOOST_REQUIRE(!missing);
    BOOST_TEST((missing.error() == intg::condition::not_found));
    BOOST_TEST(missing.error().provider_code() == "20404");
    BOOST_TEST(missing.error().to_string().find("more_info: https://www.twilio.com/docs/errors/20404") != std::string::npos, missing.error());
    // A SID that is not Twilio's shape is refused before anything is sent.
    const auto before = s.fake.api().log().size();
    BOOST_TEST(((co_await s.twilio.call(tw::fetch_message, "../Calls")).error() == intg::errc::invalid_argument));
    BOOST_TEST(s.fake.api().log().size() == before);
    co_await receiver.server.shutdown(100ms);
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(errors_undelivered_callbacks_api_keys_and_no_resend_of_a_create) {
  twilio_env s;
  callback_receiver receiver(s.io.get_executor());
  namespace tw = intg::twilio;
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await s.twilio.initialize());
    tw::send_params p{.To = std::string(fakes::twilio_fake::invalid_to), .From = std::string(fakes::twilio_fake::from_number), .Body = "hi"};
    auto invalid = co_await s.twilio.call(tw::send_message, p);
    BOOST_REQUIRE(!invalid);
    BOOST_TEST(invalid.error().provider_code() == "21211");
    BOOST_TEST(invalid.error().http_status() == 400);
    BOOST_TEST((invalid.error() == intg::condition::invalid_argument));
    tw::send_params no_body{.To = "+15558675310", .From = std::string(fakes::twilio_fake::from_number)};
    BOOST_TEST((co_await s.twilio.call(tw::send_message, no_body)).error().provider_code() == "21602");

    // Accepted, then undelivered: the callback says so, with Twilio's error code.
    tw::send_params lost{.To = std::string(fakes::twilio_fake::undelivered_to), .From = std::string(fakes::twilio_fake::from_number),
                         .Body = "hi", .StatusCallback = receiver.url()};
    BOOST_REQUIRE(co_await s.twilio.call(tw::send_message, lost));
    co_await wait_for([&] { return receiver.statuses.size() >= 2; });
    BOOST_REQUIRE(receiver.statuses.size() == 2u);
    BOOST_TEST(receiver.statuses[1] == "undelivered");

    // A 500 to a create: Twilio takes no idempotency key, so the kit does not send it again.
    const std::string route = "/2010-04-01/Accounts/{AccountSid}/Messages.json";
    s.fake.script(bh::verb::post, route, fakes::twilio_fake::server_error());
    tw::send_params once{.To = "+15558675310", .From = std::string(fakes::twilio_fake::from_number), .Body = "once"};
    const auto posts = s.fake.api().log(bh::verb::post, route).size();
    auto unknown = co_await s.twilio.call(tw::send_message, once);
    BOOST_REQUIRE(!unknown);
    BOOST_TEST((unknown.error() == intg::condition::outcome_unknown));
    BOOST_TEST(unknown.error().http_status() == 500);
    BOOST_TEST(unknown.error().provider_code() == "20500");
    BOOST_TEST(s.fake.api().log(bh::verb::post, route).size() == posts + 1);
    // A 429 was not processed: that one is retried.
    s.fake.script(bh::verb::post, route, fakes::twilio_fake::rate_limited());
    auto after_429 = co_await s.twilio.call(tw::send_message, once);
    BOOST_TEST(after_429.has_value());
    // A fetch (GET) is idempotent: a 500 is retried.
    s.fake.script(fakes::twilio_fake::server_error());
    BOOST_TEST((co_await s.twilio.call(tw::fetch_message, *after_429->sid)).has_value());

    // An API key pair instead of the auth token; a wrong secret is a 401 that names no secret.
    intg::twilio::client keyed(twilio_config(s.fake, {{"api_key_sid", fakes::twilio_fake::api_key_sid},
                                                      {"api_key_secret", fakes::twilio_fake::api_key_secret}}),
                               s.io.get_executor(), local_fakes());
    BOOST_REQUIRE(co_await keyed.initialize());
    BOOST_TEST(keyed.auth().chosen() == 0u);
    tw::list_params one{.PageSize = 1};
    BOOST_TEST((co_await keyed.call(tw::list_messages, one)).has_value());
    intg::twilio::client wrong(twilio_config(s.fake, {{"auth_token", "0000000000000000deadbeefdeadbeef"}}), s.io.get_executor(), local_fakes());
    BOOST_REQUIRE(co_await wrong.initialize());
    auto refused = co_await wrong.call(tw::list_messages, one);
    BOOST_REQUIRE(!refused);
    BOOST_TEST(refused.error().provider_code() == "20003");
    BOOST_TEST((refused.error() == intg::condition::unauthorized));
    BOOST_TEST(refused.error().to_string().find("deadbeef") == std::string::npos);
    // Settings: no credentials at all, and a base URL naming a setting that is absent.
    intg::twilio::client none(twilio_config(s.fake, {}), s.io.get_executor(), local_fakes());
    auto no_creds = co_await none.initialize();
    BOOST_REQUIRE(!no_creds);
    BOOST_TEST(no_creds.error().json_path() == "$.settings.auth_token");
    auto cfg = twilio_config(s.fake, {{"auth_token", fakes::twilio_fake::auth_token}});
    cfg.settings.erase("account_sid");
    intg::twilio::client no_account(cfg, s.io.get_executor(), local_fakes());
    auto no_sid = co_await no_account.initialize();
    BOOST_REQUIRE(!no_sid);
    BOOST_TEST(no_sid.error().json_path() == "$.settings.account_sid");
    co_await receiver.server.shutdown(100ms);
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(twilio_signatures)

// Twilio's documented example (twilio.com/docs/usage/security): this URL and these parameters,
// auth token 12345, give the signature below.
BOOST_AUTO_TEST_CASE(twilio_s_documented_example_and_port_forms) {
  const std::string url = "https://mycompany.com/myapp.php?foo=1&bar=2";
  const intg::webhook::twilio_params params{{"CallSid", "CA1234567890ABCDE"}, {"Caller", "+12349013030"}, {"Digits", "1234"},
                                            {"From", "+12349013030"}, {"To", "+18005551212"}};
  const std::string token = "12345";
  const std::string sig = intg::webhook::sign_twilio(url, params, token);
  BOOST_TEST(sig == "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
  BOOST_TEST(intg::webhook::verify_twilio(url, params, sig, token).has_value());
  // Signed with the default port, verified without it, and the reverse.
  const std::string with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
  BOOST_TEST(intg::webhook::verify_twilio(with_port, params, sig, token).has_value());
  BOOST_TEST(intg::webhook::verify_twilio(url, params, intg::webhook::sign_twilio(with_port, params, token), token).has_value());
  // Another port is another URL.
  BOOST_TEST((intg::webhook::verify_twilio("https://mycompany.com:8443/myapp.php?foo=1&bar=2", params, sig, token).error() ==
              intg::errc::signature_invalid));
  // Order of parameters does not matter; a changed value, name, URL or token does.
  intg::webhook::twilio_params shuffled(params.rbegin(), params.rend());
  BOOST_TEST(intg::webhook::verify_twilio(url, shuffled, sig, token).has_value());
  auto changed = params;
  changed[2].second = "1235";
  BOOST_TEST((intg::webhook::verify_twilio(url, changed, sig, token).error() == intg::errc::signature_invalid));
  BOOST_TEST((intg::webhook::verify_twilio(url + "&x=1", params, sig, token).error() == intg::errc::signature_invalid));
  BOOST_TEST((intg::webhook::verify_twilio(url, params, sig, "54321").error() == intg::errc::signature_invalid));
  BOOST_TEST((intg::webhook::verify_twilio(url, params, "", token).error() == intg::errc::signature_missing));
  BOOST_TEST((intg::webhook::verify_twilio(url, params, "not base64!", token).error() == intg::errc::signature_malformed));
  BOOST_TEST((intg::webhook::verify_twilio(url, params, "AAAA", token).error() == intg::errc::signature_malformed));
}

BOOST_AUTO_TEST_CASE(json_bodies_are_covered_by_body_sha256) {
  const std::string body = R"({"property": "value", "boolean": true})";
  const std::string hash = intg::crypto::to_hex(intg::crypto::sha256(body));
  const std::string url = "https://example.com/myapp?bodySHA256=" + hash;
  const std::string token = "12345";
  const std::string sig = intg::webhook::sign_twilio(url, {}, token);
  BOOST_TEST(intg::webhook::verify_twilio_body(url, body, sig, token).has_value());
  BOOST_TEST((intg::webhook::verify_twilio_body(url, body + " ", sig, token).error() == intg::errc::signature_invalid));
  const std::string no_hash = "https://example.com/myapp";
  BOOST_TEST((intg::webhook::verify_twilio_body(no_hash, body, intg::webhook::sign_twilio(no_hash, {}, token), token).error() ==
              intg::errc::signature_malformed));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// Apple Music through the kit against the Apple Music fake, which checks every developer token
// with OpenSSL as Apple documents it (ES256, kid, iss, exp within 15,777,000 s, raw R||S).
namespace {

std::string pem_of(const intg::auth::jwk& key) { return std::string(key.private_pem().value().reveal()); }

struct apple_env {
  asio::io_context io;
  intg::auth::jwk key = intg::auth::jwk::generate("P-256").value();
  fakes::apple_music_fake fake{io.get_executor(), key.pkey()};
  std::uint16_t port = fake.start();
  intg::integration_config config(bool with_user = true, const std::string& pem = {}) {
    json::object s{{"private_key", pem.empty() ? pem_of(key) : pem}, {"key_id", fakes::apple_music_fake::key_id},
                   {"team_id", fakes::apple_music_fake::team_id}};
    if (with_user) s["music_user_token"] = fakes::apple_music_fake::user_token;
    return provider_config("music", fake.base_url(), std::move(s));
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(apple_music_client)

BOOST_AUTO_TEST_CASE(catalog_search_paging_library_and_one_developer_token) {
  apple_env e;
  e.fake.seed_library(7);
  namespace am = intg::apple_music;
  am::client music(e.config(), e.io.get_executor(), local_fakes());
  auto body = [&]() -> asio::awaitable<void> {
    auto init = co_await music.initialize();
    BOOST_REQUIRE_MESSAGE(init, (init ? "" : init.error().to_string()));
    auto health = co_await music.health_check();
    BOOST_TEST((health.status == intg::integration_status::healthy), health.message);

    am::search_params blue{.term = "blue", .types = "songs,albums,playlists", .limit = 2};
    auto found = co_await music.call(am::search, "us", blue);
    BOOST_REQUIRE_MESSAGE(found, (found ? "" : found.error().to_string()));
    BOOST_REQUIRE(found->results.songs.has_value());
    BOOST_TEST(found->results.songs->data.size() == 2u);
    BOOST_TEST(found->results.songs->next.has_value());  // more songs than the limit
    BOOST_REQUIRE(found->results.albums.has_value());
    BOOST_TEST(found->results.albums->data.front().attributes->name == "Kind of Blue");
    BOOST_REQUIRE(found->results.playlists.has_value());
    BOOST_TEST(*found->results.playlists->data.front().attributes->description->short_ == "Classics.");

    am::search_params songs_only{.term = "blue", .limit = 1};
    auto every = co_await music.collect_all(am::search_songs, "us", songs_only);
    BOOST_REQUIRE_MESSAGE(every, (every ? "" : every.error().to_string()));
    BOOST_TEST(every->size() == 4u);  // the four "blue" titles, one per page, following the `next` paths

    const std::string id = every->front().id;
    auto one = co_await music.call(am::get_song, "us", id);
    BOOST_REQUIRE(one);
    BOOST_REQUIRE(one->data.size() == 1u);
    BOOST_TEST(one->data[0].attributes->durationInMillis.has_value());
    am::ids_params two{.ids = id + ",999999999"};
    auto some = co_await music.call(am::get_songs, "us", two);
    BOOST_REQUIRE(some);
    BOOST_TEST(some->data.size() == 1u);  // an unknown id is left out
    auto album = co_await music.call(am::get_album, "us", "1440857000");
    BOOST_REQUIRE(album);
    BOOST_TEST(*album->data[0].attributes->trackCount == 5);
    auto playlist = co_await music.call(am::get_playlist, "us", "pl.f4d106fed2bd41149aaacabb233eb5eb");
    BOOST_REQUIRE(playlist);

    am::library_params three{.limit = 3};
    auto library = co_await music.collect_all(am::library_songs, three);
    BOOST_REQUIRE_MESSAGE(library, (library ? "" : library.error().to_string()));
    BOOST_TEST(library->size() == 7u);

    // One developer token served every call: signed once, verified by the fake each time.
    BOOST_TEST(music.auth().fetches() == 1u);
    BOOST_TEST(e.fake.distinct_tokens() == 1u);
    BOOST_TEST(e.fake.tokens_refused() == 0u);
    BOOST_TEST(e.fake.tokens_accepted() >= 12u);
    co_await e.fake.stop();
  };
  test::run(e.io, body());
}

BOOST_AUTO_TEST_CASE(errors_arguments_and_a_key_apple_does_not_know) {
  apple_env e;
  namespace am = intg::apple_music;
  am::client music(e.config(false), e.io.get_executor(), local_fakes());
  auto other_key = intg::auth::jwk::generate("P-256").value();
  am::client stranger(e.config(true, pem_of(other_key)), e.io.get_executor(), local_fakes());
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await music.initialize());
    auto missing = co_await music.call(am::get_song, "us", "123");
    BOOST_REQUIRE(!missing);
    BOOST_TEST((missing.error() == intg::condition::not_found));
    BOOST_TEST(missing.error().provider_code() == "40400");
    BOOST_TEST(missing.error().to_string().find("Resource Not Found") != std::string::npos, missing.error());
    // No Music-User-Token in the settings: the library refuses.
    am::library_params any;
    auto library = co_await music.call(am::library_songs, any);
    BOOST_REQUIRE(!library);
    BOOST_TEST(library.error().http_status() == 403);
    // Checked before anything is sent.
    const auto sent = e.fake.api().log().size();
    BOOST_TEST(((co_await music.call(am::get_song, "../me", "1")).error() == intg::errc::invalid_argument));
    BOOST_TEST(((co_await music.call(am::get_song, "us", "1/../2")).error() == intg::errc::invalid_argument));
    am::search_params too_many{.term = "blue", .limit = 26};
    BOOST_TEST(((co_await music.call(am::search, "us", too_many)).error() == intg::errc::invalid_argument));
    am::search_params bad_type{.term = "blue", .types = "songs,videos"};
    BOOST_TEST(((co_await music.call(am::search, "us", bad_type)).error() == intg::errc::invalid_argument));
    BOOST_TEST(e.fake.api().log().size() == sent);
    // A 429 is waited out and retried.
    e.fake.script(fakes::apple_music_fake::rate_limited());
    am::search_params blue{.term = "blue"};
    BOOST_TEST((co_await music.call(am::search, "us", blue)).has_value());

    // Signed with a key Apple does not know: 401, one fresh token, then the error.
    BOOST_REQUIRE(co_await stranger.initialize());
    auto refused = co_await stranger.call(am::search, "us", blue);
    BOOST_REQUIRE(!refused);
    BOOST_TEST((refused.error() == intg::condition::unauthorized));
    BOOST_TEST(refused.error().provider_code() == "40100");
    BOOST_TEST(stranger.auth().fetches() == 2u);  // re-signed once after the first 401
    // Settings: a key that is not P-256.
    auto rsa = intg::auth::jwk::generate("RSA").value();
    am::client wrong_kind(e.config(true, pem_of(rsa)), e.io.get_executor(), local_fakes());
    auto init = co_await wrong_kind.initialize();
    BOOST_REQUIRE(!init);
    BOOST_TEST(init.error().json_path() == "$.settings.private_key");
    BOOST_TEST(init.error().to_string().find("BEGIN") == std::string::npos);  // the key never shows
    co_await e.fake.stop();
  };
  test::run(e.io, body());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// Last.fm through the kit against the Last.fm fake, which checks every api_sig itself: searches
// and top tracks page by number (to @attr.totalPages), a list of one comes as a lone object,
// the desktop auth flow gives a session key, scrobbles are signed POSTs, errors come in the body
// whatever the status.
namespace {

struct lastfm_env {
  asio::io_context io;
  fakes::lastfm_fake fake{io.get_executor()};
  std::uint16_t port = fake.start();
  intg::integration_config config(std::string session_key = {}, std::string secret = std::string(fakes::lastfm_fake::shared_secret)) {
    json::object s{{"api_key", fakes::lastfm_fake::api_key}, {"shared_secret", std::move(secret)}};
    if (!session_key.empty()) s["session_key"] = std::move(session_key);
    return provider_config("scrobbler", fake.kit_base_url(), std::move(s));
  }
  std::size_t sent(std::string_view method) {
    std::size_t n = 0;
    for (const auto& x : fake.api().log()) n += x.query.find("method=" + std::string(method)) != std::string::npos ||
                                                 x.request_body.find("method=" + std::string(method)) != std::string::npos;
    return n;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(lastfm_client)

BOOST_AUTO_TEST_CASE(searches_and_top_tracks_page_by_number_and_read_a_lone_object_as_a_list) {
  lastfm_env e;
  namespace fm = intg::lastfm;
  fm::client lastfm(e.config(), e.io.get_executor(), local_fakes());
  auto body = [&]() -> asio::awaitable<void> {
    auto init = co_await lastfm.initialize();
    BOOST_REQUIRE_MESSAGE(init, (init ? "" : init.error().to_string()));
    auto health = co_await lastfm.health_check();
    BOOST_TEST((health.status == intg::integration_status::healthy), health.message);

    fm::track_search_params blue{.track = "blue", .limit = 1};
    auto page = co_await lastfm.call(fm::search_tracks, blue);  // one page: one match, a lone object
    BOOST_REQUIRE_MESSAGE(page, (page ? "" : page.error().to_string()));
    BOOST_REQUIRE(page->size() == 1u);
    BOOST_TEST(page->front().name == "Blue Monday");
    BOOST_TEST(page->front().artist == "New Order");
    BOOST_TEST(*page->front().listeners == "912000");
    auto every = co_await lastfm.collect_all(fm::search_tracks, blue);
    BOOST_REQUIRE_MESSAGE(every, (every ? "" : every.error().to_string()));
    BOOST_TEST(every->size() == 4u);  // four "blue" titles, a page each, then an empty page

    // Top tracks end at @attr.totalPages: 7 New Order tracks by 3 are 3 pages, no 4th request.
    fm::top_tracks_params order{.artist = "New Order", .limit = 3};
    const auto before = e.sent("artist.getTopTracks");
    auto top = co_await lastfm.collect_all(fm::top_tracks, order);
    BOOST_REQUIRE_MESSAGE(top, (top ? "" : top.error().to_string()));
    BOOST_TEST(top->size() == 7u);
    BOOST_TEST(top->front().name == "Blue Monday");  // the most listened first
    BOOST_TEST(top->front().artist.name == "New Order");
    // Keys that are not C++ names ("@attr", "#text") through the models' json_keys.
    BOOST_REQUIRE(top->back().attr && top->back().attr->rank);
    BOOST_TEST(*top->back().attr->rank == "7");  // ranks count across pages
    BOOST_REQUIRE(top->front().image && !top->front().image->empty());
    BOOST_TEST(top->front().image->front().text.starts_with("https://"));
    BOOST_TEST(*top->front().image->front().size == "small");
    BOOST_TEST(e.sent("artist.getTopTracks") - before == 3u);

    fm::artist_search_params moby{.artist = "mob"};
    auto artists = co_await lastfm.call(fm::search_artists, moby);
    BOOST_REQUIRE(artists);
    BOOST_REQUIRE(artists->size() == 1u);
    BOOST_TEST(artists->front().name == "Moby");

    // Reads carry the key and format=json, and no signature.
    const auto reads = e.fake.api().log();
    BOOST_TEST(reads.back().query.find("format=json") != std::string::npos);
    BOOST_TEST(reads.back().query.find("api_sig") == std::string::npos);
    co_await e.fake.stop();
  };
  test::run(e.io, body());
}

BOOST_AUTO_TEST_CASE(desktop_auth_flow_then_signed_scrobbles_with_the_session_key) {
  lastfm_env e;
  namespace fm = intg::lastfm;
  fm::client app(e.config(), e.io.get_executor(), local_fakes());
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await app.initialize());
    auto token = co_await app.call(fm::get_token);
    BOOST_REQUIRE_MESSAGE(token, (token ? "" : token.error().to_string()));
    const std::string url = fm::authorization_url(fakes::lastfm_fake::api_key, token->token);
    BOOST_TEST(url == "https://www.last.fm/api/auth/?api_key=" + std::string(fakes::lastfm_fake::api_key) + "&token=" + token->token);
    // Before the user approves: error 14 (on a 403), the provider's code kept.
    fm::session_params with_token{.token = token->token};
    auto early = co_await app.call(fm::get_session, with_token);
    BOOST_REQUIRE(!early);
    BOOST_TEST(early.error().provider_code() == "14");
    e.fake.approve(token->token);
    auto session = co_await app.call(fm::get_session, with_token);
    BOOST_REQUIRE_MESSAGE(session, (session ? "" : session.error().to_string()));
    BOOST_TEST(session->session.name == fakes::lastfm_fake::user);

    // Without a session key a write fails before anything is sent, naming the setting.
    fm::scrobble_batch one;
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    one.add({.artist = "Moby", .track = "Porcelain", .timestamp = now - 300});
    const auto sent = e.fake.api().log().size();
    auto refused = co_await app.call(fm::scrobble_tracks, one);
    BOOST_REQUIRE(!refused);
    BOOST_TEST((refused.error() == intg::errc::unauthorized));
    BOOST_TEST(refused.error().to_string().find("settings.session_key") != std::string::npos, refused.error());
    BOOST_TEST(e.fake.api().log().size() == sent);

    // With the session key: a signed POST; the listen older than 14 days is ignored, not an error.
    fm::client user(e.config(session->session.key), e.io.get_executor(), local_fakes());
    BOOST_REQUIRE(co_await user.initialize());
    fm::scrobble_batch three;
    three.add({.artist = "Moby", .track = "Porcelain", .timestamp = now - 600, .album = "Play"})
        .add({.artist = "New Order", .track = "Ceremony", .timestamp = now - 300})
        .add({.artist = "Lana Del Rey", .track = "Video Games", .timestamp = now - 30 * 24 * 3600});
    auto answer = co_await user.call(fm::scrobble_tracks, three);
    BOOST_REQUIRE_MESSAGE(answer, (answer ? "" : answer.error().to_string()));
    auto counts = fm::counts_of(*answer);
    BOOST_REQUIRE(counts);
    BOOST_TEST(counts->accepted == 2);
    BOOST_TEST(counts->ignored == 1);
    BOOST_TEST(e.fake.scrobbled().size() == 2u);
    const auto posted = e.fake.api().log().back();
    BOOST_TEST(posted.query.empty());  // every parameter in the body
    BOOST_TEST(posted.request_body.find("api_sig=") != std::string::npos);
    // The session key and API key are redacted in the fake's log, as a credential must be.
    BOOST_TEST(posted.request_body.find(session->session.key) == std::string::npos);

    // 51 listens: refused before sending.
    fm::scrobble_batch too_many;
    for (int i = 0; i < 51; ++i) too_many.add({.artist = "Moby", .track = "Porcelain", .timestamp = now - 100 - i});
    BOOST_TEST(((co_await user.call(fm::scrobble_tracks, too_many)).error() == intg::errc::invalid_argument));

    // A wrong shared secret: the fake's signature check fails with error 13.
    fm::client wrong(e.config(session->session.key, "not-the-secret-0123456789abcdef"), e.io.get_executor(), local_fakes());
    BOOST_REQUIRE(co_await wrong.initialize());
    auto bad_sig = co_await wrong.call(fm::scrobble_tracks, one);
    BOOST_REQUIRE(!bad_sig);
    BOOST_TEST(bad_sig.error().provider_code() == "13");
    // An unknown session key: error 9, which Last.fm means as "sign in again".
    fm::client revoked(e.config("sk-revoked-0123456789"), e.io.get_executor(), local_fakes());
    BOOST_REQUIRE(co_await revoked.initialize());
    auto stale = co_await revoked.call(fm::scrobble_tracks, one);
    BOOST_REQUIRE(!stale);
    BOOST_TEST((stale.error() == intg::condition::unauthorized));
    BOOST_TEST(stale.error().provider_code() == "9");
    co_await e.fake.stop();
  };
  test::run(e.io, body());
}

BOOST_AUTO_TEST_CASE(errors_in_the_body_on_any_status_and_which_are_retried) {
  lastfm_env e;
  namespace fm = intg::lastfm;
  fm::client lastfm(e.config(), e.io.get_executor(), local_fakes());
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await lastfm.initialize());
    // Error 29 on an HTTP 200 is a rate limit: waited out and retried.
    e.fake.script(fakes::lastfm_fake::rate_limited());
    fm::track_search_params blue{.track = "blue"};
    const auto before = e.sent("track.search");
    auto found = co_await lastfm.call(fm::search_tracks, blue);
    BOOST_REQUIRE_MESSAGE(found, (found ? "" : found.error().to_string()));
    BOOST_TEST(e.sent("track.search") - before == 2u);
    // Error 11 (service offline) is transient: a read is retried ...
    e.fake.script(fakes::lastfm_fake::offline());
    BOOST_TEST((co_await lastfm.call(fm::search_tracks, blue)).has_value());
    // ... a scrobble is not resent: it may have been recorded.
    fm::client user(e.config(e.fake.session_key_for_tests()), e.io.get_executor(), local_fakes());
    BOOST_REQUIRE(co_await user.initialize());
    fm::scrobble_batch one;
    one.add({.artist = "Moby", .track = "Porcelain", .timestamp = static_cast<std::int64_t>(std::time(nullptr)) - 60});
    e.fake.script(fakes::lastfm_fake::offline());
    const auto posts = e.sent("track.scrobble");
    auto unknown = co_await user.call(fm::scrobble_tracks, one);
    BOOST_REQUIRE(!unknown);
    BOOST_TEST((unknown.error() == intg::errc::outcome_unknown));
    BOOST_TEST(e.sent("track.scrobble") - posts == 1u);
    // A bad API key: error 10 on a 403, not retried; the key is not in the message.
    json::object s{{"api_key", "ffffffffffffffffffffffffffffffff"}};
    fm::client stranger(provider_config("scrobbler", e.fake.kit_base_url(), std::move(s)), e.io.get_executor(), local_fakes());
    BOOST_REQUIRE(co_await stranger.initialize());
    auto refused = co_await stranger.call(fm::search_tracks, blue);
    BOOST_REQUIRE(!refused);
    BOOST_TEST(refused.error().provider_code() == "10");
    BOOST_TEST(refused.error().http_status() == 403);
    BOOST_TEST(refused.error().to_string().find("ffffffff") == std::string::npos, refused.error());
    // An empty search is refused before sending; settings without an API key do not initialise.
    fm::track_search_params empty;
    BOOST_TEST(((co_await lastfm.call(fm::search_tracks, empty)).error() == intg::errc::invalid_argument));
    fm::client keyless(provider_config("scrobbler", e.fake.kit_base_url(), {}), e.io.get_executor(), local_fakes());
    auto init = co_await keyless.initialize();
    BOOST_REQUIRE(!init);
    BOOST_TEST(init.error().json_path() == "$.settings.api_key");
    co_await e.fake.stop();
  };
  test::run(e.io, body());
}

BOOST_AUTO_TEST_CASE(the_signature_follows_the_spec) {
  // Sorted by name, name then value, format and callback left out, the secret appended: the MD5
  // of "api_keyxxxxmethodauth.getSessiontokenyyyyyy" + "secret".
  const std::vector<std::pair<std::string, std::string>> p{
      {"token", "yyyyyy"}, {"method", "auth.getSession"}, {"format", "json"}, {"api_key", "xxxx"}, {"callback", "cb"}};
  BOOST_TEST(intg::lastfm::api_signature(p, "secret") ==
             intg::crypto::to_hex(intg::crypto::md5("api_keyxxxxmethodauth.getSessiontokenyyyyyysecret")));
  BOOST_TEST(intg::crypto::to_hex(intg::crypto::md5("")) == "d41d8cd98f00b204e9800998ecf8427e");  // RFC 1321's test vector
}

BOOST_AUTO_TEST_SUITE_END()
