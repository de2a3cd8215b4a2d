// An operation must return asio::awaitable<intg::result<T>>; a plain int is rejected by a static_assert
// that says so.
#include <intg/core/pipeline.hpp>
#include <intg/policy/retry.hpp>
boost::asio::awaitable<void> f(intg::pipeline<intg::retry<>>& p) {
  auto r = co_await p.execute([]() { return 42; });
  (void)r;
}
