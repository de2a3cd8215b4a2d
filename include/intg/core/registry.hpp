// intg::registry: the central registry of integrations. Integrations are registered per tenant
// and isolated by tenant; enable_all(), health_check_all() and disable_all() run concurrently with
// a timeout per integration; a health monitor checks each integration at its own interval, moves
// its status (healthy / degraded / unhealthy; `unknown` from initialization to the first check) and
// emits events; snapshot() reports it all.
//
// Thread safety: set_tenant, register_integration, get, status, size and snapshot may be called
// from any thread. The coroutines (enable_all, health_check_all, disable, unregister, shutdown) and
// start_monitor / stop_monitor must run on the registry's executor (a strand or a single-threaded
// io_context). A `T*` returned by get() stays valid until that integration is unregistered or the
// registry is destroyed; a tenant_settings pointer stays valid as long as the registry.
#pragma once

#include <intg/core/clock.hpp>
#include <intg/core/error.hpp>
#include <intg/core/event.hpp>
#include <intg/core/health.hpp>
#include <intg/core/integration.hpp>
#include <intg/core/integration_config.hpp>
#include <intg/observability/call_recorder.hpp>
#include <intg/core/result.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <typeindex>
#include <utility>
#include <vector>

namespace intg {

struct registry_options {
  std::chrono::milliseconds initialize_timeout{30'000};  ///< per integration, in enable_all()
  std::chrono::milliseconds health_check_timeout{10'000};
  std::chrono::milliseconds cleanup_timeout{10'000};
  int unhealthy_after = 3;  ///< failed checks in a row before degraded becomes unhealthy
  event_sink events{};      ///< where status changes and failures are reported (may be empty)
  /// Where call and health-check metrics go (intg_calls_total, intg_call_duration_seconds,
  /// intg_health_checks_total, intg_health_check_duration_seconds, intg_integration_status).
  std::shared_ptr<observability::metrics_registry> metrics{};
};

/// Services the registry passes to an integration's constructor when it accepts them:
/// `T(integration_config, registry_services&)`.
struct registry_services {
  asio::any_io_executor executor;
  const tenant_settings* tenant = nullptr;  ///< the integration's tenant, when known to the registry
  const event_sink* events = nullptr;
  /// Counts this integration's calls for status reports and metrics: set it as the tracing
  /// policy's observer (`tracing<>::options::observer`), and `calls->breaker_listener()` as the
  /// breaker's `on_state_change` to count its transitions in the metrics.
  std::shared_ptr<observability::call_recorder> calls;
};

/// One integration's state as reported by snapshot().
struct integration_snapshot {
  std::string name;
  std::string tenant;
  std::string category;  ///< integration_config::category
  integration_status status{};
  bool critical = false;  ///< integration_config::critical
  /// The last check; status `unknown` (message "not checked yet") before the first one.
  health_report last_check;
  std::uint64_t checks = 0;
  std::uint64_t failed_checks = 0;
  std::chrono::microseconds average_check_latency{0};
  call_totals calls;             ///< from the integration's call recorder (zero if it does not use it)
  boost::json::object policies;  ///< the integration's describe() (breaker, limiter state), if it has one
};

template <clock Clock = steady_clock>
class basic_registry {
  struct model_base {
    virtual ~model_base() = default;
    virtual asio::awaitable<result<void>> initialize() = 0;
    virtual asio::awaitable<health_report> health_check() = 0;
    virtual asio::awaitable<void> cleanup() = 0;
    virtual void* object() noexcept = 0;
    virtual boost::json::object describe() const = 0;
  };
  template <integration T>
  struct model final : model_base {
    template <class... A>
    explicit model(A&&... a) : value(std::forward<A>(a)...) {}
    asio::awaitable<result<void>> initialize() override { return value.initialize(); }
    asio::awaitable<health_report> health_check() override { return value.health_check(); }
    asio::awaitable<void> cleanup() override { return value.cleanup(); }
    void* object() noexcept override { return &value; }
    boost::json::object describe() const override {
      if constexpr (requires(const T& t) { { t.describe() } -> std::convertible_to<boost::json::object>; })
        return value.describe();
      else
        return {};
    }
    T value;
  };

  // What the registry reads of an integration's configuration. The integration holds the whole
  // configuration (settings, policies); a second full copy here cost every instance its size again.
  struct registered_config {
    std::string name, tenant, category;
    bool enabled = true;
    bool critical = false;
    std::chrono::milliseconds health_check_interval{};
  };

  struct entry {
    registered_config config;
    std::type_index type = typeid(void);
    std::unique_ptr<model_base> impl;
    mutable std::mutex mutex;  // guards the fields below
    integration_status status = integration_status::registered;
    health_report last{integration_status::unknown, {}, "not checked yet", {}, {}};
    int failures_in_row = 0;
    std::uint64_t checks = 0, failed_checks = 0;
    std::chrono::microseconds total_latency{0};
    std::shared_ptr<observability::call_recorder> calls;
    observability::counter* checks_ok = nullptr;  // metric children, when the registry has metrics
    observability::counter* checks_failed = nullptr;
    observability::histogram* check_duration = nullptr;
    asio::cancellation_signal monitor_stop;  // used on the registry's executor only
    bool monitored = false;
  };
  using key = std::pair<std::string, std::string>;  // tenant, name

 public:
  using clock_type = Clock;

  explicit basic_registry(asio::any_io_executor ex, registry_options opts = {}, Clock clock = {})
      : executor_(std::move(ex)), opts_(std::move(opts)), clock_(std::move(clock)) {
    if (opts_.metrics) metrics_ = std::make_unique<observability::integration_metrics>(*opts_.metrics);
  }
  basic_registry(const basic_registry&) = delete;
  basic_registry& operator=(const basic_registry&) = delete;
  /// Destroying a registry with running monitors or calls is a programming error: co_await
  /// shutdown() first. The destructor does not run cleanup().
  ~basic_registry() = default;

  const asio::any_io_executor& get_executor() const noexcept { return executor_; }
  const Clock& clock() const noexcept { return clock_; }

  /// Declares a tenant's settings (rate limits, features, SLA) for the integrations registered
  /// for it afterwards.
  void set_tenant(tenant_settings t) {
    std::unique_lock lock(mutex_);
    auto& slot = tenants_[t.id];
    if (slot) *slot = std::move(t);  // in place: pointers already handed out stay valid
    else slot = std::make_shared<tenant_settings>(std::move(t));
  }
  const tenant_settings* tenant(std::string_view id) const {
    std::shared_lock lock(mutex_);
    auto it = tenants_.find(std::string(id));
    return it == tenants_.end() ? nullptr : it->second.get();
  }

  /// Constructs `T` from the configuration (and the registry's services when T accepts them),
  /// followed by `extra` (what the deployment decides in code, e.g. a provider's
  /// rest::client_options), and registers it under (tenant, config.name). Throws intg::exception
  /// when the name is already taken for that tenant or is empty, or its category is not a valid
  /// name (a start-up misconfiguration).
  template <integration T, class... Extra>
  T& register_integration(integration_config config, std::string tenant, Extra&&... extra) {
    if (config.name.empty()) throw exception(error{errc::config_error, "an integration needs a name"});
    if (config.category.empty()) {
      if constexpr (requires { { T::category() } -> std::convertible_to<std::string_view>; })
        config.category = std::string(T::category());
      else
        config.category = std::string(categories::external_api);
    }
    if (!is_valid_category(config.category))
      throw exception(error{errc::config_error, "integration '" + config.name +
                                                    "': invalid category (expected 1 to 64 characters of a-z, 0-9, '_' and '-')"});
    config.tenant = tenant;
    auto e = std::make_shared<entry>();
    e->type = typeid(T);
    e->calls = metrics_ ? std::make_shared<observability::call_recorder>(*metrics_, config.name, tenant)
                        : std::make_shared<observability::call_recorder>();
    if (metrics_) {
      e->checks_ok = &metrics_->checks.with({config.name, tenant, "healthy"});
      e->checks_failed = &metrics_->checks.with({config.name, tenant, "unhealthy"});
      e->check_duration = &metrics_->check_duration.with({config.name, tenant});
    }
    registry_services services{executor_, this->tenant(tenant), opts_.events ? &opts_.events : nullptr, e->calls};
    e->config = registered_config{config.name, config.tenant, config.category, config.enabled, config.critical,
                                  config.health_check_interval};
    if constexpr (std::is_constructible_v<T, integration_config, registry_services&, Extra&&...>)
      e->impl = std::make_unique<model<T>>(std::move(config), services, std::forward<Extra>(extra)...);
    else
      e->impl = std::make_unique<model<T>>(std::move(config), std::forward<Extra>(extra)...);
    if (!e->config.enabled) e->status = integration_status::disabled;
    T& ref = static_cast<model<T>*>(e->impl.get())->value;
    publish_status(*e, e->status);
    publish_policies(*e, e->impl->describe());
    std::unique_lock lock(mutex_);
    auto [it, inserted] = entries_.try_emplace(key{tenant, e->config.name}, e);
    if (!inserted)
      throw exception(error{errc::config_error, "integration '" + e->config.name + "' is already registered for tenant '" + tenant + "'"});
    return ref;
  }

  /// The integration registered as `name` for `tenant`, if it is a `T`; nullptr otherwise
  /// (unknown name, another tenant's integration, or another type). Throws intg::exception
  /// (errc::not_initialized) for one that is registered but was never enabled: its initialize()
  /// has not run, so calling it would work on an uninitialized object.
  template <class T>
  T* get(std::string_view name, std::string_view tenant) const {
    std::shared_ptr<entry> e;
    {
      std::shared_lock lock(mutex_);
      auto it = entries_.find(key{std::string(tenant), std::string(name)});
      if (it == entries_.end() || it->second->type != std::type_index(typeid(T))) return nullptr;
      e = it->second;
    }
    {
      std::lock_guard lock(e->mutex);
      if (e->status == integration_status::registered)
        throw exception(error{errc::not_initialized, "integration '" + std::string(name) + "' (tenant '" + std::string(tenant) +
                                                         "') is registered but not enabled: co_await registry.enable_all() "
                                                         "or enable(name, tenant) first"});
    }
    return static_cast<T*>(e->impl->object());
  }

  /// The status of one integration; nullopt when there is no such integration for that tenant.
  std::optional<integration_status> status(std::string_view name, std::string_view tenant) const {
    auto e = find(name, tenant);
    if (!e) return std::nullopt;
    std::lock_guard lock(e->mutex);
    return e->status;
  }

  std::size_t size() const {
    std::shared_lock lock(mutex_);
    return entries_.size();
  }

  /// Initializes every enabled integration that is not running yet (registered or failed)
  /// concurrently, each under its own timeout. One failure does not stop the others; failures
  /// leave that integration `failed` and emit an event.
  asio::awaitable<void> enable_all() {
    co_await for_each_concurrently([this](std::shared_ptr<entry> e) { return enable_one(std::move(e)); },
                                   [](const entry& e) { return e.config.enabled && !is_active(e.status); });
  }

  /// Initializes one integration. errc::not_found for an unknown one.
  asio::awaitable<result<void>> enable(std::string_view name, std::string_view tenant) {
    auto e = find(name, tenant);
    if (!e) co_return error{errc::not_found, "no integration '" + std::string(name) + "' for this tenant"};
    {
      std::lock_guard lock(e->mutex);
      e->config.enabled = true;
    }
    co_await enable_one(e);
    std::lock_guard lock(e->mutex);
    if (e->status == integration_status::failed) co_return error{errc::unavailable, e->last.message};
    co_return result<void>{};
  }

  /// Runs cleanup() on every integration that was enabled and marks them all disabled.
  asio::awaitable<void> disable_all() {
    stop_monitor();
    co_await for_each_concurrently([this](std::shared_ptr<entry> e) { return disable_one(std::move(e)); },
                                   [](const entry&) { return true; });
  }

  asio::awaitable<result<void>> disable(std::string_view name, std::string_view tenant) {
    auto e = find(name, tenant);
    if (!e) co_return error{errc::not_found, "no integration '" + std::string(name) + "' for this tenant"};
    {
      std::lock_guard lock(e->mutex);
      e->config.enabled = false;  // stays disabled through later enable_all() and start_monitor()
    }
    if (e->monitored) e->monitor_stop.emit(asio::cancellation_type::terminal);
    co_await disable_one(e);
    co_return result<void>{};
  }

  /// Disables (cleanup) and removes an integration; pointers to it become invalid.
  asio::awaitable<result<void>> unregister(std::string_view name, std::string_view tenant) {
    auto e = find(name, tenant);
    if (!e) co_return error{errc::not_found, "no integration '" + std::string(name) + "' for this tenant"};
    if (e->monitored) e->monitor_stop.emit(asio::cancellation_type::terminal);
    co_await disable_one(e);
    co_await wait_for_monitors([&] { return !e->monitored; });
    std::unique_lock lock(mutex_);
    entries_.erase(key{std::string(tenant), std::string(name)});
    co_return result<void>{};
  }

  /// Checks every enabled integration concurrently (each under the health-check timeout) and
  /// returns the snapshot afterwards.
  asio::awaitable<std::vector<integration_snapshot>> health_check_all() {
    co_await for_each_concurrently([this](std::shared_ptr<entry> e) { return check_one(std::move(e)); },
                                   [](const entry& e) { return is_active(e.status); });
    co_return snapshot();
  }

  /// Checks one integration now. errc::not_found for an unknown one; errc::disabled or
  /// errc::not_initialized (naming its status) when it is not running.
  asio::awaitable<result<health_report>> health_check(std::string_view name, std::string_view tenant) {
    auto e = find(name, tenant);
    if (!e) co_return error{errc::not_found, "no integration '" + std::string(name) + "' for this tenant"};
    {
      std::lock_guard lock(e->mutex);
      if (e->status == integration_status::disabled) co_return error{errc::disabled, "integration is disabled"};
      if (!is_active(e->status)) co_return error{errc::not_initialized, "integration is " + std::string(to_string(e->status))};
    }
    co_await check_one(e);
    std::lock_guard lock(e->mutex);
    co_return e->last;
  }

  /// Starts a monitor per enabled integration that checks it every `health_check_interval`.
  void start_monitor() {
    for (auto& e : entries()) {
      if (e->monitored || !e->config.enabled || e->config.health_check_interval.count() <= 0) continue;
      e->monitored = true;
      monitors_.fetch_add(1, std::memory_order_acq_rel);
      asio::co_spawn(executor_, monitor(e), asio::bind_cancellation_slot(e->monitor_stop.slot(), asio::detached));
    }
  }

  /// Asks every monitor to stop (they stop at their next wait).
  void stop_monitor() {
    for (auto& e : entries())
      if (e->monitored) e->monitor_stop.emit(asio::cancellation_type::terminal);
  }

  std::size_t running_monitors() const noexcept { return monitors_.load(std::memory_order_acquire); }

  /// Orderly shutdown: stops the monitors, waits for them, then cleans every integration up.
  asio::awaitable<void> shutdown() {
    stop_monitor();
    co_await wait_for_monitors([this] { return monitors_.load(std::memory_order_acquire) == 0; });
    co_await disable_all();
  }

  /// A consistent copy of every integration's state, for reporting.
  std::vector<integration_snapshot> snapshot() const {
    std::vector<integration_snapshot> out;
    for (auto& e : entries()) {
      std::lock_guard lock(e->mutex);
      integration_snapshot s;
      s.name = e->config.name;
      s.tenant = e->config.tenant;
      s.category = e->config.category;
      s.status = e->status;
      s.critical = e->config.critical;
      s.last_check = e->last;
      s.checks = e->checks;
      s.failed_checks = e->failed_checks;
      if (e->checks) s.average_check_latency = e->total_latency / static_cast<std::int64_t>(e->checks);
      s.calls = e->calls->totals();
      s.policies = e->impl->describe();
      publish_policies(*e, s.policies);
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  static bool is_active(integration_status s) noexcept {
    return s == integration_status::healthy || s == integration_status::degraded || s == integration_status::unhealthy ||
           s == integration_status::unknown;
  }

  std::shared_ptr<entry> find(std::string_view name, std::string_view tenant) const {
    std::shared_lock lock(mutex_);
    auto it = entries_.find(key{std::string(tenant), std::string(name)});
    return it == entries_.end() ? nullptr : it->second;
  }

  std::vector<std::shared_ptr<entry>> entries() const {
    std::shared_lock lock(mutex_);
    std::vector<std::shared_ptr<entry>> v;
    v.reserve(entries_.size());
    for (auto& [k, e] : entries_) v.push_back(e);
    return v;
  }

  template <class Work, class Filter>
  asio::awaitable<void> for_each_concurrently(Work work, Filter filter) {
    using op_type = decltype(asio::co_spawn(executor_, work(nullptr), asio::deferred));
    std::vector<op_type> ops;
    for (auto& e : entries()) {
      bool take;
      {
        std::lock_guard lock(e->mutex);
        take = filter(*e);
      }
      if (take) ops.push_back(asio::co_spawn(executor_, work(e), asio::deferred));
    }
    if (ops.empty()) co_return;
    auto [order, exceptions] = co_await asio::experimental::make_parallel_group(std::move(ops))
                                   .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
    (void)order;
    (void)exceptions;  // each task reports its own failures; none throws
  }

  // Runs `work` under `limit`; false when the limit expired first (work was cancelled).
  template <class T>
  asio::awaitable<std::optional<T>> with_timeout(asio::awaitable<T> work, std::chrono::milliseconds limit) {
    using namespace asio::experimental::awaitable_operators;
    auto timer = clock_.make_timer(executor_);
    timer.expires_at(clock_.now() + limit);
    auto r = co_await (std::move(work) || timer.async_wait(asio::use_awaitable));
    if (r.index() == 0) co_return std::move(std::get<0>(r));
    co_return std::nullopt;
  }

  asio::awaitable<void> enable_one(std::shared_ptr<entry> e) {
    if (!e) co_return;
    set_status(*e, integration_status::initializing, {});
    std::string failure;
    try {
      auto r = co_await with_timeout(e->impl->initialize(), opts_.initialize_timeout);
      if (!r) failure = "initialize() timed out";
      else if (!*r) failure = "initialize() failed: " + r->error().to_string();
    } catch (const std::exception& ex) {
      failure = std::string("initialize() threw: ") + ex.what();
    }
    if (failure.empty()) {
      set_status(*e, integration_status::unknown, "initialized");  // healthy only once a check says so
    } else {
      {
        std::lock_guard lock(e->mutex);
        e->last.status = integration_status::failed;
        e->last.message = failure;
        e->last.checked_at = std::chrono::system_clock::now();
      }
      set_status(*e, integration_status::failed, failure, event_level::error);
    }
  }

  asio::awaitable<void> disable_one(std::shared_ptr<entry> e) {
    if (!e) co_return;
    integration_status was;
    {
      std::lock_guard lock(e->mutex);
      was = e->status;
    }
    if (is_active(was) || was == integration_status::failed || was == integration_status::initializing) {
      try {
        auto done = co_await with_timeout(cleanup_as_bool(*e), opts_.cleanup_timeout);
        if (!done) emit(*e, event_level::warning, "integration.cleanup_timeout", "cleanup() timed out");
      } catch (const std::exception& ex) {
        emit(*e, event_level::error, "integration.cleanup_failed", ex.what());
      }
    }
    set_status(*e, integration_status::disabled, "disabled");
  }

  static asio::awaitable<bool> cleanup_as_bool(entry& e) {
    co_await e.impl->cleanup();
    co_return true;
  }

  asio::awaitable<void> check_one(std::shared_ptr<entry> e) {
    const time_point start = clock_.now();
    health_report report;
    try {
      auto r = co_await with_timeout(e->impl->health_check(), opts_.health_check_timeout);
      if (r) report = std::move(*r);
      else report = health_report{integration_status::unhealthy, {}, "health check timed out", {}, {}};
    } catch (const std::exception& ex) {
      report = health_report{integration_status::unhealthy, {}, std::string("health check threw: ") + ex.what(), {}, {}};
    }
    report.latency = std::chrono::duration_cast<std::chrono::microseconds>(clock_.now() - start);
    report.checked_at = std::chrono::system_clock::now();
    integration_status next;
    {
      std::lock_guard lock(e->mutex);
      if (!is_active(e->status)) co_return;  // disabled or failed meanwhile
      ++e->checks;
      e->total_latency += report.latency;
      if (e->check_duration) {
        e->check_duration->observe(static_cast<double>(report.latency.count()) / 1e6);
        (report.status == integration_status::unhealthy ? e->checks_failed : e->checks_ok)->inc();
      }
      if (report.status == integration_status::healthy) {
        e->failures_in_row = 0;
        next = integration_status::healthy;
      } else if (report.status == integration_status::degraded) {
        e->failures_in_row = 0;
        next = integration_status::degraded;
      } else {
        ++e->failed_checks;
        ++e->failures_in_row;
        next = e->failures_in_row >= opts_.unhealthy_after ? integration_status::unhealthy : integration_status::degraded;
      }
      e->last = report;
      e->last.status = next;
    }
    set_status(*e, next, report.message, next == integration_status::healthy ? event_level::info : event_level::warning);
  }

  asio::awaitable<void> monitor(std::shared_ptr<entry> e) {
    struct done_guard {
      basic_registry* r;
      entry* e;
      ~done_guard() {
        e->monitored = false;
        r->monitors_.fetch_sub(1, std::memory_order_acq_rel);
      }
    } guard{this, e.get()};
    auto timer = clock_.make_timer(executor_);
    for (;;) {
      timer.expires_at(clock_.now() + e->config.health_check_interval);
      auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
      if (ec || cs.cancelled() != asio::cancellation_type::none) co_return;
      {
        std::lock_guard lock(e->mutex);
        if (!is_active(e->status)) continue;
      }
      co_await check_one(e);
    }
  }

  template <class Done>
  asio::awaitable<void> wait_for_monitors(Done done) {
    while (!done()) co_await asio::post(executor_, asio::use_awaitable);
  }

  void set_status(entry& e, integration_status to, std::string_view why, event_level level = event_level::info) {
    integration_status from;
    {
      std::lock_guard lock(e.mutex);
      from = e.status;
      e.status = to;
    }
    publish_status(e, to);
    if (from == to || !opts_.events) return;
    const event_field fields[] = {{"from", to_string(from)}, {"to", to_string(to)}};
    opts_.events(event{level, "integration.status_changed", e.config.name, e.config.tenant, why, fields});
  }

  // The status as a Prometheus state set: 1 for the current status, 0 for the others.
  void publish_status(const entry& e, integration_status current) {
    if (!metrics_) return;
    for (auto st : {integration_status::registered, integration_status::initializing, integration_status::healthy,
                    integration_status::degraded, integration_status::unhealthy, integration_status::failed,
                    integration_status::disabled, integration_status::unknown})
      metrics_->status.with({e.config.name, e.config.tenant, to_string(st)}).set(st == current ? 1.0 : 0.0);
  }

  // What describe() reports as metrics, current at every snapshot: the breaker's state as a
  // Prometheus state set (whether or not the integration wired calls->breaker_listener()), and
  // each quota period's limit and remaining allowance.
  void publish_policies(const entry& e, const boost::json::object& policies) const {
    if (!metrics_) return;
    const auto* cb = policies.if_contains("circuit_breaker");
    const auto* st = cb && cb->is_object() ? cb->as_object().if_contains("state") : nullptr;
    if (st && st->is_string()) metrics_->set_breaker_state(e.config.name, e.config.tenant, st->as_string());
    const auto* q = policies.if_contains("quota");
    if (!q || !q->is_object()) return;
    for (std::string_view period : {"per_minute", "per_day", "per_month"}) {
      const auto* p = q->as_object().if_contains(period);
      if (!p || !p->is_object()) continue;
      const auto* limit = p->as_object().if_contains("limit");
      const auto* remaining = p->as_object().if_contains("remaining");
      const std::string_view label = period.substr(4);  // minute, day, month
      if (limit && limit->is_number()) metrics_->quota_limit.with({e.config.name, e.config.tenant, label}).set(limit->to_number<double>());
      if (remaining && remaining->is_number())
        metrics_->quota_remaining.with({e.config.name, e.config.tenant, label}).set(remaining->to_number<double>());
    }
  }

  void emit(entry& e, event_level level, std::string_view name, std::string_view message) {
    if (!opts_.events) return;
    opts_.events(event{level, name, e.config.name, e.config.tenant, message, {}});
  }

  asio::any_io_executor executor_;
  registry_options opts_;
  Clock clock_;
  mutable std::shared_mutex mutex_;
  std::map<key, std::shared_ptr<entry>> entries_;
  std::map<std::string, std::shared_ptr<tenant_settings>> tenants_;
  std::atomic<std::size_t> monitors_{0};
  std::unique_ptr<observability::integration_metrics> metrics_;
};

/// The registry on the real clock.
using registry = basic_registry<steady_clock>;

}  // namespace intg
