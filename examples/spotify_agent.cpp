// The main job: the integration layer of a Spotify AI agent. It loads the configuration (two
// tenants with different rate limits), registers a Spotify client per tenant next to the other
// integrations, enables them, and runs an agent workload — track searches and public playlist
// reads with the app token, for both tenants at once — through retry, breaker, limiter and
// timeout. At the end it prints the health dashboard with the run's real figures.
//
// With SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET set it talks to api.spotify.com; without, it
// starts a local Spotify server in-process (examples/spotify/local_server.hpp) and says so.
//
// The user's `aws_principal` (and its Azure counterpart): when cloud credentials are in the
// environment, the run's results are stored in S3 (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_REGION; AWS_ENDPOINT_URL_S3 for a local moto) and in Azure Blob Storage
// (AZURE_STORAGE_ACCOUNT, AZURE_STORAGE_KEY; AZURE_STORAGE_BLOB_ENDPOINT for Azurite), read back
// and compared; without them the agent says what it skipped. (Built without expat, it has no
// cloud clients and says so.)
//
//   spotify_agent [--config PATH] [--environment NAME] [--searches N] [--chaos]
//                 [--serve HOST:PORT] [--linger SECONDS]
#include "common/simulated_http_service.hpp"
#include "spotify/local_server.hpp"

#include <intg/observability/health_server.hpp>
#include <intg/intg.hpp>
#include <intg/providers/spotify/client.hpp>
#ifdef INTG_EXAMPLE_CLOUD
#include <intg/providers/azure_blob.hpp>
#include <intg/providers/s3.hpp>
#endif

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <set>
#include <string>

#include <unistd.h>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using spotify_client = intg::spotify::client<>;

namespace {

struct options {
  std::string config = INTG_EXAMPLE_CONFIG;
  std::string environment = "development";
  int searches = 40;  // per tenant
  bool chaos = false;
  std::string serve;
  int linger = 0;
};

std::string arg(int argc, char** argv, std::string_view flag, std::string fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == flag) return argv[i + 1];
  return fallback;
}
bool has_flag(int argc, char** argv, std::string_view flag) {
  for (int i = 1; i < argc; ++i)
    if (argv[i] == flag) return true;
  return false;
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

struct tenant_progress {
  std::string tenant;
  int done = 0, failed = 0, total = 0;
};

std::string progress_line(const std::vector<tenant_progress>& p) {
  std::string line = "  progress:";
  for (const auto& t : p) {
    line += " " + t.tenant + " " + std::to_string(t.done) + "/" + std::to_string(t.total);
    if (t.failed) line += " (" + std::to_string(t.failed) + " failed)";
  }
  return line;
}

// The line is redrawn in place (\r) on a terminal only: a pipe or a log gets the final line alone.
const bool interactive = isatty(fileno(stdout)) != 0;

void print_progress(const std::vector<tenant_progress>& p) {
  if (interactive) std::cout << "\r" << progress_line(p) << std::flush;
}

// One worker of a tenant's workload: searches tracks, and every third query also reads a public
// playlist's items (the app token reads public playlists).
asio::awaitable<void> agent_worker(spotify_client& sp, std::vector<std::string> queries,
                                   const std::vector<std::string>& playlists, tenant_progress& progress,
                                   std::vector<tenant_progress>& all, intg::error& last_error) {
  for (std::size_t i = 0; i < queries.size(); ++i) {
    bool ok = true;
    auto tracks = co_await sp.search_tracks(queries[i], {.limit = 10});
    if (!tracks) {
      ok = false;
      last_error = tracks.error();
    } else if (i % 3 == 0 && !playlists.empty()) {
      auto items = co_await sp.get_playlist_items(playlists[(i / 3 + progress.done) % playlists.size()], {.limit = 20});
      if (!items) {
        ok = false;
        last_error = items.error();
      }
    }
    ++progress.done;
    if (!ok) ++progress.failed;
    print_progress(all);
  }
}

asio::awaitable<void> run_workload(intg::registry& registry, const std::vector<std::string>& tenants,
                                   const std::vector<std::string>& queries, const std::vector<std::string>& playlists,
                                   int per_tenant, int workers) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<tenant_progress> progress;
  for (const auto& t : tenants) progress.push_back({t, 0, 0, per_tenant});
  std::vector<intg::error> last(tenants.size());
  int running = 0;
  for (std::size_t t = 0; t < tenants.size(); ++t) {
    auto* sp = registry.get<spotify_client>("spotify_main", tenants[t]);
    for (int w = 0; w < workers; ++w) {
      std::vector<std::string> mine;
      for (int i = w; i < per_tenant; i += workers)
        mine.push_back(queries[(static_cast<std::size_t>(i) + t * 7) % queries.size()]);
      ++running;
      asio::co_spawn(ex, agent_worker(*sp, std::move(mine), playlists, progress[t], progress, last[t]),
                     [&running](std::exception_ptr) { --running; });
    }
  }
  while (running > 0) co_await sleep_for(10ms);
  std::cout << (interactive ? "\r" : "") << progress_line(progress) << "\n";
  for (std::size_t t = 0; t < tenants.size(); ++t)
    if (progress[t].failed) std::cout << "  " << tenants[t] << ": last error: " << last[t].to_string() << "\n";
}

