// intg::kafka::consumer: a consumer-group member with manual commits, at least once. Messages
// come out of receive() one by one; the application acks each when it is done with it, and the
// consumer commits, per partition, the offset below which everything is acked (never past a
// message still in work, even when acks come out of order): soon after acks, before its
// partitions are revoked, and on close. At most options::max_in_flight messages are received or
// fetched and not acked: at that bound the consumer pauses its partitions (librdkafka drops what
// it prefetched for them and fetches it again on resume), so a slow consumer keeps memory bounded
// and still serves rebalances. librdkafka's consumer queue (its main queue forwarded there by
// rd_kafka_poll_set_consumer) wakes the executor through an eventfd; callbacks (rebalance,
// commit results, logs) run there, while draining it.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/health.hpp>
#include <intg/core/result.hpp>
#include <intg/kafka/detail/handle.hpp>
#include <intg/kafka/error.hpp>
#include <intg/kafka/message.hpp>
#include <intg/kafka/options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace intg::kafka {

namespace asio = boost::asio;

/// Counters for tests, metrics and capacity planning.
struct consumer_stats {
  std::uint64_t received = 0;         ///< messages handed out by receive()
  std::uint64_t acked = 0;
  std::uint64_t dropped_on_revoke = 0; ///< fetched, not yet received, when their partition was revoked
  std::uint64_t assignments = 0;      ///< rebalances that gave partitions
  std::uint64_t revocations = 0;      ///< rebalances that took them
  std::uint64_t commits = 0;          ///< commit requests answered without error
  std::uint64_t commit_failures = 0;
  std::uint64_t pauses = 0;           ///< times max_in_flight paused the partitions
  std::uint64_t wakeups = 0;          ///< times librdkafka's queue woke the executor
  std::uint64_t errors = 0;           ///< errors librdkafka reported (client-level and per topic)
  std::size_t max_in_flight_seen = 0; ///< the most unacked + fetched messages at once
};

namespace detail {

class consumer_impl : public std::enable_shared_from_this<consumer_impl> {
 public:
  using clock = std::chrono::steady_clock;

  consumer_impl(asio::any_io_executor ex, options o)
      : ex_(std::move(ex)), opts_(std::move(o)), waker_(ex_), commit_timer_(ex_), keepalive_timer_(ex_) {}
  ~consumer_impl() { shutdown(); }

  result<void> start() {
    auto conf = make_conf(opts_, role::consumer);
    if (!conf) return conf.error();
    char value[32];
    std::size_t size = sizeof value;
    if (rd_kafka_conf_get(conf->get(), "max.poll.interval.ms", value, &size) == RD_KAFKA_CONF_OK)
      max_poll_interval_ = std::chrono::milliseconds(std::max(1000L, std::atol(value)));
    rd_kafka_conf_set_opaque(conf->get(), this);
    rd_kafka_conf_set_rebalance_cb(conf->get(), &consumer_impl::on_rebalance);
    rd_kafka_conf_set_error_cb(conf->get(), &consumer_impl::on_error);
    rd_kafka_conf_set_log_cb(conf->get(), &consumer_impl::on_log);
    char errstr[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof errstr);
    if (!rk) return error(intg::errc::config_error, std::string("kafka consumer: ") + errstr);
    conf.value().release();
    rk_ = make_handle(rk, role::consumer);
    rd_kafka_set_log_queue(rk, nullptr);
    rd_kafka_poll_set_consumer(rk);           // the main queue (errors, logs) joins the consumer queue,
    queue_ = rd_kafka_queue_get_consumer(rk);  // the final queue, which wakes the executor
    waker_.watch(queue_);
    arm();
    return {};
  }

  const options& opts() const noexcept { return opts_; }
  const asio::any_io_executor& executor() const noexcept { return ex_; }
  const consumer_stats& stats() const noexcept { return stats_; }
  const handle& rk() const noexcept { return rk_; }
  std::size_t unacked() const noexcept { return unacked_; }
  std::size_t in_flight() const noexcept { return unacked_ + buffered_; }
  bool paused() const noexcept { return paused_; }
  const std::optional<error>& fatal() const noexcept { return fatal_; }
  const std::optional<error>& last_error() const noexcept { return last_error_; }

