// The provider kit (intg::rest) over real sockets: small example providers declared here, served
// by local servers on the same io_context. Base-URL allowlist, every auth scheme, error mapping,
// header-driven rate limits, every pagination strategy, idempotency across retries, typed
// operations (JSON, form, multipart, escaped path arguments), the registry lifecycle, and
// Slack's webhook signatures; then the typed models (rest/json.hpp, rest/form.hpp).
#define BOOST_TEST_MODULE intg_rest
#include <boost/test/unit_test.hpp>

#include "test_util.hpp"

#include <intg/http/server.hpp>
#include <intg/rest.hpp>
#include <intg/security/secrets/encrypted_file_store.hpp>
#include <intg/security/webhook.hpp>
#include <intg/rest/form.hpp>
#include <intg/rest/json.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/describe.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace http = intg::http;
namespace rest = intg::rest;
using namespace std::chrono_literals;
using intg::errc;

// ---- models ------------------------------------------------------------------------------------
namespace demo {
struct customer {
  std::string id;
  std::string email;
  std::optional<std::string> name{};
};
BOOST_DESCRIBE_STRUCT(customer, (), (id, email, name))
struct customer_create {
  std::string email;
  std::optional<std::string> name{};
};
BOOST_DESCRIBE_STRUCT(customer_create, (), (email, name))
struct list_params {
  std::optional<int> limit{};
};
BOOST_DESCRIBE_STRUCT(list_params, (), (limit))

// ---- the example provider: a page of declarations ----------------------------------------------
struct provider {
  static constexpr std::string_view name = "demo";
  static constexpr std::string_view category = "payment";
  static constexpr std::string_view default_base_url = "https://api.demo.example";
  static constexpr std::string_view allowed_hosts[] = {"api.demo.example", "*.eu.demo.example"};
  static constexpr std::string_view user_agent = "intg-demo/0.2";
  static constexpr rest::header default_headers[] = {{"Demo-Version", "2024-06-01"}};
  static constexpr rest::setting_header settings_headers[] = {{"Demo-Account", "account_id"}};
  using auth = rest::bearer<"secret_key">;
  using pagination = rest::after_last_id<"data", "has_more", "starting_after">;
  using idempotency = rest::idempotency_header<"Idempotency-Key">;
  static constexpr rest::error_body errors{.code = "/error/code", .message = "/error/message", .retry_after = "/error/retry_after"};
  static constexpr rest::rate_limit_headers rate_limits{
      .windows = {{{"X-RateLimit-Remaining", "X-RateLimit-Reset"}, {"X-RateLimit-Remaining-Day", "X-RateLimit-Reset-Day"}}},
      .bucket = "X-RateLimit-Bucket",
      .max_wait = 5s};
  static constexpr rest::call health{http::verb::get, "/v1/ping"};
};
inline constexpr rest::operation<customer, customer_create> create_customer{http::verb::post, "/v1/customers", "customers.create", rest::body::form};
inline constexpr rest::operation<customer, customer_create> create_customer_json{http::verb::post, "/v1/customers_json", "customers.create_json"};
inline constexpr rest::operation<customer, rest::none, 1> retrieve_customer{http::verb::get, "/v1/customers/{}", "customers.retrieve"};
inline constexpr rest::operation<customer, rest::none, 2> customer_note{http::verb::get, "/v1/customers/{}/notes/{}", "customers.note"};
inline constexpr rest::list_operation<customer, list_params> list_customers{http::verb::get, "/v1/customers", "customers.list"};
inline constexpr rest::operation<boost::json::value, rest::multipart> upload_file{http::verb::post, "/v1/files", "files.create", rest::body::multipart};
inline constexpr rest::operation<rest::none> other_route{http::verb::get, "/v1/other", "other.get"};
using client = rest::client<provider>;
}  // namespace demo

// A Slack-like provider: errors on HTTP 200, a body cursor.
namespace chat {
struct channel {
  std::string id;
  std::string name;
};
BOOST_DESCRIBE_STRUCT(channel, (), (id, name))
struct list_params {
  int limit = 2;
};
BOOST_DESCRIBE_STRUCT(list_params, (), (limit))
struct post_params {
  std::string channel;
  std::string text;
};
BOOST_DESCRIBE_STRUCT(post_params, (), (channel, text))
struct posted {
  bool ok = false;
  std::string ts;
};
BOOST_DESCRIBE_STRUCT(posted, (), (ok, ts))
struct provider {
  static constexpr std::string_view name = "chat";
  static constexpr std::string_view default_base_url = "https://chat.example/api";
  using auth = rest::bearer<"bot_token">;
  using pagination = rest::cursor_body<"/response_metadata/next_cursor", "cursor">;
  static constexpr rest::error_body errors{.code = "/error", .ok = "/ok", .rate_limited_code = "ratelimited"};
};
inline constexpr rest::list_operation<channel, list_params> list_channels{http::verb::get, "/conversations.list", "conversations.list", "/channels"};
inline constexpr rest::operation<posted, post_params> post_message{http::verb::post, "/chat.postMessage", "chat.postMessage"};
}  // namespace chat

static_assert(intg::integration<demo::client>);
// The encrypted file store (atomic writes) can hold rotated refresh tokens.
static_assert(rest::secret_store<intg::secrets::encrypted_file_store>);
static_assert(rest::secret_store<rest::memory_token_store>);
static_assert(std::is_constructible_v<demo::client, intg::integration_config, intg::registry_services&>);

namespace {

// ---- a local server whose answers each test scripts ---------------------------------------------
struct fake {
  explicit fake(asio::io_context& io)
      : srv(io.get_executor(), [this](http::server_request& r) -> asio::awaitable<http::server_response> {
          log.push_back(r);
          if (fault_next) {
            fault_next = false;
            throw http::connection_fault{http::connection_fault::reset, {}};
          }
          co_return handle(r);
        }) {
    BOOST_REQUIRE(srv.listen("127.0.0.1", 0));
    srv.start();
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(srv.port()); }
  http::server srv;
  std::vector<http::server_request> log;
  std::function<http::server_response(const http::server_request&)> handle;
  bool fault_next = false;  // the next request's connection is reset without an answer
};

http::server_response reply(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
  auto r = http::make_response(static_cast<boost::beast::http::status>(status), std::move(body));
  for (auto& [k, v] : headers) r.set(k, v);
  return r;
}

std::string header(const http::server_request& r, std::string_view name) {
  auto it = r.find(name);
  return it == r.end() ? std::string() : std::string(it->value());
}
std::string path_of(const http::server_request& r) {
  std::string_view t = r.target();
  return std::string(t.substr(0, t.find('?')));
}
std::string query_param(const http::server_request& r, std::string_view name) {
  std::string_view t = r.target();
  const auto q = t.find('?');
  if (q == std::string_view::npos) return {};
  auto pairs = http::query::parse(t.substr(q + 1));
  if (!pairs) return {};
  for (auto& [k, v] : *pairs)
    if (k == name) return v;
  return {};
}

intg::integration_config config_for(const std::string& base) {
  intg::integration_config c;
  c.name = "demo_main";
  c.tenant = "acme";
  c.settings["base_url"] = base;
  c.settings["secret_key"] = "sk_test_0123456789abcdef";
  c.settings["bot_token"] = "xoxb-0123456789abcdef";
  c.retry.base_delay = 1ms;
  c.retry.max_attempts = 3;
  c.timeout = 3s;
  c.rate_limits.requests_per_minute = 600000;
  c.rate_limits.burst_limit = 10000;
  return c;
}
rest::client_options local_options() {
  rest::client_options o;
  o.extra_allowed_hosts = {"127.0.0.1"};
  return o;
}

// Runs `body` on `io` (with the server), then shuts the server down.
template <class Body>
void run(asio::io_context& io, fake& f, Body body) {
  auto wrapped = [&]() -> asio::awaitable<void> {
    co_await body();
    co_await f.srv.shutdown(1s);
  };
  test::run(io, wrapped());
}

std::string err(const intg::error& e) { return e.to_string(); }

// The key as the private_key setting takes it (jwk::private_pem, a secret).
std::string private_pem(const intg::auth::jwk& key) { return std::string(key.private_pem().value().reveal()); }

}  // namespace

// ---- base URL, headers, user agent -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(base_url_must_be_an_allowed_host) {
  asio::io_context io;
  fake f(io);
  f.handle = [](const http::server_request&) { return reply(200, R"({"ok":true})"); };
  run(io, f, [&]() -> asio::awaitable<void> {
    {  // a tenant pointing our credentials elsewhere
      auto cfg = config_for("https://evil.example/v1");
      demo::client c(cfg, io.get_executor(), local_options());
      auto r = co_await c.initialize();
      BOOST_REQUIRE(!r);
      BOOST_TEST((r.error() == errc::config_error));
      BOOST_TEST(r.error().json_path() == "$.settings.base_url");
      BOOST_TEST(err(r.error()).find("sk_test") == std::string::npos);
    }
    {  // 127.0.0.1 only when the deployment adds it
      auto cfg = config_for(f.base());
      demo::client c(cfg, io.get_executor());
      auto r = co_await c.initialize();
      BOOST_TEST(!r);
    }
    {  // a provider host over plain http is refused; a wildcard region host over https is fine
      auto cfg = config_for("http://api.demo.example");
      demo::client c(cfg, io.get_executor());
      BOOST_TEST(!(co_await c.initialize()));
      auto cfg2 = config_for("https://acme.eu.demo.example/");
      demo::client c2(cfg2, io.get_executor());
      BOOST_TEST((co_await c2.initialize()).has_value());
      BOOST_TEST(c2.base_url().host() == "acme.eu.demo.example");
    }
    {  // the default base URL when the tenant sets none
      auto cfg = config_for("");
      cfg.settings.erase("base_url");
      demo::client c(cfg, io.get_executor());
      BOOST_TEST((co_await c.initialize()).has_value());
      BOOST_TEST(c.base_url().str() == "https://api.demo.example/");
    }
    {  // missing credentials: the error names the setting
      auto cfg = config_for(f.base());
      cfg.settings.erase("secret_key");
      demo::client c(cfg, io.get_executor(), local_options());
      auto r = co_await c.initialize();
      BOOST_REQUIRE(!r);
      BOOST_TEST(r.error().json_path() == "$.settings.secret_key");
    }
    {  // a tenant header value cannot inject headers
      auto cfg = config_for(f.base());
      cfg.settings["account_id"] = "acct_1\r\nX-Evil: 1";
      demo::client c(cfg, io.get_executor(), local_options());
      auto r = co_await c.initialize();
      BOOST_TEST((!r && r.error().json_path() == "$.settings.account_id"));
    }
    auto cfg = config_for(f.base());
    cfg.settings["account_id"] = "acct_1";
    demo::client c(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await c.initialize()).has_value());
    auto h = co_await c.health_check();
    BOOST_TEST((h.status == intg::integration_status::healthy));
    BOOST_REQUIRE(!f.log.empty());
    const auto& req = f.log.back();
    BOOST_TEST(path_of(req) == "/v1/ping");
    BOOST_TEST(header(req, "User-Agent") == "intg-demo/0.2");
    BOOST_TEST(header(req, "Demo-Version") == "2024-06-01");
    BOOST_TEST(header(req, "Demo-Account") == "acct_1");
    BOOST_TEST(header(req, "Authorization") == "Bearer sk_test_0123456789abcdef");
    co_await c.cleanup();
  });
}

// ---- typed operations and the call style (run under ASan by scripts/test) -----------------------

