// intg::attempt: the per-call context an operation may take. It lives in the pipeline's coroutine
// frame (never on the heap) and carries the attempt number, the deadline, the cancellation slot to
// bind to async calls, the trace context, the partition key, and where to report a server's
// retry-after hint.
#pragma once

#include <intg/core/clock.hpp>
#include <intg/detail/deadline_list.hpp>
#include <intg/observability/trace_context.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <concepts>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>
#include <type_traits>
#include <utility>

namespace intg {

class attempt;

/// The cancellation slot an operation binds to its asynchronous calls:
/// `co_await timer.async_wait(asio::bind_cancellation_slot(a.cancellation_slot(), asio::use_awaitable))`.
/// Binding it is what lets the timeout policy really cancel the wait; the deadline is watched from
/// the first bind, so an operation that never waits costs the watchdog nothing.
class attempt_cancellation_slot {
 public:
  attempt_cancellation_slot() noexcept = default;

  template <class CancellationHandler, class... Args>
  CancellationHandler& emplace(Args&&... args) {
    auto& h = inner_.template emplace<CancellationHandler>(std::forward<Args>(args)...);
    notify_bound();
    return h;
  }
  template <class CancellationHandler>
  std::decay_t<CancellationHandler>& assign(CancellationHandler&& handler) {
    auto& h = inner_.assign(std::forward<CancellationHandler>(handler));
    notify_bound();
    return h;
  }
  void clear() { inner_.clear(); }
  bool is_connected() const noexcept { return inner_.is_connected(); }
  bool has_handler() const noexcept { return inner_.has_handler(); }

  friend bool operator==(const attempt_cancellation_slot& a, const attempt_cancellation_slot& b) noexcept {
    return a.inner_ == b.inner_;
  }
  friend bool operator!=(const attempt_cancellation_slot& a, const attempt_cancellation_slot& b) noexcept {
    return !(a == b);
  }

 private:
  friend class attempt;
  attempt_cancellation_slot(asio::cancellation_slot s, attempt* owner) noexcept : inner_(s), owner_(owner) {}
  inline void notify_bound();

  asio::cancellation_slot inner_;
  attempt* owner_ = nullptr;
};

/// Options a caller may pass with one call through a pipeline.
struct call_options {
  /// Key for partitioned policies (keyed rate limiter): a tenant, a host, ... A view: the string
  /// must outlive the call (a temporary built in the call expression does not).
  std::string_view partition_key{};
  /// Name of the call's span (tracing policy); defaults to the tracing policy's name.
  std::string_view operation{};
  /// Parent trace context (e.g. parsed from an incoming traceparent header); a new trace when
  /// null or invalid. It must outlive the call.
  const trace_context* parent = nullptr;
};

/// The context of one attempt of one call. Operations read it; policies and the pipeline drive it.
class attempt {
 public:
  /// `opts` must outlive the attempt (the pipeline keeps both in its frame).
  explicit attempt(const call_options& opts) noexcept : options_(&opts) {}
  attempt(const attempt&) = delete;
  attempt& operator=(const attempt&) = delete;
  ~attempt() { detail::deadline_list::remove(node_); }

  /// 1 for the first attempt, 2 for the first retry, ...
  int number() const noexcept { return number_; }
  /// When this attempt started. The clock is read on first use and the reading is shared by
  /// every layer; a layer that needs the true start time reads it in admit().
  time_point started() const noexcept {
    if (!have_start_) {
      started_ = clock_ops_->now(clock_);
      have_start_ = true;
    }
    return started_;
  }
  /// The attempt's start to the clock's coarse resolution (intg::steady_clock: a few milliseconds
  /// on Linux), never later than the true start, and about ten times cheaper to read. Layers that
  /// only need time at that grain (rate limits, budgets, the open breaker's countdown) use it, so
  /// that a call nobody times reads no precise clock. It is started() once that has been read.
  time_point approximate_start() const noexcept {
    if (have_start_) return started_;
    if (!have_approx_) {
      approx_ = clock_ops_->approximate_now(clock_);
      have_approx_ = true;
    }
    return approx_;
  }
  /// When this attempt's operation finished (read on first use after the operation returned).
  time_point ended() const noexcept {
    if (!have_end_) {
      ended_ = ended_at_start_ ? started() : clock_ops_->now(clock_);
      have_end_ = true;
    }
    return ended_;
  }
  /// When the call started (its first attempt).
  time_point call_started() const noexcept {
    if (!have_call_start_) {
      call_started_ = started();
      have_call_start_ = true;
    }
    return call_started_;
  }
  /// The deadline for this attempt; time_point::max() when none is set. A relative deadline
  /// (tighten_timeout) counts from the attempt's start: the precise one when read, else the
  /// approximate one, else the precise time now.
  time_point deadline() const noexcept {
    time_point d = deadline_;
    if (relative_ != duration::max()) d = std::min(d, (have_start_ || !have_approx_ ? started() : approx_) + relative_);
    return d;
  }
  bool has_deadline() const noexcept { return deadline_ != time_point::max() || relative_ != duration::max(); }
  /// The deadline of the whole call (set by a timeout outside the retry layer), or max().
  time_point call_deadline() const noexcept { return call_deadline_; }

