// Errors, clocks, trace context and every policy, driven by intg::manual_clock (no sleeping).
#define BOOST_TEST_MODULE intg_policies
#include <boost/test/unit_test.hpp>

#include "test_util.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>

#include <cmath>
#include <limits>

using namespace std::chrono_literals;
namespace asio = boost::asio;
using intg::errc;

namespace {

// A pipeline on a manual clock, with its io_context, for step-by-step tests.
struct manual_env {
  asio::io_context io;
  intg::manual_clock clock;
  void poll() {
    io.restart();
    io.poll();
  }
  void advance(intg::duration d) {
    clock.advance(d);
    poll();
  }
};

// An operation that waits on a manual-clock timer for `wait`, binding the attempt's slot.
struct waiting_op {
  intg::manual_clock clock;
  intg::duration wait;
  std::shared_ptr<boost::system::error_code> last_wait = std::make_shared<boost::system::error_code>();
  asio::awaitable<intg::result<int>> operator()(intg::attempt& a) const {
    auto t = clock.make_timer(co_await asio::this_coro::executor);
    t.expires_after(wait);
    auto [ec] = co_await t.async_wait(asio::bind_cancellation_slot(a.cancellation_slot(), asio::as_tuple(asio::use_awaitable)));
    *last_wait = ec;
    if (ec) co_return intg::error{ec};
    co_return 1;
  }
};

intg::retry<>::options no_jitter(int attempts, intg::duration base) {
  intg::retry<>::options o;
  o.max_attempts = attempts;
  o.base_delay = base;
  o.jitter = intg::jitter::none;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(error_compares_equal_to_its_errc_and_converts_implicitly) {
  intg::error e = errc::timeout;
  BOOST_TEST((e == errc::timeout));
  BOOST_TEST(!(e == errc::circuit_open));
  intg::error from_code = boost::system::error_code(asio::error::connection_refused);
  BOOST_TEST(intg::is_transient(from_code));
  BOOST_TEST(!intg::error{});
}

BOOST_AUTO_TEST_CASE(http_errors_carry_status_retry_after_and_message) {
  auto e = intg::error::http(429, 1500ms, "slow down");
  BOOST_TEST(e.http_status() == 429);
  BOOST_TEST(e.retry_after().count() == 1500);
  BOOST_TEST(e.message() == "slow down");
  BOOST_TEST(intg::is_transient(e));
  BOOST_TEST(!intg::is_transient(intg::error::http(404)));
  BOOST_TEST(intg::is_transient(intg::error::http(503)));
  BOOST_TEST(e.to_string().find("HTTP 429") != std::string::npos);
  intg::error copy = e;  // shares the details block
  BOOST_TEST(copy.message() == "slow down");
}

BOOST_AUTO_TEST_CASE(transport_errors_are_transient_in_the_generic_category_and_from_beast_and_ssl_too) {
  namespace se = boost::system::errc;
  for (auto c : {se::connection_reset, se::timed_out, se::connection_refused, se::broken_pipe, se::network_unreachable})
    BOOST_TEST(intg::is_transient(boost::system::error_code(se::make_error_code(c))), se::make_error_code(c).message());
  BOOST_TEST(intg::is_transient(boost::system::error_code(asio::error::connection_reset)));  // the system category still
  BOOST_TEST(intg::is_transient(boost::system::error_code(asio::error::eof)));
  BOOST_TEST(intg::is_transient(boost::system::error_code(boost::beast::error::timeout)));
  BOOST_TEST(intg::is_transient(boost::system::error_code(boost::beast::http::error::end_of_stream)));
  BOOST_TEST(intg::is_transient(boost::system::error_code(boost::asio::ssl::error::stream_truncated)));
  BOOST_TEST(!intg::is_transient(boost::system::error_code(boost::beast::http::error::bad_version)));
  BOOST_TEST(!intg::is_transient(boost::system::error_code(se::make_error_code(se::permission_denied))));
  BOOST_TEST(!intg::is_transient(boost::system::error_code(asio::error::operation_aborted)));
  BOOST_TEST(!intg::is_transient(intg::error{errc::outcome_unknown}));
}

BOOST_AUTO_TEST_CASE(errors_are_equal_only_when_every_detail_is) {
  BOOST_TEST(!(intg::error::http(500) == intg::error::http(404)));
  BOOST_TEST((intg::error::http(500) == intg::error::http(500)));
  BOOST_TEST(!(intg::error::http(503, 1s) == intg::error::http(503, 2s)));
  BOOST_TEST(!(intg::error{errc::unavailable, "a"} == intg::error{errc::unavailable, "b"}));
  BOOST_TEST(!(intg::error{errc::config_error, "x"}.with_json_path("$.a") == intg::error{errc::config_error, "x"}.with_json_path("$.b")));
  const intg::error e{errc::unavailable, "down"};
  const intg::error copy = e;
  BOOST_TEST((copy == e));
  // Asking about the code alone: compare with an errc or an error_code, or ask as_errc().
  BOOST_TEST((intg::error::http(500) == errc::http_error && intg::error::http(404) == errc::http_error));
  BOOST_TEST((intg::error::http(404).as_errc() == errc::http_error));
  BOOST_TEST(!intg::error{boost::system::error_code(asio::error::eof)}.as_errc().has_value());
}

// Two providers declared the way the kit does: a type with a static name.
struct stripe_tag {
  static constexpr std::string_view name = "stripe";
};
struct slack_tag {
  static constexpr std::string_view name = "slack";
};

BOOST_AUTO_TEST_CASE(each_errc_has_the_category_of_its_domain_and_keeps_its_value) {
  auto cat = [](errc e) { return std::string_view(intg::make_error_code(e).category().name()); };
  for (errc e : {errc::circuit_open, errc::rate_limited, errc::timeout, errc::bulkhead_full, errc::retry_budget_exhausted,
                 errc::cancelled})
    BOOST_TEST(cat(e) == "intg.resilience");
  for (errc e : {errc::http_error, errc::invalid_response, errc::unavailable, errc::outcome_unknown}) BOOST_TEST(cat(e) == "intg.http");
  for (errc e : {errc::unauthorized, errc::invalid_grant, errc::signature_invalid, errc::signature_missing, errc::signature_malformed,
                 errc::signature_scheme_unsupported, errc::timestamp_out_of_tolerance, errc::token_malformed, errc::token_expired,
                 errc::token_not_yet_valid, errc::claim_invalid, errc::algorithm_invalid, errc::key_invalid, errc::decryption_failed,
                 errc::replayed, errc::integrity_violation, errc::crypto_failure})
    BOOST_TEST(cat(e) == "intg.security");
  for (errc e : {errc::config_error, errc::invalid_argument, errc::not_found, errc::not_initialized, errc::disabled})
    BOOST_TEST(cat(e) == "intg.config");
  // Every value round-trips through as_errc(), and only with its own domain's category.
  for (int v = static_cast<int>(errc::circuit_open); v <= static_cast<int>(errc::quota_exhausted); ++v) {
    const intg::error e{static_cast<errc>(v)};
    BOOST_TEST((e.as_errc() == static_cast<errc>(v)));
    BOOST_TEST((e == static_cast<errc>(v)));
  }
  const boost::system::error_code wrong_domain(static_cast<int>(errc::timeout), intg::http_category());
  BOOST_TEST(!intg::error{wrong_domain}.as_errc().has_value());
  BOOST_TEST(!(intg::error{wrong_domain} == errc::timeout));
  BOOST_TEST((intg::error{errc::timeout}.code().category() == intg::resilience_category()));
  BOOST_TEST(intg::make_error_code(errc::timeout).message() == "operation timed out");
  // The four domains and the conditions are distinct categories.
  const boost::system::error_category* cats[] = {&intg::resilience_category(), &intg::http_category(), &intg::security_category(),
                                                 &intg::config_category(), &intg::condition_category()};
  for (std::size_t i = 0; i < std::size(cats); ++i)
    for (std::size_t j = 0; j < std::size(cats); ++j) BOOST_TEST(((*cats[i] == *cats[j]) == (i == j)));
}

BOOST_AUTO_TEST_CASE(conditions_classify_intg_codes) {
  using intg::condition;
  BOOST_TEST((intg::error{errc::timeout} == condition::timeout && intg::error{errc::timeout} == condition::transient));
  BOOST_TEST((intg::error{errc::unavailable} == condition::unavailable && intg::error{errc::unavailable} == condition::transient));
  BOOST_TEST((intg::error{errc::rate_limited} == condition::rate_limited));
  BOOST_TEST(!(intg::error{errc::rate_limited} == condition::transient));  // our own limiter: not from the code alone
  BOOST_TEST((intg::error{errc::unauthorized} == condition::unauthorized && intg::error{errc::invalid_grant} == condition::unauthorized));
  BOOST_TEST((intg::error{errc::not_found} == condition::not_found));
  BOOST_TEST((intg::error{errc::invalid_argument} == condition::invalid_argument));
  BOOST_TEST((intg::error{errc::invalid_response} == condition::invalid_response));
  BOOST_TEST((intg::error{errc::outcome_unknown} == condition::outcome_unknown));
  BOOST_TEST(!(intg::error{errc::outcome_unknown} == condition::transient));
  BOOST_TEST(!(intg::error{errc::circuit_open} == condition::unavailable));
  BOOST_TEST(!(intg::error{errc::not_found} == condition::invalid_argument));
  // The same through error_code, as any Boost.System code is compared.
  BOOST_TEST((intg::make_error_code(errc::not_found) == condition::not_found));
  BOOST_TEST((intg::make_error_code(errc::not_found) == intg::make_error_condition(condition::not_found)));
  BOOST_TEST(std::string_view(intg::condition_category().name()) == "intg.condition");
  BOOST_TEST(intg::make_error_condition(condition::transient).message() == "transient failure");
}

BOOST_AUTO_TEST_CASE(conditions_classify_transport_codes) {
  using intg::condition;
  namespace se = boost::system::errc;
  auto ec = [](se::errc_t c) { return intg::error{boost::system::error_code(se::make_error_code(c))}; };
  BOOST_TEST((ec(se::timed_out) == condition::timeout && ec(se::timed_out) == condition::transient));
  BOOST_TEST((ec(se::connection_refused) == condition::unavailable && ec(se::connection_refused) == condition::transient));
  BOOST_TEST((ec(se::connection_reset) == condition::transient && !(ec(se::connection_reset) == condition::timeout)));
  BOOST_TEST(!(ec(se::permission_denied) == condition::transient));
  const intg::error sys{boost::system::error_code(asio::error::connection_reset)};  // system category, same errno
  BOOST_TEST((sys == condition::transient));
  BOOST_TEST((intg::error{boost::system::error_code(asio::error::eof)} == condition::transient));
  BOOST_TEST((intg::error{boost::system::error_code(boost::beast::error::timeout)} == condition::timeout));
  BOOST_TEST((intg::error{boost::system::error_code(boost::beast::http::error::end_of_stream)} == condition::transient));
  BOOST_TEST((intg::error{boost::system::error_code(boost::asio::ssl::error::stream_truncated)} == condition::transient));
  BOOST_TEST(!(intg::error{boost::system::error_code(boost::beast::http::error::bad_version)} == condition::transient));
  BOOST_TEST(!(intg::error{boost::system::error_code(asio::error::operation_aborted)} == condition::transient));
}

BOOST_AUTO_TEST_CASE(provider_errors_carry_the_providers_category_code_and_message) {
  using intg::provider_errc;
  auto e = intg::provider_error<stripe_tag>(provider_errc::rejected, 402, "card_declined", "Your card was declined.");
  BOOST_TEST(std::string_view(e.code().category().name()) == "stripe");
  BOOST_TEST((e.code().category() == intg::provider_category<stripe_tag>()));
  BOOST_TEST((e.code().category() != intg::provider_category<slack_tag>()));
  BOOST_TEST(e.code().value() == static_cast<int>(provider_errc::rejected));
  BOOST_TEST((e == intg::make_provider_error_code<stripe_tag>(provider_errc::rejected)));
  BOOST_TEST(!(e == intg::make_provider_error_code<slack_tag>(provider_errc::rejected)));
  BOOST_TEST(e.http_status() == 402);
  BOOST_TEST(e.provider_code() == "card_declined");
  BOOST_TEST(e.message() == "Your card was declined.");
  BOOST_TEST(!e.as_errc().has_value());
  BOOST_TEST(e.to_string() == "stripe card_declined (HTTP 402): Your card was declined.");
  // Without a provider code the category's description stands in; the path and message are kept.
  auto n = intg::provider_error<slack_tag>(provider_errc::not_found, 200, {}, "no such channel");
  BOOST_TEST(n.provider_code().empty());
  BOOST_TEST(n.to_string() == "slack not found (HTTP 200): no such channel");
  n.with_json_path("$.channel");
  BOOST_TEST(n.message() == "no such channel");
  BOOST_TEST(n.to_string() == "slack not found (HTTP 200): no such channel at $.channel");
  // Setting the message or path keeps the provider code, and equality looks at it.
  auto copy = e;
  copy.with_message("declined");
  BOOST_TEST(copy.provider_code() == "card_declined");
  BOOST_TEST(!(copy == e));
  auto other = intg::provider_error<stripe_tag>(provider_errc::rejected, 402, "expired_card", "Your card was declined.");
  BOOST_TEST(!(other == e));
  BOOST_TEST((intg::provider_error<stripe_tag>(provider_errc::rejected, 402, "card_declined", "Your card was declined.") == e));
  // Copying shares the details block; the error stays 40 bytes.
  static_assert(sizeof(void*) != 8 || sizeof(intg::error) == 40);
  const intg::error shared = e;
  BOOST_TEST(shared.provider_code().data() == e.provider_code().data());
}

BOOST_AUTO_TEST_CASE(provider_codes_map_to_conditions_and_is_transient) {
  using intg::condition;
  using intg::provider_errc;
  auto p = [](provider_errc k, int status = 0) { return intg::provider_error<stripe_tag>(k, status, {}, {}); };
  BOOST_TEST((p(provider_errc::server_error, 503) == condition::transient && p(provider_errc::server_error) == condition::unavailable));
  BOOST_TEST((p(provider_errc::rate_limited, 429) == condition::transient && p(provider_errc::rate_limited) == condition::rate_limited));
  BOOST_TEST((p(provider_errc::unauthorized) == condition::unauthorized));
  BOOST_TEST((p(provider_errc::forbidden) == condition::forbidden));
  BOOST_TEST((p(provider_errc::not_found) == condition::not_found));
  BOOST_TEST((p(provider_errc::conflict) == condition::conflict));
  BOOST_TEST((p(provider_errc::invalid_response) == condition::invalid_response));
  BOOST_TEST((p(provider_errc::bad_request) == condition::invalid_argument));
  BOOST_TEST(!(p(provider_errc::bad_request) == condition::not_found));
  BOOST_TEST(!(p(provider_errc::rejected) == condition::transient));
  BOOST_TEST(intg::is_transient(p(provider_errc::server_error, 502)));
  BOOST_TEST(intg::is_transient(p(provider_errc::rate_limited, 429)));
  BOOST_TEST(intg::is_transient(p(provider_errc::rate_limited, 200)));  // Slack's ok:false ratelimited
  for (auto k : {provider_errc::bad_request, provider_errc::unauthorized, provider_errc::forbidden, provider_errc::not_found,
                 provider_errc::conflict, provider_errc::invalid_response, provider_errc::rejected})
    BOOST_TEST(!intg::is_transient(p(k, 400)), static_cast<int>(k));
  // Neither a local rejection nor an intg code.
  BOOST_TEST(!intg::is_local_rejection(p(provider_errc::rate_limited, 429)));
  BOOST_TEST(!(p(provider_errc::rate_limited, 429) == errc::rate_limited));
  // The category's messages name the provider.
  BOOST_TEST(intg::make_provider_error_code<slack_tag>(provider_errc::rate_limited).message() == "slack rate limited");
}

BOOST_AUTO_TEST_CASE(is_transient_keeps_its_semantics_on_intg_codes) {
  BOOST_TEST(intg::is_transient(intg::error{errc::timeout}));
  BOOST_TEST(intg::is_transient(intg::error{errc::unavailable}));
  BOOST_TEST(!intg::is_transient(intg::error{errc::rate_limited}));                               // our limiter
  BOOST_TEST(intg::is_transient(intg::error{errc::rate_limited}.with_http_status(429)));          // the server's
  BOOST_TEST(intg::is_transient(intg::error::http(408)));
  BOOST_TEST(!intg::is_transient(intg::error::http(409)));
  for (errc e : {errc::circuit_open, errc::bulkhead_full, errc::cancelled, errc::retry_budget_exhausted, errc::outcome_unknown, errc::quota_exhausted,
                 errc::unauthorized, errc::not_found, errc::invalid_response})
    BOOST_TEST(!intg::is_transient(intg::error{e}), intg::error{e});
}

BOOST_AUTO_TEST_CASE(result_value_throws_intg_exception_on_error) {
  intg::result<int> r = intg::error{errc::not_found, "nothing here"};
  BOOST_CHECK_THROW(r.value(), intg::exception);
  intg::result<int> ok = 3;
  BOOST_TEST(ok.value() == 3);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(trace_context)

BOOST_AUTO_TEST_CASE(traceparent_round_trips_and_rejects_malformed_values) {
  auto tc = intg::trace_context::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  BOOST_REQUIRE(tc);
  BOOST_TEST(tc->sampled());
  char buf[intg::trace_context::traceparent_size];
  tc->format_traceparent(buf);
  BOOST_TEST(std::string_view(buf, sizeof buf) == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  BOOST_TEST(intg::trace_context::parse_traceparent(" \t00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t").has_value());
  BOOST_TEST(intg::trace_context::parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what").has_value());
  for (const char* bad : {"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                          "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                          "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                          "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01", ""})
    BOOST_TEST(!intg::trace_context::parse_traceparent(bad).has_value(), bad);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(backoff)

BOOST_AUTO_TEST_CASE(jitter_stays_within_its_documented_bounds) {
  intg::xoshiro256 rng{42};
  intg::backoff full{100ms, 2.0, 1s, intg::jitter::full};
  intg::backoff none{100ms, 2.0, 1s, intg::jitter::none};
  intg::backoff decorrelated{100ms, 2.0, 1s, intg::jitter::decorrelated};
  BOOST_TEST(none.delay(1, {}, rng).count() == std::chrono::nanoseconds(100ms).count());
  BOOST_TEST(none.delay(3, {}, rng).count() == std::chrono::nanoseconds(400ms).count());
  BOOST_TEST(none.delay(10, {}, rng).count() == std::chrono::nanoseconds(1s).count());  // capped
  std::chrono::nanoseconds prev = 100ms;
  for (int i = 1; i < 200; ++i) {
    auto f = full.delay(i % 6 + 1, {}, rng);
    BOOST_TEST((f >= 0ns && f <= std::chrono::nanoseconds(1s)));
    auto d = decorrelated.delay(i, prev, rng);
    BOOST_TEST((d >= std::chrono::nanoseconds(100ms) && d <= std::min<std::chrono::nanoseconds>(prev * 3, 1s)));
    prev = d;
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(retry_policy)

BOOST_AUTO_TEST_CASE(transient_failures_are_retried_after_exponential_backoff) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::retry<>> p{env.clock, no_jitter(3, 100ms)};
  auto op = test::script({intg::error::http(503), intg::error::http(503), 42});
  auto r = test::start(env.io, p.execute(op));
  env.poll();
  BOOST_TEST(*op.calls == 1);
  env.advance(99ms);
  BOOST_TEST(*op.calls == 1);  // not one millisecond early
  env.advance(1ms);
  BOOST_TEST(*op.calls == 2);
  env.advance(199ms);
  BOOST_TEST(*op.calls == 2);
  env.advance(1ms);
  BOOST_TEST(*op.calls == 3);
  BOOST_REQUIRE(r->has_value());
  BOOST_TEST(r->value().value() == 42);
}

BOOST_AUTO_TEST_CASE(permanent_errors_and_open_circuits_are_not_retried) {
  for (intg::error e : {intg::error::http(404), intg::error{errc::circuit_open}, intg::error{errc::invalid_grant},
                        intg::error{errc::invalid_argument}}) {
    manual_env env;
    intg::basic_pipeline<intg::manual_clock, intg::retry<>> p{env.clock, no_jitter(5, 1ms)};
    auto op = test::script({e});
    auto r = test::start(env.io, p.execute(op));
    env.poll();
    BOOST_TEST(*op.calls == 1);
    BOOST_REQUIRE(r->has_value());
    BOOST_TEST((r->value().error() == e));
  }
}

BOOST_AUTO_TEST_CASE(a_server_retry_after_hint_is_honoured_never_early) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::retry<>> p{env.clock, no_jitter(3, 10ms)};
  auto op = test::script({intg::error::http(429, 5000ms), 7});
  auto r = test::start(env.io, p.execute(op));
  env.poll();
  env.advance(4999ms);
  BOOST_TEST(*op.calls == 1);
  env.advance(1ms);
  BOOST_TEST(*op.calls == 2);
  BOOST_TEST(r->value().value() == 7);
}

BOOST_AUTO_TEST_CASE(a_hint_longer_than_max_retry_after_ends_the_call_with_the_error) {
  manual_env env;
  auto o = no_jitter(3, 10ms);
  o.max_retry_after = 1s;
  intg::basic_pipeline<intg::manual_clock, intg::retry<>> p{env.clock, o};
  auto op = test::script({intg::error::http(503, 120'000ms), 7});
  auto r = test::start(env.io, p.execute(op));
  env.poll();
  BOOST_TEST(*op.calls == 1);
  BOOST_TEST(r->value().error().http_status() == 503);
}

BOOST_AUTO_TEST_CASE(an_exhausted_retry_budget_stops_retries) {
  manual_env env;
  auto o = no_jitter(5, 1ms);
  o.budget_ratio = 0.0;
  o.budget_min_per_second = 0;
  intg::basic_pipeline<intg::manual_clock, intg::retry<>> p{env.clock, o};
  auto op = test::script({intg::error::http(503)});
  auto r = test::start(env.io, p.execute(op));
  env.poll();
  BOOST_TEST(*op.calls == 1);
  BOOST_TEST((r->value().error() == errc::retry_budget_exhausted));
  BOOST_TEST(r->value().error().http_status() == 503);
}

BOOST_AUTO_TEST_CASE(the_budget_floor_allows_retries_on_a_quiet_service) {
  manual_env env;
  auto o = no_jitter(2, 1ms);
  o.budget_ratio = 0.0;
  o.budget_min_per_second = 1;  // 10 retries per 10 s window
  intg::basic_pipeline<intg::manual_clock, intg::retry<>> p{env.clock, o};
  int retried = 0;
  for (int i = 0; i < 15; ++i) {
    auto op = test::script({intg::error::http(503)});
    auto r = test::start(env.io, p.execute(op));
    env.poll();
    env.advance(1ms);
    retried += *op.calls - 1;
  }
  BOOST_TEST(retried == 10);
}

BOOST_AUTO_TEST_CASE(cancelling_the_caller_aborts_a_backoff_sleep_at_once) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::retry<>> p{env.clock, no_jitter(3, 1h)};
  auto op = test::script({intg::error::http(503), 1});
  asio::cancellation_signal stop;
  std::optional<intg::result<int>> out;
  asio::co_spawn(env.io, p.execute(op), asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, intg::result<int> r) {
                   if (e) std::rethrow_exception(e);
                   out = r;
                 }));
  env.poll();
  BOOST_TEST(env.clock.pending_waits() == 1u);
  stop.emit(asio::cancellation_type::terminal);
  env.poll();
  BOOST_REQUIRE(out.has_value());
  BOOST_TEST((out->error() == errc::cancelled));
  BOOST_TEST(*op.calls == 1);
}

BOOST_AUTO_TEST_CASE(cancelling_the_caller_reaches_a_wait_bound_to_the_attempts_slot) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::timeout<>> p{env.clock, {1h}};
  waiting_op op{env.clock, 1h};
  asio::cancellation_signal stop;
  std::optional<intg::result<int>> out;
  asio::co_spawn(env.io, p.execute(op), asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, intg::result<int> r) {
                   if (e) std::rethrow_exception(e);
                   out = r;
                 }));
  env.poll();
  BOOST_TEST(!out.has_value());
  stop.emit(asio::cancellation_type::terminal);
  env.poll();
  BOOST_REQUIRE(out.has_value());
  BOOST_TEST((out->error() == errc::cancelled));
  BOOST_TEST((*op.last_wait == asio::error::operation_aborted));  // the bound wait really stopped
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(circuit_breaker_policy)

BOOST_AUTO_TEST_CASE(consecutive_failures_open_the_breaker_and_a_probe_closes_it) {
  manual_env env;
  intg::circuit_breaker<>::options o;
  o.failure_threshold = 3;
  o.recovery_timeout = 10s;
  std::vector<std::pair<intg::breaker_state, intg::breaker_state>> changes;
  o.on_state_change = [&](intg::breaker_state a, intg::breaker_state b) { changes.emplace_back(a, b); };
  intg::basic_pipeline<intg::manual_clock, intg::circuit_breaker<>> p{env.clock, o};
  auto& cb = p.get<intg::circuit_breaker<>>();
  auto failing = test::script({intg::error::http(500)});
  for (int i = 0; i < 3; ++i) test::start(env.io, p.execute(failing));
  env.poll();
  BOOST_TEST((cb.state() == intg::breaker_state::open));
  auto r = test::start(env.io, p.execute(failing));
  env.poll();
  BOOST_TEST(*failing.calls == 3);  // rejected without running
  BOOST_TEST((r->value().error() == errc::circuit_open));
  BOOST_TEST(r->value().error().retry_after().count() == 10'000);
  env.advance(10s);
  auto good = test::script({5});
  auto probe = test::start(env.io, p.execute(good));
  env.poll();
  BOOST_TEST(probe->value().value() == 5);
  BOOST_TEST((cb.state() == intg::breaker_state::closed));
  BOOST_REQUIRE(changes.size() == 3u);
  BOOST_TEST((changes[0].second == intg::breaker_state::open));
  BOOST_TEST((changes[1].second == intg::breaker_state::half_open));
  BOOST_TEST((changes[2].second == intg::breaker_state::closed));
}

BOOST_AUTO_TEST_CASE(an_open_breaker_rejects_with_the_failure_that_opened_it) {
  manual_env env;
  intg::circuit_breaker<>::options o;
  o.failure_threshold = 2;
  o.recovery_timeout = 10s;
  intg::basic_pipeline<intg::manual_clock, intg::retry<>, intg::circuit_breaker<>> p{env.clock, no_jitter(1, 1ms), o};
  auto failing = test::script({intg::error::http(503, std::chrono::milliseconds{-1}, "upstream down")});
  for (int i = 0; i < 2; ++i) test::start(env.io, p.execute(failing));
  env.poll();
  const auto& cp = p;  // the const accessor
  BOOST_TEST((cp.get<intg::circuit_breaker<>>().state() == intg::breaker_state::open));
  auto r = test::start(env.io, p.execute(failing));
  env.poll();
  const intg::error& e = r->value().error();
  BOOST_TEST((e == errc::circuit_open));
  BOOST_TEST(e.to_string().find("circuit breaker is open: opened by HTTP error status (HTTP 503): upstream down") != std::string::npos,
             e.to_string());
  BOOST_TEST(e.retry_after().count() == 10'000);
  BOOST_TEST(*failing.calls == 2);
  p.get<intg::circuit_breaker<>>().isolate();  // forced open by hand: no stale cause
  auto isolated = test::start(env.io, p.execute(failing));
  env.poll();
  BOOST_TEST((isolated->value().error() == errc::circuit_open));
  BOOST_TEST(isolated->value().error().message().empty());
}

BOOST_AUTO_TEST_CASE(a_failed_probe_reopens_and_half_open_admits_a_bounded_number_of_probes) {
  manual_env env;
  intg::circuit_breaker<>::options o;
  o.failure_threshold = 1;
  o.recovery_timeout = 1s;
  o.half_open_max_calls = 1;
  intg::basic_pipeline<intg::manual_clock, intg::circuit_breaker<>> p{env.clock, o};
  auto& cb = p.get<intg::circuit_breaker<>>();
  test::start(env.io, p.execute(test::script({intg::error::http(500)})));
  env.poll();
  env.advance(1s);
  // Two callers in half-open: the first is the probe (it waits), the second is rejected.
  waiting_op slow{env.clock, 100ms};
  auto first = test::start(env.io, p.execute(slow));
  auto second = test::start(env.io, p.execute(test::script({1})));
  env.poll();
  BOOST_TEST((cb.state() == intg::breaker_state::half_open));
  BOOST_TEST((second->value().error() == errc::circuit_open));
  env.advance(100ms);
  BOOST_TEST(first->value().value() == 1);
  BOOST_TEST((cb.state() == intg::breaker_state::closed));
  test::start(env.io, p.execute(test::script({intg::error::http(500)})));
  env.poll();
  env.advance(1s);
  test::start(env.io, p.execute(test::script({intg::error::http(502)})));
  env.poll();
  BOOST_TEST((cb.state() == intg::breaker_state::open));
}

BOOST_AUTO_TEST_CASE(the_sliding_window_trips_on_failure_rate_only_after_minimum_calls) {
  manual_env env;
  intg::circuit_breaker<>::options o;
  o.window = intg::breaker_window::count;
  o.window_size = 10;
  o.minimum_calls = 6;
  o.failure_rate_threshold = 0.5;
  intg::basic_pipeline<intg::manual_clock, intg::circuit_breaker<>> p{env.clock, o};
  auto& cb = p.get<intg::circuit_breaker<>>();
  for (int i = 0; i < 5; ++i) test::start(env.io, p.execute(test::script({intg::error::http(500)})));
  env.poll();
  BOOST_TEST((cb.state() == intg::breaker_state::closed));  // 5 calls < minimum
  test::start(env.io, p.execute(test::script({1})));
  env.poll();
  BOOST_TEST((cb.state() == intg::breaker_state::open));  // 5/6 failed
}

BOOST_AUTO_TEST_CASE(slow_calls_trip_a_time_window_breaker) {
  manual_env env;
  intg::circuit_breaker<>::options o;
  o.window = intg::breaker_window::time;
  o.window_duration = 10s;
  o.minimum_calls = 2;
  o.slow_call_duration = 50ms;
  o.slow_call_rate_threshold = 1.0;
  intg::basic_pipeline<intg::manual_clock, intg::circuit_breaker<>> p{env.clock, o};
  waiting_op slow{env.clock, 60ms};
  test::start(env.io, p.execute(slow));
  test::start(env.io, p.execute(slow));
  env.poll();
  env.advance(60ms);
  BOOST_TEST((p.get<intg::circuit_breaker<>>().state() == intg::breaker_state::open));
}

BOOST_AUTO_TEST_CASE(local_rejections_and_client_errors_are_not_failures) {
  manual_env env;
  intg::circuit_breaker<>::options o;
  o.failure_threshold = 1;
  intg::basic_pipeline<intg::manual_clock, intg::circuit_breaker<>> p{env.clock, o};
  for (intg::error e : {intg::error{errc::rate_limited}, intg::error{errc::bulkhead_full}, intg::error{errc::cancelled},
                        intg::error::http(404), intg::error{errc::invalid_argument}})
    test::start(env.io, p.execute(test::script({e})));
  env.poll();
  BOOST_TEST((p.get<intg::circuit_breaker<>>().state() == intg::breaker_state::closed));
}

BOOST_AUTO_TEST_CASE(isolate_and_reset_control_the_breaker_by_hand) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::circuit_breaker<>> p{env.clock};
  auto& cb = p.get<intg::circuit_breaker<>>();
  cb.isolate();
  env.advance(24h);
  auto r = test::start(env.io, p.execute(test::script({1})));
  env.poll();
  BOOST_TEST((r->value().error() == errc::circuit_open));
  cb.reset();
  r = test::start(env.io, p.execute(test::script({1})));
  env.poll();
  BOOST_TEST(r->value().value() == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(rate_limiter_policy)

BOOST_AUTO_TEST_CASE(gcra_admits_the_burst_then_one_call_per_interval) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::rate_limiter<>> p{env.clock, {60, 2, {}}};  // 1/s, burst 2
  auto op = test::script({1});
  auto a = test::start(env.io, p.execute(op));
  auto b = test::start(env.io, p.execute(op));
  auto c = test::start(env.io, p.execute(op));
  env.poll();
  BOOST_TEST(a->value().has_value());
  BOOST_TEST(b->value().has_value());
  BOOST_TEST((c->value().error() == errc::rate_limited));
  BOOST_TEST(c->value().error().retry_after().count() == 1000);
  env.advance(999ms);
  auto d = test::start(env.io, p.execute(op));
  env.poll();
  BOOST_TEST((d->value().error() == errc::rate_limited));
  env.advance(1ms);
  auto e = test::start(env.io, p.execute(op));
  env.poll();
  BOOST_TEST(e->value().has_value());
  BOOST_TEST(*op.calls == 3);
}

BOOST_AUTO_TEST_CASE(with_max_wait_an_over_limit_call_waits_for_its_slot) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::rate_limiter<>> p{env.clock, {60, 1, 5s}};
  auto op = test::script({1});
  auto a = test::start(env.io, p.execute(op));
  auto b = test::start(env.io, p.execute(op));
  env.poll();
  BOOST_TEST(a->has_value());
  BOOST_TEST(!b->has_value());
  env.advance(999ms);
  BOOST_TEST(!b->has_value());
  env.advance(1ms);
  BOOST_TEST(b->value().value() == 1);
}

BOOST_AUTO_TEST_CASE(describe_reports_the_calls_left_in_the_bucket) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::rate_limiter<>> p{env.clock, {60, 5, {}}};  // 1/s, burst 5
  auto op = test::script({1});
  BOOST_TEST(p.describe().at("rate_limiter").at("available").as_int64() == 5);
  for (int i = 0; i < 2; ++i) test::start(env.io, p.execute(op));
  env.poll();
  BOOST_TEST(p.describe().at("rate_limiter").at("available").as_int64() == 3);
  env.advance(1s);
  BOOST_TEST(p.describe().at("rate_limiter").at("available").as_int64() == 4);
}

BOOST_AUTO_TEST_CASE(extreme_rates_and_bursts_saturate_instead_of_overflowing) {
  manual_env env;
  // What the config loader accepts: 1 call a minute with a burst of 2e8 (interval * (burst - 1)
  // is 1.2e19 ns, past int64).
  intg::basic_pipeline<intg::manual_clock, intg::rate_limiter<>> huge{env.clock, {1, 200'000'000, {}}};
  auto op = test::script({1});
  for (int i = 0; i < 1000; ++i) test::start(env.io, huge.execute(op));
  env.poll();
  BOOST_TEST(*op.calls == 1000);  // all within the burst
  const auto left = huge.describe().at("rate_limiter").at("available").as_int64();
  BOOST_TEST(left > 0);
  BOOST_TEST(left <= 200'000'000 - 1000);
  // A rate so low that one interval does not fit in int64 nanoseconds: one call, then rejections
  // with a (capped) positive hint.
  intg::basic_pipeline<intg::manual_clock, intg::rate_limiter<>> tiny{env.clock, {1e-12, 1, std::chrono::hours(1)}};
  auto first = test::start(env.io, tiny.execute(op));
  auto second = test::start(env.io, tiny.execute(op));
  env.poll();
  BOOST_TEST(first->value().has_value());
  BOOST_TEST((second->value().error() == errc::rate_limited));
  BOOST_TEST(second->value().error().retry_after().count() > 0);
  env.advance(std::chrono::hours(24 * 365));
  auto later = test::start(env.io, tiny.execute(op));
  env.poll();
  BOOST_TEST((later->value().error() == errc::rate_limited));
}

BOOST_AUTO_TEST_CASE(invalid_limiter_options_throw_naming_the_bad_value) {
  auto message_of = [](intg::rate_limit_options o) -> std::string {
    try {
      intg::rate_limiter<> l{o};
      intg::keyed_rate_limiter<>::options k;
      static_cast<intg::rate_limit_options&>(k) = o;
      intg::keyed_rate_limiter<> kl{k};
    } catch (const intg::exception& e) {
      BOOST_TEST((e.error() == errc::invalid_argument));
      return std::string(e.error().message());
    }
    return "no exception";
  };
  BOOST_TEST(message_of({0, 1, {}}).find("requests_per_minute must be finite and greater than 0 (got 0") != std::string::npos,
             message_of({0, 1, {}}));
  BOOST_TEST(message_of({-5, 1, {}}).find("got -5") != std::string::npos);
  BOOST_TEST(message_of({std::nan(""), 1, {}}).find("requests_per_minute") != std::string::npos);
  BOOST_TEST(message_of({std::numeric_limits<double>::infinity(), 1, {}}).find("requests_per_minute") != std::string::npos);
  BOOST_TEST(message_of({60, 0, {}}).find("burst_limit must be at least 1 (got 0)") != std::string::npos);
  BOOST_TEST(message_of({60, 1, -1s}).find("max_wait must not be negative") != std::string::npos);
  BOOST_TEST(message_of({60, 1, {}}) == "no exception");
}

BOOST_AUTO_TEST_CASE(a_waiter_cancelled_before_its_slot_gives_the_slot_back) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::rate_limiter<>> p{env.clock, {60, 1, 5s}};  // 1/s, burst 1
  auto op = test::script({1});
  auto a = test::start(env.io, p.execute(op));
  asio::cancellation_signal stop;
  std::optional<intg::result<int>> b;
  asio::co_spawn(env.io, p.execute(op), asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, intg::result<int> r) {
                   if (e) std::rethrow_exception(e);
                   b = r;
                 }));
  env.poll();
  BOOST_TEST(a->value().has_value());
  BOOST_TEST(!b.has_value());  // waiting for the slot at +1 s
  stop.emit(asio::cancellation_type::terminal);
  env.poll();
  BOOST_REQUIRE(b.has_value());
  BOOST_TEST((b->error() == errc::cancelled));
  auto c = test::start(env.io, p.execute(op));  // takes the refunded slot at +1 s, not +2 s
  env.poll();
  BOOST_TEST(!c->has_value());
  env.advance(1s);
  BOOST_REQUIRE(c->has_value());
  BOOST_TEST(c->value().value() == 1);
  BOOST_TEST(*op.calls == 2);
}

BOOST_AUTO_TEST_CASE(a_keyed_waiter_cancelled_before_its_slot_gives_the_slot_back) {
  manual_env env;
  intg::keyed_rate_limiter<>::options o;
  o.requests_per_minute = 60;
  o.burst_limit = 1;
  o.max_wait = 5s;
  intg::basic_pipeline<intg::manual_clock, intg::keyed_rate_limiter<>> p{env.clock, o};
  auto op = test::script({1});
  auto a = test::start(env.io, p.execute(op, {.partition_key = "t"}));
  asio::cancellation_signal stop;
  std::optional<intg::result<int>> b;
  asio::co_spawn(env.io, p.execute(op, {.partition_key = "t"}),
                 asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, intg::result<int> r) {
                   if (e) std::rethrow_exception(e);
                   b = r;
                 }));
  env.poll();
  stop.emit(asio::cancellation_type::terminal);
  env.poll();
  BOOST_REQUIRE(b.has_value());
  auto c = test::start(env.io, p.execute(op, {.partition_key = "t"}));
  env.poll();
  env.advance(1s);
  BOOST_REQUIRE(c->has_value());
  BOOST_TEST(c->value().value() == 1);
}

BOOST_AUTO_TEST_CASE(keyed_limiter_hashes_keys_with_a_per_process_seed) {
  intg::keyed_rate_limiter<> l;
  int same = 0;
  for (std::string k : {"tenant_a", "tenant_b", "a-much-longer-partition-key-of-several-words", ""}) {
    same += l.key_hash(k) == std::hash<std::string_view>{}(k);
    BOOST_TEST(intg::detail::seeded_hash(k, 1) != intg::detail::seeded_hash(k, 2));  // the seed changes the hash
    BOOST_TEST(l.key_hash(k) == intg::keyed_rate_limiter<>{}.key_hash(k));           // one seed per process
  }
  BOOST_TEST(same == 0);
  BOOST_TEST(l.key_hash("tenant_a") != l.key_hash("tenant_b"));
}

BOOST_AUTO_TEST_CASE(keyed_limiters_isolate_partitions) {
  manual_env env;
  intg::keyed_rate_limiter<>::options o;
  o.requests_per_minute = 60;
  o.burst_limit = 1;
  o.max_keys = 16;
  intg::basic_pipeline<intg::manual_clock, intg::keyed_rate_limiter<>> p{env.clock, o};
  auto op = test::script({1});
  auto a1 = test::start(env.io, p.execute(op, {.partition_key = "tenant_a"}));
  auto a2 = test::start(env.io, p.execute(op, {.partition_key = "tenant_a"}));
  auto b1 = test::start(env.io, p.execute(op, {.partition_key = "tenant_b"}));
  env.poll();
  BOOST_TEST(a1->value().has_value());
  BOOST_TEST((a2->value().error() == errc::rate_limited));
  BOOST_TEST(b1->value().has_value());  // tenant_a's overload does not touch tenant_b
}

BOOST_AUTO_TEST_CASE(keyed_limiter_memory_is_bounded_and_idle_keys_are_reused) {
  manual_env env;
  intg::keyed_rate_limiter<>::options o;
  o.requests_per_minute = 60;
  o.burst_limit = 1;
  o.max_keys = 16;
  intg::basic_pipeline<intg::manual_clock, intg::keyed_rate_limiter<>> p{env.clock, o};
  auto op = test::script({1});
  int admitted = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "key" + std::to_string(i);  // a view of it is read while the call runs
    auto r = test::start(env.io, p.execute(op, {.partition_key = key}));
    env.poll();
    admitted += r->value().has_value();
  }
  // At most max_keys busy keys at once; at least 8: a key is refused only when the 8 cells it
  // probes are all busy, so 8 keys were admitted before any refusal.
  BOOST_TEST(admitted <= 16);
  BOOST_TEST(admitted >= 8);
  env.advance(2s);             // every key is idle again
  auto r = test::start(env.io, p.execute(op, {.partition_key = "fresh"}));
  env.poll();
  BOOST_TEST(r->value().has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(timeout_policy)

BOOST_AUTO_TEST_CASE(the_deadline_cancels_the_bound_wait_and_reports_timeout) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::timeout<>> p{env.clock, {50ms}};
  waiting_op op{env.clock, 1h};
  auto r = test::start(env.io, p.execute(op));
  env.poll();
  env.advance(49ms);
  BOOST_TEST(!r->has_value());
  env.advance(1ms);
  BOOST_REQUIRE(r->has_value());
  BOOST_TEST((r->value().error() == errc::timeout));
  BOOST_TEST((*op.last_wait == asio::error::operation_aborted));  // the wait itself was cancelled
  BOOST_TEST(env.clock.pending_waits() == 0u);
}

BOOST_AUTO_TEST_CASE(a_fifty_millisecond_timeout_cancels_a_one_hour_real_timer) {
  intg::pipeline<intg::timeout<>> p{intg::timeout<>::options{50ms}};
  auto cancelled = std::make_shared<bool>(false);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = test::run(p.execute([cancelled](intg::attempt& a) -> asio::awaitable<intg::result<int>> {
    asio::steady_timer t(co_await asio::this_coro::executor, 1h);
    auto [ec] = co_await t.async_wait(asio::bind_cancellation_slot(a.cancellation_slot(), asio::as_tuple(asio::use_awaitable)));
    *cancelled = ec == asio::error::operation_aborted;
    if (ec) co_return intg::error(ec);
    co_return 1;
  }));
  const auto took = std::chrono::steady_clock::now() - t0;
  BOOST_TEST((r.error() == errc::timeout));
  BOOST_TEST(*cancelled);
  BOOST_TEST((took < 1s));
}

BOOST_AUTO_TEST_CASE(a_value_produced_as_the_deadline_fires_is_kept_and_an_unknown_outcome_stays_unknown) {
  // Turning either into errc::timeout would let the retry layer run again an operation that may
  // already have taken effect.
  intg::retry<>::options ro;
  ro.max_attempts = 3;
  ro.base_delay = 1ms;
  intg::pipeline<intg::retry<>, intg::timeout<>> p{ro, intg::timeout<>::options{20ms}};
  int runs = 0;
  auto swallowing = test::run(p.execute([&runs](intg::attempt& a) -> asio::awaitable<intg::result<int>> {
    ++runs;
    asio::steady_timer t(co_await asio::this_coro::executor, 1h);
    co_await t.async_wait(asio::bind_cancellation_slot(a.cancellation_slot(), asio::as_tuple(asio::use_awaitable)));
    co_return 7;  // it answers anyway
  }));
  BOOST_TEST_REQUIRE(swallowing.has_value());
  BOOST_TEST(*swallowing == 7);
  BOOST_TEST(runs == 1);
  auto unknown = test::run(p.execute([&runs](intg::attempt& a) -> asio::awaitable<intg::result<int>> {
    ++runs;
    asio::steady_timer t(co_await asio::this_coro::executor, 1h);
    co_await t.async_wait(asio::bind_cancellation_slot(a.cancellation_slot(), asio::as_tuple(asio::use_awaitable)));
    co_return intg::error(errc::outcome_unknown, "sent, no answer");
  }));
  BOOST_TEST_REQUIRE(!unknown.has_value());
  BOOST_TEST((unknown.error() == errc::outcome_unknown));
  BOOST_TEST(runs == 2);  // not retried
}

BOOST_AUTO_TEST_CASE(an_opaque_operation_is_cancelled_through_its_own_coroutine) {
  intg::pipeline<intg::timeout<>> p{intg::timeout<>::options{30ms}};
  auto r = test::run(p.execute([]() -> asio::awaitable<intg::result<int>> {
    asio::steady_timer t(co_await asio::this_coro::executor, 1h);
    co_await t.async_wait(asio::use_awaitable);  // throws when cancelled
    co_return 1;
  }));
  BOOST_TEST((r.error() == errc::timeout));
}

BOOST_AUTO_TEST_CASE(each_retry_gets_a_fresh_deadline) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::retry<>, intg::timeout<>> p{env.clock, no_jitter(2, 10ms), {50ms}};
  waiting_op op{env.clock, 1h};
  auto r = test::start(env.io, p.execute(op));
  env.poll();
  env.advance(50ms);  // first attempt times out
  env.advance(10ms);  // backoff
  BOOST_TEST(!r->has_value());
  env.advance(50ms);  // second attempt times out
  BOOST_REQUIRE(r->has_value());
  BOOST_TEST((r->value().error() == errc::timeout));
}

