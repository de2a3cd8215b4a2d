// A local fake of Slack's Web API for tests: chat.postMessage, chat.update, conversations.list,
// conversations.history and auth.test (the health call), under /api/<method> with GET or POST,
// arguments as a query string, a form body or a JSON body, the bot token as
// `Authorization: Bearer xoxb-...` or as a `token` argument, errors as `{"ok":false,"error":...}`
// on HTTP 200, cursor pagination with response_metadata.next_cursor, and 429 + Retry-After for
// the rate-limited scenario (body `{"ok":false,"error":"ratelimited"}`, as Slack sends).
//
// Shapes follow Slack's published OpenAPI description (tests/fakes/slack/, Swagger 2.0, v1.7.0),
// which every logged request and response is validated against (tests/fakes/validate_exchanges.py).
// Where current Slack differs from that old description the fake follows current Slack, and the
// validator lists each such place in tests/fakes/slack/deviations.json with its reason:
//   - conversations.history pages carry `response_metadata.next_cursor` (the description has no
//     cursor in that response) and an empty channel has `messages: []` (it says minItems 1);
//   - conversations.list and conversations.history are POSTed by the official SDK (the
//     description documents GET; Slack accepts both for every method);
//   - rate limiting answers HTTP 429 with error "ratelimited" (the description's enums say
//     "rate_limited", and describe no 429 response); a bad cursor is "invalid_cursor" (not in
//     conversations.history's enum);
//   - an edited message carries `edited: {user, ts}` in conversations.history (not in objs_message).
// Current Slack also sends `context_team_id` and `updated` in conversation objects; the fake omits
// them, since the description's conversation object forbids them and no client needs them.
//
//   fakes::slack_fake fake(io.get_executor());
//   auto port = fake.start();                          // http://127.0.0.1:PORT/api/chat.postMessage
//   fake.script(fakes::slack_fake::rate_limited(std::chrono::seconds(1)));
//   fake.script(verb::post, "/api/chat.postMessage", intg::testing::scenarios::slow(500ms));
#pragma once

#include <intg/security/crypto/encoding.hpp>
#include <intg/testing/fake_api.hpp>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace fakes {

namespace json = boost::json;
namespace http = intg::http;
namespace t = intg::testing;
using verb = boost::beast::http::verb;
using status = boost::beast::http::status;

class slack_fake {
 public:
  static constexpr std::string_view default_token = "xoxb-1111-2222-intgfakebottoken";
  static constexpr std::string_view team_id = "T0INTGFAKE";
  static constexpr std::string_view team_name = "intg fake workspace";
  static constexpr std::string_view bot_user_id = "U0INTGBOT1";
  static constexpr std::string_view bot_id = "B0INTGBOT1";
  static constexpr std::string_view general = "C0GENERAL01";  ///< #general, the bot is a member
  static constexpr std::string_view random = "C0RANDOM001";   ///< #random, the bot is a member
  static constexpr std::string_view secret = "G0SECRET001";   ///< a private channel without the bot
  static constexpr std::string_view archive = "C0ARCHIVE01";  ///< archived

  explicit slack_fake(boost::asio::any_io_executor ex, std::vector<std::string> tokens = {std::string(default_token)})
      : api_(std::move(ex), options()) {
    api_.require_bearer(std::move(tokens), [this](const t::call& c, bool missing) {
      return answer(c, {{"ok", false}, {"error", missing ? "not_authed" : (revoked_.count(c.token) ? "token_revoked" : "invalid_auth")}});
    }, "token");
    add_channel(general, "general", false, true);
    add_channel(random, "random", false, true);
    add_channel(secret, "secret-plans", true, false);
    add_channel(archive, "old-project", false, true, true);
    for (auto& m : {"auth.test", "chat.postMessage", "chat.update", "conversations.list", "conversations.history"}) {
      const std::string route = "/api/" + std::string(m);
      api_.route(verb::post, route, op(m));
      api_.route(verb::get, route, op(m));
    }
  }

