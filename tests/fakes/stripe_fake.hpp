// A local fake of the Stripe API (v1) for tests: customers, payment intents, refunds, events and
// the balance, with Stripe's object shapes ("object": "customer", list objects, error objects
// {"error": {type, code, decline_code, param, message, doc_url}}), form bodies with nested keys,
// Idempotency-Key semantics (same key and parameters: the stored answer replayed with
// `Idempotent-Replayed: true`; other parameters: 400 idempotency_error), Stripe-Account scoping
// and starting_after / ending_before / limit pagination, newest first.
//
// Shapes follow Stripe's API reference (docs.stripe.com/api) as of API version 2025-03-31.basil,
// the newest whose object fields we checked field by field; the official SDK pinned in
// tests/fakes/sdk (stripe 23.1.0) sends `Stripe-Version: 2026-10-28.endive`, and the fake echoes
// whatever version a request names. Stripe's OpenAPI file is too large to vendor: the official
// SDK driving every operation (tests/fakes/sdk/stripe.js) is the conformance check.
// Simplifications: no Basic auth (the SDKs send Bearer), no expansion (`expand` is accepted and
// ignored), one charge per payment intent, test mode only (livemode false).
//
//   fakes::stripe_fake fake(io.get_executor());
//   auto port = fake.start();                                  // http://127.0.0.1:PORT/v1/...
//   fake.script(fakes::stripe_fake::rate_limited(std::chrono::seconds(1)));
//   fake.script(verb::post, "/v1/customers", intg::testing::scenarios::truncated());
#pragma once

#include <intg/testing/fake_api.hpp>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fakes {

namespace json = boost::json;
namespace http = intg::http;
namespace t = intg::testing;
using verb = boost::beast::http::verb;
using status = boost::beast::http::status;

class stripe_fake {
 public:
  static constexpr std::string_view default_key = "sk_test_intg_fake_4eC39HqLyjWDarjtT1zdp7dc";
  static constexpr std::string_view default_api_version = "2025-03-31.basil";

  explicit stripe_fake(boost::asio::any_io_executor ex, std::vector<std::string> keys = {std::string(default_key)})
      : api_(std::move(ex), options()) {
    api_.require_bearer(std::move(keys), [this](const t::call& c, bool missing) {
      auto res = reject(c, missing);
      res.set("Request-Id", new_id("req"));  // Stripe identifies refused requests too
      return res;
    });
    add_routes();
  }

  /// Listens on 127.0.0.1 and an ephemeral port; returns the port.
  std::uint16_t start() { return api_.start(); }
  std::string base_url() const { return api_.base_url(); }
  boost::asio::awaitable<void> stop() { return api_.stop(); }
  void script(t::scenario s) { api_.script(std::move(s)); }
  void script(verb m, std::string_view route, t::scenario s) { api_.script(m, route, std::move(s)); }
  t::fake_api& api() noexcept { return api_; }
  std::vector<t::exchange> log() const { return api_.log(); }
  /// Secret keys the fake stops accepting, as if rolled or expired.
  void revoke_key(std::string_view key) { api_.revoke_token(key); }

  // Scenarios with Stripe's own bodies.
  /// 429 with Stripe's rate-limit error and `Retry-After: seconds`.
  static t::scenario rate_limited(std::chrono::seconds after = std::chrono::seconds(1)) {
    return t::scenarios::rate_limited(t::rate_limit_style::retry_after_seconds, after,
                                      error_body("invalid_request_error",
                                                 "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests.",
                                                 "rate_limit"));
  }
  /// A 500 api_error (use .repeat(n) for a burst).
  static t::scenario api_error(status s = status::internal_server_error) {
    return t::scenarios::server_error(s, error_body("api_error", "An unknown error occurred. Please try again later."));
  }
  /// 401 api_key_expired.
  static t::scenario expired_key() {
    auto sc = t::scenarios::respond(status::unauthorized,
                                    error_body("invalid_request_error", "Expired API Key provided: sk_test_********dp7dc", "api_key_expired"),
                                    "application/json", "expired_token");
    return sc;
  }

 private:
  struct stored {
    std::string account;  // "" for the platform, else the Stripe-Account it was created under
    json::object obj;
  };
  struct idem_entry {
    std::string method, path;
    json::object params;
    http::server_response response;
  };