BOOST_AUTO_TEST_SUITE_END()

// Layers that need time only at a coarse grain (limiter, retry budget, the open breaker's
// countdown, the timeout's start) read the clock's approximate_now(); these tests give the manual
// clock a lag to show what that may and may not change.
BOOST_AUTO_TEST_SUITE(approximate_time)

BOOST_AUTO_TEST_CASE(steady_clock_approximate_now_is_never_ahead_and_close_behind) {
  const intg::steady_clock c;
  for (int i = 0; i < 1000; ++i) {
    const intg::time_point before = c.now();
    const intg::time_point approx = c.approximate_now();
    const intg::time_point after = c.now();
    BOOST_TEST((approx <= after));
    BOOST_TEST((approx > before - 100ms));  // same epoch as steady_clock, a tick behind at most
  }
}

BOOST_AUTO_TEST_CASE(a_lagging_clock_never_rejects_a_call_the_precise_time_admits) {
  manual_env env;
  env.clock.set_approximate_lag(500ms);
  intg::basic_pipeline<intg::manual_clock, intg::rate_limiter<>> p{env.clock, {60, 1, {}}};  // 1/s, burst 1
  auto op = test::script({1});
  auto a = test::start(env.io, p.execute(op));
  auto b = test::start(env.io, p.execute(op));
  env.poll();
  BOOST_TEST(a->value().has_value());
  BOOST_TEST((b->value().error() == errc::rate_limited));
  // The first call was admitted at the approximate time, so its slot counts from there: the
  // limit holds to within the lag (on intg::steady_clock, one kernel tick).
  BOOST_TEST(b->value().error().retry_after().count() == 500);
  env.advance(600ms);  // approximate time: 100 ms, over the limit; precise time: 600 ms, admitted
  auto c = test::start(env.io, p.execute(op));
  env.poll();
  BOOST_TEST(c->value().has_value());
  auto d = test::start(env.io, p.execute(op));
  env.poll();
  BOOST_TEST((d->value().error() == errc::rate_limited));
  BOOST_TEST(d->value().error().retry_after().count() == 1000);  // c's slot counts from the precise time
  BOOST_TEST(*op.calls == 2);
}

