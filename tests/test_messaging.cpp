// Messaging transports. Suite kafka: intg::kafka against librdkafka's mock cluster (rdkafka_mock.h),
// which runs real Kafka protocol brokers on 127.0.0.1 inside this process: round trips with keys
// and headers, injected errors, a broker taken down and up, a rebalance, the in-flight bounds,
// errors, and the registry lifecycle. Suite inline_handler: the type-erased handler the producer
// keeps waiting senders in.
#define BOOST_TEST_MODULE intg_messaging
#include <boost/test/unit_test.hpp>

#include <intg/kafka.hpp>
#include <intg/messaging/kafka_topic.hpp>

#include "test_util.hpp"

#include <librdkafka/rdkafka_mock.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json/parse.hpp>

#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#if defined(__SANITIZE_THREAD__)
#include <pthread.h>
#include <threads.h>

// librdkafka starts its threads with C11 thrd_create, which GCC 12's ThreadSanitizer does not
// intercept: the threads would run without TSan's per-thread state and crash in its allocator.
// Defined here, these interpose on glibc's for librdkafka (the executable's definitions win) and
// run the same threads through pthreads, which TSan follows.
namespace {
struct c11_start {
  thrd_start_t fn;
  void* arg;
};
void* run_c11_thread(void* p) {
  const c11_start s = *static_cast<c11_start*>(p);
  delete static_cast<c11_start*>(p);
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(s.fn(s.arg)));
}
}  // namespace
extern "C" int thrd_create(thrd_t* t, thrd_start_t fn, void* arg) {
  auto* s = new c11_start{fn, arg};
  if (pthread_create(t, nullptr, &run_c11_thread, s) == 0) return thrd_success;
  delete s;
  return thrd_error;
}
extern "C" int thrd_join(thrd_t t, int* res) {
  void* r = nullptr;
  if (pthread_join(t, &r) != 0) return thrd_error;
  if (res) *res = static_cast<int>(reinterpret_cast<std::intptr_t>(r));
  return thrd_success;
}
extern "C" int thrd_detach(thrd_t t) { return pthread_detach(t) == 0 ? thrd_success : thrd_error; }
#endif

namespace kafka = intg::kafka;
namespace asio = boost::asio;
using namespace std::chrono_literals;

static_assert(intg::integration<kafka::client>);
namespace msg = intg::messaging;
static_assert(msg::publisher<msg::kafka_topic_channel>);
static_assert(msg::consumer<msg::kafka_topic_channel>);
static_assert(msg::channel<msg::kafka_topic_channel>);
static_assert(msg::kafka_topic_channel::guarantee == msg::delivery_guarantee::at_least_once);
static_assert(msg::kafka_topic_channel::confirms_publish);

namespace {

// Kafka API keys (the protocol's numbers), for injecting errors into the mock's answers.
constexpr std::int16_t api_produce = 0;
constexpr std::int16_t api_fetch = 1;
constexpr std::int16_t api_offset_commit = 8;

// A mock cluster of `brokers` brokers, owned by a handle of its own (the clients under test
// connect to it by its bootstrap address, like to any cluster).
struct mock_cluster {
  rd_kafka_t* owner = nullptr;
  rd_kafka_mock_cluster_t* mc = nullptr;
  std::string bootstraps;

  explicit mock_cluster(int brokers = 3) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t*, int, const char*, const char*) {});
    char err[256];
    owner = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    BOOST_TEST_REQUIRE(owner != nullptr, err);
    mc = rd_kafka_mock_cluster_new(owner, brokers);
    BOOST_TEST_REQUIRE(mc != nullptr);
    bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
  }
  ~mock_cluster() {
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(owner);
  }
  void topic(const char* name, int partitions) {
    BOOST_TEST_REQUIRE(rd_kafka_mock_topic_create(mc, name, partitions, 3) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
};

kafka::options client_options(const mock_cluster& c, std::string group = {}) {
  kafka::options o;
  o.bootstrap_servers = c.bootstraps;
  o.client_id = "intg-test";
  o.group_id = std::move(group);
  o.properties = {{"reconnect.backoff.max.ms", "500"}, {"topic.metadata.refresh.interval.ms", "1000"}};
  if (!o.group_id.empty()) {
    // The mock's group coordinator waits up to a session for members: keep rebalances short.
    o.properties.emplace_back("session.timeout.ms", "6000");
    o.properties.emplace_back("heartbeat.interval.ms", "500");
  }
  o.commit_interval = 100ms;
  return o;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

// For what the executor does at once (a spawned sender starting, a posted completion): yields a
// turn at a time until `done()` holds, without sleeping; false if it still does not after `limit`.
template <class Done>
asio::awaitable<bool> settle(Done done, std::chrono::milliseconds limit = 5s) {
  auto ex = co_await asio::this_coro::executor;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    co_await asio::post(ex, asio::use_awaitable);
  }
  co_return true;
}

// Receives until `want` distinct values arrived (or `limit` passed), acking each; counts repeats.
struct tally {
  std::map<std::string, int> seen;
  std::map<std::int32_t, std::set<std::int64_t>> offsets;  // received, per partition
  std::size_t duplicates = 0;
  void add(const kafka::message& m) {
    if (++seen[m.value] > 1) ++duplicates;
    offsets[m.partition].insert(m.offset);
  }
};

// receive(), or nullopt when nothing came within `limit` (a stall fails the test instead of hanging it).
asio::awaitable<std::optional<intg::result<kafka::message>>> receive_within(kafka::consumer& c, std::chrono::milliseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  auto r = co_await (c.receive() || sleep_for(limit));
  if (r.index() == 1) co_return std::nullopt;
  co_return std::move(std::get<0>(r));
}

asio::awaitable<void> consume_all(kafka::consumer& c, tally& t, std::size_t want, std::chrono::seconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (t.seen.size() < want && std::chrono::steady_clock::now() < end) {
    auto r = co_await receive_within(c, std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now()));
    if (!r) {
      const auto& st = c.stats();
      BOOST_TEST_MESSAGE("nothing received within the limit; last error: "
                         << (c.last_error() ? c.last_error()->to_string() : std::string("none")) << "; paused " << c.paused()
                         << ", in flight " << c.in_flight() << ", pauses " << st.pauses << ", assignments " << st.assignments
                         << ", revocations " << st.revocations << ", assigned " << c.assignment().size());
      co_return;
    }
    auto& m = *r;
    if (!m) {
      BOOST_TEST_MESSAGE("receive: " << m.error().to_string());
      if (m.error() == intg::errc::cancelled) co_return;
      continue;
    }
    t.add(*m);
    BOOST_TEST_REQUIRE(c.ack(*m).has_value());
  }
}

// Sends values prefix{from} .. prefix{to-1} with `senders` coroutines at once; counts outcomes.
struct send_tally {
  std::size_t ok = 0, failed = 0, done = 0;
  std::set<std::string> acknowledged;
  std::map<std::string, kafka::delivery> where;  // each acknowledged value's partition and offset
  std::size_t offset_unknown = 0;  // acknowledged without an offset (librdkafka's implicit acks)
  std::string first_error;
};

asio::awaitable<void> send_range(kafka::producer& p, std::string_view topic, std::string_view prefix, int from, int to, int step,
                                 send_tally& t) {
  for (int i = from; i < to; i += step) {
    const std::string value = std::string(prefix) + std::to_string(i);
    const std::string key = "k" + std::to_string(i % 17);
    auto d = co_await p.send(topic, key, value);
    if (d) {
      ++t.ok;
      t.acknowledged.insert(value);
      t.where[value] = *d;
      if (d->offset < 0) ++t.offset_unknown;
    } else {
      ++t.failed;
      if (t.first_error.empty()) t.first_error = d.error().to_string();
    }
    ++t.done;
  }
}

