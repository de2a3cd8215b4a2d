// A local fake of Twilio's Programmable Messaging API (2010-04-01) for tests: Messages create,
// fetch, list, update (redact the body; cancel a scheduled message) and delete under
// /2010-04-01/Accounts/{AccountSid}/, HTTP Basic with the account SID and auth token or an API
// key pair, form bodies, errors as {"code", "message", "more_info", "status"}, page-token paging
// with next_page_uri, and status callbacks: when a message names a StatusCallback, the fake posts
// its progress there (sent, then delivered, or failed/undelivered for Twilio's magic test numbers)
// as Twilio does, signed with X-Twilio-Signature over the callback URL and the sorted parameters.
//
// Shapes follow Twilio's OpenAPI description (twilio_api_v2010.json, vendored in tests/fakes/twilio/),
// which every logged exchange is validated against (twilio_openapi_validation). Error codes are
// Twilio's documented ones: 20003 authenticate, 20404 not found, 20429 too many requests, 21211
// invalid To, 21602 body required, 21603 From required, 21604 To required, 21606 From not
// owned, 21614 To not a mobile number, 30409 message cannot be canceled.
//
//   fakes::twilio_fake fake(io.get_executor());
//   fake.start();                                 // http://127.0.0.1:PORT/2010-04-01/Accounts/AC.../
//   fake.script(fakes::twilio_fake::rate_limited());
#pragma once

#include <intg/http/client.hpp>
#include <intg/security/webhook.hpp>
#include <intg/testing/fake_api.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fakes {

namespace json = boost::json;
namespace http = intg::http;
namespace t = intg::testing;
using verb = boost::beast::http::verb;
using status = boost::beast::http::status;

class twilio_fake {
 public:
  static constexpr std::string_view account_sid = "AC0123456789abcdef0123456789abcdef";
  static constexpr std::string_view auth_token = "f1e2d3c4b5a6978877665544332211aa";
  static constexpr std::string_view api_key_sid = "SK0123456789abcdef0123456789abcdef";
  static constexpr std::string_view api_key_secret = "intgFakeApiKeySecret0123456789AB";
  static constexpr std::string_view from_number = "+15005550006";  ///< a number the account owns
  static constexpr std::string_view service_sid = "MG0123456789abcdef0123456789abcdef";
  /// Twilio's magic test numbers: invalid, and not able to receive SMS.
  static constexpr std::string_view invalid_to = "+15005550001";
  static constexpr std::string_view unreachable_to = "+15005550009";
  /// Accepted, then reported `undelivered` (error 30003) to the status callback.
  static constexpr std::string_view undelivered_to = "+15005550013";

  explicit twilio_fake(boost::asio::any_io_executor ex)
      : api_(ex, options()), callbacks_(std::make_unique<http::client>(ex)) {
    api_.require_bearer({std::string(account_sid) + ":" + std::string(auth_token), std::string(api_key_sid) + ":" + std::string(api_key_secret)},
                        [](const t::call&, bool) { return error(status::unauthorized, 20003, "Authenticate"); });
    const std::string list = "/2010-04-01/Accounts/{AccountSid}/Messages.json", one = "/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json";
    api_.route(verb::post, list, [this](t::call& c) { return in_account(c, [&] { return create(c); }); });
    api_.route(verb::get, list, [this](t::call& c) { return in_account(c, [&] { return list_messages(c); }); });
    api_.route(verb::get, one, [this](t::call& c) { return in_account(c, [&] { return fetch(c); }); });
    api_.route(verb::post, one, [this](t::call& c) { return in_account(c, [&] { return update(c); }); });
    api_.route(verb::delete_, one, [this](t::call& c) { return in_account(c, [&] { return remove(c); }); });
  }

