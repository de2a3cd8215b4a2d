// Produce throughput against librdkafka's mock cluster (3 brokers in this process, on loopback):
// intg::kafka::producer next to the same work written on librdkafka's C API, in one run, each
// side on a fresh topic of 6 partitions, the order rotating from run to run.
//  - C API: rd_kafka_producev of every message (waiting in rd_kafka_poll while the queue is
//    full), delivery reports counted in the dr_msg_cb, rd_kafka_flush at the end.
//  - intg send(): MAX_QUEUED coroutines, each co_await producer::send (its delivery report) in turn.
//  - intg deferred: the same with co_await producer::async_send(..., asio::deferred), which
//    spares the coroutine frame an asio::awaitable costs per call.
//  - intg callback: no coroutines; MAX_QUEUED chains of producer::async_send with a callback,
//    each report's callback sending the chain's next message.
// Besides messages per second, each side's CPU per message: the producing thread's (where intg's
// layer runs) and the whole process's (librdkafka's and the mock brokers' threads too).
// Both use the same librdkafka configuration, built by the same function (idempotent, acks=all,
// queue.buffering.max.messages = the in-flight bound), and count from the first message to the
// last delivery report, after one warm-up message (connections, metadata and producer id ready).
// Usage: kafka_produce [MESSAGES=200000] [RUNS=5] [PAYLOAD_BYTES=100] [MAX_QUEUED=10000]
// (KAFKA_PRODUCE_STATS=1 also prints the intg producer's wake-ups and waits for room on stderr;
// KAFKA_PRODUCE_ONLY=c, =send, =deferred or =callback runs one side, to profile it)
#include <intg/kafka.hpp>

#include <librdkafka/rdkafka_mock.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
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

// Wall time and CPU (this thread's and the process's) from construction to stop().
class meter {
 public:
  meter() { read(wall0_, thread0_, process0_); }
  void stop() { read(wall1_, thread1_, process1_); }
  struct rates {
    double per_second, thread_us, process_us;  // messages per second, CPU microseconds per message
  };
  rates over(int messages) const {
    const std::chrono::duration<double> wall = wall1_ - wall0_;
    return {messages / wall.count(), (thread1_ - thread0_) / messages, (process1_ - process0_) / messages};
  }

 private:
  static double us(const rusage& u) {
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  }
  static void read(clock_type::time_point& wall, double& thread, double& process) {
    rusage u{};
    getrusage(RUSAGE_THREAD, &u);
    thread = us(u);
    getrusage(RUSAGE_SELF, &u);
    process = us(u);
    wall = clock_type::now();
  }
  clock_type::time_point wall0_, wall1_;
  double thread0_ = 0, thread1_ = 0, process0_ = 0, process1_ = 0;
};

struct c_counts {
  int delivered = 0;
  int failed = 0;
};