  static t::fake_api_options options() {
    t::fake_api_options o;
    o.not_found = [](const t::call& c) {
      return http::make_response(status::not_found,
                                 error_body("invalid_request_error", "Unrecognized request URL (" + c.method + ": " + c.path +
                                                                         "). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."));
    };
    return o;
  }

  // {"error": {...}} with the optional members only when set, as Stripe does.
  static std::string error_body(std::string_view type, std::string_view message, std::string_view code = {},
                                std::string_view param = {}, std::string_view decline_code = {}) {
    json::object e;
    if (!code.empty()) {
      e["code"] = code;
      std::string slug(code);
      std::replace(slug.begin(), slug.end(), '_', '-');
      e["doc_url"] = "https://stripe.com/docs/error-codes/" + slug;
    }
    if (!decline_code.empty()) e["decline_code"] = decline_code;
    e["message"] = message;
    if (!param.empty()) e["param"] = param;
    e["type"] = type;
    return json::serialize(json::object{{"error", std::move(e)}});
  }

  static http::server_response reject(const t::call& c, bool missing) {
    if (missing)
      return http::make_response(status::unauthorized,
                                 error_body("invalid_request_error",
                                            "You did not provide an API key. You need to provide your API key in the Authorization header, "
                                            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication "
                                            "for details, or we can help at https://support.stripe.com/."));
    // Stripe shows the key's last four characters only.
    std::string shown = c.token.size() > 4 ? c.token.substr(0, std::min<std::size_t>(8, c.token.size() - 4)) + "****" + c.token.substr(c.token.size() - 4) : "****";
    return http::make_response(status::unauthorized, error_body("invalid_request_error", "Invalid API Key provided: " + shown));
  }

  static http::server_response error(status s, std::string_view type, std::string_view message, std::string_view code = {},
                                     std::string_view param = {}, std::string_view decline_code = {}) {
    return http::make_response(s, error_body(type, message, code, param, decline_code));
  }
  static http::server_response invalid(std::string_view message, std::string_view code = {}, std::string_view param = {}) {
    return error(status::bad_request, "invalid_request_error", message, code, param);
  }
  static http::server_response missing_param(std::string_view name) {
    return invalid("Missing required param: " + std::string(name) + ".", "parameter_missing", name);
  }
  static http::server_response no_such(std::string_view what, std::string_view id, std::string_view param, status s = status::not_found) {
    return error(s, "invalid_request_error", "No such " + std::string(what) + ": '" + std::string(id) + "'", "resource_missing", param);
  }
  static http::server_response ok(const json::object& o) { return http::make_response(status::ok, json::serialize(o)); }

  std::string new_id(std::string_view prefix) {
    static constexpr char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::string tail(14, '0');
    std::uint64_t n = ++ids_ * 2654435761u + 0x5eed;  // spread, but deterministic
    for (auto i = tail.size(); i-- > 0 && n;) tail[i] = digits[n % 62], n /= 62;
    return std::string(prefix) + "_" + tail;
  }
  static std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

  // Parameters a request may carry; anything else is Stripe's parameter_unknown.
  static std::optional<http::server_response> unknown_params(const json::object& p, std::initializer_list<std::string_view> allowed) {
    for (auto& kv : p) {
      const std::string_view k = kv.key();
      if (k == "expand") continue;
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
        return invalid("Received unknown parameter: " + std::string(k), "parameter_unknown", k);
    }
    return std::nullopt;
  }

  // Metadata: string values; "" unsets a key; metadata="" unsets all (Stripe's update rules).
  static std::optional<http::server_response> apply_metadata(json::object& target, const json::object& params) {
    auto* m = params.if_contains("metadata");
    if (!m) return std::nullopt;
    auto& md = target["metadata"];
    if (!md.is_object()) md = json::object{};
    if (m->is_string() && m->get_string().empty()) {
      md.get_object().clear();
      return std::nullopt;
    }
    if (!m->is_object()) return invalid("Invalid object", "parameter_invalid_string", "metadata");
    for (auto& kv : m->get_object()) {
      if (!kv.value().is_string()) return invalid("Invalid string", "parameter_invalid_string", "metadata[" + std::string(kv.key()) + "]");
      if (kv.value().get_string().empty()) md.get_object().erase(kv.key());
      else md.get_object()[kv.key()] = kv.value();
    }
    return std::nullopt;
  }

  static json::value str_or_null(const json::object& p, std::string_view key) {
    auto s = t::str(p, key);
    return s.empty() ? json::value(nullptr) : json::value(json::string(s));
  }

