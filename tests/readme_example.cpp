// The program from the core issue and the README tour: it must compile against include/ and
// single_include/ and behave as its comments say.
#include <intg/intg.hpp>
namespace asio = boost::asio;
using namespace std::chrono_literals;
struct echo {
  intg::integration_config config;
  explicit echo(intg::integration_config c) : config(std::move(c)) {}
  std::string_view name() const noexcept { return config.name; }
  asio::awaitable<intg::result<void>> initialize() { co_return intg::result<void>{}; }
  asio::awaitable<intg::health_report> health_check() {
    intg::health_report r; r.status = intg::integration_status::healthy; co_return r; }
  asio::awaitable<void> cleanup() { co_return; }
};
static_assert(intg::integration<echo>);
static_assert(!intg::integration<int>);
using stack = intg::pipeline<intg::tracing<>, intg::retry<>, intg::circuit_breaker<>,
                             intg::rate_limiter<>, intg::timeout<>>;
asio::awaitable<void> demo() {
  intg::retry<>::options ro; ro.max_attempts = 3; ro.base_delay = 1ms;
  intg::circuit_breaker<>::options co; co.failure_threshold = 5; co.recovery_timeout = 60s;
  intg::rate_limiter<>::options lo; lo.requests_per_minute = 6000; lo.burst_limit = 20;
  intg::timeout<>::options to; to.per_attempt = 30s;
  stack p{intg::tracing<>::options{}, ro, co, lo, to};
  intg::result<int> r = co_await p.execute([]() -> asio::awaitable<intg::result<int>> { co_return 42; });
  if (r.value() != 42) throw 1;
  intg::registry reg{co_await asio::this_coro::executor};
  intg::integration_config cfg; cfg.name = "echo_main"; cfg.category = intg::categories::external_api;
  reg.register_integration<echo>(cfg, "tenant_123");
  co_await reg.enable_all();
  echo* mine = reg.get<echo>("echo_main", "tenant_123");    // non-null
  echo* theirs = reg.get<echo>("echo_main", "tenant_999");  // nullptr
  if (!mine || theirs) throw 2;
  auto health = co_await reg.health_check_all();
  if (health.size() != 1 || health[0].status != intg::integration_status::healthy) throw 3;
  std::puts("issue example ok");
}
int main() { asio::io_context io; asio::co_spawn(io, demo(), [](std::exception_ptr e) { if (e) std::rethrow_exception(e); }); io.run(); }
