// The registry (tenants, lifecycle, health monitor, events) and the configuration loader.
#define BOOST_TEST_MODULE intg_registry
#include <boost/test/unit_test.hpp>

#include "test_util.hpp"

#include <intg/observability/health_server.hpp>

#include <algorithm>
#include <map>
#include <sstream>

using namespace std::chrono_literals;
namespace asio = boost::asio;
using intg::errc;
using intg::integration_status;

namespace {

// A controllable integration: its initialize() and health_check() outcomes are set by the test.
struct probe {
  intg::integration_config config;
  intg::registry_services services;
  struct control {
    bool init_ok = true;
    bool init_hangs = false;
    integration_status health = integration_status::healthy;
    int inits = 0, checks = 0, cleanups = 0;
  };
  std::shared_ptr<control> ctl = std::make_shared<control>();

  probe(intg::integration_config c, intg::registry_services& s) : config(std::move(c)), services(s) {}
  std::string_view name() const noexcept { return config.name; }
  asio::awaitable<intg::result<void>> initialize() {
    ++ctl->inits;
    if (ctl->init_hangs) {
      asio::steady_timer t(co_await asio::this_coro::executor, 1h);
      co_await t.async_wait(asio::use_awaitable);
    }
    if (!ctl->init_ok) co_return intg::error{errc::unauthorized, "bad credentials"};
    co_return intg::result<void>{};
  }
  asio::awaitable<intg::health_report> health_check() {
    ++ctl->checks;
    intg::health_report r;
    r.status = ctl->health;
    co_return r;
  }
  asio::awaitable<void> cleanup() {
    ++ctl->cleanups;
    co_return;
  }
};
static_assert(intg::integration<probe>);

struct other_type {
  explicit other_type(intg::integration_config) {}
  static constexpr std::string_view category() noexcept { return "payment"; }  // as a provider declares it
  std::string_view name() const noexcept { return "other"; }
  asio::awaitable<intg::result<void>> initialize() { co_return intg::result<void>{}; }
  asio::awaitable<intg::health_report> health_check() { co_return intg::health_report{}; }
  asio::awaitable<void> cleanup() { co_return; }
};

intg::integration_config cfg(std::string name, std::string_view category = intg::categories::external_api) {
  intg::integration_config c;
  c.name = std::move(name);
  c.category = category;
  c.health_check_interval = 1s;
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(registry)

BOOST_AUTO_TEST_CASE(tenants_are_isolated_and_get_checks_the_type) {
  asio::io_context io;
  intg::registry reg{io.get_executor()};
  auto& a = reg.register_integration<probe>(cfg("spotify_main"), "tenant_a");
  reg.register_integration<probe>(cfg("spotify_main"), "tenant_b");
  test::run(io, [&]() -> asio::awaitable<void> { co_await reg.enable_all(); }());
  BOOST_TEST(reg.get<probe>("spotify_main", "tenant_a") == &a);
  BOOST_TEST(reg.get<probe>("spotify_main", "tenant_b") != &a);
  BOOST_TEST(reg.get<probe>("spotify_main", "tenant_c") == nullptr);
  BOOST_TEST(reg.get<other_type>("spotify_main", "tenant_a") == nullptr);
  BOOST_TEST(reg.get<probe>("unknown", "tenant_a") == nullptr);
  BOOST_CHECK_THROW(reg.register_integration<probe>(cfg("spotify_main"), "tenant_a"), intg::exception);
  BOOST_TEST(a.config.tenant == "tenant_a");
}

BOOST_AUTO_TEST_CASE(get_refuses_an_integration_that_was_registered_but_never_enabled) {
  asio::io_context io;
  intg::registry reg{io.get_executor()};
  auto& a = reg.register_integration<probe>(cfg("spotify_main"), "tenant_a");
  try {
    (void)reg.get<probe>("spotify_main", "tenant_a");
    BOOST_ERROR("get() returned an integration whose initialize() never ran");
  } catch (const intg::exception& e) {
    BOOST_TEST((e.error() == errc::not_initialized));
    BOOST_TEST(e.error().message() ==
               "integration 'spotify_main' (tenant 'tenant_a') is registered but not enabled: co_await "
               "registry.enable_all() or enable(name, tenant) first");
  }
  BOOST_TEST(reg.get<other_type>("spotify_main", "tenant_a") == nullptr);  // another type: still nullptr
  test::run(io, [&]() -> asio::awaitable<void> { co_await reg.enable_all(); }());
  BOOST_TEST(reg.get<probe>("spotify_main", "tenant_a") == &a);
  BOOST_TEST(a.ctl->inits == 1);
}

BOOST_AUTO_TEST_CASE(enable_all_initializes_concurrently_and_one_failure_does_not_stop_the_others) {
  asio::io_context io;
  std::vector<std::string> events;
  intg::registry_options o;
  o.initialize_timeout = 200ms;
  o.events = [&](const intg::event& e) { events.push_back(intg::format(e)); };
  intg::registry reg{io.get_executor(), o};
  auto& good = reg.register_integration<probe>(cfg("good"), "t");
  auto& bad = reg.register_integration<probe>(cfg("bad"), "t");
  auto& slow = reg.register_integration<probe>(cfg("slow"), "t");
  auto disabled_cfg = cfg("off");
  disabled_cfg.enabled = false;
  auto& off = reg.register_integration<probe>(disabled_cfg, "t");
  bad.ctl->init_ok = false;
  slow.ctl->init_hangs = true;
  const auto t0 = std::chrono::steady_clock::now();
  test::run(io, [&]() -> asio::awaitable<void> { co_await reg.enable_all(); }());
  BOOST_TEST((std::chrono::steady_clock::now() - t0 < 5s));
  // Initialized but not checked yet: unknown, not healthy.
  BOOST_TEST((reg.status("good", "t") == integration_status::unknown));
  BOOST_TEST((reg.status("bad", "t") == integration_status::failed));
  BOOST_TEST((reg.status("slow", "t") == integration_status::failed));
  BOOST_TEST((reg.status("off", "t") == integration_status::disabled));
  BOOST_TEST(good.ctl->inits == 1);
  BOOST_TEST(off.ctl->inits == 0);
  bool saw_failure = false;
  for (auto& e : events) saw_failure |= e.find("integration=bad") != std::string::npos && e.find("to=failed") != std::string::npos;
  BOOST_TEST(saw_failure);
}

BOOST_AUTO_TEST_CASE(health_checks_move_statuses_and_disable_all_cleans_up) {
  asio::io_context io;
  intg::registry_options o;
  o.unhealthy_after = 2;
  intg::registry reg{io.get_executor(), o};
  auto& p = reg.register_integration<probe>(cfg("p"), "t");
  test::run(io, [&]() -> asio::awaitable<void> {
    co_await reg.enable_all();
    p.ctl->health = integration_status::unhealthy;
    auto s1 = co_await reg.health_check_all();
    BOOST_TEST((s1.at(0).status == integration_status::degraded));
    auto s2 = co_await reg.health_check_all();
    BOOST_TEST((s2.at(0).status == integration_status::unhealthy));
    BOOST_TEST(s2.at(0).failed_checks == 2u);
    p.ctl->health = integration_status::healthy;
    auto one = co_await reg.health_check("p", "t");
    BOOST_TEST((one.value().status == integration_status::healthy));
    auto missing = co_await reg.health_check("p", "other_tenant");
    BOOST_TEST((missing.error() == errc::not_found));
    co_await reg.disable_all();
  }());
  BOOST_TEST(p.ctl->cleanups == 1);
  BOOST_TEST((reg.status("p", "t") == integration_status::disabled));
}

BOOST_AUTO_TEST_CASE(the_monitor_checks_at_each_integrations_interval_on_the_manual_clock) {
  asio::io_context io;
  intg::manual_clock clock;
  intg::basic_registry<intg::manual_clock> reg{io.get_executor(), {}, clock};
  auto fast_cfg = cfg("fast");
  fast_cfg.health_check_interval = 1s;
  auto slow_cfg = cfg("slow");
  slow_cfg.health_check_interval = 5s;
  auto& fast = reg.register_integration<probe>(fast_cfg, "t");
  auto& slow = reg.register_integration<probe>(slow_cfg, "t");
  // Coroutine lambdas are kept in variables: a temporary closure would die before its coroutine.
  auto enable = [&]() -> asio::awaitable<int> {
    co_await reg.enable_all();
    co_return 0;
  };
  test::start(io, enable());
  io.poll();
  reg.start_monitor();
  io.restart();
  io.poll();
  for (int i = 0; i < 10; ++i) {
    clock.advance(1s);
    io.restart();
    io.poll();
  }
  BOOST_TEST(fast.ctl->checks == 10);
  BOOST_TEST(slow.ctl->checks == 2);
  BOOST_TEST(reg.running_monitors() == 2u);
  auto stop = [&]() -> asio::awaitable<int> {
    co_await reg.shutdown();
    co_return 1;
  };
  auto done = test::start(io, stop());
  io.restart();
  io.poll();
  BOOST_TEST(done->has_value());
  BOOST_TEST(reg.running_monitors() == 0u);
  BOOST_TEST(fast.ctl->cleanups == 1);
}

BOOST_AUTO_TEST_CASE(a_disabled_integration_stays_disabled_and_is_not_checked) {
  asio::io_context io;
  intg::registry reg{io.get_executor()};
  auto ctl = reg.register_integration<probe>(cfg("p"), "t").ctl;
  BOOST_TEST(!reg.status("p", "nobody").has_value());
  test::run(io, [&]() -> asio::awaitable<void> {
    co_await reg.enable_all();
    co_await reg.enable_all();  // already running: not initialized twice
    BOOST_TEST(ctl->inits == 1);
    (void)co_await reg.disable("p", "t");
    co_await reg.enable_all();
    auto h = co_await reg.health_check("p", "t");
    BOOST_TEST((h.error() == errc::disabled));
  }());
  BOOST_TEST(ctl->inits == 1);
  BOOST_TEST(ctl->checks == 0);
  BOOST_TEST((reg.status("p", "t") == integration_status::disabled));
}

BOOST_AUTO_TEST_CASE(a_failed_integration_is_not_checked_and_enable_all_retries_it) {
  asio::io_context io;
  intg::registry reg{io.get_executor()};
  auto ctl = reg.register_integration<probe>(cfg("p"), "t").ctl;
  ctl->init_ok = false;
  test::run(io, [&]() -> asio::awaitable<void> {
    co_await reg.enable_all();
    auto h = co_await reg.health_check("p", "t");
    BOOST_TEST((h.error() == errc::not_initialized));
    ctl->init_ok = true;
    co_await reg.enable_all();  // failed integrations are initialized again
  }());
  BOOST_TEST(ctl->inits == 2);
  BOOST_TEST(ctl->checks == 0);
  BOOST_TEST((reg.status("p", "t") == integration_status::unknown));
}

BOOST_AUTO_TEST_CASE(the_dashboard_shows_totals_rates_and_a_bar_per_category) {
  std::vector<intg::integration_snapshot> s(3);
  s[0].category = s[1].category = intg::categories::external_api;
  s[0].status = integration_status::healthy;
  s[1].status = integration_status::degraded;
  s[2].category = intg::categories::monitoring;
  s[2].status = integration_status::healthy;
  const std::string d = intg::render_dashboard(s, {200, 150, std::chrono::microseconds(200 * 12'000)});
  BOOST_TEST(d.find("Total Intégrations: 3 ") != std::string::npos, d);
  BOOST_TEST(d.find("Saines: 2 ") != std::string::npos, d);
  BOOST_TEST(d.find("Dégradées: 1") != std::string::npos, d);
  BOOST_TEST(d.find("Taux Succès: 75.0%") != std::string::npos, d);
  BOOST_TEST(d.find("Temps Moy: 12ms") != std::string::npos, d);
  BOOST_TEST(d.find("APIs Externes") != std::string::npos);
  BOOST_TEST(d.find(" 50%") != std::string::npos);
  BOOST_TEST(d.find("Surveillance") != std::string::npos);
  BOOST_TEST(d.find("Services Cloud") == std::string::npos);  // no integrations of that category
  // Every framed line has the same display width.
  std::size_t width = 0;
  std::istringstream lines(d);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("║", 0) != 0) continue;
    const std::size_t w = intg::detail::columns(line);
    if (!width) width = w;
    BOOST_TEST(w == width, line);
  }
  BOOST_TEST(width == 64u);
}

BOOST_AUTO_TEST_CASE(the_dashboard_groups_by_the_categories_present_predefined_first_then_sorted) {
  std::vector<intg::integration_snapshot> s(6);
  const char* cats[] = {"zeta_crm", "music", "payment", "erp", "external_api", "a_very_long_category_name_for_the_column"};
  for (std::size_t i = 0; i < s.size(); ++i) {
    s[i].category = cats[i];
    s[i].status = integration_status::healthy;
  }
  s[1].status = integration_status::unhealthy;  // music at 0%
  const std::string d = intg::render_dashboard(s);
  auto at = [&](std::string_view x) { return d.find(x); };
  const auto none = std::string::npos;
  // Predefined ones in their fixed order with French labels, then the others sorted, by name.
  BOOST_TEST(at("APIs Externes") != none);
  BOOST_TEST(at("Paiement") != none);
  BOOST_TEST(at("Musique") != none);
  BOOST_TEST(at("erp") != none);
  BOOST_TEST(at("zeta_crm") != none);
  BOOST_TEST(at("APIs Externes") < at("Paiement"));
  BOOST_TEST(at("Paiement") < at("Musique"));
  BOOST_TEST(at("Musique") < at("a_very_long_cate"));
  BOOST_TEST(at("a_very_long_cate") < at("erp"));
  BOOST_TEST(at("erp") < at("zeta_crm"));
  BOOST_TEST(at("a_very_long_category_name_for_the_column") == none);  // cut to the label column
  BOOST_TEST(at("Surveillance") == none);                             // no integrations of that category
  BOOST_TEST(intg::category_label("music") == "Musique");
  BOOST_TEST(intg::category_label("erp") == "erp");
  // Every framed line still has the same display width.
  std::istringstream lines(d);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("║", 0) == 0) BOOST_TEST(intg::detail::columns(line) == 64u, line);
}

BOOST_AUTO_TEST_CASE(categories_are_open_and_snapshots_carry_them) {
  asio::io_context io;
  intg::registry reg{io.get_executor()};
  reg.register_integration<probe>(cfg("stripe", intg::categories::payment), "t");
  reg.register_integration<probe>(cfg("erp_sync", "erp"), "t");
  std::vector<std::string> seen;
  for (const auto& snap : reg.snapshot()) seen.push_back(snap.name + ":" + snap.category);
  std::sort(seen.begin(), seen.end());
  BOOST_TEST(seen == (std::vector<std::string>{"erp_sync:erp", "stripe:payment"}), boost::test_tools::per_element());
  // A category is 1 to 64 characters of [a-z0-9_-].
  BOOST_TEST(intg::is_valid_category("data-lake_2"));
  BOOST_TEST(intg::is_valid_category(std::string(64, 'a')));
  BOOST_TEST(!intg::is_valid_category(""));
  BOOST_TEST(!intg::is_valid_category(std::string(65, 'a')));
  BOOST_TEST(!intg::is_valid_category("Music"));
  BOOST_TEST(!intg::is_valid_category("mu sic"));
  BOOST_CHECK_THROW(reg.register_integration<probe>(cfg("bad", "Bad Category"), "t"), intg::exception);
  // The health server reports the category, and under its 0.1 key "type" too.
  for (const auto& snap : reg.snapshot()) {
    const auto o = intg::detail::integration_json(snap, false);
    BOOST_TEST(o.at("category").as_string() == snap.category);
    BOOST_TEST(o.at("type").as_string() == snap.category);
  }
  // The predefined names are the seed's seven plus the provider families.
  BOOST_TEST(std::size(intg::categories::predefined) == 12u);
  for (const auto& p : intg::categories::predefined) BOOST_TEST(intg::is_valid_category(p.name));
}

BOOST_AUTO_TEST_CASE(unregister_cleans_up_and_removes) {
  asio::io_context io;
  intg::registry reg{io.get_executor()};
  auto ctl = reg.register_integration<probe>(cfg("p"), "t").ctl;
  test::run(io, [&]() -> asio::awaitable<void> {
    co_await reg.enable_all();
    auto r = co_await reg.unregister("p", "t");
    BOOST_TEST(r.has_value());
  }());
  BOOST_TEST(ctl->cleanups == 1);
  BOOST_TEST(reg.get<probe>("p", "t") == nullptr);
  BOOST_TEST(reg.size() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(configuration)

const char* const sample = R"({
  "environments": {
    "production": { "integrations": {
      "spotify": { "type": "external_api", "timeout": 30, "health_check_interval": "15s",
        "settings": { "client_id": "abc", "client_secret": "${env:TEST_SECRET}" },
        "retry_policy": { "max_attempts": 3, "backoff_multiplier": 2.0, "base_delay": "250ms", "jitter": "decorrelated" },
        "rate_limits": { "requests_per_minute": 100, "burst_limit": 20 },
        "circuit_breaker": { "failure_threshold": 5, "recovery_timeout": 60 } } } },
    "development": { "integrations": {
      "spotify": { "type": "external_api", "rate_limits": { "requests_per_minute": 10, "burst_limit": 5 } } } }
  },
  "tenants": {
    "client_entreprise": { "rate_limits": { "requests_per_minute": 1000 }, "features": ["premium_apis", "advanced_analytics"],
      "sla": "99.9%", "integrations": { "spotify": { "circuit_breaker": { "failure_threshold": 10 } } } },
    "client_startup": { "rate_limits": { "requests_per_minute": 100 }, "features": ["basic_apis"], "sla": "99.0%" }
  }
})";

intg::env_lookup fake_env = [](std::string_view n) -> std::optional<std::string> {
  if (n == "TEST_SECRET") return std::string("s3cr3t");
  return std::nullopt;
};

BOOST_AUTO_TEST_CASE(environments_tenants_and_units_are_applied) {
  auto c = intg::config::parse(sample, "production", fake_env);
  auto base = c.integration("spotify");
  BOOST_TEST((base.timeout == 30s));
  BOOST_TEST((base.health_check_interval == 15s));
  BOOST_TEST((base.retry.base_delay == 250ms));
  BOOST_TEST((base.retry.jitter == intg::jitter::decorrelated));
  BOOST_TEST((base.circuit_breaker.recovery_timeout == 60s));
  BOOST_TEST(base.rate_limits.requests_per_minute == 100);
  BOOST_TEST(base.setting("client_secret") == "s3cr3t");
  BOOST_TEST(base.redacted_settings().at("client_secret").as_string() == "***");
  BOOST_TEST(base.redacted_settings().at("client_id").as_string() == "abc");
  auto ent = c.integration("spotify", "client_entreprise");
  BOOST_TEST(ent.tenant == "client_entreprise");
  BOOST_TEST(ent.rate_limits.requests_per_minute == 1000);
  BOOST_TEST(ent.circuit_breaker.failure_threshold == 10);
  BOOST_TEST(c.integration("spotify", "client_startup").rate_limits.requests_per_minute == 100);
  BOOST_TEST(c.tenant("client_entreprise")->has_feature("premium_apis"));
  BOOST_TEST(c.tenant("client_startup")->sla == "99.0%");
  auto dev = intg::config::parse(sample, "development", fake_env).integration("spotify");
  BOOST_TEST(dev.rate_limits.requests_per_minute == 10);
  BOOST_TEST(dev.rate_limits.burst_limit == 5);
}

void expect_config_error(const std::string& text, std::string_view path_fragment, std::string_view message_fragment) {
  try {
    (void)intg::config::parse(text, "production", fake_env);
    BOOST_ERROR("no error for: " << text);
  } catch (const intg::exception& e) {
    BOOST_TEST((e.error() == errc::config_error));
    BOOST_TEST(e.error().json_path().find(path_fragment) != std::string_view::npos, e.error().to_string());
    BOOST_TEST(e.error().message().find(message_fragment) != std::string_view::npos, e.error().to_string());
  }
}

std::string with_integration(const std::string& body) {
  return R"({"environments":{"production":{"integrations":{"x":)" + body + "}}}}";
}

BOOST_AUTO_TEST_CASE(breaker_window_slow_calls_retry_budget_and_bulkhead_load_from_config) {
  auto c = intg::config::parse(with_integration(R"({
      "retry_policy": { "budget_ratio": 0.5, "budget_min_per_second": 3, "budget_window": "20s" },
      "circuit_breaker": { "window": "time", "failure_rate_threshold": 0.25, "window_size": 50, "window_duration": "30s",
                           "minimum_calls": 7, "slow_call_duration": "2s", "slow_call_rate_threshold": 0.75 },
      "bulkhead": { "max_concurrent": 8, "max_queue": 16, "queue_timeout": "250ms" } })"),
                               "production", fake_env);
  const auto x = c.integration("x");
  const auto b = intg::circuit_breaker<>::options_from_config(x);
  BOOST_TEST((b.window == intg::breaker_window::time));
  BOOST_TEST(b.failure_rate_threshold == 0.25);
  BOOST_TEST(b.window_size == 50);
  BOOST_TEST((b.window_duration == 30s));
  BOOST_TEST(b.minimum_calls == 7);
  BOOST_TEST((b.slow_call_duration == 2s));
  BOOST_TEST(b.slow_call_rate_threshold == 0.75);
  const auto r = intg::retry<>::options_from_config(x);
  BOOST_TEST(r.budget_ratio == 0.5);
  BOOST_TEST(r.budget_min_per_second == 3);
  BOOST_TEST((r.budget_window == 20s));
  const auto h = intg::bulkhead<>::options_from_config(x);
  BOOST_TEST(h.max_concurrent == 8);
  BOOST_TEST(h.max_queue == 16);
  BOOST_TEST((h.queue_timeout == 250ms));
  // A pipeline built from the configuration uses them.
  intg::pipeline<intg::retry<>, intg::circuit_breaker<>, intg::bulkhead<>> p{x};
  BOOST_TEST(p.get<intg::circuit_breaker<>>().get_options().minimum_calls == 7);
  BOOST_TEST(p.get<intg::bulkhead<>>().get_options().max_queue == 16);
  BOOST_TEST(p.get<intg::retry<>>().get_options().budget_min_per_second == 3);

  expect_config_error(with_integration(R"({"circuit_breaker":{"window":"sliding"}})"), "circuit_breaker.window", "expected");
  expect_config_error(with_integration(R"({"circuit_breaker":{"failure_rate_threshold":0}})"), "failure_rate_threshold",
                      "greater than 0");
  expect_config_error(with_integration(R"({"circuit_breaker":{"slow_call_rate_threshold":1.5}})"), "slow_call_rate_threshold",
                      "out of range");
  expect_config_error(with_integration(R"({"circuit_breaker":{"window_size":0}})"), "window_size", "out of range");
  expect_config_error(with_integration(R"({"circuit_breaker":{"window_duration":"1ms"}})"), "window_duration", "at least 10ms");
  expect_config_error(with_integration(R"({"circuit_breaker":{"minimum_calls":"7"}})"), "minimum_calls", "expected an integer");
  expect_config_error(with_integration(R"({"retry_policy":{"budget_ratio":-2}})"), "retry_policy.budget_ratio", "out of range");
  expect_config_error(with_integration(R"({"retry_policy":{"budget_window":0}})"), "budget_window", "at least 10ms");
  expect_config_error(with_integration(R"({"bulkhead":{"max_concurrent":0}})"), "bulkhead.max_concurrent", "out of range");
  expect_config_error(with_integration(R"({"bulkhead":{"max_queue":-1}})"), "bulkhead.max_queue", "out of range");
  expect_config_error(with_integration(R"({"bulkhead":{"queue":1}})"), "bulkhead.queue", "unknown key");
  expect_config_error(with_integration(R"({"rate_limits":{"requests_per_minute":"NaN"}})"), "requests_per_minute", "expected a number");
}

BOOST_AUTO_TEST_CASE(tenant_limits_override_only_the_keys_they_name) {
  auto c = intg::config::parse(R"({"environments":{
      "production":{"integrations":{"a":{"rate_limits":{"requests_per_minute":100,"burst_limit":7}}}},
      "staging":{"integrations":{"b":{}}}},
    "tenants":{"t":{"rate_limits":{"requests_per_minute":50},"integrations":{"b":{"enabled":false}}}}})",
                               "production", fake_env);
  auto a = c.integration("a", "t");
  BOOST_TEST(a.rate_limits.requests_per_minute == 50);
  BOOST_TEST(a.rate_limits.burst_limit == 7);  // kept from the integration
}

