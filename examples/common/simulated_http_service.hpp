// Stand-in dependencies for the examples: an HTTP endpoint per integration served in-process
// (latency and outcome from the integration's settings: `latency_ms`, `fail`), and http_service,
// an integration that calls its endpoint through a resilient pipeline reporting to the registry.
// The breaker and the limiter are the shared ones: local, exactly like intg::circuit_breaker<> and
// intg::rate_limiter<>, unless the configuration gives them a `shared` section (then their state is
// shared through Redis by the replicas of the program: examples/config/replicas.json).
#pragma once

#include <intg/http/server.hpp>
#include <intg/intg.hpp>
#include <intg/shared.hpp>

#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <string>

namespace examples {

namespace asio = boost::asio;
namespace bh = boost::beast::http;

using resilient = intg::pipeline<intg::tracing<>, intg::shared_quota<>, intg::retry<>, intg::shared_circuit_breaker<>,
                                 intg::shared_rate_limiter<>, intg::timeout<>>;

// An integration whose dependency is an HTTP endpoint; calls go through the pipeline, which reports
// every call to the registry's recorder (status, dashboard, metrics); health checks go through the
// probe stack (timeout only), so they spend no rate limit and an open breaker does not refuse them.
class http_service {
 public:
  http_service(intg::integration_config c, intg::registry_services& s)
      : config_(std::move(c)), http_(s.executor), pipeline_(make_pipeline(config_, s)),
        probe_(intg::make_probe_pipeline(pipeline_, config_)) {}

  std::string_view name() const noexcept { return config_.name; }
  asio::awaitable<intg::result<void>> initialize() {
    auto u = intg::http::url::parse(config_.settings.at("endpoint").as_string());
    if (!u) co_return u.error();
    request_ = intg::http::request(bh::verb::get, *u);
    co_return intg::result<void>{};
  }
  asio::awaitable<intg::health_report> health_check() {
    auto r = co_await probe_.execute([this](intg::attempt& a) { return request(a); });
    intg::health_report h;
    h.status = r ? intg::integration_status::healthy : intg::integration_status::unhealthy;
    if (!r) h.message = r.error().to_string();
    co_return h;
  }
  asio::awaitable<void> cleanup() {
    http_.close_idle();
    co_return;
  }
  boost::json::object describe() const { return pipeline_.describe(); }

  asio::awaitable<intg::result<int>> call() {
    co_return co_await pipeline_.execute([this](intg::attempt& a) { return request(a); },
                                         {.partition_key = config_.tenant, .operation = config_.name});
  }

 private:
  asio::awaitable<intg::result<int>> request(intg::attempt& a) {
    auto res = co_await http_.send(request_, a);
    if (!res) co_return res.error();
    if (auto e = intg::http::status_error(*res)) co_return e;
    co_return static_cast<int>(res->result_int());
  }

  static resilient make_pipeline(const intg::integration_config& c, intg::registry_services& s) {
    intg::tracing<>::options tracing;
    tracing.observer = s.calls;
    auto breaker = intg::shared_circuit_breaker<>::options_from_config(c);
    breaker.on_state_change = s.calls->breaker_listener();
    return resilient{tracing, intg::shared_quota<>::options_from_config(c), intg::retry<>::options_from_config(c), breaker,
                     intg::shared_rate_limiter<>::options_from_config(c), intg::timeout<>::options_from_config(c)};
  }

  intg::integration_config config_;
  intg::http::client http_;
  resilient pipeline_;
  intg::probe_pipeline probe_;
  intg::http::request request_;
};

// The stand-in dependencies: GET /<integration> answers after the configured latency.
inline intg::http::server_handler upstream(const intg::config& cfg) {
  return [&cfg](intg::http::server_request& req) -> asio::awaitable<intg::http::server_response> {
    const std::string name(req.target().substr(1));
    int latency = 5;
    bool fail = false;
    for (const auto& n : cfg.integration_names()) {
      if (n != name) continue;
      const auto& s = cfg.integration(n, cfg.tenant_ids().front()).settings;
      if (s.contains("latency_ms")) latency = s.at("latency_ms").to_number<int>();
      fail = s.contains("fail") && s.at("fail").as_bool();
    }
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(latency));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    if (fail) co_return intg::http::json_error(bh::status::service_unavailable, "simulated outage");
    co_return intg::http::make_response(bh::status::ok, R"({"ok":true})");
  };
}


}  // namespace examples
