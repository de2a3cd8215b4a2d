// Twilio's Programmable Messaging on the provider kit: HTTP Basic with the account SID and auth
// token, or an API key pair (SK... and its secret) when settings name one; the account SID in the
// base URL's path; form bodies; `next_page_uri` paging; errors as {"code", "message",
// "more_info", "status"} (20429 is Twilio's rate limit, answered with HTTP 429). Creating a
// message is not idempotent and Twilio takes no idempotency key: the kit never resends it once it
// may have reached Twilio (errc::outcome_unknown instead).
#pragma once

#include <intg/providers/twilio/model.hpp>
#include <intg/rest.hpp>

namespace intg::twilio {

INTG_REST_MODELS();

namespace detail {
// Message SIDs: SM or MM and 32 hex digits (Twilio's documented pattern).
inline result<void> check_message_sid(std::string_view sid) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); };
  if (sid.size() == 34 && (sid.starts_with("SM") || sid.starts_with("MM")) && std::all_of(sid.begin() + 2, sid.end(), hex)) return {};
  return error(errc::invalid_argument, "twilio: a message SID is SM or MM and 32 hex digits");
}
}  // namespace detail

struct provider {
  static constexpr std::string_view name = "twilio";
  static constexpr std::string_view category = "communication";
  static constexpr std::string_view default_base_url = "https://api.twilio.com/2010-04-01/Accounts/{account_sid}";
  static constexpr std::string_view allowed_hosts[] = {"api.twilio.com", "*.twilio.com"};
  static constexpr std::string_view user_agent = "intg-twilio/0.2";
  using auth = rest::one_of<rest::if_set<"api_key_sid", rest::basic<"api_key_sid", "api_key_secret", true>>,
                            rest::basic<"account_sid", "auth_token", true>>;
  using pagination = rest::next_url_body<"/next_page_uri", "/messages">;
  static constexpr rest::error_body errors{.code = "/code", .message = "/message", .details = {"/more_info"}};
  static constexpr rest::rate_limit_headers rate_limits{.windows = {}};  // Twilio announces none
  static constexpr rest::call health{http::verb::get, "/Messages.json?PageSize=1"};
};

using client = rest::client<provider>;
using http::verb;
using rest::body;

inline constexpr rest::operation<message, send_params> send_message{verb::post, "/Messages.json", "messages.create", body::form};
inline constexpr rest::operation<message, rest::none, 1> fetch_message{
    .method = verb::get, .path = "/Messages/{}.json", .name = "messages.fetch", .check = detail::check_message_sid};
inline constexpr rest::operation<message, update_params, 1> update_message{
    .method = verb::post, .path = "/Messages/{}.json", .name = "messages.update", .body = body::form, .check = detail::check_message_sid};
inline constexpr rest::operation<rest::none, rest::none, 1> delete_message{
    .method = verb::delete_, .path = "/Messages/{}.json", .name = "messages.delete", .check = detail::check_message_sid};
inline constexpr rest::list_operation<message, list_params> list_messages{verb::get, "/Messages.json", "messages.list"};

}  // namespace intg::twilio
