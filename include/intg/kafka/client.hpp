// intg::kafka::client: Kafka as an integration of the registry. initialize() creates the
// idempotent producer from the integration's settings and asks the cluster for its metadata;
// health_check() asks again (on a thread of its own, never blocking the executor); cleanup()
// flushes the producer. Consumers are made from the same settings, one per group.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/health.hpp>
#include <intg/core/integration_config.hpp>
#include <intg/core/registry.hpp>
#include <intg/core/result.hpp>
#include <intg/kafka/consumer.hpp>
#include <intg/kafka/options.hpp>
#include <intg/kafka/producer.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace intg::kafka {

class client {
 public:
  /// As the registry constructs it (the registry's executor).
  client(integration_config config, registry_services& services) : client(std::move(config), services.executor) {}
  client(integration_config config, asio::any_io_executor ex) : config_(std::move(config)), ex_(std::move(ex)) {}

  std::string_view name() const noexcept { return config_.name; }
  static constexpr std::string_view category() noexcept { return categories::messaging; }

  /// Reads the settings (options::from_config), creates the producer and checks that the cluster
  /// answers a metadata request within the integration's timeout.
  asio::awaitable<result<void>> initialize() {
    auto o = options::from_config(config_);
    if (!o) co_return o.error();
    auto p = producer::create(ex_, *o);
    if (!p) co_return p.error();
    opts_ = std::move(*o);
    producer_.emplace(std::move(*p));
    auto h = co_await producer_->health_check(config_.timeout);
    if (!h.healthy()) co_return error(intg::errc::unavailable, "kafka: the cluster did not answer: " + h.message);
    co_return result<void>{};
  }

  asio::awaitable<health_report> health_check() {
    if (!producer_) {
      health_report r;
      r.message = "not initialized";
      co_return r;
    }
    co_return co_await producer_->health_check(config_.timeout);
  }

  /// Flushes the producer (up to options::close_timeout) and releases it.
  asio::awaitable<void> cleanup() {
    if (producer_) {
      (void)co_await producer_->close();
      producer_.reset();
    }
  }

  /// The producer; initialize() must have succeeded.
  producer& get_producer() {
    if (!producer_) throw intg::exception(error(intg::errc::not_initialized, "kafka client '" + config_.name + "' is not initialized"));
    return *producer_;
  }

  /// A consumer of group `group_id` with the same settings (initialize() must have read them).
  result<consumer> make_consumer(std::string group_id) const {
    if (!producer_) return error(intg::errc::not_initialized, "kafka client '" + config_.name + "' is not initialized");
    options o = opts_;
    o.group_id = std::move(group_id);
    return consumer::create(ex_, std::move(o));
  }

  const integration_config& config() const noexcept { return config_; }
  const options& get_options() const noexcept { return opts_; }

 private:
  integration_config config_;
  asio::any_io_executor ex_;
  options opts_;
  std::optional<producer> producer_;
};

}  // namespace intg::kafka