BOOST_AUTO_TEST_CASE(a_lagging_clock_delays_half_open_by_at_most_its_lag) {
  manual_env env;
  env.clock.set_approximate_lag(500ms);
  intg::circuit_breaker<>::options o;
  o.failure_threshold = 1;
  o.recovery_timeout = 10s;
  intg::basic_pipeline<intg::manual_clock, intg::circuit_breaker<>> p{env.clock, o};
  auto failing = test::script({intg::error::http(500)});
  test::start(env.io, p.execute(failing));
  env.poll();
  env.advance(10s);
  auto early = test::start(env.io, p.execute(test::script({1})));
  env.poll();
  BOOST_TEST((early->value().error() == errc::circuit_open));
  env.advance(500ms);
  auto probe = test::start(env.io, p.execute(test::script({1})));
  env.poll();
  BOOST_TEST(probe->value().value() == 1);
  BOOST_TEST((p.get<intg::circuit_breaker<>>().state() == intg::breaker_state::closed));
}

// Runs an operation that waits for an hour through `p`: it must still be waiting `quiet` after its
// start, and have timed out 1 ms later.
template <class Pipeline>
void expect_timeout_after(manual_env& env, Pipeline& p, intg::duration quiet) {
  waiting_op op{env.clock, 1h};
  auto r = test::start(env.io, p.execute(op));
  env.poll();
  env.advance(quiet);
  BOOST_TEST(!r->has_value());
  env.advance(1ms);
  BOOST_REQUIRE(r->has_value());
  BOOST_TEST((r->value().error() == errc::timeout));
}