BOOST_AUTO_TEST_CASE(typed_operations_in_the_documented_call_style) {
  asio::io_context io;
  fake f(io);
  f.handle = [](const http::server_request& r) {
    const std::string p = path_of(r);
    if (p == "/v1/customers" && r.method() == http::verb::post) {
      BOOST_TEST(header(r, "Content-Type") == "application/x-www-form-urlencoded");
      BOOST_TEST(r.body() == "email=a%40example.com&name=Ada%20L");
      return reply(200, R"({"id":"cus_1","email":"a@example.com","name":"Ada L","extra":{"ignored":true}})");
    }
    if (p == "/v1/customers_json") {
      BOOST_TEST(header(r, "Content-Type") == "application/json");
      auto v = boost::json::parse(r.body());
      BOOST_TEST(v.at("email").as_string() == "b@example.com");
      BOOST_TEST(!v.as_object().contains("name"));  // empty optionals are omitted
      return reply(200, R"({"id":"cus_2","email":"b@example.com"})");
    }
    if (p.starts_with("/v1/customers/")) return reply(200, R"({"id":")" + p.substr(14) + R"(","email":"x@example.com"})");
    if (p == "/v1/files") {
      BOOST_TEST(header(r, "Content-Type").starts_with("multipart/form-data; boundary=intg-"));
      BOOST_TEST(r.body().find("Content-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNGDATA\r\n") != std::string::npos);
      BOOST_TEST(r.body().find("name=\"purpose\"\r\n\r\nidentity_document\r\n") != std::string::npos);
      return reply(200, R"({"id":"file_1"})");
    }
    return reply(404, R"({"error":{"code":"resource_missing","message":"No such thing"}})");
  };
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    demo::client stripe(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await stripe.initialize()).has_value());

    // The documented style: name the parameters object, then pass it.
    demo::customer_create params{.email = "a@example.com", .name = "Ada L"};
    auto c = co_await stripe.call(demo::create_customer, params);
    BOOST_REQUIRE_MESSAGE(c, (c ? "" : err(c.error())));
    BOOST_TEST(c->id == "cus_1");
    BOOST_TEST(*c->name == "Ada L");

    demo::customer_create json_params{.email = "b@example.com"};
    auto c2 = co_await stripe.call(demo::create_customer_json, json_params);
    BOOST_REQUIRE(c2);
    BOOST_TEST(!c2->name.has_value());

    // Path arguments are views, percent-encoded into their segment.
    auto one = co_await stripe.call(demo::retrieve_customer, "cus_123");
    BOOST_REQUIRE(one);
    BOOST_TEST(one->id == "cus_123");
    const std::string tricky = "a b/../c?d";
    auto esc = co_await stripe.call(demo::retrieve_customer, tricky);
    BOOST_REQUIRE(esc);
    BOOST_TEST(std::string(f.log.back().target()) == "/v1/customers/a%20b%2F..%2Fc%3Fd");
    std::string_view note = "n1";
    auto two = co_await stripe.call(demo::customer_note, "cus_9", note);
    BOOST_REQUIRE(two);
    BOOST_TEST(std::string(f.log.back().target()) == "/v1/customers/cus_9/notes/n1");
    auto empty = co_await stripe.call(demo::retrieve_customer, "");
    BOOST_TEST((!empty && empty.error() == errc::invalid_argument));

    rest::multipart upload;
    upload.field("purpose", "identity_document").file("file", "a.png", "image/png", "PNGDATA");
    auto up = co_await stripe.call(demo::upload_file, upload);
    BOOST_REQUIRE_MESSAGE(up, (up ? "" : err(up.error())));
    BOOST_TEST(up->at("id").as_string() == "file_1");
    // A raw result is the caller's, on the default resource, not in the answer's arena.
    BOOST_TEST((up->storage() == boost::json::storage_ptr()));

    // GET parameters travel in the query.
    f.handle = [](const http::server_request& r) {
      BOOST_TEST(query_param(r, "limit") == "3");
      return reply(200, R"({"data":[{"id":"a","email":"e"}],"has_more":false})");
    };
    demo::list_params lp{.limit = 3};
    auto listed = co_await stripe.call(demo::list_customers, lp);
    BOOST_REQUIRE(listed);
    BOOST_TEST(listed->size() == 1u);
    co_await stripe.cleanup();
  });
}

// ---- idempotency ---------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(one_idempotency_key_per_logical_call_reused_by_retries) {
  asio::io_context io;
  fake f(io);
  int n = 0;
  f.handle = [&](const http::server_request&) {
    if (n++ % 2 == 0) return reply(500, R"({"error":{"code":"api_error","message":"try again"}})");
    return reply(200, R"({"id":"cus_1","email":"a@example.com"})");
  };
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    demo::client c(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await c.initialize()).has_value());
    demo::customer_create p{.email = "a@example.com"};
    auto r1 = co_await c.call(demo::create_customer, p);
    BOOST_REQUIRE_MESSAGE(r1, (r1 ? "" : err(r1.error())));
    auto r2 = co_await c.call(demo::create_customer, p);
    BOOST_REQUIRE(r2);
    BOOST_REQUIRE(f.log.size() == 4u);
    const std::string k1 = header(f.log[0], "Idempotency-Key"), k2 = header(f.log[2], "Idempotency-Key");
    BOOST_TEST(std::regex_match(k1, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
    BOOST_TEST(header(f.log[1], "Idempotency-Key") == k1);  // the retry carries the same key
    BOOST_TEST(header(f.log[3], "Idempotency-Key") == k2);
    BOOST_TEST(k1 != k2);  // a new logical call, a new key
    // GETs carry none.
    auto g = co_await c.call(demo::retrieve_customer, "cus_1");
    BOOST_TEST(header(f.log.back(), "Idempotency-Key").empty());
  });
}

// A provider that puts the key in the JSON body (Square).
namespace square {
struct provider {
  static constexpr std::string_view name = "square";
  static constexpr std::string_view default_base_url = "https://connect.squareup.example";
  using auth = rest::bearer<"secret_key">;
  using idempotency = rest::idempotency_body_field<"idempotency_key">;
};
inline constexpr rest::operation<boost::json::value, demo::customer_create> create{http::verb::post, "/v2/customers", "customers.create"};
}  // namespace square

BOOST_AUTO_TEST_CASE(idempotency_key_in_a_body_field) {
  asio::io_context io;
  fake f(io);
  int n = 0;
  f.handle = [&](const http::server_request&) { return n++ == 0 ? reply(503, "{}") : reply(200, R"({"customer":{}})"); };
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    rest::client<square::provider> c(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await c.initialize()).has_value());
    demo::customer_create p{.email = "a@example.com"};
    auto r = co_await c.call(square::create, p);
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : err(r.error())));
    BOOST_REQUIRE(f.log.size() == 2u);
    auto b1 = boost::json::parse(f.log[0].body()), b2 = boost::json::parse(f.log[1].body());
    BOOST_TEST(b1.at("idempotency_key").as_string().size() == 36u);
    BOOST_TEST(b1.at("idempotency_key") == b2.at("idempotency_key"));
    BOOST_TEST(b1.at("email").as_string() == "a@example.com");
  });
}

BOOST_AUTO_TEST_CASE(replay_safety_outcome_unknown_without_a_key_resent_with_one) {
  asio::io_context io;
  fake f(io);
  f.handle = [](const http::server_request& r) {
    if (path_of(r) == "/chat.postMessage") return reply(200, R"({"ok":true,"ts":"1"})");
    return reply(200, R"({"id":"cus_1","email":"a@example.com"})");
  };
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    // No idempotency support: a POST whose connection dies unanswered may have taken effect.
    rest::client<chat::provider> slack(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await slack.initialize()).has_value());
    chat::post_params p{.channel = "C1", .text = "once"};
    f.fault_next = true;
    auto r = co_await slack.call(chat::post_message, p);
    BOOST_REQUIRE(!r);
    BOOST_TEST((r.error() == errc::outcome_unknown));
    BOOST_TEST(f.log.size() == 1u);  // never resent
    // With an idempotency key the same failure is retried, with the same key.
    demo::client c(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await c.initialize()).has_value());
    demo::customer_create cp{.email = "a@example.com"};
    f.fault_next = true;
    auto ok = co_await c.call(demo::create_customer, cp);
    BOOST_REQUIRE_MESSAGE(ok, (ok ? "" : err(ok.error())));
    BOOST_REQUIRE(f.log.size() == 3u);
    BOOST_TEST(header(f.log[1], "Idempotency-Key") == header(f.log[2], "Idempotency-Key"));
  });
}

namespace tiny {
struct provider {
  static constexpr std::string_view name = "tiny";
  static constexpr std::string_view default_base_url = "https://tiny.example";
  static constexpr std::uint64_t max_response_bytes = 1024;
};
inline constexpr rest::operation<boost::json::value> get{http::verb::get, "/big", "big.get"};
}  // namespace tiny

BOOST_AUTO_TEST_CASE(response_size_cap_and_non_json_answers) {
  asio::io_context io;
  fake f(io);
  f.handle = [](const http::server_request& r) {
    if (query_param(r, "html") == "1") return reply(200, "<html>maintenance</html>", {{"Content-Type", "text/html"}});
    return reply(200, "[" + std::string(4000, ' ') + "]");
  };
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    cfg.retry.max_attempts = 1;
    rest::client<tiny::provider> c(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await c.initialize()).has_value());
    auto big = co_await c.call(tiny::get);
    BOOST_REQUIRE(!big);
    BOOST_TEST((big.error() == errc::invalid_response));
    auto req = c.request_for(http::verb::get, "/big?html=1").value();
    auto html = co_await c.send(req, "big.html");
    BOOST_REQUIRE(!html);
    BOOST_TEST(err(html.error()).find("not JSON") != std::string::npos);
  });
}

// ---- error mapping -------------------------------------------------------------------------------

namespace {
http::response answer(int status, std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
  http::response r{static_cast<boost::beast::http::status>(status), 11};
  r.body() = std::move(body);
  for (auto& [k, v] : headers) r.set(k, v);
  return r;
}
template <class P>
rest::verdict classify(const http::response& r, std::chrono::system_clock::time_point now) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body(), ec);
  return rest::classify<P>(r, ec ? nullptr : &v, now);
}
}  // namespace

BOOST_AUTO_TEST_CASE(error_mapping_status_and_body_to_an_action) {
  using namespace std::chrono;
  const auto now = sys_days{2024y / 5 / 1} + 12h;
  const auto epoch = duration_cast<seconds>(now.time_since_epoch()).count();
  {
    auto v = classify<demo::provider>(answer(200, R"({"id":"x"})"), now);
    BOOST_TEST((v.action == rest::action::accept));
  }
  {  // the provider's own code and message
    auto v = classify<demo::provider>(answer(402, R"({"error":{"code":"card_declined","message":"Your card was declined."}})"), now);
    BOOST_TEST((v.action == rest::action::fail));
    BOOST_TEST(v.failure.http_status() == 402);
    BOOST_TEST(v.failure.provider_code() == "card_declined");
    BOOST_TEST((v.failure.code() == intg::make_provider_error_code<demo::provider>(intg::provider_errc::bad_request)));
    BOOST_TEST((v.failure.code() == intg::condition::invalid_argument));
    BOOST_TEST(err(v.failure) == "demo card_declined (HTTP 402): Your card was declined.");
    BOOST_TEST(err(v.failure).find("Your card was declined.") != std::string::npos);
  }
  {
    auto v = classify<demo::provider>(answer(401, R"({"error":{"code":"invalid_api_key","message":"bad key"}})"), now);
    BOOST_TEST((v.action == rest::action::refresh));
  }
  {
    auto v = classify<demo::provider>(answer(502, "<html>Bad gateway</html>"), now);
    BOOST_TEST((v.action == rest::action::retry));
    BOOST_TEST(intg::is_transient(v.failure));
    BOOST_TEST(err(v.failure).find("demo: HTTP 502") != std::string::npos);
  }
  {  // Retry-After in seconds
    auto v = classify<demo::provider>(answer(429, "{}", {{"Retry-After", "7"}}), now);
    BOOST_TEST((v.action == rest::action::rate_limited));
    BOOST_TEST((v.failure.code() == intg::condition::rate_limited));
    BOOST_TEST((v.failure.code() == intg::make_provider_error_code<demo::provider>(intg::provider_errc::rate_limited)));
    BOOST_TEST(v.failure.retry_after() == 7000ms);
    BOOST_TEST(intg::is_transient(v.failure));
  }
  {  // Retry-After as an HTTP-date
    auto v = classify<demo::provider>(answer(429, "{}", {{"Retry-After", "Wed, 01 May 2024 12:00:30 GMT"}}), now);
    BOOST_TEST(v.failure.retry_after() == 30000ms);
  }
  {  // X-RateLimit-Reset as epoch seconds, and as a delta
    auto v = classify<demo::provider>(
        answer(429, "{}", {{"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset", std::to_string(epoch + 12)}}), now);
    BOOST_TEST(v.failure.retry_after() == 12000ms);
    auto d = classify<demo::provider>(answer(429, "{}", {{"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset", "3"}}), now);
    BOOST_TEST(d.failure.retry_after() == 3000ms);
  }
  {  // the per-day window is the exhausted one
    auto v = classify<demo::provider>(answer(429, "{}", {{"X-RateLimit-Remaining", "5"}, {"X-RateLimit-Reset", "1"},
                                                          {"X-RateLimit-Remaining-Day", "0"}, {"X-RateLimit-Reset-Day", "3600"}}),
                                      now);
    BOOST_TEST(v.failure.retry_after() == 3600000ms);
  }
  {  // the body says how long
    auto v = classify<demo::provider>(answer(429, R"({"error":{"code":"rate","retry_after":1.5}})"), now);
    BOOST_TEST(v.failure.retry_after() == 1500ms);
  }
  {  // errors reported with HTTP 200
    auto v = classify<chat::provider>(answer(200, R"({"ok":false,"error":"channel_not_found"})"), now);
    BOOST_TEST((v.action == rest::action::fail));
    BOOST_TEST(v.failure.provider_code() == "channel_not_found");
    BOOST_TEST((v.failure.code() == intg::make_provider_error_code<chat::provider>(intg::provider_errc::rejected)));
    auto ok = classify<chat::provider>(answer(200, R"({"ok":true,"ts":"1"})"), now);
    BOOST_TEST((ok.action == rest::action::accept));
    auto lim = classify<chat::provider>(answer(200, R"({"ok":false,"error":"ratelimited"})", {{"Retry-After", "2"}}), now);
    BOOST_TEST((lim.action == rest::action::rate_limited));
    BOOST_TEST(lim.failure.retry_after() == 2000ms);
  }
  BOOST_TEST(rest::reset_delay("garbage", now).count() < 0);
  BOOST_TEST(rest::reset_delay("1e23", now).count() < 0);  // an epoch too far to wait for, and to convert
}