asio::awaitable<void> send_many(kafka::producer& p, std::string_view topic, std::string_view prefix, int from, int to, int senders,
                                send_tally& t) {
  auto ex = co_await asio::this_coro::executor;
  const std::size_t target = t.done + static_cast<std::size_t>(to - from);
  for (int s = 0; s < senders; ++s)
    asio::co_spawn(ex, send_range(p, topic, prefix, from + s, to, senders, t), asio::detached);
  while (t.done < target) co_await sleep_for(5ms);
}

// When acknowledged messages were not received: each one's partition and offset, and per
// partition what the consumer received, its fetch position and committed offset, and the log end.
void report_missing(kafka::consumer& c, const send_tally& sent, const tally& got) {
  std::map<std::int32_t, std::vector<std::int64_t>> missing;
  for (const auto& v : sent.acknowledged)
    if (!got.seen.contains(v)) {
      const auto& d = sent.where.at(v);
      missing[d.partition].push_back(d.offset);
      BOOST_TEST_MESSAGE("missing " << v << ": partition " << d.partition << " offset " << d.offset);
    }
  if (missing.empty()) return;
  rd_kafka_topic_partition_list_t* parts = nullptr;
  rd_kafka_assignment(c.native_handle(), &parts);
  if (!parts) return;
  rd_kafka_position(c.native_handle(), parts);
  rd_kafka_topic_partition_list_t* committed = rd_kafka_topic_partition_list_copy(parts);
  rd_kafka_committed(c.native_handle(), committed, 5000);
  for (int i = 0; i < parts->cnt; ++i) {
    const auto& p = parts->elems[i];
    const auto& r = got.offsets.count(p.partition) ? got.offsets.at(p.partition) : std::set<std::int64_t>{};
    std::int64_t low = -1, high = -1;
    rd_kafka_get_watermark_offsets(c.native_handle(), p.topic, p.partition, &low, &high);
    std::int64_t holes = 0;
    if (!r.empty()) holes = (*r.rbegin() - *r.begin() + 1) - static_cast<std::int64_t>(r.size());
    BOOST_TEST_MESSAGE("partition " << p.partition << ": received " << r.size() << " (offsets "
                       << (r.empty() ? -1 : *r.begin()) << ".." << (r.empty() ? -1 : *r.rbegin()) << ", " << holes
                       << " holes), position " << p.offset << ", committed " << committed->elems[i].offset
                       << ", log end (cached) " << high << ", missing " << missing[p.partition].size());
  }
  rd_kafka_topic_partition_list_destroy(committed);
  rd_kafka_topic_partition_list_destroy(parts);
}

// librdkafka's debug log on stderr, for a diagnosis: INTG_TEST_KAFKA_DEBUG=consumer,fetch,...
void debug_log(kafka::options& o) {
  if (const char* d = std::getenv("INTG_TEST_KAFKA_DEBUG")) {
    o.properties.emplace_back("debug", d);
    o.on_log = [](int, std::string_view facility, std::string_view text) {
      const auto t = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch());
      std::fprintf(stderr, "%lld %.*s %.*s\n", static_cast<long long>(t.count()), static_cast<int>(facility.size()),
                   facility.data(), static_cast<int>(text.size()), text.data());
    };
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(kafka_suite)

BOOST_AUTO_TEST_CASE(a_round_trip_carries_keys_headers_and_the_traceparent) {
  mock_cluster cluster;
  cluster.topic("orders", 3);
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto p = kafka::producer::create(io.get_executor(), client_options(cluster));
    BOOST_TEST_REQUIRE(p.has_value(), p.error().to_string());
    intg::trace_context trace;
    trace.trace_id.fill(0xab);
    trace.span_id.fill(0xcd);
    trace.flags = 1;
    const kafka::send_options traced{.trace = &trace};
    std::map<std::string, std::int32_t> partition_of_key;
    for (int i = 0; i < 12; ++i) {
      const std::string key = "customer-" + std::to_string(i % 3), value = "order-" + std::to_string(i);
      const std::string n = std::to_string(i);
      const kafka::header_view headers[] = {{"content-type", "application/json"}, {"n", n}, {"empty", std::nullopt}};
      auto d = co_await p->send("orders", key, value, headers, traced);
      BOOST_TEST_REQUIRE(d.has_value(), d.error().to_string());
      BOOST_TEST(d->offset >= 0);
      auto [it, fresh] = partition_of_key.emplace(key, d->partition);
      BOOST_TEST(it->second == d->partition);  // one key, one partition
    }
    auto unkeyed = co_await p->send("orders", "", "no key");
    BOOST_TEST_REQUIRE(unkeyed.has_value());
    BOOST_TEST(p->stats().delivered == 13u);
    BOOST_TEST((co_await p->close()).has_value());

    auto c = kafka::consumer::create(io.get_executor(), client_options(cluster, "readers"));
    BOOST_TEST_REQUIRE(c.has_value(), c.error().to_string());
    BOOST_TEST_REQUIRE(c->subscribe({"orders"}).has_value());
    std::map<std::string, kafka::message> got;
    while (got.size() < 13) {
      auto r = co_await receive_within(*c, 30s);
      BOOST_TEST_REQUIRE(r.has_value(), "nothing received within 30 s");
      auto& m = *r;
      BOOST_TEST_REQUIRE(m.has_value(), m.error().to_string());
      BOOST_TEST(c->ack(*m).has_value());
      got[m->value] = *m;
    }
    const auto& m5 = got["order-5"];
    BOOST_TEST(m5.topic == "orders");
    BOOST_TEST((m5.key == std::optional<std::string>("customer-2")));
    BOOST_TEST(m5.partition == partition_of_key["customer-2"]);
    BOOST_TEST((m5.header_value("content-type") == std::optional<std::string_view>("application/json")));
    BOOST_TEST((m5.header_value("n") == std::optional<std::string_view>("5")));
    BOOST_TEST_REQUIRE(m5.headers.size() == 4u);  // three sent, then traceparent
    BOOST_TEST(m5.headers[2].name == "empty");
    BOOST_TEST(!m5.headers[2].value.has_value());  // a null header value stays null
    auto tc = m5.trace();
    BOOST_TEST_REQUIRE(tc.has_value());
    BOOST_TEST((tc->trace_id == trace.trace_id));
    BOOST_TEST((tc->span_id == trace.span_id));
    BOOST_TEST(tc->sampled());
    BOOST_TEST(!got["no key"].key.has_value());
    BOOST_TEST(got["no key"].headers.empty());
    BOOST_TEST(c->ack(m5).has_error());  // acked already
    BOOST_TEST((co_await c->commit()).has_value());
    BOOST_TEST(c->unacked() == 0u);
    BOOST_TEST((co_await c->close()).has_value());
    BOOST_TEST(c->stats().commit_failures == 0u);
  }());
}