BOOST_AUTO_TEST_CASE(a_timeout_counts_from_the_approximate_start_when_nothing_read_the_precise_one) {
  manual_env env;
  env.clock.set_approximate_lag(5ms);
  intg::basic_pipeline<intg::manual_clock, intg::timeout<>> p{env.clock, {50ms}};
  expect_timeout_after(env, p, 44ms);  // 50 ms after the approximate start: at most the lag early
}

struct span_counter : intg::span_observer {
  int spans = 0;
  void on_span_end(const intg::span_record&) noexcept override { ++spans; }
};

BOOST_AUTO_TEST_CASE(a_timeout_counts_from_the_precise_start_once_a_layer_read_it) {
  manual_env env;
  auto spans = std::make_shared<span_counter>();
  env.clock.set_approximate_lag(5ms);
  intg::basic_pipeline<intg::manual_clock, intg::tracing<>, intg::timeout<>> p{
      env.clock, intg::tracing<>::options{.observer = spans}, {50ms}};  // spans read the precise start
  expect_timeout_after(env, p, 49ms);
  BOOST_TEST(spans->spans == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bulkhead_policy)

BOOST_AUTO_TEST_CASE(concurrency_is_bounded_and_the_queue_is_bounded_too) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::bulkhead<>> p{env.clock, {1, 1, 1s}};
  waiting_op op{env.clock, 100ms};
  auto a = test::start(env.io, p.execute(op));
  auto b = test::start(env.io, p.execute(op));  // queued
  auto c = test::start(env.io, p.execute(op));  // queue full
  env.poll();
  BOOST_TEST((c->value().error() == errc::bulkhead_full));
  BOOST_TEST(p.get<intg::bulkhead<>>().in_flight() == 1);
  env.advance(100ms);
  BOOST_TEST(a->value().value() == 1);
  BOOST_TEST(!b->has_value());  // took over the slot, now running
  env.advance(100ms);
  BOOST_TEST(b->value().value() == 1);
  BOOST_TEST(p.get<intg::bulkhead<>>().in_flight() == 0);
}