  std::uint16_t start() { return api_.start(); }
  std::string base_url() const { return api_.base_url(); }
  /// The base URL the kit's Twilio client takes: the account SID fills {account_sid}.
  std::string kit_base_url() const { return api_.base_url() + "/2010-04-01/Accounts/{account_sid}"; }
  boost::asio::awaitable<void> stop() {
    callbacks_->close_idle();
    co_await api_.stop();
  }
  void script(t::scenario s) { api_.script(std::move(s)); }
  void script(verb m, std::string_view route, t::scenario s) { api_.script(m, route, std::move(s)); }
  t::fake_api& api() noexcept { return api_; }
  /// Status callbacks posted so far (and failed deliveries).
  std::size_t callbacks_sent() const noexcept { return callbacks_sent_; }
  std::size_t callbacks_failed() const noexcept { return callbacks_failed_; }
  /// Forgets every message (a long-running server, e.g. benchmarks/provider_fake_server, calls it
  /// from the fake's executor so that created messages do not pile up).
  void clear_messages() { messages_.clear(); }
  /// Adds `n` delivered messages to the account (test data for paging).
  void seed_messages(std::size_t n, std::string_view to = "+15558675310") {
    for (std::size_t i = 0; i < n; ++i) {
      auto m = new_message(std::string(to), std::string(from_number), "seeded " + std::to_string(i + 1), {});
      m["status"] = "delivered";
      m["date_sent"] = m["date_created"];
      messages_.push_back(std::move(m));
    }
  }

  /// 429 with Twilio's code 20429 (Twilio sends no Retry-After: clients back off on their own).
  static t::scenario rate_limited() {
    t::scenario s = t::scenarios::respond(status::too_many_requests, json::serialize(error_object(429, 20429, "Too Many Requests")),
                                          "application/json", "rate_limited");
    return s;
  }
  /// A 500 with Twilio's error object (use .repeat(n) for a burst).
  static t::scenario server_error() {
    return t::scenarios::server_error(status::internal_server_error, json::serialize(error_object(500, 20500, "Internal Server Error")));
  }

 private:
  static json::object error_object(int http_status, int code, std::string_view message) {
    return {{"code", code}, {"message", message}, {"more_info", "https://www.twilio.com/docs/errors/" + std::to_string(code)}, {"status", http_status}};
  }
  static http::server_response error(status s, int code, std::string_view message) {
    return http::make_response(s, json::serialize(error_object(static_cast<int>(s), code, message)), "application/json");
  }
  static http::server_response ok(status s, const json::object& body) { return http::make_response(s, json::serialize(body), "application/json"); }

  static t::fake_api_options options() {
    t::fake_api_options o;
    o.not_found = [](const t::call& c) {
      return error(status::not_found, 20404, "The requested resource " + c.path + " was not found");
    };
    return o;
  }

  template <class F>
  http::server_response in_account(const t::call& c, F&& f) {
    if (c.params.at("AccountSid") != account_sid) return error(status::not_found, 20404, "The requested resource " + c.path + " was not found");
    if (!c.body_error.empty()) return error(status::bad_request, 20001, "Could not parse the form body");
    return f();
  }

