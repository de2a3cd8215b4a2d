// Registry scale in one process: 10,000 integration instances (100 names x 100 tenants), each
// with the default five-policy pipeline (rest::default_pipeline: tracing, retry, circuit breaker,
// rate limiter, timeout, built from the configuration) and its metrics, in one intg::registry with
// a metrics registry. Measures register and enable_all() time, memory per idle instance after
// enable (resident set growth and live heap bytes, both divided by the number of instances), and
// the health server's /integrations/metrics and /integrations/status answers for all of them.
//
// Usage: registry_scale [rest|pipeline] [names=100] [tenants=100]
//   rest      rest::client<Provider> (the provider kit, as registry.register_integration<stripe::client>
//             would register it; initialize() reads settings only, no network)
//   pipeline  an integration of its own that owns rest::default_pipeline wired to the registry's
//             call recorder, as docs/custom_integration.md describes: the pipeline and metrics alone
// Prints one line of key=value pairs; scripts/bench-registry runs it several times and tabulates.
// With a fourth argument `live`, exits right after enable_all() without freeing anything, so that
// a heap profiler (heaptrack) reports every live allocation by its site.
#include "malloc_counter.hpp"

#include <intg/intg.hpp>
#include <intg/observability/health_server.hpp>
#include <intg/rest.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace asio = boost::asio;

namespace registry_bench {  // named: the kit's coroutine frames hold these types

struct bench_provider {
  static constexpr std::string_view name = "bench";
  static constexpr std::string_view default_base_url = "https://api.example.com";
  static constexpr std::string_view allowed_hosts[] = {"api.example.com"};
  static constexpr intg::rest::call health{intg::http::verb::get, "/v1/health"};
};
using rest_integration = intg::rest::client<bench_provider>;

// The pipeline and its metrics without the kit's HTTP client: what docs/custom_integration.md
// builds, with the pipeline rest::client gives by default, wired to the registry's recorder.
class pipeline_integration {
 public:
  pipeline_integration(intg::integration_config config, intg::registry_services& services)
      : config_(std::move(config)), pipeline_(make(config_, services.calls)) {}
  std::string_view name() const noexcept { return config_.name; }
  asio::awaitable<intg::result<void>> initialize() { co_return intg::result<void>{}; }
  asio::awaitable<intg::health_report> health_check() { co_return intg::health_report{}; }
  asio::awaitable<void> cleanup() { co_return; }
  boost::json::object describe() const { return pipeline_.describe(); }

 private:
  static intg::rest::default_pipeline make(const intg::integration_config& c,
                                           const std::shared_ptr<intg::observability::call_recorder>& calls) {
    auto cb = intg::circuit_breaker<>::options_from_config(c);
    cb.on_state_change = calls->breaker_listener();
    intg::tracing<>::options t;
    t.observer = calls;
    return intg::rest::default_pipeline(t, intg::retry<>::options_from_config(c), cb,
                                        intg::rate_limiter<>::options_from_config(c),
                                        intg::timeout<>::options_from_config(c));
  }
  intg::integration_config config_;
  intg::rest::default_pipeline pipeline_;
};

}  // namespace registry_bench

namespace {
using registry_bench::pipeline_integration;
using registry_bench::rest_integration;

std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

std::size_t heap_bytes() {
  const struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;  // chunks in use (with their headers), and mmapped blocks
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The configuration a user writes: one section per integration, defaults for the policies.
std::string config_json(int names) {
  std::string j = R"({"environments":{"production":{"integrations":{)";
  for (int i = 0; i < names; ++i) {
    char buf[96];
    std::snprintf(buf, sizeof buf, R"(%s"integration_%03d":{"health_check_interval":"30s"})", i ? "," : "", i);
    j += buf;
  }
  return j + "}}}}";
}

struct memory {
  std::size_t rss, heap;
  std::uint64_t allocs;
  static memory now() { return {resident_bytes(), heap_bytes(), bench::allocation_count()}; }
};

template <class Integration>
int run(const char* variant, int names, int tenants, bool live) {
  const intg::config config = intg::config::parse(config_json(names), "production");
  std::vector<intg::integration_config> configs;
  std::vector<std::string> tenant_ids;
  for (int t = 0; t < tenants; ++t) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "tenant_%03d", t);
    tenant_ids.emplace_back(buf);
  }

