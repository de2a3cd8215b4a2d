// Produce throughput against librdkafka's mock cluster (3 brokers in this process, on loopback):
// intg::kafka::producer next to the same work written on librdkafka's C API, in one run, each
// run on a fresh topic of 6 partitions, the two orders alternating from run to run.
//  - C API: rd_kafka_producev of every message (waiting in rd_kafka_poll while the queue is
//    full), delivery reports counted in the dr_msg_cb, rd_kafka_flush at the end.
//  - intg: MAX_QUEUED coroutines, each co_await producer::send (its delivery report) in turn.
// Both use the same librdkafka configuration, built by the same function (idempotent, acks=all,
// queue.buffering.max.messages = the in-flight bound), and count from the first message to the
// last delivery report, after one warm-up message (connections, metadata and producer id ready).
// Usage: kafka_produce [MESSAGES=200000] [RUNS=5] [PAYLOAD_BYTES=100] [MAX_QUEUED=10000]
// (KAFKA_PRODUCE_STATS=1 also prints the intg producer's wake-ups and waits for room on stderr)
#include <intg/kafka.hpp>

#include <librdkafka/rdkafka_mock.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace kafka = intg::kafka;
using clock_type = std::chrono::steady_clock;

namespace {

struct config {
  int messages = 200'000;
  int runs = 5;
  std::size_t payload = 100;
  std::size_t max_queued = 10'000;
};

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "kafka_produce: %s\n", why.c_str());
  std::exit(1);
}

kafka::options producer_options(const std::string& bootstraps, const config& cfg) {
  kafka::options o;
  o.bootstrap_servers = bootstraps;
  o.client_id = "intg-bench";
  o.max_queued_messages = cfg.max_queued;
  return o;
}

std::string key_of(int i) { return "k" + std::to_string(i % 17); }

struct c_counts {
  int delivered = 0;
  int failed = 0;
};

