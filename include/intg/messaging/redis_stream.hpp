// intg::messaging::redis_stream_channel: a message channel on one Redis stream and one consumer
// group, at least once. Publish is XADD (trimmed with MAXLEN ~ when asked, WAIT for replicas when
// asked); receive is XREADGROUP on a connection of its own (a blocking read holds every reply
// behind it); ack is XACK; nack leaves the entry pending with its idle time set so that XAUTOCLAIM
// hands it out again after the redelivery delay; an entry delivered more than max_deliveries
// times, or dead-lettered by the application, moves to a dead-letter stream (XADD + XACK in one
// MULTI/EXEC). XAUTOCLAIM also takes over what a dead consumer left pending. See docs/messaging.md.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/messaging/channel.hpp>
#include <intg/redis/connection.hpp>
#include <intg/redis/options.hpp>
#include <intg/redis/streams.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <unistd.h>

namespace intg::messaging {

/// The stream fields a message is stored as (docs/messaging.md, "Field layout").
namespace redis_fields {
inline constexpr std::string_view payload = "payload";
inline constexpr std::string_view key = "key";                 ///< absent when the message has no key
inline constexpr std::string_view header_prefix = "h:";        ///< one field per header: "h:traceparent"
// Added to an entry moved to the dead-letter stream:
inline constexpr std::string_view dead_reason = "dl:reason";
inline constexpr std::string_view dead_id = "dl:id";           ///< its id in the source stream
inline constexpr std::string_view dead_stream = "dl:stream";
inline constexpr std::string_view dead_group = "dl:group";
inline constexpr std::string_view dead_deliveries = "dl:deliveries";
}  // namespace redis_fields

struct redis_stream_options {
  std::string stream{};                 ///< the stream's key (required)
  std::string group = "intg";           ///< the consumer group
  std::string consumer{};               ///< this consumer's name in the group; empty: "intg-HOST-PID-N"
  /// Where the group starts when receive() creates it: "0" every entry the stream holds, "$" only
  /// entries added from then on.
  std::string group_start_id = "0";
  /// Messages fetched or received and not yet settled (ack, nack, dead-letter): receive() waits
  /// at the bound, and a read asks for no more than the room left.
  std::size_t max_in_flight = 64;
  std::size_t max_length = 0;           ///< XADD MAXLEN ~ n (trimmed by whole nodes, so about n); 0: not trimmed
  /// After each XADD, WAIT for this many replicas (0: no WAIT). Fewer within wait_timeout is an
  /// error (outcome_unknown): the entry is on the primary and lost if it fails before replicating.
  int wait_replicas = 0;
  std::chrono::milliseconds wait_timeout{1'000};
  std::chrono::milliseconds read_block{1'000};      ///< XREADGROUP BLOCK, at most (less before a claim or a deadline)
  std::chrono::milliseconds claim_interval{1'000};  ///< how often XAUTOCLAIM looks for idle entries
  /// An entry pending this long without an ack belongs to a consumer taken as dead: another
  /// takes it over. Processing a message must take less than this, or it is delivered twice.
  std::chrono::milliseconds claim_idle{30'000};
  std::chrono::milliseconds redelivery_delay{1'000};  ///< nack(requeue): delivered again after this (at most claim_idle)
  std::uint32_t max_deliveries = 5;     ///< an entry due for delivery number max_deliveries + 1 is dead-lettered instead
  std::string dead_letter_stream{};     ///< empty: stream + ":dead-letter"
  std::size_t dead_letter_max_length = 0;  ///< MAXLEN ~ n on the dead-letter stream; 0: not trimmed
};

/// Counters for tests, metrics and capacity planning.
struct redis_stream_stats {
  std::uint64_t published = 0;          ///< XADDs the server confirmed
  std::uint64_t publish_failures = 0;   ///< XADDs that failed (or whose WAIT saw too few replicas)
  std::uint64_t received = 0;           ///< messages handed out by receive()
  std::uint64_t redelivered = 0;        ///< of which delivered before (delivery_count > 1): possible duplicates
  std::uint64_t claimed = 0;            ///< entries taken over by XAUTOCLAIM (nacked, or left by a dead consumer)
  std::uint64_t acked = 0;
  std::uint64_t nacked = 0;             ///< nack(requeue = true)
  std::uint64_t dead_lettered = 0;      ///< by the application, nack(requeue = false) or max_deliveries
  std::uint64_t settle_failures = 0;    ///< XACK, XCLAIM or dead-letter commands that failed (the entry stays pending)
  std::uint64_t groups_created = 0;     ///< XGROUP CREATE that created the group (more than one: the server lost it)
  std::uint64_t read_errors = 0;        ///< failed reads or claims, each followed by a backoff
  std::size_t max_in_flight_seen = 0;   ///< the most messages in flight at once
};

/// A channel on a Redis stream (the named requirements MessagePublisher and MessageConsumer).
/// Like a redis::connection it is used from one thread (or strand); one receive() at a time.
/// It holds two connections, opened on first use: one for XADD, XACK, XAUTOCLAIM and the like,
/// one for the blocking XREADGROUP. close() it, and let a waiting receive() return, before
/// destroying it.
class redis_stream_channel {
 public:
  static constexpr delivery_guarantee guarantee = delivery_guarantee::at_least_once;
  static constexpr bool confirms_publish = true;

  /// Throws intg::exception (invalid_argument) for options that cannot work.
  redis_stream_channel(asio::any_io_executor ex, redis::options connection, redis_stream_options opts)
      : ex_(std::move(ex)), opts_(std::move(opts)), conn_opts_(std::move(connection)), timer_(ex_) {
    auto fail = [](std::string what) { throw exception(error{errc::invalid_argument, "redis_stream_channel: " + std::move(what)}); };
    if (opts_.stream.empty()) fail("options::stream is required");
    if (opts_.group.empty()) fail("options::group must not be empty");
    if (opts_.max_in_flight == 0) fail("options::max_in_flight must be at least 1");
    if (opts_.max_deliveries == 0) fail("options::max_deliveries must be at least 1");
    if (opts_.wait_replicas < 0) fail("options::wait_replicas must not be negative");
    if (opts_.read_block.count() <= 0 || opts_.claim_interval.count() <= 0 || opts_.claim_idle.count() <= 0)
      fail("read_block, claim_interval and claim_idle must be positive");
    if (opts_.redelivery_delay.count() < 0 || opts_.redelivery_delay > opts_.claim_idle)
      fail("options::redelivery_delay must be between 0 and claim_idle");
    if (opts_.dead_letter_stream.empty()) opts_.dead_letter_stream = opts_.stream + ":dead-letter";
    if (opts_.dead_letter_stream == opts_.stream) fail("the dead-letter stream must differ from the stream");
    if (opts_.consumer.empty()) opts_.consumer = default_consumer_name();
    auto command_opts = conn_opts_;
    if (opts_.wait_replicas > 0) command_opts.command_timeout += opts_.wait_timeout;  // WAIT holds the reply
    commands_ = std::make_unique<redis::connection>(ex_, command_opts);
    auto reader_opts = conn_opts_;
    reader_opts.command_timeout += opts_.read_block;  // the server answers a blocking read after up to read_block
    reader_ = std::make_unique<redis::connection>(ex_, reader_opts);
  }

  redis_stream_channel(const redis_stream_channel&) = delete;
  redis_stream_channel& operator=(const redis_stream_channel&) = delete;
  ~redis_stream_channel() { close(); }

  /// XADD stream [MAXLEN ~ n] * payload … key … h:NAME …, then WAIT when options::wait_replicas.
  /// The receipt holds the entry's id. Errors: the connection's (outcome_unknown when it was lost
  /// after sending: the entry may exist, so it is not sent again), the server's error reply, and
  /// outcome_unknown when WAIT saw fewer replicas than asked (the message names the id).
  asio::awaitable<result<publish_receipt>> publish(const outgoing_message& m) {
    if (closed_) co_return error(errc::cancelled, "the channel was closed");
    redis::request req;
    {
      std::vector<std::string_view> args;
      args.reserve(8 + 2 * m.headers.size());
      std::vector<std::string> names;  // "h:NAME", kept alive until the command is encoded
      names.reserve(m.headers.size() + 1);
      char tp[trace_context::traceparent_size];
      const std::string max_len = std::to_string(opts_.max_length);
      args.push_back(opts_.stream);
      if (opts_.max_length) args.insert(args.end(), {"MAXLEN", "~", max_len});
      args.insert(args.end(), {"*", redis_fields::payload, m.payload});
      if (!m.key.empty()) args.insert(args.end(), {redis_fields::key, m.key});
      for (const auto& h : m.headers) {
        if (h.name.empty()) co_return error(errc::invalid_argument, "a message header needs a name");
        if (m.trace && h.name == traceparent_header) continue;
        names.push_back(std::string(redis_fields::header_prefix) + std::string(h.name));
        args.insert(args.end(), {names.back(), h.value});  // names never reallocates: reserved above
      }
      if (m.trace) {
        m.trace->format_traceparent(tp);
        names.push_back(std::string(redis_fields::header_prefix) + std::string(traceparent_header));
        args.insert(args.end(), {names.back(), std::string_view(tp, sizeof tp)});
      }
      req.push("XADD", args);
      if (opts_.wait_replicas > 0) req.push("WAIT", opts_.wait_replicas, opts_.wait_timeout.count());
    }
    auto r = co_await commands_->execute(req);
    if (!r) {
      ++stats_.publish_failures;
      co_return r.error();
    }
    auto id = (*r)[0].as_string();
    if (!id) {
      ++stats_.publish_failures;
      co_return id.error();
    }
    if (opts_.wait_replicas > 0) {
      auto replicas = (*r)[1].as_int();
      if (!replicas || *replicas < opts_.wait_replicas) {
        ++stats_.publish_failures;
        co_return error(errc::outcome_unknown,
                        "entry " + *id + " was added to '" + opts_.stream + "' but " +
                            (replicas ? std::to_string(*replicas) : std::string("no")) + " of " +
                            std::to_string(opts_.wait_replicas) + " replicas confirmed it within " +
                            std::to_string(opts_.wait_timeout.count()) + " ms (WAIT)");
      }
    }
    ++stats_.published;
    co_return publish_receipt{std::move(*id), true};
  }

  /// The next message: new entries for the group (XREADGROUP), entries due for redelivery and
  /// those a dead consumer left (XAUTOCLAIM). Creates the group (with MKSTREAM) on first use and
  /// again when the server lost it. Waits while max_in_flight messages are unsettled. While Redis
  /// is unreachable (or loading, busy, failing over) it keeps trying with backoff until `timeout`
  /// (errc::timeout then; the stream goes on with the next call). Other error replies (WRONGTYPE:
  /// the key holds something else; NOPERM) are returned. errc::cancelled after close().
  asio::awaitable<result<received_message>> receive() { return receive(std::chrono::steady_clock::duration::max()); }
  asio::awaitable<result<received_message>> receive(std::chrono::steady_clock::duration timeout) {
    if (closed_) co_return error(errc::cancelled, "the channel was closed");
    if (receiving_) co_return error(errc::invalid_argument, "one receive() at a time on a redis_stream_channel");
    receiving_ = true;
    auto r = co_await receive_loop(timeout == clock::duration::max() ? clock::time_point::max() : clock::now() + timeout);
    receiving_ = false;
    co_return r;
  }

  /// XACK: `m` is done and not delivered again. An error means the server may not have recorded
  /// it; `m` counts as settled here anyway and the entry, still pending, comes again later.
  asio::awaitable<result<void>> ack(const received_message& m) {
    if (auto s = begin_settle(m); !s) co_return s;
    const std::vector<std::string> ids{m.id};
    auto r = co_await redis::xack(*commands_, opts_.stream, opts_.group, ids);
    end_settle(ids.front());
    if (!r) {
      ++stats_.settle_failures;
      co_return r.error();
    }
    ++stats_.acked;
    co_return result<void>{};
  }

  /// requeue: the entry stays pending, its idle time set so that an XAUTOCLAIM (of this consumer
  /// or another in the group) hands it out again after options::redelivery_delay; past
  /// max_deliveries it is dead-lettered. Without requeue: dead_letter(m, "rejected").
  asio::awaitable<result<void>> nack(const received_message& m, bool requeue = true) {
    if (!requeue) co_return co_await dead_letter(m, "rejected");
    if (auto s = begin_settle(m); !s) co_return s;
    const std::string id = m.id;
    const auto idle = (opts_.claim_idle - opts_.redelivery_delay).count();
    redis::request req("XCLAIM", opts_.stream, opts_.group, opts_.consumer, 0, id, "IDLE", idle, "JUSTID");
    auto r = co_await commands_->execute(req);
    end_settle(id);
    if (r) {
      if (auto c = r->front().check(); !c) r = c.error();
    }
    if (!r) {
      ++stats_.settle_failures;
      co_return r.error();
    }
    ++stats_.nacked;
    co_return result<void>{};
  }

  /// Adds `m` to the dead-letter stream with the reason (fields dl:*) and acknowledges it, in one
  /// MULTI/EXEC: both happen or neither.
  asio::awaitable<result<void>> dead_letter(const received_message& m, std::string_view reason) {
    if (auto s = begin_settle(m); !s) co_return s;
    const std::string id = m.id;
    auto r = co_await move_to_dead_letter(m, reason);
    end_settle(id);
    co_return r;
  }

  /// Ends a waiting receive() (errc::cancelled) and closes both connections. Messages received
  /// and not settled stay pending in the group: XAUTOCLAIM gives them to another consumer after
  /// claim_idle (a crash leaves them the same way).
  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    reader_.reset();    // fails a blocking read at once
    commands_.reset();
  }

  /// buffered (fetched, not yet received) + received and not settled.
  std::size_t in_flight() const noexcept { return buffer_.size() + unsettled_.size(); }
  std::size_t max_in_flight() const noexcept { return opts_.max_in_flight; }
  const redis_stream_stats& stats() const noexcept { return stats_; }
  /// Why the last read or claim failed (receive() retries with backoff until its timeout).
  const std::optional<error>& last_error() const noexcept { return last_error_; }
  const redis_stream_options& options() const noexcept { return opts_; }
  const std::string& consumer_name() const noexcept { return opts_.consumer; }
  /// The connection for commands, to use the stream directly (XLEN, XINFO, XPENDING ...).
  /// Null after close().
  redis::connection* commands() noexcept { return commands_.get(); }

 private:
  using clock = std::chrono::steady_clock;

  static std::string default_consumer_name() {
    static std::atomic<unsigned> n{0};
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    return "intg-" + std::string(host[0] ? host : "host") + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
  }

  // A message being settled still counts in flight until the server has answered, so that the
  // server never holds more than max_in_flight entries pending for this consumer either.
  result<void> begin_settle(const received_message& m) {
    if (closed_) return error(errc::cancelled, "the channel was closed");
    auto it = unsettled_.find(m.id);
    if (it == unsettled_.end() || it->second)
      return error(errc::invalid_argument, "message " + m.id + " was not received from this channel, or is settled already");
    it->second = true;
    return {};
  }
  void end_settle(const std::string& id) {
    unsettled_.erase(id);
    timer_.cancel();  // a receive() waiting for room
  }

  asio::awaitable<result<void>> move_to_dead_letter(const received_message& m, std::string_view reason) {
    if (closed_) co_return error(errc::cancelled, "the channel was closed");
    redis::request req;
    {
      std::vector<std::string> args;
      args.reserve(16 + 2 * m.headers.size());
      args.push_back(opts_.dead_letter_stream);
      if (opts_.dead_letter_max_length) args.insert(args.end(), {"MAXLEN", "~", std::to_string(opts_.dead_letter_max_length)});
      args.push_back("*");
      args.insert(args.end(), {std::string(redis_fields::payload), m.payload});
      if (!m.key.empty()) args.insert(args.end(), {std::string(redis_fields::key), m.key});
      for (const auto& h : m.headers) args.insert(args.end(), {std::string(redis_fields::header_prefix) + h.name, h.value});
      args.insert(args.end(), {std::string(redis_fields::dead_reason), std::string(reason), std::string(redis_fields::dead_id), m.id,
                               std::string(redis_fields::dead_stream), opts_.stream, std::string(redis_fields::dead_group), opts_.group,
                               std::string(redis_fields::dead_deliveries), std::to_string(m.delivery_count)});
      req.push("MULTI");
      req.push("XADD", args);
      req.push("XACK", opts_.stream, opts_.group, m.id);
      req.push("EXEC");
    }
    auto r = co_await commands_->execute(req);
    result<void> outcome;
    if (!r) {
      outcome = r.error();
    } else {
      for (std::size_t i = 0; i < 3 && outcome; ++i)
        if (auto c = (*r)[i].check(); !c) outcome = c.error();  // a refused XADD aborts the EXEC
      if (outcome) {
        const auto exec = (*r)[3];
        if (auto c = exec.check(); !c) outcome = c.error();
        else if (exec.type() != redis::resp3::type::array || exec.size() != 2)
          outcome = redis::make_error(redis::errc::unexpected_type, "unexpected EXEC reply to a dead-letter move");
        else
          for (auto v : exec)
            if (auto c2 = v.check(); !c2 && outcome) outcome = c2.error();
      }
    }
    if (!outcome) {
      ++stats_.settle_failures;
      co_return outcome;
    }
    ++stats_.dead_lettered;
    co_return result<void>{};
  }

  received_message decode(redis::stream_entry& e, std::uint32_t deliveries) const {
    received_message m;
    m.id = std::move(e.id);
    m.delivery_count = deliveries;
    for (auto& [name, value] : e.fields) {
      if (name == redis_fields::payload) m.payload = std::move(value);
      else if (name == redis_fields::key) m.key = std::move(value);
      else if (name.starts_with(redis_fields::header_prefix))
        m.headers.push_back({name.substr(redis_fields::header_prefix.size()), std::move(value)});
      else
        m.headers.push_back({std::move(name), std::move(value)});  // written by another producer: kept as a header
    }
    return m;
  }

  void note_in_flight() noexcept { stats_.max_in_flight_seen = std::max(stats_.max_in_flight_seen, in_flight()); }

  // Waits until `until` (or an ack, or close()). False when closed.
  asio::awaitable<bool> pause(clock::time_point until) {
    timer_.expires_at(until);
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return !closed_;
  }

  // Worth another try after a backoff: the connection's failures, and the replies of a server
  // that is loading its data, busy or failing over. Anything else (WRONGTYPE, NOPERM, a reply of
  // the wrong shape) goes to the caller.
  static bool worth_retrying(const error& e) noexcept {
    if (is_transient(e) || e == condition::outcome_unknown || e == condition::timeout || e == condition::unavailable) return true;
    const auto code = e.provider_code();
    return code == "LOADING" || code == "BUSY" || code == "TRYAGAIN" || code == "MASTERDOWN" || code == "READONLY";
  }

  clock::duration backoff() {
    const auto b = std::min<clock::duration>(conn_opts_.reconnect_backoff * (1ll << std::min(failures_, 20)),
                                             conn_opts_.max_reconnect_backoff);
    ++failures_;
    return b;
  }

  asio::awaitable<result<received_message>> receive_loop(clock::time_point deadline) {
    const auto closed = [] { return error(errc::cancelled, "the channel was closed"); };
    for (;;) {
      if (closed_) co_return closed();
      if (!buffer_.empty()) {
        received_message m = std::move(buffer_.front());
        buffer_.pop_front();
        unsettled_.emplace(m.id, false);
        ++stats_.received;
        if (m.redelivered()) ++stats_.redelivered;
        co_return m;
      }
      const auto now = clock::now();
      if (unsettled_.size() >= opts_.max_in_flight) {
        // Back-pressure: nothing is read until the application settles a message.
        if (now >= deadline)
          co_return error(errc::timeout, std::to_string(unsettled_.size()) +
                                             " messages received and not settled (max_in_flight): ack, nack or dead-letter one first");
        if (!co_await pause(deadline)) co_return closed();
        continue;
      }
      if (now >= deadline) co_return error(errc::timeout, "no message from '" + opts_.stream + "' before the timeout");
      const std::size_t room = opts_.max_in_flight - unsettled_.size();
      result<void> step;
      if (!group_ready_) {
        step = co_await ensure_group();
      } else if (now >= next_claim_) {
        step = co_await claim(room);
      } else {
        const auto until = std::min({now + opts_.read_block, next_claim_, deadline});
        const auto block = std::max<std::chrono::milliseconds>(
            std::chrono::duration_cast<std::chrono::milliseconds>(until - now), std::chrono::milliseconds{1});
        step = co_await read(room, block);
      }
      if (closed_) co_return closed();
      if (step) {
        failures_ = 0;
        continue;
      }
      if (step.error().provider_code() == "NOGROUP") {  // the server lost the group (or the stream)
        group_ready_ = false;
        continue;
      }
      ++stats_.read_errors;
      last_error_ = step.error();
      if (!worth_retrying(step.error())) co_return step.error();
      if (!co_await pause(std::min(clock::now() + backoff(), deadline))) co_return closed();
    }
  }

  asio::awaitable<result<void>> ensure_group() {
    auto r = co_await redis::xgroup_create(*commands_, opts_.stream, opts_.group, opts_.group_start_id);
    if (closed_) co_return result<void>{};
    if (!r) co_return r.error();
    if (*r) ++stats_.groups_created;
    group_ready_ = true;
    reader_connects_ = reader_->stats().connects;
    co_return result<void>{};
  }

  asio::awaitable<result<void>> read(std::size_t room, std::chrono::milliseconds block) {
    auto& reader = *reader_;
    auto r = co_await redis::xreadgroup(reader, opts_.group, opts_.consumer, opts_.stream, room, block);
    if (closed_) co_return result<void>{};
    // A new connection: make sure the group is still there (a restarted server may have lost it).
    if (reader.stats().connects != reader_connects_) group_ready_ = false;
    if (!r) co_return r.error();
    for (auto& e : *r) buffer_.push_back(decode(e, 1));
    note_in_flight();
    co_return result<void>{};
  }

  // One XAUTOCLAIM step: entries idle for claim_idle (a dead consumer's, or nacked ones whose
  // idle time nack() set), their delivery counts from XPENDING; past max_deliveries they go to
  // the dead-letter stream instead of the application.
  asio::awaitable<result<void>> claim(std::size_t room) {
    auto c = co_await redis::xautoclaim(*commands_, opts_.stream, opts_.group, opts_.consumer, opts_.claim_idle, claim_cursor_, room);
    if (closed_) co_return result<void>{};
    if (!c) co_return c.error();
    claim_cursor_ = c->next;
    // A full pass done: wait for the next interval; otherwise go on scanning next time.
    next_claim_ = claim_cursor_ == "0-0" ? clock::now() + opts_.claim_interval : clock::now();
    if (c->entries.empty()) co_return result<void>{};
    std::unordered_map<std::string, std::uint32_t> counts;
    {
      redis::request req("XPENDING", opts_.stream, opts_.group, c->entries.front().id, c->entries.back().id,
                         c->entries.size(), opts_.consumer);
      auto p = co_await commands_->execute(req);
      if (closed_) co_return result<void>{};
      if (!p) co_return p.error();
      const auto v = p->front();
      if (auto chk = v.check(); !chk) co_return chk.error();
      for (auto row : v) {
        if (row.type() != redis::resp3::type::array || row.size() < 4)
          co_return redis::make_error(redis::errc::unexpected_type, "unexpected XPENDING reply shape");
        auto id = row[0].as_string();
        auto n = row[3].as_int();
        if (!id || !n) co_return redis::make_error(redis::errc::unexpected_type, "unexpected XPENDING entry");
        counts[*id] = static_cast<std::uint32_t>(std::clamp<std::int64_t>(*n, 0, UINT32_MAX));
      }
    }
    for (auto& e : c->entries) {
      auto it = counts.find(e.id);
      if (it == counts.end()) continue;  // claimed by another consumer meanwhile: no longer ours
      ++stats_.claimed;
      received_message m = decode(e, it->second);
      if (m.delivery_count > opts_.max_deliveries) {
        const std::string why = "delivered " + std::to_string(m.delivery_count - 1) + " times without an ack (max_deliveries " +
                                std::to_string(opts_.max_deliveries) + ")";
        // On failure the entry stays pending (and is claimed again later).
        (void)co_await move_to_dead_letter(m, why);
        if (closed_) co_return result<void>{};
        continue;
      }
      buffer_.push_back(std::move(m));
    }
    note_in_flight();
    co_return result<void>{};
  }

  asio::any_io_executor ex_;
  redis_stream_options opts_;
  redis::options conn_opts_;
  std::unique_ptr<redis::connection> commands_;
  std::unique_ptr<redis::connection> reader_;
  asio::steady_timer timer_;  // backoff, waiting for room; cancelled by settling and close()
  std::deque<received_message> buffer_;
  std::unordered_map<std::string, bool> unsettled_;  // id -> being settled
  std::string claim_cursor_ = "0-0";
  clock::time_point next_claim_{};
  std::uint64_t reader_connects_ = 0;
  int failures_ = 0;
  bool group_ready_ = false;
  bool receiving_ = false;
  bool closed_ = false;
  std::optional<error> last_error_;
  redis_stream_stats stats_;
};

static_assert(channel<redis_stream_channel>);

}  // namespace intg::messaging
