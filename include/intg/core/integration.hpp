// The `intg::integration` concept: what a type must provide to live in an intg::registry.
#pragma once

#include <intg/core/health.hpp>
#include <intg/core/result.hpp>

#include <boost/asio/awaitable.hpp>

#include <concepts>
#include <string_view>

namespace intg {

/// An integration (the named requirement `Integration`):
///
/// | expression          | type                                  | meaning                              |
/// |---------------------|---------------------------------------|--------------------------------------|
/// | `t.name()`          | convertible to `std::string_view`     | its configured name                  |
/// | `t.initialize()`    | `asio::awaitable<intg::result<void>>` | connect, authenticate, warm up       |
/// | `t.health_check()`  | `asio::awaitable<intg::health_report>`| a cheap probe of the dependency      |
/// | `t.cleanup()`       | `asio::awaitable<void>`               | release connections and resources    |
template <class T>
concept integration = requires(T& t, const T& ct) {
  { ct.name() } -> std::convertible_to<std::string_view>;
  { t.initialize() } -> std::same_as<boost::asio::awaitable<result<void>>>;
  { t.health_check() } -> std::same_as<boost::asio::awaitable<health_report>>;
  { t.cleanup() } -> std::same_as<boost::asio::awaitable<void>>;
};

}  // namespace intg