BOOST_AUTO_TEST_CASE(ok_false_on_http_200_fails_with_the_provider_code_over_sockets) {
  asio::io_context io;
  fake f(io);
  f.handle = [](const http::server_request& r) {
    auto v = boost::json::parse(r.body());
    if (v.at("channel").as_string() == "C1") return reply(200, R"({"ok":true,"ts":"123.456"})");
    return reply(200, R"({"ok":false,"error":"channel_not_found"})");
  };
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    rest::client<chat::provider> slack(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await slack.initialize()).has_value());
    chat::post_params good{.channel = "C1", .text = "hello"};
    auto ok = co_await slack.call(chat::post_message, good);
    BOOST_REQUIRE_MESSAGE(ok, (ok ? "" : err(ok.error())));
    BOOST_TEST(ok->ts == "123.456");
    chat::post_params bad{.channel = "C404", .text = "hello"};
    auto no = co_await slack.call(chat::post_message, bad);
    BOOST_REQUIRE(!no);
    BOOST_TEST(err(no.error()).find("channel_not_found") != std::string::npos);
    BOOST_TEST(f.log.size() == 2u);  // not retried
    BOOST_TEST(header(f.log[0], "Authorization") == "Bearer xoxb-0123456789abcdef");
  });
}

BOOST_AUTO_TEST_CASE(credentials_never_appear_in_errors) {
  asio::io_context io;
  fake f(io);
  f.handle = [](const http::server_request& r) {
    // A careless provider echoes the key it refuses.
    const std::string auth = header(r, "Authorization");
    return reply(path_of(r) == "/v1/ping" ? 401 : 400,
                 R"({"error":{"code":"invalid_api_key","message":"Invalid API key provided: )" + auth.substr(7) + R"("}})");
  };
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    demo::client c(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await c.initialize()).has_value());
    auto r = co_await c.call(demo::retrieve_customer, "cus_1");
    BOOST_REQUIRE(!r);
    BOOST_TEST(err(r.error()).find("sk_test_0123456789abcdef") == std::string::npos);
    BOOST_TEST(err(r.error()).find("Invalid API key provided: ***") != std::string::npos);
    auto h = co_await c.health_check();
    BOOST_TEST((h.status == intg::integration_status::unhealthy));
    BOOST_TEST(h.message.find("sk_test_0123456789abcdef") == std::string::npos);
  });
}

// ---- proactive rate limiting ---------------------------------------------------------------------

// header_limits alone (Discord's rules, no sockets): a bucket named by the provider, split by the
// major parameter; a global 429; the cap on invalid requests, with exempt scopes not counted.
BOOST_AUTO_TEST_CASE(header_limits_major_parameters_global_blocks_and_the_invalid_request_cap) {
  rest::rate_limit_headers cfg{.windows = {{{"X-RateLimit-Remaining", "X-RateLimit-Reset-After"}}},
                               .bucket = "X-RateLimit-Bucket",
                               .per_operation = true,
                               .global = "X-RateLimit-Global",
                               .global_body = "/global",
                               .invalid = {.max = 3, .window = 600s, .scope = "X-RateLimit-Scope", .exempt = "shared"}};
  rest::header_limits lim(cfg);
  const auto t0 = intg::time_point{} + 1h;
  const auto wall = std::chrono::system_clock::now();
  auto answer = [](int status, std::vector<std::pair<std::string, std::string>> headers) {
    http::response r;
    r.result(static_cast<unsigned>(status));
    for (auto& [k, v] : headers) r.set(k, v);
    return r;
  };
  const std::array<std::string_view, 2> chan_a{"111", "m1"}, chan_b{"222", "m2"};
  const std::string a = rest::major_key(chan_a.data(), 1), b = rest::major_key(chan_b.data(), 1);
  BOOST_TEST(a != b);
  BOOST_TEST(rest::major_key(chan_a.data(), 0).empty());
  BOOST_TEST(a.find("111") == std::string::npos);  // a hash: a webhook token is not kept
  // messages.create learns bucket "h1" and exhausts it for channel A only.
  lim.observe("messages.create", a, answer(200, {{"X-RateLimit-Bucket", "h1"}, {"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset-After", "0.5"}}), t0, wall);
  BOOST_TEST(lim.blocked_until("messages.create", a, t0).has_value());
  BOOST_TEST(!lim.blocked_until("messages.create", b, t0).has_value());
  // messages.edit is in "h1" too once an answer says so: it shares channel A's block.
  BOOST_TEST(!lim.blocked_until("messages.edit", a, t0).has_value());
  lim.observe("messages.edit", b, answer(200, {{"X-RateLimit-Bucket", "h1"}, {"X-RateLimit-Remaining", "3"}, {"X-RateLimit-Reset-After", "0.5"}}), t0, wall);
  BOOST_TEST((lim.blocked_until("messages.edit", a, t0) == t0 + 500ms));
  BOOST_TEST(!lim.blocked_until("messages.create", a, t0 + 500ms).has_value());
  // A global 429 blocks every operation and parameter.
  const auto global = answer(429, {{"X-RateLimit-Global", "true"}});
  BOOST_TEST(lim.global(global, nullptr));
  const boost::json::value body = boost::json::parse(R"({"message":"slow","retry_after":1.5,"global":true})");
  BOOST_TEST(lim.global(answer(429, {}), &body));
  BOOST_TEST(!lim.global(answer(429, {}), nullptr));
  lim.block_all(t0 + 2s);
  BOOST_TEST((lim.blocked_until("guilds.channels.list", "x", t0 + 1s) == t0 + 2s));
  // Invalid requests: 401, 403, 429 (not scope "shared"); refused once 3 are counted.
  lim.observe("x", {}, answer(401, {}), t0, wall);
  lim.observe("x", {}, answer(429, {{"X-RateLimit-Scope", "shared"}}), t0, wall);
  lim.observe("x", {}, answer(404, {}), t0, wall);
  lim.observe("x", {}, answer(403, {}), t0 + 1s, wall);
  BOOST_TEST(lim.invalid_count(t0 + 1s) == 2u);
  BOOST_TEST(!lim.invalid_refused_until(t0 + 1s).has_value());
  lim.observe("x", {}, answer(429, {{"X-RateLimit-Scope", "user"}}), t0 + 2s, wall);
  BOOST_TEST((lim.invalid_refused_until(t0 + 2s) == t0 + 600s));  // when the oldest leaves the window
  BOOST_TEST(!lim.invalid_refused_until(t0 + 600s).has_value());
  lim.invalid_cap(0);  // counting off
  BOOST_TEST(!lim.invalid_refused_until(t0 + 2s).has_value());
}

BOOST_AUTO_TEST_CASE(exhausted_limits_make_the_next_calls_wait_for_the_reset) {
  asio::io_context io;
  fake f(io);
  std::string remaining = "0", reset = "1", bucket;
  int served429 = 0;
  f.handle = [&](const http::server_request&) {
    std::vector<std::pair<std::string, std::string>> h{{"X-RateLimit-Remaining", remaining}, {"X-RateLimit-Reset", reset}};
    if (!bucket.empty()) h.emplace_back("X-RateLimit-Bucket", bucket);
    return reply(200, R"({"id":"cus_1","email":"e"})", h);
  };
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    demo::client c(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await c.initialize()).has_value());
    auto r1 = co_await c.call(demo::retrieve_customer, "a");  // announces: 0 left, reset in 1 s
    BOOST_REQUIRE(r1);
    remaining = "10";
    const auto t0 = std::chrono::steady_clock::now();
    auto r2 = co_await c.call(demo::retrieve_customer, "b");
    const auto waited = std::chrono::steady_clock::now() - t0;
    BOOST_REQUIRE(r2);
    BOOST_TEST((waited >= 900ms));  // waited for the reset instead of collecting a 429
    BOOST_TEST(served429 == 0);

    // A reset beyond max_wait (5 s): fail at once, with the wait as retry-after, nothing sent.
    remaining = "0";
    reset = "120";
    BOOST_REQUIRE(co_await c.call(demo::retrieve_customer, "c"));
    const auto sent = f.log.size();
    auto r3 = co_await c.call(demo::retrieve_customer, "d");
    BOOST_REQUIRE(!r3);
    BOOST_TEST((r3.error() == errc::rate_limited));
    BOOST_TEST(r3.error().retry_after() > 100s);
    BOOST_TEST(f.log.size() == sent);
  });
}

BOOST_AUTO_TEST_CASE(several_windows_and_per_route_buckets) {
  asio::io_context io;
  fake f(io);
  f.handle = [&](const http::server_request& r) {
    if (path_of(r) == "/v1/other") return reply(200, "", {{"X-RateLimit-Bucket", "other"}});
    // Per second fine, per day exhausted; this route is in bucket "customers".
    return reply(200, R"({"id":"cus_1","email":"e"})",
                 {{"X-RateLimit-Remaining", "9"}, {"X-RateLimit-Reset", "1"}, {"X-RateLimit-Remaining-Day", "0"},
                  {"X-RateLimit-Reset-Day", "86000"}, {"X-RateLimit-Bucket", "customers"}});
  };
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    demo::client c(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await c.initialize()).has_value());
    BOOST_REQUIRE(co_await c.call(demo::other_route));
    BOOST_REQUIRE(co_await c.call(demo::retrieve_customer, "a"));
    auto blocked = co_await c.call(demo::retrieve_customer, "b");  // the day window is exhausted
    BOOST_REQUIRE(!blocked);
    BOOST_TEST((blocked.error() == errc::rate_limited));
    auto other = co_await c.call(demo::other_route);  // another bucket: not blocked
    BOOST_TEST(other.has_value());
    BOOST_TEST(f.log.size() == 3u);
  });
}

BOOST_AUTO_TEST_CASE(a_429_blocks_the_bucket_and_the_retry_waits_retry_after) {
  asio::io_context io;
  fake f(io);
  int n = 0;
  f.handle = [&](const http::server_request&) {
    if (n++ == 0) return reply(429, R"({"error":{"code":"rate_limit","message":"slow down"}})", {{"Retry-After", "1"}});
    return reply(200, R"({"id":"cus_1","email":"e"})");
  };
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    demo::client c(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await c.initialize()).has_value());
    const auto t0 = std::chrono::steady_clock::now();
    auto r = co_await c.call(demo::retrieve_customer, "a");
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : err(r.error())));
    BOOST_TEST((std::chrono::steady_clock::now() - t0 >= 900ms));
    BOOST_TEST(f.log.size() == 2u);
  });
}

// ---- pagination ----------------------------------------------------------------------------------

namespace pages {
struct item {
  int n = 0;
};
BOOST_DESCRIBE_STRUCT(item, (), (n))
template <class Strategy>
struct provider {
  static constexpr std::string_view name = "pages";
  static constexpr std::string_view default_base_url = "https://pages.example";
  using auth = rest::no_auth;
  using pagination = Strategy;
};
inline constexpr rest::list_operation<item> list{http::verb::get, "/items", "items.list", "/items"};
// Items 0..9, three per page: the page starting at `start` as JSON.
inline std::string items_from(int start, int per = 3) {
  boost::json::array a;
  for (int i = start; i < std::min(10, start + per); ++i) a.push_back(boost::json::object{{"n", i}});
  return boost::json::serialize(a);
}
}  // namespace pages

namespace {
template <class Strategy, class Handler>
std::vector<int> walk(Handler h, std::size_t cap = 100, std::string* failure = nullptr, std::size_t* requests = nullptr) {
  asio::io_context io;
  fake f(io);
  f.handle = h;
  std::vector<int> out;
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    rest::client<pages::provider<Strategy>> c(cfg, io.get_executor(), local_options());
    auto init = co_await c.initialize();
    BOOST_REQUIRE(init.has_value());
    auto all = co_await c.collect_all(pages::list, rest::page_cap{cap});
    if (!all) {
      if (failure) *failure = err(all.error());
      co_return;
    }
    for (auto& i : *all) out.push_back(i.n);
  });
  if (requests) *requests = f.log.size();
  return out;
}
const std::vector<int> ten{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
}  // namespace

