// intg::kafka::producer: an idempotent Kafka producer (enable.idempotence, acks=all) whose
// delivery reports are awaitable results. librdkafka serves its reports on its main queue; that
// queue wakes the executor through an eventfd, and the producer drains it there, so every report
// completes its sender on the executor. A sender waits for its report without a timer or a second
// coroutine frame: its completion handler waits in the message's slot, and the reports served by a
// wake-up resume their senders one after another, each free to queue its next message at once.
// At most options::max_queued_messages are queued or awaiting a report: senders beyond wait, so a
// stalled cluster slows producers instead of growing memory. close() flushes.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/health.hpp>
#include <intg/core/result.hpp>
#include <intg/kafka/detail/handle.hpp>
#include <intg/kafka/error.hpp>
#include <intg/kafka/message.hpp>
#include <intg/kafka/options.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace intg::kafka {

namespace asio = boost::asio;

/// Per-message choices of send(). Numbers and pointers only (safe as a temporary in a co_await).
struct send_options {
  std::int32_t partition = RD_KAFKA_PARTITION_UA;  ///< default: the partitioner's choice (by key)
  /// Sent as the `traceparent` header when set (the span that produced the message).
  const trace_context* trace = nullptr;
};

/// Counters for tests, metrics and capacity planning.
struct producer_stats {
  std::uint64_t sent = 0;            ///< messages handed to librdkafka
  std::uint64_t delivered = 0;       ///< delivery reports of success
  std::uint64_t failed = 0;          ///< delivery reports of failure (and purges on close)
  std::uint64_t waited_for_room = 0; ///< sends that waited because max_queued_messages were out
  std::uint64_t wakeups = 0;         ///< times librdkafka's queue woke the executor
  std::uint64_t errors = 0;          ///< client-level errors librdkafka reported (broker down, ...)
  std::size_t max_queued_seen = 0;   ///< the most messages queued or awaiting a report at once
};

namespace detail {

class producer_impl : public std::enable_shared_from_this<producer_impl> {
 public:
  using clock = std::chrono::steady_clock;

  producer_impl(asio::any_io_executor ex, options o) : ex_(std::move(ex)), opts_(std::move(o)), waker_(ex_) {}

  ~producer_impl() { shutdown(); }

  result<void> start() {
    auto conf = make_conf(opts_, role::producer);
    if (!conf) return conf.error();
    rd_kafka_conf_set_opaque(conf->get(), this);
    rd_kafka_conf_set_dr_msg_cb(conf->get(), &producer_impl::on_delivery);
    rd_kafka_conf_set_error_cb(conf->get(), &producer_impl::on_error);
    rd_kafka_conf_set_log_cb(conf->get(), &producer_impl::on_log);
    char errstr[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof errstr);
    if (!rk) return error(intg::errc::config_error, std::string("kafka producer: ") + errstr);
    conf.value().release();  // rd_kafka_new took it
    rk_ = make_handle(rk, role::producer);
    rd_kafka_set_log_queue(rk, nullptr);  // logs go to the main queue, served on the executor
    mainq_ = rd_kafka_queue_get_main(rk);
    slots_.resize(opts_.max_queued_messages);
    free_.reserve(slots_.size());
    for (std::size_t i = slots_.size(); i > 0; --i) free_.push_back(static_cast<std::uint32_t>(i - 1));
    waker_.watch(mainq_);
    arm();
    return {};
  }

  const options& opts() const noexcept { return opts_; }
  const asio::any_io_executor& executor() const noexcept { return ex_; }
  const producer_stats& stats() const noexcept { return stats_; }
  std::size_t queued() const noexcept { return in_flight_; }
  const handle& rk() const noexcept { return rk_; }
  const std::optional<error>& fatal() const noexcept { return fatal_; }
  const std::optional<error>& last_error() const noexcept { return last_error_; }
  bool closed() const noexcept { return closing_; }

