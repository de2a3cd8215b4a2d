// Client CPU per small-object PUT and GET: intg::s3::client against moto (scripts/bench-s3 starts
// it in IAM authentication mode), one call at a time on one thread over a kept-alive connection.
// WARMUP calls of each first, then CALLS PUTs and CALLS GETs of SIZE-byte objects, each timed by
// getrusage(RUSAGE_SELF) deltas: this process's CPU only (moto's is not counted). Heap allocations
// per call are counted at the malloc level. s3_client_cpu_boto3.py and s3_node/s3_cpu.js do the
// same with boto3 and @aws-sdk/client-s3. Prints one JSON line.
//
//   s3_client_cpu ENDPOINT KEY_ID SECRET BUCKET CALLS WARMUP SIZE
#include "malloc_counter.hpp"

#include <intg/providers/s3.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: s3_client_cpu ENDPOINT KEY_ID SECRET BUCKET CALLS WARMUP SIZE\n");
    return 2;
  }
  const std::string endpoint = argv[1], bucket = argv[4];
  const int calls = std::atoi(argv[5]), warmup = std::atoi(argv[6]);
  const std::string body(static_cast<std::size_t>(std::atoi(argv[7])), 'b');
  intg::integration_config cfg;
  cfg.name = "s3";
  cfg.settings = {{"base_url", endpoint}, {"access_key_id", argv[2]}, {"secret_access_key", argv[3]}, {"region", "us-east-1"}};
  cfg.rate_limits.requests_per_minute = 6'000'000;
  cfg.rate_limits.burst_limit = 100'000;
  intg::rest::client_options local;
  local.extra_allowed_hosts = {"127.0.0.1"};
  asio::io_context io;
  intg::s3::client s3(cfg, io.get_executor(), local);
  int rc = 1;
  boost::json::object out{{"impl", "intg"}};
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    if (auto ok = co_await s3.initialize(); !ok) {
      std::cerr << ok.error() << '\n';
      co_return;
    }
    (void)co_await s3.create_bucket(bucket);
    for (int i = 0; i < warmup; ++i) {
      auto p = co_await s3.put_object(bucket, "warm", body);
      auto g = co_await s3.get_object(bucket, "warm");
      if (!p || !g) {
        std::cerr << (p ? g.error() : p.error()) << '\n';
        co_return;
      }
    }
    for (const std::string op : {"put", "get"}) {
      const auto allocs0 = bench::allocation_count();
      const double cpu0 = cpu_seconds();
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < calls; ++i) {
        const std::string key = "k" + std::to_string(i % 64);
        bool ok = true;
        if (op == "put") ok = (co_await s3.put_object(bucket, key, body)).has_value();
        else ok = (co_await s3.get_object(bucket, key)).has_value();
        if (!ok) {
          std::cerr << op << " failed\n";
          co_return;
        }
      }
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      out[op + "_cpu_us"] = (cpu_seconds() - cpu0) * 1e6 / calls;
      out[op + "_wall_us"] = wall * 1e6 / calls;
      out[op + "_allocs"] = static_cast<double>(bench::allocation_count() - allocs0) / calls;
    }
    rc = 0;
  }, asio::detached);
  io.run();
  if (rc == 0) std::cout << boost::json::serialize(out) << '\n';
  return rc;
}
