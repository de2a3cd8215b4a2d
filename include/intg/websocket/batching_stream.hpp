// intg::websocket::detail::batching_stream: the stream layer under Beast's WebSocket stream that
// lets a connection put several messages on the wire with one system call. Beast writes each
// message (and each pong, ping and close frame) with writes of its own; on a busy connection
// those system calls were half of the CPU time. Here the connection's writer corks the layer, has
// Beast write every message queued at that moment with Beast's synchronous write (the layer only
// copies the frame into its buffer: no system call, no suspension), and flushes: one write for
// the batch.
//
// Rules that keep it correct:
// - Uncorked and idle, a write goes straight through, uncopied (the opening handshake, a pong or
//   a close frame on a quiet connection, a large message). Beast has one asynchronous write at a
//   time, but the writer's synchronous writes do not wait for Beast's: while such a write is in
//   flight they are buffered, and go out when it ends.
// - Otherwise a write is buffered, so frames stay whole and in order whoever writes them (Beast's
//   pongs while the writer is corked go out with the batch). Synchronous writes and writes of at
//   most control_bytes (every control frame) are buffered whole; only a larger asynchronous write
//   may be taken in parts, and it is the writer's own, which writes nothing else meanwhile.
// - About batch_bytes are buffered at most: a large write that finds the buffer full starts a
//   flush even when corked and waits for room, so memory is bounded whatever the message size.
// - A failed flush fails every later write and flush with its error (the stream is broken).
// - A flush in flight keeps the layer's owner alive (keep_owner_alive), since Beast believes the
//   buffered writes done and its stream may otherwise be released under the write.
// - Teardown (after the closing handshake) flushes first, then, over TCP, reads what the peer
//   still sends until it closes (bounded by the drain timeout) before closing the socket.
#pragma once

#include <intg/detail/inline_handler.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/detail/throw_error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <boost/system/error_code.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace intg::websocket::detail {

template <class Next>
class batching_stream {
 public:
  using next_layer_type = Next;
  using executor_type = typename Next::executor_type;
  using error_code = boost::system::error_code;

  /// What a batch buffers before it is written (control frames and synchronous writes may add to it).
  static constexpr std::size_t batch_bytes = 64 * 1024;
  /// Writes up to this size are never taken in parts (a control frame is at most 135 bytes).
  static constexpr std::size_t control_bytes = 256;

  template <class... Args>
  explicit batching_stream(Args&&... args) : next_(std::forward<Args>(args)...) {}
  batching_stream(const batching_stream&) = delete;
  batching_stream& operator=(const batching_stream&) = delete;

  executor_type get_executor() noexcept { return next_.get_executor(); }
  Next& next_layer() noexcept { return next_; }
  const Next& next_layer() const noexcept { return next_; }

  /// How long the teardown after a closing handshake waits for the peer to close TCP.
  void drain_timeout(std::chrono::steady_clock::duration d) noexcept { drain_timeout_ = d; }

  /// Whoever must outlive a write in flight (the connection).
  void keep_owner_alive(std::weak_ptr<void> owner) noexcept { owner_ = std::move(owner); }

  /// From now on writes are buffered until flush (or until the buffer is full).
  void cork() noexcept { corked_ = true; }
  /// Writes what is buffered, without waiting for it.
  void uncork() {
    corked_ = false;
    if (!busy() && !pending_.empty() && !error_) start_flush();
  }
  /// Bytes buffered, not yet handed to a write.
  std::size_t buffered() const noexcept { return pending_.size(); }
  /// Nothing buffered and no write in flight.
  bool idle() const noexcept { return !busy() && pending_.empty(); }

