// The Stripe, Slack and Twilio fakes (tests/fakes/) served by a process of their own, so that a
// client benchmark measures the client's CPU time only (scripts/bench-providers). Single-threaded.
// It seeds CUSTOMERS Stripe customers (through its own HTTP API, as a client would), prints
//   stripe PORT
//   slack PORT
//   twilio PORT
//   ready
// and serves until SIGINT or SIGTERM. Once a second it clears the fakes' exchange logs and the
// Slack and Twilio messages, which would otherwise grow with every call of a long run.
//
//   provider_fake_server [CUSTOMERS=10]
#include "../tests/fakes/slack_fake.hpp"
#include "../tests/fakes/stripe_fake.hpp"
#include "../tests/fakes/twilio_fake.hpp"

#include <intg/http/client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace asio = boost::asio;

int main(int argc, char** argv) {
  const int customers = argc > 1 ? std::atoi(argv[1]) : 10;
  asio::io_context io(1);
  fakes::stripe_fake stripe(io.get_executor());
  fakes::slack_fake slack(io.get_executor());
  fakes::twilio_fake twilio(io.get_executor());
  const auto stripe_port = stripe.start();
  const auto slack_port = slack.start();
  const auto twilio_port = twilio.start();
  int status = 0;
  bool stopping = false;

  asio::steady_timer janitor(io);
  std::function<void()> sweep = [&] {
    janitor.expires_after(std::chrono::seconds(1));
    janitor.async_wait([&](boost::system::error_code ec) {
      if (ec || stopping) return;
      stripe.api().clear_log();
      slack.api().clear_log();
      slack.clear_messages();
      twilio.api().clear_log();
      twilio.clear_messages();
      sweep();
    });
  };

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) {
    stopping = true;
    janitor.cancel();
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      co_await stripe.stop();
      co_await slack.stop();
      co_await twilio.stop();
    }, asio::detached);
  });

  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        intg::http::client http(io.get_executor());
        for (int i = 0; i < customers; ++i) {
          auto req = intg::http::request::make(intg::http::verb::post, stripe.base_url() + "/v1/customers");
          if (!req) break;
          req->bearer(intg::secret(std::string(fakes::stripe_fake::default_key)));
          intg::http::query q;
          q.add("email", "customer" + std::to_string(i) + "@example.com");
          q.add("name", "Customer " + std::to_string(i));
          q.add("description", "seeded by provider_fake_server");
          req->form(q);
          auto res = co_await http.send(*req);
          if (!res || res->result_int() != 200) {
            std::fprintf(stderr, "seeding customer %d failed\n", i);
            status = 1;
            io.stop();
            co_return;
          }
        }
        std::printf("stripe %u\nslack %u\ntwilio %u\nready\n", static_cast<unsigned>(stripe_port), static_cast<unsigned>(slack_port),
                    static_cast<unsigned>(twilio_port));
        std::fflush(stdout);
        sweep();
      },
      asio::detached);
  io.run();
  return status;
}
