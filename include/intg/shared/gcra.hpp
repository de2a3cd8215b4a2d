// The shared GCRA decision: one Lua script that Redis runs atomically (EVALSHA) on its own clock
// (TIME), granting up to `want` permits at once (at least `min`) or refusing with the time until
// `min` could be granted. A bucket is one number, its theoretical arrival time in microseconds of
// the server's clock, in a key that expires once the bucket is full again (an absent key is a
// full bucket), so idle buckets cost Redis nothing.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/redis/connection.hpp>
#include <intg/redis/script.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace intg::shared {

/// What one decision asks for. Times are microseconds (doubles: a rate needs no whole interval).
struct gcra_params {
  double interval_us = 100'000;  ///< one permit per interval: 60e6 / requests_per_minute
  double tolerance_us = 0;       ///< (burst - 1) intervals: how far the bucket may be ahead of now
  std::int64_t want = 1;         ///< at most this many permits
  std::int64_t min = 1;          ///< at least this many, or none (1 <= min <= want)
  /// Decide at this server time instead of TIME (tests pin the clock with it); unset in real use.
  std::optional<std::int64_t> now_us{};
};

/// A decision: `granted` permits (0: refused, then `retry_after` is the time until `min` permits
/// could be granted); `remaining` permits could still be granted at once after it.
struct gcra_reply {
  std::int64_t granted = 0;
  std::chrono::microseconds retry_after{};
  std::int64_t remaining = 0;
};

/// The script. KEYS[1] is the bucket; ARGV: interval_us, tolerance_us, want, min[, now_us].
/// The k-th permit from now is free when tat + (k - 1) * interval - now <= tolerance.
inline const redis::script& gcra_script() {
  static const redis::script s(R"lua(-- intg shared GCRA v1
if redis.replicate_commands then redis.replicate_commands() end
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local min = tonumber(ARGV[4])
if not interval or not tolerance or not want or not min or interval <= 0 or tolerance < 0 or min < 1 or want < min then
  return redis.error_reply('ERR intg gcra: invalid arguments')
end
local now
if ARGV[5] then
  now = tonumber(ARGV[5])
  if not now then return redis.error_reply('ERR intg gcra: invalid time') end
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then
  tat = tonumber(stored)
  if not tat or tat ~= tat or tat < 0 or tat > now + 1e15 then
    return redis.error_reply('ERR intg gcra: the bucket key holds no valid time')
  end
  if tat < now then tat = now end
end
local free = math.floor((tolerance - (tat - now)) / interval) + 1
if free < 0 then free = 0 end
if free < min then
  return {0, math.max(1, math.ceil(tat + (min - 1) * interval - tolerance - now)), free}
end
local granted = want
if free < want then granted = free end
tat = tat + granted * interval
redis.call('SET', KEYS[1], string.format('%.17g', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
return {granted, 0, free - granted}
)lua");
  return s;
}

/// The script's arguments for `p`.
inline std::vector<std::string> gcra_args(const gcra_params& p) {
  auto num = [](double d) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", d);
    return std::string(buf);
  };
  std::vector<std::string> a{num(p.interval_us), num(p.tolerance_us), std::to_string(p.want), std::to_string(p.min)};
  if (p.now_us) a.push_back(std::to_string(*p.now_us));
  return a;
}

/// Reads the script's reply, refusing one that breaks its contract (a bucket key written by
/// something else can make the arithmetic absurd): errc::unexpected_type with what was wrong.
inline result<gcra_reply> parse_gcra_reply(redis::resp3::value_ref v, const gcra_params& p) {
  auto bad = [](std::string what) { return redis::make_error(redis::errc::unexpected_type, "GCRA script reply: " + what); };
  if (auto c = v.check(); !c) return c.error();
  if (v.type() != redis::resp3::type::array || v.size() != 3) return bad("expected an array of 3 integers");
  std::int64_t n[3];
  for (std::size_t i = 0; i < 3; ++i) {
    auto x = v[i].as_int();
    if (v[i].type() != redis::resp3::type::number || !x) return bad("expected an array of 3 integers");
    n[i] = *x;
  }
  constexpr std::int64_t max_retry_us = std::int64_t{366} * 24 * 3600 * 1'000'000;  // a year
  if (n[0] < 0 || n[0] > p.want || (n[0] > 0 && n[0] < p.min)) return bad("granted " + std::to_string(n[0]) + " permits of " + std::to_string(p.want));
  if (n[1] < 0 || n[1] > max_retry_us || (n[0] == 0 && n[1] == 0)) return bad("retry-after of " + std::to_string(n[1]) + " us");
  if (n[2] < 0) return bad("negative remaining permits");
  return gcra_reply{n[0], std::chrono::microseconds(n[1]), n[2]};
}

/// The same, on the first value of a response.
inline result<gcra_reply> parse_gcra_reply(const redis::resp3::response& r, const gcra_params& p) {
  if (r.empty()) return redis::make_error(redis::errc::unexpected_type, "GCRA script reply: missing");
  return parse_gcra_reply(r.front(), p);
}

/// One decision on `conn` (EVALSHA, EVAL when the server does not have the script yet).
inline asio::awaitable<result<gcra_reply>> take(redis::connection& conn, const std::string& key, const gcra_params& p) {
  const std::vector<std::string> keys{key};
  const std::vector<std::string> args = gcra_args(p);
  auto r = co_await redis::eval(conn, gcra_script(), keys, args);
  if (!r) co_return r.error();
  co_return parse_gcra_reply(*r, p);
}

}  // namespace intg::shared
