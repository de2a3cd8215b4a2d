// intg::shared_rate_limiter against a redis-server on loopback (scripts/bench-shared starts one):
//  1. the latency a decision adds, p50/p99/p99.9 of one caller's calls through a one-layer
//     pipeline, next to the local rate_limiter: without leasing (a round trip per call, the link
//     on a thread of its own or on the caller's thread) and with leasing;
//  2. Redis round trips per 1,000 admitted calls with leasing, at R = 6,000/min and 600,000/min,
//     calling at twice R for SECONDS: four processes sharing the limit (replicas = 4), and one.
// Usage: shared_rate_limit PORT [USER PASSWORD] [SECONDS=10]
#include <intg/intg.hpp>
#include <intg/shared.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

asio::awaitable<intg::result<int>> nothing(intg::attempt&) { co_return 1; }

intg::redis::options redis_options(int argc, char** argv) {
  intg::redis::options o;
  o.port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  if (argc > 3) {
    o.username = argv[2];
    o.password = intg::secret(argv[3]);
  }
  o.command_timeout = 1s;
  return o;
}

std::string fresh_key(const char* what) {
  static int n = 0;
  return std::string("bench:shared:") + what + ":" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()) +
         ":" + std::to_string(++n);
}

struct percentiles {
  double p50, p99, p999, mean;
};

percentiles summarize(std::vector<double>& ns) {
  std::sort(ns.begin(), ns.end());
  double sum = 0;
  for (double v : ns) sum += v;
  auto at = [&](double q) { return ns[static_cast<std::size_t>(q * static_cast<double>(ns.size() - 1))]; };
  return {at(0.50), at(0.99), at(0.999), sum / static_cast<double>(ns.size())};
}

// One caller, `n` calls one after the other; nanoseconds per call (the clock reads included).
template <class Stack>
std::vector<double> latencies(asio::io_context& io, Stack& p, int n) {
  std::vector<double> ns;
  ns.reserve(static_cast<std::size_t>(n));
  int refused = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    for (int i = 0; i < n / 10; ++i) (void)co_await p.execute(nothing);  // warm up: connection, script, lease size
    for (int i = 0; i < n; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = co_await p.execute(nothing);
      ns.push_back(static_cast<double>((std::chrono::steady_clock::now() - t0).count()));
      if (!r) ++refused;
    }
    io.stop();  // a link on this context keeps reading its socket: run() would not return
  }, asio::detached);
  io.restart();
  io.run();
  if (refused) std::printf("  (%d calls refused: the limit is meant to be out of reach here)\n", refused);
  return ns;
}

void report(const char* what, std::vector<double> ns, double baseline_p50) {
  const auto p = summarize(ns);
  std::printf("%-58s p50 %9.0f ns  p99 %9.0f ns  p99.9 %9.0f ns  mean %9.0f ns  (p50 +%.0f ns over local)\n", what, p.p50,
              p.p99, p.p999, p.mean, p.p50 - baseline_p50);
}

intg::shared_rate_limit_options shared(std::shared_ptr<intg::shared::redis_link> link, double rpm, int burst, int replicas,
                                       double lease_fraction) {
  intg::shared_rate_limit_options o;
  o.requests_per_minute = rpm;
  o.burst_limit = burst;
  o.link = std::move(link);
  o.key = fresh_key("bench");
  o.replicas = replicas;
  o.lease_fraction = lease_fraction;
  return o;
}

struct run_result {
  std::uint64_t calls = 0, admitted = 0, round_trips = 0, refusals = 0;
  std::int64_t lease_cap = 0;
};

// Calls at `share` of twice the limit for `seconds` (in 1 ms ticks) through a limiter on `key`.
run_result call_for(const intg::redis::options& ro, const std::string& key, double rpm, int replicas, double share, int seconds) {
  auto link = std::make_shared<intg::shared::redis_link>(ro);
  auto o = shared(link, rpm, static_cast<int>(rpm / 60), replicas, 0.05);  // a burst of a second's worth
  o.key = key;
  intg::pipeline<intg::shared_rate_limiter<>> p(o);
  asio::io_context io;
  run_result out;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    asio::steady_timer tick(io);
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    const double per_tick = share * 2 * rpm / 60'000;
    double credit = 0;
    auto next = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < end) {
      for (credit += per_tick; credit >= 1; credit -= 1) {
        ++out.calls;
        if (co_await p.execute(nothing)) ++out.admitted;
      }
      next += 1ms;
      tick.expires_at(next);
      co_await tick.async_wait(asio::use_awaitable);
    }
  }, asio::detached);
  io.run();
  const auto st = p.get<intg::shared_rate_limiter<>>().stats();
  boost::json::object d;
  p.get<intg::shared_rate_limiter<>>().describe(d, intg::steady_clock{}.now());
  out.round_trips = st.round_trips;
  out.refusals = st.refusals;
  out.lease_cap = d.at("rate_limiter").as_object().at("shared").as_object().at("lease_cap").as_int64();
  return out;
}

