// intg::bulkhead: at most `max_concurrent` calls in flight, plus a bounded queue of callers that
// wait (up to `queue_timeout`) for a slot. Admission and release are one atomic each while nobody
// queues; the queue itself takes a short lock.
//
// Waiting callers are woken on their own executor, which must run their coroutine serially
// (a single-threaded io_context or a strand), as Asio's per-operation cancellation requires too.
#pragma once

#include <boost/json/object.hpp>

#include <intg/core/integration_config.hpp>
#include <intg/policy/layer.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>

namespace intg {

template <class Tag = void>
class bulkhead {
 public:
  struct options {
    int max_concurrent = 64;  ///< calls in flight at once; >= 1
    int max_queue = 0;        ///< callers allowed to wait for a slot; 0 rejects at once
    std::chrono::nanoseconds queue_timeout{std::chrono::seconds(1)};  ///< longest wait in the queue
  };

  struct ticket {
    bool holds = false;
  };

  /// Options from an integration's `bulkhead` section.
  static options options_from_config(const integration_config& c) {
    return options{c.bulkhead.max_concurrent, c.bulkhead.max_queue, c.bulkhead.queue_timeout};
  }

  bulkhead() : bulkhead(options{}) {}
  explicit bulkhead(options o) : s_(std::make_shared<state>(o)) {}

  const options& get_options() const noexcept { return s_->opts; }
  int in_flight() const noexcept { return s_->in_flight.load(std::memory_order_acquire); }
  int queued() const noexcept { return s_->queued.load(std::memory_order_acquire); }

  void describe(boost::json::object& out, time_point) const {
    out["bulkhead"] = {{"in_flight", in_flight()}, {"queued", queued()}, {"max_concurrent", s_->opts.max_concurrent}};
  }

  gate admit(attempt& a, ticket& t) noexcept {
    t.holds = false;
    if (s_->try_take()) {
      t.holds = true;
      return gate::proceed();
    }
    if (s_->opts.max_queue > 0) return gate::wait_until(a.started() + s_->opts.queue_timeout);
    return gate::reject(errc::bulkhead_full);
  }

  template <clock Clock>
  asio::awaitable<error> wait(attempt&, ticket& t, const gate& g, const Clock& clock, const asio::any_io_executor& ex) {
    state& s = *s_;
    auto timer = clock.make_timer(ex);
    timer.expires_at(g.until());
    waiter w;
    w.timer = &timer;
    w.cancel_timer = [](void* tm) { static_cast<typename Clock::timer*>(tm)->cancel(); };
    w.executor = ex;
    {
      std::lock_guard lock(s.mutex);
      s.queued.fetch_add(1, std::memory_order_seq_cst);
      if (s.try_take()) {
        s.queued.fetch_sub(1, std::memory_order_seq_cst);
        t.holds = true;
        co_return error{};
      }
      if (static_cast<int>(s.waiters.size()) >= s.opts.max_queue) {
        s.queued.fetch_sub(1, std::memory_order_seq_cst);
        co_return error{errc::bulkhead_full, "bulkhead queue is full"};
      }
      s.waiters.push_back(&w);
    }
    asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() == asio::cancellation_type::none) co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    bool granted;
    {
      std::lock_guard lock(s.mutex);
      granted = w.granted;
      if (!granted) {
        std::erase(s.waiters, &w);
        s.queued.fetch_sub(1, std::memory_order_seq_cst);
      }
    }
    if (!granted) {
      if (cs.cancelled() != asio::cancellation_type::none) co_return error{errc::cancelled};
      co_return error{errc::bulkhead_full, "timed out waiting in the bulkhead queue"};
    }
    // Granted: the waker posted timer.cancel() to our executor; let it run before the timer dies.
    // Even if the caller cancelled meanwhile, so co_await must not throw until then.
    const bool throws = co_await asio::this_coro::throw_if_cancelled();
    co_await asio::this_coro::throw_if_cancelled(false);
    while (!w.wake_ran) {
      timer.expires_at(time_point::max());
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_await asio::this_coro::throw_if_cancelled(throws);
    if (cs.cancelled() != asio::cancellation_type::none) {
      s.release();
      co_return error{errc::cancelled};
    }
    t.holds = true;
    co_return error{};
  }

  void complete(attempt&, ticket& t, const error*) noexcept {
    if (t.holds) s_->release();
    t.holds = false;
  }

 private:
  struct waiter {
    void* timer = nullptr;
    void (*cancel_timer)(void*) = nullptr;
    asio::any_io_executor executor;
    bool granted = false;  // guarded by the mutex
    bool wake_ran = false;  // written on the waiter's executor
  };

  struct state {
    explicit state(options o) : opts(o) {}

    bool try_take() noexcept {
      int cur = in_flight.load(std::memory_order_acquire);
      while (cur < opts.max_concurrent)
        if (in_flight.compare_exchange_weak(cur, cur + 1, std::memory_order_seq_cst)) return true;
      return false;
    }

    void release() noexcept {
      if (queued.load(std::memory_order_seq_cst) == 0) {
        in_flight.fetch_sub(1, std::memory_order_seq_cst);
        if (queued.load(std::memory_order_seq_cst) == 0) return;
        std::lock_guard lock(mutex);
        hand_over_locked();  // a waiter queued meanwhile: give it the slot we just freed
        return;
      }
      std::lock_guard lock(mutex);
      if (waiters.empty()) {
        in_flight.fetch_sub(1, std::memory_order_seq_cst);
        return;
      }
      wake_locked();  // transfer our slot directly
    }

    void hand_over_locked() noexcept {
      while (!waiters.empty() && try_take()) wake_locked();
    }

    void wake_locked() noexcept {
      waiter* w = waiters.front();
      waiters.pop_front();
      queued.fetch_sub(1, std::memory_order_seq_cst);
      w->granted = true;
      asio::post(w->executor, [w] {
        w->cancel_timer(w->timer);
        w->wake_ran = true;
      });
    }

    options opts;
    std::atomic<int> in_flight{0};
    std::atomic<int> queued{0};
    std::mutex mutex;
    std::deque<waiter*> waiters;
  };

  std::shared_ptr<state> s_;
};

}  // namespace intg
