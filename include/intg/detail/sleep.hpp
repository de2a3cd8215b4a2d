// Waiting on a clock from inside a pipeline, on the slow paths (backoff, limiter waits). The
// caller's cancellation ends the wait at once with errc::cancelled.
#pragma once

#include <intg/core/clock.hpp>
#include <intg/core/error.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace intg::detail {

/// True when the calling coroutine's caller has asked for cancellation.
inline asio::awaitable<bool> caller_cancelled() {
  asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
  co_return cs.cancelled() != asio::cancellation_type::none;
}

template <clock Clock>
asio::awaitable<error> sleep_until(const Clock& clock, const asio::any_io_executor& ex, time_point tp) {
  asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
  if (cs.cancelled() != asio::cancellation_type::none) co_return error{errc::cancelled};
  if (tp <= clock.now()) co_return error{};
  auto timer = clock.make_timer(ex);
  timer.expires_at(tp);
  auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (ec || cs.cancelled() != asio::cancellation_type::none) co_return error{errc::cancelled};
  co_return error{};
}

}  // namespace intg::detail
