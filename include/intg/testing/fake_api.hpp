// intg::testing::fake_api: the skeleton of a local fake of a third-party HTTP API, on
// intg::http::server. A provider fake declares routes by method and path template with a
// handler each; fake_api parses what every request carries (path parameters, query and body
// with nested form keys, the bearer token), checks the token, lets tests script misbehaviour
// (see scenario.hpp) per route or globally, and logs every exchange (see exchange_log.hpp).
//
//   intg::testing::fake_api api(io.get_executor());
//   api.route(verb::get, "/v1/things/{id}", [](intg::testing::call& c) { ... c.params["id"] ... });
//   api.require_bearer({"sk_test_1"}, reject_fn);
//   auto port = api.start();                 // 127.0.0.1, an ephemeral port
//   api.script(scenarios::server_error().repeat(2));            // the next two requests
//   api.script(verb::post, "/v1/things", scenarios::truncated()); // the next POST /v1/things
//   ... co_await api.stop();
//
// Handlers are plain functions (no coroutine): delays and faults are the scenarios' business.
// The server runs on one executor; script(), accept_token(), log() and the rest may be called
// from any thread (the Node SDK tests run the fake on a thread of their own).
// Test helpers, not library code: nothing provider-specific lives here.
#pragma once

#include <intg/http/server.hpp>
#include <intg/http/url.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/testing/exchange_log.hpp>
#include <intg/testing/form.hpp>
#include <intg/testing/route.hpp>
#include <intg/testing/scenario.hpp>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <optional>
#include <cstdio>
#include <mutex>
#include <set>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace intg::testing {

namespace asio = boost::asio;
using verb = boost::beast::http::verb;

/// A request as a route handler sees it.
struct call {
  const http::server_request& request;
  std::string method;                ///< "GET"
  std::string path;                  ///< without the query
  std::string query;                 ///< raw, "" when none
  path_params params;                ///< captured by the route's template
  boost::json::object query_params;  ///< the query string, nested keys parsed (parse_form)
  boost::json::object body;          ///< a JSON object, or the form with nested keys parsed
  std::string body_error;            ///< why the body could not be parsed ("" when it could)
  std::string token;                 ///< the credential presented ("" when none)

  /// A request header ("" when absent).
  std::string_view header(std::string_view name) const {
    auto it = request.find(name);
    return it == request.end() ? std::string_view{} : std::string_view(it->value().data(), it->value().size());
  }
  /// A parameter from the body or, failing that, the query (Slack reads both).
  const boost::json::value* arg(std::string_view name) const {
    if (auto* v = body.if_contains(name)) return v;
    return query_params.if_contains(name);
  }
  std::string_view arg_str(std::string_view name) const {
    auto* v = arg(name);
    return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
  }
};

using route_handler = std::function<http::server_response(call&)>;
/// The answer to a request without a valid credential; `missing` when none was presented.
using reject_handler = std::function<http::server_response(const call&, bool missing)>;

struct fake_api_options {
  http::server_options http;
  /// Body and query fields whose values the log redacts (credentials sent as parameters).
  std::vector<std::string> secret_fields;
  /// The answer when no route has the path (default: 404 with intg's JSON error).
  std::function<http::server_response(const call&)> not_found;
  /// Authorization schemes read like Bearer besides it (Discord's "Bot ").
  std::vector<std::string> token_schemes;
};

class fake_api {
 public:
  explicit fake_api(asio::any_io_executor ex, fake_api_options opts = {})
      : ex_(ex), opts_(std::move(opts)), state_(std::make_shared<state>()) {
    server_ = std::make_unique<http::server>(
        ex_, [this](http::server_request& req) { return handle(req); }, opts_.http);
  }
  fake_api(const fake_api&) = delete;
  fake_api& operator=(const fake_api&) = delete;

  /// Adds a route. `authenticated` routes check the credential first (see require_bearer).
  fake_api& route(verb method, std::string templ, route_handler h, bool authenticated = true) {
    routes_.push_back({method, std::move(templ), std::move(h), authenticated});
    return *this;
  }

  /// Authenticated routes need `Authorization: Bearer <one of tokens>`, or `Authorization: Basic`
  /// with one of them as "user:password" (Twilio), or, when `token_field` is set, that field in
  /// the body or query (Slack accepts `token=` too).
  void require_bearer(std::vector<std::string> tokens, reject_handler reject, std::string token_field = {}) {
    std::lock_guard lock(state_->mu);
    state_->tokens = {tokens.begin(), tokens.end()};
    reject_ = std::move(reject);
    token_field_ = std::move(token_field);
  }
  void accept_token(std::string token) {
    std::lock_guard lock(state_->mu);
    state_->tokens.insert(std::move(token));
  }
  /// From now on `token` is refused (an expired or revoked token).
  void revoke_token(std::string_view token) {
    std::lock_guard lock(state_->mu);
    if (auto it = state_->tokens.find(token); it != state_->tokens.end()) state_->tokens.erase(it);
  }

