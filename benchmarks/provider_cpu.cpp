// Client CPU per call: intg::stripe::client listing customers (one page of `limit` 10),
// intg::slack::client posting a message or intg::twilio::client sending an SMS, one call at a time on one thread, against the fakes of
// benchmarks/provider_fake_server (another process). WARMUP calls first (connection, caches), then
// CALLS calls timed by getrusage(RUSAGE_SELF) deltas: the CPU time of this process only, start-up
// excluded. Heap allocations per call are counted at the malloc level (malloc_counter.hpp).
// benchmarks/providers_node.js does the same with the official Node SDKs (scripts/bench-providers).
//
//   provider_cpu stripe|slack|twilio PORT CALLS WARMUP
#include "malloc_counter.hpp"
#include "provider_common.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace asio = boost::asio;

namespace {

double cpu_seconds(double* user = nullptr, double* sys = nullptr) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const double u = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) * 1e-6;
  const double s = static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) * 1e-6;
  if (user) *user = u;
  if (sys) *sys = s;
  return u + s;
}

struct measurement {
  long calls = 0;
  double cpu = 0, user = 0, sys = 0, wall = 0;
  std::uint64_t allocs = 0;
};

// Runs `one()` (an awaitable<bool>: true on success) warmup times, then calls times, measured.
template <class One>
asio::awaitable<bool> measure(One one, long calls, long warmup, measurement& m) {
  for (long i = 0; i < warmup; ++i)
    if (!co_await one()) co_return false;
  double u0, s0, u1, s1;
  cpu_seconds(&u0, &s0);
  const auto a0 = bench::allocation_count();
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < calls; ++i)
    if (!co_await one()) co_return false;
  const auto t1 = std::chrono::steady_clock::now();
  const auto a1 = bench::allocation_count();
  cpu_seconds(&u1, &s1);
  m.calls = calls;
  m.user = u1 - u0;
  m.sys = s1 - s0;
  m.cpu = m.user + m.sys;
  m.wall = std::chrono::duration<double>(t1 - t0).count();
  m.allocs = a1 - a0;
  co_return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: provider_cpu stripe|slack|twilio PORT CALLS WARMUP\n");
    return 2;
  }
  const std::string which = argv[1], port = argv[2];
  const long calls = std::atol(argv[3]), warmup = std::atol(argv[4]);
  asio::io_context io(1);
  measurement m;
  bool ok = false;
  std::string last_error, what;

  if (which == "stripe") {
    what = "stripe customers.list (limit 10)";
    intg::stripe::client stripe(bench::stripe_config(port), io.get_executor(), bench::local_fakes());
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          if (auto r = co_await stripe.initialize(); !r) {
            last_error = r.error().to_string();
            co_return;
          }
          intg::stripe::customer_list_params p{.limit = 10};
          auto one = [&]() -> asio::awaitable<bool> {
            auto r = co_await stripe.call(intg::stripe::list_customers, p);
            if (!r) last_error = r.error().to_string();
            else if (r->size() != 10) last_error = "expected 10 customers, got " + std::to_string(r->size());
            co_return r && r->size() == 10;
          };
          ok = co_await measure(one, calls, warmup, m);
        },
        asio::detached);
    io.run();
  } else if (which == "slack") {
    what = "slack chat.postMessage";
    intg::slack::client slack(bench::slack_config(port), io.get_executor(), bench::local_fakes());
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          if (auto r = co_await slack.initialize(); !r) {
            last_error = r.error().to_string();
            co_return;
          }
          intg::slack::post_message_args a{.channel = std::string(fakes::slack_fake::general), .text = "Deploy finished"};
          auto one = [&]() -> asio::awaitable<bool> {
            auto r = co_await slack.call(intg::slack::post_message, a);
            if (!r) last_error = r.error().to_string();
            co_return static_cast<bool>(r);
          };
          ok = co_await measure(one, calls, warmup, m);
        },
        asio::detached);
    io.run();
  } else if (which == "twilio") {
    what = "twilio messages.create";
    intg::twilio::client twilio(bench::twilio_config(port), io.get_executor(), bench::local_fakes());
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          if (auto r = co_await twilio.initialize(); !r) {
            last_error = r.error().to_string();
            co_return;
          }
          intg::twilio::send_params p{.To = "+15558675310", .From = std::string(fakes::twilio_fake::from_number), .Body = "Your code is 123456"};
          auto one = [&]() -> asio::awaitable<bool> {
            auto r = co_await twilio.call(intg::twilio::send_message, p);
            if (!r) last_error = r.error().to_string();
            co_return static_cast<bool>(r);
          };
          ok = co_await measure(one, calls, warmup, m);
        },
        asio::detached);
    io.run();
  } else {
    std::fprintf(stderr, "provider_cpu: stripe, slack or twilio, not %s\n", which.c_str());
    return 2;
  }
  if (!ok) {
    std::fprintf(stderr, "provider_cpu %s: failed: %s\n", which.c_str(), last_error.c_str());
    return 1;
  }
  const double n = static_cast<double>(m.calls);
  std::printf("intg %s: %ld calls after %ld warm-up: %.2f us CPU/call (user %.2f, sys %.2f), %.1f us wall/call, %.1f allocs/call\n",
              what.c_str(), m.calls, warmup, m.cpu * 1e6 / n, m.user * 1e6 / n, m.sys * 1e6 / n, m.wall * 1e6 / n,
              static_cast<double>(m.allocs) / n);
  return 0;
}
