// intg::fallback: what a call returns when everything inside it failed: a value, or an operation
// (a cache read, a degraded answer) run in place of the failed call.
#pragma once

#include <intg/policy/layer.hpp>
#include <intg/core/result.hpp>

#include <boost/asio/awaitable.hpp>

#include <type_traits>
#include <utility>

namespace intg {

/// Any error is handled by default; local rejections included (that is the point of a fallback).
inline bool fallback_on_any_error(const error&) noexcept { return true; }

/// The handler of `fallback<>`: none. `fallback<>` passes failures through unchanged until it is
/// given a handler type, e.g. `fallback<fallback_value<int>>` or `fallback<decltype(lambda)>`.
struct no_fallback {};

/// A handler that answers every handled failure with a fixed value.
template <class T>
struct fallback_value {
  T value{};
  T operator()(const error&) const { return value; }
};

namespace detail {
template <class X>
struct is_awaitable : std::false_type {};
template <class X, class E>
struct is_awaitable<asio::awaitable<X, E>> : std::true_type {};
}  // namespace detail

/// Handler: invocable with `(const intg::error&)` and returning a value convertible to T,
/// `intg::result<T>`, or `asio::awaitable<intg::result<T>>` (an operation run in place of the call).
template <class Handler = no_fallback>
class fallback {
 public:
  struct options {
    Handler handler{};
    bool (*handles)(const error&) = &fallback_on_any_error;
  };

  fallback() = default;
  explicit fallback(options o) : opts_(std::move(o)) {}

  bool handles(const error& e) const noexcept {
    if constexpr (std::is_same_v<Handler, no_fallback>) return false;
    else return opts_.handles(e);
  }

  template <class T>
  asio::awaitable<result<T>> recover(attempt&, error e) const {
    if constexpr (std::is_same_v<Handler, no_fallback>) {
      co_return std::move(e);
    } else {
      using R = std::invoke_result_t<const Handler&, const error&>;
      if constexpr (detail::is_awaitable<R>::value) {
        result<T> r = co_await opts_.handler(e);
        co_return r;
      } else {
        co_return result<T>(opts_.handler(e));
      }
    }
  }

 private:
  options opts_{};
};

}  // namespace intg
