// intg::websocket::connection: one open WebSocket connection, client or server side, plain or
// TLS. What both ends share lives here once: the bounded send queue drained by one writer, the
// bounded receive queue filled by one reader (which also answers pings and sees pongs), the
// heartbeat that tells a dead peer, the message size limit, and the close handshake.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/detail/inline_handler.hpp>
#include <intg/websocket/batching_stream.hpp>
#include <intg/websocket/options.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <iterator>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace intg::websocket {

namespace asio = boost::asio;
namespace beast = boost::beast;

// Under Beast's WebSocket stream, a layer that lets the writer batch messages (batching_stream.hpp).
using plain_stream = beast::websocket::stream<detail::batching_stream<beast::tcp_stream>>;
using tls_stream = beast::websocket::stream<detail::batching_stream<beast::ssl_stream<beast::tcp_stream>>>;

namespace detail {
/// The TLS stream under a tls_stream's batching layer (for its handshake and native handle).
inline beast::ssl_stream<beast::tcp_stream>& tls_layer(tls_stream& ws) noexcept { return ws.next_layer().next_layer(); }
}  // namespace detail

/// Counters of one connection.
struct connection_stats {
  std::uint64_t messages_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t send_queue_full = 0;  ///< sends refused because the queue stayed full
  std::uint64_t dropped = 0;          ///< queued messages never written (the connection ended first)
  std::size_t queued_messages = 0;    ///< in the send queue now
  std::size_t queued_bytes = 0;
};

namespace detail {

/// Wakes every coroutine waiting on it (single-threaded, like the connection). A waiter without a
/// deadline costs no timer and no allocation: its handler waits here (inline) until notify_all()
/// posts it. (A timer per wait, even one that never expires, made the reactor reprogram its
/// timerfd and poll once per message: three system calls per echoed message where one, the
/// write, is needed.) A waiter with a deadline has a timer of its own, so waiters with different
/// deadlines never disturb each other.
class wakeup {
 public:
  using time_point = asio::steady_timer::time_point;
  explicit wakeup(const asio::any_io_executor& ex) : ex_(ex) {}
  wakeup(const wakeup&) = delete;
  wakeup& operator=(const wakeup&) = delete;
  ~wakeup() { notify_all(); }

  /// Until notify_all(), or the waiter's own cancellation; the caller checks its condition again.
  /// `co_await w.wait()` in an asio::awaitable (an async operation: no coroutine frame of its own).
  auto wait() { return asio::async_initiate<const asio::deferred_t&, void()>(initiate{this}, asio::deferred); }
  /// Until notify_all() or `deadline`, whichever comes first.
  asio::awaitable<void> wait(time_point deadline) {
    asio::steady_timer t(ex_, deadline);
    const auto it = timed_.insert(timed_.end(), &t);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    timed_.erase(it);
  }
  void notify_all() {
    ready_.swap(waiting_);  // a waiter resumed later may wait again: on waiting_, not on ready_
    for (auto& w : ready_) asio::post(ex_, std::move(w.handler));
    ready_.clear();
    for (auto* t : timed_) t->cancel();
  }
  /// Like notify_all(), but a waiter without a deadline runs at once, inside this call, when the
  /// caller is on the executor's thread (asio::dispatch): the reader hands a message to the
  /// application this way, without a trip through the executor's queue (each such trip also cost
  /// the reactor a poll). The caller must expect the waiters to act before it goes on.
  void resume_all() {
    boost::container::small_vector<waiter, 4> ready(std::make_move_iterator(waiting_.begin()), std::make_move_iterator(waiting_.end()));
    waiting_.clear();  // a waiter may wait again, or resume others, from inside the loop below
    for (auto& w : ready) asio::dispatch(ex_, std::move(w.handler));
    for (auto* t : timed_) t->cancel();
  }

 private:
  using stored = intg::detail::inline_handler<void()>;
  struct waiter {
    stored handler;
    std::uint64_t id;
  };
  struct initiate {
    wakeup* self;
    template <class Handler>
    void operator()(Handler&& h) const {
      self->add(stored(std::forward<Handler>(h)));
    }
  };
  // Cancelling a waiter (any type) wakes it alone. It stays in the waiter's slot until the
  // waiter resumes; by then its id is no longer waiting.
  struct cancel_wait {
    cancel_wait(wakeup* w, std::uint64_t i) noexcept : self(w), id(i) {}  // (clang has no parenthesized aggregate init)
    wakeup* self;
    std::uint64_t id;
    void operator()(asio::cancellation_type type) const {
      if (type == asio::cancellation_type::none) return;
      wakeup* const w = self;
      const auto it = std::find_if(w->waiting_.begin(), w->waiting_.end(), [i = id](const waiter& x) { return x.id == i; });
      if (it == w->waiting_.end()) return;
      asio::post(w->ex_, std::move(it->handler));
      w->waiting_.erase(it);
    }
  };
  void add(stored h) {
    const auto id = ++next_id_;
    if (auto cs = h.get_cancellation_slot(); cs.is_connected()) cs.template emplace<cancel_wait>(this, id);
    waiting_.push_back(waiter{std::move(h), id});
  }

