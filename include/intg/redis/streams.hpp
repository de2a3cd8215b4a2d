// Redis Streams with consumer groups, at least once: XADD appends, XREADGROUP hands each entry
// to one consumer of a group and keeps it pending until XACK; XAUTOCLAIM moves entries that a
// consumer left pending longer than a given idle time (it died) to another consumer.
// XREADGROUP with BLOCK holds the whole connection for up to the block time (replies are in
// order, so every later command waits behind it): give blocking readers a connection of their
// own, and a command_timeout longer than the block time.
#pragma once

#include <intg/core/result.hpp>
#include <intg/redis/connection.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace intg::redis {

struct stream_entry {
  std::string id;
  std::vector<std::pair<std::string, std::string>> fields;
};

struct autoclaim_result {
  std::string next;                   ///< the cursor for the next XAUTOCLAIM ("0-0": scan done)
  std::vector<stream_entry> entries;  ///< claimed entries, now pending for the claiming consumer
  std::vector<std::string> deleted;   ///< ids pending but no longer in the stream (acked away from the PEL)
};

namespace detail {
inline result<std::vector<stream_entry>> read_entries(resp3::value_ref v) {
  std::vector<stream_entry> out;
  if (v.is_null()) return out;
  if (auto c = v.check(); !c) return c.error();
  if (v.type() != resp3::type::array) return make_error(errc::unexpected_type, "expected an array of stream entries");
  for (auto e : v) {
    if (e.type() != resp3::type::array || e.size() != 2) return make_error(errc::unexpected_type, "expected [id, fields]");
    stream_entry se;
    auto id = e[0].as_string();
    if (!id) return id.error();
    se.id = std::move(*id);
    if (!e[1].is_null()) {  // an entry deleted after delivery has null fields
      auto f = e[1].as_pairs();
      if (!f) return f.error();
      se.fields = std::move(*f);
    }
    out.push_back(std::move(se));
  }
  return out;
}
}  // namespace detail

/// XADD stream * field value ...: returns the new entry's id.
inline asio::awaitable<result<std::string>> xadd(connection& conn, std::string_view stream,
                                                 const std::vector<std::pair<std::string, std::string>>& fields) {
  request req("XADD", stream, "*", fields);
  auto r = co_await conn.execute(req);
  if (!r) co_return r.error();
  co_return (*r)[0].as_string();
}

/// XGROUP CREATE stream group start MKSTREAM: true when created, false when it existed (BUSYGROUP).
inline asio::awaitable<result<bool>> xgroup_create(connection& conn, std::string_view stream, std::string_view group,
                                                   std::string_view start_id = "$") {
  request req("XGROUP", "CREATE", stream, group, start_id, "MKSTREAM");
  auto r = co_await conn.execute(req);
  // (result<bool> is built in place from an error: bool is constructible from intg::error.)
  if (!r) co_return result<bool>(boost::system::in_place_error, r.error());
  if (auto c = (*r)[0].check(); !c) {
    if (c.error().provider_code() == "BUSYGROUP") co_return false;
    co_return result<bool>(boost::system::in_place_error, c.error());
  }
  co_return true;
}

/// XREADGROUP GROUP group consumer COUNT n [BLOCK ms] STREAMS stream >: new entries for this
/// consumer (empty when none came within `block`; no BLOCK when it is zero).
inline asio::awaitable<result<std::vector<stream_entry>>> xreadgroup(connection& conn, std::string_view group,
                                                                    std::string_view consumer, std::string_view stream,
                                                                    std::size_t count,
                                                                    std::chrono::milliseconds block = std::chrono::milliseconds{0}) {
  request req;
  if (block.count() > 0)
    req.push("XREADGROUP", "GROUP", group, consumer, "COUNT", count, "BLOCK", block.count(), "STREAMS", stream, ">");
  else
    req.push("XREADGROUP", "GROUP", group, consumer, "COUNT", count, "STREAMS", stream, ">");
  auto r = co_await conn.execute(req);
  if (!r) co_return r.error();
  const resp3::value_ref v = (*r)[0];
  if (v.is_null()) co_return std::vector<stream_entry>{};
  if (auto c = v.check(); !c) co_return c.error();
  // RESP3: a map {stream: entries}; RESP2: [[stream, entries]].
  if (v.type() == resp3::type::map && v.size() == 2) co_return detail::read_entries(v[1]);
  if (v.type() == resp3::type::array && v.size() == 1 && v[0].size() == 2) co_return detail::read_entries(v[0][1]);
  co_return make_error(errc::unexpected_type, "unexpected XREADGROUP reply shape");
}

/// XACK stream group id...: how many of the ids were pending and are now acknowledged.
inline asio::awaitable<result<std::int64_t>> xack(connection& conn, std::string_view stream, std::string_view group,
                                                  const std::vector<std::string>& ids) {
  request req("XACK", stream, group, ids);
  auto r = co_await conn.execute(req);
  if (!r) co_return r.error();
  co_return (*r)[0].as_int();
}

/// XAUTOCLAIM stream group consumer min-idle start COUNT n: takes over entries pending longer
/// than `min_idle` (their consumer died or hangs); call again with `next` until it is "0-0".
inline asio::awaitable<result<autoclaim_result>> xautoclaim(connection& conn, std::string_view stream,
                                                            std::string_view group, std::string_view consumer,
                                                            std::chrono::milliseconds min_idle,
                                                            std::string_view start = "0-0", std::size_t count = 100) {
  request req("XAUTOCLAIM", stream, group, consumer, min_idle.count(), start, "COUNT", count);
  auto r = co_await conn.execute(req);
  if (!r) co_return r.error();
  const resp3::value_ref v = (*r)[0];
  if (auto c = v.check(); !c) co_return c.error();
  if (v.type() != resp3::type::array || v.size() < 2) co_return make_error(errc::unexpected_type, "unexpected XAUTOCLAIM reply shape");
  autoclaim_result out;
  auto next = v[0].as_string();
  if (!next) co_return next.error();
  out.next = std::move(*next);
  auto entries = detail::read_entries(v[1]);
  if (!entries) co_return entries.error();
  out.entries = std::move(*entries);
  if (v.size() >= 3) {  // Redis 7: ids that were pending but deleted from the stream
    auto del = v[2].as_strings();
    if (!del) co_return del.error();
    out.deleted = std::move(*del);
  }
  co_return out;
}

}  // namespace intg::redis
