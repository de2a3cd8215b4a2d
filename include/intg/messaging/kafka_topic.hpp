// intg::messaging::kafka_topic_channel: a message channel on one Kafka topic and one consumer
// group, at least once. A thin layer over intg::kafka: publish is producer::send (idempotent,
// acks=all; the receipt is the delivery report's partition and offset); receive is
// consumer::receive and ack is consumer::ack, whose commits never pass an unacked message. Kafka
// has no per-message redelivery, so nack(requeue) publishes a copy at the end of the topic (same
// key, so the same partition) with its delivery count in a header and then acks the original; past
// max_deliveries, and on dead_letter(), the message goes to a dead-letter topic with the reason in
// headers, then the original is acked. See docs/messaging.md and docs/kafka.md.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/kafka/consumer.hpp>
#include <intg/kafka/producer.hpp>
#include <intg/messaging/channel.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace intg::messaging {

/// The Kafka headers the channel adds (docs/messaging.md, "Kafka").
namespace kafka_headers {
inline constexpr std::string_view deliveries = "intg-deliveries";  ///< on a requeued copy: its delivery number (2, 3 ...)
// Added to a message moved to the dead-letter topic:
inline constexpr std::string_view dead_reason = "dl:reason";
inline constexpr std::string_view dead_id = "dl:id";              ///< "partition:offset" in the source topic
inline constexpr std::string_view dead_topic = "dl:topic";
inline constexpr std::string_view dead_group = "dl:group";
inline constexpr std::string_view dead_deliveries = "dl:deliveries";
}  // namespace kafka_headers

struct kafka_topic_options {
  std::string topic{};               ///< the topic (required)
  std::string dead_letter_topic{};   ///< empty: topic + ".dead-letter"
  /// nack(requeue) of a message delivered this many times dead-letters it instead.
  std::uint32_t max_deliveries = 5;
};

/// Counters for tests, metrics and capacity planning (the producer's and consumer's own stats
/// are on producer() and consumer()).
struct kafka_topic_stats {
  std::uint64_t published = 0;         ///< messages the cluster confirmed (delivery reports)
  std::uint64_t publish_failures = 0;
  std::uint64_t received = 0;
  std::uint64_t redelivered = 0;       ///< received requeued copies (delivery count above 1)
  std::uint64_t acked = 0;
  std::uint64_t nacked = 0;            ///< nack(requeue = true) that requeued a copy
  std::uint64_t dead_lettered = 0;     ///< by the application, nack(requeue = false) or max_deliveries
  std::uint64_t settle_failures = 0;   ///< requeues or dead letters not confirmed (the message stays unsettled)
};

/// A channel on a Kafka topic (the named requirements MessagePublisher and MessageConsumer).
/// Used from one thread (or strand): the executor it was created with. The producer is created
/// on the first publish, the consumer (which joins the group; kafka::options::group_id) on the
/// first receive, so a channel that only publishes never joins a group. close() before
/// destroying it to commit what is acked and flush what is sent.
class kafka_topic_channel {
 public:
  static constexpr delivery_guarantee guarantee = delivery_guarantee::at_least_once;
  static constexpr bool confirms_publish = true;

  /// Throws intg::exception (invalid_argument) for options that cannot work.
  kafka_topic_channel(asio::any_io_executor ex, kafka::options client, kafka_topic_options opts)
      : ex_(std::move(ex)), client_(std::move(client)), opts_(std::move(opts)) {
    auto fail = [](std::string what) { throw exception(error{errc::invalid_argument, "kafka_topic_channel: " + std::move(what)}); };
    if (opts_.topic.empty()) fail("options::topic is required");
    if (opts_.max_deliveries == 0) fail("options::max_deliveries must be at least 1");
    if (opts_.dead_letter_topic.empty()) opts_.dead_letter_topic = opts_.topic + ".dead-letter";
    if (opts_.dead_letter_topic == opts_.topic) fail("the dead-letter topic must differ from the topic");
  }

  kafka_topic_channel(const kafka_topic_channel&) = delete;
  kafka_topic_channel& operator=(const kafka_topic_channel&) = delete;