BOOST_AUTO_TEST_CASE(cancelling_a_queued_caller_leaves_the_queue_at_once) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::bulkhead<>> p{env.clock, {1, 4, 1h}};
  waiting_op op{env.clock, 1h};
  auto running = test::start(env.io, p.execute(op));
  asio::cancellation_signal stop;
  std::optional<intg::result<int>> out;
  asio::co_spawn(env.io, p.execute(op), asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e, intg::result<int> r) {
                   if (e) std::rethrow_exception(e);
                   out = r;
                 }));
  env.poll();
  BOOST_TEST(p.get<intg::bulkhead<>>().queued() == 1);
  stop.emit(asio::cancellation_type::terminal);
  env.poll();
  BOOST_REQUIRE(out.has_value());
  BOOST_TEST((out->error() == errc::cancelled));
  BOOST_TEST(p.get<intg::bulkhead<>>().queued() == 0);
  BOOST_TEST(p.get<intg::bulkhead<>>().in_flight() == 1);  // only the running call holds a slot
}

BOOST_AUTO_TEST_CASE(a_queued_call_gives_up_after_the_queue_timeout) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::bulkhead<>> p{env.clock, {1, 4, 50ms}};
  waiting_op op{env.clock, 1h};
  auto a = test::start(env.io, p.execute(op));
  auto b = test::start(env.io, p.execute(op));
  env.poll();
  env.advance(50ms);
  BOOST_TEST((b->value().error() == errc::bulkhead_full));
  BOOST_TEST(p.get<intg::bulkhead<>>().queued() == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tracing_and_fallback)