  /// Bind this to the operation's async calls so timeouts and the caller's cancellation reach them.
  attempt_cancellation_slot cancellation_slot() noexcept { return {signal_.slot(), this}; }

  /// The trace context of this attempt's span (inject it as `traceparent` in outgoing requests).
  /// Without a span observer, a tracing layer leaves the random ids to be drawn here, on first read:
  /// an operation that never reads them costs no random numbers.
  trace_context& trace() noexcept {
    draw_trace_ids();
    return trace_;
  }
  const trace_context& trace() const noexcept {
    draw_trace_ids();
    return trace_;
  }
  const call_options& options() const noexcept { return *options_; }
  std::string_view partition_key() const noexcept { return options_->partition_key; }

  /// The operation reports a server's retry-after hint here (e.g. from a 429's Retry-After).
  void report_retry_after(std::chrono::milliseconds d) noexcept {
    retry_after_ms_ = static_cast<std::int32_t>(std::clamp<std::int64_t>(d.count(), -1, INT32_MAX));
  }
  /// The hint reported during this attempt; negative when none.
  std::chrono::milliseconds retry_after() const noexcept { return std::chrono::milliseconds(retry_after_ms_); }

  /// True once this attempt's deadline fired and cancelled the operation.
  bool timed_out() const noexcept { return timed_out_.load(std::memory_order_acquire); }
  /// True once the caller cancelled the call.
  bool cancelled() const noexcept { return cancelled_; }

  // ---- for policies ----
  /// Has this call a trace (its id set, or left to be drawn)?
  bool has_trace() const noexcept { return trace_id_pending_ || trace_.valid(); }
  /// Leaves the ids to be drawn from `next(source)` when trace() is first read: the trace id too
  /// when `new_trace` (else the caller set it), and this attempt's span id.
  void defer_trace_ids(std::uint64_t (*next)(void*) noexcept, void* source, bool new_trace) noexcept {
    random_next_ = next;
    random_source_ = source;
    trace_id_pending_ = new_trace;
    span_id_pending_ = true;
  }
  /// A fresh span id for this attempt, drawn when trace() is first read.
  void defer_span_id() noexcept { span_id_pending_ = random_next_ != nullptr; }

  /// Narrows the attempt's deadline (the earliest deadline of all layers wins).
  void tighten_deadline(time_point tp) noexcept {
    if (tp < deadline_) deadline_ = tp;
  }
  /// Narrows the deadline to `d` after the attempt's start, without reading the clock now.
  void tighten_timeout(duration d) noexcept {
    if (d < relative_) relative_ = d;
  }

  // ---- for the pipeline (intg::basic_pipeline); not for operations ----
  /// `ex` is the calling coroutine's executor; it must outlive the attempt.
  template <clock Clock>
  void bind_services(const Clock* clock, const asio::any_io_executor* ex) noexcept {
    static constexpr clock_ops ops{
        [](const void* c) noexcept -> time_point { return static_cast<const Clock*>(c)->now(); },
        [](const void* c) noexcept -> time_point {
          if constexpr (requires(const Clock& k) { { k.approximate_now() } -> std::same_as<time_point>; })
            return static_cast<const Clock*>(c)->approximate_now();
          else
            return static_cast<const Clock*>(c)->now();
        },
        [](const void* c, const asio::any_io_executor& e, detail::deadline_node& n) {
          static_cast<const Clock*>(c)->watch(e, n);
        }};
    clock_ = clock;
    clock_ops_ = &ops;
    executor_ = ex;
  }
  void begin_call() noexcept { begin_attempt(1); }
  void begin_attempt(int number) noexcept {
    if (number > 1) (void)call_started();
    number_ = number;
    have_start_ = have_end_ = have_approx_ = ended_at_start_ = false;
    deadline_ = call_deadline_;
    relative_ = duration::max();
    retry_after_ms_ = -1;
  }
  /// Deadlines set before the first attempt (by layers outside retry) hold for the whole call.
  void seal_call_deadline() noexcept {
    if (relative_ != duration::max()) {
      deadline_ = deadline();
      relative_ = duration::max();
    }
    call_deadline_ = deadline_;
  }
  /// The operation returned: ended() will read the clock on first use.
  void end_attempt() noexcept { have_end_ = ended_at_start_ = false; }
  /// No operation ran (a layer rejected the attempt): it ends when it started (read only if asked).
  void end_attempt_at_start() noexcept {
    have_end_ = false;
    ended_at_start_ = true;
  }
  void mark_cancelled() noexcept {
    cancelled_ = true;
    signal_.emit(asio::cancellation_type::terminal);
  }
  /// Stops watching the deadline. Returns false when a deadline emission is still queued on the
  /// executor: the caller must let it run (see emissions_pending) before the attempt goes away.
  bool disarm() noexcept {
    if (armed_) {
      detail::deadline_list::remove(node_);  // false when fired: its emission is counted in pending_
      armed_ = false;
    }
    return pending_.load(std::memory_order_acquire) == 0;
  }
  /// Where the caller's cancellation arrives (the calling coroutine's cancellation state).
  void bind_caller(asio::cancellation_state caller) noexcept { caller_state_ = caller; }
  /// True when the caller asked for cancellation (through its coroutine or through our slot).
  bool caller_cancelled() const noexcept {
    return cancelled_ || caller_state_.cancelled() != asio::cancellation_type::none;
  }
  /// Removes the forwarder from the caller's slot once the operation has returned.
  void detach_caller() noexcept {
    if (forwarding_) {
      forwarding_ = false;
      if (auto slot = caller_state_.slot(); slot.is_connected()) slot.clear();
    }
  }
  /// After a layer waited: later layers and the operation see a fresh start time.
  void restart_clock() noexcept {
    have_start_ = have_call_start_ = have_approx_ = false;
    (void)call_started();
  }
  void restart_attempt_clock() noexcept {
    have_start_ = have_approx_ = false;
    (void)started();
  }
  /// An exception the operation threw: the pipeline unwinds its layers, then rethrows it.
  void keep_exception(std::exception_ptr e) noexcept { exception_ = std::move(e); }
  const std::exception_ptr& exception() const noexcept { return exception_; }
  bool emissions_pending() const noexcept { return pending_.load(std::memory_order_acquire) != 0; }
  void reset_for_retry() noexcept { timed_out_.store(false, std::memory_order_relaxed); }
  const asio::any_io_executor& executor() const noexcept { return *executor_; }