  /// Uncorks and completes, with `void(error_code)`, once everything buffered is written (or a
  /// write failed: its error).
  template <class Token>
  auto async_flush(Token&& token) {
    return boost::asio::async_compose<Token, void(error_code)>(flush_op{this}, token, get_executor());
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return next_.async_read_some(buffers, std::forward<Token>(token));
  }

  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers, error_code& ec) {
    return next_.read_some(buffers, ec);
  }
  template <class MutableBuffers>
  std::size_t read_some(const MutableBuffers& buffers) {
    return next_.read_some(buffers);
  }

  /// Corked (or while a flush is in flight): appends all of `buffers`, no system call. Uncorked and
  /// idle: a blocking write to the next layer.
  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers, error_code& ec) {
    if (error_) {
      ec = error_;
      return 0;
    }
    if (!corked_ && idle()) {
      const std::size_t n = next_.write_some(buffers, ec);
      if (ec) error_ = ec;
      return n;
    }
    ec = {};
    return append(buffers, boost::asio::buffer_size(buffers));
  }
  template <class ConstBuffers>
  std::size_t write_some(const ConstBuffers& buffers) {
    error_code ec;
    const std::size_t n = write_some(buffers, ec);
    if (ec) boost::asio::detail::throw_error(ec, "write_some");
    return n;
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(write_op<ConstBuffers>{this, buffers}, token,
                                                                             get_executor());
  }

 private:
  using resumption = intg::detail::inline_handler<void()>;

  template <class ConstBuffers>
  struct write_op {
    batching_stream* s;
    ConstBuffers buffers;
    bool started = false;

    // Started, or resumed after waiting for room.
    template <class Self>
    void operator()(Self& self) {
      const bool resumed = std::exchange(started, true);
      batching_stream& st = *s;
      const auto done = [&](error_code ec, std::size_t n) {
        if (resumed) {
          self.complete(ec, n);
        } else {  // never inside the initiating call
          boost::asio::post(st.get_executor(), boost::asio::append(std::move(self), ec, n));
        }
      };
      if (st.error_) return done(st.error_, 0);
      const std::size_t size = boost::asio::buffer_size(buffers);
      if (size == 0) return done({}, 0);
      if (!st.corked_ && st.idle()) {  // straight through, no copy
        st.direct_ = true;
        return st.next_.async_write_some(buffers, std::move(self));
      }
      const std::size_t room = batch_bytes - std::min(batch_bytes, st.pending_.size());
      if (size > control_bytes && room == 0) {  // full: wait for the write in flight to take it
        if (!st.busy()) st.start_flush();
        st.parked_ = resumption(std::move(self));
        return;
      }
      const std::size_t n = st.append(buffers, size > control_bytes ? std::min(size, room) : size);
      if (!st.busy() && (!st.corked_ || st.pending_.size() >= batch_bytes)) st.start_flush();
      done({}, n);
    }
    // A write that went straight through. (The writer's synchronous writes meanwhile were buffered.)
    template <class Self>
    void operator()(Self& self, error_code ec, std::size_t n) {
      s->direct_ = false;
      s->settle(ec);
      self.complete(ec, n);
    }
  };

  struct flush_op {
    batching_stream* s;
    bool started = false;

    template <class Self>
    void operator()(Self& self) {
      batching_stream& st = *s;
      if (!std::exchange(started, true)) {
        st.uncork();
        if (!st.busy()) {
          boost::asio::post(st.get_executor(), std::move(self));  // never inside the initiating call
          return;
        }
      }
      st.uncork();  // what was buffered since this waiter was woken
      if (st.busy()) {
        st.flush_waiters_.emplace_back(std::move(self));
        return;
      }
      self.complete(st.error_);
    }
  };

  template <class ConstBuffers>
  std::size_t append(const ConstBuffers& buffers, std::size_t n) {
    const std::size_t at = pending_.size();
    pending_.resize(at + n);
    return boost::asio::buffer_copy(boost::asio::buffer(pending_.data() + at, n), buffers);
  }

  void start_flush() {
    flushing_ = true;
    writing_.swap(pending_);
    boost::asio::async_write(next_, boost::asio::buffer(writing_),
                             [this, keep = owner_.lock()](error_code ec, std::size_t) { flushed(ec); });
  }

  // A write below may be in flight: the layer's own flush, or a write that went straight through.
  // Beast has one asynchronous write at a time, but the writer's synchronous writes come
  // regardless: they are buffered while either is in flight.
  bool busy() const noexcept { return flushing_ || direct_; }

  void flushed(error_code ec) {
    writing_.clear();
    flushing_ = false;
    settle(ec);
  }

  // The write in flight ended: what was buffered meanwhile goes next (unless corked and not
  // full), a write waiting for room is resumed, and flush waiters are woken once all is written.
  void settle(error_code ec) {
    if (ec && !error_) error_ = ec;
    if (error_) pending_.clear();  // never to be written: writers and waiters learn the error
    if (!pending_.empty() && (!corked_ || pending_.size() >= batch_bytes || parked_)) start_flush();
    if (parked_) boost::asio::post(get_executor(), std::move(parked_));
    if (!busy()) {
      for (auto& w : flush_waiters_) boost::asio::post(get_executor(), std::move(w));
      flush_waiters_.clear();
    }
  }

  template <class N>
  friend struct teardown_op;
  template <class N>
  friend void teardown(boost::beast::role_type role, batching_stream<N>& s, boost::system::error_code& ec);

  Next next_;
  std::vector<char> pending_;  // buffered, not yet handed to a write
  std::vector<char> writing_;  // under the write in flight
  bool corked_ = false;
  bool flushing_ = false;
  bool direct_ = false;  // a write straight through is in flight
  error_code error_;
  resumption parked_;  // a write waiting for room (Beast has one write at a time)
  std::vector<resumption> flush_waiters_;
  std::weak_ptr<void> owner_;
  std::chrono::steady_clock::duration drain_timeout_ = std::chrono::seconds(10);
};

