// intg::rest::client<Provider, Pipeline>: everything a provider does not declare. It is an
// intg::integration (initialize, health_check, cleanup, built by the registry), reads the
// tenant's settings (base_url within the provider's allowed hosts, credentials as intg::secret),
// and runs each typed operation through the pipeline: proactive rate-limit waits, auth, the
// idempotency key (one per logical call, reused by its retries), one refresh-and-resend on 401,
// error mapping, decoding; pages() and collect_all() follow the provider's pagination.
//
// Call style (g++ 12): name the parameters object, then pass it — `customer_create p{...};
// co_await c.call(op, p);`. g++ 12 destroys twice a temporary holding a std::string created inside
// a co_await expression, so call(), pages() and collect_all() refuse rvalue parameters at compile
// time. Path arguments are views (string literals, std::string_view, named std::strings).
#pragma once

#include <intg/core/attempt.hpp>
#include <intg/core/error.hpp>
#include <intg/core/health.hpp>
#include <intg/core/integration_config.hpp>
#include <intg/core/pipeline.hpp>
#include <intg/core/probe.hpp>
#include <intg/core/registry.hpp>
#include <intg/core/result.hpp>
#include <intg/detail/sleep.hpp>
#include <intg/http/client.hpp>
#include <intg/policy/circuit_breaker.hpp>
#include <intg/policy/rate_limiter.hpp>
#include <intg/policy/retry.hpp>
#include <intg/policy/timeout.hpp>
#include <intg/policy/tracing.hpp>
#include <intg/rest/auth.hpp>
#include <intg/rest/detail/answer_arena.hpp>
#include <intg/rest/errors.hpp>
#include <intg/rest/form.hpp>
#include <intg/rest/idempotency.hpp>
#include <intg/rest/json.hpp>
#include <intg/rest/operation.hpp>
#include <intg/rest/pagination.hpp>
#include <intg/rest/provider.hpp>
#include <intg/rest/rate_limit.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/random.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>

#include <array>
#include <chrono>
#include <concepts>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

namespace intg::rest {

/// The pipeline a client gets when none is named: tracing, retry, breaker, limiter, timeout.
using default_pipeline =
    intg::pipeline<intg::tracing<>, intg::retry<>, intg::circuit_breaker<>, intg::rate_limiter<>, intg::timeout<>>;

/// What the deployment (code, never tenant settings) decides.
struct client_options {
  /// Hosts allowed besides the provider's own (a proxy, a regional gateway, 127.0.0.1 in tests).
  /// These alone may use plain http.
  std::vector<std::string> extra_allowed_hosts{};
  /// Where rotated refresh tokens are kept (empty: in memory only).
  token_store store{};
  /// The HTTP client's settings; the provider's user agent and response cap override theirs.
  http::client_options http{};
  /// Refuse to send once this many invalid requests (see rate_limit_headers::invalid) are counted
  /// in the provider's window; unset: the provider's own limit. 0: do not count.
  std::optional<std::size_t> invalid_request_cap{};
};

namespace detail {
template <class P> struct auth_of { using type = no_auth; };
template <class P> requires requires { typename P::auth; } struct auth_of<P> { using type = typename P::auth; };
template <class P> struct pagination_of { using type = no_pagination; };
template <class P> requires requires { typename P::pagination; } struct pagination_of<P> { using type = typename P::pagination; };
template <class P> struct idempotency_of { using type = no_idempotency; };
template <class P> requires requires { typename P::idempotency; } struct idempotency_of<P> { using type = typename P::idempotency; };

inline bool host_matches(std::string_view host, std::string_view pattern) {
  if (pattern.starts_with("*.")) return host.size() > pattern.size() - 1 && host.ends_with(pattern.substr(1));
  return boost::beast::iequals(host, pattern);
}

template <class T> inline constexpr bool is_std_string = std::is_same_v<std::remove_cvref_t<T>, std::string>;
}  // namespace detail

/// A provider whose answers are not JSON (S3's XML) classifies them itself:
/// `static rest::verdict classify_answer(const http::response&, std::chrono::system_clock::time_point now)`.
/// The client then parses no JSON, and an accepted answer's `exchange::body` is null.
template <class P>
concept classifies_own_answers = requires(const http::response& r, std::chrono::system_clock::time_point now) {
  { P::classify_answer(r, now) } -> std::same_as<verdict>;
};

/// An answer after error mapping: the response and its JSON (null when empty or not JSON).
struct exchange {
  http::response response;
  // The answer's JSON (null when the body is empty or not JSON). Its nodes live in `arena`, which
  // is declared first so that it outlives them: a piece kept beyond the exchange is copied with a
  // storage of its own, `boost::json::value(v, boost::json::storage_ptr())`.
  std::unique_ptr<detail::answer_arena> arena;
  boost::json::value body;
};

template <provider Provider, class Pipeline = default_pipeline>
class client {
 public:
  using provider_type = Provider;
  using pipeline_type = Pipeline;
  using auth_type = typename detail::auth_of<Provider>::type;
  using pagination_type = typename detail::pagination_of<Provider>::type;
  using idempotency_type = typename detail::idempotency_of<Provider>::type;
  static_assert(auth_scheme<auth_type>, "Provider::auth is not an auth scheme (configure + apply or apply_async)");