  asio::any_io_executor ex_;
  std::vector<waiter> waiting_, ready_;
  std::uint64_t next_id_ = 0;
  std::list<asio::steady_timer*> timed_;
};

/// Puts `o` on a Beast stream: size limit, heartbeat, handshake timeouts, permessage-deflate.
template <class WebSocketStream>
void apply_options(WebSocketStream& ws, const connection_options& o) {
  namespace bws = beast::websocket;
  ws.read_message_max(o.max_message_size);
  bws::stream_base::timeout t{};
  t.handshake_timeout = o.handshake_timeout;
  // The heartbeat is the connection's own (connection::heartbeat): Beast's re-arms a timer on every
  // read, which cost a timerfd update and a cancelled wait per message.
  t.idle_timeout = bws::stream_base::none();
  t.keep_alive_pings = false;
  ws.set_option(t);
  bws::permessage_deflate pmd;
  pmd.client_enable = o.permessage_deflate;
  pmd.server_enable = o.permessage_deflate;
  ws.set_option(pmd);
  // One frame per message: Beast would otherwise cut every message into 4 KiB frames, a header
  // and a write each. A client masks what it sends through a buffer of write_buffer_bytes, so a
  // larger one means fewer, larger writes (measured: 16 KiB messages 2.5 times faster).
  ws.auto_fragment(false);
  ws.write_buffer_bytes(16 * 1024);
  // The WebSocket stream times its own handshakes and heartbeat; the TCP stream's must not fire.
  beast::get_lowest_layer(ws).expires_never();
  ws.next_layer().drain_timeout(o.handshake_timeout);
}

}  // namespace detail