  std::uint16_t start() { return api_.start(); }
  std::string base_url() const { return api_.base_url(); }
  /// What SDKs call slackApiUrl: "http://127.0.0.1:PORT/api/".
  std::string api_url() const { return api_.base_url() + "/api/"; }
  boost::asio::awaitable<void> stop() { return api_.stop(); }
  void script(t::scenario s) { api_.script(std::move(s)); }
  void script(verb m, std::string_view route, t::scenario s) { api_.script(m, route, std::move(s)); }
  t::fake_api& api() noexcept { return api_; }
  std::vector<t::exchange> log() const { return api_.log(); }
  /// The token is refused from now on with `token_revoked`.
  void revoke_token(const std::string& token) {
    revoked_.insert(token);
    api_.revoke_token(token);
  }

  /// Adds a channel (before start(), or from the fake's executor).
  void add_channel(std::string_view id, std::string_view name, bool is_private, bool bot_is_member, bool archived = false) {
    channels_.push_back({std::string(id), std::string(name), is_private, bot_is_member, archived, {}});
  }
  /// Forgets every channel's messages (a long-running server, e.g. benchmarks/provider_fake_server,
  /// calls it from the fake's executor so that posted messages do not pile up without bound).
  void clear_messages() {
    for (auto& ch : channels_) ch.messages.clear();
  }
  /// Posts `n` messages from a user into `channel` (test data for history pagination).
  void seed_messages(std::string_view channel, std::size_t n) {
    auto* ch = find_channel(channel);
    if (!ch) return;
    for (std::size_t i = 0; i < n; ++i)
      ch->messages.push_back({{"type", "message"}, {"user", "U0ALICE001"}, {"text", "message " + std::to_string(i + 1)}, {"ts", next_ts()}});
  }

  /// Slack's per-method rate tiers (api.slack.com/apis/rate-limits), per token, over a sliding
  /// minute: Tier 2 (20/min) conversations.list, Tier 3 (50/min) conversations.history and
  /// chat.update, Tier 4 (100/min) auth.test, and chat.postMessage's special limit of about one
  /// message per second per channel (modelled as 60/min per token). Off by default; an excess
  /// call gets 429 with Retry-After in whole seconds until a slot frees.
  void enforce_rate_tiers(bool on = true) {
    if (!on) {
      limits_.clear();
      return;
    }
    set_rate_limit("conversations.list", 20, std::chrono::seconds(60));
    set_rate_limit("conversations.history", 50, std::chrono::seconds(60));
    set_rate_limit("chat.update", 50, std::chrono::seconds(60));
    set_rate_limit("auth.test", 100, std::chrono::seconds(60));
    set_rate_limit("chat.postMessage", 60, std::chrono::seconds(60));
  }
  /// At most `calls` calls of `method` per token within any `window`.
  void set_rate_limit(const std::string& method, std::size_t calls, std::chrono::seconds window) { limits_[method] = {calls, window, {}}; }

  // Scenarios with Slack's own bodies.
  /// HTTP 429 with `Retry-After: seconds` and `{"ok":false,"error":"ratelimited"}`.
  static t::scenario rate_limited(std::chrono::seconds after = std::chrono::seconds(1)) {
    return t::scenarios::rate_limited(t::rate_limit_style::retry_after_seconds, after, R"({"ok":false,"error":"ratelimited"})");
  }
  /// `{"ok":false,"error":<code>}` on HTTP 200 (what Slack does for every API error).
  static t::scenario error(std::string_view code) {
    return t::scenarios::error_body_200(json::serialize(json::object{{"ok", false}, {"error", code}}));
  }
  /// Slack's own 5xx: an HTML page from its edge (use .repeat(n) for a burst).
  static t::scenario server_error(status s = status::service_unavailable) { return t::scenarios::html_error(s); }

 private:
  struct rate_limit {
    std::size_t limit;
    std::chrono::seconds window;
    std::map<std::string, std::deque<std::chrono::steady_clock::time_point>> calls_by_token;
  };
  struct channel {
    std::string id, name;
    bool is_private, member, archived;
    std::vector<json::object> messages;  // oldest first
  };

  static t::fake_api_options options() {
    t::fake_api_options o;
    o.secret_fields = {"token"};
    o.not_found = [](const t::call&) {
      return answer_raw(status::not_found, json::object{{"ok", false}, {"error", "unknown_method"}});
    };
    return o;
  }

  static http::server_response answer_raw(status s, const json::object& body) {
    auto res = http::make_response(s, json::serialize(body), "application/json; charset=utf-8");
    return res;
  }
  static http::server_response answer(const t::call&, const json::object& body) { return answer_raw(status::ok, body); }
  static http::server_response fail(std::string_view code) { return answer_raw(status::ok, {{"ok", false}, {"error", code}}); }

