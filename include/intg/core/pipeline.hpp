// intg::pipeline<P...>: a resilience stack as one static type. `execute(op)` runs the operation
// through the layers, first listed outermost ("sees the call first"). All layers run inside the
// single coroutine frame of execute(), around the operation's own frame.
//
// Layers before the retry layer act once per call, layers after it once per attempt. Layers
// outside the retry layer also see each attempt through on_attempt_start/on_attempt_end.
// The clock is read lazily: at most once when an attempt starts and once when it ends, and only
// when some layer asks (intg::attempt::started(), ended()); layers content with a coarse reading
// share attempt::approximate_start(). The per-call helpers are forced inline so that, with the
// layer bounds known, each layer costs a comparison and its own hook.
#pragma once

#include <boost/json/object.hpp>

#include <intg/core/attempt.hpp>
#include <intg/core/clock.hpp>
#include <intg/detail/inline.hpp>
#include <intg/detail/sleep.hpp>
#include <intg/core/integration_config.hpp>
#include <intg/policy/layer.hpp>
#include <intg/core/result.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>

namespace intg {

namespace detail {

template <class A>
struct awaitable_result {};
template <class T, class E>
struct awaitable_result<asio::awaitable<result<T>, E>> {
  using value_type = T;
};

template <class Op>
concept takes_attempt = requires(Op& op, attempt& a) { typename awaitable_result<decltype(op(a))>::value_type; };
template <class Op>
concept takes_nothing = requires(Op& op) { typename awaitable_result<decltype(op())>::value_type; };

// Not an operation: void, so that execute() reaches its static_asserts, which say what is wrong.
template <class Op>
struct operation_traits {
  using value_type = void;
};
template <class Op>
  requires takes_attempt<Op>
struct operation_traits<Op> {
  using value_type = typename awaitable_result<decltype(std::declval<Op&>()(std::declval<attempt&>()))>::value_type;
};
template <class Op>
  requires(!takes_attempt<Op> && takes_nothing<Op>)
struct operation_traits<Op> {
  using value_type = typename awaitable_result<decltype(std::declval<Op&>()())>::value_type;
};

template <class... P>
constexpr std::size_t retry_index() {
  constexpr std::array<bool, sizeof...(P) + 1> is_retry{retry_layer<P>..., false};
  for (std::size_t i = 0; i < sizeof...(P); ++i)
    if (is_retry[i]) return i;
  return sizeof...(P);
}

template <class... P>
constexpr std::size_t retry_count() {
  return (std::size_t{0} + ... + (retry_layer<P> ? 1 : 0));
}

inline asio::awaitable<error> no_wait() { co_return error{errc::invalid_argument, "layer asked to wait but has no wait()"}; }

}  // namespace detail

/// An operation a pipeline can run: a callable returning `asio::awaitable<intg::result<T>>`,
/// invocable as `op(intg::attempt&)` (preferred: it can bind the attempt's cancellation slot) or `op()`.
template <class Op>
concept operation = detail::takes_attempt<Op> || detail::takes_nothing<Op>;

template <clock Clock, policy... Policies>
class basic_pipeline {
  static_assert(detail::retry_count<Policies...>() <= 1, "a pipeline takes at most one retry layer");
  static constexpr std::size_t size = sizeof...(Policies);
  static constexpr std::size_t retry_at = detail::retry_index<Policies...>();
  static constexpr bool has_retry = retry_at < size;
  static constexpr std::array<bool, size + 1> is_fallback{fallback_layer<Policies>..., false};
  static constexpr bool any_fallback = (fallback_layer<Policies> || ...);

  using tickets = std::tuple<ticket_t<Policies>...>;

 public:
  using clock_type = Clock;

  /// Every policy with its default options, on a default-constructed clock.
  basic_pipeline() requires std::default_initializable<Clock> = default;

  /// Each policy's options, in the order of the stack.
  explicit basic_pipeline(typename Policies::options... opts)
    requires(size > 0 && std::default_initializable<Clock>)
      : layers_(Policies(std::move(opts))...) {}

  /// A clock (e.g. intg::manual_clock in tests); every policy with its default options.
  explicit basic_pipeline(Clock clock)
    requires(size > 0)
      : clock_(std::move(clock)) {}

