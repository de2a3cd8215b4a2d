// The harness the policy benchmarks share: the operation, the full stack, and a loop that runs a
// benchmark inside a coroutine and reports allocations per call (counted at the malloc level by
// malloc_counter.hpp, which exactly one translation unit per binary includes).
#pragma once

#include "malloc_counter.hpp"

#include <intg/intg.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

namespace bench {

namespace asio = boost::asio;
using namespace std::chrono_literals;

inline asio::awaitable<intg::result<int>> answer() { co_return 42; }

// An operation in the preferred shape: it takes the attempt (and could bind its cancellation slot).
struct answer_op {
  asio::awaitable<intg::result<int>> operator()(intg::attempt&) const { co_return 42; }
};
struct failing_op {
  asio::awaitable<intg::result<int>> operator()(intg::attempt&) const { co_return intg::error::http(503); }
};

using full_stack = intg::pipeline<intg::tracing<>, intg::retry<>, intg::circuit_breaker<>, intg::rate_limiter<>,
                                  intg::timeout<>>;

inline full_stack make_full_stack(double rpm = 1e9, int burst = 1'000'000'000,
                                  std::shared_ptr<intg::span_observer> observer = nullptr) {
  intg::retry<>::options ro;
  ro.max_attempts = 3;
  ro.base_delay = 1ms;
  intg::circuit_breaker<>::options co;
  co.failure_threshold = 5;
  co.recovery_timeout = 3600s;
  intg::rate_limiter<>::options lo;
  lo.requests_per_minute = rpm;
  lo.burst_limit = burst;
  intg::timeout<>::options to;
  to.per_attempt = 30s;
  intg::tracing<>::options tr;
  tr.observer = std::move(observer);
  return full_stack{tr, ro, co, lo, to};
}

// Runs `body` as a coroutine on a private io_context, timing the benchmark loop inside it.
template <class Body>
void run_loop(benchmark::State& state, Body body) {
  asio::io_context io(1);
  std::uint64_t allocs = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await body(state, true);  // warm the frame caches outside the timed loop
        const std::uint64_t before = allocation_count();
        co_await body(state, false);
        allocs = allocation_count() - before;
      },
      asio::detached);
  io.run();
  state.counters["allocs_per_op"] =
      benchmark::Counter(static_cast<double>(allocs) / static_cast<double>(std::max<std::int64_t>(1, state.iterations())));
}

template <class Pipeline, class Op>
void run_pipeline(benchmark::State& state, Pipeline& p, Op op, bool expect_ok) {
  run_loop(state, [&](benchmark::State& st, bool warmup) -> asio::awaitable<void> {
    if (warmup) {
      for (int i = 0; i < 16; ++i) {
        auto r = co_await p.execute(op);
        benchmark::DoNotOptimize(r);
      }
      co_return;
    }
    for (auto _ : st) {
      auto r = co_await p.execute(op);
      if (r.has_value() != expect_ok) {
        static thread_local std::string why;
        why = r ? "unexpected success" : "unexpected error: " + r.error().to_string();
        st.SkipWithError(why.c_str());
        break;
      }
      benchmark::DoNotOptimize(r);
    }
  });
}

// co_await of the operation alone: the yardstick every ratio is taken against.
inline void BM_bare_awaitable(benchmark::State& state) {
  run_loop(state, [](benchmark::State& st, bool warmup) -> asio::awaitable<void> {
    if (warmup) {
      auto r = co_await answer();
      benchmark::DoNotOptimize(r);
      co_return;
    }
    for (auto _ : st) {
      auto r = co_await answer();
      benchmark::DoNotOptimize(r);
    }
  });
}

}  // namespace bench
