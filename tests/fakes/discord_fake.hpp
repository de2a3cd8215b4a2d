// A local fake of Discord's HTTP API (v10) for tests: create and edit messages, list a guild's
// channels, execute a webhook (no bot token: the token is in the path), GET /users/@me; bot
// tokens as `Authorization: Bot <token>`; Discord's error object {"code", "message", "errors"?};
// and Discord's rate limits: every answer of a route carries X-RateLimit-Limit, -Remaining,
// -Reset, -Reset-After and -Bucket; a bucket's limit is per major parameter (channel, guild,
// webhook), the message routes (create and edit) share one bucket hash, as Discord may group
// routes; a request to an exhausted bucket is answered 429 with {"message", "retry_after",
// "global": false, "code": 0} (the description requires `code`) and `X-RateLimit-Scope: user`. Scripted scenarios add a global 429, a shared
// (per-resource) 429, and server errors.
//
// Shapes follow Discord's OpenAPI description (discord/discord-api-spec, openapi.json), which
// every logged exchange is checked against (discord_openapi_validation). Codes are Discord's:
// 0 plain 401/404, 10003 unknown channel, 10004 unknown guild, 10008 unknown message, 10015
// unknown webhook, 50005 another author's message, 50006 empty message, 50027 invalid webhook
// token, 50035 invalid form body.
//
//   fakes::discord_fake fake(io.get_executor());
//   fake.start();                                 // http://127.0.0.1:PORT/api/v10
#pragma once

#include <intg/testing/fake_api.hpp>

#include <boost/json/serialize.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fakes {

class discord_fake {
 public:
  using json_object = boost::json::object;
  using status = boost::beast::http::status;
  using verb = boost::beast::http::verb;
  using http_response = intg::http::server_response;
  static constexpr std::string_view bot_token = "MTAxNTk3.Gx1a2b.intgFakeDiscordBotToken_0123456789ab";
  static constexpr std::string_view bot_id = "1015970000000000001";
  static constexpr std::string_view guild_id = "1015970000000000100";
  static constexpr std::string_view channel_a = "1015970000000000201";  ///< #general
  static constexpr std::string_view channel_b = "1015970000000000202";  ///< #random
  static constexpr std::string_view category_id = "1015970000000000200";
  static constexpr std::string_view webhook_id = "1015970000000000300";  ///< posts into #general
  static constexpr std::string_view webhook_token = "intgFakeWebhookToken-0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJ";
  static constexpr std::string_view messages_bucket = "3cf9a5b7e1d24c6f8a0b9e7d6c5b4a39";

  explicit discord_fake(boost::asio::any_io_executor ex) : api_(ex, options()) {
    api_.require_bearer({std::string(bot_token)}, [](const intg::testing::call&, bool) { return error(status::unauthorized, 0, "401: Unauthorized"); });
    const std::string messages = "/api/v10/channels/{channel_id}/messages";
    api_.route(verb::get, "/api/v10/users/@me", [this](intg::testing::call& c) {
      return limited(c, "b1a2c3d4e5f60718293a4b5c6d7e8f90", "", [] {
        return ok(json_object{{"id", bot_id}, {"username", "intg-bot"}, {"discriminator", "0"}, {"global_name", nullptr},
                              {"avatar", nullptr}, {"bot", true}, {"flags", 0}, {"public_flags", 0}, {"mfa_enabled", false}, {"locale", "en-US"}});
      });
    });
    api_.route(verb::post, messages, [this](intg::testing::call& c) { return create(c); });
    api_.route(verb::patch, messages + "/{message_id}", [this](intg::testing::call& c) { return edit(c); });
    api_.route(verb::get, "/api/v10/guilds/{guild_id}/channels", [this](intg::testing::call& c) { return guild_channels(c); });
    api_.route(verb::post, "/api/v10/webhooks/{webhook_id}/{webhook_token}", [this](intg::testing::call& c) { return execute(c); }, false);
  }