  // keep_alive: the frame owns the producer while it waits (a member coroutine's `this` does not).
  asio::awaitable<result<delivery>> send([[maybe_unused]] std::shared_ptr<producer_impl> keep_alive, std::string_view topic,
                                         std::string_view key, std::string_view value,
                                         std::span<const header_view> headers, send_options so) {
    if (fatal_) co_return *fatal_;
    if (closing_) co_return error(intg::errc::cancelled, "the Kafka producer is closed");
    auto rkt = topic_handle(topic);
    if (!rkt) co_return rkt.error();
    bool waited = false;
    std::uint32_t index = 0;
    for (;;) {
      if (in_flight_ < opts_.max_queued_messages) {
        index = free_.back();
        auto produced = produce(*rkt, key, value, headers, so, index);
        if (produced == RD_KAFKA_RESP_ERR_NO_ERROR) {
          free_.pop_back();
          break;
        }
        // librdkafka's own bound (queue.buffering.max.kbytes) is full: wait for a report, as below.
        if (produced != RD_KAFKA_RESP_ERR__QUEUE_FULL || in_flight_ == 0) {
          if (produced == RD_KAFKA_RESP_ERR__FATAL) co_return fatal_error();
          co_return make_error(produced, "kafka: cannot queue a message for topic '" + std::string(topic) + "'");
        }
      }
      if (!waited) ++stats_.waited_for_room;
      waited = true;
      waiter w{asio::steady_timer(ex_, clock::time_point::max())};
      room_waiters_.push_back(&w);
      co_await w.timer.async_wait(asio::as_tuple(asio::use_awaitable));
      std::erase(room_waiters_, &w);
      if (!w.woken) {  // the caller cancelled: nothing was sent; pass on a wake it may have taken
        wake_one();
        co_return error(intg::errc::cancelled, "cancelled while waiting for room in the Kafka producer's queue (nothing sent)");
      }
      if (fatal_) co_return *fatal_;
      if (closing_) co_return error(intg::errc::cancelled, "the Kafka producer is closed");
    }
    ++in_flight_;
    const std::uint64_t ticket = ++stats_.sent;
    stats_.max_queued_seen = std::max(stats_.max_queued_seen, in_flight_);
    // Until the report comes, the sender's completion handler waits in the message's slot.
    auto outcome = co_await asio::async_initiate<const asio::use_awaitable_t<>&, report_signature>(
        [this, index, ticket](auto handler) { await_report(std::move(handler), index, ticket); }, asio::use_awaitable);
    if (outcome) co_return std::move(*outcome);
    // Cancelled or shut down: the report, when it comes, finds nobody waiting and is dropped.
    co_return error(intg::errc::outcome_unknown, "cancelled while awaiting the delivery report of a message to topic '" +
                                                     std::string(topic) + "': it may still be delivered (it is not sent again)");
  }

  // Stops taking messages, flushes, waits up to close_timeout for outstanding reports, then
  // purges what is left (their senders get errors) and releases librdkafka's queue.
  asio::awaitable<result<void>> close() {
    auto self = shared_from_this();
    if (closing_) co_return result<void>{};
    closing_ = true;
    wake_all_room_waiters();
    result<void> out;
    if (rk_) {
      rd_kafka_flush(rk_.get(), 0);  // sends what lingers now (linger.ms), serves ready reports
      hand_over(resume::later);
      if (in_flight_ > 0) {
        asio::steady_timer t(ex_, opts_.close_timeout);
        drained_waiter_ = &t;
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        drained_waiter_ = nullptr;
      }
      if (in_flight_ > 0) {
        const auto left = in_flight_;
        rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        drain();  // the purged messages' reports fail their senders
        hand_over(resume::later);
        out = error(intg::errc::timeout, "kafka producer closed with " + std::to_string(left) +
                                             " message(s) not delivered within close_timeout (their senders got errors)");
      }
    }
    shutdown();
    co_return out;
  }

  void shutdown() noexcept {
    closing_ = true;
    // Without close(): what is still queued is dropped, not delivered behind the caller's back.
    if (rk_ && in_flight_ > 0) rd_kafka_purge(rk_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT | RD_KAFKA_PURGE_F_NON_BLOCKING);
    if (mainq_) {
      queue_waker::unwatch(mainq_);
      rd_kafka_queue_destroy(mainq_);
      mainq_ = nullptr;
    }
    waker_.close();
    for (auto& [name, t] : topics_) rd_kafka_topic_destroy(t);
    topics_.clear();
    // Senders still waiting are abandoned with their reports (outcome_unknown when they resume).
    for (auto& s : slots_) complete(s, std::nullopt);
    hand_over(resume::later);
    wake_all_room_waiters();
    if (drained_waiter_) drained_waiter_->cancel();
  }