void print(const char* who, double rpm, int replicas, int seconds, const run_result& r) {
  std::printf("R = %7.0f/min, %-22s lease cap %5lld: %7llu calls, %7llu admitted (%5.1f%% of R x %ds), %5llu round trips "
              "(%llu refused) = %6.1f per 1,000 admitted\n",
              rpm, who, static_cast<long long>(r.lease_cap), static_cast<unsigned long long>(r.calls),
              static_cast<unsigned long long>(r.admitted), 100.0 * static_cast<double>(r.admitted) / (rpm / 60 * seconds), seconds,
              static_cast<unsigned long long>(r.round_trips), static_cast<unsigned long long>(r.refusals),
              1000.0 * static_cast<double>(r.round_trips) / static_cast<double>(std::max<std::uint64_t>(r.admitted, 1)));
  (void)replicas;
}

// `n` processes (forked: call before this process starts any thread), each calling at 1/n of
// twice the limit, on one key; their results added up.
run_result processes(const intg::redis::options& ro, double rpm, int n, int seconds) {
  const std::string key = fresh_key("procs");
  std::vector<pid_t> pids;
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    int fd[2];
    if (::pipe(fd) != 0) std::abort();
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fd[0]);
      const run_result r = call_for(ro, key, rpm, n, 1.0 / n, seconds);
      if (::write(fd[1], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) ::_exit(1);
      ::_exit(0);
    }
    ::close(fd[1]);
    pids.push_back(pid);
    fds.push_back(fd[0]);
  }
  run_result sum;
  for (int i = 0; i < n; ++i) {
    run_result r;
    if (::read(fds[static_cast<std::size_t>(i)], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) std::abort();
    ::close(fds[static_cast<std::size_t>(i)]);
    ::waitpid(pids[static_cast<std::size_t>(i)], nullptr, 0);
    sum.calls += r.calls;
    sum.admitted += r.admitted;
    sum.round_trips += r.round_trips;
    sum.refusals += r.refusals;
    sum.lease_cap = r.lease_cap;
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT [USER PASSWORD] [SECONDS=10]\n", argv[0]);
    return 2;
  }
  const auto ro = redis_options(argc, argv);
  const int seconds = argc > 4 ? std::atoi(argv[4]) : 10;
  const int n = 200'000;
  constexpr double unreachable = 6e9;  // per minute: the limit never refuses in part 1

  std::printf("== Redis round trips per 1,000 admitted calls with leasing (window 1 min, lease_fraction 0.05, burst = 1 s of R),\n"
              "   calling at 2 x R for %d s; the first second's burst is admitted on top of R\n", seconds);
  for (double rpm : {6'000.0, 600'000.0}) {
    print("4 processes, replicas 4", rpm, 4, seconds, processes(ro, rpm, 4, seconds));
    print("1 process, replicas 1", rpm, 1, seconds, call_for(ro, fresh_key("one"), rpm, 1, 1.0, seconds));
  }

  std::printf("\n== Decision latency, one caller, %d calls through pipeline<limiter> (Redis on loopback)\n", n);
  asio::io_context io;
  intg::pipeline<intg::rate_limiter<>> local(intg::rate_limit_options{unreachable, 1'000'000, {}});
  auto base = latencies(io, local, n);
  const double base_p50 = summarize(base).p50;
  report("local rate_limiter", base, base_p50);
  {
    auto link = std::make_shared<intg::shared::redis_link>(ro);
    intg::pipeline<intg::shared_rate_limiter<>> p(shared(link, unreachable, 1'000'000, 1, 0));
    report("shared, no leasing (link on its own thread)", latencies(io, p, n / 10), base_p50);
  }
  {
    auto link = std::make_shared<intg::shared::redis_link>(io.get_executor(), ro);
    intg::pipeline<intg::shared_rate_limiter<>> p(shared(link, unreachable, 1'000'000, 1, 0));
    report("shared, no leasing (link on the caller's thread)", latencies(io, p, n / 10), base_p50);
  }
  for (int cap : {100, 1000}) {
    auto link = std::make_shared<intg::shared::redis_link>(ro);
    intg::pipeline<intg::shared_rate_limiter<>> p(shared(link, unreachable, cap, 1, 0.05));
    const std::string what = "shared, leasing (leases of up to " + std::to_string(cap) + ")";
    report(what.c_str(), latencies(io, p, n), base_p50);
    const auto st = p.get<intg::shared_rate_limiter<>>().stats();
    std::printf("%-58s %llu round trips for %d calls\n", "", static_cast<unsigned long long>(st.round_trips), n + n / 10);
  }
}