BOOST_AUTO_TEST_CASE(an_unstated_category_is_the_types_own_or_external_api) {
  asio::io_context io;
  intg::registry reg(io.get_executor());
  intg::integration_config plain, declared, stated;
  plain.name = "plain";
  declared.name = "declared";
  stated.name = "stated";
  stated.category = "erp";
  reg.register_integration<probe>(plain, "t");
  reg.register_integration<other_type>(declared, "t");
  reg.register_integration<other_type>(stated, "t");
  std::map<std::string, std::string> seen;
  for (const auto& s : reg.snapshot()) seen[s.name] = s.category;
  BOOST_TEST(seen["plain"] == "external_api");
  BOOST_TEST(seen["declared"] == "payment");
  BOOST_TEST(seen["stated"] == "erp");  // the configuration wins over the type
}

BOOST_AUTO_TEST_CASE(category_is_read_from_category_or_its_old_name_type) {
  auto c = intg::config::parse(R"({"environments":{"production":{"integrations":{
      "a":{"category":"payment"}, "b":{"type":"cloud_service"}, "c":{"category":"erp-sync"}, "d":{}}}},
    "tenants":{"t":{"integrations":{"a":{"type":"monitoring"}}}}})",
                               "production", fake_env);
  BOOST_TEST(c.integration("a").category == "payment");
  BOOST_TEST(c.integration("b").category == "cloud_service");  // the seven old values keep working
  BOOST_TEST(c.integration("c").category == "erp-sync");
  BOOST_TEST(c.integration("d").category.empty());  // unstated: the registry fills it in
  BOOST_TEST(c.integration("a", "t").category == "monitoring");              // a tenant may override it
  for (std::string_view old : {"external_api", "cloud_service", "communication", "authentication", "data_pipeline",
                               "security", "monitoring"}) {
    auto o = intg::config::parse(with_integration(R"({"type":")" + std::string(old) + R"("})"), "production", fake_env);
    BOOST_TEST(o.integration("x").category == old);
  }
}

