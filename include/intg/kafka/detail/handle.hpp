// What the Kafka producer and consumer share: the librdkafka configuration built from options,
// the handle, the wake-up of an Asio executor by a librdkafka queue, and the cluster probe.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/kafka/error.hpp>
#include <intg/kafka/options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <librdkafka/rdkafka.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace intg::kafka::detail {

namespace asio = boost::asio;

enum class role { producer, consumer };

struct conf_deleter {
  void operator()(rd_kafka_conf_t* c) const noexcept { rd_kafka_conf_destroy(c); }
};
using conf_ptr = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;

// Properties that options sets from its own fields, or whose value the guarantees rest on.
inline const char* managed_reason(std::string_view key, role r) noexcept {
  if (key == "bootstrap.servers" || key == "metadata.broker.list") return "set options::bootstrap_servers";
  if (key == "client.id") return "set options::client_id";
  if (key == "log.queue") return "intg serves librdkafka's logs on the executor (options::on_log)";
  if (r == role::producer) {
    if (key == "enable.idempotence" || key == "acks" || key == "request.required.acks")
      return "the producer is idempotent with acks=all";
    if (key == "queue.buffering.max.messages") return "set options::max_queued_messages";
  } else {
    if (key == "group.id") return "set options::group_id";
    if (key == "enable.auto.commit" || key == "enable.auto.offset.store")
      return "commits follow the application's acknowledgements";
    if (key == "auto.offset.reset") return "set options::auto_offset_reset";
  }
  return nullptr;
}

// librdkafka's configuration: intg's defaults, then the options' properties, then the secrets.
// A refused secret is reported without librdkafka's text, which quotes the value.
inline result<conf_ptr> make_conf(const options& o, role r) {
  if (o.bootstrap_servers.empty())
    return error(intg::errc::config_error, "kafka: bootstrap_servers is empty (\"host:9092,host2:9092\")");
  if (r == role::consumer && o.group_id.empty())
    return error(intg::errc::config_error, "kafka: a consumer needs a group_id");
  if (r == role::producer ? o.max_queued_messages == 0 : o.max_in_flight == 0)
    return error(intg::errc::config_error, r == role::producer ? "kafka: max_queued_messages must be at least 1"
                                                                 : "kafka: max_in_flight must be at least 1");
  conf_ptr conf(rd_kafka_conf_new());
  char errstr[512];
  auto set = [&](std::string_view key, std::string_view value, bool secret) -> result<void> {
    const std::string k(key), v(value);
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), errstr, sizeof errstr) == RD_KAFKA_CONF_OK) return {};
    if (secret) return error(intg::errc::config_error, "kafka property '" + k + "': librdkafka refused the value (not shown: it is a secret)");
    return error(intg::errc::config_error, "kafka property '" + k + "': " + errstr);
  };
  const std::string max_queued = std::to_string(o.max_queued_messages);
  std::pair<const char*, std::string_view> defaults_producer[] = {
      {"enable.idempotence", "true"}, {"acks", "all"}, {"queue.buffering.max.messages", max_queued}};
  std::pair<const char*, std::string_view> defaults_consumer[] = {
      {"group.id", o.group_id},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      {"auto.offset.reset", o.auto_offset_reset}};
  std::pair<const char*, std::string_view> defaults_common[] = {
      {"bootstrap.servers", o.bootstrap_servers},
      {"client.id", o.client_id},
      // librdkafka 2.0 verifies host names by default; said here so that it stays so.
      {"ssl.endpoint.identification.algorithm", "https"},
      {"enable.ssl.certificate.verification", "true"},
      {"log.queue", "true"}};
  for (auto& [k, v] : defaults_common)
    if (auto s = set(k, v, false); !s) return s.error();
  if (r == role::producer) {
    for (auto& [k, v] : defaults_producer)
      if (auto s = set(k, v, false); !s) return s.error();
  } else {
    for (auto& [k, v] : defaults_consumer)
      if (auto s = set(k, v, false); !s) return s.error();
  }
  for (const auto& [k, v] : o.properties) {
    if (const char* why = managed_reason(k, r))
      return error(intg::errc::config_error, "kafka property '" + k + "' is managed by intg: " + why);
    if (is_secret_property(k))
      return error(intg::errc::config_error, "kafka property '" + k + "' holds a secret: put it in options::secret_properties");
    if (auto s = set(k, v, false); !s) return s.error();
  }
  for (const auto& [k, v] : o.secret_properties) {
    if (const char* why = managed_reason(k, r))
      return error(intg::errc::config_error, "kafka property '" + k + "' is managed by intg: " + why);
    if (auto s = set(k, v.reveal(), true); !s) return s.error();
  }
  return conf;
}