  std::vector<topic_partition> assignment() const {
    std::vector<topic_partition> out;
    for (const auto& [k, s] : partitions_) out.push_back(k);
    return out;
  }

  result<void> subscribe(const std::vector<std::string>& topics) {
    if (closing_) return error(intg::errc::cancelled, "the Kafka consumer is closed");
    if (topics.empty()) return error(intg::errc::invalid_argument, "kafka: subscribe to at least one topic");
    auto* list = rd_kafka_topic_partition_list_new(static_cast<int>(topics.size()));
    for (const auto& t : topics) rd_kafka_topic_partition_list_add(list, t.c_str(), RD_KAFKA_PARTITION_UA);
    const auto err = rd_kafka_subscribe(rk_.get(), list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) return make_error(err, "kafka: subscribe failed");
    arm_keepalive();
    return {};
  }

  asio::awaitable<result<message>> receive() {
    auto self = shared_from_this();
    for (;;) {
      progress_ = true;
      if (fatal_) co_return *fatal_;
      if (closing_) co_return error(intg::errc::cancelled, "the Kafka consumer is closed");
      if (!errors_.empty()) {
        error e = std::move(errors_.front());
        errors_.pop_front();
        co_return e;
      }
      if (!inbox_.empty()) {
        message m = std::move(inbox_.front());
        inbox_.pop_front();
        --buffered_;
        auto it = partitions_.find(key_view{m.topic, m.partition});
        if (it == partitions_.end() || it->second.generation != m.generation) continue;  // revoked meanwhile
        it->second.outstanding.push_back({m.offset, false});
        it->second.delivered_end = m.offset + 1;
        ++unacked_;
        ++stats_.received;
        co_return m;
      }
      serve();
      if (!inbox_.empty() || !errors_.empty() || closing_) continue;
      waiter w{asio::steady_timer(ex_, clock::time_point::max())};
      receivers_.push_back(&w);
      co_await w.timer.async_wait(asio::as_tuple(asio::use_awaitable));
      std::erase(receivers_, &w);
      if (!w.woken) co_return error(intg::errc::cancelled, "kafka: receive cancelled");
    }
  }

  result<void> ack(const message& m) {
    progress_ = true;
    auto it = partitions_.find(key_view{m.topic, m.partition});
    if (it == partitions_.end() || it->second.generation != m.generation)
      return make_error(RD_KAFKA_RESP_ERR__STATE, "kafka: ack of " + m.topic + " [" + std::to_string(m.partition) + "] offset " +
                                                      std::to_string(m.offset),
                        "the partition was revoked since; its new owner receives the message again");
    auto& out = it->second.outstanding;
    auto pos = std::lower_bound(out.begin(), out.end(), m.offset, [](const entry& e, std::int64_t o) { return e.offset < o; });
    if (pos == out.end() || pos->offset != m.offset || pos->acked)
      return error(intg::errc::invalid_argument, "kafka: ack of " + m.topic + " [" + std::to_string(m.partition) + "] offset " +
                                                     std::to_string(m.offset) + ": not received, or acked already");
    pos->acked = true;
    while (!out.empty() && out.front().acked) out.pop_front();
    --unacked_;
    ++stats_.acked;
    maybe_resume();
    schedule_commit();
    return {};
  }

  asio::awaitable<result<void>> commit() {
    auto self = shared_from_this();
    if (closing_) co_return error(intg::errc::cancelled, "the Kafka consumer is closed");
    co_return co_await commit_and_wait(nullptr);
  }

