// Discord objects and parameters (API v10), declared once with Boost.Describe; intg::rest decodes
// and JSON-encodes them. Snowflakes are strings, as Discord sends them (they overflow a double).
// Only the fields these operations need: the kit ignores the others.
#pragma once

#include <boost/describe.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace intg::discord {

using opt_string = std::optional<std::string>;
using opt_int = std::optional<std::int64_t>;

struct user {
  std::string id{}, username{};
  opt_string global_name{};
  std::optional<bool> bot{};
};
BOOST_DESCRIBE_STRUCT(user, (), (id, username, global_name, bot))

/// A rich embed (the common fields; color is 0xRRGGBB).
struct embed {
  opt_string title{}, description{}, url{};
  opt_int color{};
};
BOOST_DESCRIBE_STRUCT(embed, (), (title, description, url, color))

struct message {
  std::string id{}, channel_id{};
  std::string content{};
  std::optional<user> author{};
  opt_string timestamp{}, edited_timestamp{}, webhook_id{};  ///< ISO 8601
  std::optional<std::vector<embed>> embeds{};
  opt_int flags{}, type{};
};
BOOST_DESCRIBE_STRUCT(message, (), (id, channel_id, content, author, timestamp, edited_timestamp, webhook_id, embeds, flags, type))

/// A guild channel: type 0 text, 2 voice, 4 category, 5 announcement, 13 stage, 15 forum.
struct channel {
  std::string id{};
  std::int64_t type = 0;
  opt_string guild_id{}, name{}, topic{}, parent_id{};
  opt_int position{};
};
BOOST_DESCRIBE_STRUCT(channel, (), (id, type, guild_id, name, topic, parent_id, position))

/// POST /channels/{channel.id}/messages: `content` (up to 2000 characters) or `embeds`.
struct message_params {
  opt_string content{};
  std::optional<bool> tts{};
  std::optional<std::vector<embed>> embeds{};
  opt_int flags{};
};
BOOST_DESCRIBE_STRUCT(message_params, (), (content, tts, embeds, flags))

/// PATCH /channels/{channel.id}/messages/{message.id}: the fields to replace.
struct edit_params {
  opt_string content{};
  std::optional<std::vector<embed>> embeds{};
  opt_int flags{};
};
BOOST_DESCRIBE_STRUCT(edit_params, (), (content, embeds, flags))

/// POST /webhooks/{webhook.id}/{webhook.token}: `username` and `avatar_url` override the webhook's.
struct webhook_params {
  opt_string content{}, username{}, avatar_url{};
  std::optional<bool> tts{};
  std::optional<std::vector<embed>> embeds{};
};
BOOST_DESCRIBE_STRUCT(webhook_params, (), (content, username, avatar_url, tts, embeds))

}  // namespace intg::discord