  /// A clock (e.g. intg::manual_clock in tests) and each policy's options, in order.
  explicit basic_pipeline(Clock clock, typename Policies::options... opts)
      : layers_(Policies(std::move(opts))...), clock_(std::move(clock)) {}

  /// Each policy configured from an integration's configuration (policies without a section in
  /// it keep their defaults).
  explicit basic_pipeline(const integration_config& config)
    requires std::default_initializable<Clock>
      : layers_(Policies(options_from<Policies>(config))...) {}
  basic_pipeline(Clock clock, const integration_config& config)
      : layers_(Policies(options_from<Policies>(config))...), clock_(std::move(clock)) {}

  /// Layer I of the stack (copies of a pipeline share the layers' state).
  template <std::size_t I>
  auto& layer() noexcept { return std::get<I>(layers_); }
  template <class P>
  P& get() noexcept { return std::get<P>(layers_); }
  template <class P>
  const P& get() const noexcept { return std::get<P>(layers_); }
  const Clock& clock() const noexcept { return clock_; }

  /// The state of the layers that have one (breaker state, limiter level, bulkhead occupancy),
  /// as JSON for status reports: {"circuit_breaker": {...}, "rate_limiter": {...}, ...}.
  boost::json::object describe() const {
    boost::json::object out;
    const time_point now = clock_.now();
    std::apply([&](const auto&... l) { (describe_layer(l, out, now), ...); }, layers_);
    return out;
  }

  /// Runs `op` through the stack. Never throws for failures of the operation or rejections by a
  /// layer: they come back as the result's error. Exceptions other than boost::system::system_error
  /// thrown by the operation propagate.
  template <class Op>
  auto execute(Op op, call_options options = {})
      -> asio::awaitable<result<typename detail::operation_traits<Op>::value_type>> {
    // Checked here rather than as a constraint: a concept failure buries its cause in notes.
    static_assert(std::is_invocable_v<Op&, attempt&> || std::is_invocable_v<Op&>,
                  "intg::pipeline::execute: an operation is called as op(intg::attempt&) or op(); this one "
                  "accepts neither");
    static_assert(operation<Op>,
                  "intg::pipeline::execute: an operation returns asio::awaitable<intg::result<T>> (a coroutine "
                  "that co_returns a T or an intg::error); this one returns something else");
    // Frame size matters: Asio recycles coroutine frames only up to about 1 KB, so the rare paths
    // live in helper functions and coroutines, and locals are shared across phases.
    using T = typename detail::operation_traits<Op>::value_type;
    // Without a retry layer there is one attempt: every layer acts once, as an inner layer.
    constexpr std::size_t outer_end = has_retry ? retry_at : 0;
    constexpr std::size_t first_inner = has_retry ? retry_at + 1 : 0;
    attempt a{options};
    const asio::any_io_executor executor = co_await asio::this_coro::executor;
    a.bind_services(&clock_, &executor);
    a.bind_caller(co_await asio::this_coro::cancellation_state);
    tickets tk{};
    result<T> r{error{}};  // always set before it is read: by the operation, a rejection or a fallback
    error failure;
    gate g;
    std::uint32_t outer = 0;
    a.begin_call();

    // Layers outside the retry layer: once per call. A layer that asks to wait is rare: the loop
    // runs only then.
    if (a.caller_cancelled()) failure = errc::cancelled;
    else outer = admit_from(0, outer_end, a, tk, g);
    while (!failure && outer < outer_end && !(failure = rejection_at(outer, g))) {
      if ((failure = co_await wait_at(outer, a, tk, g))) break;
      a.restart_clock();
      outer = admit_from(outer + 1, outer_end, a, tk, g);
    }
    a.seal_call_deadline();
    if (!failure) admit_retry(a, tk, failure);

    for (int number = 1; !failure; ++number) {
      if (number > 1) a.begin_attempt(number);
      attempt_hooks<true>(outer, a, tk, nullptr);

      // Layers inside the retry layer (all of them when there is none): once per attempt.
      std::uint32_t inner = admit_from(first_inner, size, a, tk, g);
      while (inner < size && !(failure = rejection_at(inner, g))) {
        if ((failure = co_await wait_at(inner, a, tk, g))) break;
        a.restart_attempt_clock();
        inner = admit_from(inner + 1, size, a, tk, g);
      }

      if (!failure) {
        try {
          r = co_await invoke<T>(op, a);
        } catch (const boost::system::system_error& e) {
          r = error{e.code()};
        } catch (...) {
          // Not an error value: let every layer unwind (release slots, return probes) and rethrow.
          a.keep_exception(std::current_exception());
          r = error{errc::unavailable, "the operation threw an exception"};
        }
        a.end_attempt();
        if (!a.disarm()) co_await drain(a);
        a.detach_caller();
        settle(r, failure, a);
      } else {
        a.end_attempt_at_start();
      }

      if constexpr (any_fallback) {
        for (std::size_t i = inner; (i = unwind_to_fallback(i, first_inner, a, tk, failure)) != npos;) {
          r = co_await recover_at<T>(i, a, failure);
          failure = r ? error{} : r.error();
        }
      } else {
        complete_range(first_inner, inner, a, tk, failure);
      }
      attempt_hooks<false>(outer, a, tk, &failure);

      if constexpr (has_retry) {
        duration delay{};
        if (a.exception() || !plan_retry(a, tk, failure, delay)) break;
        failure = co_await detail::sleep_until(clock_, a.executor(), a.ended() + delay);
        a.reset_for_retry();
      } else {
        break;
      }
    }
    if (failure) r = failure;

    // Unwind the layers outside the retry layer, innermost first.
    if constexpr (any_fallback) {
      for (std::size_t i = outer; (i = unwind_to_fallback(i, 0, a, tk, failure)) != npos;) {
        r = co_await recover_at<T>(i, a, failure);
        failure = r ? error{} : r.error();
      }
    } else {
      complete_range(0, outer, a, tk, failure);
    }
    if (a.exception()) std::rethrow_exception(a.exception());
    co_return r;
  }