BOOST_AUTO_TEST_CASE(pagination_cursor_in_body_and_header) {
  auto body = walk<rest::cursor_body<"/meta/next", "cursor">>([](const http::server_request& r) {
    const std::string c = query_param(r, "cursor");
    const int start = c.empty() ? 0 : std::stoi(c.substr(1));
    const std::string next = start + 3 < 10 ? "c" + std::to_string(start + 3) : "";  // the last page: an empty cursor
    return reply(200, R"({"items":)" + pages::items_from(start) + R"(,"meta":{"next":")" + next + R"("}})");
  });
  BOOST_TEST(body == ten, boost::test_tools::per_element());
  auto hdr = walk<rest::cursor_header<"X-Next-Cursor", "after">>([](const http::server_request& r) {
    const std::string c = query_param(r, "after");
    const int start = c.empty() ? 0 : std::stoi(c);
    std::vector<std::pair<std::string, std::string>> h;
    if (start + 3 < 10) h.emplace_back("X-Next-Cursor", std::to_string(start + 3));
    return reply(200, R"({"items":)" + pages::items_from(start) + "}", h);
  });
  BOOST_TEST(hdr == ten, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pagination_link_header_and_next_url_in_body) {
  auto link = walk<rest::link_header<>>([](const http::server_request& r) {
    const std::string p = query_param(r, "page");
    const int page = p.empty() ? 1 : std::stoi(p);
    std::vector<std::pair<std::string, std::string>> h;
    std::string v = R"(</items?page=1>; rel="first")";
    if (page * 3 < 10) v += ", </items?page=" + std::to_string(page + 1) + R"(>; rel="next")";
    h.emplace_back("Link", v);
    return reply(200, R"({"items":)" + pages::items_from((page - 1) * 3) + "}", h);
  });
  BOOST_TEST(link == ten, boost::test_tools::per_element());
  std::string base;
  auto next = walk<rest::next_url_body<"/next">>([&](const http::server_request& r) {
    const std::string o = query_param(r, "offset");
    const int start = o.empty() ? 0 : std::stoi(o);
    const std::string host = header(r, "Host");
    const std::string nxt = start + 3 < 10 ? R"(")" "http://" + host + "/items?offset=" + std::to_string(start + 3) + R"(")" : "null";
    return reply(200, R"({"items":)" + pages::items_from(start) + R"(,"next":)" + nxt + "}");
  });
  BOOST_TEST(next == ten, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pagination_offset_limit_page_number_after_last_id) {
  auto off = walk<rest::offset_limit<"offset", "limit", "", "/total">>([](const http::server_request& r) {
    const std::string o = query_param(r, "offset");
    return reply(200, R"({"total":10,"items":)" + pages::items_from(o.empty() ? 0 : std::stoi(o)) + "}");
  });
  BOOST_TEST(off == ten, boost::test_tools::per_element());
  std::size_t requests = 0;
  auto num = walk<rest::page_number<"page", 1>>(
      [](const http::server_request& r) {
        const std::string p = query_param(r, "page");
        const int page = p.empty() ? 1 : std::stoi(p);
        return reply(200, R"({"items":)" + pages::items_from((page - 1) * 3) + "}");  // page 5 is empty: the end
      },
      100, nullptr, &requests);
  BOOST_TEST(num == ten, boost::test_tools::per_element());
  BOOST_TEST(requests == 5u);
  auto stripe = walk<rest::after_last_id<"items", "has_more", "starting_after", "n">>([](const http::server_request& r) {
    const std::string a = query_param(r, "starting_after");
    const int start = a.empty() ? 0 : std::stoi(a) + 1;
    return reply(200, R"({"items":)" + pages::items_from(start) + R"(,"has_more":)" + (start + 3 < 10 ? "true" : "false") + "}");
  });
  BOOST_TEST(stripe == ten, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(pagination_guards_repeated_cursor_cross_origin_and_cap) {
  std::string failure;
  std::size_t requests = 0;
  // A cursor that never changes: an error, not an endless loop.
  walk<rest::cursor_body<"/meta/next", "cursor">>(
      [](const http::server_request&) { return reply(200, R"({"items":[{"n":1}],"meta":{"next":"same"}})"); }, 100, &failure, &requests);
  BOOST_TEST(failure.find("same cursor twice") != std::string::npos);
  BOOST_TEST(requests == 2u);
  // A next link to another origin: refused before anything is sent there.
  failure.clear();
  walk<rest::next_url_body<"/next">>(
      [](const http::server_request&) { return reply(200, R"({"items":[{"n":1}],"next":"https://evil.example/steal"})"); }, 100,
      &failure, &requests);
  BOOST_TEST(failure.find("leaves the API's origin") != std::string::npos);
  BOOST_TEST(requests == 1u);
  // The cap: two pages of an endless listing.
  auto capped = walk<rest::page_number<"page", 1>>(
      [](const http::server_request&) { return reply(200, R"({"items":[{"n":7}]})"); }, 2, nullptr, &requests);
  BOOST_TEST(capped.size() == 2u);
  BOOST_TEST(requests == 2u);
  // A page whose items are not an array.
  failure.clear();
  walk<rest::page_number<"page", 1>>([](const http::server_request&) { return reply(200, R"({"items":{"n":1}})"); }, 5, &failure);
  BOOST_TEST(failure.find("item array") != std::string::npos);
  // An item of the wrong shape: invalid_response naming where.
  failure.clear();
  walk<rest::page_number<"page", 1>>([](const http::server_request&) { return reply(200, R"({"items":[{"n":1},{"n":"two"}]})"); }, 5,
                                     &failure);
  BOOST_TEST(failure.find("[1].n") != std::string::npos);
  BOOST_TEST(failure.find("two") == std::string::npos);  // values never go into messages
}

BOOST_AUTO_TEST_CASE(pages_is_a_typed_async_range) {
  asio::io_context io;
  fake f(io);
  f.handle = [](const http::server_request& r) {
    const std::string c = query_param(r, "cursor");
    BOOST_TEST(query_param(r, "limit") == "2");
    if (c.empty()) return reply(200, R"({"ok":true,"channels":[{"id":"C1","name":"a"},{"id":"C2","name":"b"}],"response_metadata":{"next_cursor":"dGVhbTpD"}})");
    return reply(200, R"({"ok":true,"channels":[{"id":"C3","name":"c"}],"response_metadata":{"next_cursor":""}})");
  };
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    rest::client<chat::provider> slack(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await slack.initialize()).has_value());
    chat::list_params lp{.limit = 2};
    auto pages = slack.pages(chat::list_channels, lp);
    std::vector<std::string> names;
    std::size_t count = 0;
    for (;;) {
      auto page = co_await pages.next();
      BOOST_REQUIRE_MESSAGE(page, (page ? "" : err(page.error())));
      if (!*page) break;
      ++count;
      for (auto& ch : **page) names.push_back(ch.name);
    }
    BOOST_TEST(count == 2u);
    BOOST_TEST((names == std::vector<std::string>{"a", "b", "c"}));
    BOOST_TEST(query_param(f.log.back(), "cursor") == "dGVhbTpD");
    auto all = co_await slack.collect_all(chat::list_channels, lp, rest::page_cap{1});
    BOOST_REQUIRE(all);
    BOOST_TEST(all->size() == 2u);
  });
}

// ---- OAuth 2.0 ------------------------------------------------------------------------------------

namespace oauth {
template <class Auth>
struct provider {
  static constexpr std::string_view name = "oauthp";
  static constexpr std::string_view default_base_url = "https://api.oauth.example";
  using auth = Auth;
};
inline constexpr rest::operation<boost::json::value> me{http::verb::get, "/me", "me.get"};
}  // namespace oauth

namespace {
// A token endpoint and an API on one server: /token answers with `tokens` in turn, the API
// accepts only the latest access token.
struct oauth_server {
  explicit oauth_server(asio::io_context& io) : f(io) {
    f.handle = [this](const http::server_request& r) {
      if (path_of(r) == "/token") {
        ++token_requests;
        auto form = http::query::parse(r.body()).value();
        std::map<std::string, std::string> m(form.begin(), form.end());
        grants.push_back(m["grant_type"]);
        if (m["grant_type"] == "refresh_token") refresh_tokens_seen.push_back(m["refresh_token"]);
        if (on_token) on_token(m);
        if (m["grant_type"] == "refresh_token" && !valid_refresh.empty() && m["refresh_token"] != valid_refresh)
          return reply(400, R"({"error":"invalid_grant"})");
        current = "at" + std::to_string(token_requests);
        boost::json::object o{{"access_token", current}, {"token_type", "Bearer"}, {"expires_in", expires_in}};
        if (rotate) {
          valid_refresh = "rt" + std::to_string(token_requests + 1);
          o["refresh_token"] = valid_refresh;
        }
        return reply(200, boost::json::serialize(o));
      }
      ++api_requests;
      if (check_api) check_api(r);
      if (header(r, "Authorization") != "Bearer " + current) return reply(401, R"({"error":"expired"})");
      return reply(200, R"({"user":"u1"})");
    };
  }
  fake f;
  int token_requests = 0, api_requests = 0;
  int expires_in = 3600;
  bool rotate = false;
  std::string current, valid_refresh;
  std::vector<std::string> grants, refresh_tokens_seen;
  std::function<void(std::map<std::string, std::string>&)> on_token;
  std::function<void(const http::server_request&)> check_api;
};
intg::integration_config oauth_config(const std::string& base) {
  auto c = config_for(base);
  c.settings["client_id"] = "cid";
  c.settings["client_secret"] = "csecret-0123456789";
  c.settings["token_url"] = base + "/token";
  c.settings["scope"] = "read";
  return c;
}
}  // namespace

BOOST_AUTO_TEST_CASE(client_credentials_one_refresh_for_twenty_concurrent_calls) {
  asio::io_context io;
  oauth_server s(io);
  s.expires_in = 30;  // inside the 60 s refresh margin: the first token is as good as expired
  using P = oauth::provider<rest::oauth2_client_credentials>;
  run(io, s.f, [&]() -> asio::awaitable<void> {
    auto cfg = oauth_config(s.f.base());
    cfg.bulkhead.max_concurrent = 100;
    rest::client<P> c(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await c.initialize()).has_value());
    BOOST_TEST(s.token_requests == 1);
    s.expires_in = 3600;
    // 20 concurrent calls find the token expiring: exactly one refresh serves them all.
    auto ex = co_await asio::this_coro::executor;
    int done = 0, ok = 0;
    for (int i = 0; i < 20; ++i)
      asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
        auto r = co_await c.call(oauth::me);
        ok += r.has_value();
        ++done;
      }, asio::detached);
    asio::steady_timer t(ex);
    while (done < 20) {
      t.expires_after(5ms);
      co_await t.async_wait(asio::use_awaitable);
    }
    BOOST_TEST(ok == 20);
    BOOST_TEST(s.token_requests == 2);
    BOOST_TEST(c.auth().fetches() == 2u);
    BOOST_TEST(s.grants.back() == "client_credentials");
    // A 401 (the server revoked the token): one refresh, one resend.
    s.current = "revoked";
    auto r = co_await c.call(oauth::me);
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : err(r.error())));
    BOOST_TEST(s.token_requests == 3);
    // A 401 that a new token does not cure: the error, after exactly one refresh.
    s.check_api = [&](const http::server_request&) { s.current = "never"; };
    const int before = s.token_requests;
    auto bad = co_await c.call(oauth::me);
    BOOST_REQUIRE(!bad);
    BOOST_TEST(s.token_requests == before + 1);
    BOOST_TEST(err(bad.error()).find("Bearer") == std::string::npos);
  });
}

BOOST_AUTO_TEST_CASE(refresh_token_rotation_is_persisted_before_use) {
  asio::io_context io;
  oauth_server s(io);
  s.rotate = true;
  s.valid_refresh = "rt1";
  s.expires_in = 30;  // every call refreshes
  auto store = std::make_shared<rest::memory_token_store>();
  s.check_api = [&](const http::server_request& r) {
    // When the API first sees a new access token, its refresh token is already stored.
    if (header(r, "Authorization") == "Bearer " + s.current) {
      auto stored = store->get("oauthp/acme/demo_main/refresh_token");
      BOOST_TEST((stored && stored->reveal() == s.valid_refresh));
    }
  };
  using P = oauth::provider<rest::oauth2_authorization_code>;
  run(io, s.f, [&]() -> asio::awaitable<void> {
    auto cfg = oauth_config(s.f.base());
    cfg.settings["refresh_token"] = "rt1";
    auto opts = local_options();
    opts.store = rest::token_store(store);
    rest::client<P> c(cfg, io.get_executor(), opts);
    BOOST_REQUIRE((co_await c.initialize()).has_value());
    for (int i = 0; i < 3; ++i) {
      auto r = co_await c.call(oauth::me);
      BOOST_REQUIRE_MESSAGE(r, (r ? "" : err(r.error())));
    }
    // Each refresh used the token the previous one rotated in.
    BOOST_TEST((s.refresh_tokens_seen == std::vector<std::string>{"rt1", "rt2", "rt3", "rt4"}));
    BOOST_TEST(store->puts() == 4u);
    // A new client (a restart) continues from the stored grant, not the stale setting.
    rest::client<P> again(cfg, io.get_executor(), opts);
    BOOST_REQUIRE((co_await again.initialize()).has_value());
    BOOST_TEST(s.refresh_tokens_seen.back() == "rt5");
    // The authorization URL carries the PKCE challenge; completing it stores the user's grant.
    const intg::secret verifier = intg::auth::pkce_verifier().value();
    const std::string url = again.auth().authorization_url("https://id.oauth.example/authorize", "https://app.example/cb", "st4te",
                                                           verifier.reveal());
    BOOST_TEST(url.find("code_challenge=" + intg::auth::pkce_challenge(verifier.reveal())) != std::string::npos);
    BOOST_TEST(url.find("code_challenge_method=S256") != std::string::npos);
    s.on_token = [&](std::map<std::string, std::string>& m) {
      if (m["grant_type"] == "authorization_code") {
        BOOST_TEST(m["code"] == "code-1");
        BOOST_TEST(m["code_verifier"] == std::string(verifier.reveal()));
      }
    };
    auto done = co_await again.auth().complete_authorization("code-1", "https://app.example/cb", verifier);
    BOOST_REQUIRE_MESSAGE(done, (done ? "" : err(done.error())));
    BOOST_TEST(s.grants.back() == "authorization_code");
    BOOST_TEST(store->get("oauthp/acme/demo_main/refresh_token")->reveal() == s.valid_refresh);
  });
}

