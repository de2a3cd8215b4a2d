// The cost of an operation that does not take intg::attempt& (`op()`), run through the full stack
// with its timeout armed. Boost 1.81 cannot cancel a nested awaitable from outside, so such an
// operation runs as a coroutine thread of its own (asio::co_spawn bound to the attempt's slot):
// that allocates, unlike every stack in policy_overhead. Take the attempt in operations that
// matter. See docs/benchmarks.md.
#include "bench_harness.hpp"

namespace {

using namespace bench;
BENCHMARK(BM_bare_awaitable);

void BM_full_stack(benchmark::State& state) {
  auto p = make_full_stack();
  run_pipeline(state, p, answer_op{}, true);
}
BENCHMARK(BM_full_stack);

void BM_full_stack_opaque_op(benchmark::State& state) {
  auto p = make_full_stack();
  run_pipeline(state, p, [] { return answer(); }, true);
}
BENCHMARK(BM_full_stack_opaque_op);

}  // namespace

BENCHMARK_MAIN();