 private:
  template <class P>
  static typename P::options options_from(const integration_config& c) {
    if constexpr (requires { P::options_from_config(c); }) return P::options_from_config(c);
    else return typename P::options{};
  }

  template <class F>
  void visit(std::size_t i, F&& f) {  // rare paths only (waits, fallbacks): left to the compiler
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (void)((i == I ? (f(std::integral_constant<std::size_t, I>{}), true) : false) || ...);
    }(std::index_sequence_for<Policies...>{});
  }

  // Admits layers [first, end) until one does not simply proceed; returns its index (or end).
  // Unrolled at compile time: each layer costs a comparison, not a dispatch.
  INTG_ALWAYS_INLINE std::uint32_t admit_from(std::uint32_t first, std::size_t end, attempt& a, tickets& tk, gate& g) noexcept {
    g = gate::proceed();
    return admit_each(first, end, a, tk, g, std::index_sequence_for<Policies...>{});
  }
  template <std::size_t... I>
  INTG_ALWAYS_INLINE std::uint32_t admit_each(std::uint32_t first, std::size_t end, attempt& a, tickets& tk, gate& g,
                                              std::index_sequence<I...>) noexcept {
    std::uint32_t stopped = static_cast<std::uint32_t>(end);
    (void)((I < first || I >= end || admit_one<I>(a, tk, g) || (stopped = I, false)) && ...);
    return stopped;
  }

  // True when layer I proceeds (layers without admit always do).
  template <std::size_t I>
  INTG_ALWAYS_INLINE bool admit_one(attempt& a, tickets& tk, gate& g) noexcept {
    using P = std::tuple_element_t<I, std::tuple<Policies...>>;
    if constexpr (has_admit<P> && !retry_layer<P>) {
      g = std::get<I>(layers_).admit(a, std::get<I>(tk));
      return g.decision == gate::verdict::proceed;
    } else {
      return true;
    }
  }

  // complete() on layers [first, end), innermost first.
  INTG_ALWAYS_INLINE void complete_range(std::size_t first, std::size_t end, attempt& a, tickets& tk, const error& failure) noexcept {
    complete_each(first, end, a, tk, failure, std::index_sequence_for<Policies...>{});
  }
  template <std::size_t... I>
  INTG_ALWAYS_INLINE void complete_each(std::size_t first, std::size_t end, attempt& a, tickets& tk, const error& failure,
                                        std::index_sequence<I...>) noexcept {
    (complete_one<sizeof...(I) - 1 - I>(first, end, a, tk, failure), ...);
  }
  template <std::size_t I>
  INTG_ALWAYS_INLINE void complete_one(std::size_t first, std::size_t end, attempt& a, tickets& tk, const error& failure) noexcept {
    using P = std::tuple_element_t<I, std::tuple<Policies...>>;
    if constexpr (has_complete<P>)
      if (I >= first && I < end) std::get<I>(layers_).complete(a, std::get<I>(tk), failure ? &failure : nullptr);
  }