// --chaos: 5xx bursts that the retries absorb, then a 500 storm that opens one tenant's breaker,
// then recovery through half-open once the storm is over.
asio::awaitable<void> run_chaos(intg::registry& registry, spotify_local::server& local, const std::string& tenant,
                                const std::string& other, const std::string& query) {
  auto* sp = registry.get<spotify_client>("spotify_main", tenant);
  auto* calm = registry.get<spotify_client>("spotify_main", other);
  auto& breaker = sp->pipeline().get<intg::circuit_breaker<>>();
  auto state = [&] { return std::string(intg::to_string(breaker.state())); };

  std::cout << "\nChaos 1: the next 2 API answers are HTTP 503 (the retry policy absorbs them)\n";
  local.faults().fail_next(2, 503);
  auto before = local.stats().faults_injected;
  auto r = co_await sp->search_tracks(query, {.limit = 3});
  std::cout << "  search: " << (r ? "ok, " + std::to_string(r->items.size()) + " tracks" : r.error().to_string())
            << " after " << local.stats().faults_injected - before << " failed attempts retried\n";

  std::cout << "Chaos 2: a storm of HTTP 500 for " << tenant << "'s calls\n";
  local.faults().fail_next(1000, 500);
  std::string seen = state();
  int calls = 0;
  for (; calls < 20 && breaker.state() != intg::breaker_state::open; ++calls) {
    auto e = co_await sp->search_tracks("storm", {.limit = 1});
    if (state() != seen) {
      std::cout << "  breaker " << seen << " -> " << state() << " after " << calls + 1 << " calls (last: "
                << (e ? std::string("ok") : e.error().to_string()) << ")\n";
      seen = state();
    }
  }
  local.faults().clear();
  auto rejected = co_await sp->search_tracks(query, {.limit = 1});
  std::cout << "  while open, calls are refused at once: "
            << (rejected ? std::string("unexpected success") : rejected.error().to_string()) << "\n";
  auto other_ok = co_await calm->search_tracks(query, {.limit = 1});
  std::cout << "  meanwhile " << other << " is unaffected: "
            << (other_ok ? "ok, " + std::to_string(other_ok->items.size()) + " track" : other_ok.error().to_string())
            << "\n";

  std::cout << "Chaos 3: the storm is over; waiting for the breaker's recovery timeout\n";
  for (int i = 0; i < 100 && breaker.state() != intg::breaker_state::closed; ++i) {
    co_await sleep_for(100ms);
    auto probe = co_await sp->search_tracks(query, {.limit = 1});
    if (state() != seen) {
      std::cout << "  breaker " << seen << " -> " << state()
                << (probe && state() == "closed" ? " through half_open: the probe call succeeded" : "") << "\n";
      seen = state();
    }
  }
}

