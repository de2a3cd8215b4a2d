// Policies shared by two threads (each running its own io_context). Run under ThreadSanitizer too.
#define BOOST_TEST_MODULE intg_concurrency
#include <boost/test/unit_test.hpp>

#include "test_util.hpp"

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace asio = boost::asio;
using intg::errc;

namespace {

std::mutex last_error_mutex;
std::string last_error;

template <class Pipeline, class Op>
void hammer(Pipeline& p, Op op, int per_thread, std::atomic<int>& ok, std::atomic<int>& rejected,
            std::string_view key = {}) {
  auto worker = [&] {
    asio::io_context io;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < per_thread; ++i) {
            auto r = co_await p.execute(op, {.partition_key = key});
            (r ? ok : rejected).fetch_add(1);
            if (!r) {
              std::lock_guard lock(last_error_mutex);
              last_error = r.error().to_string();
            }
          }
        },
        asio::detached);
    io.run();
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
}

struct ok_op {
  asio::awaitable<intg::result<int>> operator()(intg::attempt&) const { co_return 1; }
};
struct failing_op {
  asio::awaitable<intg::result<int>> operator()(intg::attempt&) const { co_return intg::error::http(503); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_shared_rate_limiter_admits_exactly_its_burst_across_threads) {
  intg::pipeline<intg::rate_limiter<>> p{intg::rate_limiter<>::options{1e-3, 100, {}}};  // burst 100, then ~never
  std::atomic<int> ok{0}, rejected{0};
  hammer(p, ok_op{}, 1000, ok, rejected);
  BOOST_TEST(ok.load() == 100);
  BOOST_TEST(rejected.load() == 1900);
}

BOOST_AUTO_TEST_CASE(a_shared_breaker_opens_once_and_rejects_everyone) {
  intg::circuit_breaker<>::options o;
  o.failure_threshold = 10;
  o.recovery_timeout = 1h;
  std::atomic<int> opened{0};
  o.on_state_change = [&](intg::breaker_state, intg::breaker_state to) { opened += to == intg::breaker_state::open; };
  intg::pipeline<intg::circuit_breaker<>> p{o};
  std::atomic<int> ran{0}, open_rejections{0}, other{0};
  auto op = [&](intg::attempt&) -> asio::awaitable<intg::result<int>> {
    ran.fetch_add(1);
    co_return intg::error::http(503);
  };
  auto worker = [&] {
    asio::io_context io;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          for (int i = 0; i < 500; ++i) {
            auto r = co_await p.execute(op);
            if (r) other.fetch_add(1);
            else if (r.error() == errc::circuit_open && r.error().message().find("HTTP 503") != std::string_view::npos) open_rejections.fetch_add(1);
            else if (!(r.error() == errc::http_error)) other.fetch_add(1);
          }
        },
        asio::detached);
    io.run();
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  BOOST_TEST(opened.load() == 1);
  BOOST_TEST((p.get<intg::circuit_breaker<>>().state() == intg::breaker_state::open));
  // The operation ran until the tenth failure (plus at most the other thread's call in flight);
  // every later call was rejected without running, naming the failure that opened the breaker.
  BOOST_TEST(ran.load() >= 10);
  BOOST_TEST(ran.load() <= 11);
  BOOST_TEST(open_rejections.load() == 1000 - ran.load());
  BOOST_TEST(other.load() == 0);
}

BOOST_AUTO_TEST_CASE(a_shared_bulkhead_never_exceeds_its_limit) {
  intg::pipeline<intg::bulkhead<>> p{intg::bulkhead<>::options{1, 0, {}}};
  std::atomic<int> inside{0}, max_inside{0};
  auto op = [&](intg::attempt&) -> asio::awaitable<intg::result<int>> {
    const int now = ++inside;
    int seen = max_inside.load();
    while (now > seen && !max_inside.compare_exchange_weak(seen, now)) {
    }
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    --inside;
    co_return 1;
  };
  std::atomic<int> ok{0}, rejected{0};
  hammer(p, op, 2000, ok, rejected);
  BOOST_TEST(max_inside.load() == 1);
  BOOST_TEST(ok.load() + rejected.load() == 4000);
  BOOST_TEST(p.get<intg::bulkhead<>>().in_flight() == 0);
}

