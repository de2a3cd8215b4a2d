// Kit overhead: Stripe's customers.list (one page, limit 10) through the provider kit
// (`stripe.call(list_customers, p)` -> std::vector<customer>) next to the same request written by
// hand on intg::http::client (URL, Accept, Stripe-Version, bearer header, send, status check,
// boost::json::parse, rest::decode of the page's "data" into the same std::vector<customer>).
// Both run through the same default pipeline (tracing, retry, breaker, limiter, timeout) built
// from the same configuration, one call at a time, against the Stripe fake of
// benchmarks/provider_fake_server (another process).
//
// The time reported (real_time, what benchmarks/ratio.py divides) is this thread's CPU time per
// call (CLOCK_THREAD_CPUTIME_ID around each call, UseManualTime): the server's latency is not the
// client's cost. Run with interleaved repetitions:
//
//   provider_kit_overhead PORT --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
//       --benchmark_format=json > kit.json
//   python3 benchmarks/ratio.py kit.json BM_stripe_list_kit/min_time:1.000/manual_time \
//       BM_stripe_list_by_hand/min_time:1.000/manual_time
#include "malloc_counter.hpp"
#include "provider_common.hpp"

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include <time.h>

#include <cstdio>
#include <string>

namespace asio = boost::asio;

namespace {

std::string port;

double thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// `one()` is an awaitable<std::string>: "" on success, else why not. `done()` releases the
// client after the loop, before the io_context goes.
template <class One, class Done>
void run(benchmark::State& state, One one, Done done) {
  asio::io_context io(1);
  std::uint64_t allocs = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 200; ++i)  // connection, caches
          if (auto e = co_await one(); !e.empty()) {
            static std::string why;
            why = e;
            state.SkipWithError(why.c_str());
            for (auto _ : state) {}
            co_return;
          }
        const auto a0 = bench::allocation_count();
        for (auto _ : state) {
          const double c0 = thread_cpu();
          auto e = co_await one();
          state.SetIterationTime(thread_cpu() - c0);
          if (!e.empty()) {
            static std::string why;
            why = e;
            state.SkipWithError(why.c_str());
            break;
          }
        }
        allocs = bench::allocation_count() - a0;
      },
      asio::detached);
  io.run();
  done();  // the client goes before its io_context
  state.counters["allocs_per_op"] =
      benchmark::Counter(static_cast<double>(allocs) / static_cast<double>(std::max<std::int64_t>(1, state.iterations())));
}

void BM_stripe_list_kit(benchmark::State& state) {
  std::optional<intg::stripe::client> stripe;
  intg::stripe::customer_list_params p{.limit = 10};
  bool initialized = false;
  run(state, [&]() -> asio::awaitable<std::string> {
    if (!initialized) {
      stripe.emplace(bench::stripe_config(port), co_await asio::this_coro::executor, bench::local_fakes());
      if (auto r = co_await stripe->initialize(); !r) co_return r.error().to_string();
      initialized = true;
    }
    auto r = co_await stripe->call(intg::stripe::list_customers, p);
    if (!r) co_return r.error().to_string();
    if (r->size() != 10) co_return "expected 10 customers";
    benchmark::DoNotOptimize(r);
    co_return std::string();
  }, [&] { stripe.reset(); });
}

// The same request by hand: what a provider took before the kit, minus its error mapping.
struct by_hand {
  intg::integration_config cfg = bench::stripe_config(port);
  intg::http::client http;
  intg::secret key{std::string(fakes::stripe_fake::default_key)};
  std::string url = bench::stripe_base(port) + "/v1/customers?limit=10";
  intg::rest::default_pipeline pipeline{intg::tracing<>::options{}, intg::retry<>::options_from_config(cfg),
                                        intg::circuit_breaker<>::options_from_config(cfg),
                                        intg::rate_limiter<>::options_from_config(cfg), intg::timeout<>::options_from_config(cfg)};

  static intg::http::client_options http_options() {
    intg::http::client_options o;
    o.user_agent = "intg-stripe/0.2";
    return o;
  }
  explicit by_hand(asio::any_io_executor ex) : http(ex, http_options()) {}

  asio::awaitable<intg::result<std::vector<intg::stripe::customer>>> list() {
    auto op = [this](intg::attempt& a) -> asio::awaitable<intg::result<std::vector<intg::stripe::customer>>> {
      auto req = intg::http::request::make(intg::http::verb::get, url);
      if (!req) co_return req.error();
      req->set(intg::http::field::accept, "application/json");
      req->set("Stripe-Version", "2025-03-31.basil");
      req->bearer(key);
      auto res = co_await http.send(*req, a);
      if (!res) co_return res.error();
      if (res->result_int() != 200) co_return intg::error::http(static_cast<int>(res->result_int()));
      boost::json::parse_options po;
      po.max_depth = 64;
      boost::system::error_code ec;
      auto body = boost::json::parse(res->body(), ec, {}, po);
      if (ec || !body.is_object()) co_return intg::error(intg::errc::invalid_response, "stripe: answer is not a JSON object");
      auto* data = body.get_object().if_contains("data");
      if (!data || !data->is_array()) co_return intg::error(intg::errc::invalid_response, "stripe: page without data");
      co_return intg::rest::decode<std::vector<intg::stripe::customer>>(*data);
    };
    intg::call_options opts{.partition_key = cfg.tenant, .operation = "customers.list"};
    co_return co_await pipeline.execute(op, opts);
  }
};

void BM_stripe_list_by_hand(benchmark::State& state) {
  std::optional<by_hand> h;
  run(state, [&]() -> asio::awaitable<std::string> {
    if (!h) h.emplace(co_await asio::this_coro::executor);
    auto r = co_await h->list();
    if (!r) co_return r.error().to_string();
    if (r->size() != 10) co_return "expected 10 customers";
    benchmark::DoNotOptimize(r);
    co_return std::string();
  }, [&] { h.reset(); });
}

BENCHMARK(BM_stripe_list_kit)->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(1.0);
BENCHMARK(BM_stripe_list_by_hand)->UseManualTime()->Unit(benchmark::kMicrosecond)->MinTime(1.0);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (argc != 2) {
    std::fprintf(stderr, "usage: provider_kit_overhead PORT [--benchmark_...]\n");
    return 2;
  }
  port = argv[1];
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
