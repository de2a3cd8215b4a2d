// Stripe's objects and request parameters (API version 2024-06-20 and later), declared once with
// Boost.Describe; intg::rest decodes and form-encodes them. Fields a program rarely needs are
// left out (unknown fields are ignored); secrets such as a PaymentIntent's client_secret are
// never decoded.
#pragma once

#include <boost/describe.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace intg::stripe {

using string_map = std::map<std::string, std::string>;

struct customer {
  std::string id{};
  std::int64_t created = 0;
  bool livemode = false;
  std::optional<std::string> email{}, name{}, description{}, phone{}, currency{};
  std::int64_t balance = 0;
  string_map metadata{};
};
BOOST_DESCRIBE_STRUCT(customer, (), (id, created, livemode, email, name, description, phone, currency, balance, metadata))

BOOST_DEFINE_ENUM_CLASS(payment_intent_status, unknown, requires_payment_method, requires_confirmation, requires_action,
                        processing, requires_capture, canceled, succeeded)

/// The error Stripe attaches to a PaymentIntent whose last attempt failed.
struct payment_error {
  std::string type{};
  std::optional<std::string> code{}, decline_code{}, message{}, param{};
};
BOOST_DESCRIBE_STRUCT(payment_error, (), (type, code, decline_code, message, param))

struct payment_intent {
  std::string id{};
  std::int64_t amount = 0, amount_capturable = 0, amount_received = 0, created = 0;
  std::string currency{}, capture_method{};
  payment_intent_status status = payment_intent_status::unknown;
  bool livemode = false;
  std::optional<std::string> customer{}, description{}, payment_method{}, latest_charge{}, cancellation_reason{};
  std::optional<std::int64_t> canceled_at{};
  std::optional<payment_error> last_payment_error{};
  std::vector<std::string> payment_method_types{};
  string_map metadata{};
};
BOOST_DESCRIBE_STRUCT(payment_intent, (),
                      (id, amount, amount_capturable, amount_received, created, currency, capture_method, status, livemode,
                       customer, description, payment_method, latest_charge, cancellation_reason, canceled_at,
                       last_payment_error, payment_method_types, metadata))

struct refund {
  std::string id{};
  std::int64_t amount = 0, created = 0;
  std::string currency{};
  std::optional<std::string> payment_intent{}, charge{}, reason{}, status{};
  string_map metadata{};
};
BOOST_DESCRIBE_STRUCT(refund, (), (id, amount, created, currency, payment_intent, charge, reason, status, metadata))

struct event_data {
  boost::json::object object{};  ///< the object the event is about, kept as JSON (its type depends on `type`)
};
BOOST_DESCRIBE_STRUCT(event_data, (), (object))

struct event {
  std::string id{}, type{};
  std::int64_t created = 0;
  bool livemode = false;
  std::optional<std::string> api_version{};
  std::int64_t pending_webhooks = 0;
  event_data data{};
};
BOOST_DESCRIBE_STRUCT(event, (), (id, type, created, livemode, api_version, pending_webhooks, data))

struct amount_in_currency {
  std::int64_t amount = 0;
  std::string currency{};
};
BOOST_DESCRIBE_STRUCT(amount_in_currency, (), (amount, currency))

struct balance {
  std::vector<amount_in_currency> available{}, pending{};
  bool livemode = false;
};
BOOST_DESCRIBE_STRUCT(balance, (), (available, pending, livemode))

// ---- request parameters (form-encoded: metadata[key]=value, expand[0]=...) --------------------

struct customer_params {
  std::optional<std::string> email{}, name{}, description{}, phone{};
  std::optional<string_map> metadata{};
};
BOOST_DESCRIBE_STRUCT(customer_params, (), (email, name, description, phone, metadata))

// List calls take `limit` (1..100) and `starting_after`, which the kit sets while it pages.

struct customer_list_params {
  std::optional<std::int64_t> limit{};
  std::optional<std::string> starting_after{}, email{};
};
BOOST_DESCRIBE_STRUCT(customer_list_params, (), (limit, starting_after, email))

struct payment_intent_params {
  std::int64_t amount = 0;     ///< in the currency's smallest unit
  std::string currency{};  ///< ISO 4217, lower case
  std::optional<std::string> customer{}, description{}, payment_method{}, capture_method{}, receipt_email{};
  std::optional<bool> confirm{};
  std::optional<std::vector<std::string>> payment_method_types{};
  std::optional<string_map> metadata{};
};
BOOST_DESCRIBE_STRUCT(payment_intent_params, (),
                      (amount, currency, customer, description, payment_method, capture_method, receipt_email, confirm,
                       payment_method_types, metadata))

struct payment_intent_list_params {
  std::optional<std::int64_t> limit{};
  std::optional<std::string> starting_after{}, customer{};
};
BOOST_DESCRIBE_STRUCT(payment_intent_list_params, (), (limit, starting_after, customer))

struct confirm_params {
  std::optional<std::string> payment_method{}, return_url{};
};
BOOST_DESCRIBE_STRUCT(confirm_params, (), (payment_method, return_url))

struct capture_params {
  std::optional<std::int64_t> amount_to_capture{};
};
BOOST_DESCRIBE_STRUCT(capture_params, (), (amount_to_capture))

struct cancel_params {
  std::optional<std::string> cancellation_reason{};  ///< duplicate, fraudulent, requested_by_customer, abandoned
};
BOOST_DESCRIBE_STRUCT(cancel_params, (), (cancellation_reason))

struct refund_params {
  std::optional<std::string> payment_intent{}, charge{}, reason{};
  std::optional<std::int64_t> amount{};
  std::optional<string_map> metadata{};
};
BOOST_DESCRIBE_STRUCT(refund_params, (), (payment_intent, charge, reason, amount, metadata))

struct refund_list_params {
  std::optional<std::int64_t> limit{};
  std::optional<std::string> starting_after{}, payment_intent{};
};
BOOST_DESCRIBE_STRUCT(refund_list_params, (), (limit, starting_after, payment_intent))

struct event_list_params {
  std::optional<std::int64_t> limit{};
  std::optional<std::string> starting_after{}, type{};
};
BOOST_DESCRIBE_STRUCT(event_list_params, (), (limit, starting_after, type))

}  // namespace intg::stripe