  /// producer::send with the key (empty: none), the headers and the traceparent; completes with
  /// the delivery report. The receipt's id is "partition:offset". Errors: the producer's
  /// (outcome_unknown when the broker may have written it: it is not sent again).
  asio::awaitable<result<publish_receipt>> publish(const outgoing_message& m) {
    if (closed_) co_return error(errc::cancelled, "the channel was closed");
    std::vector<kafka::header_view> headers;
    headers.reserve(m.headers.size());
    for (const auto& h : m.headers) {
      if (h.name.empty()) co_return error(errc::invalid_argument, "a message header needs a name");
      if (m.trace && h.name == traceparent_header) continue;  // the trace replaces it
      headers.push_back({h.name, h.value});
    }
    const trace_context* trace = m.trace ? &*m.trace : nullptr;
    auto r = co_await send(opts_.topic, m.key, m.payload, headers, trace);
    if (!r) {
      ++stats_.publish_failures;
      co_return r.error();
    }
    ++stats_.published;
    co_return publish_receipt{id_of(r->partition, r->offset), true};
  }

  /// The next message of the topic (consumer::receive): joins the group on the first call. The
  /// id is "partition:offset"; delivery_count is 1, or the number a requeued copy carries (a
  /// message delivered again after a rebalance or a restart is not counted: Kafka does not say).
  /// Errors: the consumer's (permanent errors for the subscription come out once each, between
  /// messages); errc::cancelled after close().
  asio::awaitable<result<received_message>> receive() {
    if (closed_) co_return error(errc::cancelled, "the channel was closed");
    if (!consumer_) {
      auto c = kafka::consumer::create(ex_, client_);
      if (!c) co_return c.error();
      if (auto s = c->subscribe({opts_.topic}); !s) co_return s.error();
      consumer_ = std::make_unique<kafka::consumer>(std::move(*c));
    }
    auto r = co_await consumer_->receive();
    if (!r) co_return r.error();
    received_message out;
    out.id = id_of(r->partition, r->offset);
    if (r->key) out.key = std::move(*r->key);
    out.payload = std::move(r->value);
    out.delivery_count = 1;
    out.headers.reserve(r->headers.size());
    for (auto& h : r->headers) {
      if (h.name == kafka_headers::deliveries) {
        std::uint32_t n = 0;
        const std::string_view v = h.value ? std::string_view(*h.value) : std::string_view();
        if (std::from_chars(v.data(), v.data() + v.size(), n).ec == std::errc{} && n > 1) out.delivery_count = n;
        continue;
      }
      out.headers.push_back({std::move(h.name), h.value ? std::move(*h.value) : std::string()});
    }
    r->value.clear();
    r->key.reset();
    r->headers.clear();
    unsettled_[out.id] = std::move(*r);  // a redelivery after a rebalance replaces the stale delivery
    ++stats_.received;
    if (out.delivery_count > 1) ++stats_.redelivered;
    co_return out;
  }

  /// consumer::ack: its offset is committed once every earlier message of its partition is acked.
  /// An error when its partition was revoked since (the new owner receives it again); it no
  /// longer counts as in flight either way.
  asio::awaitable<result<void>> ack(const received_message& m) {
    auto k = find(m);
    if (!k) co_return k.error();
    const kafka::message km = std::move((*k)->second);
    unsettled_.erase(*k);
    auto r = consumer_->ack(km);
    if (r) ++stats_.acked;
    co_return r;
  }

  /// requeue: publishes a copy at the end of the topic (same key, payload and headers, delivery
  /// count + 1) and acks the original once the copy is confirmed; a message delivered
  /// max_deliveries times is dead-lettered instead. Without requeue: dead_letter(m, "rejected").
  /// If the copy is not confirmed, the error is returned and `m` stays unsettled (settle it again:
  /// its partition's commits cannot pass it).
  asio::awaitable<result<void>> nack(const received_message& m, bool requeue = true) {
    if (!requeue) co_return co_await dead_letter(m, "rejected");
    if (std::max<std::uint32_t>(m.delivery_count, 1) >= opts_.max_deliveries)
      co_return co_await dead_letter(m, "delivered " + std::to_string(opts_.max_deliveries) + " times");
    auto k = find(m);
    if (!k) co_return k.error();
    const std::string id = m.id;
    const std::string next = std::to_string(std::max<std::uint32_t>(m.delivery_count, 1) + 1);
    std::vector<kafka::header_view> headers = copy_headers(m);
    headers.push_back({kafka_headers::deliveries, next});
    co_return co_await settle_after(id, send(opts_.topic, m.key, m.payload, headers, nullptr), stats_.nacked);
  }