  client(integration_config cfg, registry_services& services)
      : client(std::move(cfg), services.executor, services.calls) {}
  /// From a registry with the deployment's options: `registry.register_integration<stripe::client>(cfg,
  /// tenant, options)`.
  client(integration_config cfg, registry_services& services, client_options opts)
      : client(std::move(cfg), services.executor, services.calls, std::move(opts)) {}
  client(integration_config cfg, asio::any_io_executor ex, std::shared_ptr<span_observer> calls = {},
         client_options opts = {})
      : cfg_(std::move(cfg)), opts_(std::move(opts)), state_(std::make_unique<state>(ex, http_options(opts_))),
        pipeline_(make_pipeline(cfg_, std::move(calls))) {
    if (opts_.invalid_request_cap) state_->limits.invalid_cap(*opts_.invalid_request_cap);
  }
  client(integration_config cfg, asio::any_io_executor ex, client_options opts)
      : client(std::move(cfg), std::move(ex), std::shared_ptr<span_observer>{}, std::move(opts)) {}
  /// With a pipeline built by the caller (e.g. on intg::manual_clock in tests).
  client(integration_config cfg, asio::any_io_executor ex, Pipeline pipeline, client_options opts = {})
      : cfg_(std::move(cfg)), opts_(std::move(opts)), state_(std::make_unique<state>(ex, http_options(opts_))),
        pipeline_(std::move(pipeline)) {
    if (opts_.invalid_request_cap) state_->limits.invalid_cap(*opts_.invalid_request_cap);
  }
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  std::string_view name() const noexcept { return cfg_.name; }
  static constexpr std::string_view provider_name() noexcept { return Provider::name; }
  static constexpr std::string_view category() noexcept { return traits<Provider>::category(); }
  const integration_config& config() const noexcept { return cfg_; }
  Pipeline& pipeline() noexcept { return pipeline_; }
  boost::json::object describe() const { return pipeline_.describe(); }
  http::client& http() noexcept { return state_->http; }
  /// The auth scheme (e.g. for oauth2_authorization_code::complete_authorization()).
  auth_type& auth() noexcept { return state_->auth; }
  /// The base URL in use (after initialize()).
  const http::url& base_url() const noexcept { return state_->base; }
  header_limits& limits() noexcept { return state_->limits; }

  /// Reads the settings (base_url, credentials) and obtains credentials.
  asio::awaitable<result<void>> initialize() {
    auto& s = *state_;
    std::string base(traits<Provider>::default_base_url);
    if (const auto* v = cfg_.settings.if_contains("base_url")) {
      if (!v->is_string())
        co_return error(errc::config_error, std::string(Provider::name) + ": settings.base_url must be a string").with_json_path("$.settings.base_url");
      base = std::string(v->get_string());
    }
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (auto e = expand_settings(base); !e) co_return e.error();
    else base = std::move(*e);
    auto u = check_url(base);
    if (!u) co_return error(u.error()).with_json_path("$.settings.base_url");
    s.base = std::move(*u);
    s.base_path = std::string(s.base.path() == "/" ? std::string_view{} : s.base.path());
    s.tenant_headers.clear();
    s.tenant_params.clear();
    // Tenant settings that become headers or default query parameters: strings without control
    // characters (no header injection from tenant settings).
    auto read_setting = [&](std::string_view setting, std::string_view name, auto& out) -> result<void> {
      const auto* v = cfg_.settings.if_contains(setting);
      if (!v) return {};
      const std::string path = "$.settings." + std::string(setting);
      if (!v->is_string())
        return error(errc::config_error, std::string(Provider::name) + ": settings." + std::string(setting) + " must be a string").with_json_path(path);
      const std::string_view text = v->get_string();
      for (unsigned char ch : text)
        if (ch < 0x20 || ch == 0x7f)
          return error(errc::config_error, std::string(Provider::name) + ": settings." + std::string(setting) + " holds a control character").with_json_path(path);
      if (!text.empty()) out.emplace_back(std::string(name), std::string(text));
      return {};
    };
    for (const auto& h : traits<Provider>::settings_headers())
      if (auto r = read_setting(h.setting, h.name, s.tenant_headers); !r) co_return r.error();
    for (const auto& p : traits<Provider>::settings_params())
      if (auto r = read_setting(p.setting, p.param, s.tenant_params); !r) co_return r.error();
    s.ctx.provider = Provider::name;
    s.ctx.settings = &cfg_.settings;
    s.ctx.http = &s.http;
    s.ctx.executor = s.http.get_executor();
    s.ctx.store = &opts_.store;
    s.ctx.store_prefix = std::string(Provider::name) + "/" + cfg_.tenant + "/" + cfg_.name + "/";
    s.ctx.check_url = [this](std::string_view t) { return check_url(t); };
    s.ctx.default_token_url = traits<Provider>::token_url();
    if (auto r = s.auth.configure(s.ctx); !r) co_return r.error();
    if constexpr (requires { s.auth.obtain(); }) {
      auto r = co_await s.auth.obtain();
      if (!r) co_return error(r.error()).with_message(std::string(Provider::name) + ": could not obtain credentials: " + r.error().to_string());
    }
    s.ready = true;
    co_return result<void>{};
  }