struct recorder : intg::span_observer {
  std::vector<intg::span_record> spans;
  void on_span_end(const intg::span_record& s) noexcept override { spans.push_back(s); }
};

BOOST_AUTO_TEST_CASE(tracing_reports_a_call_span_and_one_span_per_attempt) {
  manual_env env;
  auto rec = std::make_shared<recorder>();
  intg::tracing<>::options to;
  to.observer = rec;
  intg::basic_pipeline<intg::manual_clock, intg::tracing<>, intg::retry<>> p{env.clock, to, no_jitter(3, 1ms)};
  auto seen = std::make_shared<std::vector<intg::trace_context>>();
  auto op = [seen, n = std::make_shared<int>(0)](intg::attempt& a) -> asio::awaitable<intg::result<int>> {
    seen->push_back(a.trace());
    if ((*n)++ == 0) co_return intg::error::http(503);
    co_return 1;
  };
  auto parent = intg::trace_context::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  auto r = test::start(env.io, p.execute(op, {.operation = "search", .parent = &*parent}));
  env.poll();
  env.advance(1ms);
  BOOST_TEST(r->value().value() == 1);
  BOOST_REQUIRE(rec->spans.size() == 3u);
  const auto& call = rec->spans.back();
  BOOST_TEST((call.kind == intg::span_kind::call));
  BOOST_TEST(call.name == "search");
  BOOST_TEST(call.ok());
  BOOST_TEST(call.attempt == 2);
  BOOST_TEST((call.context.trace_id == parent->trace_id));
  BOOST_TEST((call.parent_span_id == parent->span_id));
  BOOST_TEST(!rec->spans[0].ok());
  for (int i = 0; i < 2; ++i) {
    BOOST_TEST((rec->spans[i].kind == intg::span_kind::attempt));
    BOOST_TEST((rec->spans[i].parent_span_id == call.context.span_id));
    BOOST_TEST(((*seen)[i].span_id == rec->spans[i].context.span_id));  // what the operation would send
  }
  BOOST_TEST(((*seen)[0].span_id != (*seen)[1].span_id));
}