 private:
  struct waiter {
    asio::steady_timer timer;
    bool woken = false;
  };
  // A sender's wait for its report: the report, or nothing when the wait was given up.
  using report_signature = void(std::optional<result<delivery>>);
  using report_handler = asio::any_completion_handler<report_signature>;
  struct slot {
    report_handler handler;    // empty: nobody waits for this message's report
    std::uint64_t ticket = 0;  // which send waits here (a cancellation that comes late is ignored)
  };
  struct completion {
    report_handler handler;
    std::optional<result<delivery>> outcome;
  };
  enum class resume { now, later };

  // The sender's handler waits in the slot; cancelling it (terminal or partial) gives up the
  // wait, not the message: the sender resumes with outcome_unknown.
  struct report_cancellation {
    producer_impl* self;
    std::uint32_t index;
    std::uint64_t ticket;
    void operator()(asio::cancellation_type type) const {
      if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial)) == asio::cancellation_type::none) return;
      slot& s = self->slots_[index];
      if (s.ticket != ticket || !s.handler) return;
      self->complete(s, std::nullopt);
      self->hand_over(resume::later);  // never from inside the cancellation handler's own call
    }
  };

  template <typename Handler>
  void await_report(Handler handler, std::uint32_t index, std::uint64_t ticket) {
    report_handler h(std::move(handler));
    // The type-erased handler takes over the caller's cancellation slot and offers one of its own,
    // which lives as long as it does; the frame it resumes keeps this producer alive meanwhile.
    if (auto cs = h.get_cancellation_slot(); cs.is_connected())
      cs.template emplace<report_cancellation>(this, index, ticket);
    slots_[index].ticket = ticket;
    // swap, not assignment: Boost 1.81's any_completion_handler move assignment recurses forever.
    h.swap(slots_[index].handler);
  }

  void complete(slot& s, std::optional<result<delivery>> outcome) {
    if (s.handler) completions_.push_back(completion{std::move(s.handler), std::move(outcome)});
  }

  // Resumes the senders whose reports came: in turn and at once from the wake-up (each may queue
  // its next message before the next one resumes), posted from anywhere else.
  void hand_over(resume when) {
    if (handing_over_) return;  // a sender resumed below closed the producer: the loop goes on
    handing_over_ = true;
    for (std::size_t i = 0; i < completions_.size(); ++i) {
      // Senders run on the producer's executor (its contract), so they resume there.
      auto resumption = [c = std::move(completions_[i])]() mutable { std::move(c.handler)(std::move(c.outcome)); };
      if (when == resume::now) asio::dispatch(ex_, std::move(resumption));
      else asio::post(ex_, std::move(resumption));
    }
    completions_.clear();
    handing_over_ = false;
  }

  result<rd_kafka_topic_t*> topic_handle(std::string_view topic) {
    if (auto it = topics_.find(topic); it != topics_.end()) return it->second;
    if (topic.empty()) return error(intg::errc::invalid_argument, "kafka: empty topic name");
    const std::string name(topic);
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk_.get(), name.c_str(), nullptr);
    if (!t) return make_error(rd_kafka_last_error(), "kafka: cannot use topic '" + name + "'");
    topics_.emplace(name, t);
    return t;
  }

  rd_kafka_resp_err_t produce(rd_kafka_topic_t* rkt, std::string_view key, std::string_view value,
                              std::span<const header_view> headers, const send_options& so, std::uint32_t index) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!headers.empty() || so.trace) {
      hdrs = rd_kafka_headers_new(headers.size() + 1);
      for (const auto& h : headers)
        rd_kafka_header_add(hdrs, h.name.data(), static_cast<ssize_t>(h.name.size()), h.value ? h.value->data() : nullptr,
                            h.value ? static_cast<ssize_t>(h.value->size()) : 0);
      if (so.trace) {
        char tp[trace_context::traceparent_size];
        so.trace->format_traceparent(tp);
        rd_kafka_header_add(hdrs, traceparent_header.data(), static_cast<ssize_t>(traceparent_header.size()), tp, sizeof tp);
      }
    }
    rd_kafka_vu_t vu[7];
    std::size_t n = 0;
    vu[n].vtype = RD_KAFKA_VTYPE_RKT;
    vu[n++].u.rkt = rkt;
    vu[n].vtype = RD_KAFKA_VTYPE_PARTITION;
    vu[n++].u.i32 = so.partition;
    vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vu[n++].u.i = RD_KAFKA_MSG_F_COPY;
    vu[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vu[n].u.mem.ptr = const_cast<char*>(value.data());
    vu[n++].u.mem.size = value.size();
    if (!key.empty()) {
      vu[n].vtype = RD_KAFKA_VTYPE_KEY;
      vu[n].u.mem.ptr = const_cast<char*>(key.data());
      vu[n++].u.mem.size = key.size();
    }
    vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vu[n++].u.ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(index) + 1);
    if (hdrs) {  // owned by librdkafka once the call succeeds
      vu[n].vtype = RD_KAFKA_VTYPE_HEADERS;
      vu[n++].u.headers = hdrs;
    }
    rd_kafka_error_t* err = rd_kafka_produceva(rk_.get(), vu, n);
    if (!err) return RD_KAFKA_RESP_ERR_NO_ERROR;
    const auto code = rd_kafka_error_code(err);
    rd_kafka_error_destroy(err);
    if (hdrs) rd_kafka_headers_destroy(hdrs);
    return code;
  }

  error fatal_error() {
    if (!fatal_) {
      char buf[512];
      const auto code = rd_kafka_fatal_error(rk_.get(), buf, sizeof buf);
      fatal_ = make_error(code ? code : RD_KAFKA_RESP_ERR__FATAL, "kafka producer: fatal error, create a new producer", buf);
    }
    return *fatal_;
  }

  void arm() {
    waker_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || !self->mainq_) return;
      self->waker_.reset();
      ++self->stats_.wakeups;
      self->drain();
      self->hand_over(resume::now);
      if (self->mainq_) self->arm();
    });
  }

  // Serves every report, error and log line queued; callbacks run here, on the executor.
  void drain() {
    while (rd_kafka_poll(rk_.get(), 0) > 0) {
    }
  }

  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    static_cast<producer_impl*>(opaque)->delivered(*m);
  }

  void delivered(const rd_kafka_message_t& m) {
    const auto index = static_cast<std::uint32_t>(reinterpret_cast<std::uintptr_t>(m._private) - 1);
    slot& s = slots_[index];
    free_.push_back(index);
    --in_flight_;
    if (m.err) ++stats_.failed;
    else ++stats_.delivered;
    if (s.handler) {
      if (m.err) {
        complete(s, m.err == RD_KAFKA_RESP_ERR__FATAL
                        ? result<delivery>(fatal_error())
                        : result<delivery>(delivery_error(m.err, rd_kafka_message_status(&m), rd_kafka_topic_name(m.rkt))));
      } else {
        rd_kafka_timestamp_type_t type;
        complete(s, result<delivery>(delivery{m.partition, m.offset, rd_kafka_message_timestamp(&m, &type)}));
      }
    }
    wake_one();
    if (in_flight_ == 0 && drained_waiter_) drained_waiter_->cancel();
  }

  void wake_one() {
    for (auto* w : room_waiters_)
      if (!w->woken) {
        w->woken = true;
        w->timer.cancel();
        return;
      }
  }
  void wake_all_room_waiters() {
    for (auto* w : room_waiters_) {
      w->woken = true;
      w->timer.cancel();
    }
  }

  static void on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<producer_impl*>(opaque);
    ++self->stats_.errors;
    const auto code = static_cast<rd_kafka_resp_err_t>(err);
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
      self->fatal_error();
      self->wake_all_room_waiters();
      return;
    }
    self->last_error_ = make_error(code, "kafka producer", reason);
  }

  static void on_log(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
    auto* self = static_cast<producer_impl*>(rd_kafka_opaque(rk));
    if (self && self->opts_.on_log) self->opts_.on_log(level, facility, text);
  }

  asio::any_io_executor ex_;
  options opts_;
  handle rk_;
  rd_kafka_queue_t* mainq_ = nullptr;
  queue_waker waker_;
  std::map<std::string, rd_kafka_topic_t*, std::less<>> topics_;
  std::vector<slot> slots_;  // by the index in each message's opaque
  std::vector<std::uint32_t> free_;
  std::vector<completion> completions_;  // reports served, senders not yet resumed
  bool handing_over_ = false;
  std::size_t in_flight_ = 0;
  std::vector<waiter*> room_waiters_;
  asio::steady_timer* drained_waiter_ = nullptr;
  std::optional<error> fatal_;
  std::optional<error> last_error_;
  producer_stats stats_;
  bool closing_ = false;
};

}  // namespace detail

