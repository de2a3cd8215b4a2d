// HTTP client throughput: C concurrent request loops over keep-alive connections on one thread,
// against a local server; prints requests/s and heap allocations per request. scripts/bench-http
// runs it next to wrk and an aiohttp client against the same server, in one run.
//
//   http_client serve PORT [BODY_BYTES]       single-threaded intg::http::server answering GET /
//   http_client run URL CONNECTIONS SECONDS   the client side
#include "malloc_counter.hpp"

#include <intg/http/client.hpp>
#include <intg/http/server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace asio = boost::asio;
namespace bh = boost::beast::http;

static int serve(int port, std::size_t body_bytes) {
  asio::io_context io(1);
  const std::string body(body_bytes, 'x');
  intg::http::server srv(io.get_executor(), [&body](intg::http::server_request&) -> asio::awaitable<intg::http::server_response> {
    co_return intg::http::make_response(bh::status::ok, body, "text/plain");
  });
  if (auto r = srv.listen("127.0.0.1", static_cast<std::uint16_t>(port)); !r) {
    std::fprintf(stderr, "%s\n", r.error().to_string().c_str());
    return 1;
  }
  srv.start();
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) { io.stop(); });
  std::printf("listening on 127.0.0.1:%u\n", srv.port());
  std::fflush(stdout);
  io.run();
  return 0;
}

static int run(const std::string& url, int connections, double seconds) {
  asio::io_context io(1);
  intg::http::client_options o;
  o.max_connections_per_host = static_cast<std::size_t>(connections);
  intg::http::client client(io.get_executor(), o);
  std::uint64_t done = 0, failed = 0, warm_allocs = 0, warm_done = 0;
  bool measuring = false, stop = false;
  using clock = std::chrono::steady_clock;

  auto loop = [&]() -> asio::awaitable<void> {
    auto req = intg::http::request::make(bh::verb::get, url);
    if (!req) {
      std::fprintf(stderr, "%s\n", req.error().to_string().c_str());
      co_return;
    }
    while (!stop) {
      auto r = co_await client.send(*req);
      if (!r || r->result_int() != 200) ++failed;
      else ++done;
    }
  };
  for (int i = 0; i < connections; ++i) asio::co_spawn(io, loop(), asio::detached);

  // Warm up for a second (connections open, buffers grow), then measure.
  clock::time_point t0;
  asio::steady_timer timer(io, std::chrono::seconds(1));
  timer.async_wait([&](auto) {
    measuring = true;
    warm_done = done;
    warm_allocs = bench::allocation_count();
    t0 = clock::now();
    timer.expires_after(std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds)));
    timer.async_wait([&](auto) {
      stop = true;
      const double elapsed = std::chrono::duration<double>(clock::now() - t0).count();
      const auto n = done - warm_done;
      const double allocs = n ? static_cast<double>(bench::allocation_count() - warm_allocs) / static_cast<double>(n) : 0;
      std::printf("intg::http::client: %.0f requests/s, %.2f allocations/request, %llu errors, %d connections\n",
                  static_cast<double>(n) / elapsed, allocs, static_cast<unsigned long long>(failed), connections);
      std::fflush(stdout);
    });
  });
  io.run();
  return failed ? 1 : 0;
}

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "serve" && argc >= 3) return serve(std::atoi(argv[2]), argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 128);
  if (mode == "run" && argc >= 5) return run(argv[2], std::atoi(argv[3]), std::atof(argv[4]));
  std::fprintf(stderr, "usage: http_client serve PORT [BODY_BYTES] | run URL CONNECTIONS SECONDS\n");
  return 2;
}
