// Overhead of intg's policy stacks around an operation that completes at once, next to a bare
// co_await of the same operation. Every benchmark reports `allocs_per_op`, counted at the malloc
// level. See docs/benchmarks.md for the command and the recorded results.
#include "bench_harness.hpp"

#include <chrono>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using namespace bench;
BENCHMARK(BM_bare_awaitable);

void BM_steady_clock_now(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(std::chrono::steady_clock::now());
}
BENCHMARK(BM_steady_clock_now);

void BM_full_stack(benchmark::State& state) {
  auto p = make_full_stack();
  run_pipeline(state, p, answer_op{}, true);
}
BENCHMARK(BM_full_stack);

// As an integration in the registry runs: spans go to a call recorder (counters and a latency
// histogram), so the call's start and end are read on the precise clock.
void BM_full_stack_observed(benchmark::State& state) {
  intg::observability::metrics_registry registry;
  intg::observability::integration_metrics metrics{registry};
  auto recorder = std::make_shared<intg::observability::call_recorder>(metrics, "bench", "tenant");
  auto p = make_full_stack(1e9, 1'000'000'000, recorder);
  run_pipeline(state, p, answer_op{}, true);
  if (recorder->totals().calls == 0) state.SkipWithError("the recorder saw no call");
}
BENCHMARK(BM_full_stack_observed);

void BM_full_stack_open_circuit(benchmark::State& state) {
  auto p = make_full_stack();
  p.get<intg::circuit_breaker<>>().isolate();
  run_pipeline(state, p, answer_op{}, false);
}
BENCHMARK(BM_full_stack_open_circuit);

// Opened by real failures (the warm-up's): each rejection copies the shared error that names the
// failure which opened the breaker.
void BM_full_stack_tripped_circuit(benchmark::State& state) {
  auto p = make_full_stack();
  run_pipeline(state, p, failing_op{}, false);
  if (p.get<intg::circuit_breaker<>>().state() != intg::breaker_state::open) state.SkipWithError("the breaker did not open");
}
BENCHMARK(BM_full_stack_tripped_circuit);

void BM_full_stack_rate_limited(benchmark::State& state) {
  auto p = make_full_stack(1e-3, 1);  // one call, then nothing for ages
  run_pipeline(state, p, answer_op{}, false);
}
BENCHMARK(BM_full_stack_rate_limited);

// The same work as benchmarks/cockatiel/bench.mjs: retry + breaker + timeout + bulkhead around an
// operation that completes at once, one call at a time.
void BM_cockatiel_equivalent(benchmark::State& state) {
  intg::retry<>::options ro;
  ro.max_attempts = 3;
  ro.base_delay = 1ms;
  intg::circuit_breaker<>::options co;
  co.failure_threshold = 5;
  co.recovery_timeout = 60s;
  intg::pipeline<intg::retry<>, intg::circuit_breaker<>, intg::timeout<>, intg::bulkhead<>> p{
      ro, co, intg::timeout<>::options{30s}, intg::bulkhead<>::options{64, 0, {}}};
  run_pipeline(state, p, answer_op{}, true);
}
BENCHMARK(BM_cockatiel_equivalent);

template <class Policy>
void BM_single(benchmark::State& state) {
  intg::pipeline<Policy> p;
  run_pipeline(state, p, answer_op{}, true);
}
BENCHMARK(BM_single<intg::retry<>>)->Name("BM_retry");
BENCHMARK(BM_single<intg::circuit_breaker<>>)->Name("BM_circuit_breaker");
BENCHMARK(BM_single<intg::timeout<>>)->Name("BM_timeout");
BENCHMARK(BM_single<intg::bulkhead<>>)->Name("BM_bulkhead");
BENCHMARK(BM_single<intg::tracing<>>)->Name("BM_tracing");
BENCHMARK(BM_single<intg::fallback<intg::fallback_value<int>>>)->Name("BM_fallback");

void BM_rate_limiter(benchmark::State& state) {
  intg::pipeline<intg::rate_limiter<>> p{intg::rate_limiter<>::options{1e9, 1'000'000'000, {}}};
  run_pipeline(state, p, answer_op{}, true);
}
BENCHMARK(BM_rate_limiter);

void BM_keyed_rate_limiter(benchmark::State& state) {
  intg::keyed_rate_limiter<>::options o;
  o.requests_per_minute = 1e9;
  o.burst_limit = 1'000'000'000;
  intg::pipeline<intg::keyed_rate_limiter<>> p{o};
  run_loop(state, [&](benchmark::State& st, bool warmup) -> asio::awaitable<void> {
    const int n = warmup ? 16 : 0;
    for (int i = 0; i < n; ++i) (void)co_await p.execute(answer_op{}, {.partition_key = "tenant_123"});
    if (warmup) co_return;
    for (auto _ : st) {
      auto r = co_await p.execute(answer_op{}, {.partition_key = "tenant_123"});
      benchmark::DoNotOptimize(r);
    }
  });
}
BENCHMARK(BM_keyed_rate_limiter);

void BM_fallback_failure(benchmark::State& state) {
  intg::pipeline<intg::fallback<intg::fallback_value<int>>> p{{.handler = {7}}};
  run_pipeline(state, p, failing_op{}, true);
}
BENCHMARK(BM_fallback_failure);

// Two threads, each with its own io_context, sharing one pipeline (and so its breaker, limiter
// and retry budget).
full_stack shared_stack = make_full_stack();
void BM_full_stack_shared_two_threads(benchmark::State& state) { run_pipeline(state, shared_stack, answer_op{}, true); }
BENCHMARK(BM_full_stack_shared_two_threads)->Threads(2)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
