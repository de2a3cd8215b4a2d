// intg::shared_token_source: an OAuth token source whose tokens are shared by the replicas of a
// service through Redis, so that one token is fetched per (provider, tenant) however many
// replicas need it. Wrap any TokenSource with it and give the result to a token_manager: the
// manager still caches the token in the process (no Redis round trip per call), and asks this
// source only when its copy nears expiry. The source then
//   - answers with the token in Redis when it has more than `refresh_margin` left (a hit);
//   - otherwise takes a lock with an expiry (SET NX PX) and fetches: one replica fetches, the
//     others wait for its token (single flight across the cluster);
//   - stores the new token sealed with AES-256-GCM under the keyring's primary key, with
//     "intg-token/1", the key id, the provider and the tenant as additional data, so that an
//     entry copied under another tenant's (or provider's) key does not open there;
//   - writes a rotated refresh token back in the same atomic step, and only while it still holds
//     the lock, so that a slow replica cannot overwrite a newer grant.
// Redis unreachable: fetch locally (the default) or fail, per `on_redis_unavailable`.
// State, script and keys: shared/token_script.hpp. Docs: docs/shared_state.md.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>
#include <intg/security/auth/oauth2.hpp>
#include <intg/security/auth/token_manager.hpp>
#include <intg/security/crypto/aead.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/random.hpp>
#include <intg/security/secrets/keyring.hpp>
#include <intg/shared/redis_link.hpp>
#include <intg/shared/token_script.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <concepts>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace intg {

/// What a shared token source does while Redis cannot be reached.
enum class token_cache_fallback : std::uint8_t {
  fetch_locally,  ///< this replica fetches its own token (providers accept several live tokens)
  fail            ///< the call fails with errc::unavailable
};

struct shared_token_options {
  std::shared_ptr<shared::redis_link> link;  ///< required
  std::string provider;                      ///< names the entry and is sealed into it (required)
  std::string tenant;                        ///< likewise; empty for a single-tenant service
  secrets::keyring keys;                     ///< seals with the primary, opens with any (required)
  std::string key_prefix = "intg:token:";
  /// How long one replica may fetch before another may try: longer than the token endpoint's
  /// slowest answer. The others wait up to this long (and two command timeouts) for its token.
  std::chrono::milliseconds lock_ttl{10000};
  /// A token with less than this left is fetched anew. Keep it no shorter than the token
  /// manager's refresh margin.
  std::chrono::milliseconds refresh_margin{60000};
  /// How long an entry that holds a refresh token is kept after its access token expires.
  std::chrono::hours keep_refresh_token{24 * 30};
  /// The life assumed for an access token the server gave no `expires_in` for.
  std::chrono::milliseconds lifetime_if_unknown{3600000};
  token_cache_fallback on_redis_unavailable = token_cache_fallback::fetch_locally;
};

/// Counters of one shared token source (copies share them).
struct shared_token_stats {
  std::uint64_t hits = 0;           ///< tokens taken from Redis
  std::uint64_t fetches = 0;        ///< tokens this replica fetched while holding the lock
  std::uint64_t waits = 0;          ///< times it waited for another replica's fetch
  std::uint64_t stores_lost = 0;    ///< fetched tokens not stored: the lock had expired meanwhile
  std::uint64_t unreadable = 0;     ///< entries that did not open (another key, tampered, copied)
  std::uint64_t local_fetches = 0;  ///< tokens fetched without Redis (it was unreachable)
  std::uint64_t failures = 0;       ///< Redis calls that failed
};

/// The additional data a shared token is sealed with: the format, the key id, and the provider
/// and tenant, each length-prefixed so that no two (provider, tenant) pairs give the same bytes.
inline std::string shared_token_aad(std::string_view key_id, std::string_view provider, std::string_view tenant) {
  std::string a = "intg-token/1\n";
  a += key_id;
  a += '\n';
  a += std::to_string(provider.size()) + ':';
  a += provider;
  a += std::to_string(tenant.size()) + ':';
  a += tenant;
  return a;
}

/// The Redis key of the entry for (provider, tenant); the lock is the same key + ":lock". Both
/// share a hash tag, so that they live on one slot of a Redis Cluster.
inline std::string shared_token_key(std::string_view prefix, std::string_view provider, std::string_view tenant) {
  return std::string(prefix) + "{" + detail::key_component(provider) + ":" + detail::key_component(tenant) + "}";
}

template <auth::oauth2::token_source Source>
class shared_token_source {
 public:
  /// Throws intg::exception (invalid_argument) without a link, a provider or a primary key.
  shared_token_source(Source source, shared_token_options o) : s_(std::make_shared<state>(std::move(source), std::move(o))) {
    const auto& opts = s_->opts;
    if (!opts.link) throw exception(error{errc::invalid_argument, "shared token cache: no Redis link"});
    if (opts.provider.empty()) throw exception(error{errc::invalid_argument, "shared token cache: no provider name"});
    if (!opts.keys.primary()) throw exception(error{errc::invalid_argument, "shared token cache: the keyring has no key"});
    if (opts.lock_ttl <= std::chrono::milliseconds::zero() || opts.refresh_margin < std::chrono::milliseconds::zero())
      throw exception(error{errc::invalid_argument, "shared token cache: lock_ttl must be positive and refresh_margin not negative"});
    s_->key = shared_token_key(opts.key_prefix, opts.provider, opts.tenant);
    s_->lock = s_->key + ":lock";
  }

