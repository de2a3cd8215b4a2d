// Release radar: for a tenant's artists, what Last.fm says they are played for and what Apple
// Music has of them, posted to Slack as a summary and texted through Twilio. Four providers on
// the kit, four kinds of auth (a signed query API key, a self-signed ES256 token, a bearer token,
// HTTP Basic), one io_context.
//
// Each service runs against its local fake (tests/fakes/) unless its credentials are in the
// environment; then against the real service:
//   Last.fm      LASTFM_API_KEY
//   Apple Music  APPLE_MUSIC_PRIVATE_KEY (the .p8 PEM text), APPLE_MUSIC_KEY_ID, APPLE_MUSIC_TEAM_ID
//   Slack        SLACK_BOT_TOKEN, SLACK_CHANNEL
//   Twilio       TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM, TWILIO_TO
//
//   release_radar [artist...]        (default: "Miles Davis" "John Coltrane")
#include "fakes/apple_music_fake.hpp"
#include "fakes/lastfm_fake.hpp"
#include "fakes/slack_fake.hpp"
#include "fakes/twilio_fake.hpp"

#include <intg/providers/apple_music.hpp>
#include <intg/providers/lastfm.hpp>
#include <intg/providers/slack.hpp>
#include <intg/providers/twilio.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

intg::integration_config config_of(std::string name, std::string category, json::object settings) {
  intg::integration_config c;
  c.name = std::move(name);
  c.tenant = "acme";
  c.category = std::move(category);
  c.settings = std::move(settings);
  return c;
}

// The services: each one real when its credentials are set, else its local fake.
struct services {
  explicit services(asio::io_context& c) : io(c) {}
  asio::io_context& io;
  intg::auth::jwk apple_key = intg::auth::jwk::generate("P-256").value();  // the fake's MusicKit key
  fakes::lastfm_fake lastfm_fake{io.get_executor()};
  fakes::apple_music_fake apple_fake{io.get_executor(), apple_key.pkey()};
  fakes::slack_fake slack_fake{io.get_executor()};
  fakes::twilio_fake twilio_fake{io.get_executor()};
  std::vector<std::string> local{};  // the services running on fakes

  intg::rest::client_options options_for(bool fake) const {
    intg::rest::client_options o;
    if (fake) o.extra_allowed_hosts = {"127.0.0.1"};  // the deployment allows the local fakes, in code
    return o;
  }

  intg::integration_config lastfm() {
    if (!env("LASTFM_API_KEY").empty()) return config_of("lastfm", "music", {{"api_key", env("LASTFM_API_KEY")}});
    lastfm_fake.start();
    local.push_back("Last.fm");
    return config_of("lastfm", "music", {{"api_key", fakes::lastfm_fake::api_key}, {"base_url", lastfm_fake.kit_base_url()}});
  }
  intg::integration_config apple_music() {
    if (!env("APPLE_MUSIC_PRIVATE_KEY").empty())
      return config_of("apple_music", "music", {{"private_key", env("APPLE_MUSIC_PRIVATE_KEY")}, {"key_id", env("APPLE_MUSIC_KEY_ID")},
                                                {"team_id", env("APPLE_MUSIC_TEAM_ID")}});
    apple_fake.start();
    local.push_back("Apple Music");
    return config_of("apple_music", "music", {{"private_key", std::string(apple_key.private_pem().value().reveal())},
                                              {"key_id", fakes::apple_music_fake::key_id}, {"team_id", fakes::apple_music_fake::team_id},
                                              {"base_url", apple_fake.base_url()}});
  }
  intg::integration_config slack() {
    if (!env("SLACK_BOT_TOKEN").empty()) return config_of("slack", "communication", {{"bot_token", env("SLACK_BOT_TOKEN")}});
    slack_fake.start();
    local.push_back("Slack");
    return config_of("slack", "communication", {{"bot_token", fakes::slack_fake::default_token}, {"base_url", slack_fake.api_url()}});
  }
  intg::integration_config twilio() {
    if (!env("TWILIO_ACCOUNT_SID").empty())
      return config_of("twilio", "communication", {{"account_sid", env("TWILIO_ACCOUNT_SID")}, {"auth_token", env("TWILIO_AUTH_TOKEN")}});
    twilio_fake.start();
    local.push_back("Twilio");
    return config_of("twilio", "communication", {{"account_sid", fakes::twilio_fake::account_sid}, {"auth_token", fakes::twilio_fake::auth_token},
                                                 {"base_url", twilio_fake.kit_base_url()}});
  }
  bool is_local(std::string_view s) const { return std::find(local.begin(), local.end(), s) != local.end(); }
  std::string slack_channel() const { return is_local("Slack") ? std::string(fakes::slack_fake::general) : env("SLACK_CHANNEL"); }
  std::string sms_from() const { return is_local("Twilio") ? std::string(fakes::twilio_fake::from_number) : env("TWILIO_FROM"); }
  std::string sms_to() const { return is_local("Twilio") ? std::string("+15558675310") : env("TWILIO_TO"); }

