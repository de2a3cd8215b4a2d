// spotify_local_server: the local Spotify stand-in (examples/spotify/local_server.hpp) as a
// program, for developing against the Web API's shapes without credentials or network.
//
//   spotify_local_server --listen 127.0.0.1:8900 [--chaos] [--rate-limit N] [--token-lifetime S]
//
// It prints the client id and secret it accepts and serves until Ctrl-C (SIGINT) or SIGTERM.
#include "spotify/local_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

int usage(const char* why) {
  std::cerr << "spotify_local_server: " << why << "\n"
            << "usage: spotify_local_server --listen HOST:PORT [--chaos] [--rate-limit N] [--token-lifetime SECONDS]\n"
            << "  --chaos           10% of API requests fail (5xx, resets, malformed or truncated bodies), +20 ms latency\n"
            << "  --rate-limit N    API requests per client per rolling 30 s (default 1800; 0 disables)\n"
            << "  --token-lifetime  seconds before access tokens expire (default 3600)\n";
  return 2;
}

bool to_number(std::string_view s, long& out) {
  if (s.empty() || s.size() > 9) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  bool chaos = false;
  spotify_local::server_options opts;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    long n = 0;
    if (a == "--listen" && i + 1 < argc) {
      listen = argv[++i];
    } else if (a == "--chaos") {
      chaos = true;
    } else if (a == "--rate-limit" && i + 1 < argc) {
      if (!to_number(argv[++i], n)) return usage("--rate-limit needs a number");
      opts.rate_limit = static_cast<std::size_t>(n);
    } else if (a == "--token-lifetime" && i + 1 < argc) {
      if (!to_number(argv[++i], n) || n == 0) return usage("--token-lifetime needs a positive number of seconds");
      opts.token_lifetime = std::chrono::seconds(n);
    } else if (a == "--help" || a == "-h") {
      return usage("a local stand-in for Spotify's accounts service and Web API");
    } else {
      return usage(("unknown argument " + std::string(a)).c_str());
    }
  }
  if (listen.empty()) return usage("--listen HOST:PORT is required");

  asio::io_context io;
  spotify_local::server srv(io.get_executor(), opts);
  if (auto r = srv.listen(listen); !r) {
    std::cerr << "spotify_local_server: " << r.error() << "\n";
    return 1;
  }
  if (chaos) {
    srv.faults().set_random_failures(0.10);
    srv.faults().set_latency(20ms);
  }
  srv.start();

  const auto& cat = srv.catalogue();
  std::cout << "Local Spotify server on " << srv.base_url() << (chaos ? " (chaos: 10% faults, +20 ms)" : "") << "\n"
            << "  client id:     " << srv.client_id() << "\n"
            << "  client secret: " << srv.client_secret() << "\n"
            << "  accounts:      " << srv.accounts_base() << "/authorize, " << srv.accounts_base() << "/api/token\n"
            << "  Web API:       " << srv.api_base() << "\n"
            << "  catalogue:     " << cat.tracks.size() << " tracks, " << cat.artists.size() << " artists, "
            << cat.albums.size() << " albums, " << cat.playlists.size() << " playlists of " << cat.users.size() << " users\n"
            << "  /authorize approves at once as user '" << opts.user_id << "'\n"
            << "Try:\n"
            << "  curl -s -u " << srv.client_id() << ":" << srv.client_secret() << " -d grant_type=client_credentials "
            << srv.accounts_base() << "/api/token\n"
            << "  curl -s -H \"Authorization: Bearer TOKEN\" '" << srv.api_base() << "/search?q=midnight&type=track'\n"
            << "Ctrl-C stops it." << std::endl;

  // Kept in a variable: the coroutine refers to the closure, which must outlive it.
  auto stop = [&]() -> asio::awaitable<void> {
    co_await srv.shutdown(1s);
    const auto s = srv.stats();
    std::uint64_t total = 0;
    for (const auto& [endpoint, n] : s.requests) total += n;
    std::cout << "\nServed " << total << " requests, issued " << s.tokens_issued << " tokens, sent " << s.rate_limited
              << " 429s, injected " << s.faults_injected << " faults.\n";
  };
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) asio::co_spawn(io, stop(), asio::detached);
  });
  io.run();
  return EXIT_SUCCESS;
}