/// An idempotent Kafka producer. Like an Asio socket it is used from one thread (or strand): the
/// executor it was created with, where its delivery reports complete. Many sends may be awaited
/// at once. Movable; destroying it without close() purges what was not delivered.
class producer {
 public:
  /// Creates the producer (librdkafka checks the configuration; it connects in the background).
  /// config_error with the offending property when librdkafka refuses one (a secret's value is
  /// never quoted).
  static result<producer> create(asio::any_io_executor ex, options opts) {
    auto impl = std::make_shared<detail::producer_impl>(std::move(ex), std::move(opts));
    if (auto s = impl->start(); !s) return s.error();
    return producer(std::move(impl));
  }

  producer(producer&&) noexcept = default;
  producer& operator=(producer&& o) noexcept {
    if (this != &o) {
      if (impl_) impl_->shutdown();
      impl_ = std::move(o.impl_);
    }
    return *this;
  }
  producer(const producer&) = delete;
  producer& operator=(const producer&) = delete;
  ~producer() {
    if (impl_) impl_->shutdown();
  }

  /// Sends a message and completes with its delivery report: where the broker wrote it (acks=all)
  /// or why it was not written. An empty key is sent as no key. The bytes are copied into
  /// librdkafka when the message is queued (name the headers array before the co_await: g++ 12
  /// cannot put a braced list's array in a coroutine frame). Waits while max_queued_messages are out.
  /// Errors: delivery_error() (intg::is_transient() says whether sending again may succeed;
  /// outcome_unknown when the broker may have written it), cancelled (closed, or the caller
  /// cancelled before it was queued), outcome_unknown (the caller cancelled after), a fatal
  /// error (the producer is unusable), invalid_argument.
  asio::awaitable<result<delivery>> send(std::string_view topic, std::string_view key, std::string_view value,
                                         std::span<const header_view> headers = {}, send_options so = {}) {
    return impl_->send(impl_, topic, key, value, headers, so);
  }
  /// Flushes: waits up to options::close_timeout for every outstanding report, then purges the
  /// rest (errc::timeout says how many). Later sends fail with errc::cancelled.
  asio::awaitable<result<void>> close() {
    auto impl = impl_;
    co_return co_await impl->close();
  }