  /// A token: Redis's when it has more than refresh_margin left, else one this replica fetches
  /// (holding the lock) or another replica fetched (waiting for it). `previous` is the caller's
  /// copy; the entry's refresh token, which may have rotated since, is preferred to it.
  asio::awaitable<result<auth::oauth2::token>> operator()(const auth::oauth2::token* previous = nullptr) {
    auto s = s_;  // the frame keeps the state, whatever happens to this object
    const auto ex = co_await asio::this_coro::executor;
    const auto timeout = s->opts.link->options().command_timeout;
    const auto give_up = std::chrono::steady_clock::now() + s->opts.lock_ttl + 2 * timeout;
    auto pause = std::chrono::milliseconds{5};
    shared::token_op op = shared::token_op::get;
    // The lock's value: who holds it, so that only the holder stores or releases.
    auto id = crypto::random_bytes(16);
    if (!id) co_return id.error();
    const std::string owner = crypto::base64_encode(*id);
    for (;;) {
      auto reply = co_await call(s, op, owner);
      if (!reply) co_return co_await fallback(s, previous, reply.error());
      switch (reply->state) {
        case shared::token_reply::kind::hit: {
          auto t = open(*s, reply->sealed, reply->key_id);
          if (!t) {
            ++s->unreadable;
            op = shared::token_op::refetch;  // fetch a token this replica can read, and store it over the bad entry
            continue;
          }
          ++s->hits;
          t->expires_in = std::chrono::duration_cast<std::chrono::seconds>(reply->remaining);
          co_return std::move(*t);
        }
        case shared::token_reply::kind::locked: {
          // After a refetch the stale entry is the one that did not open: not tried (or counted) again.
          std::string stale = op == shared::token_op::refetch ? std::string() : std::move(reply->sealed);
          co_return co_await fetch_and_store(s, previous, std::move(stale), std::move(reply->key_id), owner);
        }
        case shared::token_reply::kind::busy: {
          ++s->waits;
          const auto now = std::chrono::steady_clock::now();
          if (now >= give_up)
            co_return error(errc::timeout, "shared token cache: another replica's token request for " + s->opts.provider +
                                               " did not finish within the lock's time");
          asio::steady_timer t(ex, std::min<std::chrono::steady_clock::duration>(
                                       {pause, std::max(reply->remaining, std::chrono::milliseconds{1}), give_up - now}));
          co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
          pause = std::min(pause * 2, std::chrono::milliseconds{100});
          op = shared::token_op::get;
          continue;
        }
        default:
          co_return error(errc::invalid_response, "shared token cache: unexpected answer to a read");
      }
    }
  }

  shared_token_stats stats() const noexcept {
    const auto& s = *s_;
    return {s.hits.load(), s.fetches.load(), s.waits.load(), s.stores_lost.load(), s.unreadable.load(), s.local_fetches.load(),
            s.failures.load()};
  }
  /// The entry's Redis key (the lock is this + ":lock").
  const std::string& key() const noexcept { return s_->key; }

 private:
  struct state {
    state(Source src, shared_token_options o) : source(std::move(src)), opts(std::move(o)) {}
    Source source;
    shared_token_options opts;
    std::string key, lock;
    std::atomic<std::uint64_t> hits{0}, fetches{0}, waits{0}, stores_lost{0}, unreadable{0}, local_fetches{0}, failures{0};
  };

  static asio::awaitable<result<auth::oauth2::token>> invoke(state& s, const auth::oauth2::token* previous) {
    if constexpr (std::invocable<Source&, const auth::oauth2::token*>) co_return co_await s.source(previous);
    else co_return co_await s.source();
  }

  // Runs the script on the link's executor and back; the hop ignores the caller's cancellation
  // (it ends within the command timeout).
  static asio::awaitable<result<shared::token_reply>> call(std::shared_ptr<state> s, shared::token_op op, std::string owner,
                                                   std::chrono::milliseconds lifetime = {}, std::chrono::milliseconds keep = {},
                                                   std::string sealed = {}, std::string key_id = {}) {
    auto keys = std::vector<std::string>{s->key, s->lock};
    auto args = shared::token_args(op, owner, s->opts.lock_ttl, s->opts.refresh_margin, lifetime,
                           std::max(keep, std::chrono::milliseconds{1}), sealed, key_id);
    auto r = co_await asio::co_spawn(s->opts.link->executor(), run(s->opts.link, std::move(keys), std::move(args)),
                                     asio::bind_cancellation_slot(asio::cancellation_slot(), asio::use_awaitable));
    if (!r) {
      ++s->failures;
      co_return r.error();
    }
    auto parsed = shared::parse_token_reply(*r);
    if (!parsed) ++s->failures;
    co_return parsed;
  }

