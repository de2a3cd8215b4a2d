// libFuzzer target: how the provider kit reads an answer (rest/errors.hpp, rest/rate_limit.hpp,
// rest/pagination.hpp). The input is a raw HTTP response; every provider's classification
// (Stripe, Slack, Twilio, Discord, Last.fm, Apple Music: error members, ok flags, errors on 200,
// rate-limit codes, retry codes, Retry-After and reset headers, Discord's buckets, global flag and
// invalid-request counting) and every pagination strategy must give an answer, never a crash or an
// overflow, and stay within bounds: an accepted answer is a 2xx, a wait is never negative beyond
// "unknown" (-1) nor longer than a year, and a blocked bucket reopens by then. Google Cloud
// Storage reads its answers itself: its classification and every reader (the Object resource, a
// listing, the error document, x-goog-hash) run on the same input.
#include <intg/providers/apple_music.hpp>
#include <intg/providers/discord.hpp>
#include <intg/providers/gcs.hpp>
#include <intg/providers/lastfm.hpp>
#include <intg/providers/slack.hpp>
#include <intg/providers/stripe.hpp>
#include <intg/providers/twilio.hpp>

#include <boost/beast/http/parser.hpp>
#include <boost/json/parse.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace rest = intg::rest;
namespace http = intg::http;

namespace {

void check(bool ok, int line = __builtin_LINE()) {
  if (!ok) {
    std::fprintf(stderr, "property failed at fuzz_rest_answer.cpp:%d\n", line);
    std::abort();
  }
}

constexpr auto year = std::chrono::hours(24 * 366);

template <class P>
void classify_as(const http::response& res, const boost::json::value* body, std::chrono::system_clock::time_point wall) {
  const auto v = rest::classify<P>(res, body, wall);
  const int status = static_cast<int>(res.result_int());
  if (v.action == rest::action::accept) check(status >= 200 && status < 300);
  else check(static_cast<bool>(v.failure));
  if (v.failure.has_retry_after()) check(v.failure.retry_after() >= std::chrono::milliseconds(0) && v.failure.retry_after() <= year);
  (void)v.failure.to_string();

  rest::header_limits limits(rest::traits<P>::rate_limits());
  const intg::time_point now{};
  limits.observe("op", "major", res, now, wall);
  if (v.action == rest::action::rate_limited && v.failure.has_retry_after()) {
    if (limits.global(res, body)) limits.block_all(now + v.failure.retry_after());
    else limits.block("op", "major", now + v.failure.retry_after());
  }
  if (auto until = limits.blocked_until("op", "major", now)) check(*until <= now + year);
  check(!limits.blocked_until("op", "major", now + year + std::chrono::seconds(1)));
  (void)limits.invalid_refused_until(now);
}

template <class Strategy>
void next_page(const http::url& url, const http::response& res, const boost::json::value& body) {
  const auto* items = Strategy::items.empty() ? &body : rest::detail::at(body, Strategy::items);
  const std::size_t n = items && items->is_array() ? items->get_array().size() : 0;
  auto next = Strategy::next(rest::page_view{url, res, body, n});
  if (next && !next->done && next->url.empty()) (void)rest::with_param(url, next->param, next->value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  boost::beast::http::response_parser<boost::beast::http::string_body> parser;
  parser.eager(true);
  parser.body_limit(64 * 1024);
  boost::system::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_header_done()) return 0;
  if (!parser.is_done()) parser.put_eof(ec);
  const http::response res = parser.release();

  boost::json::parse_options po;
  po.max_depth = 64;
  boost::system::error_code jec;
  const boost::json::value body = boost::json::parse(res.body(), jec, {}, po);
  const boost::json::value* b = jec ? nullptr : &body;
  const auto wall = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));

  classify_as<intg::stripe::provider>(res, b, wall);
  classify_as<intg::slack::provider>(res, b, wall);
  classify_as<intg::twilio::provider>(res, b, wall);
  classify_as<intg::discord::provider>(res, b, wall);
  classify_as<intg::lastfm::provider>(res, b, wall);
  classify_as<intg::apple_music::provider>(res, b, wall);

  {
    const auto v = intg::gcs::provider::classify_answer(res, wall);
    const int status = static_cast<int>(res.result_int());
    if (v.action == rest::action::accept) check((status >= 200 && status < 300) || status == 308);
    else check(static_cast<bool>(v.failure));
    if (v.failure.has_retry_after()) check(v.failure.retry_after() >= std::chrono::milliseconds(0) && v.failure.retry_after() <= year);
    (void)v.failure.to_string();
    if (auto o = intg::gcs::parse_object(res.body())) check(!o->info.key.empty());
    if (auto page = intg::gcs::parse_list(res.body()))
      for (const auto& o : page->objects) check(!o.key.empty());
    (void)intg::gcs::parse_error(res.body());
    for (const auto& f : res)
      if (f.name_string() == "x-goog-hash") (void)intg::gcs::md5_of_hash_header(f.value());
  }

  const auto url = http::url::parse("https://api.example.com/v1/items?page=2&offset=40&limit=20&cursor=abc").value();
  const boost::json::value& doc = b ? body : boost::json::value();
  next_page<rest::cursor_body<"/response_metadata/next_cursor", "cursor">>(url, res, doc);
  next_page<rest::cursor_header<"X-Next-Cursor", "after">>(url, res, doc);
  next_page<rest::link_header<>>(url, res, doc);
  next_page<rest::next_url_body<"/next", "/items">>(url, res, doc);
  next_page<rest::offset_limit<"offset", "limit", "/data", "/total">>(url, res, doc);
  next_page<rest::page_number<"page", 1, "/toptracks/track", "/toptracks/@attr/totalPages">>(url, res, doc);
  next_page<rest::after_last_id<"data", "has_more", "starting_after", "id">>(url, res, doc);
  return 0;
}