  std::string account_of(const t::call& c) const { return std::string(c.header("Stripe-Account")); }

  stored* find(std::vector<stored>& v, const std::string& account, std::string_view id) {
    for (auto& s : v)
      if (s.account == account && s.obj.at("id").get_string() == id) return &s;
    return nullptr;
  }

  void emit(const t::call& c, std::string type, const json::object& obj, std::optional<json::object> previous = std::nullopt) {
    json::object data{{"object", obj}};
    if (previous) data["previous_attributes"] = std::move(*previous);
    const auto key = c.header("Idempotency-Key");
    json::object ev{{"id", new_id("evt")},
                    {"object", "event"},
                    {"api_version", version_of(c)},
                    {"created", now()},
                    {"data", std::move(data)},
                    {"livemode", false},
                    {"pending_webhooks", 0},
                    {"request", {{"id", current_request_id_}, {"idempotency_key", key.empty() ? json::value(nullptr) : json::value(json::string(key))}}},
                    {"type", std::move(type)}};
    events_.push_back({account_of(c), std::move(ev)});
  }

  static std::string version_of(const t::call& c) {
    auto v = c.header("Stripe-Version");
    return v.empty() ? std::string(default_api_version) : std::string(v);
  }

  // A list object over `items` (oldest first as stored; listed newest first).
  http::server_response list(const t::call& c, std::vector<const json::object*> items, std::string url) {
    std::reverse(items.begin(), items.end());
    const auto& q = c.query_params;
    std::int64_t limit = 10;
    if (q.contains("limit")) {
      auto l = t::integer(q, "limit");
      if (!l) return invalid("Invalid integer: " + std::string(t::str(q, "limit")), "parameter_invalid_integer", "limit");
      if (*l < 1 || *l > 100) return invalid("This value must be between 1 and 100 (it currently is " + std::to_string(*l) + ").", "parameter_invalid_integer", "limit");
      limit = *l;
    }
    const auto after = t::str(q, "starting_after"), before = t::str(q, "ending_before");
    if (!after.empty() && !before.empty())
      return invalid("You may only specify one of these parameters: ending_before, starting_after.");
    std::size_t from = 0, to = items.size();
    auto index = [&](std::string_view id) -> std::optional<std::size_t> {
      for (std::size_t i = 0; i < items.size(); ++i)
        if (items[i]->at("id").get_string() == id) return i;
      return std::nullopt;
    };
    bool has_more = false;
    if (!before.empty()) {
      auto i = index(before);
      if (!i) return invalid("No such object: '" + std::string(before) + "'", "resource_missing", "ending_before");
      to = *i;
      from = to > static_cast<std::size_t>(limit) ? to - static_cast<std::size_t>(limit) : 0;
      has_more = from > 0;
    } else {
      if (!after.empty()) {
        auto i = index(after);
        if (!i) return invalid("No such object: '" + std::string(after) + "'", "resource_missing", "starting_after");
        from = *i + 1;
      }
      to = std::min(items.size(), from + static_cast<std::size_t>(limit));
      has_more = to < items.size();
    }
    json::array data;
    for (auto i = from; i < to; ++i) data.push_back(*items[i]);
    return ok({{"object", "list"}, {"data", std::move(data)}, {"has_more", has_more}, {"url", std::move(url)}});
  }

  template <class F>
  std::vector<const json::object*> select(const std::vector<stored>& v, const std::string& account, F keep) {
    std::vector<const json::object*> out;
    for (auto& s : v)
      if (s.account == account && keep(s.obj)) out.push_back(&s.obj);
    return out;
  }

  // Wraps an operation: Stripe-Account check, Idempotency-Key on POST, the response headers
  // every Stripe answer carries.
  t::route_handler op(http::server_response (stripe_fake::*f)(t::call&)) {
    return [this, f](t::call& c) {
      current_request_id_ = new_id("req");
      http::server_response res = run(c, f);
      res.set("Request-Id", current_request_id_);
      res.set("Stripe-Version", version_of(c));
      res.set(http::field::cache_control, "no-cache, no-store");
      if (auto key = c.header("Idempotency-Key"); !key.empty() && c.method == "POST") res.set("Idempotency-Key", key);
      if (auto acct = c.header("Stripe-Account"); !acct.empty()) res.set("Stripe-Account", acct);
      return res;
    };
  }

