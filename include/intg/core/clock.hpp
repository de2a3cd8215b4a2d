// Injectable time. Policies never read the time themselves: the pipeline reads its clock (at most
// twice per attempt) and hands the time points down. Two clocks ship: intg::steady_clock for real
// use and intg::manual_clock for tests, whose advance() completes the waits that fall due, so no
// test ever sleeps.
#pragma once

#include <intg/detail/deadline_list.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <ctime>
#include <concepts>
#include <memory>
#include <optional>
#include <mutex>
#include <utility>
#include <vector>

namespace intg {

namespace asio = boost::asio;

/// Time points and durations used throughout intg (std::chrono::steady_clock's).
using time_point = std::chrono::steady_clock::time_point;
using duration = std::chrono::steady_clock::duration;

/// What a clock must provide (the named requirement `Clock`):
///
/// | expression                      | meaning                                                        |
/// |---------------------------------|----------------------------------------------------------------|
/// | `c.now()`                       | current time as intg::time_point                               |
/// | `typename C::timer`             | a waitable timer: `expires_at(tp)`, `async_wait(token)`,       |
/// |                                 | `cancel()`; honours the token's cancellation slot              |
/// | `c.make_timer(executor)`        | a timer whose handlers run on `executor`                       |
/// | `c.watch(executor, node)`       | fire `node` (on the clock's watchdog) once its deadline passes |
/// | `c.approximate_now()` (optional)| a cheaper reading, never later than now(), at a coarse grain;  |
/// |                                 | now() is used when a clock has none                            |
template <class C>
concept clock = std::copy_constructible<C> && requires(const C& c, const asio::any_io_executor& ex,
                                                       detail::deadline_node& n) {
  { c.now() } -> std::same_as<time_point>;
  typename C::timer;
  { c.make_timer(ex) } -> std::same_as<typename C::timer>;
  c.watch(ex, n);
};

namespace detail {

// One watchdog per execution context for intg::steady_clock: a single timer armed for the earliest
// deadline of all attempts that are really waiting on that context.
class steady_deadline_service : public asio::execution_context::service {
 public:
  using key_type = steady_deadline_service;
  static inline asio::execution_context::id id;

  explicit steady_deadline_service(asio::execution_context& ctx) : service(ctx) {
    list_.on_empty_context = this;
    list_.on_empty = [](void* self) {
      auto& s = *static_cast<steady_deadline_service*>(self);
      s.armed_for_ = time_point::max();
      if (s.timer_) s.timer_->cancel();
    };
  }

  void watch(const asio::any_io_executor& ex, deadline_node& n) {
    bool rearm = false;
    {
      std::lock_guard lock(list_.mutex);
      if (stopped_) return;  // the context is shutting down: nothing will run the operation again
      if (!timer_) timer_.emplace(ex);
      list_.link(n);
      if (n.deadline < armed_for_) {
        armed_for_ = n.deadline;
        rearm = true;
      }
      if (rearm) arm_locked(n.deadline);
    }
  }

 private:
  // Destroy the timer now: its own service may be destroyed before this one.
  void shutdown() override {
    std::lock_guard lock(list_.mutex);
    timer_.reset();
    armed_for_ = time_point::max();
    stopped_ = true;
  }

  void arm_locked(time_point at) {
    timer_->expires_at(at);
    timer_->async_wait([this](boost::system::error_code ec) {
      if (ec) return;  // re-armed or shut down
      {
        std::lock_guard lock(list_.mutex);
        armed_for_ = time_point::max();
      }
      time_point next = list_.fire_expired(std::chrono::steady_clock::now());
      if (next != time_point::max()) {
        std::lock_guard lock(list_.mutex);
        if (next < armed_for_) {
          armed_for_ = next;
          arm_locked(next);
        }
      }
    });
  }

  deadline_list list_;
  std::optional<asio::steady_timer> timer_;
  time_point armed_for_ = time_point::max();
  bool stopped_ = false;
};

}  // namespace detail

/// The real monotonic clock (std::chrono::steady_clock) with Asio timers.
class steady_clock {
 public:
  using timer = asio::basic_waitable_timer<std::chrono::steady_clock,
                                           asio::wait_traits<std::chrono::steady_clock>,
                                           asio::any_io_executor>;