// librdkafka signals a queue only when it goes from empty to non-empty: what rd_kafka_new queued
// before the executor watched it (here, the warning for a property of the other role) must not
// leave the client asleep.
BOOST_AUTO_TEST_CASE(a_client_whose_creation_logged_a_warning_is_still_woken) {
  mock_cluster cluster;
  cluster.topic("warned", 1);
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    auto po = client_options(cluster);
    po.properties.emplace_back("session.timeout.ms", "6000");  // a consumer property: librdkafka warns at creation
    std::vector<std::string> logged;
    po.on_log = [&](int, std::string_view facility, std::string_view) { logged.emplace_back(facility); };
    auto p = kafka::producer::create(io.get_executor(), po);
    BOOST_TEST_REQUIRE(p.has_value());
    const std::string key = "k", value = "v";
    auto d = co_await (p->send("warned", key, value) || sleep_for(30s));
    BOOST_TEST_REQUIRE(d.index() == 0u, "no delivery report within 30 s");
    BOOST_TEST(std::get<0>(d).has_value());
    BOOST_TEST((std::find(logged.begin(), logged.end(), "CONFWARN") != logged.end()));
    BOOST_TEST((co_await p->close()).has_value());

    auto co = client_options(cluster, "warned-readers");
    co.properties.emplace_back("linger.ms", "1");  // a producer property
    auto c = kafka::consumer::create(io.get_executor(), co);
    BOOST_TEST_REQUIRE(c.has_value());
    BOOST_TEST_REQUIRE(c->subscribe({"warned"}).has_value());
    auto m = co_await receive_within(*c, 30s);
    BOOST_TEST_REQUIRE(m.has_value(), "nothing received within 30 s");
    BOOST_TEST_REQUIRE(m->has_value());
    BOOST_TEST((*m)->value == "v");
    BOOST_TEST(c->ack(**m).has_value());
    BOOST_TEST((co_await c->close()).has_value());
  }());
}