  http::server_response run(t::call& c, http::server_response (stripe_fake::*f)(t::call&)) {
    const auto account = account_of(c);
    if (!account.empty() && (account.size() < 6 || account.rfind("acct_", 0) != 0))
      return error(status::forbidden, "invalid_request_error",
                   "The provided key does not have access to account '" + account + "' (or that account does not exist). Application access may have been revoked.",
                   "account_invalid");
    if (!c.body_error.empty()) return invalid("Invalid request body: " + c.body_error);
    const auto key = std::string(c.header("Idempotency-Key"));
    if (c.method != "POST" || key.empty()) return (this->*f)(c);
    if (key.size() > 255) return invalid("Idempotency-Key must be at most 255 characters long.", {}, "Idempotency-Key");
    const std::string scope = c.token + '\n' + account + '\n' + key;
    if (auto it = idempotency_.find(scope); it != idempotency_.end()) {
      if (it->second.method != c.method || it->second.path != c.path || it->second.params != c.body)
        return error(status::bad_request, "idempotency_error",
                     "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '" +
                         key + "' if you meant to execute a different request.");
      http::server_response replay = it->second.response;
      replay.set("Idempotent-Replayed", "true");
      replay.set("Original-Request", it->second.response["Request-Id"]);
      return replay;
    }
    http::server_response res = (this->*f)(c);
    // Stripe saves a result once the endpoint's execution has begun: not for parameter errors
    // (400) or requests refused before running (401, 403, 429).
    const auto s = res.result_int();
    if (s != 400 && s != 401 && s != 403 && s != 429) {
      res.set("Request-Id", current_request_id_);
      idempotency_[scope] = {c.method, c.path, c.body, res};
    }
    return res;
  }

  void add_routes() {
    api_.route(verb::post, "/v1/customers", op(&stripe_fake::create_customer));
    api_.route(verb::get, "/v1/customers", op(&stripe_fake::list_customers));
    api_.route(verb::get, "/v1/customers/{id}", op(&stripe_fake::retrieve_customer));
    api_.route(verb::post, "/v1/customers/{id}", op(&stripe_fake::update_customer));
    api_.route(verb::post, "/v1/payment_intents", op(&stripe_fake::create_intent));
    api_.route(verb::get, "/v1/payment_intents", op(&stripe_fake::list_intents));
    api_.route(verb::get, "/v1/payment_intents/{id}", op(&stripe_fake::retrieve_intent));
    api_.route(verb::post, "/v1/payment_intents/{id}/confirm", op(&stripe_fake::confirm_intent));
    api_.route(verb::post, "/v1/payment_intents/{id}/capture", op(&stripe_fake::capture_intent));
    api_.route(verb::post, "/v1/payment_intents/{id}/cancel", op(&stripe_fake::cancel_intent));
    api_.route(verb::post, "/v1/refunds", op(&stripe_fake::create_refund));
    api_.route(verb::get, "/v1/refunds", op(&stripe_fake::list_refunds));
    api_.route(verb::get, "/v1/events", op(&stripe_fake::list_events));
    api_.route(verb::get, "/v1/balance", op(&stripe_fake::retrieve_balance));
  }

  // ---- customers -------------------------------------------------------------------------
  http::server_response create_customer(t::call& c) {
    if (auto e = unknown_params(c.body, {"email", "name", "description", "phone", "metadata"})) return *e;
    const auto id = new_id("cus");
    std::string prefix = id.substr(4, 8);
    std::transform(prefix.begin(), prefix.end(), prefix.begin(), [](char ch) { return static_cast<char>(std::toupper(static_cast<unsigned char>(ch))); });
    json::object o{{"id", id},
                   {"object", "customer"},
                   {"address", nullptr},
                   {"balance", 0},
                   {"created", now()},
                   {"currency", nullptr},
                   {"default_source", nullptr},
                   {"delinquent", false},
                   {"description", str_or_null(c.body, "description")},
                   {"discount", nullptr},
                   {"email", str_or_null(c.body, "email")},
                   {"invoice_prefix", prefix},
                   {"invoice_settings", {{"custom_fields", nullptr}, {"default_payment_method", nullptr}, {"footer", nullptr}, {"rendering_options", nullptr}}},
                   {"livemode", false},
                   {"metadata", json::object{}},
                   {"name", str_or_null(c.body, "name")},
                   {"next_invoice_sequence", 1},
                   {"phone", str_or_null(c.body, "phone")},
                   {"preferred_locales", json::array{}},
                   {"shipping", nullptr},
                   {"tax_exempt", "none"},
                   {"test_clock", nullptr}};
    if (auto e = apply_metadata(o, c.body)) return *e;
    customers_.push_back({account_of(c), o});
    emit(c, "customer.created", o);
    return ok(o);
  }