  /// The provider's declared cheap call, through the probe stack (timeout only: no quota, not
  /// refused by the breaker it probes, not counted as a call).
  asio::awaitable<health_report> health_check() {
    health_report h;
    const auto t0 = std::chrono::steady_clock::now();
    constexpr rest::call hc = traits<Provider>::health();
    result<exchange> r = error(errc::not_initialized, std::string(Provider::name) + ": initialize() first");
    if (state_->ready) {
      auto req = request_for(hc.method, std::string(hc.path));
      if (!req) r = req.error();
      else r = co_await execute(*req, "health_check", true);
    }
    h.latency = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
    if (r) {
      h.status = integration_status::healthy;
      h.message = std::string(hc.path) + " answered";
    } else {
      h.status = is_local_rejection(r.error()) || r.error().code() == condition::rate_limited ? integration_status::degraded
                                                                                  : integration_status::unhealthy;
      h.message = r.error().to_string();
    }
    h.details = pipeline_.describe();
    co_return h;
  }

  asio::awaitable<void> cleanup() {
    state_->http.close_idle();
    co_return;
  }

  // ---- operations ---------------------------------------------------------------------------

  /// Runs `op`: `call(op)`, `call(op, path_args...)`, `call(op, path_args..., params)` where
  /// params is a NAMED object of the operation's Params type (see the header comment).
  template <class Op, class... A>
  asio::awaitable<result<typename Op::response_type>> call(const Op& op, A&&... a) {
    check_args<Op, false, A...>();
    auto args = path_args<Op>(a...);
    return call_impl(op, args, params_ptr<Op>(a...));
  }

  /// A typed async range over the pages of a list operation: `auto pages = c.pages(op, params);
  /// while (auto page = co_await pages.next()) ...` — next() gives result<optional<vector<Item>>>,
  /// an empty optional after the last page. Params and path arguments must outlive the pager.
  template <class Op, class... A>
    requires requires { Op::paged; }
  auto pages(const Op& op, A&&... a) {
    static_assert(Op::paged, "pages(): the operation is not a list_operation");
    check_args<Op, true, A...>();
    return pager<Op>(*this, op, path_args<Op>(a...), params_ptr<Op>(a...), cap_of(a...));
  }

  /// Every item of a list operation, page after page, up to a page cap (a trailing
  /// rest::page_cap{n}; 100 pages by default).
  template <class Op, class... A>
    requires requires { Op::paged; }
  asio::awaitable<result<std::vector<typename Op::item_type>>> collect_all(const Op& op, A&&... a) {
    static_assert(Op::paged, "collect_all(): the operation is not a list_operation");
    check_args<Op, true, A...>();
    return collect_impl(op, path_args<Op>(a...), params_ptr<Op>(a...), cap_of(a...));
  }

  /// A page iterator (see pages()).
  template <class Op>
  class pager {
   public:
    using item_type = typename Op::item_type;
    pager(client& c, const Op& op, std::array<std::string_view, Op::arg_count> args,
          const typename Op::params_type* params, page_cap cap)
        : c_(&c), op_(&op), args_(args), params_(params), cap_(cap) {}