BOOST_AUTO_TEST_CASE(twenty_thousand_messages_through_injected_errors_none_lost_none_duplicated) {
  mock_cluster cluster;
  cluster.topic("events", 6);
  // Produce requests answered with retriable errors (the idempotent producer retries them without
  // duplicating), and fetches and commits refused now and then.
  const rd_kafka_resp_err_t produce_errors[] = {
      RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,      RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
      RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,     RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
  };
  rd_kafka_mock_push_request_errors_array(cluster.mc, api_produce, std::size(produce_errors), produce_errors);
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto o = client_options(cluster);
    o.max_queued_messages = 2'000;
    // One Produce request in flight per broker connection. librdkafka 2.0's mock checks sequence
    // numbers only for transactional producers: with several requests in flight it appends a
    // partition's next batch after answering the one before with an injected error, and the
    // idempotent producer, taking that success as proof, reports the earlier batch delivered
    // ("implicitly acked", offset unknown) though it is not in the log. A broker would refuse the
    // later batch (OUT_OF_ORDER_SEQUENCE_NUMBER). docs/kafka.md, "The mock cluster and idempotence".
    o.properties.emplace_back("max.in.flight.requests.per.connection", "1");
    debug_log(o);
    auto p = kafka::producer::create(io.get_executor(), o);
    BOOST_TEST_REQUIRE(p.has_value());
    send_tally sent;
    co_await send_many(*p, "events", "e-", 0, 10'000, 500, sent);
    rd_kafka_mock_push_request_errors(cluster.mc, api_produce, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                                      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
    co_await send_many(*p, "events", "e-", 10'000, 20'000, 500, sent);
    BOOST_TEST(sent.failed == 0u, sent.first_error);
    BOOST_TEST(sent.offset_unknown == 0u);  // no implicit acks: every delivery names its offset
    BOOST_TEST(p->stats().max_queued_seen <= 2'000u);
    BOOST_TEST_MESSAGE("producer: " << p->stats().sent << " sent, " << p->stats().wakeups << " wakeups, "
                                    << sent.offset_unknown << " acknowledged without an offset");
    BOOST_TEST((co_await p->close()).has_value());

    rd_kafka_mock_push_request_errors(cluster.mc, api_fetch, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                      RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
    rd_kafka_mock_push_request_errors(cluster.mc, api_offset_commit, 1, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    auto co = client_options(cluster, "counters");
    debug_log(co);
    auto c = kafka::consumer::create(io.get_executor(), co);
    BOOST_TEST_REQUIRE(c.has_value());
    BOOST_TEST_REQUIRE(c->subscribe({"events"}).has_value());
    tally got;
    co_await consume_all(*c, got, 20'000, 120s);
    report_missing(*c, sent, got);
    BOOST_TEST(sent.acknowledged.size() == 20'000u);
    BOOST_TEST(got.seen.size() == 20'000u);  // none lost
    BOOST_TEST_MESSAGE("duplicates: " << got.duplicates);
    BOOST_TEST(got.duplicates == 0u);        // none written twice by the producer's retries
    BOOST_TEST(c->stats().received == 20'000u);
    BOOST_TEST_MESSAGE("consumer: " << c->stats().received << " received, " << c->stats().wakeups << " wakeups, "
                                    << c->stats().commits << " commits");
    BOOST_TEST((co_await c->close()).has_value());
  }());
}

BOOST_AUTO_TEST_CASE(a_broker_down_and_up_mid_stream_loses_no_acknowledged_message) {
  mock_cluster cluster;
  cluster.topic("stream", 6);
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto p = kafka::producer::create(io.get_executor(), client_options(cluster));
    BOOST_TEST_REQUIRE(p.has_value());
    send_tally sent;
    co_await send_many(*p, "stream", "s-", 0, 1'000, 50, sent);
    // Broker 2 goes down with messages in flight; its partitions wait for it (the mock does not
    // move leadership), the others go on.
    rd_kafka_mock_broker_set_down(cluster.mc, 2);
    auto ex = co_await asio::this_coro::executor;
    const std::size_t before = sent.done;
    for (int s = 0; s < 50; ++s) asio::co_spawn(ex, send_range(*p, "stream", "s-", 1'000 + s, 3'000, 50, sent), asio::detached);
    co_await sleep_for(1500ms);
    rd_kafka_mock_broker_set_up(cluster.mc, 2);
    while (sent.done < before + 2'000) co_await sleep_for(10ms);
    BOOST_TEST(sent.failed == 0u, sent.first_error);
    BOOST_TEST((co_await p->close()).has_value());

    auto c = kafka::consumer::create(io.get_executor(), client_options(cluster, "survivors"));
    BOOST_TEST_REQUIRE(c.has_value());
    BOOST_TEST_REQUIRE(c->subscribe({"stream"}).has_value());
    tally got;
    co_await consume_all(*c, got, 1'000, 60s);
    rd_kafka_mock_broker_set_down(cluster.mc, 3);  // down while consuming
    co_await sleep_for(1000ms);
    rd_kafka_mock_broker_set_up(cluster.mc, 3);
    co_await consume_all(*c, got, 3'000, 60s);
    std::size_t missing = 0;
    for (const auto& v : sent.acknowledged) missing += got.seen.count(v) ? 0 : 1;
    BOOST_TEST(sent.acknowledged.size() == 3'000u);
    BOOST_TEST(missing == 0u);
    BOOST_TEST_MESSAGE("duplicates after the broker came back: " << got.duplicates);
    BOOST_TEST(got.duplicates == 0u);  // idempotent producer, acked offsets committed
    BOOST_TEST((co_await c->close()).has_value());
  }());
}

// A owns every partition, B joins, both share the rest; then a new member resumes after the last
// commit. `strategy`: the partition.assignment.strategy (eager "range" here; the consumer also
// handles cooperative protocols, which librdkafka 2.0's mock group does not rebalance reliably).
void rebalance_scenario(const char* strategy) {
  mock_cluster cluster;
  cluster.topic("jobs", 4);
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto p = kafka::producer::create(io.get_executor(), client_options(cluster));
    BOOST_TEST_REQUIRE(p.has_value());
    send_tally sent;
    co_await send_many(*p, "jobs", "j-", 0, 400, 20, sent);
    BOOST_TEST_REQUIRE(sent.ok == 400u);

    std::vector<std::string> a_assigned, a_revoked, b_assigned;
    auto oa = client_options(cluster, "workers");
    oa.properties.emplace_back("partition.assignment.strategy", strategy);
    oa.on_assign = [&](const std::vector<kafka::topic_partition>& v) { for (auto& tp : v) a_assigned.push_back(tp.topic + "/" + std::to_string(tp.partition)); };
    oa.on_revoke = [&](const std::vector<kafka::topic_partition>& v) { for (auto& tp : v) a_revoked.push_back(tp.topic + "/" + std::to_string(tp.partition)); };
    auto a = kafka::consumer::create(io.get_executor(), oa);
    BOOST_TEST_REQUIRE(a.has_value());
    BOOST_TEST_REQUIRE(a->subscribe({"jobs"}).has_value());
    tally got;
    co_await consume_all(*a, got, 100, 60s);  // A owns all four partitions
    BOOST_TEST(a->assignment().size() == 4u);
    BOOST_TEST_REQUIRE((co_await a->commit()).has_value());

    auto ob = client_options(cluster, "workers");
    ob.properties.emplace_back("partition.assignment.strategy", strategy);
    ob.on_assign = [&](const std::vector<kafka::topic_partition>& v) { for (auto& tp : v) b_assigned.push_back(tp.topic + "/" + std::to_string(tp.partition)); };
    auto b = kafka::consumer::create(io.get_executor(), ob);
    BOOST_TEST_REQUIRE(b.has_value());
    BOOST_TEST_REQUIRE(b->subscribe({"jobs"}).has_value());
    // A keeps consuming slowly while B joins; both share the rest.
    auto ex = co_await asio::this_coro::executor;
    bool stop = false;
    std::size_t from_b = 0;
    std::set<std::string> a_during_rebalance;  // what A received after B appeared
    auto loop = [&](kafka::consumer& c, std::size_t* count, std::chrono::milliseconds pace) -> asio::awaitable<void> {
      while (!stop) {
        auto m = co_await c.receive();
        if (!m) {
          if (m.error() == intg::errc::cancelled) co_return;
          continue;
        }
        got.add(*m);
        if (count) ++*count;
        else a_during_rebalance.insert(m->value);
        BOOST_TEST(c.ack(*m).has_value());
        if (pace.count()) co_await sleep_for(pace);
      }
    };
    asio::co_spawn(ex, [&]() { return loop(*a, nullptr, 20ms); }, asio::detached);
    asio::co_spawn(ex, [&]() { return loop(*b, &from_b, 0ms); }, asio::detached);
    for (int i = 0; i < 6000 && got.seen.size() < 400; ++i) co_await sleep_for(10ms);
    stop = true;
    BOOST_TEST(got.seen.size() == 400u);
    // Nothing A acked and committed before B appeared came again. Messages A acked while the
    // group rebalanced may: librdkafka 2.0's mock refuses every commit while the group is joining
    // (REBALANCE_IN_PROGRESS), also the one made on revocation, which a real broker accepts from
    // the current generation; at least once either way.
    std::size_t explained = 0, unexplained = 0;
    for (const auto& [v, n] : got.seen)
      if (n > 1) (a_during_rebalance.count(v) ? explained : unexplained) += 1;
    BOOST_TEST_MESSAGE(strategy << " rebalance: " << got.duplicates << " redelivered, all acked by A during the rebalance: "
                                     << (unexplained == 0) << "; A's refused commits: " << a->stats().commit_failures);
    BOOST_TEST(unexplained == 0u);
    BOOST_TEST(!a_revoked.empty());
    BOOST_TEST(!b_assigned.empty());
    BOOST_TEST(from_b > 0u);
    BOOST_TEST(a->assignment().size() + b->assignment().size() == 4u);
    BOOST_TEST(a->stats().revocations >= 1u);
    BOOST_TEST((co_await a->close()).has_value());
    BOOST_TEST((co_await b->close()).has_value());

    // A new member resumes after the last commit: only the new messages come.
    co_await send_many(*p, "jobs", "late-", 0, 40, 4, sent);
    BOOST_TEST((co_await p->close()).has_value());
    auto oc = client_options(cluster, "workers");
    oc.properties.emplace_back("partition.assignment.strategy", strategy);
    auto c = kafka::consumer::create(io.get_executor(), oc);
    BOOST_TEST_REQUIRE(c.has_value());
    BOOST_TEST_REQUIRE(c->subscribe({"jobs"}).has_value());
    tally resumed;
    co_await consume_all(*c, resumed, 40, 60s);
    std::size_t old = 0;
    for (const auto& [v, n] : resumed.seen) old += v.rfind("late-", 0) == 0 ? 0 : 1;
    BOOST_TEST(resumed.seen.size() == 40u);
    BOOST_TEST(old == 0u);  // per partition an old message would have come before the new ones
    BOOST_TEST((co_await c->close()).has_value());
  }());
}

BOOST_AUTO_TEST_CASE(a_second_consumer_joining_rebalances_and_committed_offsets_survive) { rebalance_scenario("range"); }


BOOST_AUTO_TEST_CASE(a_slow_consumer_never_holds_more_than_max_in_flight) {
  mock_cluster cluster;
  cluster.topic("firehose", 3);
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto p = kafka::producer::create(io.get_executor(), client_options(cluster));
    BOOST_TEST_REQUIRE(p.has_value());
    send_tally sent;
    co_await send_many(*p, "firehose", "f-", 0, 1'000, 100, sent);
    BOOST_TEST((co_await p->close()).has_value());

    auto o = client_options(cluster, "slow");
    o.max_in_flight = 50;
    o.properties.emplace_back("fetch.wait.max.ms", "20");  // a resumed partition's fetch need not wait for the broker's long poll
    auto c = kafka::consumer::create(io.get_executor(), o);
    BOOST_TEST_REQUIRE(c.has_value());
    BOOST_TEST_REQUIRE(c->subscribe({"firehose"}).has_value());
    // Hold up to 40 messages unacked, ack them in a burst, slowly: the fetcher runs ahead until the
    // bound pauses it.
    std::vector<kafka::message> held;
    tally got;
    std::size_t worst = 0;
    while (got.seen.size() < 1'000) {
      auto r = co_await receive_within(*c, 30s);
      BOOST_TEST_REQUIRE(r.has_value(), "nothing received within 30 s");
      auto& m = *r;
      BOOST_TEST_REQUIRE(m.has_value(), m.error().to_string());
      got.add(*m);
      held.push_back(std::move(*m));
      worst = std::max(worst, c->in_flight());
      if (held.size() == 40) {
        co_await sleep_for(2ms);
        worst = std::max(worst, c->in_flight());
        for (auto& h : held) BOOST_TEST_REQUIRE(c->ack(h).has_value());
        held.clear();
      }
    }
    BOOST_TEST(worst <= 50u);
    BOOST_TEST(c->stats().max_in_flight_seen <= 50u);
    BOOST_TEST(c->stats().pauses > 0u);
    BOOST_TEST(got.duplicates == 0u);
    BOOST_TEST((co_await c->close()).has_value());
  }());
}

BOOST_AUTO_TEST_CASE(a_stalled_cluster_makes_senders_wait_at_max_queued_messages) {
  mock_cluster cluster;
  cluster.topic("stalled", 2);
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto o = client_options(cluster);
    o.max_queued_messages = 100;
    auto p = kafka::producer::create(io.get_executor(), o);
    BOOST_TEST_REQUIRE(p.has_value());
    send_tally warm;
    co_await send_many(*p, "stalled", "w-", 0, 10, 1, warm);  // leaders known
    for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_down(cluster.mc, b);
    auto ex = co_await asio::this_coro::executor;
    send_tally sent;
    for (int s = 0; s < 200; ++s) asio::co_spawn(ex, send_range(*p, "stalled", "x-", s, 1'000, 200, sent), asio::detached);
    std::size_t worst = 0;
    for (int i = 0; i < 50; ++i) {
      co_await sleep_for(10ms);
      worst = std::max(worst, p->queued());
    }
    BOOST_TEST(worst == 100u);  // full, and no further
    BOOST_TEST(sent.done == 0u);
    for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_up(cluster.mc, b);
    for (int i = 0; i < 6000 && sent.done < 1'000; ++i) co_await sleep_for(10ms);
    BOOST_TEST(sent.ok == 1'000u, sent.first_error);
    BOOST_TEST(p->stats().max_queued_seen <= 100u);
    BOOST_TEST(p->stats().waited_for_room > 0u);
    BOOST_TEST((co_await p->close()).has_value());
  }());
}

BOOST_AUTO_TEST_CASE(a_cancelled_send_gives_up_its_wait_not_its_message) {
  mock_cluster cluster;
  cluster.topic("cancelled", 1);
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto o = client_options(cluster);
    o.max_queued_messages = 1;
    auto p = kafka::producer::create(io.get_executor(), o);
    BOOST_TEST_REQUIRE(p.has_value());
    send_tally warm;
    co_await send_many(*p, "cancelled", "w-", 0, 1, 1, warm);  // the leader is known
    BOOST_TEST_REQUIRE(warm.ok == 1u);
    for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_down(cluster.mc, b);
    auto ex = co_await asio::this_coro::executor;
    std::optional<intg::result<kafka::delivery>> queued, waiting;
    asio::cancellation_signal cancel_queued, cancel_waiting;
    asio::co_spawn(
        ex, [&]() -> asio::awaitable<void> { queued = co_await p->send("cancelled", "k", "queued"); },
        asio::bind_cancellation_slot(cancel_queued.slot(), asio::detached));
    BOOST_TEST(co_await settle([&] { return p->queued() == 1u; }));
    asio::co_spawn(
        ex, [&]() -> asio::awaitable<void> { waiting = co_await p->send("cancelled", "k", "never sent"); },
        asio::bind_cancellation_slot(cancel_waiting.slot(), asio::detached));
    BOOST_TEST(co_await settle([&] { return p->stats().waited_for_room == 1u; }));
    BOOST_TEST(!queued.has_value());
    BOOST_TEST(!waiting.has_value());

    // Waiting for room: nothing was sent, so the sender hears "cancelled".
    cancel_waiting.emit(asio::cancellation_type::terminal);
    BOOST_TEST_REQUIRE(co_await settle([&] { return waiting.has_value(); }));
    BOOST_TEST_REQUIRE(!waiting->has_value());
    BOOST_TEST((waiting->error() == intg::errc::cancelled));
    // Awaiting its report: the message stays queued and the sender hears "outcome unknown".
    cancel_queued.emit(asio::cancellation_type::terminal);
    cancel_queued.emit(asio::cancellation_type::terminal);  // a second cancellation changes nothing
    BOOST_TEST_REQUIRE(co_await settle([&] { return queued.has_value(); }));
    BOOST_TEST_REQUIRE(!queued->has_value());
    BOOST_TEST((queued->error() == intg::errc::outcome_unknown));
    BOOST_TEST(p->queued() == 1u);

    // The brokers come back: the abandoned message is delivered, its report dropped, its slot reused.
    for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_up(cluster.mc, b);
    // (librdkafka's threads reconnect on their own schedule: polled, up to 30 s, like the tests above)
    for (int i = 0; i < 3000 && p->stats().delivered < 2u; ++i) co_await sleep_for(10ms);
    BOOST_TEST(p->stats().delivered == 2u);
    BOOST_TEST(p->stats().sent == 2u);  // the cancelled wait for room queued nothing
    BOOST_TEST(p->queued() == 0u);
    auto later = co_await p->send("cancelled", "k", "later");
    BOOST_TEST(later.has_value());
    BOOST_TEST((co_await p->close()).has_value());
  }());
}

BOOST_AUTO_TEST_CASE(async_send_takes_callbacks_deferred_and_strand_bound_handlers) {
  mock_cluster cluster;
  cluster.topic("tokens", 2);
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto o = client_options(cluster);
    o.max_queued_messages = 2;
    auto p = kafka::producer::create(io.get_executor(), o);
    BOOST_TEST_REQUIRE(p.has_value());

    // deferred: awaited without a coroutine frame of its own.
    auto first = co_await p->async_send("tokens", "k", "deferred", asio::deferred);
    BOOST_TEST_REQUIRE(first.has_value(), first.error().to_string());

    // Callbacks, ten at once with room for two: eight wait in line and go out first come, first
    // queued (one key, one partition: the offsets follow the order of the calls).
    const std::array<std::string, 10> values{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"};
    std::array<std::int64_t, 10> offsets{};
    int delivered = 0;
    bool initiating = true, completed_inside = false;
    for (std::size_t i = 0; i < values.size(); ++i)
      p->async_send("tokens", "one-key", values[i], [&, i](intg::result<kafka::delivery> r) {
        completed_inside = completed_inside || initiating;
        if (!r) return;
        offsets[i] = r->offset;
        ++delivered;
      });
    initiating = false;
    BOOST_TEST(p->stats().waited_for_room == 8u);
    BOOST_TEST_REQUIRE(co_await settle([&] { return delivered == 10; }, 30s));
    BOOST_TEST(!completed_inside);
    for (std::size_t i = 1; i < offsets.size(); ++i) BOOST_TEST(offsets[i] > offsets[i - 1]);

    // A handler bound to a strand completes on that strand.
    auto strand = asio::make_strand(io);
    bool on_strand = false, stranded_done = false;
    p->async_send("tokens", "k", "stranded", asio::bind_executor(strand, [&](intg::result<kafka::delivery> r) {
                    on_strand = strand.running_in_this_thread();
                    stranded_done = r.has_value();
                  }));
    BOOST_TEST_REQUIRE(co_await settle([&] { return stranded_done; }, 30s));
    BOOST_TEST(on_strand);

    // An error known at once still completes after the call returns, never inside it.
    bool returned = false, refused = false;
    p->async_send("", "k", "v", [&](intg::result<kafka::delivery> r) {
      BOOST_TEST(returned);
      refused = r.has_error() && r.error() == intg::errc::invalid_argument;
    });
    returned = true;
    BOOST_TEST(co_await settle([&] { return refused; }));

    // A callback waiting for room, cancelled through the slot bound to it: nothing sent.
    for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_down(cluster.mc, b);
    const auto sent_before = p->stats().sent;
    int stuck_done = 0;
    for (int i = 0; i < 2; ++i) p->async_send("tokens", "k", "stuck", [&](intg::result<kafka::delivery>) { ++stuck_done; });
    asio::cancellation_signal cancel;
    std::optional<intg::result<kafka::delivery>> waiting;
    p->async_send("tokens", "k", "never sent",
                  asio::bind_cancellation_slot(cancel.slot(), [&](intg::result<kafka::delivery> r) { waiting = std::move(r); }));
    BOOST_TEST(p->queued() == 2u);
    cancel.emit(asio::cancellation_type::terminal);
    BOOST_TEST_REQUIRE(co_await settle([&] { return waiting.has_value(); }));
    BOOST_TEST_REQUIRE(waiting->has_error());
    BOOST_TEST((waiting->error() == intg::errc::cancelled));
    cancel.emit(asio::cancellation_type::terminal);  // once completed, a cancellation finds nothing
    BOOST_TEST(p->stats().sent == sent_before + 2);
    for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_up(cluster.mc, b);
    // librdkafka's threads reconnect on their own schedule, which no test clock drives: polled
    // every 10 ms, up to 30 s, as in a_cancelled_send_gives_up_its_wait_not_its_message.
    for (int i = 0; i < 3000 && stuck_done < 2; ++i) co_await sleep_for(10ms);
    BOOST_TEST(stuck_done == 2);
    BOOST_TEST((co_await p->close()).has_value());
  }());
}

BOOST_AUTO_TEST_CASE(errors_are_clear_and_never_show_secrets) {
  mock_cluster cluster;
  asio::io_context io;
  auto ex = io.get_executor();
  {
    auto o = client_options(cluster);
    o.properties.emplace_back("acks", "1");
    auto p = kafka::producer::create(ex, o);
    BOOST_TEST_REQUIRE(p.has_error());
    BOOST_TEST((p.error() == intg::errc::config_error));
    BOOST_TEST(p.error().to_string().find("'acks' is managed by intg") != std::string::npos, p.error().to_string());
  }
  {
    auto o = client_options(cluster);
    o.properties.emplace_back("no.such.property", "1");
    auto p = kafka::producer::create(ex, o);
    BOOST_TEST_REQUIRE(p.has_error());
    BOOST_TEST(p.error().to_string().find("no.such.property") != std::string::npos, p.error().to_string());
  }
  {
    auto o = client_options(cluster);
    o.secret_properties.emplace_back("sasl.password", intg::secret("hunter2-very-secret"));
    o.properties.emplace_back("security.protocol", "carrier-pigeon");
    auto p = kafka::producer::create(ex, o);
    BOOST_TEST_REQUIRE(p.has_error());
    BOOST_TEST(p.error().to_string().find("security.protocol") != std::string::npos, p.error().to_string());
    BOOST_TEST(p.error().to_string().find("hunter2") == std::string::npos);
  }
  {
    auto o = client_options(cluster);
    o.properties.emplace_back("sasl.password", "hunter2");
    auto p = kafka::producer::create(ex, o);
    BOOST_TEST_REQUIRE(p.has_error());
    BOOST_TEST(p.error().to_string().find("secret_properties") != std::string::npos);
    BOOST_TEST(p.error().to_string().find("hunter2") == std::string::npos);
  }
  {
    kafka::options o;
    BOOST_TEST((kafka::producer::create(ex, o).error() == intg::errc::config_error));
    o.bootstrap_servers = cluster.bootstraps;
    auto c = kafka::consumer::create(ex, o);
    BOOST_TEST_REQUIRE(c.has_error());
    BOOST_TEST(c.error().to_string().find("group_id") != std::string::npos);
    o.group_id = "g";
    o.properties.emplace_back("enable.auto.commit", "true");
    BOOST_TEST(kafka::consumer::create(ex, o).error().to_string().find("acknowledgements") != std::string::npos);
  }
  {
    // Settings as an integration_config holds them: secrets go to secret_properties, types are checked.
    auto s = boost::json::parse(R"({"bootstrap_servers":"b:9092","sasl_password":"pw1","max_in_flight":7,
        "properties":{"security.protocol":"SASL_SSL","sasl.username":"app","ssl.key.password":"pw2","linger.ms":20,"enable.ssl.certificate.verification":true}})").as_object();
    auto o = kafka::options::from_json(s);
    BOOST_TEST_REQUIRE(o.has_value());
    BOOST_TEST(o->max_in_flight == 7u);
    BOOST_TEST(o->secret_properties.size() == 2u);
    BOOST_TEST(o->properties.size() == 4u);
    BOOST_TEST((o->properties[2] == std::pair<std::string, std::string>("linger.ms", "20")));
    auto bad = kafka::options::from_json(boost::json::parse(R"({"max_in_flight":"many"})").as_object());
    BOOST_TEST(bad.error().json_path() == "$.settings.max_in_flight");
    auto bad2 = kafka::options::from_json(boost::json::parse(R"({"properties":{"x":[1]}})").as_object());
    BOOST_TEST(bad2.error().json_path() == "$.settings.properties.x");
  }
  // A topic the brokers answer UNKNOWN_TOPIC_OR_PART for (the mock creates any topic it is asked
  // about, so it is set to fail instead). A subscription's error comes out of receive(), names the
  // topic, and is `not_found`.
  cluster.topic("no-such-topic", 1);
  rd_kafka_mock_topic_set_error(cluster.mc, "no-such-topic", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
  test::run(io, [&]() -> asio::awaitable<void> {
    auto c = kafka::consumer::create(io.get_executor(), client_options(cluster, "lost"));
    BOOST_TEST_REQUIRE(c.has_value());
    BOOST_TEST_REQUIRE(c->subscribe({"no-such-topic"}).has_value());
    auto r = co_await receive_within(*c, 30s);
    BOOST_TEST_REQUIRE(r.has_value(), "no error within 30 s");
    auto& m = *r;
    BOOST_TEST_REQUIRE(m.has_error());
    BOOST_TEST((m.error() == intg::condition::not_found), m.error().to_string());
    BOOST_TEST(!intg::is_transient(m.error()));
    BOOST_TEST(m.error().to_string().find("no-such-topic") != std::string::npos, m.error().to_string());
    BOOST_TEST((co_await c->close()).has_value());
    // A producer's delivery to it fails, says why, and is not retriable.
    auto o = client_options(cluster);
    o.properties.emplace_back("topic.metadata.propagation.max.ms", "200");
    auto p = kafka::producer::create(io.get_executor(), o);
    BOOST_TEST_REQUIRE(p.has_value());
    auto d = co_await p->send("no-such-topic", "k", "v");
    BOOST_TEST_REQUIRE(d.has_error());
    BOOST_TEST((d.error() == intg::condition::not_found), d.error().to_string());
    BOOST_TEST(d.error().to_string().find("no-such-topic") != std::string::npos, d.error().to_string());
    BOOST_TEST((co_await p->close()).has_value());
  }());
  // Retriable codes are transient; a delivery the broker may have written is outcome_unknown.
  BOOST_TEST(intg::is_transient(kafka::make_error(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, "x")));
  BOOST_TEST(intg::is_transient(kafka::delivery_error(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_MSG_STATUS_NOT_PERSISTED, "t")));
  auto maybe = kafka::delivery_error(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED, "t");
  BOOST_TEST((maybe == intg::errc::outcome_unknown));
  BOOST_TEST(!intg::is_transient(maybe));
  BOOST_TEST(!intg::is_transient(kafka::make_error(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, "x")));
  BOOST_TEST((kafka::make_error(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, "x") == intg::condition::forbidden));
}

BOOST_AUTO_TEST_CASE(the_registry_initializes_checks_and_cleans_up_a_kafka_client) {
  mock_cluster cluster;
  cluster.topic("audit", 1);
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    intg::registry registry(io.get_executor());
    intg::integration_config cfg;
    cfg.name = "events_bus";
    cfg.timeout = 2s;
    cfg.settings = boost::json::parse(R"({"client_id":"registry-test","properties":{"reconnect.backoff.max.ms":"500"}})").as_object();
    cfg.settings["bootstrap_servers"] = cluster.bootstraps;
    registry.register_integration<kafka::client>(cfg, "tenant_a");
    co_await registry.enable_all();
    auto* k = registry.get<kafka::client>("events_bus", "tenant_a");
    BOOST_TEST_REQUIRE(k != nullptr);
    auto snap = co_await registry.health_check_all();
    BOOST_TEST_REQUIRE(snap.size() == 1u);
    BOOST_TEST((snap[0].status == intg::integration_status::healthy), snap[0].last_check.message);
    BOOST_TEST(snap[0].category == "messaging");
    BOOST_TEST(snap[0].last_check.message == "3 broker(s)");
    auto d = co_await k->get_producer().send("audit", "user-1", "logged in");
    BOOST_TEST(d.has_value());
    auto c = k->make_consumer("auditors");
    BOOST_TEST_REQUIRE(c.has_value());
    BOOST_TEST_REQUIRE(c->subscribe({"audit"}).has_value());
    auto r = co_await receive_within(*c, 30s);
    BOOST_TEST_REQUIRE(r.has_value(), "nothing received within 30 s");
    auto& m = *r;
    BOOST_TEST_REQUIRE(m.has_value(), m.error().to_string());
    BOOST_TEST(m->value == "logged in");
    BOOST_TEST(c->ack(*m).has_value());
    BOOST_TEST((co_await c->close()).has_value());
    for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_down(cluster.mc, b);
    auto down = co_await k->health_check();
    BOOST_TEST(!down.healthy());
    BOOST_TEST(!down.message.empty());
    for (int b = 1; b <= 3; ++b) rd_kafka_mock_broker_set_up(cluster.mc, b);
    co_await registry.shutdown();
  }());
}

// The channel concept on Kafka (kafka_topic_channel), written against the concepts only.
template <msg::channel C>
asio::awaitable<std::optional<intg::result<msg::received_message>>> channel_receive_within(C& ch, std::chrono::milliseconds limit) {
  using namespace asio::experimental::awaitable_operators;
  auto r = co_await (ch.receive() || sleep_for(limit));
  if (r.index() == 1) co_return std::nullopt;
  co_return std::move(std::get<0>(r));
}

BOOST_AUTO_TEST_CASE(the_kafka_topic_channel_carries_keys_headers_and_the_traceparent) {
  mock_cluster cluster;
  cluster.topic("plays", 3);
  cluster.topic("plays.dead-letter", 1);
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto o = client_options(cluster, "scrobbler");
    o.max_in_flight = 8;
    debug_log(o);
    msg::kafka_topic_channel ch(io.get_executor(), o, {.topic = "plays"});
    BOOST_TEST(ch.max_in_flight() == 8u);
    BOOST_TEST(ch.consumer() == nullptr);  // nothing joins a group before the first receive
    intg::trace_context trace;
    trace.trace_id.fill(0x12);
    trace.span_id.fill(0x34);
    trace.flags = 1;
    std::map<std::string, std::string> receipt_of;  // payload -> "partition:offset"
    for (int i = 0; i < 6; ++i) {
      const std::string payload = "play-" + std::to_string(i), key = "user-" + std::to_string(i % 2);
      const std::array<msg::header_view, 2> headers{{{"content-type", "application/json"}, {"traceparent", "replaced by the trace"}}};
      msg::outgoing_message out;
      out.payload = payload;
      out.key = key;
      out.headers = headers;
      out.trace = trace;
      auto r = co_await ch.publish(out);
      BOOST_TEST_REQUIRE(r.has_value(), r.error().to_string());
      BOOST_TEST(r->confirmed);
      BOOST_TEST(r->id.find(':') != std::string::npos);
      receipt_of[payload] = r->id;
    }
    msg::outgoing_message bare;
    bare.payload = "no key";
    auto r = co_await ch.publish(bare);
    BOOST_TEST_REQUIRE(r.has_value());
    receipt_of["no key"] = r->id;
    BOOST_TEST(ch.stats().published == 7u);

    std::map<std::string, msg::received_message> got;
    while (got.size() < 7) {
      auto m = co_await channel_receive_within(ch, 30s);
      BOOST_TEST_REQUIRE(m.has_value(), "nothing received within 30 s");
      BOOST_TEST_REQUIRE(m->has_value(), (*m).error().to_string());
      BOOST_TEST(ch.in_flight() <= ch.max_in_flight());
      BOOST_TEST((co_await ch.ack(**m)).has_value());
      got[(*m)->payload] = **m;
    }
    const auto& m3 = got["play-3"];
    BOOST_TEST(m3.id == receipt_of["play-3"]);  // the receipt names where it was written
    BOOST_TEST(m3.key == "user-1");
    BOOST_TEST(m3.delivery_count == 1u);
    BOOST_TEST(!m3.redelivered());
    BOOST_TEST((m3.header_value("content-type") == std::optional<std::string_view>("application/json")));
    BOOST_TEST_REQUIRE(m3.headers.size() == 2u);  // content-type, and the trace's traceparent only
    auto tc = m3.trace();
    BOOST_TEST_REQUIRE(tc.has_value());
    BOOST_TEST((tc->trace_id == trace.trace_id));
    BOOST_TEST((tc->span_id == trace.span_id));
    BOOST_TEST(got["no key"].key.empty());
    BOOST_TEST(got["no key"].headers.empty());
    BOOST_TEST(got["play-1"].id.substr(0, got["play-1"].id.find(':')) == got["play-3"].id.substr(0, got["play-3"].id.find(':')));  // one key, one partition
    // Settled twice, or never received: invalid_argument.
    auto twice = co_await ch.ack(m3);
    BOOST_TEST_REQUIRE(twice.has_error());
    BOOST_TEST((twice.error() == intg::errc::invalid_argument));
    msg::received_message stranger;
    stranger.id = "0:999999";
    auto unknown = co_await ch.nack(stranger, true);
    BOOST_TEST_REQUIRE(unknown.has_error());
    BOOST_TEST((unknown.error() == intg::errc::invalid_argument));
    BOOST_TEST(ch.in_flight() == 0u);
    BOOST_TEST((co_await ch.close()).has_value());
    auto after_close = co_await ch.receive();
    BOOST_TEST_REQUIRE(after_close.has_error());
    BOOST_TEST((after_close.error() == intg::errc::cancelled));

    // A channel of the same group resumes after what was acked: nothing old comes again.
    msg::kafka_topic_channel again(io.get_executor(), client_options(cluster, "scrobbler"), {.topic = "plays"});
    msg::outgoing_message late;
    late.payload = "late";
    BOOST_TEST_REQUIRE((co_await again.publish(late)).has_value());
    auto m = co_await channel_receive_within(again, 30s);
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST_REQUIRE(m->has_value());
    BOOST_TEST((*m)->payload == "late");
    BOOST_TEST((co_await again.ack(**m)).has_value());
    BOOST_TEST((co_await again.close()).has_value());
  }());
}

BOOST_AUTO_TEST_CASE(the_kafka_topic_channel_requeues_then_dead_letters) {
  mock_cluster cluster;
  cluster.topic("tasks", 1);
  cluster.topic("tasks.dead-letter", 1);
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    msg::kafka_topic_channel ch(io.get_executor(), client_options(cluster, "workers"), {.topic = "tasks", .max_deliveries = 3});
    const std::array<msg::header_view, 1> headers{{{"attempt-by", "test"}}};
    for (std::string_view payload : {"flaky", "poison"}) {
      msg::outgoing_message out;
      out.payload = payload;
      out.key = "k";
      out.headers = headers;
      BOOST_TEST_REQUIRE((co_await ch.publish(out)).has_value());
    }
    // "flaky" is nacked twice and then acked: delivery counts 1, 2, 3. "poison" is nacked until
    // max_deliveries dead-letters it; both keep their key and headers on every copy.
    std::vector<std::uint32_t> flaky_counts, poison_counts;
    while (poison_counts.size() < 3 || flaky_counts.size() < 3) {
      auto m = co_await channel_receive_within(ch, 30s);
      BOOST_TEST_REQUIRE(m.has_value(), "nothing received within 30 s");
      BOOST_TEST_REQUIRE(m->has_value(), (*m).error().to_string());
      const auto& x = **m;
      BOOST_TEST(x.key == "k");
      BOOST_TEST((x.header_value("attempt-by") == std::optional<std::string_view>("test")));
      BOOST_TEST(!x.header_value(msg::kafka_headers::deliveries).has_value());  // the channel's own header is not shown
      if (x.payload == "flaky") {
        flaky_counts.push_back(x.delivery_count);
        if (flaky_counts.size() < 3) BOOST_TEST((co_await ch.nack(x, true)).has_value());
        else BOOST_TEST((co_await ch.ack(x)).has_value());
      } else {
        poison_counts.push_back(x.delivery_count);
        BOOST_TEST((co_await ch.nack(x, true)).has_value());  // the third goes to the dead-letter topic
      }
    }
    BOOST_TEST((flaky_counts == std::vector<std::uint32_t>{1, 2, 3}));
    BOOST_TEST((poison_counts == std::vector<std::uint32_t>{1, 2, 3}));
    BOOST_TEST(ch.stats().nacked == 4u);
    BOOST_TEST(ch.stats().redelivered == 4u);
    BOOST_TEST(ch.stats().dead_lettered == 1u);
    // One by the application, with its reason.
    msg::outgoing_message bad;
    bad.payload = "malformed";
    BOOST_TEST_REQUIRE((co_await ch.publish(bad)).has_value());
    auto m = co_await channel_receive_within(ch, 30s);
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST_REQUIRE(m->has_value());
    BOOST_TEST((*m)->payload == "malformed");
    BOOST_TEST((co_await ch.dead_letter(**m, "not JSON")).has_value());
    auto settled_twice = co_await ch.ack(**m);  // settled already
    BOOST_TEST_REQUIRE(settled_twice.has_error());
    BOOST_TEST((settled_twice.error() == intg::errc::invalid_argument));
    BOOST_TEST(ch.in_flight() == 0u);
    BOOST_TEST((co_await ch.close()).has_value());

    // The dead-letter topic, read with the Kafka consumer directly.
    auto c = kafka::consumer::create(io.get_executor(), client_options(cluster, "inspectors"));
    BOOST_TEST_REQUIRE(c.has_value());
    BOOST_TEST_REQUIRE(c->subscribe({"tasks.dead-letter"}).has_value());
    std::vector<kafka::message> dead;
    while (dead.size() < 2) {
      auto r = co_await receive_within(*c, 30s);
      BOOST_TEST_REQUIRE(r.has_value(), "nothing dead-lettered within 30 s");
      BOOST_TEST_REQUIRE(r->has_value());
      dead.push_back(**r);
    }
    BOOST_TEST(dead[0].value == "poison");
    BOOST_TEST((dead[0].key == std::optional<std::string>("k")));
    BOOST_TEST((dead[0].header_value("attempt-by") == std::optional<std::string_view>("test")));
    BOOST_TEST((dead[0].header_value("dl:reason") == std::optional<std::string_view>("delivered 3 times")));
    BOOST_TEST((dead[0].header_value("dl:topic") == std::optional<std::string_view>("tasks")));
    BOOST_TEST((dead[0].header_value("dl:group") == std::optional<std::string_view>("workers")));
    BOOST_TEST((dead[0].header_value("dl:deliveries") == std::optional<std::string_view>("3")));
    BOOST_TEST(dead[0].header_value("dl:id").has_value());
    BOOST_TEST(dead[1].value == "malformed");
    BOOST_TEST((dead[1].header_value("dl:reason") == std::optional<std::string_view>("not JSON")));
    BOOST_TEST((co_await c->close()).has_value());
  }());
}