  time_point now() const noexcept { return std::chrono::steady_clock::now(); }
  /// The same clock at the kernel tick's grain (Linux: CLOCK_MONOTONIC_COARSE, 1-4 ms, a few ns
  /// to read; std::chrono::steady_clock is CLOCK_MONOTONIC, so both share one epoch and the
  /// coarse reading is never ahead). Elsewhere it is now().
  time_point approximate_now() const noexcept {
#if defined(__linux__) && defined(CLOCK_MONOTONIC_COARSE)
    timespec ts;
    if (::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) == 0)
      return time_point(std::chrono::duration_cast<duration>(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec)));
#endif
    return now();
  }
  timer make_timer(const asio::any_io_executor& ex) const { return timer(ex); }

  void watch(const asio::any_io_executor& ex, detail::deadline_node& n) const {
    auto& ctx = asio::query(ex, asio::execution::context);
    asio::use_service<detail::steady_deadline_service>(ctx).watch(ex, n);
  }
};

/// A clock that moves only when told to. Copies share the same time. Waits complete (their
/// handlers are posted to their executors) when advance() passes their expiry; run the
/// io_context (poll) afterwards to let them proceed.
class manual_clock {
  struct waiter {
    time_point expiry;
    std::shared_ptr<void> owner_alive;
    asio::execution_context* context = nullptr;  // where the handler would run
    virtual ~waiter() = default;
    // Posts the handler; called without the lock. `from_cancellation` is true when the call comes
    // from the handler's own cancellation slot, which must then not be cleared (it is running).
    virtual void complete(boost::system::error_code ec, bool from_cancellation) = 0;
  };

  struct state {
    std::mutex mutex;
    time_point now = time_point{} + std::chrono::hours(24);  // far from zero, like a real uptime
    duration approximate_lag{};
    std::vector<waiter*> waiters;
    detail::deadline_list deadlines;

    std::vector<waiter*> take_due_locked() {
      std::vector<waiter*> due;
      for (auto it = waiters.begin(); it != waiters.end();) {
        if ((*it)->expiry <= now) {
          due.push_back(*it);
          it = waiters.erase(it);
        } else {
          ++it;
        }
      }
      return due;
    }
  };

  // Owns, per execution context, the waits whose handlers would run there: when the context shuts
  // down, their handlers (and the coroutine frames they own) are destroyed, as Asio does for its
  // own timers. Without it a coroutine left waiting on a manual clock would leak.
  class waits_service : public asio::execution_context::service {
   public:
    using key_type = waits_service;
    static inline asio::execution_context::id id;
    explicit waits_service(asio::execution_context& ctx) : service(ctx) {}
    void track(const std::shared_ptr<state>& s) {
      std::lock_guard lock(mutex_);
      for (auto& w : states_)
        if (w.lock() == s) return;
      states_.push_back(s);
    }

   private:
    void shutdown() override {
      std::vector<std::weak_ptr<state>> states;
      {
        std::lock_guard lock(mutex_);
        states.swap(states_);
      }
      for (auto& weak : states) {
        auto s = weak.lock();
        if (!s) continue;
        std::vector<waiter*> mine;
        {
          std::lock_guard lock(s->mutex);
          for (auto it = s->waiters.begin(); it != s->waiters.end();) {
            if ((*it)->context == &context()) {
              mine.push_back(*it);
              it = s->waiters.erase(it);
            } else {
              ++it;
            }
          }
        }
        for (auto* w : mine) delete w;  // destroys the handler without running it
      }
    }
    std::mutex mutex_;
    std::vector<std::weak_ptr<state>> states_;
  };

 public:
  manual_clock() : state_(std::make_shared<state>()) {}

  time_point now() const noexcept {
    std::lock_guard lock(state_->mutex);
    return state_->now;
  }

  /// now() minus the lag set by set_approximate_lag() (none by default): lets tests see how the
  /// policies behave on a coarse clock such as intg::steady_clock's approximate_now().
  time_point approximate_now() const noexcept {
    std::lock_guard lock(state_->mutex);
    return state_->now - state_->approximate_lag;
  }
  void set_approximate_lag(duration lag) {
    std::lock_guard lock(state_->mutex);
    state_->approximate_lag = lag;
  }

  /// Moves time forward by `d` and completes what fell due.
  void advance(duration d) {
    std::vector<waiter*> due;
    time_point now;
    {
      std::lock_guard lock(state_->mutex);
      state_->now += d;
      now = state_->now;
      due = state_->take_due_locked();
    }
    for (auto* w : due) w->complete(boost::system::error_code{}, false);
    state_->deadlines.fire_expired(now);
  }

  /// Number of timers currently waiting (useful to assert that something is sleeping).
  std::size_t pending_waits() const {
    std::lock_guard lock(state_->mutex);
    return state_->waiters.size();
  }

