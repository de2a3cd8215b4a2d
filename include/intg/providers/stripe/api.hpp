// Stripe on the provider kit: the traits (secret key as bearer, Stripe-Account from the tenant's
// settings, Idempotency-Key on every POST, starting_after paging, the error object) and one line
// per operation. Amounts are in the currency's smallest unit; bodies are form-encoded with
// Stripe's nested keys (metadata[order_id]=...).
#pragma once

#include <intg/providers/stripe/model.hpp>
#include <intg/rest.hpp>

namespace intg::stripe {

INTG_REST_MODELS();

struct provider {
  static constexpr std::string_view name = "stripe";
  static constexpr std::string_view category = "payment";
  static constexpr std::string_view default_base_url = "https://api.stripe.com";
  static constexpr std::string_view allowed_hosts[] = {"api.stripe.com"};
  static constexpr std::string_view user_agent = "intg-stripe/0.2";
  /// The API version these models follow; a tenant's account may default to another.
  static constexpr rest::header default_headers[] = {{"Stripe-Version", "2025-03-31.basil"}};
  /// Connect: act on a connected account (settings.account_id = "acct_...").
  static constexpr rest::setting_header settings_headers[] = {{"Stripe-Account", "account_id"}};
  using auth = rest::bearer<"secret_key">;
  using pagination = rest::after_last_id<"data", "has_more", "starting_after">;
  using idempotency = rest::idempotency_header<"Idempotency-Key">;
  static constexpr rest::error_body errors{.code = "/error/code", .message = "/error/message",
                                           .details = {"/error/decline_code", "/error/param", "/error/type"}};
  static constexpr rest::call health{http::verb::get, "/v1/balance"};
};

using client = rest::client<provider>;
using http::verb;
using rest::body;

inline constexpr rest::operation<customer, customer_params> create_customer{verb::post, "/v1/customers", "customers.create", body::form};
inline constexpr rest::operation<customer, rest::none, 1> retrieve_customer{verb::get, "/v1/customers/{}", "customers.retrieve"};
inline constexpr rest::operation<customer, customer_params, 1> update_customer{verb::post, "/v1/customers/{}", "customers.update", body::form};
inline constexpr rest::list_operation<customer, customer_list_params> list_customers{verb::get, "/v1/customers", "customers.list"};

inline constexpr rest::operation<payment_intent, payment_intent_params> create_payment_intent{
    verb::post, "/v1/payment_intents", "payment_intents.create", body::form};
inline constexpr rest::operation<payment_intent, rest::none, 1> retrieve_payment_intent{
    verb::get, "/v1/payment_intents/{}", "payment_intents.retrieve"};
inline constexpr rest::operation<payment_intent, confirm_params, 1> confirm_payment_intent{
    verb::post, "/v1/payment_intents/{}/confirm", "payment_intents.confirm", body::form};
inline constexpr rest::operation<payment_intent, capture_params, 1> capture_payment_intent{
    verb::post, "/v1/payment_intents/{}/capture", "payment_intents.capture", body::form};
inline constexpr rest::operation<payment_intent, cancel_params, 1> cancel_payment_intent{
    verb::post, "/v1/payment_intents/{}/cancel", "payment_intents.cancel", body::form};
inline constexpr rest::list_operation<payment_intent, payment_intent_list_params> list_payment_intents{
    verb::get, "/v1/payment_intents", "payment_intents.list"};

inline constexpr rest::operation<refund, refund_params> create_refund{verb::post, "/v1/refunds", "refunds.create", body::form};
inline constexpr rest::list_operation<refund, refund_list_params> list_refunds{verb::get, "/v1/refunds", "refunds.list"};
inline constexpr rest::list_operation<event, event_list_params> list_events{verb::get, "/v1/events", "events.list"};
inline constexpr rest::operation<balance> retrieve_balance{verb::get, "/v1/balance", "balance.retrieve"};

}  // namespace intg::stripe