BOOST_AUTO_TEST_CASE(settings_that_look_like_credentials_are_redacted_whatever_their_case) {
  intg::integration_config c;
  c.settings = {{"clientSecret", "x"}, {"API_KEY", "y"}, {"private-key", "z"}, {"region", "eu"}};
  auto r = c.redacted_settings();
  BOOST_TEST(r.at("clientSecret").as_string() == "***");
  BOOST_TEST(r.at("API_KEY").as_string() == "***");
  BOOST_TEST(r.at("private-key").as_string() == "***");
  BOOST_TEST(r.at("region").as_string() == "eu");
}

BOOST_AUTO_TEST_CASE(malformed_configuration_is_rejected_with_its_json_path) {
  expect_config_error("{", "$", "invalid JSON");
  expect_config_error("[]", "$", "expected an object");
  expect_config_error(R"({"environments":{}})", "$.environments", "no environment named");
  expect_config_error(with_integration(R"({"rate_limits":{"requests_per_minut":5}})"),
                      "$.environments.production.integrations.x.rate_limits.requests_per_minut", "unknown key");
  expect_config_error(with_integration(R"({"rate_limits":{"requests_per_minute":-5}})"), "requests_per_minute", "out of range");
  expect_config_error(with_integration(R"({"rate_limits":{"requests_per_minute":0}})"), "requests_per_minute", "greater than 0");
  expect_config_error(with_integration(R"({"rate_limits":{"burst_limit":"20"}})"), "burst_limit", "expected an integer");
  expect_config_error(with_integration(R"({"timeout":"30 parsecs"})"), "timeout", "invalid duration");
  expect_config_error(with_integration(R"({"timeout":-1})"), "timeout", "out of range");
  expect_config_error(with_integration(R"({"type":"Quantum!"})"), "integrations.x.type", "invalid category");
  expect_config_error(with_integration(R"({"category":""})"), "integrations.x.category", "invalid category");
  expect_config_error(with_integration(R"({"category":7})"), "integrations.x.category", "expected a string");
  expect_config_error(with_integration(R"({"category":"music","type":"music"})"), "integrations.x.type", "old name");
  expect_config_error(with_integration(R"({"enabled":"yes"})"), "enabled", "expected true or false");
  expect_config_error(with_integration(R"({"settings":{"k":"${env:MISSING_VAR}"}})"), "settings.k", "MISSING_VAR is not set");
  expect_config_error(with_integration(R"({"retry_policy":{"max_attempts":1.5}})"), "max_attempts", "expected an integer");
  expect_config_error(R"({"environments":{"production":{"integrations":{}}},"tenants":{"t":{"integrations":{"nope":{}}}}})",
                      "$.tenants.t.integrations.nope", "unknown integration");
  expect_config_error(R"({"environments":{"production":{}},"tenants":{"t":{"features":"all"}}})", "$.tenants.t.features",
                      "array of strings");
}