double run_c_api(const std::string& bootstraps, const std::string& topic, const config& cfg, const std::string& payload) {
  auto conf = kafka::detail::make_conf(producer_options(bootstraps, cfg), kafka::detail::role::producer);
  if (!conf) die(conf.error().to_string());
  c_counts counts;
  rd_kafka_conf_set_opaque(conf->get(), &counts);
  rd_kafka_conf_set_dr_msg_cb(conf->get(), [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* c = static_cast<c_counts*>(opaque);
    if (m->err) ++c->failed;
    else ++c->delivered;
  });
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof errstr);
  if (!rk) die(errstr);
  conf.value().release();
  auto produce = [&](int i) {
    const std::string key = key_of(i);
    for (;;) {
      const auto err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
                                         RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                                         RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) die(std::string("producev: ") + rd_kafka_err2str(err));
      rd_kafka_poll(rk, 1);  // serve delivery reports until there is room
    }
  };
  produce(-1);  // warm-up
  rd_kafka_flush(rk, 30'000);
  if (counts.delivered != 1) die("C API: the warm-up message was not delivered");
  counts = {};
  const auto start = clock_type::now();
  for (int i = 0; i < cfg.messages; ++i) {
    produce(i);
    if (i % 1'000 == 0) rd_kafka_poll(rk, 0);
  }
  if (rd_kafka_flush(rk, 120'000) != RD_KAFKA_RESP_ERR_NO_ERROR) die("C API: flush timed out");
  const std::chrono::duration<double> took = clock_type::now() - start;
  rd_kafka_destroy(rk);
  if (counts.delivered != cfg.messages || counts.failed != 0)
    die("C API: " + std::to_string(counts.delivered) + " delivered, " + std::to_string(counts.failed) + " failed");
  return cfg.messages / took.count();
}

double run_intg(const std::string& bootstraps, const std::string& topic, const config& cfg, const std::string& payload) {
  asio::io_context io;
  auto p = kafka::producer::create(io.get_executor(), producer_options(bootstraps, cfg));
  if (!p) die(p.error().to_string());
  int delivered = 0, failed = 0, next = 0, senders_done = 0;
  const int senders = static_cast<int>(std::min<std::size_t>(cfg.max_queued, static_cast<std::size_t>(cfg.messages)));
  clock_type::time_point start, end;
  asio::steady_timer all_done(io, clock_type::time_point::max());  // cancelled by the last sender
  auto sender = [&]() -> asio::awaitable<void> {
    while (next < cfg.messages) {
      const int i = next++;
      const std::string key = key_of(i);
      auto d = co_await p->send(topic, key, payload);
      if (d) ++delivered;
      else ++failed;
    }
    if (++senders_done == senders) {
      end = clock_type::now();
      all_done.cancel();
    }
  };
  auto run = [&]() -> asio::awaitable<void> {
    const std::string key = key_of(-1);
    auto warm = co_await p->send(topic, key, payload);
    if (!warm) die("intg: the warm-up message was not delivered: " + warm.error().to_string());
    start = clock_type::now();
    for (int s = 0; s < senders; ++s) asio::co_spawn(io, sender(), asio::detached);
    co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    (void)co_await p->close();
    io.stop();  // the producer keeps a wait on its queue's eventfd until it is destroyed
  };
  asio::co_spawn(io, run(), asio::detached);
  io.run();
  if (delivered != cfg.messages || failed != 0)
    die("intg: " + std::to_string(delivered) + " delivered, " + std::to_string(failed) + " failed");
  if (std::getenv("KAFKA_PRODUCE_STATS"))
    std::fprintf(stderr, "intg producer: %llu wakeups, %llu sends waited for room, at most %zu queued\n",
                 static_cast<unsigned long long>(p->stats().wakeups), static_cast<unsigned long long>(p->stats().waited_for_room),
                 p->stats().max_queued_seen);
  const std::chrono::duration<double> took = end - start;
  return cfg.messages / took.count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  config cfg;
  if (argc > 1) cfg.messages = std::atoi(argv[1]);
  if (argc > 2) cfg.runs = std::atoi(argv[2]);
  if (argc > 3) cfg.payload = static_cast<std::size_t>(std::atol(argv[3]));
  if (argc > 4) cfg.max_queued = static_cast<std::size_t>(std::atol(argv[4]));
  if (cfg.messages <= 0 || cfg.runs <= 0 || cfg.max_queued == 0) die("usage: kafka_produce [MESSAGES] [RUNS] [PAYLOAD_BYTES] [MAX_QUEUED]");

  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
  char errstr[512];
  rd_kafka_t* owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!owner) die(errstr);
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(owner, 3);
  if (!mc) die("cannot start the mock cluster");
  const std::string bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
  const std::string payload(cfg.payload, 'x');

  std::printf("librdkafka %s, mock cluster of 3 brokers, %d messages of %zu bytes per run, in-flight bound %zu\n",
              rd_kafka_version_str(), cfg.messages, cfg.payload, cfg.max_queued);
  std::printf("%-4s %14s %14s %7s\n", "run", "C API msg/s", "intg msg/s", "ratio");
  std::vector<double> c_rates, intg_rates, ratios;
  for (int r = 0; r < cfg.runs; ++r) {
    const std::string t1 = "bench-" + std::to_string(2 * r), t2 = "bench-" + std::to_string(2 * r + 1);
    for (const auto& t : {t1, t2})
      if (rd_kafka_mock_topic_create(mc, t.c_str(), 6, 3) != RD_KAFKA_RESP_ERR_NO_ERROR) die("cannot create topic " + t);
    double c = 0, i = 0;
    if (r % 2 == 0) {
      c = run_c_api(bootstraps, t1, cfg, payload);
      i = run_intg(bootstraps, t2, cfg, payload);
    } else {
      i = run_intg(bootstraps, t1, cfg, payload);
      c = run_c_api(bootstraps, t2, cfg, payload);
    }
    c_rates.push_back(c);
    intg_rates.push_back(i);
    ratios.push_back(i / c);
    std::printf("%-4d %14.0f %14.0f %6.1f%%\n", r + 1, c, i, 100 * i / c);
    std::fflush(stdout);
  }
  std::printf("%-4s %14.0f %14.0f %6.1f%%  (medians; the ratio is the median of the runs' ratios)\n", "med", median(c_rates),
              median(intg_rates), 100 * median(ratios));
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(owner);
  return 0;
}
