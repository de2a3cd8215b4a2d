// intg::messaging::websocket_channel: the message channel concepts on a WebSocket client or
// server connection. WebSocket confirms nothing and redelivers nothing, so the channel promises
// at most once: publish() completes when the message is queued for sending; ack() and
// nack(m, false) settle locally (nothing to tell the peer); nack(m, true) and dead_letter() cannot
// do what they promise and say so with an error (the message is settled and dropped).
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/messaging/channel.hpp>
#include <intg/websocket/client.hpp>
#include <intg/websocket/connection.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>

namespace intg::messaging {

/// How a message travels in a WebSocket message.
enum class websocket_envelope {
  /// A text message holding {"payload": "...", "key": "...", "headers": {"name": "value"}} (key
  /// and headers only when present; a repeated header name keeps its last value). The payload
  /// must be UTF-8 text.
  json,
  /// The payload alone as a binary message (any bytes); key and headers cannot travel, so a
  /// message with any is refused (invalid_argument) rather than silently stripped.
  payload_only,
};

struct websocket_channel_options {
  websocket_envelope envelope = websocket_envelope::json;
  /// Messages received and not yet settled; receive() waits at the bound.
  std::size_t max_in_flight = 64;
};

struct websocket_channel_stats {
  std::uint64_t published = 0;
  std::uint64_t publish_failures = 0;
  std::uint64_t received = 0;
  std::uint64_t malformed = 0;  ///< json envelope: messages that were not one (delivered as a raw payload)
  std::uint64_t acked = 0;
  std::uint64_t dropped = 0;    ///< settled by nack or dead_letter: gone (no redelivery on WebSocket)
};

namespace detail {
/// RFC 3629 UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
inline bool valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  while (i < s.size()) {
    const unsigned char c = at(i);
    std::size_t n;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      if ((at(i + k) & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (at(i + k) & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += n + 1;
  }
  return true;
}
}  // namespace detail

/// A channel on a WebSocket `Endpoint`: a websocket::client (reconnects on its own) or a
/// websocket::connection (one accepted by websocket::server). The endpoint must outlive it.
template <class Endpoint = websocket::client>
class websocket_channel {
 public:
  static constexpr delivery_guarantee guarantee = delivery_guarantee::at_most_once;
  static constexpr bool confirms_publish = false;

  explicit websocket_channel(Endpoint& endpoint, websocket_channel_options o = {})
      : ep_(endpoint), opts_(o), room_(endpoint.get_executor()) {
    if (opts_.max_in_flight == 0) throw exception(error(errc::invalid_argument, "websocket_channel: max_in_flight must be above 0"));
  }

  /// Queues the message for sending (see websocket::connection::send: waits while the send queue
  /// is full). The receipt is never confirmed: WebSocket has no acknowledgement.
  asio::awaitable<result<publish_receipt>> publish(const outgoing_message& m) {
    auto frame = encode(m);  // before the first suspension: `m` holds views
    if (!frame) {
      ++stats_.publish_failures;
      co_return frame.error();
    }
    const auto kind = opts_.envelope == websocket_envelope::json ? websocket::message_kind::text : websocket::message_kind::binary;
    auto sent = co_await ep_.send(*frame, kind);
    if (!sent) {
      ++stats_.publish_failures;
      co_return sent.error();
    }
    ++stats_.published;
    co_return publish_receipt{};
  }

  /// The next message; waits while max_in_flight are unsettled. The id is a local sequence number.
  asio::awaitable<result<received_message>> receive() {
    while (in_flight_.size() >= opts_.max_in_flight) {
      co_await room_.wait();
    }
    auto m = co_await ep_.receive();
    if (!m) co_return m.error();
    received_message out = decode(std::move(*m));
    out.id = std::to_string(++sequence_);
    out.delivery_count = 1;  // never redelivered
    in_flight_.insert(sequence_);
    ++stats_.received;
    co_return out;
  }

  /// Done with `m` (nothing to tell the peer: WebSocket has no acknowledgement).
  asio::awaitable<result<void>> ack(const received_message& m) {
    auto r = settle(m);
    if (r) ++stats_.acked;
    co_return r;
  }

  /// nack(m, false): dropped (no dead-letter destination). nack(m, true): WebSocket cannot deliver
  /// it again, so it is dropped too and the error says so.
  asio::awaitable<result<void>> nack(const received_message& m, bool requeue) {
    auto r = settle(m);
    if (!r) co_return r;
    ++stats_.dropped;
    if (requeue)
      co_return error(errc::invalid_argument, "websocket_channel: message " + m.id +
                                                  " cannot be delivered again (WebSocket is at most once): dropped");
    co_return result<void>{};
  }

  /// WebSocket has no dead-letter destination: the message is dropped and the error says so.
  asio::awaitable<result<void>> dead_letter(const received_message& m, std::string_view reason) {
    std::string why(reason);
    auto r = settle(m);
    if (!r) co_return r;
    ++stats_.dropped;
    co_return error(errc::invalid_argument, "websocket_channel: no dead-letter destination on WebSocket: message " + m.id +
                                                " dropped (" + why + ")");
  }

  std::size_t in_flight() const noexcept { return in_flight_.size(); }
  std::size_t max_in_flight() const noexcept { return opts_.max_in_flight; }
  websocket_channel_stats stats() const noexcept { return stats_; }

 private:
  result<std::string> encode(const outgoing_message& m) const {
    if (opts_.envelope == websocket_envelope::payload_only) {
      if (!m.key.empty() || !m.headers.empty() || m.trace)
        return error(errc::invalid_argument,
                     "websocket_channel: the payload_only envelope cannot carry a key, headers or a trace context");
      return std::string(m.payload);
    }
    if (!detail::valid_utf8(m.payload))
      return error(errc::invalid_argument, "websocket_channel: the json envelope needs a UTF-8 payload (use payload_only for binary)");
    boost::json::object o;
    o["payload"] = boost::json::string_view(m.payload.data(), m.payload.size());
    if (!m.key.empty()) o["key"] = boost::json::string_view(m.key.data(), m.key.size());
    boost::json::object headers;
    for (const auto& h : m.headers) {
      if (!detail::valid_utf8(h.name) || !detail::valid_utf8(h.value))
        return error(errc::invalid_argument, "websocket_channel: header names and values must be UTF-8");
      headers[boost::json::string_view(h.name.data(), h.name.size())] = boost::json::string_view(h.value.data(), h.value.size());
    }
    if (m.trace) {
      char tp[trace_context::traceparent_size];
      m.trace->format_traceparent(tp);
      headers[traceparent_header] = boost::json::string_view(tp, sizeof tp);
    }
    if (!headers.empty()) o["headers"] = std::move(headers);
    return boost::json::serialize(o);
  }

  received_message decode(websocket::message m) {
    received_message out;
    if (opts_.envelope == websocket_envelope::payload_only || !m.text()) {
      out.payload = std::move(m.data);
      return out;
    }
    boost::system::error_code ec;
    auto v = boost::json::parse(m.data, ec);
    const auto* o = ec ? nullptr : v.if_object();
    const auto* payload = o ? o->if_contains("payload") : nullptr;
    if (!payload || !payload->is_string()) {
      ++stats_.malformed;
      out.payload = std::move(m.data);
      return out;
    }
    out.payload = std::string(payload->get_string());
    if (const auto* key = o->if_contains("key"); key && key->is_string()) out.key = std::string(key->get_string());
    if (const auto* hs = o->if_contains("headers"); hs && hs->is_object())
      for (const auto& [name, value] : hs->get_object())
        if (value.is_string()) out.headers.push_back(header{std::string(name), std::string(value.get_string())});
    return out;
  }

  result<void> settle(const received_message& m) {
    std::uint64_t id = 0;
    for (char ch : m.id) {
      if (ch < '0' || ch > '9' || m.id.size() > 19) return unknown(m);
      id = id * 10 + static_cast<std::uint64_t>(ch - '0');
    }
    if (m.id.empty() || in_flight_.erase(id) == 0) return unknown(m);
    room_.notify_all();
    return {};
  }

  static error unknown(const received_message& m) {
    return error(errc::invalid_argument, "websocket_channel: message '" + m.id + "' is not in flight (settled twice, or never received here)");
  }

  Endpoint& ep_;
  websocket_channel_options opts_;
  std::unordered_set<std::uint64_t> in_flight_;
  websocket::detail::wakeup room_;
  std::uint64_t sequence_ = 0;
  websocket_channel_stats stats_;
};

static_assert(channel<websocket_channel<websocket::client>>);
static_assert(channel<websocket_channel<websocket::connection>>);

}  // namespace intg::messaging