// The rotated token cannot be stored: the call fails rather than use a grant we would lose.
namespace {
struct failing_store {
  std::shared_ptr<rest::memory_token_store> inner = std::make_shared<rest::memory_token_store>();
  intg::result<intg::secret> get(std::string_view n) { return inner->get(n); }
  intg::result<void> put(std::string_view, const intg::secret&) { return intg::error(errc::unavailable, "disk full"); }
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_rotated_refresh_token_that_cannot_be_stored_fails_the_call) {
  asio::io_context io;
  oauth_server s(io);
  s.rotate = true;
  s.valid_refresh = "rt1";
  using P = oauth::provider<rest::oauth2_authorization_code>;
  run(io, s.f, [&]() -> asio::awaitable<void> {
    auto cfg = oauth_config(s.f.base());
    cfg.settings["refresh_token"] = "rt1";
    auto opts = local_options();
    opts.store = rest::token_store(std::make_shared<failing_store>());
    rest::client<P> c(cfg, io.get_executor(), opts);
    auto r = co_await c.initialize();
    BOOST_REQUIRE(!r);
    BOOST_TEST(err(r.error()).find("could not be stored") != std::string::npos);
    BOOST_TEST(s.api_requests == 0);
  });
}

BOOST_AUTO_TEST_CASE(jwt_bearer_assertion_google_service_account_style) {
  asio::io_context io;
  oauth_server s(io);
  auto key = intg::auth::jwk::generate("RSA").value();
  const std::string pem = private_pem(key);
  auto pub = intg::auth::jwk::from_pem(key.public_pem().value()).value();
  s.on_token = [&](std::map<std::string, std::string>& m) {
    BOOST_TEST(m["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer");
    intg::auth::jwt::verify_options vo;
    vo.audience = s.f.base() + "/token";
    auto claims = intg::auth::jwt::verify(m["assertion"], pub, vo);
    BOOST_REQUIRE_MESSAGE(claims, (claims ? "" : err(claims.error())));
    BOOST_TEST(claims->at("iss").as_string() == "robot@project.iam.gserviceaccount.com");
    BOOST_TEST(claims->at("scope").as_string() == "read");
  };
  using P = oauth::provider<rest::jwt_bearer<"service_account">>;
  run(io, s.f, [&]() -> asio::awaitable<void> {
    auto cfg = oauth_config(s.f.base());
    boost::json::object sa{{"type", "service_account"}, {"client_email", "robot@project.iam.gserviceaccount.com"},
                           {"private_key_id", "k1"}, {"private_key", pem}, {"token_uri", s.f.base() + "/token"}};
    cfg.settings["service_account"] = boost::json::serialize(sa);
    rest::client<P> c(cfg, io.get_executor(), local_options());
    auto init = co_await c.initialize();
    BOOST_REQUIRE_MESSAGE(init, (init ? "" : err(init.error())));
    auto r = co_await c.call(oauth::me);
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : err(r.error())));
    BOOST_TEST(s.token_requests == 1);
    // A token_uri outside the allowed hosts is refused: the key file cannot send us elsewhere.
    sa["token_uri"] = "https://evil.example/token";
    cfg.settings["service_account"] = boost::json::serialize(sa);
    rest::client<P> bad(cfg, io.get_executor(), local_options());
    auto no = co_await bad.initialize();
    BOOST_TEST((!no && no.error() == errc::config_error));
    BOOST_TEST(err(no.error()).find("PRIVATE KEY") == std::string::npos);
  });
}

BOOST_AUTO_TEST_CASE(self_signed_es256_token_renewed_before_expiry) {
  asio::io_context io;
  fake f(io);
  auto key = intg::auth::jwk::generate("P-256").value();
  auto pub = intg::auth::jwk::from_pem(key.public_pem().value()).value();
  std::vector<std::string> tokens;
  f.handle = [&](const http::server_request& r) {
    const std::string a = header(r, "Authorization");
    BOOST_REQUIRE(a.starts_with("Bearer "));
    tokens.push_back(a.substr(7));
    intg::auth::jwt::verify_options vo;
    auto claims = intg::auth::jwt::verify(tokens.back(), pub, vo);
    BOOST_REQUIRE_MESSAGE(claims, (claims ? "" : err(claims.error())));
    BOOST_TEST(claims->at("iss").as_string() == "TEAM123");
    BOOST_TEST(claims->at("exp").as_int64() - claims->at("iat").as_int64() == 3);
    auto d = intg::auth::jwt::decode(tokens.back()).value();
    BOOST_TEST(d.header.at("kid").as_string() == "KEY456");
    BOOST_TEST(d.header.at("alg").as_string() == "ES256");
    return reply(200, "{}");
  };
  // Lives 3 s, renewed 2 s before it ends.
  using P = oauth::provider<rest::self_signed_es256<"private_key", "key_id", "team_id", 3, 2>>;
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    cfg.settings["private_key"] = private_pem(key);
    cfg.settings["key_id"] = "KEY456";
    cfg.settings["team_id"] = "TEAM123";
    rest::client<P> c(cfg, io.get_executor(), local_options());
    auto init = co_await c.initialize();
    BOOST_REQUIRE_MESSAGE(init, (init ? "" : err(init.error())));
    BOOST_REQUIRE(co_await c.call(oauth::me));
    BOOST_REQUIRE(co_await c.call(oauth::me));
    BOOST_TEST(c.auth().fetches() == 1u);  // cached
    asio::steady_timer t(co_await asio::this_coro::executor, 1100ms);
    co_await t.async_wait(asio::use_awaitable);
    BOOST_REQUIRE(co_await c.call(oauth::me));
    BOOST_TEST(c.auth().fetches() == 2u);  // renewed before its expiry
    BOOST_REQUIRE(tokens.size() == 3u);
    BOOST_TEST(tokens[0] == tokens[1]);
    BOOST_TEST(tokens[2] != tokens[1]);
  });
}

// ---- static schemes and the signing hook -----------------------------------------------------------

namespace {
// Signs method, target, the idempotency key and the body with HMAC-SHA256 (a stand-in for SigV4).
struct hmac_signer {
  intg::secret key;
  intg::result<void> configure(rest::auth_context& c) {
    auto k = c.secret_setting("signing_key");
    if (!k) return k.error();
    key = std::move(*k);
    return {};
  }
  intg::result<void> sign(http::request& r) {
    std::string base = std::string(boost::beast::http::to_string(r.method())) + "\n" + r.target.target() + "\n";
    if (auto it = r.message.find("Idempotency-Key"); it != r.message.end()) base += std::string(it->value());
    base += "\n" + r.message.body();
    r.set("X-Signature", intg::crypto::to_hex(intg::crypto::hmac_sha256(key.reveal(), base)));
    return {};
  }
};
template <class Auth>
struct keyed {
  static constexpr std::string_view name = "keyed";
  static constexpr std::string_view default_base_url = "https://keyed.example";
  using auth = Auth;
  using idempotency = rest::idempotency_header<>;
};
}  // namespace

BOOST_AUTO_TEST_CASE(api_key_basic_and_request_signing_schemes) {
  asio::io_context io;
  fake f(io);
  f.handle = [](const http::server_request&) { return reply(200, "{}"); };
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    cfg.settings["api_key"] = "key-0123456789";
    cfg.settings["user"] = "sk_live_abc";
    cfg.settings["signing_key"] = "sign-me";
    static constexpr rest::operation<boost::json::value, demo::customer_create> post{http::verb::post, "/things", "things.create"};
    static constexpr rest::operation<boost::json::value> get{http::verb::get, "/things", "things.list"};
    demo::customer_create p{.email = "a@example.com"};
    {
      rest::client<keyed<rest::api_key<"api_key", "X-Api-Key">>> c(cfg, io.get_executor(), local_options());
      BOOST_REQUIRE((co_await c.initialize()).has_value());
      BOOST_REQUIRE(co_await c.call(get));
      BOOST_TEST(header(f.log.back(), "X-Api-Key") == "key-0123456789");
    }
    {
      rest::client<keyed<rest::api_key<"api_key", "Authorization", "Token ">>> c(cfg, io.get_executor(), local_options());
      BOOST_REQUIRE((co_await c.initialize()).has_value());
      BOOST_REQUIRE(co_await c.call(get));
      BOOST_TEST(header(f.log.back(), "Authorization") == "Token key-0123456789");
    }
    {
      rest::client<keyed<rest::api_key_query<"api_key", "key">>> c(cfg, io.get_executor(), local_options());
      BOOST_REQUIRE((co_await c.initialize()).has_value());
      f.handle = [n = 0](const http::server_request&) mutable { return n++ == 0 ? reply(503, "{}") : reply(200, "{}"); };
      BOOST_REQUIRE(co_await c.call(get));
      // The key is added once per attempt, not once more per retry.
      BOOST_TEST(std::string(f.log.back().target()) == "/things?key=key-0123456789");
      f.handle = [](const http::server_request&) { return reply(200, "{}"); };
    }
    {
      rest::client<keyed<rest::basic<"user", "password">>> c(cfg, io.get_executor(), local_options());
      BOOST_REQUIRE((co_await c.initialize()).has_value());
      BOOST_REQUIRE(co_await c.call(get));
      BOOST_TEST(header(f.log.back(), "Authorization") == "Basic " + intg::crypto::base64_encode(std::string_view("sk_live_abc:")));
    }
    {
      rest::client<keyed<rest::signed_by<hmac_signer>>> c(cfg, io.get_executor(), local_options());
      BOOST_REQUIRE((co_await c.initialize()).has_value());
      BOOST_REQUIRE(co_await c.call(post, p));
      const auto& r = f.log.back();
      const std::string base = "POST\n/things\n" + header(r, "Idempotency-Key") + "\n" + r.body();
      BOOST_TEST(!header(r, "Idempotency-Key").empty());
      BOOST_TEST(header(r, "X-Signature") == intg::crypto::to_hex(intg::crypto::hmac_sha256("sign-me", base)));
    }
    {
      rest::client<keyed<rest::no_auth>> c(cfg, io.get_executor(), local_options());
      BOOST_REQUIRE((co_await c.initialize()).has_value());
      BOOST_REQUIRE(co_await c.call(get));
      BOOST_TEST(header(f.log.back(), "Authorization").empty());
    }
  });
}

// Two credentials (an app key, a user token) chosen per operation; parameters that validate.
namespace duo {
struct search_params {
  std::string q;
  int limit = 5;
  intg::result<void> validate() const {
    if (q.empty()) return intg::error(errc::invalid_argument, "duo: q must not be empty");
    if (limit < 1 || limit > 10) return intg::error(errc::invalid_argument, "duo: limit must be 1 to 10");
    return {};
  }
};
BOOST_DESCRIBE_STRUCT(search_params, (), (q, limit))
struct provider {
  static constexpr std::string_view name = "duo";
  static constexpr std::string_view default_base_url = "https://duo.example";
  using auth = rest::auth_set<rest::api_key<"api_key", "X-Api-Key">, rest::bearer<"secret_key">>;
};
inline constexpr rest::operation<boost::json::value, search_params> search{http::verb::get, "/search", "search"};
inline constexpr rest::operation<boost::json::value> me{.method = http::verb::get, .path = "/me", .name = "me", .credential = 1};
}  // namespace duo