// The run's results as a JSON document: per integration and tenant, its status and call counts.
std::string results_json(const std::vector<intg::integration_snapshot>& snaps) {
  boost::json::array rows;
  for (const auto& s : snaps)
    rows.push_back(boost::json::object{{"tenant", s.tenant}, {"integration", s.name}, {"status", std::string(intg::to_string(s.status))},
                                       {"calls", s.calls.calls}, {"succeeded", s.calls.succeeded}, {"failed", s.calls.failed},
                                       {"rejected", s.calls.rejected}});
  return boost::json::serialize(boost::json::object{{"agent", "spotify_agent"}, {"integrations", std::move(rows)}});
}

#ifdef INTG_EXAMPLE_CLOUD
const std::string results_bucket = "intg-agent-results";

std::string env_or(const char* name, std::string fallback = {}) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

// A local emulator (moto, Azurite) is a host this deployment allows in code; a real cloud needs nothing.
intg::rest::client_options allow_if_local(const std::string& endpoint) {
  intg::rest::client_options o;
  if (endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:")) o.extra_allowed_hosts = {"127.0.0.1", "localhost"};
  return o;
}

// Registers the cloud stores the environment configures, for `tenant`.
void register_clouds(intg::registry& registry, const std::string& tenant) {
  if (const auto id = env_or("AWS_ACCESS_KEY_ID"), key = env_or("AWS_SECRET_ACCESS_KEY"); !id.empty() && !key.empty()) {
    intg::integration_config c;
    c.name = "aws_principal";
    c.settings = {{"access_key_id", id}, {"secret_access_key", key}, {"region", env_or("AWS_REGION", "us-east-1")}};
    const std::string endpoint = env_or("AWS_ENDPOINT_URL_S3", env_or("AWS_ENDPOINT_URL"));
    if (!endpoint.empty()) c.settings["base_url"] = endpoint;
    registry.register_integration<intg::s3::client>(std::move(c), tenant, allow_if_local(endpoint));
  }
  if (const auto account = env_or("AZURE_STORAGE_ACCOUNT"), key = env_or("AZURE_STORAGE_KEY"); !account.empty() && !key.empty()) {
    intg::integration_config c;
    c.name = "azure_results";
    c.settings = {{"account_name", account}, {"account_key", key}};
    const std::string endpoint = env_or("AZURE_STORAGE_BLOB_ENDPOINT");
    if (!endpoint.empty()) c.settings["base_url"] = endpoint;
    registry.register_integration<intg::azure_blob::client>(std::move(c), tenant, allow_if_local(endpoint));
  }
}

// Stores `doc` under `key` in the store, reads it back and compares; says what happened.
template <class Store>
asio::awaitable<void> store_and_check(Store& store, const std::string& where, const std::string& key, const std::string& doc) {
  intg::cloud::put_options po{.content_type = "application/json"};
  auto put = co_await store.put(key, doc, po);
  if (!put) {
    std::cout << "  " << where << ": not stored: " << put.error() << "\n";
    co_return;
  }
  auto back = co_await store.get(key);
  std::cout << "  " << where << "/" << key << ": stored " << doc.size() << " bytes (MD5 checked), read back "
            << (back && back->body == doc ? "identical" : "DIFFERENT") << "\n";
}

asio::awaitable<void> store_results(intg::registry& registry, const std::string& tenant, const std::string& doc) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const std::string key = "spotify-agent/" + tenant + "/run-" + std::to_string(now) + ".json";
  std::cout << "Results (the user's aws_principal and its Azure counterpart):\n";
  if (auto* s3 = registry.get<intg::s3::client>("aws_principal", tenant)) {
    auto made = co_await s3->create_bucket(results_bucket);
    if (!made && made.error().provider_code() != "BucketAlreadyOwnedByYou")
      std::cout << "  s3://" << results_bucket << ": " << made.error() << "\n";
    auto bucket = s3->bucket(results_bucket);
    co_await store_and_check(bucket, "s3://" + results_bucket, key, doc);
  } else {
    std::cout << "  S3: skipped (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and AWS_ENDPOINT_URL_S3 for a local moto)\n";
  }
  if (auto* az = registry.get<intg::azure_blob::client>("azure_results", tenant)) {
    auto made = co_await az->create_container(results_bucket);
    if (!made && made.error().provider_code() != "ContainerAlreadyExists")
      std::cout << "  azure://" << results_bucket << ": " << made.error() << "\n";
    auto container = az->container(results_bucket);
    co_await store_and_check(container, "azure://" + results_bucket, key, doc);
  } else {
    std::cout << "  Azure Blob Storage: skipped (set AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY, and AZURE_STORAGE_BLOB_ENDPOINT for Azurite)\n";
  }
}
#endif