  http::server_response retrieve_customer(t::call& c) {
    if (auto e = unknown_params(c.query_params, {})) return *e;
    auto* s = find(customers_, account_of(c), c.params["id"]);
    if (!s) return no_such("customer", c.params["id"], "id");
    return ok(s->obj);
  }

  http::server_response update_customer(t::call& c) {
    if (auto e = unknown_params(c.body, {"email", "name", "description", "phone", "metadata"})) return *e;
    auto* s = find(customers_, account_of(c), c.params["id"]);
    if (!s) return no_such("customer", c.params["id"], "id");
    json::object previous;
    for (std::string_view k : {"email", "name", "description", "phone"})
      if (c.body.contains(k)) {
        previous[k] = s->obj[k];
        s->obj[k] = str_or_null(c.body, k);
      }
    if (c.body.contains("metadata")) previous["metadata"] = s->obj["metadata"];
    if (auto e = apply_metadata(s->obj, c.body)) return *e;
    emit(c, "customer.updated", s->obj, previous);
    return ok(s->obj);
  }

  http::server_response list_customers(t::call& c) {
    if (auto e = unknown_params(c.query_params, {"limit", "starting_after", "ending_before", "email", "created"})) return *e;
    const auto email = std::string(t::str(c.query_params, "email"));
    return list(c, select(customers_, account_of(c), [&](const json::object& o) { return email.empty() || o.at("email") == json::value(email); }),
                "/v1/customers");
  }

  // ---- payment intents -------------------------------------------------------------------
  http::server_response create_intent(t::call& c) {
    if (auto e = unknown_params(c.body, {"amount", "currency", "customer", "description", "metadata", "payment_method",
                                         "payment_method_types", "capture_method", "confirm", "receipt_email", "automatic_payment_methods"}))
      return *e;
    if (!c.body.contains("amount")) return missing_param("amount");
    auto amount = t::integer(c.body, "amount");
    if (!amount) return invalid("Invalid integer: " + std::string(t::str(c.body, "amount")), "parameter_invalid_integer", "amount");
    if (*amount < 50) return invalid("Amount must be at least $0.50 usd", "amount_too_small", "amount");
    const auto currency = t::str(c.body, "currency");
    if (currency.empty()) return missing_param("currency");
    if (currency.size() != 3) return invalid("Invalid currency: " + std::string(currency) + ".", "parameter_invalid_string", "currency");
    const auto capture = t::str(c.body, "capture_method");
    if (!capture.empty() && capture != "automatic" && capture != "automatic_async" && capture != "manual")
      return invalid("Invalid capture_method: must be one of automatic, automatic_async, or manual", "parameter_invalid_string", "capture_method");
    const auto customer = t::str(c.body, "customer");
    if (!customer.empty() && !find(customers_, account_of(c), customer)) return no_such("customer", customer, "customer", status::bad_request);
    json::array types;
    if (auto* pmt = c.body.if_contains("payment_method_types"); pmt && pmt->is_array()) types = pmt->get_array();
    else types.push_back("card");
    const auto id = new_id("pi");
    const auto pm = t::str(c.body, "payment_method");
    json::object o{{"id", id},
                   {"object", "payment_intent"},
                   {"amount", *amount},
                   {"amount_capturable", 0},
                   {"amount_details", {{"tip", json::object{}}}},
                   {"amount_received", 0},
                   {"application", nullptr},
                   {"application_fee_amount", nullptr},
                   {"automatic_payment_methods", nullptr},
                   {"canceled_at", nullptr},
                   {"cancellation_reason", nullptr},
                   {"capture_method", capture.empty() ? std::string_view("automatic_async") : capture},
                   {"client_secret", id + "_secret_" + new_id("cs").substr(3)},
                   {"confirmation_method", "automatic"},
                   {"created", now()},
                   {"currency", currency},
                   {"customer", str_or_null(c.body, "customer")},
                   {"description", str_or_null(c.body, "description")},
                   {"last_payment_error", nullptr},
                   {"latest_charge", nullptr},
                   {"livemode", false},
                   {"metadata", json::object{}},
                   {"next_action", nullptr},
                   {"on_behalf_of", nullptr},
                   {"payment_method", str_or_null(c.body, "payment_method")},
                   {"payment_method_configuration_details", nullptr},
                   {"payment_method_options", json::object{}},
                   {"payment_method_types", std::move(types)},
                   {"processing", nullptr},
                   {"receipt_email", str_or_null(c.body, "receipt_email")},
                   {"review", nullptr},
                   {"setup_future_usage", nullptr},
                   {"shipping", nullptr},
                   {"source", nullptr},
                   {"statement_descriptor", nullptr},
                   {"statement_descriptor_suffix", nullptr},
                   {"status", pm.empty() ? "requires_payment_method" : "requires_confirmation"},
                   {"transfer_data", nullptr},
                   {"transfer_group", nullptr}};
    if (auto e = apply_metadata(o, c.body)) return *e;
    intents_.push_back({account_of(c), o});
    emit(c, "payment_intent.created", o);
    if (t::boolean(c.body, "confirm").value_or(false)) {
      auto& stored_pi = intents_.back();
      return confirm(c, stored_pi.obj);
    }
    return ok(o);
  }