  asio::awaitable<void> stop() {
    if (is_local("Last.fm")) co_await lastfm_fake.stop();
    if (is_local("Apple Music")) co_await apple_fake.stop();
    if (is_local("Slack")) co_await slack_fake.stop();
    if (is_local("Twilio")) co_await twilio_fake.stop();
  }
};

template <class T>
bool ok(const intg::result<T>& r, std::string_view what) {
  if (!r) std::cerr << what << ": " << r.error().to_string() << "\n";
  return r.has_value();
}

asio::awaitable<int> radar(services& s, std::vector<std::string> artists) {
  namespace fm = intg::lastfm;
  namespace am = intg::apple_music;
  // Configurations first: each one starts its fake when the service has no credentials.
  auto lastfm_cfg = s.lastfm(), music_cfg = s.apple_music(), slack_cfg = s.slack(), twilio_cfg = s.twilio();
  fm::client lastfm(lastfm_cfg, s.io.get_executor(), s.options_for(s.is_local("Last.fm")));
  am::client music(music_cfg, s.io.get_executor(), s.options_for(s.is_local("Apple Music")));
  intg::slack::client slack(slack_cfg, s.io.get_executor(), s.options_for(s.is_local("Slack")));
  intg::twilio::client twilio(twilio_cfg, s.io.get_executor(), s.options_for(s.is_local("Twilio")));
  for (const auto& svc : s.local) std::cout << svc << ": local fake\n";
  auto lastfm_ready = co_await lastfm.initialize();
  auto music_ready = co_await music.initialize();
  auto slack_ready = co_await slack.initialize();
  auto twilio_ready = co_await twilio.initialize();
  if (!ok(lastfm_ready, "Last.fm") || !ok(music_ready, "Apple Music") || !ok(slack_ready, "Slack") || !ok(twilio_ready, "Twilio"))
    co_return 1;

  std::string summary = "Release radar for acme\n";
  std::size_t found = 0;
  for (const auto& artist : artists) {
    fm::top_tracks_params top{.artist = artist, .limit = 3};
    auto played = co_await lastfm.call(fm::top_tracks, top);  // the first page
    am::search_params search{.term = artist, .types = "songs", .limit = 3};
    auto catalog = co_await music.call(am::search, "us", search);
    if (!ok(played, "Last.fm " + artist) || !ok(catalog, "Apple Music " + artist)) co_return 1;
    summary += "* " + artist + ": most played";
    for (const auto& t : *played) summary += " \"" + t.name + "\" (" + t.listeners.value_or("?") + " listeners)";
    summary += "; on Apple Music";
    if (catalog->results.songs)
      for (const auto& song : catalog->results.songs->data)
        if (song.attributes) summary += " \"" + song.attributes->name + "\"", ++found;
    summary += "\n";
  }
  std::cout << summary;

  intg::slack::post_message_args post{.channel = s.slack_channel(), .text = summary};
  auto posted = co_await slack.call(intg::slack::post_message, post);
  if (!ok(posted, "Slack")) co_return 1;
  std::cout << "Slack: posted to " << posted->channel << " at " << posted->ts << "\n";

  intg::twilio::send_params sms{.To = s.sms_to(), .From = s.sms_from(),
                                .Body = "Release radar: " + std::to_string(artists.size()) + " artists, " + std::to_string(found) +
                                        " songs on Apple Music. Details in Slack."};
  auto sent = co_await twilio.call(intg::twilio::send_message, sms);
  if (!ok(sent, "Twilio")) co_return 1;
  std::cout << "Twilio: message " << sent->sid.value_or("?") << " " << sent->status.value_or("?") << "\n";
  co_return 0;
}

// The radar, then the fakes stopped (after the clients, and their connections, are gone).
asio::awaitable<int> run(services& s, std::vector<std::string> artists) {
  const int rc = co_await radar(s, std::move(artists));
  co_await s.stop();
  co_return rc;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> artists(argv + 1, argv + argc);
  if (artists.empty()) artists = {"Miles Davis", "John Coltrane"};
  asio::io_context io;
  services s{io};
  int code = 1;
  asio::co_spawn(io, run(s, std::move(artists)), [&](std::exception_ptr e, int rc) {
    if (e) std::rethrow_exception(e);
    code = rc;
  });
  io.run();
  return code;
}