  /// Listens on `host` and an ephemeral port and starts serving; returns the port.
  std::uint16_t start(std::string_view host = "127.0.0.1") {
    if (auto r = server_->listen(host, 0); !r) throw std::runtime_error(std::string(r.error().message()));
    server_->start();
    host_ = host;
    return server_->port();
  }
  std::uint16_t port() const { return server_->port(); }
  /// "http://127.0.0.1:PORT"
  std::string base_url() const { return "http://" + host_ + ":" + std::to_string(server_->port()); }
  /// Stops serving; returns when no connection refers to the fake any more.
  asio::awaitable<void> stop(std::chrono::milliseconds grace = std::chrono::milliseconds(500)) {
    co_await server_->shutdown(grace);
  }
  const asio::any_io_executor& get_executor() const noexcept { return ex_; }

  /// The next `s.times` requests (any route) meet `s`. Route scenarios come first.
  void script(scenario s) {
    std::lock_guard lock(state_->mu);
    state_->global.push_back(std::move(s));
  }
  /// The next `s.times` requests to `method` + `templ` meet `s`.
  void script(verb method, std::string_view templ, scenario s) {
    std::lock_guard lock(state_->mu);
    state_->by_route[key(method, templ)].push_back(std::move(s));
  }
  /// Scenarios not used yet (their remaining `times` summed).
  std::size_t pending_scenarios() const {
    std::lock_guard lock(state_->mu);
    std::size_t n = 0;
    for (auto& s : state_->global) n += s.times;
    for (auto& [k, q] : state_->by_route)
      for (auto& s : q) n += s.times;
    return n;
  }
  void clear_scenarios() {
    std::lock_guard lock(state_->mu);
    state_->global.clear();
    state_->by_route.clear();
  }

  /// Every exchange so far, oldest first (a copy: the fake may be serving meanwhile).
  std::vector<exchange> log() const {
    std::lock_guard lock(state_->mu);
    return state_->log;
  }
  /// The exchanges with `method` on the route `templ`.
  std::vector<exchange> log(verb method, std::string_view templ) const {
    std::lock_guard lock(state_->mu);
    std::vector<exchange> out;
    const std::string m(boost::beast::http::to_string(method));
    for (auto& e : state_->log)
      if (e.method == m && e.route == templ) out.push_back(e);
    return out;
  }
  void clear_log() {
    std::lock_guard lock(state_->mu);
    state_->log.clear();
  }
  /// The log as JSON Lines (for a validator); false when the file cannot be written.
  bool write_log(const std::string& file) const { return write_jsonl(log(), file); }
  /// Appends the log to an existing JSON Lines file (several fakes or runs into one file).
  bool append_log(const std::string& file) const {
    std::ofstream out(file, std::ios::app);
    for (const auto& e : log()) out << boost::json::serialize(e.to_json()) << '\n';
    return static_cast<bool>(out.flush());
  }
  /// Appends the log to `file`, which the first call for that file in this process starts
  /// afresh: one file per test run, whichever tests of the run write to it and in whatever order.
  bool append_run_log(const std::string& file) const {
    static std::mutex m;
    static std::set<std::string> started;
    {
      std::lock_guard lock(m);
      if (started.insert(file).second) std::remove(file.c_str());
    }
    return append_log(file);
  }

  http::server& server() noexcept { return *server_; }

 private:
  struct route_entry {
    verb method;
    std::string templ;
    route_handler handler;
    bool authenticated;
  };
  struct state {
    mutable std::mutex mu;
    std::set<std::string, std::less<>> tokens;
    std::deque<scenario> global;
    std::map<std::string, std::deque<scenario>, std::less<>> by_route;
    std::vector<exchange> log;
  };

  static std::string key(verb m, std::string_view templ) {
    std::string k(boost::beast::http::to_string(m));
    k += ' ';
    k += templ;
    return k;
  }

  // The first scenario waiting for this request, route queue first; one use of it consumed.
  std::optional<scenario> take_scenario(const std::string& route_key) {
    std::lock_guard lock(state_->mu);
    auto take = [](std::deque<scenario>& q) -> std::optional<scenario> {
      if (q.empty()) return std::nullopt;
      scenario s = q.front();
      if (q.front().times <= 1) q.pop_front();
      else --q.front().times;
      return s;
    };
    if (auto it = state_->by_route.find(route_key); it != state_->by_route.end())
      if (auto s = take(it->second)) return s;
    return take(state_->global);
  }

  std::string redact_params(std::string_view encoded) const {
    if (opts_.secret_fields.empty() || encoded.empty()) return std::string(encoded);
    auto pairs = http::query::parse(encoded);
    if (!pairs) return std::string(encoded);
    bool any = false;
    for (auto& [k, v] : *pairs)
      if (std::find(opts_.secret_fields.begin(), opts_.secret_fields.end(), k) != opts_.secret_fields.end()) v = "[redacted]", any = true;
    if (!any) return std::string(encoded);
    http::query q;
    for (auto& [k, v] : *pairs) q.add(k, v);
    return q.str();
  }