BOOST_AUTO_TEST_CASE(the_secret_value_never_appears_in_errors) {
  try {
    (void)intg::config::parse(with_integration(R"({"settings":{"k":"${env:TEST_SECRET}"},"timeout":"bad"})"), "production",
                              fake_env);
    BOOST_ERROR("expected an error");
  } catch (const intg::exception& e) {
    BOOST_TEST(std::string(e.what()).find("s3cr3t") == std::string::npos);
  }
  intg::secret s{"s3cr3t"};
  std::ostringstream os;
  os << s;
  BOOST_TEST(os.str() == "***");
  const intg::event_field fields[] = {{"client_secret", s}};
  BOOST_TEST(intg::format(intg::event{intg::event_level::info, "x", "", "", "", fields}).find("s3cr3t") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(load_config_reads_files_and_reports_missing_ones) {
  BOOST_CHECK_THROW(intg::load_config("/nonexistent/integrations.json", "production"), intg::exception);
  const auto path = std::filesystem::temp_directory_path() / "intg_test_config.json";
  {
    std::ofstream out(path);
    out << sample;
  }
  auto c = intg::load_config(path, "production", fake_env);
  BOOST_TEST(c.has_integration("spotify"));
  std::filesystem::remove(path);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(metrics)

namespace obs = intg::observability;

BOOST_AUTO_TEST_CASE(the_prometheus_exposition_follows_the_text_format) {
  obs::metrics_registry m;
  auto& calls = m.add_counter("intg_calls_total", "Calls made.\nBy outcome \\ tenant.", {"integration", "outcome"});
  calls.with({"spotify", "ok"}).inc(3);
  calls.with({"spo\"tify\n\\x", "error"}).inc();
  auto& up = m.add_gauge("intg_up", "1 when healthy.");
  up.get().set(1);
  auto& lat = m.add_histogram("intg_latency_seconds", "Call latency.", {"integration"}, {0.1, 0.5});
  lat.with({"spotify"}).observe(0.05);
  lat.with({"spotify"}).observe(0.1);  // le is inclusive
  lat.with({"spotify"}).observe(3);
  const std::string expected =
      "# HELP intg_calls_total Calls made.\\nBy outcome \\\\ tenant.\n"
      "# TYPE intg_calls_total counter\n"
      "intg_calls_total{integration=\"spo\\\"tify\\n\\\\x\",outcome=\"error\"} 1\n"
      "intg_calls_total{integration=\"spotify\",outcome=\"ok\"} 3\n"
      "# HELP intg_up 1 when healthy.\n"
      "# TYPE intg_up gauge\n"
      "intg_up 1\n"
      "# HELP intg_latency_seconds Call latency.\n"
      "# TYPE intg_latency_seconds histogram\n"
      "intg_latency_seconds_bucket{integration=\"spotify\",le=\"0.1\"} 2\n"
      "intg_latency_seconds_bucket{integration=\"spotify\",le=\"0.5\"} 2\n"
      "intg_latency_seconds_bucket{integration=\"spotify\",le=\"+Inf\"} 3\n"
      "intg_latency_seconds_sum{integration=\"spotify\"} 3.15\n"
      "intg_latency_seconds_count{integration=\"spotify\"} 3\n";
  BOOST_TEST(m.render_prometheus() == expected);
}

BOOST_AUTO_TEST_CASE(special_values_and_bad_names_are_handled) {
  obs::metrics_registry m;
  auto& g = m.add_gauge("g", "x", {"k"});
  g.with({"nan"}).set(std::numeric_limits<double>::quiet_NaN());
  g.with({"pinf"}).set(std::numeric_limits<double>::infinity());
  g.with({"ninf"}).set(-std::numeric_limits<double>::infinity());
  const auto text = m.render_prometheus();
  BOOST_TEST(text.find("g{k=\"nan\"} NaN\n") != std::string::npos);
  BOOST_TEST(text.find("g{k=\"pinf\"} +Inf\n") != std::string::npos);
  BOOST_TEST(text.find("g{k=\"ninf\"} -Inf\n") != std::string::npos);
  BOOST_CHECK_THROW(m.add_counter("9bad", "x"), intg::exception);
  BOOST_CHECK_THROW(m.add_counter("ok_name", "x", {"__reserved"}), intg::exception);
  BOOST_CHECK_THROW(m.add_counter("ok_name2", "x", {"a", "a"}), intg::exception);
  BOOST_CHECK_THROW(m.add_gauge("g", "again"), intg::exception);
  BOOST_CHECK_THROW(m.add_histogram("h", "x", {}, {1, 1}), intg::exception);
  BOOST_CHECK_THROW(g.with({"a", "b"}), intg::exception);
  auto& c = m.add_counter("c_total", "x");
  c.get().inc(-5);  // a counter never decreases
  BOOST_TEST(c.get().value() == 0);
}

BOOST_AUTO_TEST_CASE(children_are_shared_and_stable) {
  obs::metrics_registry m;
  auto& f = m.add_counter("x_total", "x", {"tenant"});
  auto& a = f.with({"a"});
  // Not "t" + std::to_string(i): at -O2 g++ 12 reports a false -Wrestrict inside that operator+
  // (its std::string::insert; a known GCC 12 bug).
  for (int i = 0; i < 100; ++i) f.with({std::string("t").append(std::to_string(i))}).inc();
  a.inc(2);
  BOOST_TEST(&f.with({"a"}) == &a);
  BOOST_TEST(f.with({"a"}).value() == 2);
}

BOOST_AUTO_TEST_SUITE_END()
