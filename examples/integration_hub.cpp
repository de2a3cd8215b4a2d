// The operators' view: a registry of integrations for two tenants, each calling its dependency over
// HTTP through a resilient pipeline, watched by the health monitor and served on the seed's
// endpoints (/integrations/health, /integrations/health/{name}, /integrations/metrics,
// /integrations/status, /integrations/dashboard, /openapi.json).
//
// The dependencies are a local HTTP server started by this program (one path per integration;
// analytics_etl answers 503), so it runs anywhere without credentials.
//
//   integration_hub [--listen HOST:PORT] [--config PATH] [--environment NAME] [--for SECONDS]
//                   [--token BEARER]
#include "common/simulated_http_service.hpp"

#include <intg/observability/health_server.hpp>
#include <intg/intg.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

namespace asio = boost::asio;
namespace bh = boost::beast::http;
using namespace std::chrono_literals;

namespace {

using examples::http_service;
using examples::upstream;

std::string arg(int argc, char** argv, std::string_view flag, std::string fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == flag) return argv[i + 1];
  return fallback;
}

asio::awaitable<void> run(intg::config cfg, std::string listen, int seconds, std::string token) {
  auto ex = co_await asio::this_coro::executor;
  intg::http::server deps(ex, upstream(cfg));
  if (auto r = deps.listen("127.0.0.1", 0); !r) throw intg::exception(r.error());
  deps.start();

  auto metrics = std::make_shared<intg::observability::metrics_registry>();
  intg::registry_options ro;
  ro.metrics = metrics;
  ro.events = [](const intg::event& e) {
    if (e.level >= intg::event_level::warning) std::cout << "event: " << intg::format(e) << "\n";
  };
  intg::registry registry{ex, ro};
  for (const auto& tenant : cfg.tenant_ids()) {
    registry.set_tenant(*cfg.tenant(tenant));
    for (const auto& name : cfg.integration_names()) {
      auto c = cfg.integration(name, tenant);
      c.settings["endpoint"] = "http://127.0.0.1:" + std::to_string(deps.port()) + "/" + name;
      registry.register_integration<http_service>(std::move(c), tenant);
    }
  }
  co_await registry.enable_all();
  registry.start_monitor();

  intg::health_server_options ho;
  ho.metrics = metrics;
  if (!token.empty()) ho.bearer_token = intg::secret(std::move(token));
  intg::health_server health(ex, registry, std::move(ho));
  if (auto r = health.listen(listen); !r) throw intg::exception(r.error());
  health.start();
  const std::string base = "http://" + listen.substr(0, listen.rfind(':')) + ":" + std::to_string(health.port());
  std::cout << "Serving " << registry.size() << " integrations for " << cfg.tenant_ids().size() << " tenants ("
            << cfg.environment() << ") on " << base << "\n";
  for (const std::string& p : {std::string("/integrations/health"), "/integrations/health/spotify_main?tenant=" + cfg.tenant_ids().front(),
                 std::string("/integrations/metrics"), std::string("/integrations/status"),
                 std::string("/integrations/dashboard"), std::string("/openapi.json")})
    std::cout << "  " << base << p << "\n";
  std::cout << (seconds > 0 ? "Running for " + std::to_string(seconds) + " s.\n" : "Ctrl-C stops.\n") << std::flush;

  // A steady workload so that the metrics and the dashboard have calls to show.
  bool stopping = false;
  auto workload = [&]() -> asio::awaitable<void> {
    asio::steady_timer pace(ex);
    while (!stopping) {
      for (const auto& tenant : cfg.tenant_ids())
        for (const auto& name : cfg.integration_names())
          if (auto* s = registry.get<http_service>(name, tenant)) (void)co_await s->call();
      pace.expires_after(200ms);
      co_await pace.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  };
  bool workload_done = false;
  asio::co_spawn(ex, workload(), [&](std::exception_ptr) { workload_done = true; });

  asio::signal_set signals(ex, SIGINT, SIGTERM);
  asio::steady_timer deadline(ex);
  if (seconds > 0) {
    deadline.expires_after(std::chrono::seconds(seconds));
    deadline.async_wait([&](boost::system::error_code ec) {
      if (!ec) signals.cancel();
    });
  }
  (void)co_await signals.async_wait(asio::as_tuple(asio::use_awaitable));
  deadline.cancel();
  stopping = true;
  std::cout << "Stopping: finishing requests in progress.\n";
  for (asio::steady_timer t(ex); !workload_done;) {
    t.expires_after(10ms);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_await health.shutdown(5s);
  co_await registry.shutdown();
  co_await deps.shutdown(1s);
  std::cout << intg::render_dashboard(registry.snapshot(), [&] {
    intg::call_totals t;
    for (const auto& s : registry.snapshot()) t += s.calls;
    return t;
  }());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string path = arg(argc, argv, "--config", INTG_EXAMPLE_CONFIG);
    const std::string env = arg(argc, argv, "--environment", "development");
    const std::string listen = arg(argc, argv, "--listen", "127.0.0.1:8080");
    const int seconds = std::stoi(arg(argc, argv, "--for", "0"));
    const char* env_token = std::getenv("INTG_HEALTH_TOKEN");
    const std::string token = arg(argc, argv, "--token", env_token ? env_token : "");
    auto cfg = intg::load_config(path, env);
    asio::io_context io;
    std::exception_ptr failure;
    asio::co_spawn(io, run(std::move(cfg), listen, seconds, token), [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "integration_hub: " << e.what() << "\n";
    return 1;
  }
}