// The rd_kafka_t, shared so that a probe running on its own thread keeps it alive.
using handle = std::shared_ptr<rd_kafka_t>;

inline handle make_handle(rd_kafka_t* rk, role r) {
  if (r == role::producer) return handle(rk, [](rd_kafka_t* p) { rd_kafka_destroy(p); });
  // A consumer that was not closed leaves its group by the session timeout: do not block here.
  return handle(rk, [](rd_kafka_t* p) { rd_kafka_destroy_flags(p, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE); });
}

// Wakes the executor when a librdkafka queue goes from empty to non-empty: librdkafka writes to
// an eventfd (rd_kafka_queue_io_event_enable), Asio waits for it to be readable. It writes once
// per non-polling period, so the reader must drain the queue on every wake.
class queue_waker {
 public:
  explicit queue_waker(const asio::any_io_executor& ex) : fd_(ex) {
    const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    fd_.assign(fd);
  }
  queue_waker(const queue_waker&) = delete;
  queue_waker& operator=(const queue_waker&) = delete;

  void watch(rd_kafka_queue_t* q) {
    static constexpr std::uint64_t one = 1;  // an eventfd takes 8-byte writes (librdkafka copies it)
    rd_kafka_queue_io_event_enable(q, fd_.native_handle(), &one, sizeof one);
    // librdkafka writes only when the queue goes from empty to non-empty, so what it queued
    // before (rd_kafka_new logs a warning for a property of the other role) would never wake
    // the executor, and nothing after it either: wake once now (an empty drain costs nothing).
    [[maybe_unused]] auto n = ::write(fd_.native_handle(), &one, sizeof one);
  }
  // After this returns librdkafka writes no more (it writes with the queue's lock held).
  static void unwatch(rd_kafka_queue_t* q) { rd_kafka_queue_io_event_enable(q, -1, nullptr, 0); }

  template <class Handler>
  void async_wait(Handler&& h) {
    fd_.async_wait(asio::posix::descriptor_base::wait_read, std::forward<Handler>(h));
  }
  // Resets the eventfd's counter: call before draining, so that a write during the drain wakes again.
  void reset() noexcept {
    std::uint64_t v;
    while (::read(fd_.native_handle(), &v, sizeof v) > 0) {
    }
  }
  void close() noexcept {
    boost::system::error_code ignored;
    fd_.close(ignored);
  }

 private:
  asio::posix::stream_descriptor fd_;
};

// The cluster as a metadata request sees it.
struct cluster_info {
  int brokers = 0;
  int topics = 0;
};

// Asks for the cluster's metadata on a thread of its own (rd_kafka_metadata blocks) and awaits the
// answer through an eventfd, so the executor never blocks. Cancelling the wait leaves the thread
// to finish on its own (within `timeout`); it keeps the handle alive until then.
inline asio::awaitable<result<cluster_info>> probe_cluster(handle rk, std::chrono::milliseconds timeout) {
  struct shared {
    int fd = -1;
    std::atomic<bool> done{false};
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    cluster_info info;
    ~shared() {
      if (fd >= 0) ::close(fd);
    }
  };
  auto st = std::make_shared<shared>();
  st->fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  const int mine = st->fd < 0 ? -1 : ::dup(st->fd);
  if (mine < 0) co_return error(intg::errc::unavailable, std::string("kafka: cannot create an eventfd: ") + std::strerror(errno));
  asio::posix::stream_descriptor wake(co_await asio::this_coro::executor, mine);
  try {
    std::thread([st, rk, timeout] {
      const rd_kafka_metadata_t* md = nullptr;
      st->err = rd_kafka_metadata(rk.get(), 0, nullptr, &md, static_cast<int>(timeout.count()));
      if (md) {
        st->info.brokers = md->broker_cnt;
        st->info.topics = md->topic_cnt;
        rd_kafka_metadata_destroy(md);
      }
      st->done.store(true, std::memory_order_release);
      const std::uint64_t one = 1;
      [[maybe_unused]] auto n = ::write(st->fd, &one, sizeof one);
    }).detach();
  } catch (const std::system_error& e) {
    co_return error(intg::errc::unavailable, std::string("kafka: cannot start the metadata probe: ") + e.what());
  }
  auto [ec] = co_await wake.async_wait(asio::posix::descriptor_base::wait_read, asio::as_tuple(asio::use_awaitable));
  if (ec || !st->done.load(std::memory_order_acquire)) co_return error(intg::errc::cancelled, "kafka: metadata probe cancelled");
  if (st->err) co_return make_error(st->err, "kafka: metadata request to the cluster failed");
  co_return st->info;
}

}  // namespace intg::kafka::detail