  std::string redact_body(const call& c) const {
    const auto& raw = c.request.body();
    if (opts_.secret_fields.empty() || raw.empty()) return raw;
    if (c.header("Content-Type").find("json") == std::string_view::npos) return redact_params(raw);
    boost::json::object o = c.body;
    bool any = false;
    for (auto& f : opts_.secret_fields)
      if (auto* v = o.if_contains(f)) *v = "[redacted]", any = true;
    return any ? boost::json::serialize(o) : raw;
  }

  static header_list headers_of(const boost::beast::http::fields& f, bool request) {
    header_list out;
    for (auto& h : f) {
      std::string name(h.name_string());
      std::string value(h.value());
      if (request && (h.name() == http::field::authorization || h.name() == http::field::proxy_authorization)) {
        const auto sp = value.find(' ');
        value = (sp == std::string::npos ? std::string() : value.substr(0, sp + 1)) + "[redacted]";
      }
      out.emplace_back(std::move(name), std::move(value));
    }
    return out;
  }

  void record(const call& c, const std::string& route, const http::server_response* res, const scenario* sc,
              const http::connection_fault* fault) {
    exchange e;
    e.method = c.method;
    e.path = c.path;
    e.query = redact_params(c.query);
    e.route = route;
    e.request_headers = headers_of(c.request.base(), true);
    e.request_body = redact_body(c);
    if (sc) e.scenario = sc->name;
    if (fault) {
      e.fault = fault->what == http::connection_fault::reset ? "reset" : "truncate";
    } else if (res) {
      e.status = static_cast<int>(res->result_int());
      e.response_headers = headers_of(res->base(), false);
      e.response_body = res->body();
    }
    std::lock_guard lock(state_->mu);
    state_->log.push_back(std::move(e));
  }

  asio::awaitable<http::server_response> handle(http::server_request& req) {
    const std::string_view target(req.target().data(), req.target().size());
    const auto qm = target.find('?');
    call c{req, std::string(req.method_string()), std::string(target.substr(0, qm)),
           qm == std::string_view::npos ? std::string() : std::string(target.substr(qm + 1)), {}, {}, {}, {}, {}};
    if (auto q = parse_form(c.query)) c.query_params = std::move(*q);
    if (auto b = parse_body(c.header("Content-Type"), req.body())) c.body = std::move(*b);
    else c.body_error = b.error().message();

    const route_entry* found = nullptr;
    bool path_known = false;
    for (auto& r : routes_) {
      auto p = match_path(r.templ, c.path);
      if (!p) continue;
      path_known = true;
      if (r.method != req.method()) continue;
      found = &r;
      c.params = std::move(*p);
      break;
    }
    const std::string route = found ? found->templ : std::string();
    std::optional<scenario> sc = take_scenario(key(req.method(), route));

    if (sc && sc->delay.count() > 0) {
      asio::steady_timer t(co_await asio::this_coro::executor, sc->delay);
      co_await t.async_wait(asio::use_awaitable);
    }
    http::server_response res;
    if (sc && sc->response) {
      res = *sc->response;
    } else if (!found) {
      res = !path_known ? (opts_.not_found ? opts_.not_found(c) : http::json_error(status::not_found, "no such route"))
                        : http::json_error(status::method_not_allowed, "method not allowed");
    } else {
      bool authorised = true;
      if (found->authenticated && reject_) {
        c.token = bearer_of(c);
        std::lock_guard lock(state_->mu);
        authorised = !c.token.empty() && state_->tokens.count(c.token) != 0;
      }
      if (!authorised) {
        res = reject_(c, c.token.empty());
      } else {
        try {
          res = found->handler(c);
        } catch (const std::exception&) {
          res = http::json_error(status::internal_server_error, "fake handler threw");
        }
      }
    }
    if (sc && sc->fault) {
      http::connection_fault f = *sc->fault;
      if (sc->truncate_handler_answer && f.what == http::connection_fault::truncate) f.partial = res;
      record(c, route, nullptr, &*sc, &f);
      throw f;
    }
    record(c, route, &res, sc ? &*sc : nullptr, nullptr);
    co_return res;
  }

  std::string bearer_of(const call& c) const {
    const auto auth = c.header("Authorization");
    auto has_scheme = [&](std::string_view scheme) {
      if (auth.size() <= scheme.size()) return false;
      for (std::size_t i = 0; i < scheme.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(auth[i])) != std::tolower(static_cast<unsigned char>(scheme[i]))) return false;
      return true;
    };
    if (has_scheme("Bearer ")) return std::string(auth.substr(7));
    for (const auto& scheme : opts_.token_schemes)
      if (has_scheme(scheme)) return std::string(auth.substr(scheme.size()));
    if (has_scheme("Basic ")) {
      auto decoded = crypto::base64_decode(auth.substr(6));
      return decoded ? std::move(*decoded) : std::string();
    }
    if (!token_field_.empty()) return std::string(c.arg_str(token_field_));
    return {};
  }

  asio::any_io_executor ex_;
  fake_api_options opts_;
  std::shared_ptr<state> state_;
  std::vector<route_entry> routes_;
  reject_handler reject_;
  std::string token_field_;
  std::string host_ = "127.0.0.1";
  std::unique_ptr<http::server> server_;
};

}  // namespace intg::testing