template <class Next>
struct teardown_op {
  batching_stream<Next>* s;
  boost::beast::role_type role;
  int step = 0;
  std::unique_ptr<char[]> scratch{};  // what the peer still sends is read into it and dropped
  static constexpr std::size_t scratch_bytes = 16 * 1024;

  template <class Self>
  void operator()(Self& self, boost::system::error_code ec = {}, std::size_t = 0) {
    using boost::beast::role_type;
    constexpr bool tcp = std::is_same_v<Next, boost::beast::tcp_stream>;
    switch (step) {
      case 0:
        step = 1;
        return s->async_flush(std::move(self));
      case 1:
        if constexpr (!tcp) {  // TLS: Beast's teardown (close_notify both ways)
          step = 3;
          using boost::beast::websocket::async_teardown;
          return async_teardown(role, s->next_layer(), std::move(self));
        } else {
          // RFC 6455 section 7.1.1: the server closes TCP first, the client after the server. Either
          // reads what the peer still sends until it closes, so that no data is left unread (the
          // kernel would answer it with a reset, which can destroy the close frame before the peer
          // reads it), for at most the drain timeout.
          boost::system::error_code ignored;
          auto& tcp_stream = s->next_layer();
          if (role == role_type::server) tcp_stream.socket().shutdown(boost::asio::socket_base::shutdown_send, ignored);
          scratch.reset(new char[scratch_bytes]);
          tcp_stream.expires_after(s->drain_timeout_);
          step = 2;
          return tcp_stream.async_read_some(boost::asio::buffer(scratch.get(), scratch_bytes), std::move(self));
        }
      case 2:
        if constexpr (tcp) {
          auto& tcp_stream = s->next_layer();
          if (!ec) return tcp_stream.async_read_some(boost::asio::buffer(scratch.get(), scratch_bytes), std::move(self));
          if (ec == boost::asio::error::eof) ec = {};
          boost::system::error_code ignored;
          if (role == role_type::client) tcp_stream.socket().shutdown(boost::asio::socket_base::shutdown_send, ignored);
          tcp_stream.expires_never();
          tcp_stream.socket().close(ignored);
        }
        [[fallthrough]];
      default:
        self.complete(ec);
    }
  }
};

// Beast's closing handshake ends with a teardown of the layer under the WebSocket stream: what is
// buffered (the close frame itself, often) goes out first. Over TCP the teardown is this layer's
// own: Beast 1.81's stops reading after the first read (websocket/impl/teardown.hpp tests a
// bytes_transferred that read_some never sets) and closes with data unread.
template <class Next, class Handler>
auto async_teardown(boost::beast::role_type role, batching_stream<Next>& s, Handler&& handler) {
  return boost::asio::async_compose<Handler, void(boost::system::error_code)>(teardown_op<Next>{&s, role}, handler, s.get_executor());
}

// The synchronous teardown (Beast's synchronous close): what is buffered is written first.
template <class Next>
void teardown(boost::beast::role_type role, batching_stream<Next>& s, boost::system::error_code& ec) {
  if (!s.busy() && !s.pending_.empty() && !s.error_) {
    boost::asio::write(s.next_, boost::asio::buffer(s.pending_), ec);
    s.pending_.clear();
    if (ec) return;
  }
  using boost::beast::websocket::teardown;
  teardown(role, s.next_layer(), ec);
}

}  // namespace intg::websocket::detail