  // Leaves the group: librdkafka revokes the assignment (the revocation commits what is acked,
  // and librdkafka waits for that commit), then says it is closed. Waits up to close_timeout.
  asio::awaitable<result<void>> close() {
    auto self = shared_from_this();
    if (closing_ || !rk_) co_return result<void>{};
    const auto failures_before = stats_.commit_failures;
    send_commit(nullptr, 0);  // also when the group is not joined, so no revocation comes
    closing_ = true;
    wake_receivers();
    closeq_ = rd_kafka_queue_new(rk_.get());
    waker_.watch(closeq_);
    result<void> out;
    if (rd_kafka_error_t* e = rd_kafka_consumer_close_queue(rk_.get(), closeq_)) {
      out = make_error(rd_kafka_error_code(e), "kafka consumer: close failed", rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    } else {
      serve();
      if (!rd_kafka_consumer_closed(rk_.get())) {
        asio::steady_timer t(ex_, opts_.close_timeout);
        closed_waiter_ = &t;
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        closed_waiter_ = nullptr;
        if (!rd_kafka_consumer_closed(rk_.get()))
          out = error(intg::errc::timeout, "kafka consumer: not closed within close_timeout (the group sees it leave by its session timeout)");
      }
    }
    if (out && stats_.commit_failures != failures_before && last_error_) out = *last_error_;
    shutdown();
    co_return out;
  }

  void shutdown() noexcept {
    closing_ = true;
    for (auto** q : {&queue_, &closeq_})
      if (*q) {
        queue_waker::unwatch(*q);
        rd_kafka_queue_destroy(*q);
        *q = nullptr;
      }
    waker_.close();
    commit_timer_.cancel();
    keepalive_timer_.cancel();
    wake_receivers();
    for (auto& [id, w] : commit_waiters_) w->timer.cancel();
    if (closed_waiter_) closed_waiter_->cancel();
  }

 private:
  struct waiter {
    asio::steady_timer timer;
    bool woken = false;
  };
  struct commit_waiter {
    asio::steady_timer timer;
    std::optional<result<void>> outcome{};
  };
  struct entry {
    std::int64_t offset;
    bool acked;
  };
  struct partition_state {
    std::uint64_t generation = 0;
    std::deque<entry> outstanding{};   // received, in offset order; acked ones wait for those before
    std::int64_t delivered_end = -1;   // the offset after the last message received
    std::int64_t committed = -1;       // the last offset the broker confirmed
    // The offset below which every received message is acked: what may be committed.
    std::int64_t committable() const noexcept { return outstanding.empty() ? delivered_end : outstanding.front().offset; }
  };
  struct key_view {
    std::string_view topic;
    std::int32_t partition;
  };
  struct key_less {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      const int c = std::string_view(a.topic).compare(b.topic);
      return c < 0 || (c == 0 && a.partition < b.partition);
    }
  };