  http::server_response retrieve_intent(t::call& c) {
    if (auto e = unknown_params(c.query_params, {"client_secret"})) return *e;
    auto* s = find(intents_, account_of(c), c.params["id"]);
    if (!s) return no_such("payment_intent", c.params["id"], "intent");
    return ok(s->obj);
  }

  http::server_response unexpected_state(const json::object& pi, std::string_view action) {
    json::object e{{"code", "payment_intent_unexpected_state"},
                   {"doc_url", "https://stripe.com/docs/error-codes/payment-intent-unexpected-state"},
                   {"message", "This PaymentIntent's " + std::string(action) + " could not be performed because it has a status of " +
                                   std::string(pi.at("status").get_string()) + "."},
                   {"payment_intent", pi},
                   {"type", "invalid_request_error"}};
    return http::make_response(status::bad_request, json::serialize(json::object{{"error", std::move(e)}}));
  }

  // Confirms with the attached payment method: the test method pm_card_chargeDeclined (and
  // pm_card_visa_chargeDeclined) is declined with a card_error, as in Stripe's test mode.
  http::server_response confirm(const t::call& c, json::object& pi) {
    const auto st = pi.at("status").get_string();
    if (st != "requires_payment_method" && st != "requires_confirmation" && st != "requires_action") return unexpected_state(pi, "confirm");
    if (pi.at("payment_method").is_null())
      return invalid("You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent with " +
                         std::string(pi.at("customer").is_string() ? pi.at("customer").get_string() : "a customer") +
                         ", specify a payment method attached to this customer along with the customer ID.",
                     "payment_intent_unexpected_state", "payment_method");
    const auto pm = pi.at("payment_method").get_string();
    if (pm.find("chargeDeclined") != json::string::npos) {
      const auto charge = new_id("ch");
      json::object last{{"charge", charge},
                        {"code", "card_declined"},
                        {"decline_code", "generic_decline"},
                        {"doc_url", "https://stripe.com/docs/error-codes/card-declined"},
                        {"message", "Your card was declined."},
                        {"type", "card_error"}};
      pi["status"] = "requires_payment_method";
      pi["latest_charge"] = charge;
      pi["last_payment_error"] = last;
      emit(c, "payment_intent.payment_failed", pi);
      json::object e = last;
      e["payment_intent"] = pi;
      return http::make_response(status::payment_required, json::serialize(json::object{{"error", std::move(e)}}));
    }
    pi["latest_charge"] = new_id("ch");
    pi["last_payment_error"] = nullptr;
    if (pi.at("capture_method").get_string() == "manual") {
      pi["status"] = "requires_capture";
      pi["amount_capturable"] = pi.at("amount");
      emit(c, "payment_intent.amount_capturable_updated", pi);
    } else {
      pi["status"] = "succeeded";
      pi["amount_received"] = pi.at("amount");
      emit(c, "payment_intent.succeeded", pi);
    }
    return ok(pi);
  }