/// One WebSocket connection after its opening handshake. Made by websocket::client and
/// websocket::server; used from one thread (or strand), like an Asio object. The application
/// sends with send() / try_send(), receives with receive(), and ends it with close().
class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(std::unique_ptr<plain_stream> ws, connection_options o, std::string peer)
      : plain_(std::move(ws)), ex_(plain_->get_executor()), opts_(std::move(o)), peer_(std::move(peer)) {}
  connection(std::unique_ptr<tls_stream> ws, connection_options o, std::string peer)
      : tls_(std::move(ws)), ex_(tls_->get_executor()), opts_(std::move(o)), peer_(std::move(peer)) {}
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// The executor the connection runs on.
  const asio::any_io_executor& get_executor() const noexcept { return ex_; }

  /// The Beast streams, for the handshakes (one of them is null).
  plain_stream* plain() noexcept { return plain_.get(); }
  tls_stream* tls() noexcept { return tls_.get(); }

  /// Starts the reader and the writer; called once the opening handshake is done.
  void start() {
    started_ = true;
    if (plain_) plain_->next_layer().keep_owner_alive(weak_from_this());
    if (tls_) tls_->next_layer().keep_owner_alive(weak_from_this());
    if (plain_) {
      spawn(*plain_);
    } else {
      spawn(*tls_);
    }
  }

  /// Queues `data` if the send queue has room; fails at once (errc::unavailable) when it is full
  /// or the connection is not open.
  result<void> try_send(std::string_view data, message_kind kind = message_kind::text) {
    if (state_ != state::open) return not_open("sending");
    if (full(data.size())) {
      ++stats_.send_queue_full;
      return queue_full_error();
    }
    enqueue(std::string(data), kind);
    return {};
  }

  /// Queues `data`, waiting up to send_timeout while the send queue is full (backpressure).
  /// Completes once the message is queued: WebSocket confirms nothing, so a message queued or
  /// written just before the connection fails may be lost (at most once). The bytes are copied
  /// before the first suspension.
  asio::awaitable<result<void>> send(std::string_view data, message_kind kind = message_kind::text) {
    std::string copy(data);
    const auto deadline = std::chrono::steady_clock::now() + opts_.send_timeout;
    for (;;) {
      if (state_ != state::open) co_return not_open("sending");
      if (!full(copy.size())) {
        enqueue(std::move(copy), kind);
        co_return result<void>{};
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        ++stats_.send_queue_full;
        co_return queue_full_error();
      }
      co_await room_.wait(deadline);
    }
  }

  /// The next message, waiting for one. Once the connection has ended and every message read
  /// before is taken, the error says why it ended (the peer's close code, a protocol violation,
  /// a dead peer, a local close).
  asio::awaitable<result<message>> receive() {
    for (;;) {
      if (!incoming_.empty()) {
        message m = std::move(incoming_.front());
        incoming_.pop_front();
        incoming_room_.notify_all();
        co_return m;
      }
      if (reader_done_) co_return failure();
      co_await incoming_ready_.wait();
    }
  }

  /// The closing handshake: no new sends; what is queued is written first (within
  /// handshake_timeout), then a close frame with `code` and `reason` (at most 123 bytes), and the
  /// peer's close frame is awaited. Messages the peer sent meanwhile can still be received.
  asio::awaitable<result<void>> close(std::uint16_t code = close_code::normal, std::string_view reason = {}) {
    if (!sendable_close_code(code))
      co_return error(errc::invalid_argument, "close code " + std::to_string(code) + " may not be sent (RFC 6455 section 7.4)");
    if (reason.size() > 123) co_return error(errc::invalid_argument, "a close reason holds at most 123 bytes");
    const beast::websocket::close_reason cr(static_cast<beast::websocket::close_code>(code),
                                            beast::string_view(reason.data(), reason.size()));
    if (!started_) {  // still in the opening handshake: nothing to flush, no frame to send
      abort();
      co_return result<void>{};
    }
    if (state_ != state::open) {
      while (!reader_done_ || !writer_done_) co_await ended_.wait();
      co_return result<void>{};
    }
    state_ = state::closing;
    local_close_ = true;
    outgoing_ready_.notify_all();
    const auto deadline = std::chrono::steady_clock::now() + opts_.handshake_timeout;
    while (!writer_done_ && std::chrono::steady_clock::now() < deadline) co_await ended_.wait(deadline);
    if (!writer_done_) {
      abort();
      while (!writer_done_ || !reader_done_) co_await ended_.wait();
      co_return error(errc::timeout, "WebSocket " + peer_ + ": the send queue was not written within the closing timeout");
    }
    boost::system::error_code ec;
    while (pinging_) co_await ended_.wait();  // Beast takes no close while a ping is being written
    if (!reader_done_) {  // the peer may have closed meanwhile
      if (plain_) {
        std::tie(ec) = co_await plain_->async_close(cr, asio::as_tuple(asio::use_awaitable));
      } else {
        std::tie(ec) = co_await tls_->async_close(cr, asio::as_tuple(asio::use_awaitable));
      }
    }
    if (ec && ec != beast::websocket::error::closed) abort();
    // A reader paused on a full receive queue is woken here: the connection is over.
    end(error(errc::cancelled, "WebSocket " + peer_ + " closed by this side"));
    while (!reader_done_) co_await ended_.wait();
    if (ec && ec != beast::websocket::error::closed && ec != asio::error::operation_aborted)
      co_return detail::ws_error(ec, peer_, opts_, 0, {}, "closing");
    co_return result<void>{};
  }

  /// Closes the socket at once, without a closing handshake.
  void abort() noexcept {
    if (!failure_) failure_ = error(errc::cancelled, "WebSocket " + peer_ + " aborted locally");
    state_ = state::closed;
    if (plain_) beast::get_lowest_layer(*plain_).close();
    if (tls_) beast::get_lowest_layer(*tls_).close();
    wake_all();
  }

  /// Open: sends are accepted. False once close() began or the connection ended.
  bool is_open() const noexcept { return state_ == state::open; }
  /// True once the reader and the writer have both stopped.
  bool ended() const noexcept { return reader_done_ && writer_done_; }
  /// Why the connection ended (nullopt while it is open).
  std::optional<error> why_ended() const { return failure_; }
  /// The close code the peer sent (0: none yet).
  std::uint16_t peer_close_code() const noexcept { return peer_close_code_; }
  /// scheme://host:port of the peer (never a path or query).
  const std::string& peer() const noexcept { return peer_; }
  /// The request target of the opening handshake (path and query; on the server, as the client
  /// sent it: it may carry a token, so intg never logs it).
  const std::string& target() const noexcept { return target_; }
  void set_target(std::string t) { target_ = std::move(t); }
  const connection_options& options() const noexcept { return opts_; }
  connection_stats stats() const noexcept {
    connection_stats s = stats_;
    s.queued_messages = outgoing_.size();
    s.queued_bytes = queued_bytes_;
    return s;
  }

 private:
  enum class state { open, closing, closed };
  struct outgoing {
    std::string data;
    message_kind kind;
  };

  template <class WebSocketStream>
  void spawn(WebSocketStream& ws) {
    auto ex = ws.get_executor();
    // Pings and pongs count as signs of life (a ping is answered by Beast within the read).
    ws.control_callback([this](beast::websocket::frame_type kind, beast::string_view) {
      if (kind != beast::websocket::frame_type::close) heard_ = true;
    });
    asio::co_spawn(ex, read_loop(ws, shared_from_this()), asio::detached);
    asio::co_spawn(ex, write_loop(ws, shared_from_this()), asio::detached);
    if (opts_.idle_timeout.count() > 0) asio::co_spawn(ex, heartbeat(ws, shared_from_this()), asio::detached);
  }

  // After half of idle_timeout without a frame from the peer, a ping; after the other half still
  // without one, the peer is taken as dead and the socket closed (the reader reports the timeout).
  // One timer per connection that fires twice per idle_timeout, whatever the traffic: reads only
  // set heard_.
  template <class WebSocketStream>
  asio::awaitable<void> heartbeat(WebSocketStream& ws, std::shared_ptr<connection>) {
    asio::steady_timer timer(ex_);
    heartbeat_timer_ = &timer;
    bool pinged = false;
    while (state_ != state::closed && !reader_done_) {
      timer.expires_after(opts_.idle_timeout / 2);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (state_ == state::closed || reader_done_) break;
      if (heard_) {
        heard_ = false;
        pinged = false;
        continue;
      }
      if (!pinged) {
        if (state_ != state::open) continue;  // closing: the closing handshake has its own timeout
        pinged = true;
        pinging_ = true;
        auto [ec] = co_await ws.async_ping({}, asio::as_tuple(asio::use_awaitable));
        pinging_ = false;
        ended_.notify_all();
        if (ec) break;
        continue;
      }
      peer_silent_ = true;
      boost::system::error_code ignored;
      beast::get_lowest_layer(ws).socket().close(ignored);  // the reader's read fails: it reports why
      break;
    }
    heartbeat_timer_ = nullptr;
  }

  template <class WebSocketStream>
  asio::awaitable<void> read_loop(WebSocketStream& ws, std::shared_ptr<connection>) {
    beast::flat_buffer buffer;
    for (;;) {
      while (incoming_.size() >= opts_.receive_queue_messages && state_ != state::closed) co_await incoming_room_.wait();
      if (state_ == state::closed) break;
      auto [ec, n] = co_await ws.async_read(buffer, asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (peer_silent_) ec = beast::error::timeout;  // the heartbeat closed the socket
        const auto& reason = ws.reason();
        peer_close_code_ = reason.code;
        const std::string_view why(reason.reason.data(), reason.reason.size());
        if (ec == beast::websocket::error::closed && local_close_) {
          end(error(errc::cancelled, "WebSocket " + peer_ + " closed by this side (the peer answered " +
                                          detail::close_text(reason.code, why) + ")"));
        } else {
          end(detail::ws_error(ec, peer_, opts_, reason.code, why, "reading"));
        }
        break;
      }
      message m;
      heard_ = true;
      m.kind = ws.got_text() ? message_kind::text : message_kind::binary;
      m.data = beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      ++stats_.messages_received;
      stats_.bytes_received += m.data.size();
      incoming_.push_back(std::move(m));
      incoming_ready_.resume_all();  // the application takes it now (it may send, close or abort)
    }
    reader_done_ = true;
    // A reader that stopped for any reason but a closing handshake leaves a broken stream.
    if (!local_close_) {
      boost::system::error_code ignored;
      beast::get_lowest_layer(ws).socket().close(ignored);
    }
    wake_all();
  }

  // Everything queued when the writer wakes goes out as one batch: Beast's synchronous write
  // frames each message into the corked batching layer (a copy: no system call, no suspension),
  // then one flush writes them all. While the flush completes, more messages queue up: they make
  // the next batch (so under load the writes get fewer and larger, and a lone message is not
  // delayed). A batch holds about batch_bytes; a message that large is written on its own,
  // straight through, uncopied. The peer's close frame stops the writer (Beast answers it, and
  // nothing may follow it).
  template <class WebSocketStream>
  asio::awaitable<void> write_loop(WebSocketStream& ws, std::shared_ptr<connection>) {
    auto& batch = ws.next_layer();
    constexpr std::size_t batch_bytes = std::remove_reference_t<decltype(batch)>::batch_bytes;
    for (;;) {
      while (outgoing_.empty() && state_ == state::open) co_await outgoing_ready_.wait();
      if (outgoing_.empty() || state_ == state::closed || !ws.is_open()) break;
      boost::system::error_code ec;
      if (outgoing_.front().data.size() >= batch_bytes) {
        if (!batch.idle()) std::tie(ec) = co_await batch.async_flush(asio::as_tuple(asio::use_awaitable));
        if (!ec) {
          outgoing& m = outgoing_.front();
          ws.text(m.kind == message_kind::text);
          std::size_t n = 0;
          std::tie(ec, n) = co_await ws.async_write(asio::buffer(m.data), asio::as_tuple(asio::use_awaitable));
          if (!ec) written();
        }
      } else {
        batch.cork();
        while (!outgoing_.empty() && state_ != state::closed && ws.is_open()) {
          outgoing& m = outgoing_.front();
          if (m.data.size() >= batch_bytes || m.data.size() > batch_bytes - std::min(batch_bytes, batch.buffered())) break;
          ws.text(m.kind == message_kind::text);
          ws.write(asio::buffer(m.data), ec);
          if (ec) break;
          written();
        }
        if (!ec) {
          std::tie(ec) = co_await batch.async_flush(asio::as_tuple(asio::use_awaitable));
        } else {
          batch.uncork();  // what the batch holds still goes out
        }
      }
      if (ec) {
        end(detail::ws_error(ec, peer_, opts_, ws.reason().code, {}, "writing"));
        break;
      }
    }
    // Only the writer removes queued messages: one of them may be under a write until here.
    stats_.dropped += outgoing_.size();
    outgoing_.clear();
    queued_bytes_ = 0;
    writer_done_ = true;
    wake_all();
  }

  // The front message is in the batch or on the wire.
  void written() {
    const std::size_t size = outgoing_.front().data.size();
    ++stats_.messages_sent;
    stats_.bytes_sent += size;
    queued_bytes_ -= size;
    outgoing_.pop_front();
    room_.notify_all();
  }

  void end(error e) {
    if (!failure_) failure_ = std::move(e);
    state_ = state::closed;
    wake_all();
  }

  void wake_all() noexcept {
    if (heartbeat_timer_) heartbeat_timer_->cancel();
    incoming_ready_.notify_all();
    incoming_room_.notify_all();
    outgoing_ready_.notify_all();
    room_.notify_all();
    ended_.notify_all();
  }

  bool full(std::size_t size) const noexcept {
    return outgoing_.size() >= opts_.send_queue_messages ||
           (queued_bytes_ > 0 && queued_bytes_ + size > opts_.send_queue_bytes);
  }

  void enqueue(std::string data, message_kind kind) {
    queued_bytes_ += data.size();
    outgoing_.push_back(outgoing{std::move(data), kind});
    outgoing_ready_.notify_all();
  }

  error queue_full_error() const {
    return error(errc::unavailable, "WebSocket " + peer_ + ": send queue full (" + std::to_string(outgoing_.size()) +
                                        " messages, " + std::to_string(queued_bytes_) + " bytes; limits " +
                                        std::to_string(opts_.send_queue_messages) + " messages, " +
                                        std::to_string(opts_.send_queue_bytes) + " bytes)");
  }

  error not_open(const char* doing) const {
    if (failure_) return *failure_;
    return error(errc::unavailable, "WebSocket " + peer_ + " is closing: not " + doing);
  }

  error failure() const {
    return failure_ ? *failure_ : error(errc::unavailable, "WebSocket " + peer_ + " ended");
  }

  std::unique_ptr<plain_stream> plain_;
  std::unique_ptr<tls_stream> tls_;
  asio::any_io_executor ex_;
  connection_options opts_;
  std::string peer_;
  std::string target_;
  std::deque<outgoing> outgoing_;
  std::size_t queued_bytes_ = 0;
  std::deque<message> incoming_;
  detail::wakeup incoming_ready_{ex_}, incoming_room_{ex_}, outgoing_ready_{ex_}, room_{ex_}, ended_{ex_};
  std::optional<error> failure_;
  connection_stats stats_;
  state state_ = state::open;
  std::uint16_t peer_close_code_ = 0;
  bool started_ = false;
  bool local_close_ = false;
  bool reader_done_ = false;
  bool writer_done_ = false;
  bool heard_ = false;         // a frame came since the heartbeat last looked
  bool pinging_ = false;       // the heartbeat's ping is being written
  bool peer_silent_ = false;   // the heartbeat gave the peer up
  asio::steady_timer* heartbeat_timer_ = nullptr;
};

}  // namespace intg::websocket