  void arm() {
    waker_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || !(self->queue_ || self->closeq_)) return;
      self->waker_.reset();
      ++self->stats_.wakeups;
      self->serve();
      self->arm();
    });
  }

  // Drains the consumer queue: rebalances, commit results, errors and logs are served by the
  // callbacks; messages join the inbox. Pausing at max_in_flight drops what librdkafka prefetched
  // for the paused partitions, so nothing past the bound comes out of this loop.
  void serve() {
    if (serving_ || !rk_ || !(queue_ || closeq_)) return;
    serving_ = true;
    bool added = false;
    while (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_.get(), 0)) {
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          ++stats_.errors;
          std::string where = "kafka consumer";
          if (m->rkt) where += std::string(": topic '") + rd_kafka_topic_name(m->rkt) + "'";
          error e = make_error(m->err, where, rd_kafka_message_errstr(m));
          if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
            fatal_error();
            added = true;
          } else if (intg::is_transient(e)) {
            last_error_ = std::move(e);  // librdkafka retries these (a fetch from a moved leader)
          } else if (errors_.size() < 64) {  // older ones are enough to act on
            errors_.push_back(std::move(e));
            added = true;
          }
        }
      } else if (!closing_) {
        inbox_.push_back(to_message(*m));
        ++buffered_;
        added = true;
        stats_.max_in_flight_seen = std::max(stats_.max_in_flight_seen, in_flight());
        if (!paused_ && in_flight() >= opts_.max_in_flight) pause();
      }
      rd_kafka_message_destroy(m);
    }
    serving_ = false;
    if (added) wake_receivers();
    if (closed_waiter_ && rd_kafka_consumer_closed(rk_.get())) closed_waiter_->cancel();
  }

  message to_message(const rd_kafka_message_t& m) {
    message out;
    out.topic = rd_kafka_topic_name(m.rkt);
    out.partition = m.partition;
    out.offset = m.offset;
    if (m.key) out.key = std::string(static_cast<const char*>(m.key), m.key_len);
    if (m.payload) out.value.assign(static_cast<const char*>(m.payload), m.len);
    else out.null_value = true;
    rd_kafka_timestamp_type_t type;
    out.timestamp_ms = rd_kafka_message_timestamp(&m, &type);
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(&m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) {
      const char* name;
      const void* value;
      std::size_t size;
      for (std::size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
        header h{name, std::nullopt};
        if (value) h.value = std::string(static_cast<const char*>(value), size);
        out.headers.push_back(std::move(h));
      }
    }
    auto it = partitions_.find(key_view{out.topic, out.partition});
    out.generation = it == partitions_.end() ? 0 : it->second.generation;
    return out;
  }

  std::vector<topic_partition> to_vector(const rd_kafka_topic_partition_list_t* parts) const {
    std::vector<topic_partition> v;
    for (int i = 0; parts && i < parts->cnt; ++i) v.push_back({parts->elems[i].topic, parts->elems[i].partition});
    return v;
  }

  static void on_rebalance(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque) {
    static_cast<consumer_impl*>(opaque)->rebalance(err, parts);
  }

  void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk_.get()), "COOPERATIVE") == 0;
    auto report = [&](rd_kafka_error_t* e, const char* what) {
      if (!e) return;
      ++stats_.errors;
      last_error_ = make_error(rd_kafka_error_code(e), std::string("kafka consumer: ") + what, rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
    };
    auto report_err = [&](rd_kafka_resp_err_t e, const char* what) {
      if (e) report(rd_kafka_error_new(e, "%s", rd_kafka_err2str(e)), what);
    };
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      ++stats_.assignments;
      for (int i = 0; i < parts->cnt; ++i)
        partitions_[topic_partition{parts->elems[i].topic, parts->elems[i].partition}] = partition_state{++generations_};
      if (cooperative) report(rd_kafka_incremental_assign(rk_.get(), parts), "incremental assign failed");
      else report_err(rd_kafka_assign(rk_.get(), parts), "assign failed");
      if (paused_) rd_kafka_pause_partitions(rk_.get(), parts);
      if (opts_.on_assign) opts_.on_assign(to_vector(parts));
      return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      ++stats_.revocations;
      if (opts_.on_revoke) opts_.on_revoke(to_vector(parts));  // the application may still ack here
      // Commit what is acked before giving the partitions up; librdkafka waits for the commit
      // before it completes the unassign. A lost assignment cannot commit (another owns it).
      if (!rd_kafka_assignment_lost(rk_.get())) send_commit(parts, 0);
      unpause(parts);
      forget(parts);
      if (cooperative) report(rd_kafka_incremental_unassign(rk_.get(), parts), "incremental unassign failed");
      else report_err(rd_kafka_assign(rk_.get(), nullptr), "unassign failed");
      maybe_resume();
      return;
    }
    report_err(err, "rebalance failed");
    unpause(parts);
    forget(parts);
    if (cooperative) report(rd_kafka_incremental_unassign(rk_.get(), parts), "incremental unassign failed");
    else rd_kafka_assign(rk_.get(), nullptr);
  }

  // Drops the state of revoked partitions: unacked messages no longer count against the bound,
  // fetched ones not yet received are dropped (the new owner receives them).
  void forget(const rd_kafka_topic_partition_list_t* parts) {
    for (int i = 0; parts && i < parts->cnt; ++i) {
      const key_view k{parts->elems[i].topic, parts->elems[i].partition};
      auto it = partitions_.find(k);
      if (it == partitions_.end()) continue;
      for (const auto& e : it->second.outstanding) unacked_ -= e.acked ? 0 : 1;
      partitions_.erase(it);
      const auto before = inbox_.size();
      std::erase_if(inbox_, [&](const message& m) { return m.topic == k.topic && m.partition == k.partition; });
      buffered_ -= before - inbox_.size();
      stats_.dropped_on_revoke += before - inbox_.size();
    }
    if (partitions_.empty()) paused_ = false;  // pauses end with the assignment
  }

  // librdkafka keeps an application pause on a partition across unassign and assign, so a paused
  // partition is resumed before it is given up. (Only paused ones: in librdkafka 2.0 resuming a
  // partition that is not paused bumps its version and can lose its committed-offset lookup.)
  void unpause(const rd_kafka_topic_partition_list_t* parts) {
    if (paused_ && parts && parts->cnt > 0) rd_kafka_resume_partitions(rk_.get(), const_cast<rd_kafka_topic_partition_list_t*>(parts));
  }

  void pause() {
    rd_kafka_topic_partition_list_t* parts = nullptr;
    if (rd_kafka_assignment(rk_.get(), &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
      rd_kafka_pause_partitions(rk_.get(), parts);
      rd_kafka_topic_partition_list_destroy(parts);
    }
    paused_ = true;
    ++stats_.pauses;
  }

  void maybe_resume() {
    if (!paused_ || in_flight() > opts_.max_in_flight / 2) return;
    rd_kafka_topic_partition_list_t* parts = nullptr;
    if (rd_kafka_assignment(rk_.get(), &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
      rd_kafka_resume_partitions(rk_.get(), parts);
      rd_kafka_topic_partition_list_destroy(parts);
    }
    paused_ = false;
  }

  // Sends the committable offsets (of `only`, or of every partition) that the broker has not
  // confirmed yet; the answer comes to commit_done through the consumer queue. false when there
  // is nothing to commit.
  bool send_commit(const rd_kafka_topic_partition_list_t* only, std::uint64_t waiter_id) {
    auto* list = rd_kafka_topic_partition_list_new(static_cast<int>(partitions_.size()));
    auto add = [&](const topic_partition& k, const partition_state& s) {
      const auto c = s.committable();
      if (c >= 0 && c > s.committed) rd_kafka_topic_partition_list_add(list, k.topic.c_str(), k.partition)->offset = c;
    };
    if (only) {
      for (int i = 0; i < only->cnt; ++i)
        if (auto it = partitions_.find(key_view{only->elems[i].topic, only->elems[i].partition}); it != partitions_.end())
          add(it->first, it->second);
    } else {
      for (const auto& [k, s] : partitions_) add(k, s);
    }
    if (list->cnt == 0) {
      rd_kafka_topic_partition_list_destroy(list);
      return false;
    }
    rd_kafka_queue_t* q = closeq_ ? closeq_ : queue_;
    const auto err = rd_kafka_commit_queue(rk_.get(), list, q, &consumer_impl::on_commit,
                                           reinterpret_cast<void*>(static_cast<std::uintptr_t>(waiter_id)));
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
      ++stats_.commit_failures;
      last_error_ = make_error(err, "kafka consumer: commit failed");
      if (waiter_id) finish_commit(waiter_id, *last_error_);
    }
    return true;
  }

  asio::awaitable<result<void>> commit_and_wait(const rd_kafka_topic_partition_list_t* only) {
    commit_waiter w{asio::steady_timer(ex_, clock::time_point::max())};
    const std::uint64_t id = ++commit_ids_;
    commit_waiters_[id] = &w;
    if (!send_commit(only, id)) {
      commit_waiters_.erase(id);
      co_return result<void>{};
    }
    if (!w.outcome) co_await w.timer.async_wait(asio::as_tuple(asio::use_awaitable));
    commit_waiters_.erase(id);
    if (w.outcome) co_return *w.outcome;
    co_return error(intg::errc::cancelled, "kafka: cancelled while awaiting the commit's answer (it may have been committed)");
  }

  void finish_commit(std::uint64_t id, result<void> r) {
    if (auto it = commit_waiters_.find(id); it != commit_waiters_.end()) {
      it->second->outcome = std::move(r);
      it->second->timer.cancel();
    }
  }

  static void on_commit(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets, void* opaque) {
    auto* self = static_cast<consumer_impl*>(rd_kafka_opaque(rk));
    self->commit_done(err, offsets, static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(opaque)));
  }

  void commit_done(rd_kafka_resp_err_t err, const rd_kafka_topic_partition_list_t* offsets, std::uint64_t id) {
    result<void> r;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) r = make_error(err, "kafka consumer: commit failed");
    for (int i = 0; offsets && i < offsets->cnt; ++i) {
      const auto& p = offsets->elems[i];
      if (p.err) {
        if (r) r = make_error(p.err, std::string("kafka consumer: commit of ") + p.topic + " [" + std::to_string(p.partition) + "] failed");
        continue;
      }
      if (auto it = partitions_.find(key_view{p.topic, p.partition}); it != partitions_.end())
        it->second.committed = std::max(it->second.committed, p.offset);
    }
    if (r) ++stats_.commits;
    else {
      ++stats_.commit_failures;
      last_error_ = r.error();
    }
    if (id) finish_commit(id, std::move(r));
  }

  void schedule_commit() {
    if (commit_scheduled_ || opts_.commit_interval.count() == 0 || closing_) return;
    commit_scheduled_ = true;
    commit_timer_.expires_after(opts_.commit_interval);
    commit_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self) return;
      self->commit_scheduled_ = false;
      if (!ec && !self->closing_) self->send_commit(nullptr, 0);
    });
  }

  // librdkafka counts the application as alive while it polls (max.poll.interval.ms). With the
  // eventfd, the consumer polls only when something arrives, so a quiet topic would look like a
  // stuck application: poll at half the interval while the application shows progress (a
  // receive() waiting or called, an ack).
  void arm_keepalive() {
    if (keepalive_armed_) return;
    keepalive_armed_ = true;
    keepalive_timer_.expires_after(max_poll_interval_ / 2);
    keepalive_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self) return;
      self->keepalive_armed_ = false;
      if (ec || self->closing_) return;
      if (self->progress_ || !self->receivers_.empty()) self->serve();
      self->progress_ = false;
      self->arm_keepalive();
    });
  }

  void wake_receivers() {
    for (auto* w : receivers_) {
      w->woken = true;
      w->timer.cancel();
    }
  }

  error fatal_error() {
    if (!fatal_) {
      char buf[512];
      const auto code = rd_kafka_fatal_error(rk_.get(), buf, sizeof buf);
      fatal_ = make_error(code ? code : RD_KAFKA_RESP_ERR__FATAL, "kafka consumer: fatal error, create a new consumer", buf);
    }
    return *fatal_;
  }

  static void on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    auto* self = static_cast<consumer_impl*>(opaque);
    ++self->stats_.errors;
    const auto code = static_cast<rd_kafka_resp_err_t>(err);
    if (code == RD_KAFKA_RESP_ERR__FATAL) {
      self->fatal_error();
      self->wake_receivers();
      return;
    }
    self->last_error_ = make_error(code, "kafka consumer", reason);
  }

  static void on_log(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
    auto* self = static_cast<consumer_impl*>(rd_kafka_opaque(rk));
    if (self && self->opts_.on_log) self->opts_.on_log(level, facility, text);
  }

  asio::any_io_executor ex_;
  options opts_;
  handle rk_;
  rd_kafka_queue_t* queue_ = nullptr;
  rd_kafka_queue_t* closeq_ = nullptr;
  queue_waker waker_;
  std::map<topic_partition, partition_state, key_less> partitions_;
  std::uint64_t generations_ = 0;
  std::deque<message> inbox_;
  std::deque<error> errors_;
  std::size_t buffered_ = 0;
  std::size_t unacked_ = 0;
  std::vector<waiter*> receivers_;
  std::map<std::uint64_t, commit_waiter*> commit_waiters_;
  std::uint64_t commit_ids_ = 0;
  asio::steady_timer commit_timer_;
  asio::steady_timer keepalive_timer_;
  asio::steady_timer* closed_waiter_ = nullptr;
  std::chrono::milliseconds max_poll_interval_{300'000};
  std::optional<error> fatal_;
  std::optional<error> last_error_;
  consumer_stats stats_;
  bool paused_ = false;
  bool serving_ = false;
  bool closing_ = false;
  bool progress_ = false;
  bool commit_scheduled_ = false;
  bool keepalive_armed_ = false;
};

}  // namespace detail