  http::server_response confirm_intent(t::call& c) {
    if (auto e = unknown_params(c.body, {"payment_method", "receipt_email", "return_url", "capture_method"})) return *e;
    auto* s = find(intents_, account_of(c), c.params["id"]);
    if (!s) return no_such("payment_intent", c.params["id"], "intent");
    if (auto pm = t::str(c.body, "payment_method"); !pm.empty()) s->obj["payment_method"] = pm;
    if (auto r = t::str(c.body, "receipt_email"); !r.empty()) s->obj["receipt_email"] = r;
    return confirm(c, s->obj);
  }

  http::server_response capture_intent(t::call& c) {
    if (auto e = unknown_params(c.body, {"amount_to_capture", "metadata", "statement_descriptor"})) return *e;
    auto* s = find(intents_, account_of(c), c.params["id"]);
    if (!s) return no_such("payment_intent", c.params["id"], "intent");
    auto& pi = s->obj;
    if (pi.at("status").get_string() != "requires_capture") return unexpected_state(pi, "capture");
    std::int64_t capturable = pi.at("amount_capturable").to_number<std::int64_t>();
    std::int64_t amount = capturable;
    if (c.body.contains("amount_to_capture")) {
      auto a = t::integer(c.body, "amount_to_capture");
      if (!a) return invalid("Invalid integer", "parameter_invalid_integer", "amount_to_capture");
      if (*a > capturable || *a < 1)
        return invalid("The amount to capture must be a positive integer no larger than amount_capturable (" + std::to_string(capturable) + ").",
                       "amount_too_large", "amount_to_capture");
      amount = *a;
    }
    if (auto e = apply_metadata(pi, c.body)) return *e;
    pi["amount_received"] = amount;
    pi["amount_capturable"] = 0;
    pi["status"] = "succeeded";
    emit(c, "payment_intent.succeeded", pi);
    return ok(pi);
  }

  http::server_response cancel_intent(t::call& c) {
    if (auto e = unknown_params(c.body, {"cancellation_reason"})) return *e;
    auto* s = find(intents_, account_of(c), c.params["id"]);
    if (!s) return no_such("payment_intent", c.params["id"], "intent");
    auto& pi = s->obj;
    const auto st = pi.at("status").get_string();
    if (st == "succeeded" || st == "canceled") return unexpected_state(pi, "cancel");
    const auto reason = t::str(c.body, "cancellation_reason");
    if (!reason.empty() && reason != "duplicate" && reason != "fraudulent" && reason != "requested_by_customer" && reason != "abandoned")
      return invalid("Invalid cancellation_reason: must be one of duplicate, fraudulent, requested_by_customer, or abandoned",
                     "parameter_invalid_string", "cancellation_reason");
    pi["status"] = "canceled";
    pi["canceled_at"] = now();
    pi["cancellation_reason"] = reason.empty() ? json::value(nullptr) : json::value(json::string(reason));
    pi["amount_capturable"] = 0;
    emit(c, "payment_intent.canceled", pi);
    return ok(pi);
  }

  http::server_response list_intents(t::call& c) {
    if (auto e = unknown_params(c.query_params, {"limit", "starting_after", "ending_before", "customer", "created"})) return *e;
    const auto customer = std::string(t::str(c.query_params, "customer"));
    return list(c, select(intents_, account_of(c), [&](const json::object& o) { return customer.empty() || o.at("customer") == json::value(customer); }),
                "/v1/payment_intents");
  }