 private:
  friend class attempt_cancellation_slot;

  void on_bound() {
    if (auto caller = caller_state_.slot(); !forwarding_ && caller.is_connected()) {
      // The operation bound our slot instead of its coroutine's: forward the caller's cancellation.
      forwarding_ = true;
      caller.assign([this](asio::cancellation_type_t) { mark_cancelled(); });
    }
    if (!has_deadline() || !clock_ops_) return;
    if (timed_out()) {
      post_emission();  // the operation started a new wait after the deadline: cancel it too
      return;
    }
    if (armed_) return;
    armed_ = true;
    node_.deadline = deadline();
    node_.fire = &attempt::fire;
    node_.self = this;
    clock_ops_->watch(clock_, *executor_, node_);
  }

  void draw_trace_ids() const noexcept {
    if (!(trace_id_pending_ || span_id_pending_)) return;
    struct source {
      std::uint64_t (*next)(void*) noexcept;
      void* state;
      std::uint64_t operator()() noexcept { return next(state); }
    } rng{random_next_, random_source_};
    if (trace_id_pending_) trace_context::fill(rng, trace_.trace_id.data(), trace_.trace_id.size());
    if (span_id_pending_) trace_context::fill(rng, trace_.span_id.data(), trace_.span_id.size());
    trace_id_pending_ = span_id_pending_ = false;
  }

  struct watch_node : detail::deadline_node {
    attempt* self = nullptr;
  };
  static void fire(detail::deadline_node& n) { static_cast<watch_node&>(n).self->post_emission(); }

  void post_emission() {
    pending_.fetch_add(1, std::memory_order_acq_rel);
    asio::post(*executor_, [this] {
      timed_out_.store(true, std::memory_order_release);
      signal_.emit(asio::cancellation_type::terminal);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    });
  }

  struct clock_ops {
    time_point (*now)(const void*) noexcept;
    time_point (*approximate_now)(const void*) noexcept;
    void (*watch)(const void*, const asio::any_io_executor&, detail::deadline_node&);
  };

  const call_options* options_;
  int number_ = 1;
  std::int32_t retry_after_ms_ = -1;
  bool armed_ = false;
  bool cancelled_ = false;
  bool forwarding_ = false;
  mutable bool have_start_ = false;
  mutable bool have_end_ = false;
  mutable bool have_call_start_ = false;
  mutable bool have_approx_ = false;
  bool ended_at_start_ = false;
  std::atomic<bool> timed_out_{false};
  std::atomic<int> pending_{0};
  mutable time_point call_started_{};
  mutable time_point started_{};
  mutable time_point ended_{};
  mutable time_point approx_{};
  time_point deadline_ = time_point::max();
  time_point call_deadline_ = time_point::max();
  duration relative_ = duration::max();
  mutable trace_context trace_{};
  std::uint64_t (*random_next_)(void*) noexcept = nullptr;
  void* random_source_ = nullptr;
  mutable bool trace_id_pending_ = false;
  mutable bool span_id_pending_ = false;
  asio::cancellation_signal signal_;
  watch_node node_;
  const void* clock_ = nullptr;
  const clock_ops* clock_ops_ = nullptr;
  const asio::any_io_executor* executor_ = nullptr;
  std::exception_ptr exception_;
  asio::cancellation_state caller_state_;
};

inline void attempt_cancellation_slot::notify_bound() {
  if (owner_) owner_->on_bound();
}

}  // namespace intg