asio::awaitable<void> run(intg::config cfg, options o) {
  auto ex = co_await asio::this_coro::executor;
  const char* env_id = std::getenv("SPOTIFY_CLIENT_ID");
  const char* env_secret = std::getenv("SPOTIFY_CLIENT_SECRET");
  const bool real = env_id && *env_id && env_secret && *env_secret;
  const auto tenants = cfg.tenant_ids();

  // The embedded default: a local Spotify server, one registered app per tenant (each tenant has
  // its own credentials, tokens and rate-limit window, as with real Spotify apps).
  std::optional<spotify_local::server> local;
  if (!real) {
    spotify_local::server_options so;
    so.rate_limit = 600;  // per app per 30 s: the tenants' own limiters stay below it
    local.emplace(ex, so);
    if (auto r = local->listen("127.0.0.1", 0); !r) throw intg::exception(r.error());
    local->start();
    for (const auto& t : tenants) local->add_client("app-" + t, "secret-" + t);
    std::cout << "No SPOTIFY_CLIENT_ID / SPOTIFY_CLIENT_SECRET: using the embedded local Spotify server at "
              << local->base_url() << " (" << local->catalogue().tracks.size() << " tracks, "
              << local->catalogue().playlists.size() << " playlists).\n";
  } else {
    std::cout << "Using the Spotify Web API at api.spotify.com with SPOTIFY_CLIENT_ID.\n";
  }

  intg::http::server deps(ex, examples::upstream(cfg));
  if (auto r = deps.listen("127.0.0.1", 0); !r) throw intg::exception(r.error());
  deps.start();

  auto metrics = std::make_shared<intg::observability::metrics_registry>();
  intg::registry_options ro;
  ro.metrics = metrics;
  intg::registry registry{ex, ro};
  for (const auto& tenant : tenants) {
    registry.set_tenant(*cfg.tenant(tenant));
    for (const auto& name : cfg.integration_names()) {
      auto c = cfg.integration(name, tenant);
      if (name == "spotify_main") {
        c.settings = {};
        if (real) {
          c.settings["client_id"] = env_id;
          c.settings["client_secret"] = env_secret;
        } else {
          c.settings["client_id"] = "app-" + tenant;
          c.settings["client_secret"] = "secret-" + tenant;
          c.settings["api_base"] = local->api_base();
          c.settings["accounts_base"] = local->accounts_base();
        }
        if (o.chaos) c.circuit_breaker.recovery_timeout = 2s;  // recover within the demo
        // The embedded server listens on 127.0.0.1 over plain http: a host this deployment allows
        // (in code, never from a tenant's settings, which could otherwise aim the credentials anywhere).
        intg::rest::client_options local_host;
        if (!real) local_host.extra_allowed_hosts = {"127.0.0.1"};
        registry.register_integration<spotify_client>(std::move(c), tenant, std::move(local_host));
      } else {
        c.settings["endpoint"] = "http://127.0.0.1:" + std::to_string(deps.port()) + "/" + name;
        registry.register_integration<examples::http_service>(std::move(c), tenant);
      }
    }
  }
#ifdef INTG_EXAMPLE_CLOUD
  register_clouds(registry, tenants.front());
#endif
  std::cout << "Registered " << registry.size() << " integrations for " << tenants.size() << " tenants ("
            << cfg.environment() << "); analytics_etl's dependency is down on purpose.\n";
  co_await registry.enable_all();
  for (const auto& s : registry.snapshot())
    if (s.status == intg::integration_status::failed)
      std::cout << "  " << s.tenant << "/" << s.name << " failed to start: " << s.last_check.message << "\n";

  std::optional<intg::health_server> health;
  if (!o.serve.empty()) {
    intg::health_server_options ho;
    ho.metrics = metrics;
    health.emplace(ex, registry, std::move(ho));
    if (auto r = health->listen(o.serve); !r) throw intg::exception(r.error());
    health->start();
    const std::string host = o.serve.substr(0, o.serve.rfind(':'));
    std::cout << "Health endpoints: http://" << host << ":" << health->port()
              << "/integrations/{health,status,metrics,dashboard}, /openapi.json\n";
  }

  // Queries: artist names from the local catalogue, or a fixed list for the real API.
  std::vector<std::string> queries;
  if (local) {
    for (const auto& a : local->catalogue().artists) {
      queries.push_back(a.name);
      if (queries.size() == 50) break;
    }
  } else {
    queries = {"daft punk", "miles davis", "lo-fi beats", "nina simone", "radiohead", "bach cello", "stromae",
               "aya nakamura", "jazz piano", "synthwave"};
  }
  // Public playlists to read: the catalogue's, or the first ones a playlist search finds.
  std::vector<std::string> playlists;
  if (local) {
    for (const auto& p : local->catalogue().playlists)
      if (p.is_public) playlists.push_back(p.id);
  } else if (auto* sp = registry.get<spotify_client>("spotify_main", tenants.front())) {
    if (auto found = co_await sp->search("top hits", "playlist", {.limit = 10}); found && found->playlists)
      for (const auto& p : found->playlists->items) playlists.push_back(p.id);
  }
  std::cout << "Agent workload: " << o.searches << " searches per tenant (and a public playlist read every third), "
            << "4 workers per tenant, both tenants at once:\n";
  const auto t0 = std::chrono::steady_clock::now();
  co_await run_workload(registry, tenants, queries, playlists, o.searches, 4);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  done in %.2f s\n", secs);

  if (o.chaos) {
    if (local) co_await run_chaos(registry, *local, tenants.front(), tenants.back(), queries.front());
    else std::cout << "--chaos injects faults into the local server only; skipped against the real API.\n";
  }

  (void)co_await registry.health_check_all();
  if (health) {
    intg::http::client self(ex);
    auto r = co_await self.get("http://127.0.0.1:" + std::to_string(health->port()) + "/integrations/health");
    std::cout << "GET /integrations/health -> " << (r ? std::to_string(r->result_int()) : r.error().to_string()) << "\n";
    if (o.linger > 0) {
      std::cout << "Serving for " << o.linger << " s more.\n" << std::flush;
      co_await sleep_for(std::chrono::seconds(o.linger));
    }
  }

  intg::call_totals totals;
  auto snaps = registry.snapshot();
  for (const auto& s : snaps) totals += s.calls;
  std::cout << "\n" << intg::render_dashboard(snaps, totals);
#ifdef INTG_EXAMPLE_CLOUD
  co_await store_results(registry, tenants.front(), results_json(snaps));
#else
  std::cout << "Results: not stored (built without expat, so without the S3 and Azure clients: install libexpat1-dev)\n";
  (void)&results_json;
#endif
  if (local) {
    auto st = local->stats();
    std::cout << "Local Spotify server: " << st.count("GET /v1/search") << " searches, "
              << st.count("GET /v1/playlists/{id}/tracks") << " playlist reads, " << st.tokens_issued
              << " tokens issued, " << st.rate_limited << " answered 429, " << st.faults_injected << " faults injected\n";
  }

  if (health) co_await health->shutdown(2s);
  co_await registry.shutdown();
  co_await deps.shutdown(1s);
  if (local) co_await local->shutdown(1s);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    options o;
    o.config = arg(argc, argv, "--config", o.config);
    o.environment = arg(argc, argv, "--environment", o.environment);
    o.searches = std::stoi(arg(argc, argv, "--searches", std::to_string(o.searches)));
    o.chaos = has_flag(argc, argv, "--chaos");
    o.serve = arg(argc, argv, "--serve", "");
    o.linger = std::stoi(arg(argc, argv, "--linger", "0"));
    if (o.searches < 1 || o.searches > 100000) throw std::invalid_argument("--searches must be 1 to 100000");
    auto cfg = intg::load_config(o.config, o.environment);
    asio::io_context io;
    std::exception_ptr failure;
    asio::co_spawn(io, run(std::move(cfg), o), [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) std::rethrow_exception(failure);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "spotify_agent: " << e.what() << "\n";
    return 1;
  }
}