BOOST_AUTO_TEST_CASE(the_kafka_topic_channel_refuses_options_that_cannot_work) {
  asio::io_context io;
  kafka::options o;
  o.bootstrap_servers = "127.0.0.1:1";
  BOOST_CHECK_THROW(msg::kafka_topic_channel(io.get_executor(), o, {}), intg::exception);
  BOOST_CHECK_THROW(msg::kafka_topic_channel(io.get_executor(), o, {.topic = "t", .dead_letter_topic = "t"}), intg::exception);
  BOOST_CHECK_THROW(msg::kafka_topic_channel(io.get_executor(), o, {.topic = "t", .max_deliveries = 0}), intg::exception);
  test::run(io, [&]() -> asio::awaitable<void> {
    msg::kafka_topic_channel ch(io.get_executor(), o, {.topic = "t"});  // no group_id: publishing only
    auto r = co_await ch.receive();
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST((r.error() == intg::errc::config_error));
    BOOST_TEST(r.error().to_string().find("group_id") != std::string::npos);
  }());
}

BOOST_AUTO_TEST_SUITE_END()

// The producer keeps each waiting sender's handler in its message's slot, inline when small.
BOOST_AUTO_TEST_SUITE(inline_handler_suite)

using handler = intg::detail::inline_handler<void(int)>;