  t::route_handler op(std::string_view method) {
    return [this, m = std::string(method)](t::call& c) {
      http::server_response res = dispatch(m, c);
      char id[32];
      std::snprintf(id, sizeof id, "%016llx", static_cast<unsigned long long>(++requests_ * 0x9E3779B97F4A7C15ull));
      res.set("X-Slack-Req-Id", id);
      res.set("X-OAuth-Scopes", "chat:write,channels:read,channels:history,groups:read,groups:history");
      res.set("X-Accepted-OAuth-Scopes", scopes_for(m));
      return res;
    };
  }

  static std::string_view scopes_for(std::string_view m) {
    if (m == "chat.postMessage" || m == "chat.update") return "chat:write";
    if (m == "conversations.list") return "channels:read,groups:read,mpim:read,im:read";
    if (m == "conversations.history") return "channels:history,groups:history,mpim:history,im:history";
    return "";
  }

  http::server_response dispatch(const std::string& m, t::call& c) {
    if (auto it = limits_.find(m); it != limits_.end()) {
      auto& l = it->second;
      auto& calls = l.calls_by_token[c.token];
      const auto now = std::chrono::steady_clock::now();
      while (!calls.empty() && now - calls.front() >= l.window) calls.pop_front();
      if (calls.size() >= l.limit) {
        const auto wait = std::chrono::ceil<std::chrono::seconds>(calls.front() + l.window - now);
        auto res = answer_raw(status::too_many_requests, {{"ok", false}, {"error", "ratelimited"}});
        res.set(http::field::retry_after, std::to_string(std::max<std::int64_t>(1, wait.count())));
        return res;
      }
      calls.push_back(now);
    }
    if (!c.body_error.empty()) return fail(c.header("Content-Type").find("json") != std::string_view::npos ? "invalid_json" : "invalid_form_data");
    if (m == "auth.test") return auth_test(c);
    if (m == "chat.postMessage") return post_message(c);
    if (m == "chat.update") return update(c);
    if (m == "conversations.list") return list(c);
    return history(c);
  }

  channel* find_channel(std::string_view id_or_name) {
    if (!id_or_name.empty() && id_or_name.front() == '#') id_or_name.remove_prefix(1);
    for (auto& ch : channels_)
      if (ch.id == id_or_name || ch.name == id_or_name) return &ch;
    return nullptr;
  }

  // "1700000000.000100": unique and increasing, like Slack's message timestamps.
  std::string next_ts() {
    const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    last_ts_us_ = std::max<std::int64_t>(now_us, last_ts_us_ + 1);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%010lld.%06lld", static_cast<long long>(last_ts_us_ / 1'000'000), static_cast<long long>(last_ts_us_ % 1'000'000));
    return buf;
  }

  // An argument from the query, form or JSON body, as text (JSON numbers and booleans too).
  static std::string arg(const t::call& c, std::string_view name) {
    auto* v = c.arg(name);
    if (!v) return {};
    if (v->is_string()) return std::string(v->get_string());
    if (v->is_bool()) return v->get_bool() ? "true" : "false";
    if (v->is_number()) return json::serialize(*v);
    return json::serialize(*v);  // blocks / attachments given as JSON
  }
  // Slack's cursors are base64 of "<kind>:<position>".
  static std::string cursor(std::string_view kind, std::string_view pos) {
    return intg::crypto::base64_encode(std::string(kind) + ":" + std::string(pos));
  }
  static std::optional<std::string> uncursor(std::string_view kind, std::string_view cur) {
    auto raw = intg::crypto::base64_decode(cur);
    if (!raw) return std::nullopt;
    const std::string& s = *raw;
    const std::string prefix = std::string(kind) + ":";
    if (s.rfind(prefix, 0) != 0) return std::nullopt;
    return s.substr(prefix.size());
  }
  static std::optional<std::size_t> limit_of(const t::call& c, std::size_t dflt, std::size_t max) {
    const auto l = arg(c, "limit");
    if (l.empty()) return dflt;
    std::size_t n = 0;
    for (char ch : l) {
      if (ch < '0' || ch > '9' || n > 100000) return std::nullopt;
      n = n * 10 + static_cast<std::size_t>(ch - '0');
    }
    return n == 0 ? dflt : std::min(n, max);
  }