  void watch(const asio::any_io_executor&, detail::deadline_node& n) const {
    bool due;
    {
      std::lock_guard lock(state_->deadlines.mutex);
      state_->deadlines.link(n);
    }
    {
      std::lock_guard lock(state_->mutex);
      due = n.deadline <= state_->now;
    }
    if (due) state_->deadlines.fire_expired(now());
  }

  /// A waitable timer on the manual clock. Not thread-safe for concurrent use of one timer object
  /// (like Asio's timers); the clock itself may be advanced from any thread.
  class timer {
   public:
    using executor_type = asio::any_io_executor;

    timer(std::shared_ptr<state> s, asio::any_io_executor ex) : state_(std::move(s)), ex_(std::move(ex)) {}
    timer(timer&& o) noexcept = default;
    timer& operator=(timer&&) = delete;
    ~timer() { cancel(); }

    executor_type get_executor() const { return ex_; }
    time_point expiry() const { return expiry_; }

    std::size_t expires_at(time_point tp) {
      std::size_t n = cancel();
      expiry_ = tp;
      return n;
    }
    std::size_t expires_after(duration d) {
      time_point now;
      {
        std::lock_guard lock(state_->mutex);
        now = state_->now;
      }
      return expires_at(now + d);
    }

    /// Completes every pending wait with operation_aborted.
    std::size_t cancel() {
      if (!state_) return 0;
      std::vector<waiter*> mine;
      {
        std::lock_guard lock(state_->mutex);
        for (auto it = state_->waiters.begin(); it != state_->waiters.end();) {
          if ((*it)->owner_alive.get() == this) {
            mine.push_back(*it);
            it = state_->waiters.erase(it);
          } else {
            ++it;
          }
        }
      }
      for (auto* w : mine) w->complete(asio::error::operation_aborted, false);
      return mine.size();
    }

    template <class Token>
    auto async_wait(Token&& token) {
      return asio::async_initiate<Token, void(boost::system::error_code)>(
          [this](auto handler) { start(std::move(handler)); }, token);
    }

   private:
    template <class Handler>
    struct op final : waiter {
      struct cancel_handler {
        std::shared_ptr<state> st;
        op* self;
        void operator()(asio::cancellation_type_t) {
          bool found = false;
          {
            std::lock_guard lock(st->mutex);
            for (auto it = st->waiters.begin(); it != st->waiters.end(); ++it) {
              if (*it == self) {
                st->waiters.erase(it);
                found = true;
                break;
              }
            }
          }
          if (found) self->complete(asio::error::operation_aborted, true);
        }
      };

      Handler handler;
      asio::any_io_executor fallback;
      explicit op(Handler h, asio::any_io_executor ex) : handler(std::move(h)), fallback(std::move(ex)) {}

      void complete(boost::system::error_code ec, bool from_cancellation) override {
        if (!from_cancellation) {
          auto slot = asio::get_associated_cancellation_slot(handler);
          if (slot.is_connected()) slot.clear();
        }
        auto ex = asio::get_associated_executor(handler, fallback);
        auto h = std::move(handler);
        delete this;
        asio::post(ex, [h = std::move(h), ec]() mutable { std::move(h)(ec); });
      }
    };

    template <class Handler>
    void start(Handler handler) {
      auto* o = new op<Handler>(std::move(handler), ex_);
      o->expiry = expiry_;
      auto& ctx = asio::query(asio::get_associated_executor(o->handler, ex_), asio::execution::context);
      o->context = &ctx;
      asio::use_service<waits_service>(ctx).track(state_);
      o->owner_alive = std::shared_ptr<void>(state_, this);  // aliasing: identifies the timer
      bool due;
      {
        std::lock_guard lock(state_->mutex);
        due = expiry_ <= state_->now;
        if (!due) state_->waiters.push_back(o);
      }
      if (due) {
        o->complete(boost::system::error_code{}, false);
        return;
      }
      auto slot = asio::get_associated_cancellation_slot(o->handler);
      if (slot.is_connected())
        slot.template emplace<typename op<Handler>::cancel_handler>(
            typename op<Handler>::cancel_handler{state_, o});
    }

    std::shared_ptr<state> state_;
    asio::any_io_executor ex_;
    time_point expiry_{};
  };

  timer make_timer(const asio::any_io_executor& ex) const { return timer(state_, ex); }

 private:
  std::shared_ptr<state> state_;
};

static_assert(clock<steady_clock>);
static_assert(clock<manual_clock>);

}  // namespace intg