    /// The next page's items; an empty optional when there are no more (or the cap is reached).
    asio::awaitable<result<std::optional<std::vector<item_type>>>> next() {
      using out = std::optional<std::vector<item_type>>;
      if (done_) co_return out{};
      if (pages_ >= cap_.pages) {
        done_ = true;
        co_return out{};
      }
      result<http::request> req = error(errc::invalid_argument);
      if (!next_) req = c_->build(*op_, args_.data(), params_);
      else req = c_->request_at(op_->method, *next_);
      if (!req) co_return fail(req.error());
      const http::url at = req->target;
      const std::string major = major_key(args_.data(), op_->major_args);
      auto ex = co_await c_->execute(*req, op_->name, false, op_->credential, c_->keyed(op_->method), major);
      if (!ex) co_return fail(ex.error());
      ++pages_;
      using strategy = std::conditional_t<std::is_same_v<typename Op::pagination, provider_pagination>,
                                          pagination_type, typename Op::pagination>;
      const std::string_view items_at = !op_->items.empty() ? op_->items : strategy::items;
      const boost::json::value* arr = items_at.empty() ? &ex->body : detail::at(ex->body, items_at);
      boost::json::value lone;  // a single object where the list of one is expected (lone_item_as_object)
      if constexpr (traits<Provider>::lone_item_as_object())
        if (arr && arr->is_object()) {
          lone = boost::json::array{*arr};
          arr = &lone;
        }
      if (arr && !arr->is_array()) arr = nullptr;
      if (!arr && !(items_at.empty() ? ex->body.is_null() : false))
        co_return fail(error(errc::invalid_response, std::string(Provider::name) + ": page without an item array at " +
                                                         std::string(items_at.empty() ? "$" : items_at)));
      std::vector<item_type> items;
      if (arr) {
        // One decode for the whole page, under one budget (rest::decode's bound on how far a
        // body may amplify into the model's vectors and maps).
        auto decoded = decode_value<std::vector<item_type>>(*arr, budget_for(ex->response.body().size()));
        if (!decoded) co_return fail(decoded.error());
        items = std::move(*decoded);
      }
      const page_view view{at, ex->response, ex->body, items.size()};
      auto step = strategy::next(view);
      if (!step) co_return fail(step.error());
      if (step->done) {
        done_ = true;
        co_return out{std::move(items)};
      }
      result<http::url> nu = error(errc::invalid_response);
      std::string token;
      if (!step->url.empty()) {
        nu = at.resolve(step->url);
        token = step->url;
      } else {
        nu = with_param(at, step->param, step->value);
        token = step->param + "=" + step->value;
      }
      if (!nu) co_return fail(error(errc::invalid_response, std::string(Provider::name) + ": invalid next-page link"));
      // Our credentials go with the request: never to another origin than the API's.
      if (nu->origin() != c_->state_->base.origin())
        co_return fail(error(errc::invalid_response, std::string(Provider::name) + ": a next-page link leaves the API's origin (" +
                                                         nu->origin() + ")"));
      if (!seen_.insert(token).second)
        co_return fail(error(errc::invalid_response, std::string(Provider::name) + ": the API sent the same cursor twice (pagination loop)"));
      next_ = std::move(*nu);
      co_return out{std::move(items)};
    }

    /// Continues a listing from a next-page link an earlier answer gave (a `paging<T>::next`):
    /// the next call to next() reads that page. Refused when the link leaves the API's origin.
    result<void> start_at(std::string_view link) {
      auto u = c_->state_->base.resolve(link);
      if (!u || u->origin() != c_->state_->base.origin())
        return error(errc::invalid_argument, std::string(Provider::name) + ": a next-page link outside the API's origin");
      next_ = std::move(*u);
      return {};
    }

    std::size_t pages_read() const noexcept { return pages_; }
    bool done() const noexcept { return done_; }

   private:
    error fail(error e) {
      done_ = true;
      return e;
    }
    client* c_;
    const Op* op_;
    std::array<std::string_view, Op::arg_count> args_;
    const typename Op::params_type* params_;
    page_cap cap_;
    std::optional<http::url> next_;
    std::set<std::string> seen_;
    std::size_t pages_ = 0;
    bool done_ = false;
  };

  /// Sends a prepared request through the pipeline (auth, limits, error mapping): for the odd
  /// endpoint no operation describes. `operation` names it in metrics and traces.
  asio::awaitable<result<exchange>> send(http::request& req, std::string_view operation, std::size_t credential = 0) {
    return execute(req, operation, false, credential);
  }

  /// A request to `path` (relative to the base URL) with the provider's default headers.
  result<http::request> request_for(http::verb method, const std::string& path) const {
    auto u = http::url::parse(state_->base.origin() + state_->base_path + path);
    if (!u) return error(errc::invalid_argument, std::string(Provider::name) + ": invalid request path");
    return prepared(method, std::move(*u));
  }

 private:
  struct state {
    state(const asio::any_io_executor& ex, http::client_options o)
        : http(ex, std::move(o)), limits(traits<Provider>::rate_limits()) {}
    http::client http;
    auth_type auth{};
    auth_context ctx;
    header_limits limits;
    http::url base;
    std::string base_path;
    std::vector<std::pair<std::string, std::string>> tenant_headers;  // from settings_headers
    std::vector<std::pair<std::string, std::string>> tenant_params;   // from settings_params
    bool ready = false;
  };