  http::server_response auth_test(const t::call& c) {
    return answer(c, {{"ok", true},
                      {"url", "https://intg-fake.slack.com/"},
                      {"team", team_name},
                      {"user", "intg-bot"},
                      {"team_id", team_id},
                      {"user_id", bot_user_id},
                      {"bot_id", bot_id},
                      {"is_enterprise_install", false}});
  }

  json::object bot_message(std::string text, std::string ts) {
    return {{"type", "message"}, {"user", bot_user_id}, {"bot_id", bot_id}, {"text", std::move(text)}, {"ts", std::move(ts)}, {"team", team_id}};
  }

  // Checks common to both chat methods; the channel on success.
  std::variant<channel*, http::server_response> writable_channel(const t::call& c) {
    const auto id = arg(c, "channel");
    auto* ch = find_channel(id);
    if (!ch || (ch->is_private && !ch->member)) return fail("channel_not_found");
    if (ch->archived) return fail("is_archived");
    if (!ch->member) return fail("not_in_channel");
    return ch;
  }

  http::server_response post_message(const t::call& c) {
    auto w = writable_channel(c);
    if (auto* r = std::get_if<http::server_response>(&w)) return *r;
    auto* ch = std::get<channel*>(w);
    const auto text = arg(c, "text");
    const auto* blocks = c.arg("blocks");
    const auto* attachments = c.arg("attachments");
    if (text.empty() && !blocks && !attachments) return fail("no_text");
    if (text.size() > 40000) return fail("msg_too_long");
    auto msg = bot_message(text, next_ts());
    if (blocks) {
      // Blocks arrive as a JSON array (JSON body) or as its text (form body).
      json::value b = *blocks;
      if (b.is_string()) {
        boost::system::error_code ec;
        b = json::parse(b.get_string(), ec);
        if (ec || !b.is_array()) return fail("invalid_blocks");
      }
      if (!b.is_array()) return fail("invalid_blocks");
      msg["blocks"] = b;
    }
    if (const auto thread = arg(c, "thread_ts"); !thread.empty()) msg["thread_ts"] = thread;
    ch->messages.push_back(msg);
    return answer(c, {{"ok", true}, {"channel", ch->id}, {"ts", msg["ts"]}, {"message", msg}});
  }

  http::server_response update(const t::call& c) {
    auto w = writable_channel(c);
    if (auto* r = std::get_if<http::server_response>(&w)) return *r;
    auto* ch = std::get<channel*>(w);
    const auto ts = arg(c, "ts");
    if (ts.empty()) return fail("message_not_found");
    auto it = std::find_if(ch->messages.begin(), ch->messages.end(), [&](const json::object& m) { return m.at("ts").get_string() == ts; });
    if (it == ch->messages.end()) return fail("message_not_found");
    if (!it->contains("bot_id") || it->at("bot_id") != json::value(bot_id)) return fail("cant_update_message");
    const auto text = arg(c, "text");
    if (text.empty() && !c.arg("blocks") && !c.arg("attachments")) return fail("no_text");
    if (text.size() > 40000) return fail("msg_too_long");
    (*it)["text"] = text;
    (*it)["edited"] = {{"user", bot_user_id}, {"ts", next_ts()}};
    json::object shown{{"type", "message"}, {"text", text}, {"user", bot_user_id}, {"bot_id", bot_id}, {"edited", it->at("edited")}};
    return answer(c, {{"ok", true}, {"channel", ch->id}, {"ts", ts}, {"text", text}, {"message", std::move(shown)}});
  }

  json::object conversation(const channel& ch) const {
    json::object empty_topic{{"value", ""}, {"creator", ""}, {"last_set", 0}};
    return {{"id", ch.id},
            {"name", ch.name},
            {"is_channel", !ch.is_private},
            {"is_group", ch.is_private},
            {"is_im", false},
            {"is_mpim", false},
            {"is_private", ch.is_private},
            {"created", 1700000000},
            {"is_archived", ch.archived},
            {"is_general", ch.id == general},
            {"unlinked", 0},
            {"name_normalized", ch.name},
            {"is_shared", false},
            {"is_org_shared", false},
            {"is_pending_ext_shared", false},
            {"pending_shared", json::array{}},
            {"parent_conversation", nullptr},
            {"creator", "U0ALICE001"},
            {"is_ext_shared", false},
            {"shared_team_ids", json::array{team_id}},
            {"pending_connected_team_ids", json::array{}},
            {"is_member", ch.member},
            {"topic", empty_topic},
            {"purpose", empty_topic},
            {"previous_names", json::array{}},
            {"num_members", ch.member ? 2 : 1}};
  }