  asio::io_context io(1);
  auto metrics = std::make_shared<intg::observability::metrics_registry>();
  auto reg = std::make_unique<intg::registry>(io.get_executor(), intg::registry_options{.metrics = metrics});
  const std::size_t n = static_cast<std::size_t>(names) * static_cast<std::size_t>(tenants);
  configs.reserve(n);
  for (const auto& tenant : tenant_ids)
    for (const auto& name : config.integration_names()) configs.push_back(config.integration(name, tenant));

  const memory m0 = memory::now();
  auto t0 = std::chrono::steady_clock::now();
  for (auto& c : configs) {
    std::string tenant = c.tenant;
    reg->register_integration<Integration>(std::move(c), std::move(tenant));
  }
  const double register_ms = ms_since(t0);
  configs.clear();
  configs.shrink_to_fit();
  const memory m1 = memory::now();

  double enable_ms = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        const auto t = std::chrono::steady_clock::now();
        co_await reg->enable_all();
        enable_ms = ms_since(t);
      },
      asio::detached);
  io.run();
  io.restart();
  const memory m2 = memory::now();
  if (live) std::exit(0);  // no destructor runs: everything allocated so far is reported as live
  // What of the growth is free heap glibc kept (enable_all's coroutine frames, freed by now).
  malloc_trim(0);
  const std::size_t rss_trimmed = resident_bytes();
  std::size_t running = 0;
  for (const auto& s : reg->snapshot()) running += s.status == intg::integration_status::unknown;
  if (running != n) {
    std::fprintf(stderr, "only %zu of %zu integrations are running after enable_all()\n", running, n);
    return 1;
  }

  // The health server's answers, as a scraper and an operator get them (no socket involved).
  intg::health_server server(io.get_executor(), *reg, {.metrics = metrics});
  auto render = [&](const char* path, std::size_t& bytes) {
    std::vector<double> ms;
    for (int r = 0; r < 5; ++r) {
      intg::http::server_request req{boost::beast::http::verb::get, path, 11};
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            const auto t = std::chrono::steady_clock::now();
            auto res = co_await server.handle(req);
            ms.push_back(ms_since(t));
            if (res.result() != boost::beast::http::status::ok) std::fprintf(stderr, "%s answered %d\n", path, res.result_int());
            bytes = res.body().size();
          },
          asio::detached);
      io.run();
      io.restart();
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  };
  std::size_t metrics_bytes = 0, status_bytes = 0;
  const double metrics_ms = render("/integrations/metrics", metrics_bytes);
  const double status_ms = render("/integrations/status", status_bytes);

  const auto per = [&](std::size_t after, std::size_t before) {
    return (static_cast<double>(after) - static_cast<double>(before)) / static_cast<double>(n);
  };
  std::printf(
      "variant=%s instances=%zu register_ms=%.1f enable_all_ms=%.1f rss_per_instance=%.0f rss_per_instance_trimmed=%.0f "
      "heap_per_instance=%.0f "
      "heap_per_instance_registered=%.0f allocs_per_instance=%.1f metrics_ms=%.1f metrics_kib=%.0f status_ms=%.1f "
      "status_kib=%.0f\n",
      variant, n, register_ms, enable_ms, per(m2.rss, m0.rss), per(rss_trimmed, m0.rss), per(m2.heap, m0.heap), per(m1.heap, m0.heap),
      static_cast<double>(m2.allocs - m0.allocs) / static_cast<double>(n), metrics_ms,
      static_cast<double>(metrics_bytes) / 1024.0, status_ms, static_cast<double>(status_bytes) / 1024.0);

  asio::co_spawn(io, reg->shutdown(), asio::detached);
  io.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view variant = argc > 1 ? argv[1] : "rest";
  const int names = argc > 2 ? std::atoi(argv[2]) : 100;
  const int tenants = argc > 3 ? std::atoi(argv[3]) : 100;
  if (names < 1 || tenants < 1 || names > 1000) {
    std::fprintf(stderr, "usage: registry_scale [rest|pipeline] [names=100 (1..1000)] [tenants=100]\n");
    return 2;
  }
  const bool live = argc > 4 && std::string_view(argv[4]) == "live";
  if (variant == "rest") return run<rest_integration>("rest", names, tenants, live);
  if (variant == "pipeline") return run<pipeline_integration>("pipeline", names, tenants, live);
  std::fprintf(stderr, "unknown variant '%.*s' (rest or pipeline)\n", static_cast<int>(variant.size()), variant.data());
  return 2;
}
