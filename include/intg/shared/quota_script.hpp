// A tenant quota's counters in Redis: per period (the calendar minute, day and month in UTC, on
// Redis's clock) one integer key holding the units used in it, which expires after the period
// ends. One Lua script, run atomically, gives back what a replica leased and did not spend, adds
// what it admitted while Redis was away, and grants up to `want` units if every limited period has
// them, or refuses with the time until the exhausted period resets.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/redis/connection.hpp>
#include <intg/redis/script.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace intg::shared {

/// The periods a quota counts over: calendar periods in UTC, so that every replica agrees on
/// where one ends (Redis's clock decides).
enum class quota_period : std::uint8_t { minute, day, month };
inline constexpr std::array<quota_period, 3> quota_periods{quota_period::minute, quota_period::day, quota_period::month};

inline std::string_view to_string(quota_period p) noexcept {
  switch (p) {
    case quota_period::minute: return "minute";
    case quota_period::day: return "day";
    case quota_period::month: return "month";
  }
  return "minute";
}

/// Units given back or added in one period: applied only while `window` is still the current one
/// (a give-back after the period ended would credit the next period).
struct quota_adjustment {
  std::int64_t units = 0;  ///< > 0: leased and not spent (given back); < 0: admitted without Redis (added)
  std::int64_t window = 0;
};

/// What one script run asks for.
struct quota_params {
  std::array<std::int64_t, 3> limits{};  ///< per minute, day, month; 0: that period is not limited
  std::int64_t want = 1;                 ///< at most this many units; 0: only adjust and report
  std::int64_t min = 1;                  ///< at least this many, or none (1 <= min <= want, unless want is 0)
  /// At most free units / share_among are granted (at least `min`), so that replicas near the end
  /// of a quota do not lease it all to one of them.
  std::int64_t share_among = 1;
  std::array<quota_adjustment, 3> adjust{};
  /// Decide at this server time (ms since the epoch) instead of TIME (tests pin the clock with it).
  std::optional<std::int64_t> now_ms{};
};

/// One period as the script saw it after its decision.
struct quota_usage {
  std::int64_t used = 0;    ///< units used in the current window, cluster-wide (0 for an unlimited period)
  std::int64_t window = 0;  ///< the window's number (minutes or days since the epoch; months: year * 12 + month - 1)
  std::chrono::milliseconds resets_in{};  ///< until the window ends
};

/// A decision: `granted` units (0: refused, then `retry_after` is the time until an exhausted
/// period resets), and each period's usage.
struct quota_reply {
  std::int64_t granted = 0;
  std::chrono::milliseconds retry_after{};
  std::array<quota_usage, 3> periods{};
};

/// The script. KEYS[1] is the quota's base key: a period's counter is base .. ':m:' / ':d:' / ':M:'
/// .. its window number (in the base key's hash slot when the base holds a {hash tag}). ARGV:
/// want, min, share_among, then per period limit, adjustment, adjustment's window, then now_ms.
inline const redis::script& quota_script() {
  static const redis::script s(R"lua(-- intg shared quota v1
if redis.replicate_commands then redis.replicate_commands() end
local want, min, share = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if not want or not min or not share or want < 0 or share < 1 or (want > 0 and (min < 1 or want < min)) then
  return redis.error_reply('ERR intg quota: invalid arguments')
end
local now
if ARGV[13] then
  now = tonumber(ARGV[13])
  if not now then return redis.error_reply('ERR intg quota: invalid time') end
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m > 2) and (m - 3) or (m + 9)
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  return era * 146097 + yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy - 719468
end
local day = math.floor(now / 86400000)
local z = day + 719468
local era = math.floor(z / 146097)
local doe = z - era * 146097
local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
local mp = math.floor((5 * doy + 2) / 153)
local month = (mp < 10) and (mp + 3) or (mp - 9)
local year = yoe + era * 400
if month <= 2 then year = year + 1 end
local next_y, next_m = year, month + 1
if next_m > 12 then next_y, next_m = year + 1, 1 end
local minute = math.floor(now / 60000)
local windows = {minute, day, year * 12 + month - 1}
local ends = {(minute + 1) * 60000, (day + 1) * 86400000, days_from_civil(next_y, next_m, 1) * 86400000}
local tags = {':m:', ':d:', ':M:'}
local limits, used, keys = {}, {}, {}
local free = nil
for i = 1, 3 do
  local limit = tonumber(ARGV[3 * i + 1])
  local units = tonumber(ARGV[3 * i + 2])
  local window = tonumber(ARGV[3 * i + 3])
  if not limit or limit < 0 or not units or not window then return redis.error_reply('ERR intg quota: invalid arguments') end
  limits[i] = limit
  used[i] = 0
  if limit > 0 then
    keys[i] = KEYS[1] .. tags[i] .. string.format('%d', windows[i])
    local stored = redis.call('GET', keys[i])
    if stored then
      used[i] = tonumber(stored)
      if not used[i] or used[i] ~= math.floor(used[i]) then
        return redis.error_reply('ERR intg quota: a counter key holds no integer')
      end
    end
    if units ~= 0 and window == windows[i] then
      used[i] = used[i] - units
      if used[i] < 0 then used[i] = 0 end
      redis.call('SET', keys[i], string.format('%d', used[i]), 'PX', ends[i] - now + 60000)
    end
    local f = limit - used[i]
    if f < 0 then f = 0 end
    if free == nil or f < free then free = f end
  end
end
local granted, retry = 0, 0
if want > 0 then
  if free == nil then
    granted = want
  elseif free < min then
    for i = 1, 3 do
      if limits[i] > 0 and limits[i] - used[i] < min and ends[i] - now > retry then retry = ends[i] - now end
    end
  else
    granted = want
    if free < granted then granted = free end
    local fair = math.floor(free / share)
    if fair < min then fair = min end
    if fair < granted then granted = fair end
    for i = 1, 3 do
      if limits[i] > 0 then
        used[i] = used[i] + granted
        redis.call('SET', keys[i], string.format('%d', used[i]), 'PX', ends[i] - now + 60000)
      end
    end
  end
end
return {granted, retry, used[1], windows[1], ends[1] - now, used[2], windows[2], ends[2] - now, used[3], windows[3], ends[3] - now}
)lua");
  return s;
}

