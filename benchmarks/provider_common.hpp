// What the provider benchmarks share: the clients' configuration against the fakes of
// benchmarks/provider_fake_server (another process), as tests/test_providers.cpp configures them,
// with the client-side rate limit out of the way (the stack is measured, not a quota).
#pragma once

#include <intg/providers/slack.hpp>
#include <intg/providers/stripe.hpp>
#include <intg/providers/twilio.hpp>

#include "../tests/fakes/slack_fake.hpp"
#include "../tests/fakes/stripe_fake.hpp"
#include "../tests/fakes/twilio_fake.hpp"

#include <chrono>
#include <string>

namespace bench {

inline intg::integration_config provider_config(std::string name, std::string base_url, boost::json::object settings) {
  intg::integration_config c;
  c.name = std::move(name);
  c.tenant = "acme";
  settings["base_url"] = std::move(base_url);
  c.settings = std::move(settings);
  c.timeout = std::chrono::seconds(5);
  c.rate_limits.requests_per_minute = 1e9;
  c.rate_limits.burst_limit = 1'000'000'000;
  return c;
}

// The deployment allows the fake's host (plain http on 127.0.0.1).
inline intg::rest::client_options local_fakes() {
  intg::rest::client_options o;
  o.extra_allowed_hosts = {"127.0.0.1"};
  return o;
}

inline std::string stripe_base(const std::string& port) { return "http://127.0.0.1:" + port; }
inline std::string slack_base(const std::string& port) { return "http://127.0.0.1:" + port + "/api/"; }

inline intg::integration_config stripe_config(const std::string& port) {
  return provider_config("payments", stripe_base(port), {{"secret_key", fakes::stripe_fake::default_key}});
}
inline intg::integration_config slack_config(const std::string& port) {
  return provider_config("chat", slack_base(port), {{"bot_token", fakes::slack_fake::default_token}});
}
inline intg::integration_config twilio_config(const std::string& port) {
  return provider_config("sms", "http://127.0.0.1:" + port + "/2010-04-01/Accounts/{account_sid}",
                         {{"account_sid", fakes::twilio_fake::account_sid}, {"auth_token", fakes::twilio_fake::auth_token}});
}

}  // namespace bench
