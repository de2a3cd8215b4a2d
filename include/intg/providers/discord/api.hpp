// Discord's HTTP API (v10) on the provider kit: `Authorization: Bot <token>`; per-route buckets
// learned from X-RateLimit-Bucket, split by the major parameter (the channel, guild, or webhook
// id and token: two channels' message routes share a bucket hash but not its limit), waited out
// from X-RateLimit-Remaining / -Reset-After; a global 429 (X-RateLimit-Global or "global": true)
// blocks every route; 401, 403 and 429 answers (not `X-RateLimit-Scope: shared` ones) are counted
// and calls refused before Discord's 10,000 per 10 minutes (then Cloudflare bans the IP; the cap
// is rest::client_options::invalid_request_cap). Errors: {"code", "message", "errors"}.
// Webhook execution authenticates with the token in its path, never the bot token; the kit keeps
// that token out of errors. Creating a message is not idempotent and is never resent once it may
// have reached Discord (errc::outcome_unknown).
#pragma once

#include <intg/providers/discord/model.hpp>
#include <intg/rest.hpp>

#include <algorithm>
#include <chrono>

namespace intg::discord {

INTG_REST_MODELS();

namespace detail {
// Snowflakes: decimal, up to 20 digits. Webhook tokens: URL-safe base64 characters. Either way no
// character that could reshape the path.
inline result<void> check_id(std::string_view s) {
  if (!s.empty() && s.size() <= 20 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return {};
  return error(errc::invalid_argument, "discord: an id (snowflake) is 1 to 20 decimal digits");
}
inline result<void> check_webhook_part(std::string_view s) {
  auto ok = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; };
  if (!s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), ok)) return {};
  return error(errc::invalid_argument, "discord: a webhook id or token has characters outside [A-Za-z0-9_-] (or is too long)");
}
}  // namespace detail

struct provider {
  static constexpr std::string_view name = "discord";
  static constexpr std::string_view category = "communication";
  static constexpr std::string_view default_base_url = "https://discord.com/api/v10";
  static constexpr std::string_view allowed_hosts[] = {"discord.com"};
  // Discord asks for "DiscordBot ($url, $versionNumber)"; intg has no public URL to give.
  static constexpr std::string_view user_agent = "DiscordBot (intg, 0.2)";
  // 0: the bot token (absent for a webhook-only client); 1: nothing (webhooks carry their token).
  using auth = rest::auth_set<rest::if_set<"bot_token", rest::api_key<"bot_token", "Authorization", "Bot ">>, rest::no_auth>;
  static constexpr rest::error_body errors{.code = "/code", .message = "/message", .retry_after = "/retry_after"};
  static constexpr rest::rate_limit_headers rate_limits{
      .windows = {{{"X-RateLimit-Remaining", "X-RateLimit-Reset-After"}}},
      .bucket = "X-RateLimit-Bucket",
      .per_operation = true,
      .global = "X-RateLimit-Global",
      .global_body = "/global",
      .invalid = {.max = 10000, .window = std::chrono::minutes(10), .scope = "X-RateLimit-Scope", .exempt = "shared"}};
  static constexpr rest::call health{http::verb::get, "/users/@me"};
};

using client = rest::client<provider>;
using http::verb;

inline constexpr rest::operation<message, message_params, 1> create_message{
    .method = verb::post, .path = "/channels/{}/messages", .name = "messages.create", .check = detail::check_id, .major_args = 1};
inline constexpr rest::operation<message, edit_params, 2> edit_message{
    .method = verb::patch, .path = "/channels/{}/messages/{}", .name = "messages.edit", .check = detail::check_id, .major_args = 1};
inline constexpr rest::operation<std::vector<channel>, rest::none, 1> list_guild_channels{
    .method = verb::get, .path = "/guilds/{}/channels", .name = "guilds.channels.list", .check = detail::check_id, .major_args = 1};
// wait=true: Discord answers with the message it created (204 and no body otherwise).
inline constexpr rest::operation<message, webhook_params, 2> execute_webhook{.method = verb::post,
                                                                            .path = "/webhooks/{}/{}?wait=true",
                                                                            .name = "webhooks.execute",
                                                                            .credential = 1,
                                                                            .check = detail::check_webhook_part,
                                                                            .major_args = 2,
                                                                            .secret_arg = 2};

}  // namespace intg::discord
