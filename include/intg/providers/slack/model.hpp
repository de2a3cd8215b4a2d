// Slack Web API objects and method arguments, declared once with Boost.Describe; intg::rest
// decodes and form-encodes them (Slack's methods take form fields, as its OpenAPI description
// says). Unknown fields are ignored: Slack adds fields all the time.
#pragma once

#include <boost/describe.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace intg::slack {

struct message {
  std::string type{}, ts{};
  std::optional<std::string> text{}, user{}, bot_id{}, thread_ts{}, subtype{};
};
BOOST_DESCRIBE_STRUCT(message, (), (type, ts, text, user, bot_id, thread_ts, subtype))

struct channel {
  std::string id{};
  std::optional<std::string> name{};
  std::optional<bool> is_channel{}, is_private{}, is_archived{}, is_member{};
  std::optional<std::int64_t> created{}, num_members{};
};
BOOST_DESCRIBE_STRUCT(channel, (), (id, name, is_channel, is_private, is_archived, is_member, created, num_members))

struct posted_message {
  std::string channel{}, ts{};
  slack::message message{};
};
BOOST_DESCRIBE_STRUCT(posted_message, (), (channel, ts, message))

struct updated_message {
  std::string channel{}, ts{}, text{};
};
BOOST_DESCRIBE_STRUCT(updated_message, (), (channel, ts, text))

struct identity {  ///< auth.test
  std::string url{}, team{}, user{}, team_id{}, user_id{};
  std::optional<std::string> bot_id{};
};
BOOST_DESCRIBE_STRUCT(identity, (), (url, team, user, team_id, user_id, bot_id))

// ---- method arguments ------------------------------------------------------------------------

/// chat.postMessage: `text`, or `blocks` (a JSON array as text) with `text` as the fallback.
struct post_message_args {
  std::string channel{};
  std::optional<std::string> text{}, blocks{}, thread_ts{}, username{}, icon_emoji{};
  std::optional<bool> mrkdwn{}, unfurl_links{}, reply_broadcast{};
};
BOOST_DESCRIBE_STRUCT(post_message_args, (), (channel, text, blocks, thread_ts, username, icon_emoji, mrkdwn, unfurl_links,
                                              reply_broadcast))

struct update_message_args {
  std::string channel{}, ts{};
  std::optional<std::string> text{}, blocks{};
};
BOOST_DESCRIBE_STRUCT(update_message_args, (), (channel, ts, text, blocks))

/// conversations.list; `cursor` is set by the kit while it pages.
struct list_conversations_args {
  std::optional<std::string> types{}, cursor{};  ///< types: public_channel,private_channel,mpim,im
  std::optional<bool> exclude_archived{};
  std::optional<std::int64_t> limit{};           ///< up to 1000; Slack advises 200 or fewer
};
BOOST_DESCRIBE_STRUCT(list_conversations_args, (), (types, cursor, exclude_archived, limit))

struct history_args {
  std::string channel{};
  std::optional<std::string> oldest{}, latest{}, cursor{};
  std::optional<bool> inclusive{};
  std::optional<std::int64_t> limit{};
};
BOOST_DESCRIBE_STRUCT(history_args, (), (channel, oldest, latest, cursor, inclusive, limit))

}  // namespace intg::slack