  // The error of layer i's rejecting gate (the layer's own rejection() when it has one, else
  // gate::to_error()); empty for a gate that asks to wait.
  INTG_ALWAYS_INLINE error rejection_at(std::size_t i, const gate& g) {
    if (g.decision != gate::verdict::reject) return error{};
    if constexpr ((has_rejection<Policies> || ...)) {
      error e = g.to_error();
      visit(i, [&](auto I) {
        using P = std::tuple_element_t<I, std::tuple<Policies...>>;
        if constexpr (has_rejection<P>) e = std::get<I>(layers_).rejection(g);
      });
      return e;
    } else {
      return g.to_error();
    }
  }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  // Completes layers [first, from) innermost first and stops at a fallback layer that handles the
  // failure: returns its index (the caller recovers, then goes on below it), or npos when done.
  std::size_t unwind_to_fallback(std::size_t from, std::size_t first, attempt& a, tickets& tk, const error& failure) noexcept {
    for (std::size_t i = from; i-- > first;) {
      if (is_fallback[i] && failure && fallback_handles_at(i, failure)) return i;
      complete_at(i, a, tk, failure);
    }
    return npos;
  }

  INTG_ALWAYS_INLINE void admit_retry(attempt& a, tickets& tk, error& failure) noexcept {
    if constexpr (has_retry) {
      using P = std::tuple_element_t<retry_at, std::tuple<Policies...>>;
      if constexpr (has_admit<P>) {
        const gate g = std::get<retry_at>(layers_).admit(a, std::get<retry_at>(tk));
        if (g.decision != gate::verdict::proceed) failure = g.to_error();
      }
    }
  }

  template <class T, class Op>
  asio::awaitable<result<T>> invoke(Op& op, attempt& a) {
    if constexpr (detail::takes_attempt<Op>) {
      return op(a);
    } else {
      if (a.has_deadline()) return spawned<T>(op(), a);
      return op();
    }
  }

  // An opaque awaitable can only be cancelled from outside by running it as a coroutine thread
  // of its own: the slower path, taken only for `op()` operations when a deadline is set.
  template <class T>
  static asio::awaitable<result<T>> spawned(asio::awaitable<result<T>> work, attempt& a) {
    static_assert(std::is_default_constructible_v<T> || std::is_void_v<T>,
                  "an op() operation under a deadline runs through co_spawn, which needs a default-constructible "
                  "result type: take intg::attempt& in the operation instead");
    auto [ep, v] = co_await asio::co_spawn(a.executor(), std::move(work),
                                           asio::bind_cancellation_slot(a.cancellation_slot(), asio::as_tuple(asio::use_awaitable)));
    if (ep) std::rethrow_exception(ep);
    co_return std::move(v);
  }

  template <class T>
  INTG_ALWAYS_INLINE static void settle(result<T>& r, error& failure, const attempt& a) {
    if (r) {
      // A result that arrived as the deadline fired is kept: turning it into a timeout would have
      // the retry layer send again a request that has taken effect.
      return;  // `failure` is empty: the operation runs only when nothing failed before it
    } else if (a.timed_out()) {
      // It overran its deadline (its own error may just be the cancellation); an unknown outcome
      // stays one, so that no retry resends a request that may have taken effect.
      if (r.error() != errc::outcome_unknown) r = error{errc::timeout};
    } else if (a.caller_cancelled() && r.error() != errc::outcome_unknown) {
      r = error{errc::cancelled};
    }
    failure = r.error();
  }

  // After a failed attempt: true to retry after `delay`; false ends the call (failure may change).
  INTG_ALWAYS_INLINE bool plan_retry(attempt& a, tickets& tk, error& failure, duration& delay) {
    if constexpr (has_retry) {
      if (!failure || a.caller_cancelled()) return false;
      retry_decision d = std::get<retry_at>(layers_).decide(a, std::get<retry_at>(tk), failure);
      if (d.give_up) {
        failure = std::move(d.give_up);
        return false;
      }
      delay = d.delay;
      if (d.retry && a.call_deadline() != time_point::max() && a.ended() + delay >= a.call_deadline()) {
        // A timeout outside the retry layer bounds the whole call: no retry can finish in time.
        failure = error{errc::timeout, "the call's deadline passes before the next retry"};
        return false;
      }
      return d.retry;
    } else {
      return false;
    }
  }