  static http::client_options http_options(const client_options& o) {
    http::client_options h = o.http;
    if (!traits<Provider>::user_agent().empty()) h.user_agent = std::string(traits<Provider>::user_agent());
    h.max_response_body = traits<Provider>::max_response_bytes();
    return h;
  }

  static Pipeline make_pipeline(const integration_config& c, std::shared_ptr<span_observer> calls) {
    if constexpr (std::is_same_v<Pipeline, default_pipeline>) {
      intg::circuit_breaker<>::options cb = intg::circuit_breaker<>::options_from_config(c);
      if (auto rec = std::dynamic_pointer_cast<observability::call_recorder>(calls)) cb.on_state_change = rec->breaker_listener();
      intg::tracing<>::options t;
      t.observer = std::move(calls);
      return Pipeline(t, intg::retry<>::options_from_config(c), cb, intg::rate_limiter<>::options_from_config(c),
                      intg::timeout<>::options_from_config(c));
    } else if constexpr (std::is_constructible_v<Pipeline, const integration_config&>) {
      return Pipeline(c);
    } else {
      return Pipeline();
    }
  }

  // The base URL's `{setting}` placeholders (Twilio: ".../Accounts/{account_sid}"), each replaced
  // by that setting, percent-encoded: a setting fills one segment, it cannot add segments or
  // reshape the host (the allowlist check comes after).
  result<std::string> expand_settings(std::string_view t) const {
    std::string out;
    for (std::size_t i = 0; i < t.size();) {
      if (t[i] != '{') {
        out += t[i++];
        continue;
      }
      const auto end = t.find('}', i);
      if (end == std::string_view::npos)
        return error(errc::config_error, std::string(Provider::name) + ": the base URL has an unclosed {").with_json_path("$.settings.base_url");
      const std::string name(t.substr(i + 1, end - i - 1));
      const auto* v = cfg_.settings.if_contains(name);
      if (!v || !v->is_string() || v->get_string().empty())
        return error(errc::config_error, std::string(Provider::name) + ": settings." + name + " is required (the base URL names it)")
            .with_json_path("$.settings." + name);
      http::percent_encode_to(out, v->get_string());
      i = end + 1;
    }
    return out;
  }

  // The allowlist: the provider's hosts (https only) and the deployment's extra hosts.
  result<http::url> check_url(std::string_view text) const {
    auto u = http::url::parse(text);
    if (!u) return error(errc::config_error, std::string(Provider::name) + ": invalid URL: " + std::string(u.error().message()));
    for (const auto& h : opts_.extra_allowed_hosts)
      if (detail::host_matches(u->host(), h)) return u;
    bool allowed = false;
    auto hosts = traits<Provider>::allowed_hosts();
    if (hosts.empty()) {
      auto d = http::url::parse(traits<Provider>::default_base_url);
      allowed = d && d->host() == u->host();
    }
    for (auto h : hosts) allowed = allowed || detail::host_matches(u->host(), h);
    if (!allowed)
      return error(errc::config_error, std::string(Provider::name) + ": host " + u->host() +
                                           " is not one of the provider's allowed hosts (credentials are sent there)");
    if (!u->tls()) return error(errc::config_error, std::string(Provider::name) + ": " + u->host() + " must be reached over https");
    return u;
  }

  result<http::request> prepared(http::verb method, http::url u) const {
    http::request req(method, std::move(u));
    req.set(http::field::accept, "application/json");
    for (const auto& h : traits<Provider>::default_headers()) req.set(h.name, h.value);
    for (const auto& [name, value] : state_->tenant_headers) req.set(name, value);
    return req;
  }
  result<http::request> request_at(http::verb method, const http::url& u) const { return prepared(method, u); }

