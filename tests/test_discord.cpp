// Discord through the provider kit against the Discord fake (tests/fakes/discord_fake.hpp), over
// real sockets: `Bot` tokens, every operation, Discord's error object, webhooks without the bot
// token (and their token kept out of errors), per-route buckets learned from X-RateLimit-Bucket,
// shared by the routes of a bucket and split by the major parameter, the global 429, and the cap
// on invalid requests. Every exchange goes to discord_exchanges.jsonl, which
// discord_openapi_validation checks against Discord's OpenAPI description.
#define BOOST_TEST_MODULE intg_discord
#include <boost/test/unit_test.hpp>

#include "fakes/discord_fake.hpp"
#include "test_util.hpp"

#include <intg/providers/discord.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdio>
#include <string>

namespace asio = boost::asio;
namespace json = boost::json;
namespace bh = boost::beast::http;
namespace dc = intg::discord;
using fakes::discord_fake;
using namespace std::chrono_literals;

namespace {

constexpr const char* discord_log_file = "discord_exchanges.jsonl";

intg::integration_config discord_config(const discord_fake& fake, json::object settings, int attempts = 3) {
  intg::integration_config c;
  c.name = "chat";
  c.tenant = "acme";
  settings["base_url"] = fake.kit_base_url();
  c.settings = std::move(settings);
  c.retry.max_attempts = attempts;
  c.retry.base_delay = 1ms;
  c.retry.max_delay = 5ms;
  c.timeout = 5s;
  c.rate_limits.burst_limit = 1000;          // the tests' own pace is not what they test
  c.circuit_breaker.failure_threshold = 50;  // scripted failures reach the caller
  return c;
}

// The deployment allows the fake's host; tenant settings alone could not.
intg::rest::client_options local_fake(std::optional<std::size_t> invalid_cap = std::nullopt) {
  intg::rest::client_options o;
  o.extra_allowed_hosts = {"127.0.0.1"};
  o.invalid_request_cap = invalid_cap;
  return o;
}

json::object bot() { return {{"bot_token", discord_fake::bot_token}}; }

struct env {
  asio::io_context io;
  discord_fake fake{io.get_executor()};
  std::uint16_t port = fake.start();
  dc::client discord{discord_config(fake, bot()), io.get_executor(), local_fake()};
  ~env() { fake.api().append_run_log(discord_log_file); }
};

std::chrono::milliseconds since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(discord_client)

BOOST_AUTO_TEST_CASE(every_operation_through_the_kit) {
  env s;
  auto body = [&]() -> asio::awaitable<void> {
    auto init = co_await s.discord.initialize();
    BOOST_REQUIRE_MESSAGE(init, (init ? "" : init.error().to_string()));
    auto health = co_await s.discord.health_check();
    BOOST_TEST((health.status == intg::integration_status::healthy), health.message);

    const std::string channel(discord_fake::channel_a);
    dc::message_params hello{.content = "Deploy finished", .embeds = std::vector<dc::embed>{{.title = "v1.2.3", .color = 0x57F287}}};
    auto sent = co_await s.discord.call(dc::create_message, channel, hello);
    BOOST_REQUIRE_MESSAGE(sent, (sent ? "" : sent.error().to_string()));
    BOOST_TEST(sent->content == "Deploy finished");
    BOOST_TEST(sent->channel_id == channel);
    BOOST_TEST(sent->author->id == std::string(discord_fake::bot_id));
    BOOST_REQUIRE(sent->embeds.has_value());
    BOOST_REQUIRE(sent->embeds->size() == 1u);
    BOOST_TEST(*sent->embeds->front().title == "v1.2.3");
    auto created = s.fake.api().log(bh::verb::post, "/api/v10/channels/{channel_id}/messages");
    BOOST_REQUIRE(created.size() == 1u);
    BOOST_TEST(created[0].request_header("Authorization") == "Bot [redacted]");  // the fake's log hides the token it accepted
    BOOST_TEST(created[0].request_header("User-Agent").starts_with("DiscordBot ("));

    dc::edit_params fix{.content = "Deploy finished (edited)"};
    auto edited = co_await s.discord.call(dc::edit_message, channel, sent->id, fix);
    BOOST_REQUIRE_MESSAGE(edited, (edited ? "" : edited.error().to_string()));
    BOOST_TEST(edited->content == "Deploy finished (edited)");
    BOOST_TEST(edited->edited_timestamp.has_value());

    const std::string guild(discord_fake::guild_id);
    auto channels = co_await s.discord.call(dc::list_guild_channels, guild);
    BOOST_REQUIRE_MESSAGE(channels, (channels ? "" : channels.error().to_string()));
    BOOST_REQUIRE(channels->size() == 3u);
    BOOST_TEST(channels->front().type == 4);  // the category
    BOOST_TEST(*(*channels)[1].name == "general");
    BOOST_TEST(*(*channels)[1].parent_id == std::string(discord_fake::category_id));

    // A webhook: its token is the credential, the bot token is not sent.
    const std::string hook(discord_fake::webhook_id), token(discord_fake::webhook_token);
    dc::webhook_params alert{.content = "Build failed", .username = "CI"};
    auto posted = co_await s.discord.call(dc::execute_webhook, hook, token, alert);
    BOOST_REQUIRE_MESSAGE(posted, (posted ? "" : posted.error().to_string()));
    BOOST_TEST(posted->content == "Build failed");
    BOOST_TEST(posted->author->username == "CI");
    BOOST_TEST(*posted->webhook_id == hook);
    BOOST_TEST(s.fake.webhook_authorization().empty());
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(errors_argument_checks_webhook_only_clients_and_no_resend_of_a_create) {
  env s;
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await s.discord.initialize());
    const std::string channel(discord_fake::channel_a);
    dc::message_params empty{};
    auto nothing = co_await s.discord.call(dc::create_message, channel, empty);
    BOOST_REQUIRE(!nothing);
    BOOST_TEST(nothing.error().provider_code() == "50006");
    BOOST_TEST((nothing.error() == intg::condition::invalid_argument));
    dc::message_params too_long{.content = std::string(2001, 'x')};
    auto invalid = co_await s.discord.call(dc::create_message, channel, too_long);
    BOOST_REQUIRE(!invalid);
    BOOST_TEST(invalid.error().provider_code() == "50035");
    BOOST_TEST(invalid.error().http_status() == 400);
    BOOST_TEST(invalid.error().to_string().find("Invalid Form Body") != std::string::npos, invalid.error());
    const std::string unknown = "1015970000000000999";
    dc::message_params hi{.content = "hi"};
    auto no_channel = co_await s.discord.call(dc::create_message, unknown, hi);
    BOOST_REQUIRE(!no_channel);
    BOOST_TEST(no_channel.error().provider_code() == "10003");
    BOOST_TEST((no_channel.error() == intg::condition::not_found));
    // Ids are snowflakes: anything else is refused before anything is sent.
    const auto before = s.fake.api().log().size();
    const std::string traversal = "../users/@me";
    BOOST_TEST(((co_await s.discord.call(dc::create_message, traversal, hi)).error() == intg::errc::invalid_argument));
    const std::string hook(discord_fake::webhook_id), slash = "abc/def";
    dc::webhook_params w{.content = "hi"};
    BOOST_TEST(((co_await s.discord.call(dc::execute_webhook, hook, slash, w)).error() == intg::errc::invalid_argument));
    BOOST_TEST(s.fake.api().log().size() == before);

    // A 500 to a create: Discord's create is not idempotent, so it is not sent again.
    const std::string route = "/api/v10/channels/{channel_id}/messages";
    const auto posts = s.fake.api().log(bh::verb::post, route).size();
    s.fake.script(discord_fake::server_error());
    auto unknown_outcome = co_await s.discord.call(dc::create_message, channel, hi);
    BOOST_REQUIRE(!unknown_outcome);
    BOOST_TEST((unknown_outcome.error() == intg::condition::outcome_unknown));
    BOOST_TEST(s.fake.api().log(bh::verb::post, route).size() == posts + 1);

    // A webhook-only client: no bot token; webhooks work, bot routes say what is missing.
    dc::client hooks(discord_config(s.fake, {}), s.io.get_executor(), local_fake());
    BOOST_REQUIRE(co_await hooks.initialize());
    const std::string token(discord_fake::webhook_token);
    BOOST_TEST((co_await hooks.call(dc::execute_webhook, hook, token, w)).has_value());
    const auto sent_before = s.fake.api().log().size();
    auto needs_bot = co_await hooks.call(dc::create_message, channel, hi);
    BOOST_REQUIRE(!needs_bot);
    BOOST_TEST((needs_bot.error() == intg::condition::unauthorized));
    BOOST_TEST(needs_bot.error().to_string().find("bot_token") != std::string::npos, needs_bot.error());
    BOOST_TEST(s.fake.api().log().size() == sent_before);
    // The webhook token never shows in an error, even when the answer echoes it.
    s.fake.script(intg::testing::scenarios::respond(bh::status::not_found, R"({"code": 10015, "message": "Unknown Webhook )" + token + R"("})"));
    auto echoed = co_await hooks.call(dc::execute_webhook, hook, token, w);
    BOOST_REQUIRE(!echoed);
    BOOST_TEST(echoed.error().provider_code() == "10015");
    BOOST_TEST(echoed.error().to_string().find(token) == std::string::npos, echoed.error());
    // A wrong bot token: 401, and the token is not in the error.
    dc::client wrong(discord_config(s.fake, {{"bot_token", "MTAx.wrong.intgNotTheBotToken_zyxwvut"}}), s.io.get_executor(), local_fake());
    BOOST_REQUIRE(co_await wrong.initialize());
    auto refused = co_await wrong.call(dc::create_message, channel, hi);
    BOOST_REQUIRE(!refused);
    BOOST_TEST((refused.error() == intg::condition::unauthorized));
    BOOST_TEST(refused.error().to_string().find("intgNotTheBotToken") == std::string::npos);
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(buckets_are_learned_shared_by_routes_and_split_by_major_parameter) {
  env s;
  s.fake.limits(2, 400ms);
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await s.discord.initialize());
    const std::string a(discord_fake::channel_a), b(discord_fake::channel_b);
    dc::message_params hi{.content = "hi"};
    auto first = co_await s.discord.call(dc::create_message, a, hi);  // channel A: 1 left
    BOOST_REQUIRE(first);
    dc::edit_params fix{.content = "hi!"};
    auto edited = co_await s.discord.call(dc::edit_message, a, first->id, fix);  // same bucket: 0 left
    BOOST_REQUIRE(edited);
    // Channel B has a limit of its own in the same bucket: no wait.
    auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST((co_await s.discord.call(dc::create_message, b, hi)).has_value());
    BOOST_TEST((since(t0) < 200ms));
    // Channel A's bucket is exhausted (the edit said so): the create waits for the reset
    // instead of collecting a 429.
    t0 = std::chrono::steady_clock::now();
    auto waited = co_await s.discord.call(dc::create_message, a, hi);
    BOOST_TEST(waited.has_value());
    BOOST_TEST((since(t0) >= 250ms));
    BOOST_TEST(s.fake.rate_limited_answers() == 0);
    auto logged = s.fake.api().log(bh::verb::post, "/api/v10/channels/{channel_id}/messages");
    BOOST_REQUIRE(!logged.empty());
    BOOST_TEST(logged.back().response_header("X-RateLimit-Bucket") == discord_fake::messages_bucket);
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(a_global_429_blocks_every_route_a_route_429_only_its_bucket) {
  env s;
  dc::client once{discord_config(s.fake, bot(), 1), s.io.get_executor(), local_fake()};
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await once.initialize());
    const std::string a(discord_fake::channel_a), guild(discord_fake::guild_id);
    dc::message_params hi{.content = "hi"};
    // A route's own 429: the other routes go at once.
    s.fake.script(discord_fake::rate_limited(false, 0.4));
    auto limited = co_await once.call(dc::create_message, a, hi);
    BOOST_REQUIRE(!limited);
    BOOST_TEST((limited.error() == intg::condition::rate_limited));
    auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST((co_await once.call(dc::list_guild_channels, guild)).has_value());
    BOOST_TEST((since(t0) < 200ms));
    // A global 429 ("global": true, X-RateLimit-Global): every route of the token waits.
    s.fake.script(discord_fake::rate_limited(true, 0.4));
    auto global = co_await once.call(dc::list_guild_channels, guild);
    BOOST_REQUIRE(!global);
    BOOST_TEST(global.error().retry_after().count() >= 390);
    t0 = std::chrono::steady_clock::now();
    const std::string b(discord_fake::channel_b);
    BOOST_TEST((co_await once.call(dc::create_message, b, hi)).has_value());
    BOOST_TEST((since(t0) >= 300ms));
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_CASE(invalid_requests_are_counted_and_refused_before_the_cap) {
  env s;
  dc::client capped{discord_config(s.fake, {}, 1), s.io.get_executor(), local_fake(3)};
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE(co_await capped.initialize());
    BOOST_TEST(capped.limits().invalid_cap() == 3u);
    BOOST_TEST(s.discord.limits().invalid_cap() == 10000u);  // Discord's own limit by default
    const std::string hook(discord_fake::webhook_id), bad = "intgNotTheWebhookToken";
    dc::webhook_params w{.content = "hi"};
    auto now = [&] { return capped.pipeline().clock().now(); };
    for (int i = 0; i < 2; ++i) {
      auto r = co_await capped.call(dc::execute_webhook, hook, bad, w);
      BOOST_TEST(r.error().provider_code() == "50027");
    }
    BOOST_TEST(capped.limits().invalid_count(now()) == 2u);
    // A 429 of scope `shared` (the resource's limit, not ours) does not count.
    s.fake.script(discord_fake::rate_limited(false, 0.001, "shared"));
    const std::string token(discord_fake::webhook_token);
    BOOST_TEST(!(co_await capped.call(dc::execute_webhook, hook, token, w)).has_value());
    BOOST_TEST(capped.limits().invalid_count(now()) == 2u);
    auto third = co_await capped.call(dc::execute_webhook, hook, bad, w);
    BOOST_TEST((third.error() == intg::condition::unauthorized));
    BOOST_TEST(capped.limits().invalid_count(now()) == 3u);
    // The cap is reached: nothing more is sent, with an error that says why.
    const auto sent = s.fake.api().log().size();
    auto refused = co_await capped.call(dc::execute_webhook, hook, token, w);
    BOOST_REQUIRE(!refused);
    BOOST_TEST((refused.error() == intg::condition::rate_limited));
    BOOST_TEST(refused.error().to_string().find("invalid requests") != std::string::npos, refused.error());
    BOOST_TEST((refused.error().retry_after() > 9min));
    BOOST_TEST(s.fake.api().log().size() == sent);
    co_await s.fake.stop();
  };
  test::run(s.io, body());
}

BOOST_AUTO_TEST_SUITE_END()
