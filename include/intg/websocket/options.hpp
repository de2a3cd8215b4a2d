// intg::websocket: the settings and types the client and the server share (message size limit,
// heartbeat, bounded send and receive queues, permessage-deflate), RFC 6455 close codes, and the
// mapping of Beast's WebSocket errors to intg errors that say what happened and to whom.
#pragma once

#include <intg/core/error.hpp>

#include <boost/asio/ssl/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/websocket/error.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace intg::websocket {

/// Text (UTF-8, checked by the receiver) or binary.
enum class message_kind { text, binary };

/// A whole received message (fragments already joined).
struct message {
  std::string data{};
  message_kind kind = message_kind::text;
  bool text() const noexcept { return kind == message_kind::text; }
};

/// RFC 6455 section 7.4.1 close codes an application sends or sees most.
namespace close_code {
inline constexpr std::uint16_t normal = 1000;          ///< done
inline constexpr std::uint16_t going_away = 1001;      ///< server shutting down, page left
inline constexpr std::uint16_t protocol_error = 1002;  ///< a frame broke RFC 6455
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t invalid_payload = 1007;  ///< e.g. invalid UTF-8 in a text message
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t too_big = 1009;          ///< a message above the receiver's limit
inline constexpr std::uint16_t internal_error = 1011;
inline constexpr std::uint16_t try_again_later = 1013;
}  // namespace close_code

/// Whether an application may send `code` in a close frame (RFC 6455 7.4: 1000-1003, 1007-1011,
/// 1012-1014 registered since, and 3000-4999; never 1005, 1006, 1015 or unassigned codes).
constexpr bool sendable_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/// What both ends of a connection share. The defaults suit a service talking to services.
struct connection_options {
  /// A received message larger than this (all its fragments together, after decompression)
  /// closes the connection with 1009 and fails receive().
  std::size_t max_message_size = 1024 * 1024;
  /// The send queue: send() waits while it holds this many messages or bytes (try_send() fails
  /// at once). Queued messages not yet written when the connection ends are lost (counted).
  std::size_t send_queue_messages = 256;
  std::size_t send_queue_bytes = 4 * 1024 * 1024;
  /// How long send() waits for room in a full queue before it fails; 0: fail at once.
  std::chrono::milliseconds send_timeout{10'000};
  /// Messages read from the peer and not yet taken by receive(). While it is full nothing more is
  /// read, so a slow reader slows the peer down (TCP backpressure) instead of growing memory.
  std::size_t receive_queue_messages = 64;
  /// Heartbeat: after half of this without a byte from the peer a ping is sent, and a peer silent
  /// for all of it (no pong either) is taken as dead: the connection fails with errc::timeout.
  /// 0 turns heartbeats off (a dead peer is then noticed only by TCP, after minutes or never).
  std::chrono::milliseconds idle_timeout{30'000};
  /// The opening handshake and the closing handshake each get this long.
  std::chrono::milliseconds handshake_timeout{10'000};
  /// permessage-deflate (RFC 7692), used when both ends enable it. Off by default: it costs CPU
  /// and memory per connection, and compressing secrets next to attacker-chosen data leaks them
  /// (the CRIME/BREACH family).
  bool permessage_deflate = false;
};

namespace detail {

inline std::string close_text(std::uint16_t code, std::string_view reason) {
  std::string s = std::to_string(code);
  if (!reason.empty()) {
    s += " \"";
    s.append(reason.substr(0, 123));
    s += '"';
  }
  return s;
}

/// Maps a failed WebSocket operation to an intg error; `peer` is scheme://host:port only (never
/// a path or query, which may carry tokens).
inline error ws_error(const boost::system::error_code& ec, std::string_view peer, const connection_options& o,
                      std::uint16_t peer_close_code, std::string_view peer_close_reason, const char* stage) {
  namespace bws = boost::beast::websocket;
  const std::string who = "WebSocket " + std::string(peer);
  if (ec == bws::error::closed)
    return error(errc::unavailable, who + " closed by the peer (" + close_text(peer_close_code, peer_close_reason) + ")");
  if (ec == boost::beast::error::timeout)
    return error(errc::timeout, who + (std::string_view(stage) == "reading"
                                           ? ": no answer to pings for " + std::to_string(o.idle_timeout.count()) +
                                                 " ms: peer taken as dead"
                                           : std::string(" timed out while ") + stage));
  if (ec == bws::error::message_too_big || ec == bws::error::buffer_overflow)
    return error(errc::invalid_response, who + " sent a message above the limit of " +
                                             std::to_string(o.max_message_size) + " bytes (closed with 1009)");
  if (ec == bws::error::bad_frame_payload)
    return error(errc::invalid_response, who + " sent invalid UTF-8 in a text message (closed with 1007)");
  if (ec == bws::error::bad_close_code || ec == bws::error::bad_close_size || ec == bws::error::bad_close_payload)
    return error(errc::invalid_response, who + " sent a malformed close frame: " + ec.message() + " (closed with 1002)");
  if (ec == bws::condition::protocol_violation)
    return error(errc::invalid_response, who + " broke the WebSocket protocol: " + ec.message() + " (closed with 1002)");
  if (ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset ||
      ec == boost::asio::ssl::error::stream_truncated || ec == boost::beast::http::error::end_of_stream)
    return error(errc::unavailable, who + " connection lost while " + stage + " (no close frame)");
  if (ec == boost::asio::error::operation_aborted || ec == boost::asio::error::bad_descriptor)
    return error(errc::cancelled, who + ": connection closed locally while " + stage);
  return error(ec, who + " failed while " + stage + ": " + ec.message());
}

}  // namespace detail
}  // namespace intg::websocket
