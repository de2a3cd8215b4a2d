// intg::kafka::producer: an idempotent Kafka producer (enable.idempotence, acks=all) whose
// delivery reports are awaitable results. librdkafka serves its reports on its main queue; that
// queue wakes the executor through an eventfd, and the producer drains it there, so every report
// completes its sender on the executor. A send is an Asio asynchronous operation (async_send takes
// any completion token; send() is it with use_awaitable) with no timer and no coroutine frame of
// its own: its completion handler waits in the message's slot, and the reports served by a wake-up
// resume their senders one after another, each free to queue its next message at once. At most
// options::max_queued_messages are queued or awaiting a report: sends beyond wait in line, so a
// stalled cluster slows producers instead of growing memory. close() flushes.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/health.hpp>
#include <intg/core/result.hpp>
#include <intg/detail/inline_handler.hpp>
#include <intg/kafka/detail/handle.hpp>
#include <intg/kafka/error.hpp>
#include <intg/kafka/message.hpp>
#include <intg/kafka/options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <algorithm>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
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

  // A send's completion: the delivery report, or why there is none.
  using send_signature = void(result<delivery>);
  // Small handlers (a coroutine's resumption, a short lambda) wait inside the slot: no allocation.
  using send_handler = intg::detail::inline_handler<send_signature>;

  // What send() initiates: queues the message now if there is room, else parks it until a report
  // frees a slot. The topic, key, value and headers are read when the message is queued (copied
  // into librdkafka then): until the operation completes, as with asio::async_write's buffers.
  // The initiation holds the producer: an awaitable made by send() may be awaited later.
  struct initiate_send {
    std::shared_ptr<producer_impl> self;
    template <typename Handler>
    void operator()(Handler&& handler, std::string_view topic, std::string_view key, std::string_view value,
                    std::span<const header_view> headers, send_options so) const {
      self->start_send(self->on_its_executor(std::forward<Handler>(handler)), topic, key, value, headers, so);
    }
  };

  // Completions run on the producer's executor. A handler bound to another one (a strand, say) is
  // wrapped to be dispatched there, with work counted until then and its cancellation slot kept.
  template <typename Handler>
  send_handler on_its_executor(Handler&& handler) const {
    // A handler without an executor of its own runs on the producer's: nothing to look up.
    if constexpr (std::is_same_v<asio::associated_executor_t<std::decay_t<Handler>, asio::system_executor>, asio::system_executor>)
      return send_handler(std::forward<Handler>(handler));
    auto hex = asio::get_associated_executor(handler, ex_);
    bool ours = false;
    if constexpr (std::is_same_v<decltype(hex), asio::any_io_executor>) ours = hex == ex_;
    else ours = asio::any_io_executor(hex) == ex_;
    if (ours) return send_handler(std::forward<Handler>(handler));
    auto cs = asio::get_associated_cancellation_slot(handler);
    return send_handler(asio::bind_cancellation_slot(
        cs, [work = asio::make_work_guard(hex), h = std::decay_t<Handler>(std::forward<Handler>(handler))](result<delivery> r) mutable {
          auto on = work.get_executor();
          asio::dispatch(on, asio::append(std::move(h), std::move(r)));
          work.reset();
        }));
  }

  void start_send(send_handler h, std::string_view topic, std::string_view key, std::string_view value,
                  std::span<const header_view> headers, send_options so) {
    if (fatal_) return finish(std::move(h), *fatal_);
    if (closing_) return finish(std::move(h), closed_error());
    auto rkt = topic_handle(topic);
    if (!rkt) return finish(std::move(h), rkt.error());
    pending_send p{*rkt, key, value, headers, so, std::move(h), ++next_ticket_};
    // First come, first queued: a send finding others waiting for room waits behind them.
    if (parked_.empty()) {
      const auto queued = try_queue(p);
      if (queued == queue_outcome::failed) hand_over(resume::later);
      if (queued != queue_outcome::no_room) return;
    }
    ++stats_.waited_for_room;
    if (auto cs = p.handler.get_cancellation_slot(); cs.is_connected())
      cs.template emplace<room_cancellation>(weak_from_this(), p.ticket);
    parked_.push_back(std::move(p));
  }

  // Stops taking messages, flushes, waits up to close_timeout for outstanding reports, then
  // purges what is left (their senders get errors) and releases librdkafka's queue.
  asio::awaitable<result<void>> close() {
    auto self = shared_from_this();
    if (closing_) co_return result<void>{};
    closing_ = true;
    fail_parked(closed_error());
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
    // Senders still awaiting reports are abandoned with them (before the topic handles go: the
    // error names the topic).
    for (auto& s : slots_)
      if (s.handler)
        complete(s.handler, error(intg::errc::outcome_unknown, "the Kafka producer was destroyed without close() while awaiting "
                                                                "the delivery report of a message to topic '" +
                                                                    std::string(rd_kafka_topic_name(s.rkt)) + "': it may or may not be delivered"));
    fail_parked(closed_error());
    for (auto& [name, t] : topics_) rd_kafka_topic_destroy(t);
    topics_.clear();
    last_topic_ = nullptr;
    hand_over(resume::later);
    if (drained_waiter_) drained_waiter_->cancel();
  }

 private:
  struct slot {
    send_handler handler;              // empty: nobody waits for this message's report
    std::uint64_t ticket = 0;          // which send waits here (a cancellation that comes late is ignored)
    rd_kafka_topic_t* rkt = nullptr;   // the message's topic, for errors
  };
  // A send waiting for room; the caller's views stay valid until it completes.
  struct pending_send {
    rd_kafka_topic_t* rkt;
    std::string_view key, value;
    std::span<const header_view> headers;
    send_options so;
    send_handler handler;
    std::uint64_t ticket;
  };
  struct completion {
    completion(send_handler&& h, result<delivery>&& o) : handler(std::move(h)), outcome(std::move(o)) {}
    send_handler handler;
    result<delivery> outcome;
  };
  enum class resume { now, later };
  enum class queue_outcome { queued, no_room, failed };

  static error closed_error() { return error(intg::errc::cancelled, "the Kafka producer is closed"); }

  // A send's cancellation handler stays in the caller's slot after the send completes (a coroutine
  // clears it when it resumes, keeping the memory for its next operation; a callback's slot keeps
  // it until its next use). So it holds the producer weakly, and its ticket says whether the send
  // it was made for is still waiting.
  static bool cancels_waits(asio::cancellation_type type) {
    return (type & (asio::cancellation_type::terminal | asio::cancellation_type::partial)) != asio::cancellation_type::none;
  }

  // Cancelling a send waiting for room (terminal or partial): nothing was sent, it completes with
  // cancelled.
  struct room_cancellation {
    room_cancellation(std::weak_ptr<producer_impl> p, std::uint64_t t) noexcept : self(std::move(p)), ticket(t) {}
    std::weak_ptr<producer_impl> self;
    std::uint64_t ticket;
    void operator()(asio::cancellation_type type) const {
      if (!cancels_waits(type)) return;
      const auto owner = self.lock();
      if (!owner) return;
      const auto it = std::find_if(owner->parked_.begin(), owner->parked_.end(), [t = ticket](const pending_send& p) { return p.ticket == t; });
      if (it == owner->parked_.end()) return;
      owner->complete(it->handler, error(intg::errc::cancelled, "cancelled while waiting for room in the Kafka producer's queue (nothing sent)"));
      owner->parked_.erase(it);
      owner->hand_over(resume::later);  // never from inside the cancellation handler's own call
    }
  };

  // Cancelling a send awaiting its report gives up the wait, not the message: the sender
  // completes with outcome_unknown and the report, when it comes, is dropped.
  struct report_cancellation {
    report_cancellation(std::weak_ptr<producer_impl> p, std::uint32_t i, std::uint64_t t) noexcept
        : self(std::move(p)), index(i), ticket(t) {}
    std::weak_ptr<producer_impl> self;
    std::uint32_t index;
    std::uint64_t ticket;
    void operator()(asio::cancellation_type type) const {
      if (!cancels_waits(type)) return;
      const auto owner = self.lock();
      if (!owner) return;
      slot& s = owner->slots_[index];
      if (s.ticket != ticket || !s.handler) return;
      owner->complete(s.handler, error(intg::errc::outcome_unknown, "cancelled while awaiting the delivery report of a message to topic '" +
                                                                         std::string(rd_kafka_topic_name(s.rkt)) +
                                                                         "': it may still be delivered (it is not sent again)"));
      owner->hand_over(resume::later);
    }
  };

  // Queues the message if there is room; on success its handler waits in the message's slot, on
  // a hard error it goes to completions_ (the caller hands over).
  queue_outcome try_queue(pending_send& p) {
    if (in_flight_ >= opts_.max_queued_messages) return queue_outcome::no_room;
    const std::uint32_t index = free_.back();
    const auto produced = produce(p.rkt, p.key, p.value, p.headers, p.so, index);
    if (produced != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // librdkafka's own bound (queue.buffering.max.kbytes) is full: wait for a report, as above.
      if (produced == RD_KAFKA_RESP_ERR__QUEUE_FULL && in_flight_ > 0) return queue_outcome::no_room;
      complete(p.handler, produced == RD_KAFKA_RESP_ERR__FATAL
                              ? fatal_error()
                              : make_error(produced, "kafka: cannot queue a message for topic '" + std::string(rd_kafka_topic_name(p.rkt)) + "'"));
      return queue_outcome::failed;
    }
    free_.pop_back();
    ++in_flight_;
    ++stats_.sent;
    stats_.max_queued_seen = std::max(stats_.max_queued_seen, in_flight_);
    slot& s = slots_[index];
    s.ticket = p.ticket;
    s.rkt = p.rkt;
    if (auto cs = p.handler.get_cancellation_slot(); cs.is_connected())
      cs.template emplace<report_cancellation>(weak_from_this(), index, p.ticket);
    s.handler = std::move(p.handler);
    return queue_outcome::queued;
  }

  // Queues parked sends, oldest first, while there is room.
  void admit_parked() {
    while (!parked_.empty() && !closing_ && !fatal_) {
      if (try_queue(parked_.front()) == queue_outcome::no_room) return;
      parked_.pop_front();
    }
  }

  void fail_parked(const error& why) {
    for (auto& p : parked_) complete(p.handler, why);
    parked_.clear();
  }

  // An operation completing from inside its initiation: posted, never run before it returns.
  void finish(send_handler h, result<delivery> outcome) {
    complete(h, std::move(outcome));
    hand_over(resume::later);
  }

  // Takes the handler out to be resumed by hand_over (its cancellation handler, left in place, finds
  // nothing waiting from now on).
  void complete(send_handler& h, result<delivery> outcome) {
    if (!h) return;
    completions_.emplace_back(std::move(h), std::move(outcome));
  }

  // Resumes the senders whose reports came: in turn and at once from the wake-up (each may queue
  // its next message before the next one resumes), posted from anywhere else.
  void hand_over(resume when) {
    if (handing_over_) return;  // a sender resumed below closed the producer: the loop goes on
    handing_over_ = true;
    for (std::size_t i = 0; i < completions_.size(); ++i) {
      // Every handler runs on the producer's executor (on_its_executor saw to it). The wake-up
      // runs there: it invokes them at once; anywhere else they are posted there.
      if (when == resume::now) {
        auto& c = completions_[i];  // a handler may add completions: index, never hold across
        send_handler h = std::move(c.handler);
        auto outcome = std::move(c.outcome);
        h(std::move(outcome));
      } else {
        asio::post(ex_, [c = std::move(completions_[i])]() mutable { std::move(c.handler)(std::move(c.outcome)); });
      }
    }
    completions_.clear();
    handing_over_ = false;
  }

  result<rd_kafka_topic_t*> topic_handle(std::string_view topic) {
    if (last_topic_ && topic == last_topic_->first) return last_topic_->second;  // most sends repeat the topic
    if (auto it = topics_.find(topic); it != topics_.end()) {
      last_topic_ = &*it;
      return it->second;
    }
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
      self->admit_parked();  // the reports freed slots
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
        complete(s.handler, m.err == RD_KAFKA_RESP_ERR__FATAL
                                ? result<delivery>(fatal_error())
                                : result<delivery>(delivery_error(m.err, rd_kafka_message_status(&m), rd_kafka_topic_name(m.rkt))));
      } else {
        rd_kafka_timestamp_type_t type;
        complete(s.handler, result<delivery>(delivery{m.partition, m.offset, rd_kafka_message_timestamp(&m, &type)}));
      }
    }
    if (in_flight_ == 0 && drained_waiter_) drained_waiter_->cancel();
  }

  static void on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<producer_impl*>(opaque);
    ++self->stats_.errors;
    const auto code = static_cast<rd_kafka_resp_err_t>(err);
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
      self->fail_parked(self->fatal_error());
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
  const std::pair<const std::string, rd_kafka_topic_t*>* last_topic_ = nullptr;  // the last one used
  std::vector<slot> slots_;  // by the index in each message's opaque
  std::vector<std::uint32_t> free_;
  std::vector<completion> completions_;  // reports served, senders not yet resumed
  bool handing_over_ = false;
  std::size_t in_flight_ = 0;
  std::list<pending_send> parked_;  // sends waiting for room, oldest first
  std::uint64_t next_ticket_ = 0;
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

  /// send() as an Asio asynchronous operation, for any completion token (a callback, a strand-bound
  /// handler, use_awaitable, deferred): the handler gets the result<delivery> that send() gives.
  /// Topic, key, value and headers must stay valid until it completes (they are read when the
  /// message is queued, which may wait for room), as asio::async_write's buffers do. Per-operation
  /// cancellation as send(). The handler runs on its associated executor, never inside this call.
  template <typename CompletionToken>
  auto async_send(std::string_view topic, std::string_view key, std::string_view value, std::span<const header_view> headers,
                  send_options so, CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, detail::producer_impl::send_signature>(
        detail::producer_impl::initiate_send{impl_}, token, topic, key, value, headers, so);
  }
  template <typename CompletionToken>
  auto async_send(std::string_view topic, std::string_view key, std::string_view value, CompletionToken&& token) {
    return async_send(topic, key, value, {}, send_options{}, std::forward<CompletionToken>(token));
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
    return async_send(topic, key, value, headers, so, asio::use_awaitable);
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