/// A Kafka consumer in a consumer group, at least once. Used from one thread (or strand): the
/// executor it was created with. Movable; destroying it without close() leaves the group by the
/// session timeout, with acked offsets not yet committed lost (their messages come again).
class consumer {
 public:
  /// Creates the consumer (options::group_id is required). config_error when librdkafka refuses
  /// a property (a secret's value is never quoted).
  static result<consumer> create(asio::any_io_executor ex, options opts) {
    auto impl = std::make_shared<detail::consumer_impl>(std::move(ex), std::move(opts));
    if (auto s = impl->start(); !s) return s.error();
    return consumer(std::move(impl));
  }

  consumer(consumer&&) noexcept = default;
  consumer& operator=(consumer&& o) noexcept {
    if (this != &o) {
      if (impl_) impl_->shutdown();
      impl_ = std::move(o.impl_);
    }
    return *this;
  }
  consumer(const consumer&) = delete;
  consumer& operator=(const consumer&) = delete;
  ~consumer() {
    if (impl_) impl_->shutdown();
  }

  /// Joins the group for these topics (replacing an earlier subscription). Partitions come by
  /// rebalance; options::on_assign / on_revoke are told.
  result<void> subscribe(const std::vector<std::string>& topics) { return impl_->subscribe(topics); }