  // ---- refunds ---------------------------------------------------------------------------
  http::server_response create_refund(t::call& c) {
    if (auto e = unknown_params(c.body, {"payment_intent", "charge", "amount", "reason", "metadata"})) return *e;
    const auto account = account_of(c);
    const auto pi_id = t::str(c.body, "payment_intent");
    if (pi_id.empty()) return missing_param("payment_intent");
    auto* s = find(intents_, account, pi_id);
    if (!s) return no_such("payment_intent", pi_id, "payment_intent", status::bad_request);
    auto& pi = s->obj;
    if (pi.at("status").get_string() != "succeeded")
      return invalid("This PaymentIntent does not have a successful charge to refund.", "charge_not_refundable", "payment_intent");
    std::int64_t refunded = 0;
    for (auto& r : refunds_)
      if (r.account == account && r.obj.at("payment_intent") == pi.at("id")) refunded += r.obj.at("amount").to_number<std::int64_t>();
    const std::int64_t remaining = pi.at("amount_received").to_number<std::int64_t>() - refunded;
    if (remaining <= 0)
      return invalid("Charge " + std::string(pi.at("latest_charge").get_string()) + " has already been refunded.", "charge_already_refunded");
    std::int64_t amount = remaining;
    if (c.body.contains("amount")) {
      auto a = t::integer(c.body, "amount");
      if (!a) return invalid("Invalid integer", "parameter_invalid_integer", "amount");
      if (*a < 1 || *a > remaining)
        return invalid("Refund amount ($" + std::to_string(*a / 100) + "." + std::to_string(*a % 100 / 10) + std::to_string(*a % 10) +
                           ") is greater than unrefunded amount on charge ($" + std::to_string(remaining / 100) + "." +
                           std::to_string(remaining % 100 / 10) + std::to_string(remaining % 10) + ")",
                       "amount_too_large", "amount");
      amount = *a;
    }
    const auto reason = t::str(c.body, "reason");
    if (!reason.empty() && reason != "duplicate" && reason != "fraudulent" && reason != "requested_by_customer")
      return invalid("Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer", "parameter_invalid_string", "reason");
    json::object o{{"id", new_id("re")},
                   {"object", "refund"},
                   {"amount", amount},
                   {"balance_transaction", new_id("txn")},
                   {"charge", pi.at("latest_charge")},
                   {"created", now()},
                   {"currency", pi.at("currency")},
                   {"destination_details", {{"card", {{"reference_status", "pending"}, {"reference_type", "acquirer_reference_number"}, {"type", "refund"}}}, {"type", "card"}}},
                   {"metadata", json::object{}},
                   {"payment_intent", pi.at("id")},
                   {"reason", reason.empty() ? json::value(nullptr) : json::value(json::string(reason))},
                   {"receipt_number", nullptr},
                   {"source_transfer_reversal", nullptr},
                   {"status", "succeeded"},
                   {"transfer_reversal", nullptr}};
    if (auto e = apply_metadata(o, c.body)) return *e;
    refunds_.push_back({account, o});
    emit(c, "refund.created", o);
    return ok(o);
  }

  http::server_response list_refunds(t::call& c) {
    if (auto e = unknown_params(c.query_params, {"limit", "starting_after", "ending_before", "payment_intent", "charge", "created"})) return *e;
    const auto pi = std::string(t::str(c.query_params, "payment_intent"));
    return list(c, select(refunds_, account_of(c), [&](const json::object& o) { return pi.empty() || o.at("payment_intent") == json::value(pi); }),
                "/v1/refunds");
  }

  // ---- events, balance -------------------------------------------------------------------
  http::server_response list_events(t::call& c) {
    if (auto e = unknown_params(c.query_params, {"limit", "starting_after", "ending_before", "type", "types", "created", "delivery_success"})) return *e;
    const auto type = std::string(t::str(c.query_params, "type"));
    // `type` accepts a trailing wildcard: "payment_intent.*".
    auto matches = [&](const json::object& o) {
      if (type.empty()) return true;
      const std::string_view ty = o.at("type").get_string();
      if (type.size() > 1 && type.back() == '*') return ty.substr(0, type.size() - 1) == std::string_view(type).substr(0, type.size() - 1);
      return ty == type;
    };
    return list(c, select(events_, account_of(c), matches), "/v1/events");
  }

  http::server_response retrieve_balance(t::call& c) {
    if (auto e = unknown_params(c.query_params, {})) return *e;
    const auto account = account_of(c);
    std::map<std::string, std::int64_t> available;
    available["usd"] = 0;
    for (auto& s : intents_)
      if (s.account == account) available[std::string(s.obj.at("currency").get_string())] += s.obj.at("amount_received").to_number<std::int64_t>();
    for (auto& s : refunds_)
      if (s.account == account) available[std::string(s.obj.at("currency").get_string())] -= s.obj.at("amount").to_number<std::int64_t>();
    json::array avail, pending;
    for (auto& [cur, amount] : available) {
      avail.push_back({{"amount", amount}, {"currency", cur}, {"source_types", {{"card", amount}}}});
      pending.push_back({{"amount", 0}, {"currency", cur}, {"source_types", {{"card", 0}}}});
    }
    return ok({{"object", "balance"}, {"available", std::move(avail)}, {"livemode", false}, {"pending", std::move(pending)}});
  }

  t::fake_api api_;
  std::vector<stored> customers_, intents_, refunds_, events_;
  std::map<std::string, idem_entry> idempotency_;
  std::uint64_t ids_ = 0;
  std::string current_request_id_;
};

}  // namespace fakes