  http::server_response list(const t::call& c) {
    auto types = arg(c, "types");
    if (types.empty()) types = "public_channel";
    const bool want_public = types.find("public_channel") != std::string::npos, want_private = types.find("private_channel") != std::string::npos;
    if (!want_public && !want_private && types.find("im") == std::string::npos && types.find("mpim") == std::string::npos)
      return fail("invalid_types");
    const bool exclude_archived = arg(c, "exclude_archived") == "true" || arg(c, "exclude_archived") == "1";
    const auto limit = limit_of(c, 100, 1000);
    if (!limit) return fail("invalid_limit");
    std::vector<const channel*> visible;
    for (auto& ch : channels_) {
      if (ch.is_private ? !(want_private && ch.member) : !want_public) continue;  // private: only those the bot is in
      if (exclude_archived && ch.archived) continue;
      visible.push_back(&ch);
    }
    std::size_t from = 0;
    if (const auto cur = arg(c, "cursor"); !cur.empty()) {
      auto pos = uncursor("team", cur);
      auto it = pos ? std::find_if(visible.begin(), visible.end(), [&](const channel* ch) { return ch->id == *pos; }) : visible.end();
      if (it == visible.end()) return fail("invalid_cursor");
      from = static_cast<std::size_t>(it - visible.begin());
    }
    const std::size_t to = std::min(visible.size(), from + *limit);
    json::array out;
    for (auto i = from; i < to; ++i) out.push_back(conversation(*visible[i]));
    return answer(c, {{"ok", true},
                      {"channels", std::move(out)},
                      {"response_metadata", {{"next_cursor", to < visible.size() ? cursor("team", visible[to]->id) : std::string()}}}});
  }

  http::server_response history(const t::call& c) {
    auto* ch = find_channel(arg(c, "channel"));
    if (!ch || (ch->is_private && !ch->member)) return fail("channel_not_found");
    if (!ch->member) return fail("not_in_channel");
    const auto limit = limit_of(c, 100, 999);
    if (!limit) return fail("invalid_limit");
    const auto oldest = arg(c, "oldest"), latest = arg(c, "latest");
    const bool inclusive = arg(c, "inclusive") == "true" || arg(c, "inclusive") == "1";
    // Newest first; ts strings of equal length compare like numbers.
    std::vector<const json::object*> msgs;
    for (auto it = ch->messages.rbegin(); it != ch->messages.rend(); ++it) {
      const std::string_view ts = it->at("ts").get_string();
      if (!latest.empty() && (inclusive ? ts > latest : ts >= latest)) continue;
      if (!oldest.empty() && (inclusive ? ts < oldest : ts <= oldest)) continue;
      msgs.push_back(&*it);
    }
    std::size_t from = 0;
    if (const auto cur = arg(c, "cursor"); !cur.empty()) {
      auto pos = uncursor("next_ts", cur);
      auto it = pos ? std::find_if(msgs.begin(), msgs.end(), [&](const json::object* m) { return m->at("ts").get_string() == *pos; }) : msgs.end();
      if (it == msgs.end()) return fail("invalid_cursor");
      from = static_cast<std::size_t>(it - msgs.begin());
    }
    const std::size_t to = std::min(msgs.size(), from + *limit);
    json::array out;
    for (auto i = from; i < to; ++i) out.push_back(*msgs[i]);
    const bool more = to < msgs.size();
    json::object body{{"ok", true}, {"messages", std::move(out)}, {"has_more", more}, {"pin_count", 0}, {"channel_actions_ts", nullptr}, {"channel_actions_count", 0}};
    if (more) body["response_metadata"] = {{"next_cursor", cursor("next_ts", msgs[to]->at("ts").get_string())}};
    return answer(c, body);
  }

  t::fake_api api_;
  std::vector<channel> channels_;
  std::set<std::string, std::less<>> revoked_;
  std::map<std::string, rate_limit, std::less<>> limits_;
  std::int64_t last_ts_us_ = 0;
  std::uint64_t requests_ = 0;
};

}  // namespace fakes
