// Slack's Web API on the provider kit: the bot token as bearer, errors as {"ok":false,"error":...}
// on HTTP 200 (a "ratelimited" code or a 429 with Retry-After waits; "invalid_auth" and
// "token_expired" mean the token is refused), cursor paging through
// response_metadata.next_cursor, and one line per method. Slack limits each method by its tier
// (1: 1+/min, 2: 20+/min, 3: 50+/min, 4: 100+/min; chat.postMessage about 1 per second per
// channel): the client keeps one bucket per method and waits out a 429 before that method's next call.
#pragma once

#include <intg/providers/slack/model.hpp>
#include <intg/rest.hpp>

namespace intg::slack {

INTG_REST_MODELS();

struct provider {
  static constexpr std::string_view name = "slack";
  static constexpr std::string_view category = "communication";
  static constexpr std::string_view default_base_url = "https://slack.com/api";
  static constexpr std::string_view allowed_hosts[] = {"slack.com", "*.slack.com"};
  static constexpr std::string_view user_agent = "intg-slack/0.2";
  using auth = rest::bearer<"bot_token">;
  using pagination = rest::cursor_body<"/response_metadata/next_cursor", "cursor">;
  static constexpr rest::error_body errors{.code = "/error", .ok = "/ok", .rate_limited_code = "ratelimited",
                                           .unauthorized_code = "token_expired"};
  static constexpr rest::rate_limit_headers rate_limits{.windows = {}, .per_operation = true};
  static constexpr rest::call health{http::verb::get, "/auth.test"};
};

using client = rest::client<provider>;
using http::verb;
using rest::body;

inline constexpr rest::operation<posted_message, post_message_args> post_message{verb::post, "/chat.postMessage", "chat.postMessage", body::form};
inline constexpr rest::operation<updated_message, update_message_args> update_message{verb::post, "/chat.update", "chat.update", body::form};
inline constexpr rest::list_operation<channel, list_conversations_args> list_conversations{
    verb::get, "/conversations.list", "conversations.list", "/channels"};
inline constexpr rest::list_operation<message, history_args> conversation_history{
    verb::get, "/conversations.history", "conversations.history", "/messages"};
inline constexpr rest::operation<identity> auth_test{verb::get, "/auth.test", "auth.test"};

}  // namespace intg::slack