  /// The next message, in offset order per partition. Waits while none is fetched. Permanent
  /// errors that librdkafka reports for the subscription (an unknown topic, authorization refused)
  /// come out here once each, between messages; the stream goes on after them. Transient ones
  /// (a fetch from a moved leader) librdkafka retries: they go to last_error(). cancelled after
  /// close(); a fatal error when the consumer cannot go on.
  asio::awaitable<result<message>> receive() {
    auto impl = impl_;
    co_return co_await impl->receive();
  }

  /// The application is done with `m`: its offset may be committed once every earlier message
  /// of its partition is acked too. Errors: the partition was revoked since (its new owner gets
  /// the message again); acked twice or never received (invalid_argument).
  result<void> ack(const message& m) { return impl_->ack(m); }

  /// Commits what is acked now and waits for the broker's answer (commits also happen by
  /// themselves, see options::commit_interval).
  asio::awaitable<result<void>> commit() {
    auto impl = impl_;
    co_return co_await impl->commit();
  }

  /// Commits what is acked, leaves the group and waits (up to options::close_timeout) until it
  /// has. Waiting receive() calls end with errc::cancelled.
  asio::awaitable<result<void>> close() {
    auto impl = impl_;
    co_return co_await impl->close();
  }

  /// A metadata request to the cluster on a thread of its own: healthy with the broker count and
  /// the assignment; unhealthy with the reason, or after a fatal error.
  asio::awaitable<health_report> health_check(std::chrono::milliseconds timeout = std::chrono::milliseconds{5'000}) {
    auto impl = impl_;
    health_report r;
    if (impl->fatal()) {
      r.message = impl->fatal()->to_string();
      co_return r;
    }
    auto info = co_await detail::probe_cluster(impl->rk(), timeout);
    r.details["assigned_partitions"] = impl->assignment().size();
    r.details["unacked"] = impl->unacked();
    if (!info) {
      r.message = info.error().to_string();
      co_return r;
    }
    r.status = integration_status::healthy;
    r.details["brokers"] = info->brokers;
    r.message = std::to_string(info->brokers) + " broker(s)";
    co_return r;
  }

  /// Messages received and not acked.
  std::size_t unacked() const noexcept { return impl_->unacked(); }
  /// unacked() plus messages fetched and not yet received: at most options::max_in_flight.
  std::size_t in_flight() const noexcept { return impl_->in_flight(); }
  /// Whether max_in_flight paused the partitions.
  bool paused() const noexcept { return impl_->paused(); }
  /// The partitions this consumer owns now.
  std::vector<topic_partition> assignment() const { return impl_->assignment(); }
  const consumer_stats& stats() const noexcept { return impl_->stats(); }
  const options& get_options() const noexcept { return impl_->opts(); }
  const asio::any_io_executor& get_executor() const noexcept { return impl_->executor(); }
  /// The last client-level error (a broker down, a commit refused); librdkafka retries by itself.
  const std::optional<error>& last_error() const noexcept { return impl_->last_error(); }
  /// The librdkafka handle, for what intg does not wrap (thread-safe calls only).
  rd_kafka_t* native_handle() const noexcept { return impl_->rk().get(); }

 private:
  explicit consumer(std::shared_ptr<detail::consumer_impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<detail::consumer_impl> impl_;
};

}  // namespace intg::kafka