meter::rates run_c_api(const std::string& bootstraps, const std::string& topic, const config& cfg, const std::string& payload) {
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
  meter m;
  for (int i = 0; i < cfg.messages; ++i) {
    produce(i);
    if (i % 1'000 == 0) rd_kafka_poll(rk, 0);
  }
  if (rd_kafka_flush(rk, 120'000) != RD_KAFKA_RESP_ERR_NO_ERROR) die("C API: flush timed out");
  m.stop();
  rd_kafka_destroy(rk);
  if (counts.delivered != cfg.messages || counts.failed != 0)
    die("C API: " + std::to_string(counts.delivered) + " delivered, " + std::to_string(counts.failed) + " failed");
  return m.over(cfg.messages);
}

enum class style { send, deferred, callback };

meter::rates run_intg(const std::string& bootstraps, const std::string& topic, const config& cfg, const std::string& payload,
                      style how) {
  asio::io_context io;
  auto p = kafka::producer::create(io.get_executor(), producer_options(bootstraps, cfg));
  if (!p) die(p.error().to_string());
  int delivered = 0, failed = 0, next = 0, senders_done = 0;
  const int senders = static_cast<int>(std::min<std::size_t>(cfg.max_queued, static_cast<std::size_t>(cfg.messages)));
  std::optional<meter> m;
  asio::steady_timer all_done(io, clock_type::time_point::max());  // cancelled by the last sender
  auto sender = [&]() -> asio::awaitable<void> {
    while (next < cfg.messages) {
      const int i = next++;
      const std::string key = key_of(i);
      auto d = how == style::deferred ? co_await p->async_send(topic, key, payload, asio::deferred) : co_await p->send(topic, key, payload);
      if (d) ++delivered;
      else ++failed;
    }
    if (++senders_done == senders) {
      m->stop();
      all_done.cancel();
    }
  };
  // The callback chains: each keeps its key alive until its message's report.
  std::vector<std::string> chain_keys(static_cast<std::size_t>(senders));
  std::function<void(std::size_t)> send_next;
  std::function<void(std::size_t, const intg::result<kafka::delivery>&)> on_report = [&](std::size_t c, const auto& d) {
    if (d) ++delivered;
    else ++failed;
    send_next(c);
  };
  send_next = [&](std::size_t c) {
    if (next >= cfg.messages) {
      if (++senders_done == senders) {
        m->stop();
        all_done.cancel();
      }
      return;
    }
    chain_keys[c] = key_of(next++);
    p->async_send(topic, chain_keys[c], payload, [on_report = &on_report, c](intg::result<kafka::delivery> d) { (*on_report)(c, d); });
  };
  auto run = [&]() -> asio::awaitable<void> {
    const std::string key = key_of(-1);
    auto warm = co_await p->send(topic, key, payload);
    if (!warm) die("intg: the warm-up message was not delivered: " + warm.error().to_string());
    m.emplace();
    if (how == style::callback) {
      for (int s = 0; s < senders; ++s) send_next(static_cast<std::size_t>(s));
    } else {
      for (int s = 0; s < senders; ++s) asio::co_spawn(io, sender(), asio::detached);
    }
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
  return m->over(cfg.messages);
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
  std::printf("messages per second (CPU microseconds per message: producing thread / whole process)\n");
  constexpr int n = 4;
  constexpr std::array<const char*, n> sides{"c", "send", "deferred", "callback"};
  std::printf("%-4s %26s %26s %26s %26s %7s %7s %7s\n", "run", "C API", "intg send()", "intg deferred", "intg callback", "send", "def.",
              "callb.");
  std::array<std::vector<double>, n> rates, thread_cpu, ratios;
  const char* only = std::getenv("KAFKA_PRODUCE_ONLY");
  for (int r = 0; r < cfg.runs; ++r) {
    std::array<meter::rates, n> got{};
    for (int k = 0; k < n; ++k) {
      const int side = (r + k) % n;  // the order rotates from run to run
      if (only && std::string_view(only) != sides[side]) continue;
      const std::string topic = "bench-" + std::to_string(n * r + k);
      if (rd_kafka_mock_topic_create(mc, topic.c_str(), 6, 3) != RD_KAFKA_RESP_ERR_NO_ERROR) die("cannot create topic " + topic);
      got[side] = side == 0 ? run_c_api(bootstraps, topic, cfg, payload) : run_intg(bootstraps, topic, cfg, payload, static_cast<style>(side - 1));
      rates[side].push_back(got[side].per_second);
      thread_cpu[side].push_back(got[side].thread_us);
    }
    std::printf("%-4d", r + 1);
    for (const auto& g : got) std::printf(" %8.0f (%5.2f /%5.2f us)", g.per_second, g.thread_us, g.process_us);
    if (!only)
      for (int k = 1; k < n; ++k) {
        ratios[k].push_back(got[k].per_second / got[0].per_second);
        std::printf(" %6.1f%%", 100 * ratios[k].back());
      }
    std::printf("\n");
    std::fflush(stdout);
  }
  if (!only) {
    std::printf("%-4s", "med");
    for (int k = 0; k < n; ++k) std::printf(" %8.0f (%5.2f us thread)   ", median(rates[k]), median(thread_cpu[k]));
    for (int k = 1; k < n; ++k) std::printf(" %6.1f%%", 100 * median(ratios[k]));
    std::printf("\n(msg/s, then CPU per message: producing thread / process; ratios to the C API, medians of the runs')\n");
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(owner);
  return 0;
}