  /// A metadata request to the cluster on a thread of its own (the executor never blocks):
  /// healthy with the broker count, unhealthy with the reason (and after a fatal error).
  asio::awaitable<health_report> health_check(std::chrono::milliseconds timeout = std::chrono::milliseconds{5'000}) {
    auto impl = impl_;
    health_report r;
    if (impl->fatal()) {
      r.message = impl->fatal()->to_string();
      co_return r;
    }
    auto info = co_await detail::probe_cluster(impl->rk(), timeout);
    r.details["queued"] = impl->queued();
    r.details["delivered"] = impl->stats().delivered;
    r.details["failed"] = impl->stats().failed;
    if (!info) {
      r.message = info.error().to_string();
      co_return r;
    }
    r.status = integration_status::healthy;
    r.details["brokers"] = info->brokers;
    r.message = std::to_string(info->brokers) + " broker(s)";
    co_return r;
  }

  const producer_stats& stats() const noexcept { return impl_->stats(); }
  /// Messages queued or awaiting their delivery report (at most options::max_queued_messages).
  std::size_t queued() const noexcept { return impl_->queued(); }
  const options& get_options() const noexcept { return impl_->opts(); }
  const asio::any_io_executor& get_executor() const noexcept { return impl_->executor(); }
  /// The last client-level error librdkafka reported (a broker down, authentication refused);
  /// it retries those by itself.
  const std::optional<error>& last_error() const noexcept { return impl_->last_error(); }
  /// The librdkafka handle, for what intg does not wrap (thread-safe calls only).
  rd_kafka_t* native_handle() const noexcept { return impl_->rk().get(); }

 private:
  explicit producer(std::shared_ptr<detail::producer_impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<detail::producer_impl> impl_;
};

}  // namespace intg::kafka