BOOST_AUTO_TEST_CASE(auth_set_picks_the_credential_per_operation_and_params_validate) {
  asio::io_context io;
  fake f(io);
  f.handle = [](const http::server_request&) { return reply(200, "{}"); };
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    cfg.settings["api_key"] = "app-key-0123456789";
    rest::client<duo::provider> c(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await c.initialize()).has_value());
    duo::search_params sp{.q = "x", .limit = 3};
    BOOST_REQUIRE(co_await c.call(duo::search, sp));
    BOOST_TEST(header(f.log.back(), "X-Api-Key") == "app-key-0123456789");
    BOOST_TEST(header(f.log.back(), "Authorization").empty());
    BOOST_TEST(query_param(f.log.back(), "q") == "x");
    BOOST_REQUIRE(co_await c.call(duo::me));
    BOOST_TEST(header(f.log.back(), "Authorization") == "Bearer sk_test_0123456789abcdef");
    BOOST_TEST(header(f.log.back(), "X-Api-Key").empty());
    duo::search_params bad{.q = "x", .limit = 50};
    const auto sent = f.log.size();
    auto r = co_await c.call(duo::search, bad);
    BOOST_REQUIRE(!r);
    BOOST_TEST((r.error() == errc::invalid_argument));
    BOOST_TEST(f.log.size() == sent);  // refused before sending
  });
}

// ---- registry lifecycle: health through the probe stack ------------------------------------------

BOOST_AUTO_TEST_CASE(health_check_passes_an_open_breaker_and_spends_no_quota) {
  asio::io_context io;
  fake f(io);
  bool down = true;
  f.handle = [&](const http::server_request& r) {
    if (path_of(r) == "/v1/ping") return reply(200, "{}");
    return down ? reply(500, "{}") : reply(200, R"({"id":"a","email":"e"})");
  };
  run(io, f, [&]() -> asio::awaitable<void> {
    auto cfg = config_for(f.base());
    cfg.retry.max_attempts = 1;
    cfg.circuit_breaker.failure_threshold = 2;
    demo::client c(cfg, io.get_executor(), local_options());
    BOOST_REQUIRE((co_await c.initialize()).has_value());
    BOOST_TEST(c.category() == "payment");
    for (int i = 0; i < 2; ++i) (void)co_await c.call(demo::retrieve_customer, "a");
    auto refused = co_await c.call(demo::retrieve_customer, "a");
    BOOST_TEST((refused.error() == errc::circuit_open));
    const auto sent = f.log.size();
    auto h = co_await c.health_check();
    BOOST_TEST((h.status == intg::integration_status::healthy));  // the probe passed the open breaker
    BOOST_TEST(f.log.size() == sent + 1);
    co_await c.cleanup();
  });
}

BOOST_AUTO_TEST_CASE(registry_constructs_and_initializes_the_client) {
  asio::io_context io;
  fake f(io);
  f.handle = [](const http::server_request&) { return reply(200, "{}"); };
  // Through registry_services the client gets the registry's executor and call recorder.
  intg::registry_services services{io.get_executor(), nullptr, nullptr, nullptr};
  auto cfg = config_for(f.base());
  cfg.settings["base_url"] = "https://api.demo.example";
  demo::client c(cfg, services);
  BOOST_TEST(c.name() == "demo_main");
  run(io, f, [&]() -> asio::awaitable<void> {
    BOOST_TEST((co_await c.initialize()).has_value());
    co_await c.cleanup();
  });
}

// ---- webhooks: Slack ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(verify_slack_with_slacks_documented_example) {
  using namespace intg::webhook;
  // The example of Slack's "Verifying requests from Slack" page.
  const std::string body =
      "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar"
      "&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com"
      "%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
  const std::string secret = "8f742231b10e8888abcd99yyyzzz85a5";
  const std::string sig = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
  const std::chrono::sys_seconds at{std::chrono::seconds{1531420618}};
  BOOST_TEST(sign_slack(body, secret, 1531420618) == sig);
  BOOST_TEST(verify_slack(body, "1531420618", sig, secret, at + std::chrono::seconds{60}).has_value());
  // Upper-case hex is the same signature.
  std::string upper = sig;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  upper[0] = 'v';
  BOOST_TEST(verify_slack(body, "1531420618", upper, secret, at).has_value());
  auto code = [&](std::string_view b, std::string_view ts, std::string_view s, std::chrono::sys_seconds now) {
    auto r = verify_slack(b, ts, s, secret, now);
    return r ? errc{} : *r.error().as_errc();
  };
  BOOST_TEST((code(body + "x", "1531420618", sig, at) == errc::signature_invalid));
  BOOST_TEST((code(body, "1531420619", sig, at) == errc::signature_invalid));  // the timestamp is signed
  BOOST_TEST((code(body, "1531420618", sig, at + std::chrono::seconds{301}) == errc::timestamp_out_of_tolerance));
  BOOST_TEST((code(body, "1531420618", sig, at - std::chrono::seconds{301}) == errc::timestamp_out_of_tolerance));
  BOOST_TEST((code(body, "1531420618", "", at) == errc::signature_missing));
  BOOST_TEST((code(body, "", sig, at) == errc::signature_malformed));
  BOOST_TEST((code(body, "15314x", sig, at) == errc::signature_malformed));
  BOOST_TEST((code(body, "1531420618", "v1=abcd", at) == errc::signature_scheme_unsupported));
  BOOST_TEST((code(body, "1531420618", "v0=abcd", at) == errc::signature_malformed));
  // Tolerance zero: no time check.
  BOOST_TEST(verify_slack(body, "1531420618", sig, secret, at + std::chrono::hours{48}, std::chrono::seconds{0}).has_value());
}

// ============================================================================================
// Typed provider models (rest/json.hpp, rest/form.hpp): the lenient JSON conversion of described
// structs and enums, its errors (JSON path of the first problem, kinds expected and found, never
// the value), hostile bodies (truncated, too deep, too large, not JSON), the opt-in that makes
// boost::json::value_to use it, and Stripe-style form and query encoding.
namespace rest_models_tests {

namespace json = boost::json;
namespace rest = intg::rest;
using intg::errc;

// ---- models ---------------------------------------------------------------------------------

enum class status { active, past_due, canceled, unknown };
BOOST_DESCRIBE_ENUM(status, active, past_due, canceled, unknown)

enum class interval { day, week, month };  // no `unknown`: an unrecognised name is an error
BOOST_DESCRIBE_ENUM(interval, day, week, month)

enum class keyword { default_, delete_ };  // JSON "default", "delete"
BOOST_DESCRIBE_ENUM(keyword, default_, delete_)

struct postal_address {
  std::string city;
  std::optional<std::string> line1;
  bool operator==(const postal_address&) const = default;
};
BOOST_DESCRIBE_STRUCT(postal_address, (), (city, line1))

struct customer {
  std::string id;
  std::optional<std::string> email;
  std::optional<postal_address> address;
  std::map<std::string, std::string> metadata;
  bool operator==(const customer&) const = default;
};
BOOST_DESCRIBE_STRUCT(customer, (), (id, email, address, metadata))

struct line_item {
  std::string price;
  std::int64_t quantity = 0;
  bool operator==(const line_item&) const = default;
};
BOOST_DESCRIBE_STRUCT(line_item, (), (price, quantity))

struct resource {  // a base: its members are read with the derived struct's
  std::string id;
  std::string object;
  bool operator==(const resource&) const = default;
};
BOOST_DESCRIBE_STRUCT(resource, (), (id, object))

struct subscription : resource {
  status status_ = status::active;  // JSON "status"
  std::optional<interval> interval_;
  bool livemode = false;
  bool explicit_ = false;  // JSON "explicit"
  std::int32_t count = 0;
  std::uint32_t seats = 0;
  std::int8_t tiny = 0;
  std::uint64_t big = 0;
  double amount = 0;
  float ratio = 0;
  std::vector<line_item> items;
  std::vector<std::string> expand;
  std::vector<bool> flags;
  std::optional<rest_models_tests::customer> customer;
  std::unordered_map<std::string, std::int64_t> counters;
  json::value raw;
  std::optional<json::object> extra;
  std::optional<json::array> list;
  std::optional<keyword> kw;
  bool operator==(const subscription&) const = default;
};
BOOST_DESCRIBE_STRUCT(subscription, (resource),
                      (status_, interval_, livemode, explicit_, count, seats, tiny, big, amount, ratio, items, expand,
                       flags, customer, counters, raw, extra, list, kw))

template <class T>
struct page {
  std::vector<T> data;
  bool has_more = false;
  bool operator==(const page&) const = default;
};
BOOST_DESCRIBE_STRUCT(page<customer>, (), (data, has_more))

struct tree {  // recursive: depth bounded by the document
  std::string name;
  std::vector<tree> children;
};
BOOST_DESCRIBE_STRUCT(tree, (), (name, children))

struct with_raw {
  json::value raw;
  std::optional<json::object> obj;
};
BOOST_DESCRIBE_STRUCT(with_raw, (), (raw, obj))

struct secret_holder {
  std::string api_key;
  interval every = interval::day;
  std::int32_t n = 0;
};
BOOST_DESCRIBE_STRUCT(secret_holder, (), (api_key, every, n))

struct odd_keys {  // JSON keys that are not C++ names (Last.fm, OData)
  std::string text;
  std::optional<std::string> next_link;
  std::optional<std::int32_t> plain;
  static constexpr rest::json_key json_keys[] = {{"text", "#text"}, {"next_link", "@odata.nextLink"}};
};
BOOST_DESCRIBE_STRUCT(odd_keys, (), (text, next_link, plain))

INTG_REST_MODELS();

// The same shape in a namespace that did not opt in: Boost.JSON's built-in, strict conversion.
namespace strict {
struct address {
  std::string city;
  std::optional<std::string> line1;
};
BOOST_DESCRIBE_STRUCT(address, (), (city, line1))
}  // namespace strict

const char* const full_subscription = R"({
  "id": "sub_1", "object": "subscription", "status": "past_due", "interval": "month", "livemode": true,
  "explicit": true, "count": -5, "seats": 7, "tiny": -128, "big": 18446744073709551615, "amount": 12,
  "ratio": 0.5, "items": [{"price": "price_a", "quantity": 2}, {"price": "price_b", "quantity": 1}],
  "expand": ["customer", "invoice"], "flags": [true, false], "customer": {"id": "cus_1", "email": null,
  "address": {"city": "Paris"}, "metadata": {"order_id": "42"}}, "counters": {"a": 1}, "raw": [1, {"x": null}],
  "extra": {"k": "v"}, "list": [], "kw": "default", "added_by_the_provider_next_year": {"nested": [1, 2]}
})";

template <class T>
intg::error decode_error(std::string_view body) {
  auto r = rest::decode_body<T>(body);
  BOOST_REQUIRE_MESSAGE(!r, "decoding should have failed: " << body);
  BOOST_TEST((r.error() == errc::invalid_response));
  return r.error();
}

// ---- decoding -------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(rest_models_decode)

BOOST_AUTO_TEST_CASE(every_member_kind) {
  auto r = rest::decode_body<subscription>(full_subscription);
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  const subscription& s = *r;
  BOOST_TEST(s.id == "sub_1");
  BOOST_TEST(s.object == "subscription");
  BOOST_TEST((s.status_ == status::past_due));
  BOOST_TEST((s.interval_ == interval::month));
  BOOST_TEST(s.livemode);
  BOOST_TEST(s.explicit_);
  BOOST_TEST(s.count == -5);
  BOOST_TEST(s.seats == 7u);
  BOOST_TEST(s.tiny == -128);
  BOOST_TEST(s.big == UINT64_MAX);
  BOOST_TEST(s.amount == 12.0);  // an integer into a double
  BOOST_TEST(s.ratio == 0.5f);
  BOOST_REQUIRE_EQUAL(s.items.size(), 2u);
  BOOST_TEST(s.items[1].price == "price_b");
  BOOST_TEST(s.items[1].quantity == 1);
  BOOST_TEST((s.expand == std::vector<std::string>{"customer", "invoice"}));
  BOOST_TEST((s.flags == std::vector<bool>{true, false}));
  BOOST_REQUIRE(s.customer);
  BOOST_TEST(!s.customer->email);  // null
  BOOST_REQUIRE(s.customer->address);
  BOOST_TEST(s.customer->address->city == "Paris");
  BOOST_TEST(!s.customer->address->line1);  // absent
  BOOST_TEST(s.customer->metadata.at("order_id") == "42");
  BOOST_TEST(s.counters.at("a") == 1);
  BOOST_TEST(json::serialize(s.raw) == R"([1,{"x":null}])");
  BOOST_REQUIRE(s.extra);
  BOOST_TEST(s.extra->at("k") == "v");
  BOOST_REQUIRE(s.list);
  BOOST_TEST(s.list->empty());
  BOOST_TEST((s.kw == keyword::default_));
}

BOOST_AUTO_TEST_CASE(unknown_members_are_ignored_and_optionals_may_be_absent_or_null) {
  auto r = rest::decode_body<customer>(R"({"id":"cus_1","metadata":{},"new_field":[{"deep":true}],"email":null})");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->id == "cus_1");
  BOOST_TEST(!r->email);
  BOOST_TEST(!r->address);
}

