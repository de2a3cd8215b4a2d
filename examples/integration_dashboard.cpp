// The main example: a registry with integrations for two tenants, each calling its dependency
// through a resilient pipeline built from the configuration file, while one dependency fails.
// It prints what the policies did and the seed's health dashboard at the end.
//
// The dependencies here are simulated inside this program (a latency and an outcome per call),
// so the example runs anywhere without credentials or network.
//
//   integration_dashboard [--config PATH] [--environment NAME] [--calls N]
#include <intg/intg.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// Counts finished call spans for the dashboard's success rate and average latency.
struct call_counter : intg::span_observer {
  std::atomic<std::uint64_t> calls{0}, ok{0}, micros{0};
  void on_span_end(const intg::span_record& s) noexcept override {
    if (s.kind != intg::span_kind::call) return;
    calls += 1;
    ok += s.ok();
    micros += static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(s.elapsed()).count());
  }
};
auto counter = std::make_shared<call_counter>();

using resilient = intg::pipeline<intg::tracing<>, intg::retry<>, intg::circuit_breaker<>, intg::rate_limiter<>, intg::timeout<>>;

// A simulated dependency: answers after `latency_ms`, failing with 503 when `fail` is set.
class simulated_service {
 public:
  simulated_service(intg::integration_config c, intg::registry_services& s)
      : config_(std::move(c)), executor_(s.executor), pipeline_(make_pipeline(config_)) {
    latency_ = std::chrono::milliseconds(config_.settings.contains("latency_ms") ? config_.settings.at("latency_ms").to_number<int>() : 20);
    failing_ = config_.settings.contains("fail") && config_.settings.at("fail").as_bool();
  }

  std::string_view name() const noexcept { return config_.name; }
  asio::awaitable<intg::result<void>> initialize() { co_return intg::result<void>{}; }
  asio::awaitable<intg::health_report> health_check() {
    auto r = co_await call();
    intg::health_report h;
    h.status = r ? intg::integration_status::healthy : intg::integration_status::unhealthy;
    if (!r) h.message = r.error().to_string();
    co_return h;
  }
  asio::awaitable<void> cleanup() { co_return; }

  /// One request to the dependency, through the pipeline.
  asio::awaitable<intg::result<int>> call() {
    co_return co_await pipeline_.execute(
        [this](intg::attempt& a) -> asio::awaitable<intg::result<int>> {
          asio::steady_timer t(executor_, latency_);
          auto [ec] = co_await t.async_wait(asio::bind_cancellation_slot(a.cancellation_slot(), asio::as_tuple(asio::use_awaitable)));
          if (ec) co_return intg::error{ec};
          if (failing_) co_return intg::error::http(503, std::chrono::milliseconds{-1}, "simulated outage");
          co_return 200;
        },
        {.partition_key = config_.tenant, .operation = config_.name});
  }

  intg::breaker_state breaker() { return pipeline_.get<intg::circuit_breaker<>>().state(); }

 private:
  static resilient make_pipeline(const intg::integration_config& c) {
    auto retry = intg::retry<>::options_from_config(c);
    auto breaker = intg::circuit_breaker<>::options_from_config(c);
    intg::tracing<>::options tracing;
    tracing.observer = counter;
    return resilient{tracing, retry, breaker, intg::rate_limiter<>::options_from_config(c), intg::timeout<>::options_from_config(c)};
  }

  intg::integration_config config_;
  asio::any_io_executor executor_;
  resilient pipeline_;
  std::chrono::milliseconds latency_{20};
  bool failing_ = false;
};

std::string arg(int argc, char** argv, std::string_view flag, std::string fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == flag) return argv[i + 1];
  return fallback;
}

asio::awaitable<void> run(intg::config cfg, int calls) {
  intg::registry_options ro;
  ro.events = [](const intg::event& e) {
    if (e.level >= intg::event_level::warning) std::cout << "  event: " << intg::format(e) << "\n";
  };
  intg::registry registry{co_await asio::this_coro::executor, ro};
  for (const auto& tenant : cfg.tenant_ids()) {
    registry.set_tenant(*cfg.tenant(tenant));
    for (const auto& name : cfg.integration_names())
      registry.register_integration<simulated_service>(cfg.integration(name, tenant), tenant);
  }
  std::cout << "Registered " << registry.size() << " integrations for " << cfg.tenant_ids().size() << " tenants ("
            << cfg.environment() << "); the dependencies are simulated in-process, analytics_etl is down.\n"
            << "Calling each integration " << calls << " times through tracing + retry + breaker + limiter + timeout:\n";
  co_await registry.enable_all();

  for (const auto& tenant : cfg.tenant_ids()) {
    for (const auto& name : cfg.integration_names()) {
      auto* svc = registry.get<simulated_service>(name, tenant);
      int ok = 0, failed = 0;
      intg::error last;
      for (int i = 0; i < calls; ++i) {
        auto r = co_await svc->call();
        if (r) ++ok;
        else {
          ++failed;
          last = r.error();
        }
      }
      std::printf("  %-18s %-20s ok=%-3d failed=%-3d breaker=%-9s %s\n", tenant.c_str(), name.c_str(), ok, failed,
                  std::string(intg::to_string(svc->breaker())).c_str(), failed ? last.to_string().c_str() : "");
    }
  }
  (void)co_await registry.health_check_all();
  intg::call_totals totals{counter->calls.load(), counter->ok.load(), std::chrono::microseconds(counter->micros.load())};
  std::cout << "\n" << intg::render_dashboard(registry.snapshot(), totals);
  co_await registry.shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string path = arg(argc, argv, "--config", INTG_EXAMPLE_CONFIG);
    const std::string env = arg(argc, argv, "--environment", "development");
    const int calls = std::stoi(arg(argc, argv, "--calls", "20"));
    auto cfg = intg::load_config(path, env);
    asio::io_context io;
    std::exception_ptr failure;
    asio::co_spawn(io, run(std::move(cfg), calls), [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "integration_dashboard: " << e.what() << "\n";
    return 1;
  }
}