  std::string new_sid(std::string_view prefix) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.2s%032llx", prefix.data(), static_cast<unsigned long long>(++sequence_ * 0x9E3779B97F4A7C15ull));
    return buf;
  }
  // RFC 2822 dates, as Twilio writes them.
  static std::string rfc2822(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    return buf;
  }
  std::string now_date() { return rfc2822(std::time(nullptr)); }
  static std::string uri_of(std::string_view sid) {
    return "/2010-04-01/Accounts/" + std::string(account_sid) + "/Messages/" + std::string(sid) + ".json";
  }
  static bool e164(std::string_view n) {
    if (n.size() < 3 || n.size() > 16 || n[0] != '+' || n[1] == '0') return false;
    return std::all_of(n.begin() + 1, n.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  }

  json::object new_message(std::string to, std::string from, std::string body, std::string service) {
    const std::string sid = new_sid("SM");
    const auto date = now_date();
    return {{"account_sid", account_sid},
            {"api_version", "2010-04-01"},
            {"body", std::move(body)},
            {"date_created", date},
            {"date_sent", nullptr},
            {"date_updated", date},
            {"direction", "outbound-api"},
            {"error_code", nullptr},
            {"error_message", nullptr},
            {"from", from.empty() ? json::value(nullptr) : json::value(from)},
            {"messaging_service_sid", service.empty() ? json::value(nullptr) : json::value(service)},
            {"num_media", "0"},
            {"num_segments", "1"},
            {"price", nullptr},
            {"price_unit", "USD"},
            {"sid", sid},
            {"status", "queued"},
            {"subresource_uris", {{"media", "/2010-04-01/Accounts/" + std::string(account_sid) + "/Messages/" + sid + "/Media.json"}}},
            {"to", std::move(to)},
            {"uri", uri_of(sid)}};
  }

  json::object* find(std::string_view sid) {
    for (auto& m : messages_)
      if (m.at("sid").get_string() == sid) return &m;
    return nullptr;
  }

  http::server_response create(const t::call& c) {
    const std::string to(c.arg_str("To")), from(c.arg_str("From")), service(c.arg_str("MessagingServiceSid"));
    const std::string body(c.arg_str("Body")), media(c.arg_str("MediaUrl")), content(c.arg_str("ContentSid"));
    if (to.empty()) return error(status::bad_request, 21604, "A 'To' phone number is required.");
    if (from.empty() && service.empty()) return error(status::bad_request, 21603, "A 'From' phone number is required.");
    if (body.empty() && media.empty() && content.empty()) return error(status::bad_request, 21602, "Message body is required.");
    if (!e164(to) || to == invalid_to) return error(status::bad_request, 21211, "The 'To' number " + to + " is not a valid phone number.");
    if (to == unreachable_to) return error(status::bad_request, 21614, "'To' number is not a valid mobile number");
    if (!from.empty() && from != from_number)
      return error(status::bad_request, 21606, "The From phone number " + from + " is not a valid, SMS-capable inbound phone number or short code for your account.");
    if (!service.empty() && service != service_sid) return error(status::not_found, 20404, "The requested resource /Services/" + service + " was not found");
    auto m = new_message(to, from.empty() ? std::string(from_number) : from, body, service);
    const bool scheduled = c.arg_str("ScheduleType") == "fixed" && !service.empty();
    if (scheduled) m["status"] = "scheduled";
    else if (!service.empty()) m["status"] = "accepted";
    messages_.push_back(m);
    if (const auto cb = c.arg_str("StatusCallback"); !cb.empty() && !scheduled) {
      progress(std::string(cb), std::string(m.at("sid").get_string()), {"sent", to == undelivered_to ? "undelivered" : "delivered"});
    } else if (!scheduled) {
      advance(m.at("sid").get_string(), to == undelivered_to ? "undelivered" : "delivered");
    }
    return ok(status::created, m);
  }

  // Moves a message to `state` as Twilio's pipeline would (sent, then delivered or undelivered).
  void advance(std::string_view sid, std::string_view state) {
    auto* m = find(sid);
    if (!m || m->at("status") == "canceled") return;
    (*m)["status"] = state;
    (*m)["date_updated"] = now_date();
    if (state == "sent" || state == "delivered") (*m)["date_sent"] = (*m)["date_updated"];
    if (state == "delivered" || state == "sent") (*m)["price"] = "-0.00790";
    if (state == "undelivered") {
      (*m)["error_code"] = 30003;
      (*m)["error_message"] = "Unreachable destination handset";
    }
  }

  // Posts each state to the callback in order, as Twilio does: form parameters, signed.
  void progress(std::string url, std::string sid, std::vector<std::string> states) {
    boost::asio::co_spawn(api_.get_executor(), [this, url = std::move(url), sid = std::move(sid), states = std::move(states)]() -> boost::asio::awaitable<void> {
      for (const auto& state : states) {
        advance(sid, state);
        const auto* m = find(sid);
        if (!m) co_return;
        intg::webhook::twilio_params p{{"AccountSid", std::string(account_sid)}, {"ApiVersion", "2010-04-01"},
                                       {"From", std::string(m->at("from").get_string())}, {"MessageSid", sid},
                                       {"MessageStatus", state}, {"SmsSid", sid}, {"SmsStatus", state},
                                       {"To", std::string(m->at("to").get_string())}};
        if (state == "undelivered") p.emplace_back("ErrorCode", "30003");
        http::query form;
        for (const auto& [k, v] : p) form.add(k, v);
        auto req = http::request::make(verb::post, url);
        if (!req) {
          ++callbacks_failed_;
          co_return;
        }
        req->form(form);
        req->set("X-Twilio-Signature", intg::webhook::sign_twilio(url, p, auth_token));
        req->set(http::field::user_agent, "TwilioProxy/1.1");
        auto res = co_await callbacks_->send(*req);
        if (res && res->result_int() < 300) ++callbacks_sent_;
        else ++callbacks_failed_;
      }
    }, boost::asio::detached);
  }

  http::server_response fetch(const t::call& c) {
    auto* m = find(c.params.at("Sid"));
    if (!m) return error(status::not_found, 20404, "The requested resource " + c.path + " was not found");
    return ok(status::ok, *m);
  }

  http::server_response update(const t::call& c) {
    auto* m = find(c.params.at("Sid"));
    if (!m) return error(status::not_found, 20404, "The requested resource " + c.path + " was not found");
    if (const auto* b = c.arg("Body")) {
      if (!b->is_string() || !b->get_string().empty()) return error(status::bad_request, 20001, "Body may only be set to an empty string (redaction)");
      (*m)["body"] = "";
    }
    if (const auto s = c.arg_str("Status"); !s.empty()) {
      if (s != "canceled" || m->at("status") != "scheduled") return error(status::bad_request, 30409, "This message cannot be canceled");
      (*m)["status"] = "canceled";
    }
    (*m)["date_updated"] = now_date();
    return ok(status::ok, *m);
  }

  http::server_response remove(const t::call& c) {
    auto it = std::find_if(messages_.begin(), messages_.end(), [&](const json::object& m) { return m.at("sid").get_string() == c.params.at("Sid"); });
    if (it == messages_.end()) return error(status::not_found, 20404, "The requested resource " + c.path + " was not found");
    messages_.erase(it);
    return http::make_response(status::no_content, "", "");
  }

  // Newest first; PageSize (default 50, at most 1000), Page and PageToken ("PA" + the last SID of
  // the previous page) as Twilio's next_page_uri carries them.
  http::server_response list_messages(const t::call& c) {
    const std::string to(c.arg_str("To")), from(c.arg_str("From"));
    std::int64_t size = 50, page = 0;
    auto number = [&](std::string_view name, std::int64_t& out, std::int64_t lo, std::int64_t hi) {
      const auto text = c.arg_str(name);
      if (text.empty()) return true;
      std::int64_t v = 0;
      for (char ch : text) {
        if (ch < '0' || ch > '9' || v > 1000000) return false;
        v = v * 10 + (ch - '0');
      }
      if (v < lo || v > hi) return false;
      out = v;
      return true;
    };
    if (!number("PageSize", size, 1, 1000) || !number("Page", page, 0, 1000000)) return error(status::bad_request, 20001, "Invalid paging parameter");
    std::vector<const json::object*> matching;
    for (auto it = messages_.rbegin(); it != messages_.rend(); ++it) {
      if (!to.empty() && it->at("to") != json::value(to)) continue;
      if (!from.empty() && it->at("from") != json::value(from)) continue;
      matching.push_back(&*it);
    }
    std::size_t first = 0;
    if (const auto token = c.arg_str("PageToken"); !token.empty()) {
      auto it = std::find_if(matching.begin(), matching.end(), [&](const json::object* m) { return "PA" + std::string(m->at("sid").get_string()) == token; });
      if (it == matching.end()) return error(status::bad_request, 20001, "Invalid PageToken");
      first = static_cast<std::size_t>(it - matching.begin()) + 1;
    } else {
      first = static_cast<std::size_t>(page * size);
    }
    const std::size_t last = std::min(matching.size(), first + static_cast<std::size_t>(size));
    json::array out;
    for (std::size_t i = first; i < last; ++i) out.push_back(*matching[i]);
    const std::string base = "/2010-04-01/Accounts/" + std::string(account_sid) + "/Messages.json";
    std::string filters;
    if (!to.empty()) filters += "To=" + http::percent_encode(to) + "&";
    if (!from.empty()) filters += "From=" + http::percent_encode(from) + "&";
    const std::string size_q = "PageSize=" + std::to_string(size);
    json::object body{{"end", last == first ? 0 : static_cast<std::int64_t>(last) - 1},
                      {"first_page_uri", base + "?" + filters + size_q + "&Page=0"},
                      {"next_page_uri", nullptr},
                      {"page", page},
                      {"page_size", size},
                      {"previous_page_uri", nullptr},
                      {"start", static_cast<std::int64_t>(first)},
                      {"uri", base + "?" + filters + size_q + "&Page=" + std::to_string(page)},
                      {"messages", std::move(out)}};
    if (last < matching.size())
      body["next_page_uri"] = base + "?" + filters + size_q + "&Page=" + std::to_string(page + 1) + "&PageToken=PA" +
                              std::string(matching[last - 1]->at("sid").get_string());
    if (page > 0) body["previous_page_uri"] = base + "?" + filters + size_q + "&Page=" + std::to_string(page - 1);
    return ok(status::ok, body);
  }

  t::fake_api api_;
  std::unique_ptr<http::client> callbacks_;
  std::vector<json::object> messages_;  // oldest first
  std::uint64_t sequence_ = 0;
  std::size_t callbacks_sent_ = 0, callbacks_failed_ = 0;
};

}  // namespace fakes