  static asio::awaitable<result<redis::resp3::response>> run(std::shared_ptr<shared::redis_link> link, std::vector<std::string> keys,
                                                            std::vector<std::string> args) {
    co_return co_await link->eval(shared::token_script(), keys, args);
  }

  // This replica holds the lock: fetch (with the freshest refresh token there is), seal, store.
  static asio::awaitable<result<auth::oauth2::token>> fetch_and_store(std::shared_ptr<state> s, const auth::oauth2::token* previous,
                                                                      std::string stale_sealed, std::string stale_key,
                                                                      std::string owner) {
    std::optional<auth::oauth2::token> stale;
    if (!stale_sealed.empty()) {
      if (auto t = open(*s, stale_sealed, stale_key)) stale = std::move(*t);
      else ++s->unreadable;
    }
    const auth::oauth2::token* prev = stale ? &*stale : previous;
    ++s->fetches;
    auto t = co_await invoke(*s, prev);
    if (!t) {
      // A refresh token the server refused is dead for every replica: forget it with the entry.
      const shared::token_op op = t.error() == errc::invalid_grant ? shared::token_op::drop : shared::token_op::release;
      (void)co_await call(s, op, owner);
      co_return t;
    }
    // RFC 6749 section 6: without a new refresh token, the one used stays valid.
    if (t->refresh_token.empty() && prev && !prev->refresh_token.empty()) t->refresh_token = prev->refresh_token;
    const auto lifetime = t->expires_in ? std::chrono::duration_cast<std::chrono::milliseconds>(*t->expires_in)
                                        : s->opts.lifetime_if_unknown;
    // This replica renews when the others do: the life stored is the life handed out.
    if (!t->expires_in) t->expires_in = std::chrono::ceil<std::chrono::seconds>(lifetime);
    auto keep = lifetime;
    if (!t->refresh_token.empty()) keep = std::max<std::chrono::milliseconds>(keep, s->opts.keep_refresh_token);
    auto sealed = seal(*s, *t);
    if (!sealed) {
      (void)co_await call(s, shared::token_op::release, owner);
      co_return sealed.error();
    }
    const auto* k = s->opts.keys.primary();
    auto stored = co_await call(s, shared::token_op::store, owner, lifetime, keep, std::move(*sealed), k->id);
    if (stored && stored->state == shared::token_reply::kind::lost) ++s->stores_lost;
    co_return t;  // stored or not (Redis failed after the fetch), the token is good
  }

  static asio::awaitable<result<auth::oauth2::token>> fallback(std::shared_ptr<state> s, const auth::oauth2::token* previous,
                                                              const error& why) {
    if (s->opts.on_redis_unavailable == token_cache_fallback::fail)
      co_return error(errc::unavailable, "shared token cache: Redis at " + s->opts.link->endpoint() +
                                             " unavailable for the token of " + s->opts.provider + ": " + std::string(why.message()));
    ++s->local_fetches;
    co_return co_await invoke(*s, previous);
  }

  static result<std::string> seal(const state& s, const auth::oauth2::token& t) {
    boost::json::object o;
    o["access_token"] = t.access_token.reveal();
    o["token_type"] = t.token_type;
    if (!t.refresh_token.empty()) o["refresh_token"] = t.refresh_token.reveal();
    if (!t.scope.empty()) o["scope"] = t.scope;
    if (!t.id_token.empty()) o["id_token"] = t.id_token.reveal();
    const secret plain{boost::json::serialize(o)};
    o.clear();
    const auto* k = s.opts.keys.primary();
    auto sealed = crypto::aes256gcm_encrypt(crypto::as_bytes(k->key.reveal()), plain.reveal(),
                                            shared_token_aad(k->id, s.opts.provider, s.opts.tenant));
    if (!sealed) return sealed.error();
    return crypto::base64_encode(*sealed);
  }

  static result<auth::oauth2::token> open(const state& s, std::string_view text, std::string_view key_id) {
    const auto* k = s.opts.keys.find(key_id);
    if (!k) return error{errc::key_invalid, "shared token cache: the entry is sealed under a key this keyring does not hold"};
    auto sealed = crypto::base64_decode(text);
    if (!sealed) return error{errc::decryption_failed, "shared token cache: the entry is not base64"};
    auto plain = crypto::aes256gcm_decrypt(crypto::as_bytes(k->key.reveal()), *sealed,
                                           shared_token_aad(key_id, s.opts.provider, s.opts.tenant));
    if (!plain) return error{errc::decryption_failed, "shared token cache: the entry does not open (another key, provider or tenant, or altered)"};
    const secret text_plain{std::move(*plain)};
    // The body is ours (authenticated): read it as a token endpoint's answer.
    auto t = auth::oauth2::parse_token_response(text_plain.reveal());
    if (!t) return error{errc::decryption_failed, "shared token cache: the entry holds no token"};
    t->expires_in.reset();
    return t;
  }

  std::shared_ptr<state> s_;
};

}  // namespace intg
