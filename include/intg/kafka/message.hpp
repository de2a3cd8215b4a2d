// Kafka messages as intg hands them out (owned copies, valid after the consumer is gone), the
// headers a producer sends (views: cheap, and safe as temporaries inside a co_await), delivery
// reports, and the W3C traceparent header that carries a trace from producer to consumer.
#pragma once

#include <intg/observability/trace_context.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace intg::kafka {

/// The header that carries a W3C trace context with a message.
inline constexpr std::string_view traceparent_header = "traceparent";

/// A header to send. Views: the bytes are copied by send() before it first suspends.
struct header_view {
  std::string_view name;
  std::optional<std::string_view> value;  ///< nullopt: a null value
};

/// A received header.
struct header {
  std::string name;
  std::optional<std::string> value;  ///< nullopt: a null value
};

/// Where a message was written: the broker's acknowledgement (acks=all: by every in-sync replica).
struct delivery {
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::int64_t timestamp_ms = -1;  ///< the message's timestamp (ms since the epoch), -1 when unknown
};

/// A received message.
struct message {
  std::string topic;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
  std::optional<std::string> key;  ///< nullopt: no key
  std::string value;               ///< empty for a null value too (see null_value)
  bool null_value = false;         ///< a tombstone (null value), as compacted topics use them
  std::vector<header> headers;
  std::int64_t timestamp_ms = -1;
  /// Which assignment of the partition delivered it: an ack after the partition was revoked is
  /// refused, since its new owner receives the message again.
  std::uint64_t generation = 0;

  /// The value of the last header named `name` (Kafka allows repeats); nullopt when absent or null.
  std::optional<std::string_view> header_value(std::string_view name) const noexcept {
    for (auto it = headers.rbegin(); it != headers.rend(); ++it)
      if (it->name == name) return it->value ? std::optional<std::string_view>(*it->value) : std::nullopt;
    return std::nullopt;
  }

  /// The trace context of the `traceparent` header, when it holds a valid one.
  std::optional<trace_context> trace() const noexcept {
    auto v = header_value(traceparent_header);
    return v ? trace_context::parse_traceparent(*v) : std::nullopt;
  }
};

}  // namespace intg::kafka