  void complete_at(std::size_t i, attempt& a, tickets& tk, const error& failure) noexcept {
    visit(i, [&](auto I) {
      using P = std::tuple_element_t<I, std::tuple<Policies...>>;
      if constexpr (has_complete<P>) std::get<I>(layers_).complete(a, std::get<I>(tk), failure ? &failure : nullptr);
    });
  }

  // on_attempt_start (Start) or on_attempt_end (innermost first) for the layers outside the
  // retry layer that were admitted ([0, outer)).
  template <bool Start>
  INTG_ALWAYS_INLINE void attempt_hooks(std::size_t outer, attempt& a, tickets& tk, const error* failure) noexcept {
    attempt_hooks_each<Start>(outer, a, tk, failure, std::index_sequence_for<Policies...>{});
  }
  template <bool Start, std::size_t... I>
  INTG_ALWAYS_INLINE void attempt_hooks_each(std::size_t outer, attempt& a, tickets& tk, const error* failure,
                                             std::index_sequence<I...>) noexcept {
    if constexpr (Start) (attempt_hook<I, true>(outer, a, tk, failure), ...);
    else (attempt_hook<sizeof...(I) - 1 - I, false>(outer, a, tk, failure), ...);
  }
  template <std::size_t I, bool Start>
  INTG_ALWAYS_INLINE void attempt_hook(std::size_t outer, attempt& a, tickets& tk, const error* failure) noexcept {
    using P = std::tuple_element_t<I, std::tuple<Policies...>>;
    if constexpr (has_attempt_hooks<P>) {
      if (I >= outer) return;
      if constexpr (Start) std::get<I>(layers_).on_attempt_start(a, std::get<I>(tk));
      else std::get<I>(layers_).on_attempt_end(a, std::get<I>(tk), *failure ? failure : nullptr);
    }
  }

  asio::awaitable<error> wait_at(std::size_t i, attempt& a, tickets& tk, const gate& g) {
    asio::awaitable<error> w;
    bool found = false;
    visit(i, [&](auto I) {
      using P = std::tuple_element_t<I, std::tuple<Policies...>>;
      if constexpr (requires(P& p) { p.wait(a, std::get<I>(tk), g, clock_, a.executor()); }) {
        w = std::get<I>(layers_).wait(a, std::get<I>(tk), g, clock_, a.executor());
        found = true;
      }
    });
    return found ? std::move(w) : detail::no_wait();
  }

  bool fallback_handles_at(std::size_t i, const error& e) noexcept {
    bool h = false;
    visit(i, [&](auto I) {
      using P = std::tuple_element_t<I, std::tuple<Policies...>>;
      if constexpr (fallback_layer<P>) h = std::get<I>(layers_).handles(e);
    });
    return h;
  }

  template <class T>
  asio::awaitable<result<T>> recover_at(std::size_t i, attempt& a, const error& e) {
    asio::awaitable<result<T>> w;
    visit(i, [&](auto I) {
      using P = std::tuple_element_t<I, std::tuple<Policies...>>;
      if constexpr (fallback_layer<P>) w = std::get<I>(layers_).template recover<T>(a, e);
    });
    return w;
  }

  // A deadline emission is still queued on our executor: let it run before the attempt goes away.
  static asio::awaitable<void> drain(attempt& a) {
    const bool throws = co_await asio::this_coro::throw_if_cancelled();
    co_await asio::this_coro::throw_if_cancelled(false);
    while (a.emissions_pending()) co_await asio::post(a.executor(), asio::use_awaitable);
    co_await asio::this_coro::throw_if_cancelled(throws);
  }

  std::tuple<Policies...> layers_{};
  template <class L>
  static void describe_layer(const L& l, boost::json::object& out, time_point now) {
    if constexpr (requires { l.describe(out, now); }) l.describe(out, now);
  }

  Clock clock_{};
};

/// A policy stack on the real clock: `intg::pipeline<intg::retry<>, intg::timeout<>>`.
template <policy... Policies>
using pipeline = basic_pipeline<steady_clock, Policies...>;

}  // namespace intg
