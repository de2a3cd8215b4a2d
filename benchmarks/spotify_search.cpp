// End-to-end Spotify searches through intg::spotify::client (app token, full default pipeline:
// tracing, retry, breaker, limiter, timeout; typed parsing of the paging of tracks) against a
// local Spotify server in another process: C concurrent callers on one thread, searches per
// second, p50/p99 latency and heap allocations per call. scripts/bench-spotify runs it next to
// the same workload in Python aiohttp.
//
//   spotify_search API_BASE ACCOUNTS_BASE CLIENT_ID CLIENT_SECRET CALLERS SECONDS
#include "malloc_counter.hpp"

#include <intg/providers/spotify/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace asio = boost::asio;

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: spotify_search API_BASE ACCOUNTS_BASE CLIENT_ID CLIENT_SECRET CALLERS SECONDS\n");
    return 2;
  }
  const int callers = std::atoi(argv[5]);
  const double seconds = std::atof(argv[6]);
  intg::integration_config cfg;
  cfg.name = "spotify_bench";
  cfg.settings["api_base"] = argv[1];
  cfg.settings["accounts_base"] = argv[2];
  cfg.settings["client_id"] = argv[3];
  cfg.settings["client_secret"] = argv[4];
  cfg.timeout = std::chrono::seconds(5);
  cfg.rate_limits.requests_per_minute = 1e9;  // measure the stack, not a quota
  cfg.rate_limits.burst_limit = 1'000'000;

  asio::io_context io(1);
  intg::rest::client_options opts;  // a local stand-in of the API: its host, plain http allowed
  if (auto u = intg::http::url::parse(argv[1])) opts.extra_allowed_hosts = {u->host()};
  intg::spotify::client<> sp(cfg, io.get_executor(), opts);
  const std::vector<std::string> queries{"midnight", "love", "night", "blue", "river", "city", "dream", "fire"};
  using clock = std::chrono::steady_clock;
  std::vector<double> latencies;  // microseconds, measured phase only
  latencies.reserve(1 << 20);
  std::uint64_t done = 0, failed = 0, warm_allocs = 0, warm_done = 0;
  bool measuring = false, stop = false;
  std::string last_error;
  clock::time_point t0;

  auto caller = [&](int id) -> asio::awaitable<void> {
    for (std::size_t i = static_cast<std::size_t>(id); !stop; ++i) {
      const auto start = clock::now();
      intg::spotify::search_options o;
      o.limit = 10;
      auto r = co_await sp.search_tracks(queries[i % queries.size()], o);
      if (r) {
        ++done;
        if (measuring) latencies.push_back(std::chrono::duration<double, std::micro>(clock::now() - start).count());
      } else {
        ++failed;
        last_error = r.error().to_string();
      }
    }
  };
  auto main_task = [&]() -> asio::awaitable<void> {
    auto init = co_await sp.initialize();
    if (!init) {
      std::fprintf(stderr, "initialize: %s\n", init.error().to_string().c_str());
      co_return;
    }
    for (int i = 0; i < callers; ++i) asio::co_spawn(io, caller(i), asio::detached);
    asio::steady_timer timer(io, std::chrono::seconds(1));  // warm-up: connections, token, buffers
    co_await timer.async_wait(asio::use_awaitable);
    measuring = true;
    warm_done = done;
    warm_allocs = bench::allocation_count();
    t0 = clock::now();
    timer.expires_after(std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds)));
    co_await timer.async_wait(asio::use_awaitable);
    const double elapsed = std::chrono::duration<double>(clock::now() - t0).count();
    const auto n = done - warm_done;
    const double allocs = n ? static_cast<double>(bench::allocation_count() - warm_allocs) / static_cast<double>(n) : 0;
    measuring = false;
    stop = true;
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double p) {
      return latencies.empty() ? 0.0 : latencies[std::min(latencies.size() - 1, static_cast<std::size_t>(p * static_cast<double>(latencies.size())))];
    };
    std::printf("intg::spotify::client: %.0f searches/s, p50 %.0f us, p99 %.0f us, %.1f allocations/call, %llu errors, %d callers\n",
                static_cast<double>(n) / elapsed, pct(0.50), pct(0.99), allocs, static_cast<unsigned long long>(failed), callers);
    if (failed) std::printf("  last error: %s\n", last_error.c_str());
    std::fflush(stdout);
  };
  asio::co_spawn(io, main_task(), asio::detached);
  io.run();
  return failed ? 1 : 0;
}