  std::uint16_t start() { return api_.start(); }
  /// The base URL the kit's Discord client takes.
  std::string kit_base_url() const { return api_.base_url() + "/api/v10"; }
  boost::asio::awaitable<void> stop() { co_await api_.stop(); }
  void script(intg::testing::scenario s) { api_.script(std::move(s)); }
  intg::testing::fake_api& api() noexcept { return api_; }
  /// Every bucket allows `limit` requests per `reset_after` (5 per 2 s by default).
  void limits(int limit, std::chrono::milliseconds reset_after) {
    limit_ = limit;
    reset_after_ = reset_after;
  }
  /// 429s the fake's own buckets gave (scripted ones not included).
  int rate_limited_answers() const noexcept { return limited_; }
  /// The Authorization header of the last webhook execution ("" when none was sent).
  const std::string& webhook_authorization() const noexcept { return webhook_authorization_; }

  /// A 429 as Discord sends it: global (every route of the token) or shared (the resource's own
  /// limit, which does not count as an invalid request), `retry_after` seconds.
  static intg::testing::scenario rate_limited(bool global, double retry_after, std::string_view scope = "user") {
    auto s = intg::testing::scenarios::respond(
        status::too_many_requests,
        boost::json::serialize(json_object{{"message", "You are being rate limited."}, {"retry_after", retry_after}, {"global", global}, {"code", 0}}),
        "application/json", global ? "global_rate_limit" : "rate_limited");
    s.response->set("Retry-After", std::to_string(static_cast<int>(std::ceil(retry_after))));
    s.response->set("X-RateLimit-Scope", global ? "global" : scope);
    if (global) s.response->set("X-RateLimit-Global", "true");
    return s;
  }
  static intg::testing::scenario server_error() {
    return intg::testing::scenarios::server_error(status::internal_server_error,
                                                  boost::json::serialize(json_object{{"message", "500: Internal Server Error"}, {"code", 0}}));
  }

 private:
  static http_response error(status s, int code, std::string_view message, json_object errors = {}) {
    json_object o{{"code", code}, {"message", message}};
    if (!errors.empty()) o["errors"] = std::move(errors);
    return intg::http::make_response(s, boost::json::serialize(o), "application/json");
  }
  static http_response ok(const json_object& body) { return intg::http::make_response(status::ok, boost::json::serialize(body), "application/json"); }
  static intg::testing::fake_api_options options() {
    intg::testing::fake_api_options o;
    o.not_found = [](const intg::testing::call&) { return error(status::not_found, 0, "404: Not Found"); };
    o.token_schemes = {"Bot "};
    return o;
  }
  static std::string now_iso() {
    const auto t = std::chrono::system_clock::now();
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.000000+00:00", &tm);
    return buf;
  }
  std::string snowflake() { return std::to_string(1015970000000100000ull + ++sequence_); }

