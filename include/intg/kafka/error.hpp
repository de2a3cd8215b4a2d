// intg::kafka errors: librdkafka's error codes (rd_kafka_resp_err_t, broker and local ones) in a
// category of their own ("intg.kafka") that maps each code to intg's conditions, so that
// intg::is_transient() says whether retrying may help and policies classify Kafka errors like any
// other. A delivery that failed after the broker may have written the message is
// intg::errc::outcome_unknown instead: sending it again could duplicate it.
#pragma once

#include <intg/core/error.hpp>

#include <librdkafka/rdkafka.h>

#include <string>
#include <string_view>

namespace intg::kafka {

namespace detail {

constexpr unsigned bit(condition c) noexcept { return 1u << static_cast<unsigned>(c); }

// The conditions of a librdkafka code. Transient: what Kafka's protocol marks retriable (leader
// moves, coordinators loading, replicas catching up, timeouts) and local transport failures.
constexpr unsigned conditions(int code) noexcept {
  constexpr unsigned transient = bit(condition::transient);
  switch (static_cast<rd_kafka_resp_err_t>(code)) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_PREFERRED_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR__WAIT_COORD: return transient | bit(condition::unavailable);
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT: return transient | bit(condition::timeout);
    case RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED: return transient | bit(condition::rate_limited);
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_FETCH_SESSION_ID_NOT_FOUND:
    case RD_KAFKA_RESP_ERR_INVALID_FETCH_SESSION_EPOCH:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
    case RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS: return transient;
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__UNKNOWN_GROUP:
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND: return bit(condition::not_found);
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION: return bit(condition::unauthorized);
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED: return bit(condition::forbidden);
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR__INVALID_TYPE: return bit(condition::invalid_argument);
    case RD_KAFKA_RESP_ERR__BAD_MSG:
    case RD_KAFKA_RESP_ERR__BAD_COMPRESSION: return bit(condition::invalid_response);
    default: return 0;
  }
}

class category_impl final : public boost::system::error_category {
 public:
  constexpr category_impl() noexcept : error_category(0x696e74672d6b6166ULL) {}  // "intg-kaf"
  const char* name() const noexcept override { return "intg.kafka"; }
  std::string message(int ev) const override { return rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(ev)); }
  char const* message(int ev, char*, std::size_t) const noexcept override {
    return rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(ev));
  }
  bool equivalent(int code, const boost::system::error_condition& cond) const noexcept override {
    return cond.category() == intg::condition_category() && (conditions(code) & (1u << cond.value())) != 0;
  }
};

inline constexpr category_impl category_instance{};

}  // namespace detail

/// The category of librdkafka's codes ("intg.kafka"; the value is the rd_kafka_resp_err_t).
inline const boost::system::error_category& category() noexcept { return detail::category_instance; }

inline boost::system::error_code make_error_code(rd_kafka_resp_err_t e) noexcept {
  return {static_cast<int>(e), category()};
}

/// An intg::error for a librdkafka code: `context` and librdkafka's text as the message, the
/// code's name ("_MSG_TIMED_OUT", "UNKNOWN_TOPIC_OR_PART") as provider_code(). The text must not
/// hold secrets: librdkafka's error strings never carry configuration values.
inline intg::error make_error(rd_kafka_resp_err_t e, std::string_view context, std::string_view detail = {}) {
  std::string m(context);
  if (!m.empty()) m += ": ";
  m += detail.empty() ? std::string_view(rd_kafka_err2str(e)) : detail;
  intg::error out(make_error_code(e), std::move(m));
  out.with_provider_code(rd_kafka_err2name(e));
  return out;
}

/// The error of a failed delivery. librdkafka retried it already (an idempotent producer without
/// reordering or duplicates); what remains is final for this message. When the broker may have
/// written it (POSSIBLY_PERSISTED) it is outcome_unknown: never transient, since a resend could
/// duplicate it. Otherwise the librdkafka code, transient when sending again may succeed.
inline intg::error delivery_error(rd_kafka_resp_err_t e, rd_kafka_msg_status_t status, std::string_view topic) {
  std::string context = "delivery to topic '" + std::string(topic) + "' failed";
  if (status == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED)
    return intg::error(intg::errc::outcome_unknown,
                       context + ": " + rd_kafka_err2name(e) + " (" + rd_kafka_err2str(e) +
                           "); the broker may have written it, so it is not sent again (a resend could duplicate it)");
  return make_error(e, context);
}

}  // namespace intg::kafka
