// The shared circuit breaker's state in Redis: one hash per breaker, changed only by one Lua script
// that Redis runs atomically on its own clock (TIME), and announced on a pub/sub channel when the
// breaker opens or closes. The hash holds `state` (open, half_open; absent or closed: closed),
// `gen` (incremented at each opening and at each closing, so that a late answer or announcement
// of an earlier state is recognised and ignored), `since` (server microseconds: when it opened, or when the current round of
// half-open probes began), `probes` (reserved in this round), `ok` (probes that succeeded) and
// `reason` (why it opened). Every write renews a one-day expiry, so that idle breakers leave
// nothing behind.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/redis/connection.hpp>
#include <intg/redis/script.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace intg::shared {

/// What the breaker script is asked to do.
enum class breaker_op : std::uint8_t {
  trip,     ///< open it (from closed) because this replica counted enough failures
  probe,    ///< reserve a half-open probe once the recovery time has passed
  success,  ///< a probe of generation `gen` succeeded (enough of them close it)
  failure,  ///< a probe of generation `gen` failed: open again
  release,  ///< a probe of generation `gen` ended without a verdict (the call was refused elsewhere)
  read      ///< the state, changing nothing
};

inline std::string_view to_string(breaker_op op) noexcept {
  switch (op) {
    case breaker_op::trip: return "trip";
    case breaker_op::probe: return "probe";
    case breaker_op::success: return "success";
    case breaker_op::failure: return "failure";
    case breaker_op::release: return "release";
    case breaker_op::read: return "read";
  }
  return "read";
}

/// The cluster-wide state as the script answers it.
struct breaker_reply {
  enum class kind : std::uint8_t {
    closed,     ///< calls flow
    open,       ///< rejected for `remaining` more (server time)
    half_open,  ///< probing, and this caller got no probe: `remaining` until the round may start again
    probe       ///< this caller holds one of the round's probes
  };
  kind state = kind::closed;
  std::int64_t gen = 0;
  std::chrono::microseconds remaining{};
  std::string reason{};  ///< why it opened (empty when closed)
};

/// The script. KEYS[1] is the breaker's hash; ARGV: op, recovery_us, max_probes, gen, reason, channel.
inline const redis::script& breaker_script() {
  static const redis::script s(R"lua(-- intg shared breaker v2
if redis.replicate_commands then redis.replicate_commands() end
local k, op = KEYS[1], ARGV[1]
local recovery, max, seen = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if not recovery or not max or not seen or recovery < 0 or max < 1 then
  return redis.error_reply('ERR intg breaker: invalid arguments')
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local h = redis.call('HMGET', k, 'state', 'gen', 'since', 'probes', 'ok', 'reason')
local state = h[1] or 'closed'
local gen, since, probes, ok = tonumber(h[2] or '0'), tonumber(h[3] or '0'), tonumber(h[4] or '0'), tonumber(h[5] or '0')
local reason = h[6] or ''
if not gen or not since or not probes or not ok or (state ~= 'closed' and state ~= 'open' and state ~= 'half_open') then
  return redis.error_reply('ERR intg breaker: the key holds no breaker state')
end
-- Times as integer text: Lua numbers are doubles, and a bare one may be written with an exponent.
local function us(x) return string.format('%.17g', x) end
local function keep() redis.call('PEXPIRE', k, 86400000) end
local function open(why)
  gen = gen + 1
  redis.call('HSET', k, 'state', 'open', 'gen', gen, 'since', us(now), 'probes', 0, 'ok', 0, 'reason', why)
  keep()
  redis.call('PUBLISH', ARGV[6], 'open ' .. gen .. ' ' .. k)
  return {'open', gen, recovery, why}
end
if op == 'trip' then
  if state == 'closed' then return open(ARGV[5]) end
elseif op == 'probe' then
  if state == 'open' and now >= since + recovery then
    state, since, probes, ok = 'half_open', now, 0, 0
    redis.call('HSET', k, 'state', state, 'since', us(since), 'probes', 0, 'ok', 0)
  end
  if state == 'half_open' and probes >= max and now >= since + recovery then
    since, probes, ok = now, 0, 0  -- the round's probes never reported back: a new round
    redis.call('HSET', k, 'since', us(since), 'probes', 0, 'ok', 0)
  end
  if state == 'half_open' and probes < max then
    redis.call('HSET', k, 'probes', probes + 1)
    keep()
    return {'probe', gen, 0, reason}
  end
elseif state == 'half_open' and seen == gen then
  if op == 'success' then
    ok = ok + 1
    if ok >= max then
      gen = gen + 1
      redis.call('HSET', k, 'state', 'closed', 'gen', gen, 'probes', 0, 'ok', 0, 'reason', '')
      keep()
      redis.call('PUBLISH', ARGV[6], 'closed ' .. gen .. ' ' .. k)
      return {'closed', gen, 0, ''}
    end
    redis.call('HSET', k, 'ok', ok)
  elseif op == 'failure' then
    return open(ARGV[5])
  elseif op == 'release' and probes > 0 then
    redis.call('HSET', k, 'probes', probes - 1)
  end
elseif op ~= 'read' and op ~= 'success' and op ~= 'failure' and op ~= 'release' then
  return redis.error_reply('ERR intg breaker: unknown operation')
end
if state == 'closed' then return {'closed', gen, 0, ''} end
local left = since + recovery - now
if left < 0 then left = 0 end
return {state, gen, left, reason}
)lua");
  return s;
}

