// The protocol between intg::basic_pipeline and its policies (layers). A pipeline runs all its
// layers inside one coroutine frame: layers are plain objects with synchronous hooks, and only the
// rare paths (backoff sleeps, limiter and queue waits, fallbacks) await in a coroutine of their own.
//
// | member (all optional but `options`)          | called                                               |
// |----------------------------------------------|------------------------------------------------------|
// | `using ticket = T;`                          | per-call scratch the pipeline keeps for the layer     |
// | `gate admit(attempt&, ticket&)`              | before the inner part runs (once per call outside     |
// |                                              | the retry layer, once per attempt inside it)          |
// | `awaitable<error> wait(attempt&, ticket&,    | when admit() answered gate::wait; an empty error      |
// |   const gate&, const Clock&, executor)`      | means "admitted after waiting"                        |
// | `void complete(attempt&, ticket&, const error*)` | after the inner part finished (nullptr = success)  |
// | `void on_attempt_start(attempt&, ticket&)`   | each attempt, for layers outside the retry layer      |
// | `void on_attempt_end(attempt&, ticket&, const error*)` | likewise, after each attempt                 |
// | `retry_decision decide(attempt&, ticket&, const error&)` | makes the layer the pipeline's retry point |
// | `bool handles(const error&)` + `recover<T>(attempt&, const error&)` | makes it a fallback layer       |
// | `error rejection(const gate&) const`         | the error a rejection by admit() surfaces as          |
// |                                              | (default: gate::to_error()); must not allocate        |
#pragma once

#include <intg/core/attempt.hpp>
#include <intg/core/clock.hpp>
#include <intg/core/error.hpp>

#include <concepts>
#include <cstdint>

namespace intg {

/// A layer's answer to admit(). 16 bytes: it lives in the pipeline's coroutine frame.
struct gate {
  enum class verdict : std::uint8_t { proceed, reject, wait };
  verdict decision = verdict::proceed;
  errc reason{};           ///< reject: why
  std::int64_t ticks = 0;  ///< wait: the time point to wait until; reject: the retry-after hint

  static gate proceed() noexcept { return {}; }
  static gate reject(errc why, duration hint = {}) noexcept { return {verdict::reject, why, hint.count()}; }
  static gate wait_until(time_point tp) noexcept { return {verdict::wait, {}, tp.time_since_epoch().count()}; }

  /// wait: until when (or the latest time to wait, for queues).
  time_point until() const noexcept { return time_point(duration(ticks)); }
  /// reject: when it may be worth trying again.
  duration retry_after() const noexcept { return duration(ticks); }

  /// The error a rejection surfaces as.
  error to_error() const {
    error e{reason};
    if (ticks > 0) e.with_retry_after(std::chrono::ceil<std::chrono::milliseconds>(retry_after()));
    return e;
  }
};

/// A retry layer's decision after a failed attempt.
struct retry_decision {
  bool retry = false;
  duration delay{};
  error give_up{};  ///< when set, the call ends with this instead of the attempt's error
};

/// Ticket type of layers that need no per-call scratch.
struct no_ticket {};

namespace detail {
template <class P>
struct ticket_of {
  using type = no_ticket;
};
template <class P>
  requires requires { typename P::ticket; }
struct ticket_of<P> {
  using type = typename P::ticket;
};
}  // namespace detail

template <class P>
using ticket_t = typename detail::ticket_of<P>::type;

template <class P>
concept has_admit = requires(P& p, attempt& a, ticket_t<P>& t) {
  { p.admit(a, t) } -> std::same_as<gate>;
};
template <class P>
concept has_complete = requires(P& p, attempt& a, ticket_t<P>& t, const error* e) { p.complete(a, t, e); };
template <class P>
concept has_attempt_hooks = requires(P& p, attempt& a, ticket_t<P>& t, const error* e) {
  p.on_attempt_start(a, t);
  p.on_attempt_end(a, t, e);
};
template <class P>
concept has_rejection = requires(const P& p, const gate& g) {
  { p.rejection(g) } -> std::same_as<error>;
};
template <class P>
concept retry_layer = requires(P& p, attempt& a, ticket_t<P>& t, const error& e) {
  { p.decide(a, t, e) } -> std::same_as<retry_decision>;
};
template <class P>
concept fallback_layer = requires(const P& p, const error& e) {
  { p.handles(e) } -> std::convertible_to<bool>;
};

/// A type usable as a layer of intg::pipeline: it has an `options` aggregate, is constructible
/// from it and by default, and takes part in at least one hook of the protocol above.
template <class P>
concept policy = requires { typename P::options; } && std::default_initializable<P> &&
                 std::constructible_from<P, typename P::options> && std::copy_constructible<P> &&
                 (has_admit<P> || has_complete<P> || retry_layer<P> || fallback_layer<P> || has_attempt_hooks<P>);

}  // namespace intg
