// The shared token cache's state in Redis: per (provider, tenant) a hash holding the sealed token
// (`sealed`: AES-256-GCM, opened only by the replicas), the id of the key that sealed it (`key`)
// and when the access token expires (`expires`, milliseconds on Redis's clock), plus a lock key
// held by the one replica fetching a new token. One Lua script, run atomically on Redis's clock
// (TIME), reads, locks, stores and releases, so that a token is stored only by the lock's holder
// and a replica that lost its lock (it took longer than the lock's life) cannot overwrite a newer
// token or refresh token.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/redis/connection.hpp>
#include <intg/redis/script.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace intg::shared {

/// What the token script is asked to do.
enum class token_op : std::uint8_t {
  get,      ///< the stored token if it has more than the margin left; else the lock, or who holds it
  refetch,  ///< the lock (the stored token is unusable here: it does not open), or who holds it
  store,    ///< the holder's new token (only while it still holds the lock), and the lock released
  release,  ///< the holder gives the lock back without a token
  drop      ///< the holder gives the lock back and deletes the entry (its refresh token is dead)
};

inline std::string_view to_string(token_op op) noexcept {
  switch (op) {
    case token_op::get: return "get";
    case token_op::refetch: return "refetch";
    case token_op::store: return "store";
    case token_op::release: return "release";
    case token_op::drop: return "drop";
  }
  return "get";
}

/// The script's answer.
struct token_reply {
  enum class kind : std::uint8_t {
    hit,     ///< `sealed` is a token with `remaining` left
    locked,  ///< this caller holds the lock and fetches; `sealed` is the stale entry (for its refresh token), maybe empty
    busy,    ///< another replica holds the lock for `remaining` more
    stored,  ///< the token was stored and the lock released
    lost,    ///< this caller no longer held the lock: nothing was written
    done     ///< released (or dropped)
  };
  kind state = kind::busy;
  std::string sealed{};  ///< base64 text as stored
  std::string key_id{};
  std::chrono::milliseconds remaining{};
};

/// The script. KEYS[1] the entry's hash, KEYS[2] the lock. ARGV: op, owner (the lock's value),
/// lock_ms, margin_ms (get: the least time left that is a hit), lifetime_ms and keep_ms (store:
/// the access token's life, and how long the entry is kept), sealed, key id (store).
inline const redis::script& token_script() {
  static const redis::script s(R"lua(-- intg shared token cache v1
if redis.replicate_commands then redis.replicate_commands() end
local entry, lock, op, owner = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local lock_ms, margin, life, keep = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if not lock_ms or not margin or not life or not keep or lock_ms < 1 or margin < 0 or life < 0 or keep < 1 or owner == '' then
  return redis.error_reply('ERR intg token cache: invalid arguments')
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function ms(x) return string.format('%.17g', x) end
if op == 'get' or op == 'refetch' then
  local h = redis.call('HMGET', entry, 'sealed', 'key', 'expires')
  local sealed, key, expires = h[1] or '', h[2] or '', tonumber(h[3] or '0')
  if not expires then return redis.error_reply('ERR intg token cache: the key holds no token entry') end
  if op == 'get' and sealed ~= '' and expires - now > margin then return {'hit', sealed, key, expires - now} end
  if redis.call('SET', lock, owner, 'NX', 'PX', lock_ms) then return {'locked', sealed, key, 0} end
  local left = redis.call('PTTL', lock)
  if left < 0 then left = 0 end
  return {'busy', '', '', left}
end
local mine = redis.call('GET', lock) == owner
if op == 'store' then
  if not mine then return {'lost', '', '', 0} end
  redis.call('HSET', entry, 'sealed', ARGV[7], 'key', ARGV[8], 'expires', ms(now + life))
  redis.call('PEXPIRE', entry, keep)
  redis.call('DEL', lock)
  return {'stored', '', '', life}
elseif op == 'release' or op == 'drop' then
  if mine then
    redis.call('DEL', lock)
    if op == 'drop' then redis.call('DEL', entry) end
  end
  return {'done', '', '', 0}
end
return redis.error_reply('ERR intg token cache: unknown operation')
)lua");
  return s;
}

/// The script's arguments.
inline std::vector<std::string> token_args(token_op op, std::string_view owner, std::chrono::milliseconds lock,
                                           std::chrono::milliseconds margin, std::chrono::milliseconds lifetime = {},
                                           std::chrono::milliseconds keep = std::chrono::milliseconds{1},
                                           std::string_view sealed = {}, std::string_view key_id = {}) {
  return {std::string(to_string(op)),        std::string(owner),          std::to_string(lock.count()),
          std::to_string(margin.count()),    std::to_string(lifetime.count()), std::to_string(keep.count()),
          std::string(sealed),               std::string(key_id)};
}

/// Reads the script's reply, refusing one that breaks its contract: errc::unexpected_type.
inline result<token_reply> parse_token_reply(redis::resp3::value_ref v) {
  auto bad = [](std::string what) { return redis::make_error(redis::errc::unexpected_type, "token script reply: " + what); };
  if (auto c = v.check(); !c) return c.error();
  if (v.type() != redis::resp3::type::array || v.size() != 4) return bad("expected an array of 4 elements");
  token_reply r;
  const auto st = v[0].as_string();
  if (!st) return bad("expected the state first");
  if (*st == "hit") r.state = token_reply::kind::hit;
  else if (*st == "locked") r.state = token_reply::kind::locked;
  else if (*st == "busy") r.state = token_reply::kind::busy;
  else if (*st == "stored") r.state = token_reply::kind::stored;
  else if (*st == "lost") r.state = token_reply::kind::lost;
  else if (*st == "done") r.state = token_reply::kind::done;
  else return bad("unknown state");
  auto sealed = v[1].as_string();
  auto key = v[2].as_string();
  const auto left = v[3].as_int();
  if (!sealed || !key) return bad("expected the sealed token and its key id");
  constexpr std::int64_t max_left_ms = std::int64_t{3660} * 24 * 3600 * 1000;  // ten years
  if (v[3].type() != redis::resp3::type::number || !left || *left < 0 || *left > max_left_ms) return bad("expected a remaining time");
  if (r.state == token_reply::kind::hit && sealed->empty()) return bad("a hit without a token");
  r.sealed = std::move(*sealed);
  r.key_id = std::move(*key);
  r.remaining = std::chrono::milliseconds(*left);
  return r;
}

/// The same, on the first value of a response.
inline result<token_reply> parse_token_reply(const redis::resp3::response& r) {
  if (r.empty()) return redis::make_error(redis::errc::unexpected_type, "token script reply: missing");
  return parse_token_reply(r.front());
}

}  // namespace intg::shared
