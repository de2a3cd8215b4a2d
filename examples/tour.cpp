// The README's tour as a program: an integration with a policy stack built from its
// configuration, registered for a tenant, called, monitored, shown on the dashboard.
#include <intg/intg.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace asio = boost::asio;
using namespace std::chrono_literals;

// The policy stack is a type: checked at compile time, no virtual calls, no allocation per call.
// The first listed layer sees the call first.
using resilient = intg::pipeline<intg::tracing<>, intg::retry<>, intg::circuit_breaker<>, intg::rate_limiter<>,
                                 intg::timeout<>>;

// An integration is any type with name(), initialize(), health_check() and cleanup().
class weather_api {
 public:
  explicit weather_api(intg::integration_config c) : config_(std::move(c)), pipeline_(config_) {}
  std::string_view name() const noexcept { return config_.name; }
  asio::awaitable<intg::result<void>> initialize() { co_return intg::result<void>{}; }
  asio::awaitable<intg::health_report> health_check() {
    auto t = co_await temperature("Paris");
    intg::health_report r;
    r.status = t ? intg::integration_status::healthy : intg::integration_status::unhealthy;
    co_return r;
  }
  asio::awaitable<void> cleanup() { co_return; }

  asio::awaitable<intg::result<double>> temperature(std::string city) {
    co_return co_await pipeline_.execute([&city](intg::attempt& a) -> asio::awaitable<intg::result<double>> {
      // Bind the attempt's cancellation slot to your async calls: that is how the timeout cancels.
      asio::steady_timer t(co_await asio::this_coro::executor, 5ms);
      co_await t.async_wait(asio::bind_cancellation_slot(a.cancellation_slot(), asio::use_awaitable));
      co_return city == "Lyon" ? 21.5 : 18.0;
    });
  }

 private:
  intg::integration_config config_;
  resilient pipeline_;  // thresholds from the configuration
};

asio::awaitable<void> run(const std::filesystem::path& file) {
  auto config = intg::load_config(file, "production");  // environments + tenants
  intg::registry registry{co_await asio::this_coro::executor};
  registry.register_integration<weather_api>(config.integration("weather", "tenant_123"), "tenant_123");
  co_await registry.enable_all();  // concurrent initialize(), each with a timeout

  auto* weather = registry.get<weather_api>("weather", "tenant_123");  // nullptr for other tenants
  auto t = co_await weather->temperature("Lyon");
  if (t) std::printf("Lyon: %.1f °C\n", *t);
  else std::cerr << t.error() << "\n";  // circuit_open, rate_limited, timeout, HTTP 503...

  std::cout << intg::render_dashboard(co_await registry.health_check_all());
  co_await registry.shutdown();
}

int main() {
  const auto file = std::filesystem::temp_directory_path() / "intg_tour.json";
  std::ofstream(file) << R"({"environments":{"production":{"integrations":{
      "weather":{"type":"external_api","timeout":"2s","rate_limits":{"requests_per_minute":600,"burst_limit":10}}}}},
    "tenants":{"tenant_123":{"sla":"99.9%"}}})";
  asio::io_context io;
  std::exception_ptr failure;
  asio::co_spawn(io, run(file), [&](std::exception_ptr e) { failure = e; });
  io.run();
  std::filesystem::remove(file);
  if (failure) std::rethrow_exception(failure);
}