/// The script's arguments for `p`.
inline std::vector<std::string> quota_args(const quota_params& p) {
  std::vector<std::string> a{std::to_string(p.want), std::to_string(p.min), std::to_string(p.share_among)};
  for (std::size_t i = 0; i < 3; ++i) {
    a.push_back(std::to_string(p.limits[i]));
    a.push_back(std::to_string(p.adjust[i].units));
    a.push_back(std::to_string(p.adjust[i].window));
  }
  if (p.now_ms) a.push_back(std::to_string(*p.now_ms));
  return a;
}

/// Reads the script's reply, refusing one that breaks its contract (counter keys written by
/// something else can make it absurd): redis::errc::unexpected_type with what was wrong.
inline result<quota_reply> parse_quota_reply(redis::resp3::value_ref v, const quota_params& p) {
  auto bad = [](std::string what) { return redis::make_error(redis::errc::unexpected_type, "quota script reply: " + what); };
  if (auto c = v.check(); !c) return c.error();
  if (v.type() != redis::resp3::type::array || v.size() != 11) return bad("expected an array of 11 integers");
  std::int64_t n[11];
  for (std::size_t i = 0; i < 11; ++i) {
    auto x = v[i].as_int();
    if (v[i].type() != redis::resp3::type::number || !x) return bad("expected an array of 11 integers");
    n[i] = *x;
  }
  constexpr std::int64_t month_ms = std::int64_t{31} * 24 * 3600 * 1000;
  if (n[0] < 0 || n[0] > p.want || (n[0] > 0 && n[0] < p.min)) return bad("granted " + std::to_string(n[0]) + " units of " + std::to_string(p.want));
  if (n[1] < 0 || n[1] > month_ms || (p.want > 0 && n[0] == 0 && n[1] == 0)) return bad("retry-after of " + std::to_string(n[1]) + " ms");
  quota_reply r{n[0], std::chrono::milliseconds(n[1]), {}};
  constexpr std::int64_t period_ms[3] = {60'000, 86'400'000, month_ms};
  for (std::size_t i = 0; i < 3; ++i) {
    const std::int64_t used = n[2 + 3 * i], window = n[3 + 3 * i], left = n[4 + 3 * i];
    if (used < 0) return bad("negative usage");
    if (window < 0 || left <= 0 || left > period_ms[i]) return bad("a window that ends " + std::to_string(left) + " ms from now");
    r.periods[i] = quota_usage{used, window, std::chrono::milliseconds(left)};
  }
  return r;
}

/// The same, on the first value of a response.
inline result<quota_reply> parse_quota_reply(const redis::resp3::response& r, const quota_params& p) {
  if (r.empty()) return redis::make_error(redis::errc::unexpected_type, "quota script reply: missing");
  return parse_quota_reply(r.front(), p);
}

/// One decision on `conn` (EVALSHA, EVAL when the server does not have the script yet).
inline asio::awaitable<result<quota_reply>> take_quota(redis::connection& conn, const std::string& key, const quota_params& p) {
  const std::vector<std::string> keys{key};
  const std::vector<std::string> args = quota_args(p);
  auto r = co_await redis::eval(conn, quota_script(), keys, args);
  if (!r) co_return r.error();
  co_return parse_quota_reply(*r, p);
}

}  // namespace intg::shared