  /// Publishes `m` to the dead-letter topic (its key, payload and headers, plus dl:reason, dl:id,
  /// dl:topic, dl:group and dl:deliveries) and acks the original once that is confirmed. If it
  /// is not, the error is returned and `m` stays unsettled.
  asio::awaitable<result<void>> dead_letter(const received_message& m, std::string_view reason) {
    auto k = find(m);
    if (!k) co_return k.error();
    const std::string id = m.id, why(reason), count = std::to_string(std::max<std::uint32_t>(m.delivery_count, 1));
    std::vector<kafka::header_view> headers = copy_headers(m);
    headers.insert(headers.end(), {{kafka_headers::dead_reason, why},
                                   {kafka_headers::dead_id, id},
                                   {kafka_headers::dead_topic, opts_.topic},
                                   {kafka_headers::dead_group, client_.group_id},
                                   {kafka_headers::dead_deliveries, count}});
    co_return co_await settle_after(id, send(opts_.dead_letter_topic, m.key, m.payload, headers, nullptr), stats_.dead_lettered);
  }

  /// Commits what is acked and leaves the group (consumer::close), then flushes what is sent
  /// (producer::close). A waiting receive() ends with errc::cancelled. The first error is returned.
  asio::awaitable<result<void>> close() {
    if (closed_) co_return result<void>{};
    closed_ = true;
    result<void> out;
    if (consumer_) out = co_await consumer_->close();
    if (producer_) {
      auto p = co_await producer_->close();
      if (out && !p) out = p;
    }
    co_return out;
  }

  /// Fetched and not yet received, plus received and not settled (consumer::in_flight).
  std::size_t in_flight() const noexcept { return consumer_ ? consumer_->in_flight() : 0; }
  std::size_t max_in_flight() const noexcept { return client_.max_in_flight; }
  const kafka_topic_stats& stats() const noexcept { return stats_; }
  const kafka_topic_options& options() const noexcept { return opts_; }
  /// The producer and consumer, to use Kafka directly (their stats, commit(), assignment ...);
  /// null until the first publish or receive.
  kafka::producer* producer() noexcept { return producer_.get(); }
  kafka::consumer* consumer() noexcept { return consumer_.get(); }

 private:
  using entry = std::unordered_map<std::string, kafka::message>::iterator;

  static std::string id_of(std::int32_t partition, std::int64_t offset) {
    return std::to_string(partition) + ":" + std::to_string(offset);
  }

  result<entry> find(const received_message& m) {
    if (closed_) return error(errc::cancelled, "the channel was closed");
    auto it = unsettled_.find(m.id);
    if (it == unsettled_.end() || settling_.contains(m.id))
      return error(errc::invalid_argument, "message " + m.id + " was not received from this channel, or is settled already");
    return it;
  }

  static std::vector<kafka::header_view> copy_headers(const received_message& m) {
    std::vector<kafka::header_view> out;
    out.reserve(m.headers.size() + 6);
    for (const auto& h : m.headers) out.push_back({h.name, h.value});
    return out;
  }

  asio::awaitable<result<kafka::delivery>> send(std::string_view topic, std::string_view key, std::string_view value,
                                                const std::vector<kafka::header_view>& headers, const trace_context* trace) {
    if (!producer_) {
      auto p = kafka::producer::create(ex_, client_);
      if (!p) co_return p.error();
      producer_ = std::make_unique<kafka::producer>(std::move(*p));
    }
    const kafka::send_options so{.trace = trace};
    co_return co_await producer_->send(topic, key, value, headers, so);
  }

  // Acks message `id` once `copy` (its requeued or dead-lettered copy) is confirmed; while the
  // copy is out the message cannot be settled again, and when it fails it stays unsettled.
  asio::awaitable<result<void>> settle_after(std::string id, asio::awaitable<result<kafka::delivery>> copy, std::uint64_t& counter) {
    settling_.insert(id);
    auto sent = co_await std::move(copy);
    settling_.erase(id);
    if (!sent) {
      ++stats_.settle_failures;
      co_return sent.error();
    }
    auto it = unsettled_.find(id);
    if (it == unsettled_.end()) co_return result<void>{};  // cannot happen: settling_ kept it from being settled
    const kafka::message km = std::move(it->second);
    unsettled_.erase(it);
    ++counter;
    co_return consumer_->ack(km);
  }

  asio::any_io_executor ex_;
  kafka::options client_;
  kafka_topic_options opts_;
  std::unique_ptr<kafka::producer> producer_;
  std::unique_ptr<kafka::consumer> consumer_;
  std::unordered_map<std::string, kafka::message> unsettled_;  // received, not settled: what ack() needs
  std::unordered_set<std::string> settling_;                   // their copies awaiting confirmation
  kafka_topic_stats stats_;
  bool closed_ = false;
};

}  // namespace intg::messaging