  // The request of one logical call: path, parameters, idempotency key.
  template <class Op>
  result<http::request> build(const Op& op, const std::string_view* args, const typename Op::params_type* params) const {
    using P = typename Op::params_type;
    if (!state_->ready) return error(errc::not_initialized, std::string(Provider::name) + ": initialize() first");
    for (std::size_t i = 0; i < Op::arg_count; ++i) {
      if (args[i].empty()) return error(errc::invalid_argument, std::string(Provider::name) + ": " + std::string(op.name) + ": empty path argument");
      if (op.check)
        if (auto c = op.check(args[i]); !c) return c.error();
    }
    if constexpr (requires { params->validate(); })
      if (auto v = params->validate(); !v) return v.error();
    auto req = request_for(op.method, op.path.expand(args));
    if (!req) return req.error();
    std::string key;
    const bool with_key = keyed(op.method);
    if (with_key) {
      auto k = new_idempotency_key();
      if (!k) return k.error();
      key = std::move(*k);
      idempotency_type::apply(*req, key);
    }
    const bool in_query = !unsafe_method(op.method) && op.method != http::verb::put;
    if constexpr (std::is_same_v<P, multipart>) {
      auto b = crypto::random_bytes(12);
      if (!b) return b.error();
      const std::string boundary = "intg-" + crypto::to_hex(*b);
      req->body(params->encode(boundary), "multipart/form-data; boundary=" + boundary);
    } else if constexpr (!std::is_same_v<P, none>) {
      if (in_query || op.body == body::none) {
        http::query q;
        append_form(q, *params);
        add_setting_defaults<P>(q);
        req->target.add_query(q);
        req->message.target(req->target.target());
      } else if (op.body == body::form) {
        http::query q;
        append_form(q, *params);
        if (with_key) idempotency_type::apply_form(q, key);
        req->form(q);
      } else {
        boost::json::value v = encode(*params);
        if (with_key)
          if (auto* o = v.if_object()) idempotency_type::apply_json(*o, key);
        req->json(v);
      }
    } else if (with_key && !in_query) {
      if (op.body == body::form) {
        http::query q;
        idempotency_type::apply_form(q, key);
        if (!q.empty()) req->form(q);
      } else if (op.body == body::json) {
        boost::json::object o;
        idempotency_type::apply_json(o, key);
        if (!o.empty()) req->json(o);
      }
    }
    return req;
  }

  // The tenant's defaults (settings_params) for the Params members the caller left empty.
  template <class P>
  void add_setting_defaults(http::query& q) const {
    if constexpr (boost::describe::has_describe_members<P>::value) {
      for (const auto& param : state_->tenant_params) {  // not a structured binding: clang 14 cannot capture one
        bool declared = false;
        boost::mp11::mp_for_each<boost::describe::describe_members<P, boost::describe::mod_public>>(
            [&](auto d) { declared = declared || param.first == d.name; });
        if (declared && !q.contains(param.first)) q.add(param.first, param.second);
      }
    }
  }

  static std::size_t budget_for(std::size_t body_bytes) noexcept {
    return std::max(decode_budget_floor, body_bytes * decode_budget_factor);
  }
  template <class T>
  static result<T> decode_value(const boost::json::value& v, std::size_t budget) {
    // Raw values leave the answer's arena: the caller owns them on the default resource.
    if constexpr (std::is_same_v<T, boost::json::value>) {
      return boost::json::value(v, boost::json::storage_ptr());
    } else if constexpr (std::is_same_v<T, std::vector<boost::json::value>>) {
      T out;
      out.reserve(v.get_array().size());
      for (const auto& e : v.get_array()) out.emplace_back(e, boost::json::storage_ptr());
      return out;
    } else {
      return rest::decode<T>(v, budget);
    }
  }

  // An answer's JSON, its nodes in `arena` (null when the body is empty or not JSON).
  static boost::json::value parse_answer(const std::string& text, detail::answer_arena* arena) {
    if (text.empty()) return nullptr;
    boost::json::parse_options po;
    po.max_depth = max_json_depth;
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(text, ec, arena, po);
    if (ec) return nullptr;
    return v;
  }

  // One logical call through the pipeline (or the probe stack).
  // Whether build() gives a request of this method an idempotency key (header or body field).
  static constexpr bool keyed(http::verb method) noexcept { return idempotency_type::enabled && unsafe_method(method); }