// Runs `op`, which fails twice with a 503, through a pipeline that retries after 1 ms and 2 ms.
template <class Pipeline, class Op>
void run_three_attempts(manual_env& env, Pipeline& p, Op op) {
  auto r = test::start(env.io, p.execute(op));
  env.poll();
  env.advance(1ms);
  env.advance(2ms);
  BOOST_TEST(r->value().value() == 1);
}

BOOST_AUTO_TEST_CASE(tracing_inside_retry_keeps_one_trace_across_attempts) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::retry<>, intg::tracing<>> p{env.clock, no_jitter(3, 1ms), {}};
  auto seen = std::make_shared<std::vector<intg::trace_context>>();
  auto op = [seen](intg::attempt& a) -> asio::awaitable<intg::result<int>> {
    seen->push_back(a.trace());
    co_return seen->size() < 3 ? intg::result<int>(intg::error::http(503)) : intg::result<int>(1);
  };
  run_three_attempts(env, p, op);
  BOOST_REQUIRE(seen->size() == 3u);
  BOOST_TEST(((*seen)[0].trace_id == (*seen)[2].trace_id));
  BOOST_TEST(((*seen)[0].span_id != (*seen)[1].span_id));
}

BOOST_AUTO_TEST_CASE(without_an_observer_ids_are_drawn_when_the_operation_reads_them) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::tracing<>, intg::retry<>> p{env.clock, {}, no_jitter(3, 1ms)};
  auto seen = std::make_shared<std::vector<intg::trace_context>>();
  // Reads nothing in the first attempt, twice in the second and once in the third.
  auto op = [seen, n = std::make_shared<int>(0)](intg::attempt& a) -> asio::awaitable<intg::result<int>> {
    const int attempt = ++*n;
    if (attempt == 2) {
      seen->push_back(a.trace());
      seen->push_back(a.trace());
    }
    if (attempt == 3) seen->push_back(std::as_const(a).trace());
    co_return attempt < 3 ? intg::result<int>(intg::error::http(503)) : intg::result<int>(1);
  };
  run_three_attempts(env, p, op);
  BOOST_REQUIRE(seen->size() == 3u);
  BOOST_TEST((*seen)[0].valid());
  BOOST_TEST((*seen)[0].flags == 1);
  BOOST_TEST(((*seen)[0].span_id == (*seen)[1].span_id));  // one attempt, one span
  BOOST_TEST(((*seen)[0].trace_id == (*seen)[2].trace_id));  // one call, one trace
  BOOST_TEST(((*seen)[0].span_id != (*seen)[2].span_id));

  // A parent context gives its trace id and flags; the attempt's span is new.
  auto parent = intg::trace_context::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  intg::trace_context child;
  auto read = [&child](intg::attempt& a) -> asio::awaitable<intg::result<int>> {
    child = a.trace();
    co_return 1;
  };
  auto r2 = test::start(env.io, p.execute(read, {.parent = &*parent}));
  env.poll();
  BOOST_TEST(r2->value().value() == 1);
  BOOST_TEST((child.trace_id == parent->trace_id));
  BOOST_TEST(child.flags == 0);
  BOOST_TEST(child.valid());
  BOOST_TEST((child.span_id != parent->span_id));
}

