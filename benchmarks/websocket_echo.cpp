// WebSocket echo, intg's side (scripts/bench-websocket runs it next to the ws package's):
//   websocket_echo server                          an echo server on 127.0.0.1 (port on stdout) until SIGTERM
//   websocket_echo client URL SIZE SECONDS DEPTH   one connection keeping DEPTH messages of SIZE bytes in
//                                                  flight for SECONDS (after a one-second warm-up); prints
//                                                  messages per second, round-trip percentiles, the
//                                                  client's CPU time per message (user + system, whole
//                                                  process) and the echoes received in all
// permessage-deflate off on both sides. Messages are binary; each echo's round trip is timed. The
// server prints its process id after its port, for the script to read its CPU time.
#include <intg/websocket.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <deque>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace ws = intg::websocket;
using clock_type = std::chrono::steady_clock;

// User and system CPU time of this process so far, in microseconds.
static double process_cpu_us() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

static int serve() {
  asio::io_context io(1);
  ws::server_options o;
  o.max_message_size = 1024 * 1024;
  ws::server srv(io.get_executor(), [](std::shared_ptr<ws::connection> c) -> asio::awaitable<void> {
    for (;;) {
      auto m = co_await c->receive();
      if (!m) co_return;
      auto sent = co_await c->send(m->data, m->kind);
      if (!sent) co_return;
    }
  }, o);
  if (!srv.listen("127.0.0.1", 0)) return 1;
  srv.start();
  std::printf("%u\n%ld\n", static_cast<unsigned>(srv.port()), static_cast<long>(getpid()));
  std::fflush(stdout);
  asio::signal_set stop(io, SIGTERM, SIGINT);
  stop.async_wait([&](boost::system::error_code, int) { asio::co_spawn(io, srv.shutdown(std::chrono::seconds(1)), asio::detached); });
  io.run();
  return 0;
}

static int client(const std::string& url, std::size_t size, double seconds, int depth) {
  asio::io_context io(1);
  int rc = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    ws::client_options o;
    o.reconnect = false;
    o.max_message_size = 1024 * 1024;
    ws::client c(io.get_executor(), url, o);
    if (auto r = co_await c.connect(); !r) {
      std::fprintf(stderr, "%s\n", r.error().to_string().c_str());
      rc = 1;
      co_return;
    }
    const std::string payload(size, 'x');
    std::deque<clock_type::time_point> sent;
    std::vector<double> rtt_us;
    rtt_us.reserve(1 << 20);
    for (int i = 0; i < depth; ++i) {
      sent.push_back(clock_type::now());
      co_await c.send(payload, ws::message_kind::binary);
    }
    const auto start = clock_type::now();
    const auto measure_from = start + std::chrono::seconds(1);
    const auto end = measure_from + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
    std::uint64_t counted = 0, total = 0;
    double cpu_from = -1;
    for (;;) {
      auto m = co_await c.receive();
      const auto now = clock_type::now();
      if (!m || m->data.size() != size) {
        std::fprintf(stderr, "echo failed\n");
        rc = 1;
        co_return;
      }
      ++total;
      if (now >= measure_from) {
        if (cpu_from < 0) cpu_from = process_cpu_us();
        ++counted;
        rtt_us.push_back(std::chrono::duration<double, std::micro>(now - sent.front()).count());
      }
      sent.pop_front();
      if (now >= end) break;
      sent.push_back(now);
      co_await c.send(payload, ws::message_kind::binary);
    }
    const double elapsed = std::chrono::duration<double>(clock_type::now() - measure_from).count();
    const double cpu_per_message = counted ? (process_cpu_us() - cpu_from) / static_cast<double>(counted) : 0.0;
    std::sort(rtt_us.begin(), rtt_us.end());
    auto pct = [&](double p) { return rtt_us.empty() ? 0.0 : rtt_us[static_cast<std::size_t>(p * static_cast<double>(rtt_us.size() - 1))]; };
    std::printf("{\"messages_per_s\": %.0f, \"p50_us\": %.1f, \"p99_us\": %.1f, \"cpu_us_per_message\": %.2f, \"echoes\": %llu}\n",
                static_cast<double>(counted) / elapsed, pct(0.50), pct(0.99), cpu_per_message, static_cast<unsigned long long>(total));
    co_await c.close();
  }, asio::detached);
  io.run();
  return rc;
}

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "server" && argc == 2) return serve();
  if (mode == "client" && argc == 6)
    return client(argv[2], std::stoul(argv[3]), std::stod(argv[4]), std::stoi(argv[5]));
  std::fprintf(stderr, "usage: websocket_echo server | client URL SIZE SECONDS DEPTH\n");
  return 2;
}
