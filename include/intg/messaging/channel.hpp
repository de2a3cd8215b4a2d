// intg::messaging: what code that sends and receives messages is written against, so that it
// runs on any transport that meets the concepts (Redis Streams first; Kafka and WebSocket are to
// follow): publish with the transport's confirmation, receive as an async stream with explicit
// acknowledgement (ack, nack with or without requeue, dead-letter), a bound on the messages
// received and not yet settled, and the delivery guarantee each transport states as a constant.
// The types here are provider-neutral; each transport documents how it maps them (docs/messaging.md).
#pragma once

#include <intg/core/result.hpp>
#include <intg/observability/trace_context.hpp>

#include <boost/asio/awaitable.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace intg::messaging {

namespace asio = boost::asio;

/// What a transport promises about each published message reaching a consumer.
enum class delivery_guarantee {
  at_most_once,   ///< lost when something fails (pub/sub, a WebSocket send); never twice
  at_least_once,  ///< kept until a consumer acknowledges it; may come twice after a failure
};

constexpr std::string_view to_string(delivery_guarantee g) noexcept {
  return g == delivery_guarantee::at_most_once ? "at-most-once" : "at-least-once";
}

/// The header that carries a W3C trace context with a message.
inline constexpr std::string_view traceparent_header = "traceparent";

/// A header to send. Views: the transport copies the bytes before publish() first suspends.
struct header_view {
  std::string_view name{};
  std::string_view value{};
};

/// A message to publish. Views only (cheap, and safe as a temporary inside a co_await); name the
/// headers array before the co_await (g++ 12 cannot put a braced list's array in a coroutine frame).
struct outgoing_message {
  std::string_view payload{};
  std::string_view key{};                ///< empty: no key (what a key does is the transport's: see its docs)
  std::span<const header_view> headers{};
  /// Sent as the `traceparent` header when set (it replaces one in `headers`).
  std::optional<trace_context> trace{};
};

/// What the transport confirmed about a publish.
struct publish_receipt {
  std::string id{};        ///< where the transport put the message (a stream entry id, a partition:offset); empty when it gives none
  bool confirmed = false;  ///< the server acknowledged it (false for transports that confirm nothing)
};

/// A received header.
struct header {
  std::string name;
  std::string value;
};

/// A received message (owned copies: valid after the consumer is gone).
struct received_message {
  std::string id;                 ///< the transport's id, what ack() and its friends refer to
  std::string key;                ///< empty: no key
  std::string payload;
  std::vector<header> headers;
  /// How many times the transport has handed it out, this time included (1: the first time;
  /// 0: the transport does not know). Above 1 it is a redelivery: it may have been processed before.
  std::uint32_t delivery_count = 0;

  bool redelivered() const noexcept { return delivery_count > 1; }

  /// The value of the last header named `name`; nullopt when absent.
  std::optional<std::string_view> header_value(std::string_view name) const noexcept {
    for (auto it = headers.rbegin(); it != headers.rend(); ++it)
      if (it->name == name) return std::string_view(it->value);
    return std::nullopt;
  }

  /// The trace context of the `traceparent` header, when it holds a valid one.
  std::optional<trace_context> trace() const noexcept {
    auto v = header_value(traceparent_header);
    return v ? trace_context::parse_traceparent(*v) : std::nullopt;
  }
};

/// A publisher (the named requirement `MessagePublisher`):
///
/// | expression              | type                                  | does                                            |
/// |-------------------------|---------------------------------------|-------------------------------------------------|
/// | `P::guarantee`          | constexpr `delivery_guarantee`        | what the transport promises                     |
/// | `P::confirms_publish`   | constexpr `bool`                      | whether publish() waits for the server's word   |
/// | `p.publish(m)`          | `awaitable<result<publish_receipt>>`  | sends `m`; with confirmation, completes when the server has it |
///
/// A publish whose outcome is unknown (the connection was lost after sending) is an error of
/// condition `outcome_unknown`: it is never sent again on its own, since it may have arrived.
template <class P>
concept publisher = requires(P& p, const outgoing_message& m) {
  typename std::integral_constant<delivery_guarantee, P::guarantee>;  // a constant expression
  typename std::bool_constant<P::confirms_publish>;
  { p.publish(m) } -> std::same_as<asio::awaitable<result<publish_receipt>>>;
};

/// A consumer (the named requirement `MessageConsumer`): an async stream of messages, each
/// settled once by the application.
///
/// | expression              | type                                  | does                                            |
/// |-------------------------|---------------------------------------|-------------------------------------------------|
/// | `C::guarantee`          | constexpr `delivery_guarantee`        | what the transport promises                     |
/// | `c.receive()`           | `awaitable<result<received_message>>` | the next message; waits while none has come, or while `max_in_flight()` are unsettled |
/// | `c.ack(m)`              | `awaitable<result<void>>`             | done with `m`: it is not delivered again        |
/// | `c.nack(m, true)`       | `awaitable<result<void>>`             | not processed: deliver it again (to this or another consumer), until the transport's delivery limit dead-letters it |
/// | `c.nack(m, false)`      | `awaitable<result<void>>`             | not processed and never to be: dead-lettered where the transport has a dead-letter destination, dropped otherwise |
/// | `c.dead_letter(m, why)` | `awaitable<result<void>>`             | moves `m` to the dead-letter destination with the reason |
/// | `c.in_flight()`         | `std::size_t`                         | messages fetched or received and not yet settled |
/// | `c.max_in_flight()`     | `std::size_t`                         | the bound on in_flight(): a slow consumer slows delivery, memory stays bounded |
///
/// Settling a message twice, or one never received, is `invalid_argument`. A settlement the
/// server may not have recorded (the connection was lost) is an error too, and the message counts
/// as settled locally; at-least-once transports then deliver it again (a redelivery).
template <class C>
concept consumer = requires(C& c, const C& cc, const received_message& m, bool requeue, std::string_view reason) {
  typename std::integral_constant<delivery_guarantee, C::guarantee>;
  { c.receive() } -> std::same_as<asio::awaitable<result<received_message>>>;
  { c.ack(m) } -> std::same_as<asio::awaitable<result<void>>>;
  { c.nack(m, requeue) } -> std::same_as<asio::awaitable<result<void>>>;
  { c.dead_letter(m, reason) } -> std::same_as<asio::awaitable<result<void>>>;
  { cc.in_flight() } -> std::convertible_to<std::size_t>;
  { cc.max_in_flight() } -> std::convertible_to<std::size_t>;
};

/// Both ends on one object (the named requirement `MessageChannel`).
template <class C>
concept channel = publisher<C> && consumer<C>;

}  // namespace intg::messaging