  // The bucket `hash` of the major parameter `major`: answers 429 when exhausted, else runs `f`
  // and adds the bucket's headers to its answer.
  template <class F>
  http_response limited(const intg::testing::call&, std::string_view hash, const std::string& major, F&& f) {
    const auto now = std::chrono::steady_clock::now();
    auto& b = buckets_[std::string(hash) + "|" + major];
    if (now >= b.reset) {
      b.remaining = limit_;
      b.reset = now + reset_after_;
    }
    // Whole milliseconds, rounded up: a client waiting what the header says is not early.
    const double after = std::ceil(std::chrono::duration<double>(b.reset - now).count() * 1000) / 1000;
    http_response res;
    if (b.remaining == 0) {
      ++limited_;
      res = intg::http::make_response(status::too_many_requests,
                                      boost::json::serialize(json_object{{"message", "You are being rate limited."}, {"retry_after", after}, {"global", false}, {"code", 0}}),
                                      "application/json");
      res.set("Retry-After", std::to_string(static_cast<int>(std::ceil(after))));
      res.set("X-RateLimit-Scope", "user");
    } else {
      --b.remaining;
      res = f();
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", after);
    const double epoch = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() + after;
    char reset[32];
    std::snprintf(reset, sizeof reset, "%.3f", epoch);
    res.set("X-RateLimit-Limit", std::to_string(limit_));
    res.set("X-RateLimit-Remaining", std::to_string(b.remaining));
    res.set("X-RateLimit-Reset", reset);
    res.set("X-RateLimit-Reset-After", buf);
    res.set("X-RateLimit-Bucket", hash);
    return res;
  }

  // 50035 with Discord's nested "errors" object naming the field.
  static http_response form_error(std::string_view field, std::string_view message) {
    boost::json::array list;
    list.push_back(json_object{{"code", "BASE_TYPE_MAX_LENGTH"}, {"message", message}});
    json_object at;
    at["_errors"] = std::move(list);
    json_object errors;
    errors[field] = std::move(at);
    return error(status::bad_request, 50035, "Invalid Form Body", std::move(errors));
  }
  // Discord's checks of a message body: content up to 2000 characters, at most 10 embeds, and
  // something to send.
  static std::optional<http_response> invalid_body(const intg::testing::call& c, bool creating) {
    if (!c.body_error.empty()) return error(status::bad_request, 50109, "The request body contains invalid JSON.");
    const auto content = c.arg_str("content");
    if (content.size() > 2000)
      return form_error("content", "Must be 2000 or fewer in length.");
    const auto* embeds = c.arg("embeds");
    const bool has_embeds = embeds && embeds->is_array() && !embeds->get_array().empty();
    if (embeds && embeds->is_array() && embeds->get_array().size() > 10)
      return form_error("embeds", "Must be 10 or fewer in length.");
    if (creating && content.empty() && !has_embeds) return error(status::bad_request, 50006, "Cannot send an empty message");
    return std::nullopt;
  }

  json_object new_message(std::string_view channel, const intg::testing::call& c, json_object author) {
    json_object m{{"id", snowflake()},
                  {"channel_id", channel},
                  {"type", 0},
                  {"content", c.arg_str("content")},
                  {"author", std::move(author)},
                  {"attachments", boost::json::array{}},
                  {"embeds", boost::json::array{}},
                  {"mentions", boost::json::array{}},
                  {"mention_roles", boost::json::array{}},
                  {"pinned", false},
                  {"mention_everyone", false},
                  {"tts", c.arg("tts") && c.arg("tts")->is_bool() && c.arg("tts")->get_bool()},
                  {"timestamp", now_iso()},
                  {"edited_timestamp", nullptr},
                  {"flags", 0},
                  {"components", boost::json::array{}}};
    if (const auto* e = c.arg("embeds"); e && e->is_array()) m["embeds"] = embeds_of(e->get_array());
    return m;
  }
  // Embeds as Discord answers them: what was sent, with "type": "rich".
  static boost::json::array embeds_of(const boost::json::array& in) {
    boost::json::array out;
    for (const auto& e : in) {
      json_object o = e.is_object() ? e.get_object() : json_object{};
      o["type"] = "rich";
      out.push_back(std::move(o));
    }
    return out;
  }
  static json_object bot_author() {
    return {{"id", bot_id}, {"username", "intg-bot"}, {"discriminator", "0"}, {"global_name", nullptr}, {"avatar", nullptr}, {"bot", true},
            {"public_flags", 0}, {"flags", 0}, {"primary_guild", nullptr}};
  }
  static bool known_channel(std::string_view id) { return id == channel_a || id == channel_b; }

  http_response create(const intg::testing::call& c) {
    const auto channel = c.params.at("channel_id");
    return limited(c, messages_bucket, channel, [&] {
      if (!known_channel(channel)) return error(status::not_found, 10003, "Unknown Channel");
      if (auto bad = invalid_body(c, true)) return *bad;
      auto m = new_message(channel, c, bot_author());
      messages_[m.at("id").get_string().c_str()] = m;
      return ok(m);
    });
  }

  http_response edit(const intg::testing::call& c) {
    const auto channel = c.params.at("channel_id");
    return limited(c, messages_bucket, channel, [&] {
      if (!known_channel(channel)) return error(status::not_found, 10003, "Unknown Channel");
      auto it = messages_.find(c.params.at("message_id"));
      if (it == messages_.end() || it->second.at("channel_id").get_string() != channel) return error(status::not_found, 10008, "Unknown Message");
      if (it->second.at("author").at("id").get_string() != bot_id)
        return error(status::forbidden, 50005, "Cannot edit a message authored by another user");
      if (auto bad = invalid_body(c, false)) return *bad;
      auto& m = it->second;
      if (c.arg("content")) m["content"] = c.arg_str("content");
      if (const auto* e = c.arg("embeds"); e && e->is_array()) m["embeds"] = embeds_of(e->get_array());
      m["edited_timestamp"] = now_iso();
      return ok(m);
    });
  }

  http_response guild_channels(const intg::testing::call& c) {
    const auto guild = c.params.at("guild_id");
    return limited(c, "9d8c7b6a5f4e3d2c1b0a99887766554f", guild, [&] {
      if (guild != guild_id) return error(status::not_found, 10004, "Unknown Guild");
      auto channel = [](std::string_view id, int type, std::string_view name, int position, std::string_view parent) {
        json_object o{{"id", id}, {"type", type}, {"guild_id", guild_id}, {"name", name}, {"position", position},
                      {"flags", 0}, {"permission_overwrites", boost::json::array{}}, {"nsfw", false}};
        if (parent.empty()) o["parent_id"] = nullptr;
        else o["parent_id"] = parent;
        if (type == 0) o["topic"] = nullptr, o["last_message_id"] = nullptr, o["rate_limit_per_user"] = 0;
        return o;
      };
      boost::json::array out;
      out.push_back(channel(category_id, 4, "Text Channels", 0, {}));
      out.push_back(channel(channel_a, 0, "general", 0, category_id));
      out.push_back(channel(channel_b, 0, "random", 1, category_id));
      return intg::http::make_response(status::ok, boost::json::serialize(out), "application/json");
    });
  }

  // The webhook's token is its credential: a wrong one is 401 50027 (and the bot token is not
  // needed; Discord ignores it).
  http_response execute(const intg::testing::call& c) {
    const auto id = c.params.at("webhook_id"), token = c.params.at("webhook_token");
    webhook_authorization_ = std::string(c.header("Authorization"));
    return limited(c, "7e6d5c4b3a29180f7e6d5c4b3a291800", id + "/" + token, [&] {
      if (id != webhook_id) return error(status::not_found, 10015, "Unknown Webhook");
      if (token != webhook_token) return error(status::unauthorized, 50027, "Invalid Webhook Token");
      if (auto bad = invalid_body(c, true)) return *bad;
      const auto name = c.arg_str("username");
      json_object author{{"id", webhook_id}, {"username", name.empty() ? "Captain Hook" : name}, {"discriminator", "0000"},
                         {"avatar", nullptr}, {"bot", true}, {"public_flags", 0}, {"flags", 0}, {"global_name", nullptr},
                         {"primary_guild", nullptr}};
      auto m = new_message(channel_a, c, std::move(author));
      m["webhook_id"] = webhook_id;
      messages_[m.at("id").get_string().c_str()] = m;
      if (const auto* w = c.query_params.if_contains("wait"); w && w->is_string() && w->get_string() == "true") return ok(m);
      return intg::http::make_response(status::no_content, "", "");
    });
  }

  struct bucket {
    int remaining = 0;
    std::chrono::steady_clock::time_point reset{};
  };

  intg::testing::fake_api api_;
  std::map<std::string, json_object> messages_;
  std::map<std::string, bucket> buckets_;
  int limit_ = 5;
  std::chrono::milliseconds reset_after_{2000};
  int limited_ = 0;
  std::uint64_t sequence_ = 0;
  std::string webhook_authorization_;
};

}  // namespace fakes