  // `has_key`: the request carries an idempotency key, so the provider applies it at most once and
  // a 5xx may be retried; without one, a non-idempotent request that reached the provider is never
  // sent again (a 5xx answer does not say it had no effect).
  asio::awaitable<result<exchange>> execute(http::request& req, std::string_view operation, bool probe,
                                            std::size_t credential = 0, bool has_key = false, std::string_view major = {}) {
    call_options opts{.partition_key = cfg_.tenant, .operation = operation};
    const http::url target = req.target;  // each attempt starts from it (auth may add to the query)
    const bool resendable = has_key || req.replay_safe();
    auto op = [this, &req, &target, operation, major, credential, resendable](attempt& a) -> asio::awaitable<result<exchange>> {
      auto& s = *state_;
      // Proactive limit: wait for the reset the provider announced, within bounds.
      if (auto until = s.limits.blocked_until(operation, major, pipeline_.clock().now())) {
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(*until - pipeline_.clock().now());
        if (wait > s.limits.config().max_wait || wait >= cfg_.timeout) {
          error e(errc::rate_limited, std::string(Provider::name) + ": rate limit exhausted until the announced reset");
          co_return e.with_retry_after(wait);
        }
        if (auto e = co_await intg::detail::sleep_until(pipeline_.clock(), a.executor(), *until)) co_return e;
      }
      bool refreshed = false;
      for (;;) {
        // The provider bans callers past its cap on invalid requests: stop before it.
        if (auto until = s.limits.invalid_refused_until(pipeline_.clock().now())) {
          const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(*until - pipeline_.clock().now());
          error e(errc::rate_limited, std::string(Provider::name) + ": " + std::to_string(s.limits.invalid_cap()) +
                                          " invalid requests (401, 403, 429) in the provider's window: not sending more before it bans this client");
          co_return e.with_retry_after(wait);
        }
        req.target = target;
        req.message.target(target.target());
        if constexpr (requires { s.auth.apply_async(req, credential); }) {
          auto r = co_await s.auth.apply_async(req, credential);
          if (!r) co_return r.error();
        } else if constexpr (requires { s.auth.apply_async(req); }) {
          auto r = co_await s.auth.apply_async(req);
          if (!r) co_return r.error();
        } else {
          if (auto r = s.auth.apply(req); !r) co_return r.error();
        }
        auto res = co_await s.http.send(req, a);
        if (!res) co_return res.error();
        s.limits.observe(operation, major, *res, pipeline_.clock().now(), std::chrono::system_clock::now());
        exchange ex = [&] {
          if constexpr (classifies_own_answers<Provider>) {
            return exchange{std::move(*res), nullptr, nullptr};  // the provider reads its answer itself
          } else {
            auto arena = std::make_unique<detail::answer_arena>();
            boost::json::value body = parse_answer(res->body(), arena.get());  // constructed, not assigned: that would copy it out
            return exchange{std::move(*res), std::move(arena), std::move(body)};
          }
        }();
        verdict v;
        if constexpr (classifies_own_answers<Provider>) v = Provider::classify_answer(ex.response, std::chrono::system_clock::now());
        else v = classify<Provider>(ex.response, ex.body.is_null() ? nullptr : &ex.body);
        if (v.action == action::accept) {
          if constexpr (!classifies_own_answers<Provider>)
            if (ex.body.is_null() && !ex.response.body().empty())
              co_return error(errc::invalid_response, std::string(Provider::name) + ": answer is not JSON");
          co_return ex;
        }
        if (v.action == action::refresh && !refreshed) {
          bool retry = false;
          if constexpr (requires { s.auth.refused(ex.response); }) retry = s.auth.refused(ex.response);
          else if constexpr (requires { s.auth.unauthorized(credential); }) retry = s.auth.unauthorized(credential);
          else if constexpr (requires { s.auth.unauthorized(); }) retry = s.auth.unauthorized();
          if (retry) {
            refreshed = true;
            continue;  // a 401 was not processed: sending once more repeats nothing
          }
        }
        if (v.action == action::rate_limited && v.failure.has_retry_after()) {
          const auto until = pipeline_.clock().now() + v.failure.retry_after();
          if (s.limits.global(ex.response, ex.body.is_null() ? nullptr : &ex.body)) s.limits.block_all(until);
          else s.limits.block(operation, major, until);
        }
        if (v.action == action::retry && !resendable) {
          error e(errc::outcome_unknown, std::string(Provider::name) + ": HTTP " + std::to_string(v.failure.http_status()) + " to a " +
                                             std::string(req.message.method_string()) +
                                             " without an idempotency key: it may have taken effect, so it is not sent again (" +
                                             v.failure.to_string() + ")");
          e.with_http_status(v.failure.http_status());
          if (!v.failure.provider_code().empty()) e.with_provider_code(std::string(v.failure.provider_code()));
          co_return redact(std::move(e), credential_of(req));
        }
        co_return redact(std::move(v.failure), credential_of(req));
      }
    };
    if (probe) {
      auto r = co_await probe_.execute(op, opts);
      co_return r;
    }
    auto r = co_await pipeline_.execute(op, opts);
    co_return r;
  }

  // The token part of the Authorization header, for redaction.
  static std::string_view credential_of(const http::request& req) {
    auto it = req.message.find(http::field::authorization);
    if (it == req.message.end()) return {};
    std::string_view v = it->value();
    const auto sp = v.find(' ');
    return sp == std::string_view::npos ? v : v.substr(sp + 1);
  }