BOOST_AUTO_TEST_CASE(missing_required_member) {
  auto e = decode_error<customer>(R"({"metadata":{}})");
  BOOST_TEST(e.json_path() == "$.id");
  BOOST_TEST(e.message() == "missing required member (expected a string)");
  e = decode_error<page<customer>>(R"({"data":[{"id":"a","metadata":{}},{"id":"b"}],"has_more":false})");
  BOOST_TEST(e.json_path() == "$.data[1].metadata");
  BOOST_TEST(e.message() == "missing required member (expected an object)");
  // A base class's member is required like the others.
  e = decode_error<subscription>(R"({"object":"subscription"})");
  BOOST_TEST(e.json_path() == "$.id");
}

BOOST_AUTO_TEST_CASE(null_for_a_required_member_is_a_wrong_kind) {
  auto e = decode_error<customer>(R"({"id":null,"metadata":{}})");
  BOOST_TEST(e.json_path() == "$.id");
  BOOST_TEST(e.message() == "expected a string, got null");
}

BOOST_AUTO_TEST_CASE(wrong_kinds_at_each_level_name_the_first_problem) {
  struct probe {
    const char* body;
    const char* path;
    const char* message;
  };
  const probe probes[] = {
      {R"("a string where an object is expected")", "$", "expected an object, got a string"},
      {R"([])", "$", "expected an object, got an array"},
      {R"({"data":{},"has_more":false})", "$.data", "expected an array, got an object"},
      {R"({"data":[1],"has_more":false})", "$.data[0]", "expected an object, got an integer"},
      {R"({"data":[{"id":1,"metadata":{}}],"has_more":false})", "$.data[0].id", "expected a string, got an integer"},
      {R"({"data":[{"id":"a","metadata":{"k":true}}],"has_more":false})", "$.data[0].metadata.k",
       "expected a string, got a boolean"},
      {R"({"data":[{"id":"a","metadata":{},"address":"Paris"}],"has_more":false})", "$.data[0].address",
       "expected an object, got a string"},
      {R"({"data":[{"id":"a","metadata":{},"address":{"city":["x"]}}],"has_more":false})",
       "$.data[0].address.city", "expected a string, got an array"},
      {R"({"data":[],"has_more":"false"})", "$.has_more", "expected a boolean, got a string"},
      // Two problems: the first in document-model order is reported.
      {R"({"data":[{"id":"a","metadata":[]},{"id":2}],"has_more":0})", "$.data[0].metadata",
       "expected an object, got an array"},
  };
  for (const auto& p : probes) {
    BOOST_TEST_CONTEXT(p.body) {
      auto e = decode_error<page<customer>>(p.body);
      BOOST_TEST(e.json_path() == p.path);
      BOOST_TEST(e.message() == p.message);
    }
  }
}

BOOST_AUTO_TEST_CASE(map_keys_that_are_not_identifiers_are_bracketed_in_paths) {
  auto e = decode_error<customer>(R"({"id":"a","metadata":{"order.id":"1","we\"ird":2}})");
  BOOST_TEST(e.json_path() == R"($.metadata["we\"ird"])");
  e = decode_error<customer>(R"({"id":"a","metadata":{"order-id":3}})");
  BOOST_TEST(e.json_path() == R"($.metadata["order-id"])");
}

BOOST_AUTO_TEST_CASE(integers_are_range_checked) {
  auto sub = [](std::string_view member, std::string_view number) {
    std::string body = R"({"id":"s","object":"o","livemode":false,"explicit":false,"count":0,"seats":0,"tiny":0,)"
                       R"("big":0,"amount":0,"ratio":0,"items":[],"expand":[],"flags":[],"counters":{},"raw":null,)"
                       R"("status":"active")";
    body += ",\"";
    body += member;
    body += "\":";
    body += number;
    body += '}';
    return rest::decode_body<subscription>(body);  // the later duplicate wins
  };
  BOOST_TEST(sub("count", "2147483647")->count == 2147483647);
  BOOST_TEST(sub("count", "-2147483648")->count == -2147483647 - 1);
  BOOST_TEST(sub("count", "3.0")->count == 3);  // an integral number is an integer
  BOOST_TEST(sub("count", "1e2")->count == 100);
  BOOST_TEST(sub("big", "18446744073709551615")->big == UINT64_MAX);
  BOOST_TEST(sub("tiny", "127")->tiny == 127);
  struct bad {
    const char* member;
    const char* number;
    const char* message;
  };
  const bad cases[] = {
      {"count", "2147483648", "expected an integer in [-2147483648, 2147483647], got an integer out of that range"},
      {"count", "-2147483649", "expected an integer in [-2147483648, 2147483647], got an integer out of that range"},
      {"count", "3.7", "expected an integer in [-2147483648, 2147483647], got a number with a fraction"},
      {"count", "1e30", "expected an integer in [-2147483648, 2147483647], got an integer out of that range"},
      {"count", "\"12\"", "expected an integer in [-2147483648, 2147483647], got a string"},
      {"seats", "-1", "expected an integer in [0, 4294967295], got an integer out of that range"},
      {"big", "-1", "expected an integer in [0, 18446744073709551615], got an integer out of that range"},
      {"big", "18446744073709551616", "expected an integer in [0, 18446744073709551615], got an integer out of that range"},
      {"tiny", "128", "expected an integer in [-128, 127], got an integer out of that range"},
      {"tiny", "-129", "expected an integer in [-128, 127], got an integer out of that range"},
      {"amount", "1e400", "expected a finite number, got a number out of range"},
      {"ratio", "1e300", "expected a finite number, got a number out of range"},
      {"amount", "true", "expected a number, got a boolean"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.member << " = " << c.number) {
      auto r = sub(c.member, c.number);
      BOOST_REQUIRE(!r);
      BOOST_TEST(r.error().json_path() == std::string("$.") + c.member);
      BOOST_TEST(r.error().message() == c.message);
    }
  }
  // int64 at its limits: 2^63 as a double is just out of range, -2^63 just in.
  BOOST_TEST(rest::decode_body<page<customer>>(R"({"data":[],"has_more":true})")->has_more);
  using v64 = std::vector<std::int64_t>;
  BOOST_TEST((*rest::decode_body<v64>("[9223372036854775807,-9223372036854775808,-9.223372036854775808e18]") ==
              v64{INT64_MAX, INT64_MIN, INT64_MIN}));
  BOOST_TEST(!rest::decode_body<v64>("[9.223372036854775808e18]"));
  BOOST_TEST(!rest::decode_body<v64>("[9223372036854775808]"));
}

BOOST_AUTO_TEST_CASE(enums_by_name_with_the_unknown_fallback) {
  BOOST_TEST((*rest::decode<status>(json::value("canceled")) == status::canceled));
  BOOST_TEST((*rest::decode<status>(json::value("paused_since_2027")) == status::unknown));
  BOOST_TEST((*rest::decode<keyword>(json::value("delete")) == keyword::delete_));
  auto r = rest::decode<interval>(json::value("year"));
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message() == R"(expected one of the strings "day", "week", "month", got another string)");
  BOOST_TEST(r.error().json_path() == "$");
  r = rest::decode<interval>(json::value(3));
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message() == R"(expected one of the strings "day", "week", "month", got an integer)");
  // Enumerators' C++ names with their trailing underscore are not JSON names.
  BOOST_TEST(!rest::decode<keyword>(json::value("default_")));
}

BOOST_AUTO_TEST_CASE(messages_never_contain_the_value) {
  const char* const bodies[] = {
      R"({"api_key":{"sk_live_SECRET":1},"every":"day","n":1})",
      R"({"api_key":"sk_live_SECRET","every":"sk_live_SECRET","n":1})",
      R"({"api_key":"sk_live_SECRET","every":"day","n":"sk_live_SECRET"})",
      R"({"api_key":"sk_live_SECRET","every":"day","n":98765432109876})",
      R"({"api_key":"sk_live_SECRET","every":"day","n":1.234567})",
      R"({"api_key":"sk_live_SECRET","every":"day","n":1,"x":)",
      R"({"api_key":"sk_live_SECRET","every":"day","n":1} sk_live_SECRET)",
  };
  for (const char* body : bodies) {
    BOOST_TEST_CONTEXT(body) {
      auto e = decode_error<secret_holder>(body);
      const std::string text = e.to_string();
      BOOST_CHECK_MESSAGE(text.find("SECRET") == std::string::npos, text);
      BOOST_CHECK_MESSAGE(text.find("98765") == std::string::npos, text);
      BOOST_CHECK_MESSAGE(text.find("234567") == std::string::npos, text);
    }
  }
}

BOOST_AUTO_TEST_CASE(decode_from_a_value_and_top_level_containers) {
  const json::value v = json::parse(R"([{"city":"Lyon"},{"city":"Nice","line1":"1 rue"}])");
  auto r = rest::decode<std::vector<postal_address>>(v);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->size() == 2u);
  BOOST_TEST(*(*r)[1].line1 == "1 rue");
  auto m = rest::decode<std::map<std::string, std::optional<std::int64_t>>>(json::parse(R"({"a":1,"b":null})"));
  BOOST_REQUIRE(m);
  BOOST_TEST(*m->at("a") == 1);
  BOOST_TEST(!m->at("b"));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- hostile bodies ---------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(rest_models_hostile_bodies)

BOOST_AUTO_TEST_CASE(truncated_and_invalid_json_give_the_parser_reason_and_offset) {
  struct probe {
    const char* body;
    const char* message;
  };
  const probe probes[] = {
      {R"({"id":"cus_1","metadata":{"a":"b")", "response body is not valid JSON: incomplete JSON at byte 33"},
      {"", "response body is not valid JSON: incomplete JSON at byte 0"},
      {"<html><body>502 Bad Gateway</body></html>", "response body is not valid JSON: syntax error at byte 0"},
      {R"({"id":"a","metadata":{}} trailing)", "response body is not valid JSON: extra data at byte 25"},
      {R"({"id":"a",})", "response body is not valid JSON: syntax error at byte 10"},
      {"{\"id\":\"\xff\xfe\",\"metadata\":{}}", "response body is not valid JSON: syntax error at byte 7"},
      {R"({"id":"a","metadata":{}, /* comment */})", "response body is not valid JSON: syntax error at byte 25"},
  };
  for (const auto& p : probes) {
    BOOST_TEST_CONTEXT(p.body) {
      auto e = decode_error<customer>(p.body);
      BOOST_TEST(e.message() == p.message);
      BOOST_TEST(e.json_path().empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(nesting_is_limited_to_64_levels) {
  auto nested = [](int depth) {
    std::string s(static_cast<std::size_t>(depth), '[');
    s += std::string(static_cast<std::size_t>(depth), ']');
    return R"({"raw":)" + s + "}";
  };
  BOOST_TEST(rest::decode_body<with_raw>(nested(63)).has_value());  // 64 levels with the outer object
  auto e = decode_error<with_raw>(nested(64));
  BOOST_TEST(e.message() == "response body is not valid JSON: nested deeper than 64 levels at byte 70");
  // A recursive model: as deep as the document allows, no deeper.
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += R"({"name":"n","children":[)";
  BOOST_TEST(decode_error<tree>(deep).message().starts_with("response body is not valid JSON: nested deeper"));
  std::string ok;
  for (int i = 0; i < 31; ++i) ok += R"({"name":"n","children":[)";
  ok += R"({"name":"leaf","children":[]})";
  for (int i = 0; i < 31; ++i) ok += "]}";
  BOOST_TEST(rest::decode_body<tree>(ok).has_value());
}

BOOST_AUTO_TEST_CASE(the_size_cap) {
  const std::string body = R"({"id":"a","metadata":{}})";
  BOOST_TEST(rest::decode_body<customer>(body, body.size()).has_value());
  auto r = rest::decode_body<customer>(body, body.size() - 1);
  BOOST_REQUIRE(!r);
  BOOST_TEST((r.error() == errc::invalid_response));
  BOOST_TEST(r.error().message() == "response body of 24 bytes exceeds the limit of 23 bytes");
}

BOOST_AUTO_TEST_CASE(huge_arrays_within_the_cap) {
  std::string body = R"({"data":[)";
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    if (i) body += ',';
    body += R"({"id":"cus_)" + std::to_string(i) + R"(","metadata":{}})";
  }
  body += R"(],"has_more":true})";
  auto r = rest::decode_body<page<customer>>(body);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->data.size() == static_cast<std::size_t>(n));
  BOOST_TEST(r->data.back().id == "cus_99999");
  // One bad element at the end of a huge page is still found, with its index.
  body.insert(body.size() - std::string(R"(],"has_more":true})").size(), R"(,{"id":7,"metadata":{}})");
  auto e = decode_error<page<customer>>(body);
  BOOST_TEST(e.json_path() == "$.data[100000].id");
  // A body over the default 8 MiB cap is refused before parsing.
  const std::string big(std::size_t{8} << 20 | 1, ' ');
  BOOST_TEST(decode_error<page<customer>>(big).message().find("exceeds the limit of 8388608 bytes") != std::string::npos);
}

struct wide {  // about 1 KiB, every member optional: "{}" decodes into one
  std::optional<std::string> a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, c0, c1,
      c2, c3, c4, c5;
};
BOOST_DESCRIBE_STRUCT(wide, (), (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, c0,
                                 c1, c2, c3, c4, c5))

BOOST_AUTO_TEST_CASE(amplification_is_bounded) {
  // 1.5 MB of "{}," would be 500k structs of a kilobyte: half a gigabyte from a small body.
  std::string body = "[";
  for (int i = 0; i < 500000; ++i) body += i ? ",{}" : "{}";
  body += "]";
  auto e = decode_error<std::vector<wide>>(body);
  BOOST_TEST(e.json_path() == "$");
  BOOST_TEST(e.message().starts_with("expected at most "));
  BOOST_TEST(e.message().ends_with("bytes), got 500000"));
  // The same elements in a legitimate number decode; so does any page within the floor.
  BOOST_TEST(rest::decode_body<std::vector<wide>>("[{},{},{}]").has_value());
  // Budgets add up over the document, and rest::decode takes one explicitly.
  const json::value v = json::parse(R"({"data":[{"id":"a","metadata":{"k":"v"}},{"id":"b","metadata":{}}],"has_more":false})");
  BOOST_TEST(rest::decode<page<customer>>(v).has_value());
  auto r = rest::decode<page<customer>>(v, 2 * sizeof(customer));
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().json_path() == "$.data[0].metadata");
}

BOOST_AUTO_TEST_CASE(duplicate_member_names_last_one_wins) {
  // As JSON.parse and the providers' SDKs read them, so that intg and the provider agree.
  auto r = rest::decode_body<customer>(R"({"id":"first","metadata":{},"id":"second"})");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->id == "second");
}