BOOST_AUTO_TEST_CASE(the_full_stack_with_a_keyed_limiter_admits_each_keys_burst_across_threads) {
  intg::keyed_rate_limiter<>::options ko;
  ko.requests_per_minute = 1e-3;  // burst 100 per key, then nothing for hours: timing cannot matter
  ko.burst_limit = 100;
  intg::pipeline<intg::tracing<>, intg::retry<>, intg::circuit_breaker<>, intg::keyed_rate_limiter<>, intg::timeout<>> p{
      intg::tracing<>::options{}, intg::retry<>::options{}, intg::circuit_breaker<>::options{}, ko, intg::timeout<>::options{}};
  std::atomic<int> ok{0}, rejected{0};
  hammer(p, ok_op{}, 1000, ok, rejected, "tenant_a");
  BOOST_TEST(ok.load() == 100, last_error);
  BOOST_TEST(rejected.load() == 1900);
  BOOST_TEST(last_error.find("rate limited") != std::string::npos, last_error);  // not retried, not a breaker failure
  std::atomic<int> ok_b{0}, rejected_b{0};
  hammer(p, ok_op{}, 1000, ok_b, rejected_b, "tenant_b");  // tenant_a's exhaustion does not touch tenant_b
  BOOST_TEST(ok_b.load() == 100);
  BOOST_TEST((p.get<intg::circuit_breaker<>>().state() == intg::breaker_state::closed));
}

BOOST_AUTO_TEST_CASE(concurrent_retries_never_withdraw_more_than_the_budget) {
  // ratio 0 and 1 retry per second over a ~10.7 s window: a reserve of exactly 10 retries.
  const intg::time_point now{std::chrono::hours(24)};
  constexpr int threads = 4, rounds = 200;
  std::vector<int> concurrent(rounds), afterwards(rounds);
  for (int round = 0; round < rounds; ++round) {
    intg::detail::retry_budget budget;
    budget.configure(0.0, 1, 10s);
    std::atomic<int> ready{0};
    std::vector<int> got(threads, 0);  // each thread writes only its own element
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < threads) {
        }
        for (int i = 0; i < 50; ++i) got[static_cast<std::size_t>(t)] += budget.try_withdraw(now);
      });
    for (auto& t : ts) t.join();
    for (int g : got) concurrent[static_cast<std::size_t>(round)] += g;
    while (budget.try_withdraw(now)) ++afterwards[static_cast<std::size_t>(round)];
  }
  int overshoots = 0, mismatches = 0;
  for (int r = 0; r < rounds; ++r) {
    overshoots += concurrent[static_cast<std::size_t>(r)] > 10;
    mismatches += concurrent[static_cast<std::size_t>(r)] + afterwards[static_cast<std::size_t>(r)] != 10;
  }
  BOOST_TEST(overshoots == 0);
  BOOST_TEST(mismatches == 0);  // and no token lost: together they take exactly the budget
}

BOOST_AUTO_TEST_CASE(deadlines_fire_on_two_threads_sharing_one_pipeline) {
  intg::pipeline<intg::timeout<>> p{intg::timeout<>::options{20ms}};
  auto op = [](intg::attempt& a) -> asio::awaitable<intg::result<int>> {
    asio::steady_timer t(co_await asio::this_coro::executor, 1h);
    auto [ec] = co_await t.async_wait(asio::bind_cancellation_slot(a.cancellation_slot(), asio::as_tuple(asio::use_awaitable)));
    co_return intg::error{ec};
  };
  std::atomic<int> ok{0}, timed_out{0};
  hammer(p, op, 5, ok, timed_out);
  BOOST_TEST(timed_out.load() == 10);
}