  template <class Op>
  asio::awaitable<result<typename Op::response_type>> call_impl(const Op& op, std::array<std::string_view, Op::arg_count> args,
                                                                const typename Op::params_type* params) {
    using R = typename Op::response_type;
    if constexpr (Op::paged) {
      co_return co_await collect_impl(op, args, params, page_cap{1});
    } else {
      auto req = build(op, args.data(), params);
      if (!req) co_return req.error();
      const std::string major = major_key(args.data(), op.major_args);
      auto ex = co_await execute(*req, op.name, false, op.credential, keyed(op.method), major);
      if (!ex) co_return op.secret_arg ? redact(ex.error(), args[op.secret_arg - 1]) : ex.error();
      if constexpr (std::is_same_v<R, none>) {
        co_return none{};
      } else {
        if (ex->body.is_null() && !std::is_same_v<R, boost::json::value>)
          co_return error(errc::invalid_response, std::string(Provider::name) + ": " + std::string(op.name) + ": empty answer");
        co_return decode_value<R>(ex->body, budget_for(ex->response.body().size()));
      }
    }
  }

  template <class Op>
  asio::awaitable<result<std::vector<typename Op::item_type>>> collect_impl(const Op& op, std::array<std::string_view, Op::arg_count> args,
                                                                           const typename Op::params_type* params, page_cap cap) {
    pager<Op> p(*this, op, args, params, cap);
    std::vector<typename Op::item_type> all;
    for (;;) {
      auto page = co_await p.next();
      if (!page) co_return page.error();
      if (!*page) break;
      for (auto& item : **page) all.push_back(std::move(item));
    }
    co_return all;
  }

  // ---- argument checks (the call-style rule) -------------------------------------------------
  template <class T> static constexpr bool is_cap = std::is_same_v<std::remove_cvref_t<T>, page_cap>;

  template <class Op, bool AllowCap, class... A>
  static constexpr void check_args() {
    using P = typename Op::params_type;
    constexpr std::size_t caps = AllowCap ? ((is_cap<A> ? 1 : 0) + ... + 0) : 0;
    constexpr std::size_t expected = Op::arg_count + (std::is_same_v<P, none> ? 0 : 1) + caps;
    static_assert(sizeof...(A) == expected,
                  "rest::client: wrong number of arguments: pass the operation, its path arguments (one per {} in "
                  "the path), then its parameters object when it has a Params type (then, for pages/collect_all, "
                  "an optional rest::page_cap)");
    if constexpr (sizeof...(A) == expected) {
      [&]<std::size_t... I>(std::index_sequence<I...>) {
        (check_one<Op, I, std::tuple_element_t<I, std::tuple<A&&...>>>(), ...);
      }(std::index_sequence_for<A...>{});
    }
  }
  template <class Op, std::size_t I, class T>
  static constexpr void check_one() {
    using P = typename Op::params_type;
    if constexpr (I < Op::arg_count) {
      static_assert(std::is_convertible_v<T, std::string_view>,
                    "rest::client: path arguments are strings (std::string_view, literals, named std::strings)");
      static_assert(!(detail::is_std_string<T> && std::is_rvalue_reference_v<T>),
                    "rest::client: a temporary std::string as a path argument: name it first (g++ 12 destroys "
                    "temporaries created inside co_await twice)");
    } else if constexpr (I == Op::arg_count && !std::is_same_v<P, none>) {
      static_assert(std::is_same_v<std::remove_cvref_t<T>, P>, "rest::client: the parameters are not the operation's Params type");
      static_assert(std::is_lvalue_reference_v<T>,
                    "rest::client: pass the parameters as a NAMED object (`Params p{...}; co_await c.call(op, p);`): "
                    "g++ 12 destroys a temporary holding a std::string created inside a co_await expression twice");
    }
  }
  template <class Op, class... A>
  static std::array<std::string_view, Op::arg_count> path_args(A&... a) {
    std::array<std::string_view, Op::arg_count> out{};
    auto t = std::forward_as_tuple(a...);
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      ((out[I] = std::string_view(std::get<I>(t))), ...);
    }(std::make_index_sequence<Op::arg_count>{});
    return out;
  }
  template <class Op, class... A>
  static const typename Op::params_type* params_ptr(A&... a) {
    if constexpr (std::is_same_v<typename Op::params_type, none>) {
      return nullptr;
    } else {
      auto t = std::forward_as_tuple(a...);
      return &std::get<Op::arg_count>(t);
    }
  }
  template <class... A>
  static page_cap cap_of(A&... a) {
    page_cap c{};
    ((void)[&](auto& x) {
      if constexpr (is_cap<decltype(x)>) c = x;
    }(a), ...);
    return c;
  }

  integration_config cfg_;
  client_options opts_;
  std::unique_ptr<state> state_;
  Pipeline pipeline_;
  basic_probe_pipeline<typename Pipeline::clock_type> probe_ = make_probe_pipeline(pipeline_, cfg_);
};

}  // namespace intg::rest