BOOST_AUTO_TEST_CASE(raw_members_outlive_the_document_and_its_memory_resource) {
  std::optional<with_raw> kept;
  {
    auto arena = std::make_unique<json::monotonic_resource>();
    const json::value doc = json::parse(
        R"({"raw":{"a":[1,2,{"b":"a string long enough to be allocated"}]},"obj":{"k":"v"}})", arena.get());
    auto r = rest::decode<with_raw>(doc);
    BOOST_REQUIRE(r);
    kept = std::move(*r);
  }  // the document and its arena are gone: ASan would see a raw member still pointing there
  std::vector<std::string> churn(64, std::string(200, 'z'));
  BOOST_TEST(json::serialize(kept->raw) == R"({"a":[1,2,{"b":"a string long enough to be allocated"}]})");
  BOOST_TEST(kept->obj->at("k") == "v");
  BOOST_TEST((kept->raw.storage() == json::storage_ptr()));
}

BOOST_AUTO_TEST_CASE(answer_arena_reuses_its_first_block_and_grows_past_it) {
  static_assert(json::is_deallocate_trivial<rest::detail::answer_arena>::value);
  void* first = nullptr;
  {
    rest::detail::answer_arena a;
    first = a.allocate(64);
  }
  {
    rest::detail::answer_arena b;  // the same thread's next answer starts in the same warm block
    BOOST_TEST(b.allocate(64) == first);
    // Past the first block it grows onto the heap; a tree larger than the block is whole.
    std::string text = "[";
    for (int i = 0; i < 5000; ++i) text += (i ? "," : "") + std::string(R"({"k":"a value longer than the small-string buffer"})");
    text += "]";
    const json::value big = json::parse(text, &b);
    BOOST_TEST(big.as_array().size() == 5000u);
    BOOST_TEST(big.as_array().back().at("k") == "a value longer than the small-string buffer");
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---- encoding ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(rest_models_encode)

BOOST_AUTO_TEST_CASE(empty_optionals_are_omitted_and_enums_written_by_name) {
  customer c;
  c.id = "cus_1";
  c.metadata["order_id"] = "42";
  BOOST_TEST(json::serialize(rest::encode(c)) == R"({"id":"cus_1","metadata":{"order_id":"42"}})");
  c.email = "a@example.com";
  c.address = postal_address{"Paris", std::nullopt};
  BOOST_TEST(json::serialize(rest::encode(c)) ==
             R"({"id":"cus_1","email":"a@example.com","address":{"city":"Paris"},"metadata":{"order_id":"42"}})");
  BOOST_TEST(json::serialize(rest::encode(keyword::default_)) == R"("default")");
  BOOST_TEST(json::serialize(rest::encode(static_cast<interval>(9))) == "9");  // outside the described names
  std::vector<std::optional<int>> v{1, std::nullopt};
  BOOST_TEST(json::serialize(rest::encode(v)) == "[1,null]");  // inside arrays, null keeps the place
}

BOOST_AUTO_TEST_CASE(json_keys_name_members_whose_keys_are_not_cpp_names) {
  auto r = rest::decode_body<odd_keys>(R"({"#text":"https://img","@odata.nextLink":"/next","plain":3,"text":"not me"})");
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  BOOST_TEST(r->text == "https://img");  // "#text", not the member's own name
  BOOST_TEST(*r->next_link == "/next");
  BOOST_TEST(*r->plain == 3);
  BOOST_TEST(json::serialize(rest::encode(*r)) == R"({"#text":"https://img","@odata.nextLink":"/next","plain":3})");
  auto missing = rest::decode_body<odd_keys>(R"({"text":"x"})");
  BOOST_REQUIRE(!missing);
  BOOST_TEST(missing.error().json_path() == R"($["#text"])");  // the error names the JSON key
  intg::http::query q;
  rest::append_form(q, *r);
  BOOST_TEST(q.str() == "%23text=https%3A%2F%2Fimg&%40odata.nextLink=%2Fnext&plain=3");
}

BOOST_AUTO_TEST_CASE(round_trips) {
  auto r = rest::decode_body<subscription>(full_subscription);
  BOOST_REQUIRE(r);
  const json::value once = rest::encode(*r);
  BOOST_TEST(once.as_object().at("status") == "past_due");
  BOOST_TEST(once.as_object().at("explicit") == true);
  BOOST_TEST(!once.as_object().contains("added_by_the_provider_next_year"));
  auto back = rest::decode<subscription>(once);
  BOOST_REQUIRE_MESSAGE(back, (back ? "" : back.error().to_string()));
  BOOST_TEST((*back == *r));
  BOOST_TEST(json::serialize(rest::encode(*back)) == json::serialize(once));

  page<customer> p;
  p.has_more = true;
  p.data.push_back(customer{"cus_1", "x@y.z", postal_address{"Lyon", "2 quai"}, {{"k", "v"}}});
  p.data.push_back(customer{"cus_2", std::nullopt, std::nullopt, {}});
  auto pb = rest::decode_body<page<customer>>(json::serialize(rest::encode(p)));
  BOOST_REQUIRE(pb);
  BOOST_TEST((*pb == p));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- Boost.JSON's own entry points -------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(rest_models_value_to)

BOOST_AUTO_TEST_CASE(the_opt_in_wins_over_boost_json_described_class_conversion) {
  // Unknown member and absent optional: Boost.JSON 1.81's built-in conversion refuses both...
  const json::value v = json::parse(R"({"city":"Paris","zip":"75001"})");
  BOOST_TEST(!json::try_value_to<strict::address>(v).has_value());
  BOOST_CHECK_THROW((void)json::value_to<strict::address>(v), std::exception);
  // ...the namespace that wrote INTG_REST_MODELS() gets intg::rest's rules.
  auto a = json::try_value_to<postal_address>(v);
  BOOST_REQUIRE(a.has_value());
  BOOST_TEST(a->city == "Paris");
  BOOST_TEST(!a->line1);
  BOOST_TEST(json::value_to<postal_address>(v).city == "Paris");
  // Nested inside standard containers, through Boost.JSON's own container conversions.
  auto list = json::value_to<std::vector<postal_address>>(json::parse(R"([{"city":"A","x":1},{"city":"B"}])"));
  BOOST_TEST(list.size() == 2u);
  BOOST_TEST((json::value_to<status>(json::value("later")) == status::unknown));
  // value_from omits empty optionals (the built-in writes null).
  BOOST_TEST(json::serialize(json::value_from(postal_address{"Paris", std::nullopt})) == R"({"city":"Paris"})");
  BOOST_TEST(json::serialize(json::value_from(strict::address{"Paris", std::nullopt})) ==
             R"({"city":"Paris","line1":null})");
}

BOOST_AUTO_TEST_CASE(errors_through_value_to_and_try_value_to) {
  const json::value v = json::parse(R"({"id":"a","metadata":{"k":1}})");
  try {
    (void)json::value_to<customer>(v);
    BOOST_FAIL("value_to should throw");
  } catch (const intg::exception& e) {
    BOOST_TEST((e.error() == errc::invalid_response));
    BOOST_TEST(e.error().json_path() == "$.metadata.k");
  }
  auto r = json::try_value_to<customer>(v);
  BOOST_REQUIRE(r.has_error());
  BOOST_TEST((r.error() == intg::make_error_code(errc::invalid_response)));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- forms and query strings -------------------------------------------------------------------

struct create_checkout {
  std::string customer;
  std::vector<line_item> line_items;
  std::map<std::string, std::string> metadata;
  std::vector<std::string> expand;
  std::optional<std::string> coupon;
  std::optional<bool> allow_promotion_codes;
  bool livemode = false;
  double tax_rate = 0.2;
  interval every = interval::month;
  std::optional<postal_address> billing;
  json::value extra;
};
BOOST_DESCRIBE_STRUCT(create_checkout, (),
                      (customer, line_items, metadata, expand, coupon, allow_promotion_codes, livemode, tax_rate,
                       every, billing, extra))

struct list_params {
  std::optional<std::int32_t> limit;
  std::optional<std::string> starting_after;
  std::optional<interval> every;
  std::vector<std::string> ids;
  bool include_total = false;
};
BOOST_DESCRIBE_STRUCT(list_params, (), (limit, starting_after, every, ids, include_total))

using pairs = std::vector<std::pair<std::string, std::string>>;

pairs decoded(const intg::http::query& q) {
  auto p = intg::http::query::parse(q.str());
  BOOST_REQUIRE(p);
  return *p;
}

BOOST_AUTO_TEST_SUITE(rest_models_form)

BOOST_AUTO_TEST_CASE(stripe_style_nested_keys) {
  create_checkout c;
  c.customer = "cus_1";
  c.line_items = {{"price_a", 2}, {"price_b", 1}};
  c.metadata = {{"order_id", "6735"}, {"note", "a&b=c d"}};
  c.expand = {"customer", "payment_intent"};
  c.allow_promotion_codes = true;
  c.billing = postal_address{"Paris", std::nullopt};
  c.extra = json::parse(R"({"k":[null,1.5,{"z":false}]})");
  intg::http::query q;
  rest::append_form(q, c);
  const pairs want{
      {"customer", "cus_1"},
      {"line_items[0][price]", "price_a"},
      {"line_items[0][quantity]", "2"},
      {"line_items[1][price]", "price_b"},
      {"line_items[1][quantity]", "1"},
      {"metadata[note]", "a&b=c d"},
      {"metadata[order_id]", "6735"},
      {"expand[0]", "customer"},
      {"expand[1]", "payment_intent"},
      {"allow_promotion_codes", "true"},
      {"livemode", "false"},
      {"tax_rate", "0.2"},
      {"every", "month"},
      {"billing[city]", "Paris"},
      {"extra[k][0]", ""},
      {"extra[k][1]", "1.5"},
      {"extra[k][2][z]", "false"},
  };
  BOOST_TEST((decoded(q) == want));
  // Brackets are percent-encoded on the wire, as Stripe's own SDK sends them.
  BOOST_TEST(q.str().starts_with("customer=cus_1&line_items%5B0%5D%5Bprice%5D=price_a&"));
  BOOST_TEST(q.str().find("metadata%5Bnote%5D=a%26b%3Dc%20d") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(empty_optionals_vectors_and_maps_add_nothing) {
  create_checkout c;
  c.customer = "cus_1";
  c.extra = json::object{};
  intg::http::query q;
  rest::append_form(q, c);
  const pairs want{{"customer", "cus_1"}, {"livemode", "false"}, {"tax_rate", "0.2"}, {"every", "month"}};
  BOOST_TEST((decoded(q) == want));
}

BOOST_AUTO_TEST_CASE(flat_query_parameters) {
  list_params p;
  p.limit = 10;
  p.every = interval::week;
  p.ids = {"a", "b"};
  intg::http::query q;
  q.add("existing", "1");
  rest::append_query(q, p);
  const pairs want{{"existing", "1"}, {"limit", "10"}, {"every", "week"}, {"ids[0]", "a"}, {"ids[1]", "b"},
                   {"include_total", "false"}};
  BOOST_TEST((decoded(q) == want));
  // rest::append_query(q, create_checkout{}) does not compile: nested structs, maps and raw JSON
  // are refused by a static_assert that names append_form.
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace rest_models_tests
