// Helpers shared by intg's tests: run coroutines on an io_context driven step by step.
#pragma once

#include <intg/intg.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

namespace test {

namespace asio = boost::asio;

/// Starts `aw` on `io` and returns where its result will appear; io.poll() drives it.
template <class T>
std::shared_ptr<std::optional<T>> start(asio::io_context& io, asio::awaitable<T> aw) {
  auto out = std::make_shared<std::optional<T>>();
  asio::co_spawn(io, std::move(aw), [out](std::exception_ptr e, T v) {
    if (e) std::rethrow_exception(e);
    *out = std::move(v);
  });
  return out;
}

/// Runs `aw` to completion on a fresh io_context and returns its result.
template <class T>
T run(asio::awaitable<T> aw) {
  asio::io_context io;
  auto out = start(io, std::move(aw));
  io.run();
  return std::move(**out);
}

/// Runs `aw` to completion on `io` (which must be the context the objects under test use).
inline void run(asio::io_context& io, asio::awaitable<void> aw) {
  bool done = false;
  asio::co_spawn(io, std::move(aw), [&](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
    done = true;
  });
  io.restart();
  io.run();
  if (!done) throw std::runtime_error("coroutine did not finish");
}

inline void run(asio::awaitable<void> aw) {
  asio::io_context io;
  run(io, std::move(aw));
}

/// An operation that returns the given results in turn (the last one repeats) and counts calls.
struct scripted_op {
  std::shared_ptr<std::vector<intg::result<int>>> script = std::make_shared<std::vector<intg::result<int>>>();
  std::shared_ptr<int> calls = std::make_shared<int>(0);

  asio::awaitable<intg::result<int>> operator()(intg::attempt&) const {
    const std::size_t i = static_cast<std::size_t>((*calls)++);
    co_return (*script)[std::min(i, script->size() - 1)];
  }
};

inline scripted_op script(std::initializer_list<intg::result<int>> results) {
  scripted_op op;
  *op.script = results;
  return op;
}

}  // namespace test