BOOST_AUTO_TEST_CASE(fallback_answers_failures_with_a_value_or_an_operation) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::fallback<intg::fallback_value<int>>, intg::circuit_breaker<>> p{
      env.clock, {.handler = {99}}, {}};
  p.get<intg::circuit_breaker<>>().isolate();
  auto r = test::start(env.io, p.execute(test::script({1})));
  env.poll();
  BOOST_TEST(r->value().value() == 99);

  auto handler = [](const intg::error&) -> asio::awaitable<intg::result<int>> { co_return 5; };
  intg::basic_pipeline<intg::manual_clock, intg::fallback<decltype(handler)>> q{env.clock, {.handler = handler}};
  auto r2 = test::start(env.io, q.execute(test::script({intg::error::http(500)})));
  env.poll();
  BOOST_TEST(r2->value().value() == 5);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(pipeline_configuration)

BOOST_AUTO_TEST_CASE(an_exception_from_the_operation_unwinds_every_layer_then_propagates) {
  manual_env env;
  intg::circuit_breaker<>::options co;
  co.failure_threshold = 1;
  co.recovery_timeout = 1s;
  intg::basic_pipeline<intg::manual_clock, intg::bulkhead<>, intg::circuit_breaker<>> p{env.clock, {1, 0, {}}, co};
  auto& cb = p.get<intg::circuit_breaker<>>();
  test::start(env.io, p.execute(test::script({intg::error::http(500)})));
  env.poll();
  env.advance(1s);  // half-open: the next call is the probe
  bool threw = false;
  asio::co_spawn(env.io, p.execute([](intg::attempt&) -> asio::awaitable<intg::result<int>> {
    throw std::runtime_error("bug in the operation");
    co_return 1;
  }), [&](std::exception_ptr e, intg::result<int>) { threw = e != nullptr; });
  env.poll();
  BOOST_TEST(threw);
  BOOST_TEST(p.get<intg::bulkhead<>>().in_flight() == 0);              // slot released
  BOOST_TEST((cb.state() != intg::breaker_state::half_open));         // probe settled, not leaked
}

BOOST_AUTO_TEST_CASE(a_timeout_outside_retry_bounds_the_whole_call) {
  manual_env env;
  intg::basic_pipeline<intg::manual_clock, intg::timeout<>, intg::retry<>> p{env.clock, {100ms}, no_jitter(10, 40ms)};
  auto op = test::script({intg::error::http(503)});
  auto r = test::start(env.io, p.execute(op));
  env.poll();
  env.advance(40ms);
  env.advance(80ms);
  BOOST_REQUIRE(r->has_value());
  BOOST_TEST((r->value().error() == errc::timeout));
  BOOST_TEST(*op.calls == 2);  // the third attempt could not start before the call's deadline
}

BOOST_AUTO_TEST_CASE(a_pipeline_takes_its_thresholds_from_an_integration_config) {
  intg::integration_config c;
  c.retry.max_attempts = 7;
  c.circuit_breaker.failure_threshold = 9;
  c.rate_limits.requests_per_minute = 100;
  c.rate_limits.burst_limit = 20;
  c.timeout = 2s;
  intg::pipeline<intg::retry<>, intg::circuit_breaker<>, intg::rate_limiter<>, intg::timeout<>> p{c};
  BOOST_TEST(p.get<intg::retry<>>().get_options().max_attempts == 7);
  BOOST_TEST(p.get<intg::circuit_breaker<>>().get_options().failure_threshold == 9);
  BOOST_TEST(p.get<intg::rate_limiter<>>().get_options().burst_limit == 20);
  BOOST_TEST((p.get<intg::timeout<>>().get_options().per_attempt == 2s));
}

BOOST_AUTO_TEST_CASE(copies_of_a_pipeline_share_policy_state) {
  manual_env env;
  intg::circuit_breaker<>::options o;
  o.failure_threshold = 1;
  intg::basic_pipeline<intg::manual_clock, intg::circuit_breaker<>> p{env.clock, o};
  auto copy = p;
  test::start(env.io, p.execute(test::script({intg::error::http(500)})));
  env.poll();
  BOOST_TEST((copy.get<intg::circuit_breaker<>>().state() == intg::breaker_state::open));
}

BOOST_AUTO_TEST_SUITE_END()