BOOST_AUTO_TEST_CASE(small_and_large_handlers_are_called_once_with_their_argument) {
  int got = 0;
  handler small([&](int v) { got = v; });
  BOOST_TEST(static_cast<bool>(small));
  small(7);
  BOOST_TEST(got == 7);
  BOOST_TEST(!small);

  std::array<char, 256> big{};  // larger than the buffer: kept on the heap
  big[255] = 5;
  handler large([&got, big](int v) { got = v + big[255]; });
  handler moved(std::move(large));
  BOOST_TEST(!large);
  moved(1);
  BOOST_TEST(got == 6);
}

BOOST_AUTO_TEST_CASE(moving_and_dropping_release_what_the_handler_holds) {
  auto held = std::make_shared<int>(1);
  {
    handler a([held](int) {});
    BOOST_TEST(held.use_count() == 2);
    handler b(std::move(a));  // relocated, not copied
    BOOST_TEST(held.use_count() == 2);
    handler c([](int) {});
    c = std::move(b);  // the lambda c held is destroyed, b's moves in
    BOOST_TEST(held.use_count() == 2);
  }  // never called: destroyed
  BOOST_TEST(held.use_count() == 1);
  std::array<std::shared_ptr<int>, 8> many;
  many.fill(held);
  {
    handler boxed([many](int) {});
    BOOST_TEST(held.use_count() == 17);
    boxed(0);  // the handler is released before and after the call
  }
  BOOST_TEST(held.use_count() == 9);
}

BOOST_AUTO_TEST_CASE(the_cancellation_slot_is_the_handlers) {
  asio::cancellation_signal sig;
  handler bound(asio::bind_cancellation_slot(sig.slot(), [](int) {}));
  BOOST_TEST((bound.get_cancellation_slot() == sig.slot()));
  handler unbound([](int) {});
  BOOST_TEST(!unbound.get_cancellation_slot().is_connected());
}

BOOST_AUTO_TEST_SUITE_END()