/// The script's arguments.
inline std::vector<std::string> breaker_args(breaker_op op, std::chrono::microseconds recovery, int max_probes, std::int64_t gen,
                                             std::string_view reason, std::string_view channel) {
  return {std::string(to_string(op)), std::to_string(recovery.count()), std::to_string(max_probes), std::to_string(gen),
          std::string(reason), std::string(channel)};
}

/// Reads the script's reply, refusing one that breaks its contract: errc::unexpected_type.
inline result<breaker_reply> parse_breaker_reply(redis::resp3::value_ref v) {
  auto bad = [](std::string what) { return redis::make_error(redis::errc::unexpected_type, "breaker script reply: " + what); };
  if (auto c = v.check(); !c) return c.error();
  if (v.type() != redis::resp3::type::array || v.size() != 4) return bad("expected an array of 4 elements");
  breaker_reply r;
  const auto st = v[0].as_string();
  if (!st) return bad("expected the state first");
  if (*st == "closed") r.state = breaker_reply::kind::closed;
  else if (*st == "open") r.state = breaker_reply::kind::open;
  else if (*st == "half_open") r.state = breaker_reply::kind::half_open;
  else if (*st == "probe") r.state = breaker_reply::kind::probe;
  else return bad("unknown state");
  const auto gen = v[1].as_int();
  const auto left = v[2].as_int();
  constexpr std::int64_t max_left_us = std::int64_t{366} * 24 * 3600 * 1'000'000;  // a year
  if (v[1].type() != redis::resp3::type::number || !gen || *gen < 0) return bad("expected a generation");
  if (v[2].type() != redis::resp3::type::number || !left || *left < 0 || *left > max_left_us) return bad("expected a remaining time");
  const auto why = v[3].as_string();
  if (!why) return bad("expected a reason");
  r.gen = *gen;
  r.remaining = std::chrono::microseconds(*left);
  r.reason.assign(why->data(), std::min<std::size_t>(why->size(), 1024));
  return r;
}

/// The same, on the first value of a response.
inline result<breaker_reply> parse_breaker_reply(const redis::resp3::response& r) {
  if (r.empty()) return redis::make_error(redis::errc::unexpected_type, "breaker script reply: missing");
  return parse_breaker_reply(r.front());
}

/// A pub/sub announcement: "open <gen> <key>" or "closed <gen> <key>".
struct breaker_event {
  bool open = false;
  std::int64_t gen = 0;
  std::string_view key{};
};

/// Reads an announcement; nothing for anything else published on the channel.
inline std::optional<breaker_event> parse_breaker_event(std::string_view text) noexcept {
  breaker_event e;
  if (text.starts_with("open ")) {
    e.open = true;
    text.remove_prefix(5);
  } else if (text.starts_with("closed ")) {
    text.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  const auto sp = text.find(' ');
  if (sp == 0 || sp == std::string_view::npos || sp > 18) return std::nullopt;
  std::int64_t g = 0;
  for (char c : text.substr(0, sp)) {
    if (c < '0' || c > '9') return std::nullopt;
    g = g * 10 + (c - '0');
  }
  e.gen = g;
  e.key = text.substr(sp + 1);
  if (e.key.empty()) return std::nullopt;
  return e;
}

}  // namespace intg::shared
