// The HTTP client against real local servers (plain, TLS with a test CA, raw sockets that misbehave,
// a CONNECT proxy), and the health server's endpoints.
#define BOOST_TEST_MODULE intg_http
#include <boost/test/unit_test.hpp>

#include "test_util.hpp"
#include "tls_fixture.hpp"

#include <intg/observability/health_server.hpp>
#include <intg/http/client.hpp>
#include <intg/http/server.hpp>
#include <intg/websocket.hpp>

#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/parse.hpp>

#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include <sys/resource.h>
#include <unistd.h>

namespace asio = boost::asio;
namespace bh = boost::beast::http;
using namespace std::chrono_literals;
using intg::errc;
using tcp = asio::ip::tcp;

namespace {

std::string local(std::uint16_t port, std::string_view path = "/") {
  return "http://127.0.0.1:" + std::to_string(port) + std::string(path);
}

// A server whose connections run `session` on raw sockets, to misbehave in ways Beast never would.
class raw_server {
 public:
  using session_fn = std::function<asio::awaitable<void>(tcp::socket)>;
  raw_server(asio::io_context& io, session_fn fn) : acceptor_(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), fn_(std::move(fn)) {
    asio::co_spawn(io, loop(), asio::detached);
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  int accepted = 0;
  void stop() { acceptor_.close(); }

 private:
  asio::awaitable<void> loop() {
    for (;;) {
      auto [ec, s] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      ++accepted;
      asio::co_spawn(acceptor_.get_executor(), fn_(std::move(s)), asio::detached);
    }
  }
  tcp::acceptor acceptor_;
  session_fn fn_;
};

// Reads one request header from a raw socket.
asio::awaitable<std::string> read_head(tcp::socket& s, asio::streambuf& buf) {
  auto [ec, n] = co_await asio::async_read_until(s, buf, "\r\n\r\n", asio::as_tuple(asio::use_awaitable));
  if (ec) co_return std::string{};
  std::string head(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(n));
  buf.consume(n);
  co_return head;
}

asio::awaitable<void> write_all(tcp::socket& s, std::string data) {
  co_await asio::async_write(s, asio::buffer(data), asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

// Waits until `done()` holds, for at most `limit`: false when it never did, so that a test fails at
// once with a message instead of hanging until ctest's timeout.
template <class Pred>
asio::awaitable<bool> eventually(Pred done, std::chrono::milliseconds limit = 10s) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) co_return false;
    co_await sleep_for(5ms);
  }
  co_return true;
}

// A plain Beast server with a handler, started on `io`.
struct served {
  served(asio::io_context& io, intg::http::server_handler h, intg::http::server_options o = {})
      : srv(io.get_executor(), std::move(h), std::move(o)) {
    auto r = srv.listen("127.0.0.1", 0);
    BOOST_REQUIRE(r);
    srv.start();
  }
  std::uint16_t port() const { return srv.port(); }
  intg::http::server srv;
};

intg::http::server_handler echo_handler(std::vector<intg::http::server_request>* seen = nullptr) {
  return [seen](intg::http::server_request& r) -> asio::awaitable<intg::http::server_response> {
    if (seen) seen->push_back(r);
    co_return intg::http::make_response(bh::status::ok, "echo " + std::string(r.target()), "text/plain");
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(urls)

BOOST_AUTO_TEST_CASE(absolute_urls_parse_into_host_port_and_target) {
  auto u = intg::http::url::parse("HTTPS://API.Spotify.com/v1/search?q=a%20b&type=track#frag");
  BOOST_REQUIRE(u);
  BOOST_TEST(u->tls());
  BOOST_TEST(u->host() == "api.spotify.com");
  BOOST_TEST(u->port() == 443);
  BOOST_TEST(u->target() == "/v1/search?q=a%20b&type=track");
  BOOST_TEST(u->host_header() == "api.spotify.com");
  auto v = intg::http::url::parse("http://[::1]:8080");
  BOOST_REQUIRE(v);
  BOOST_TEST(v->host() == "::1");
  BOOST_TEST(v->target() == "/");
  BOOST_TEST(v->host_header() == "[::1]:8080");
}

BOOST_AUTO_TEST_CASE(bad_urls_are_errors_that_say_why) {
  for (const char* bad : {"", "api.example.com/x", "ftp://x/", "http://", "http://user:pw@host/", "http://host:0/",
                          "http://host:65536/", "http://host:x/", "http://ho st/", "http://host/a b", "http://host/%zz",
                          "http://[::1/", "http://host/\x01", "http://-host..com/", "http://host:/",
                          "http://[::1]*8780/p", "http://[v1.x]/"}) {
    auto u = intg::http::url::parse(bad);
    BOOST_TEST(!u, bad);
    if (!u) {
      BOOST_TEST((u.error() == errc::invalid_argument));
      BOOST_TEST(u.error().message().starts_with("invalid URL: "));
    }
  }
  BOOST_TEST(!intg::http::url::parse(std::string(9000, 'a')));
}

BOOST_AUTO_TEST_CASE(queries_and_forms_are_percent_encoded_and_decoded) {
  intg::http::query q{{"q", "daft punk & co"}, {"type", "track,artist"}, {"é", "=/?"}};
  BOOST_TEST(q.str() == "q=daft%20punk%20%26%20co&type=track%2Cartist&%C3%A9=%3D%2F%3F");
  auto back = intg::http::query::parse(q.str());
  BOOST_REQUIRE(back);
  BOOST_TEST((*back)[0].second == "daft punk & co");
  BOOST_TEST((*back)[2].first == "é");
  BOOST_TEST(!intg::http::query::parse("a=%2"));
  BOOST_TEST(!intg::http::query::parse("a=%g0"));
  auto u = intg::http::url::parse("https://h/p?x=1");
  u->add_query(intg::http::query{{"y", "2 3"}});
  BOOST_TEST(u->target() == "/p?x=1&y=2%203");
}

BOOST_AUTO_TEST_CASE(plus_and_reserved_characters_are_percent_encoded) {
  // A '+' left as is reads as a space to a form-decoding server (and breaks request signatures).
  BOOST_TEST(intg::http::query({{"sum", "1+1"}}).str() == "sum=1%2B1");
  BOOST_TEST(intg::http::percent_encode("a b+c/~_.-") == "a%20b%2Bc%2F~_.-");
  BOOST_TEST(*intg::http::percent_decode("1%2B1+x", true) == "1+1 x");
  BOOST_TEST(*intg::http::percent_decode("1%2B1+x") == "1+1+x");
  auto back = intg::http::query::parse(intg::http::query({{"k+", "v +"}}).str());
  BOOST_REQUIRE(back);
  BOOST_TEST((*back)[0].first == "k+");
  BOOST_TEST((*back)[0].second == "v +");
}

BOOST_AUTO_TEST_CASE(references_resolve_as_rfc_3986_section_5_4_says) {
  // Every example of RFC 3986 sections 5.4.1 (normal) and 5.4.2 (abnormal, strict parser).
  const std::pair<const char*, const char*> table[] = {
      {"g:h", "g:h"}, {"g", "http://a/b/c/g"}, {"./g", "http://a/b/c/g"}, {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"}, {"//g", "http://g"}, {"?y", "http://a/b/c/d;p?y"}, {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q#s"}, {"g#s", "http://a/b/c/g#s"}, {"g?y#s", "http://a/b/c/g?y#s"},
      {";x", "http://a/b/c/;x"}, {"g;x", "http://a/b/c/g;x"}, {"g;x?y#s", "http://a/b/c/g;x?y#s"},
      {"", "http://a/b/c/d;p?q"}, {".", "http://a/b/c/"}, {"./", "http://a/b/c/"}, {"..", "http://a/b/"},
      {"../", "http://a/b/"}, {"../g", "http://a/b/g"}, {"../..", "http://a/"}, {"../../", "http://a/"},
      {"../../g", "http://a/g"},
      {"../../../g", "http://a/g"}, {"../../../../g", "http://a/g"}, {"/./g", "http://a/g"}, {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."}, {".g", "http://a/b/c/.g"}, {"g..", "http://a/b/c/g.."}, {"..g", "http://a/b/c/..g"},
      {"./../g", "http://a/b/g"}, {"./g/.", "http://a/b/c/g/"}, {"g/./h", "http://a/b/c/g/h"},
      {"g/../h", "http://a/b/c/h"}, {"g;x=1/./y", "http://a/b/c/g;x=1/y"}, {"g;x=1/../y", "http://a/b/c/y"},
      {"g?y/./x", "http://a/b/c/g?y/./x"}, {"g?y/../x", "http://a/b/c/g?y/../x"}, {"g#s/./x", "http://a/b/c/g#s/./x"},
      {"g#s/../x", "http://a/b/c/g#s/../x"}, {"http:g", "http:g"}};
  for (const auto& [ref, want] : table) {
    auto got = intg::http::resolve_reference("http://a/b/c/d;p?q", ref);
    BOOST_TEST_REQUIRE(got.has_value(), ref);
    BOOST_TEST(*got == want, "\"" << ref << "\" -> " << *got);
  }
  // For redirects the result must be an http(s) URL of its own; the fragment is dropped.
  auto base = intg::http::url::parse("https://api.example.com/v1/items/42?x=1");
  BOOST_REQUIRE(base);
  BOOST_TEST(base->resolve("7")->str() == "https://api.example.com/v1/items/7");
  BOOST_TEST(base->resolve("../../v2/items?y=2#top")->str() == "https://api.example.com/v2/items?y=2");
  BOOST_TEST(base->resolve("//cdn.example.com/a")->str() == "https://cdn.example.com/a");
  BOOST_TEST(!base->resolve("ftp://files.example.com/a"));
  BOOST_TEST(!base->resolve("http://u:p@h/"));
}

BOOST_AUTO_TEST_CASE(origins_compare_scheme_lower_cased_host_and_effective_port) {
  auto origin = [](const char* u) { return intg::http::url::parse(u)->origin(); };
  BOOST_TEST(origin("https://API.Example.com:443/a") == origin("https://api.example.com/b"));
  BOOST_TEST(origin("http://h:80/") == origin("http://h/"));
  BOOST_TEST(origin("https://h/") != origin("http://h/"));
  BOOST_TEST(origin("https://h/") != origin("https://h:8443/"));
  BOOST_TEST(origin("https://h/") != origin("https://h.evil.example/"));
}

BOOST_AUTO_TEST_CASE(retry_after_takes_seconds_or_an_http_date) {
  using intg::http::parse_retry_after;
  const auto now = std::chrono::sys_days{std::chrono::year{2026} / 11 / 25} + 10h;
  BOOST_TEST(parse_retry_after("7", now).count() == 7000);
  BOOST_TEST(parse_retry_after(" 0 ", now).count() == 0);
  BOOST_TEST(parse_retry_after("Wed, 25 Nov 2026 10:00:30 GMT", now).count() == 30000);
  BOOST_TEST(parse_retry_after("Wed, 25 Nov 2026 09:00:00 GMT", now).count() == 0);  // past: now
  for (const char* bad : {"", "-1", "1.5", "soon", "Wed, 25 Foo 2026 10:00:30 GMT", "Wed, 32 Nov 2026 10:00:30 GMT",
                          "99999999999", "Wed, 25 Nov 2026 10:00:30 PST",
                          // past the range of system_clock's nanoseconds (2262): refused, no overflow
                          "Wed, 25 Nov 2294 10:00:30 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"})
    BOOST_TEST(parse_retry_after(bad, now).count() < 0, bad);
}

BOOST_AUTO_TEST_CASE(statuses_map_to_errors_the_policies_understand) {
  intg::http::response r{bh::status::too_many_requests, 11};
  r.set(bh::field::retry_after, "3");
  auto e = intg::http::status_error(r);
  BOOST_TEST((e == errc::rate_limited));
  BOOST_TEST(e.http_status() == 429);
  BOOST_TEST(e.retry_after().count() == 3000);
  BOOST_TEST(intg::is_transient(e));
  BOOST_TEST(!intg::is_local_rejection(e));
  BOOST_TEST(intg::is_transient(intg::http::status_error(intg::http::response{bh::status::bad_gateway, 11})));
  BOOST_TEST(!intg::is_transient(intg::http::status_error(intg::http::response{bh::status::bad_request, 11})));
  BOOST_TEST((intg::http::status_error(intg::http::response{bh::status::not_found, 11}) == errc::not_found));
  BOOST_TEST((intg::http::status_error(intg::http::response{bh::status::unauthorized, 11}) == errc::unauthorized));
  BOOST_TEST(!intg::http::status_error(intg::http::response{bh::status::ok, 11}));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(client)

BOOST_AUTO_TEST_CASE(keep_alive_connections_are_reused) {
  asio::io_context io;
  std::vector<intg::http::server_request> seen;
  served s(io, echo_handler(&seen));
  const auto port = s.port();
  intg::http::client c(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 5; ++i) {
      auto r = co_await c.get(local(s.port(), "/n?i=" + std::to_string(i)));
      BOOST_REQUIRE(r);
      BOOST_TEST(r->body() == "echo /n?i=" + std::to_string(i));
    }
    co_await s.srv.shutdown(1s);
  };
  test::run(io, body());
  BOOST_TEST(c.stats().connections_opened == 1u);
  BOOST_TEST(c.stats().reused == 4u);
  BOOST_REQUIRE(seen.size() == 5u);
  BOOST_TEST(seen[0][bh::field::host] == "127.0.0.1:" + std::to_string(port));
  BOOST_TEST(seen[0][bh::field::user_agent].starts_with("intg/"));
}

BOOST_AUTO_TEST_CASE(json_and_form_bodies_carry_their_content_type) {
  asio::io_context io;
  std::vector<intg::http::server_request> seen;
  served s(io, echo_handler(&seen));
  intg::http::client c(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    auto a = intg::http::request::make(bh::verb::post, local(s.port(), "/json"));
    a->json(boost::json::object{{"k", "v"}});
    BOOST_TEST((co_await c.send(*a)).has_value());
    auto b = intg::http::request::make(bh::verb::post, local(s.port(), "/form"));
    b->form({{"grant_type", "client_credentials"}, {"scope", "a b"}});
    BOOST_TEST((co_await c.send(*b)).has_value());
    co_await s.srv.shutdown(1s);
  };
  test::run(io, body());
  BOOST_REQUIRE(seen.size() == 2u);
  BOOST_TEST(seen[0][bh::field::content_type] == "application/json");
  BOOST_TEST(seen[0].body() == R"({"k":"v"})");
  BOOST_TEST(seen[1][bh::field::content_type] == "application/x-www-form-urlencoded");
  BOOST_TEST(seen[1].body() == "grant_type=client_credentials&scope=a%20b");
}

BOOST_AUTO_TEST_CASE(the_pool_never_opens_more_connections_than_allowed_per_host) {
  asio::io_context io;
  int active = 0, most = 0;
  served s(io, [&](intg::http::server_request&) -> asio::awaitable<intg::http::server_response> {
    most = std::max(most, ++active);
    co_await sleep_for(20ms);
    --active;
    co_return intg::http::make_response(bh::status::ok, "ok", "text/plain");
  });
  intg::http::client_options o;
  o.max_connections_per_host = 2;
  intg::http::client c(io.get_executor(), o);
  int ok = 0, done = 0;
  auto one = [&]() -> asio::awaitable<void> {
    auto r = co_await c.get(local(s.port()));
    ok += r && r->result_int() == 200;
    ++done;
  };
  auto body = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 8; ++i) asio::co_spawn(io, one(), asio::detached);
    BOOST_TEST((co_await eventually([&] { return done == 8; })), "all eight requests complete");
    co_await s.srv.shutdown(1s);
  };
  test::run(io, body());
  BOOST_TEST(ok == 8);
  BOOST_TEST(most == 2);
  BOOST_TEST(c.stats().connections_opened == 2u);
}

BOOST_AUTO_TEST_CASE(a_request_timeout_really_cancels_and_closes_the_connection) {
  asio::io_context io;
  bool server_saw_close = false;
  raw_server slow(io, [&](tcp::socket s) -> asio::awaitable<void> {
    asio::streambuf buf;
    co_await read_head(s, buf);
    char byte;
    auto [ec, n] = co_await s.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(asio::use_awaitable));  // never answers
    server_saw_close = ec == asio::error::eof || ec == asio::error::connection_reset;
  });
  intg::http::client_options o;
  o.request_timeout = 100ms;
  intg::http::client c(io.get_executor(), o);
  auto body = [&]() -> asio::awaitable<void> {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = co_await c.get(local(slow.port()));
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_REQUIRE(!r);
    BOOST_TEST((r.error() == errc::timeout));
    BOOST_TEST(intg::is_transient(r.error()));
    BOOST_TEST(took < 2s);
    co_await sleep_for(50ms);
    slow.stop();
  };
  test::run(io, body());
  BOOST_TEST(server_saw_close);
  BOOST_TEST(c.stats().open == 0u);
}

BOOST_AUTO_TEST_CASE(a_pipeline_timeout_cancels_the_request_through_the_attempt) {
  asio::io_context io;
  bool server_saw_close = false;
  raw_server slow(io, [&](tcp::socket s) -> asio::awaitable<void> {
    asio::streambuf buf;
    co_await read_head(s, buf);
    char byte;
    auto [ec, n] = co_await s.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(asio::use_awaitable));
    server_saw_close = static_cast<bool>(ec);
  });
  intg::http::client c(io.get_executor());
  intg::pipeline<intg::timeout<>> p(intg::timeout<>::options{50ms});
  auto body = [&]() -> asio::awaitable<void> {
    auto req = intg::http::request::make(bh::verb::get, local(slow.port()));
    auto r = co_await p.execute([&](intg::attempt& a) { return c.send(*req, a); });
    BOOST_REQUIRE(!r);
    BOOST_TEST((r.error() == errc::timeout));
    co_await sleep_for(50ms);
    slow.stop();
  };
  test::run(io, body());
  BOOST_TEST(server_saw_close);
}

BOOST_AUTO_TEST_CASE(oversized_bodies_and_headers_are_errors_not_memory) {
  asio::io_context io;
  served s(io, [](intg::http::server_request& r) -> asio::awaitable<intg::http::server_response> {
    auto res = intg::http::make_response(bh::status::ok, std::string(r.target() == "/big" ? 100'000 : 10, 'x'), "text/plain");
    if (r.target() == "/fat-header") res.set("X-Filler", std::string(20'000, 'h'));
    co_return res;
  });
  intg::http::client_options o;
  o.max_response_body = 50'000;
  o.max_response_header = 8'192;
  intg::http::client c(io.get_executor(), o);
  auto body = [&]() -> asio::awaitable<void> {
    auto big = co_await c.get(local(s.port(), "/big"));
    BOOST_REQUIRE(!big);
    BOOST_TEST((big.error() == errc::invalid_response));
    BOOST_TEST(big.error().message().find("exceeds the limit of 50000 bytes") != std::string_view::npos);
    auto fat = co_await c.get(local(s.port(), "/fat-header"));
    BOOST_REQUIRE(!fat);
    BOOST_TEST((fat.error() == errc::invalid_response));
    auto fine = co_await c.get(local(s.port(), "/small"));
    BOOST_TEST(fine.has_value());
    co_await s.srv.shutdown(1s);
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_CASE(truncated_bodies_resets_and_garbage_are_clear_errors) {
  asio::io_context io;
  raw_server bad(io, [](tcp::socket s) -> asio::awaitable<void> {
    asio::streambuf buf;
    const std::string head = co_await read_head(s, buf);
    if (head.starts_with("GET /truncated")) {
      co_await write_all(s, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..");
    } else if (head.starts_with("GET /reset")) {
      s.set_option(asio::socket_base::linger(true, 0));  // close sends RST
    } else if (head.starts_with("GET /garbage")) {
      co_await write_all(s, "SMTP ready\r\n\r\n");
    } else if (head.starts_with("GET /chunked")) {
      co_await write_all(s, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    }
    s.close();
  });
  intg::http::client c(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    auto t = co_await c.get(local(bad.port(), "/truncated"));
    BOOST_REQUIRE(!t);
    BOOST_TEST((t.error() == errc::unavailable));
    BOOST_TEST(intg::is_transient(t.error()));
    auto r = co_await c.get(local(bad.port(), "/reset"));
    BOOST_REQUIRE(!r);
    BOOST_TEST(intg::is_transient(r.error()), r.error());
    auto g = co_await c.get(local(bad.port(), "/garbage"));
    BOOST_REQUIRE(!g);
    BOOST_TEST((g.error() == errc::invalid_response));
    auto ch = co_await c.get(local(bad.port(), "/chunked"));
    BOOST_REQUIRE(ch);
    BOOST_TEST(ch->body() == "hello world");
    auto refused = co_await c.get("http://127.0.0.1:1/");
    BOOST_REQUIRE(!refused);
    BOOST_TEST(refused.error() == asio::error::connection_refused);
    BOOST_TEST(intg::is_transient(refused.error()));
    bad.stop();
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_CASE(a_keep_alive_connection_the_server_closed_is_replaced_transparently) {
  asio::io_context io;
  raw_server once(io, [](tcp::socket s) -> asio::awaitable<void> {
    asio::streambuf buf;
    co_await read_head(s, buf);
    co_await write_all(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    s.close();  // keep-alive was promised, but the server closes anyway (as idle timeouts do)
  });
  intg::http::client c(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_TEST((co_await c.get(local(once.port()))).has_value());
    co_await sleep_for(20ms);  // let the close arrive
    auto second = co_await c.get(local(once.port()));
    BOOST_TEST(second.has_value());
    once.stop();
  };
  test::run(io, body());
  BOOST_TEST(c.stats().stale_retries == 1u);
  BOOST_TEST(once.accepted == 2);
}

// A keep-alive server that answers GETs, and drops the first request of every other method after
// reading it (the outcome a client cannot know); later ones are answered. Counts what it received.
struct dropping_server {
  explicit dropping_server(asio::io_context& io)
      : raw(io, [this](tcp::socket s) -> asio::awaitable<void> {
          asio::streambuf buf;
          for (;;) {
            const std::string head = co_await read_head(s, buf);
            if (head.empty()) co_return;
            const std::string method = head.substr(0, head.find(' '));
            const int n = ++received[method];
            if (method != "GET" && n == 1) {
              s.close();  // read the request, never answer it
              co_return;
            }
            co_await write_all(s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
          }
        }) {}
  std::uint16_t port() const { return raw.port(); }
  std::map<std::string, int> received;
  raw_server raw;
};

BOOST_AUTO_TEST_CASE(a_non_idempotent_request_is_never_resent_on_a_reused_connection) {
  asio::io_context io;
  dropping_server srv(io);
  intg::http::client c(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_REQUIRE((co_await c.get(local(srv.port()))).has_value());  // a keep-alive connection to reuse
    auto post = intg::http::request::make(bh::verb::post, local(srv.port(), "/v1/charges"));
    post->body("amount=100", "application/x-www-form-urlencoded");
    auto r = co_await c.send(*post);
    BOOST_REQUIRE(!r);
    BOOST_TEST((r.error() == errc::outcome_unknown), r.error().to_string());
    BOOST_TEST(!intg::is_transient(r.error()));
    BOOST_TEST(r.error().message().find("POST") != std::string_view::npos);
    BOOST_TEST(r.error().message().find("amount") == std::string_view::npos);  // no request content in errors
    // The same request with an idempotency key, under any header name, may be resent.
    BOOST_REQUIRE((co_await c.get(local(srv.port()))).has_value());
    auto keyed = intg::http::request::make(bh::verb::patch, local(srv.port(), "/v1/orders/1"));
    keyed->idempotency_key("key-1", "PayPal-Request-Id");
    auto k = co_await c.send(*keyed);
    BOOST_TEST(k.has_value(), (k ? "" : k.error().to_string()));
    // PUT is idempotent: resent.
    BOOST_REQUIRE((co_await c.get(local(srv.port()))).has_value());
    auto put = intg::http::request::make(bh::verb::put, local(srv.port(), "/v1/items/1"));
    auto p = co_await c.send(*put);
    BOOST_TEST(p.has_value(), (p ? "" : p.error().to_string()));
    c.close_idle();  // the server's sessions end when the client's connections close
    srv.raw.stop();
  };
  test::run(io, body());
  BOOST_TEST(srv.received["POST"] == 1);  // the charge went out once
  BOOST_TEST(srv.received["PATCH"] == 2);
  BOOST_TEST(srv.received["PUT"] == 2);
}

BOOST_AUTO_TEST_CASE(a_read_timeout_after_a_post_is_an_unknown_outcome_that_no_retry_resends) {
  asio::io_context io;
  std::map<std::string, int> received;
  raw_server silent(io, [&](tcp::socket s) -> asio::awaitable<void> {
    asio::streambuf buf;
    const std::string head = co_await read_head(s, buf);
    ++received[head.substr(0, head.find(' '))];
    char byte;
    co_await s.async_read_some(asio::buffer(&byte, 1), asio::as_tuple(asio::use_awaitable));  // never answers
  });
  intg::http::client_options o;
  o.request_timeout = 100ms;
  intg::http::client c(io.get_executor(), o);
  intg::retry<>::options ro;
  ro.max_attempts = 3;
  ro.base_delay = 1ms;
  // Twice: the client's own request timeout, then a pipeline timeout cancelling through the attempt.
  intg::pipeline<intg::retry<>> by_client(ro);
  intg::pipeline<intg::retry<>, intg::timeout<>> by_pipeline(ro, intg::timeout<>::options{50ms});
  auto body = [&]() -> asio::awaitable<void> {
    auto post = intg::http::request::make(bh::verb::post, local(silent.port(), "/v1/payment_intents"));
    post->body("{}", "application/json");
    auto r = co_await by_client.execute([&](intg::attempt& a) { return c.send(*post, a); });
    BOOST_REQUIRE(!r);
    BOOST_TEST((r.error() == errc::outcome_unknown), r.error().to_string());
    BOOST_TEST(r.error().message().find("timed out") != std::string_view::npos, r.error().to_string());
    auto again = co_await by_pipeline.execute([&](intg::attempt& a) { return c.send(*post, a); });
    BOOST_REQUIRE(!again);
    BOOST_TEST((again.error() == errc::outcome_unknown), again.error().to_string());
    // A GET that times out is an ordinary, retryable timeout.
    auto get = intg::http::request::make(bh::verb::get, local(silent.port(), "/v1/payment_intents"));
    auto g = co_await by_client.execute([&](intg::attempt& a) { return c.send(*get, a); });
    BOOST_REQUIRE(!g);
    BOOST_TEST((g.error() == errc::timeout));
    silent.stop();
  };
  test::run(io, body());
  BOOST_TEST(received["POST"] == 2);  // once per call: neither the client nor the retry policy resent it
  BOOST_TEST(received["GET"] == 3);   // retried up to max_attempts
}

BOOST_AUTO_TEST_CASE(a_429_with_retry_after_is_honoured_by_the_retry_policy) {
  asio::io_context io;
  int calls = 0;
  served s(io, [&](intg::http::server_request&) -> asio::awaitable<intg::http::server_response> {
    if (++calls == 1) {
      auto res = intg::http::json_error(bh::status::too_many_requests, "slow down");
      res.set(bh::field::retry_after, "1");
      co_return res;
    }
    co_return intg::http::make_response(bh::status::ok, "{}");
  });
  intg::http::client c(io.get_executor());
  intg::retry<>::options ro;
  ro.max_attempts = 3;
  ro.base_delay = 1ms;
  intg::pipeline<intg::retry<>> p(ro);
  auto body = [&]() -> asio::awaitable<void> {
    auto req = intg::http::request::make(bh::verb::get, local(s.port()));
    const auto t0 = std::chrono::steady_clock::now();
    auto r = co_await p.execute([&](intg::attempt& a) -> asio::awaitable<intg::result<intg::http::response>> {
      auto res = co_await c.send(*req, a);
      if (!res) co_return res.error();
      if (auto e = intg::http::status_error(*res)) co_return e;
      co_return res;
    });
    const auto took = std::chrono::steady_clock::now() - t0;
    BOOST_TEST(r.has_value());
    BOOST_TEST(took >= 900ms);  // the server asked for a second; the backoff alone would be 1 ms
    co_await s.srv.shutdown(1s);
  };
  test::run(io, body());
  BOOST_TEST(calls == 2);
}

BOOST_AUTO_TEST_CASE(the_tracing_policy_propagates_a_w3c_traceparent) {
  asio::io_context io;
  std::vector<intg::http::server_request> seen;
  served s(io, echo_handler(&seen));
  intg::http::client c(io.get_executor());
  struct keep_last : intg::span_observer {
    intg::trace_context last{};
    void on_span_end(const intg::span_record& r) noexcept override {
      last = r.context;
    }
  };
  auto spans = std::make_shared<keep_last>();
  intg::tracing<>::options to;
  to.observer = spans;
  intg::pipeline<intg::tracing<>> p(to);
  auto body = [&]() -> asio::awaitable<void> {
    auto req = intg::http::request::make(bh::verb::get, local(s.port()));
    auto r = co_await p.execute([&](intg::attempt& a) { return c.send(*req, a); });
    BOOST_TEST(r.has_value());
    co_await s.srv.shutdown(1s);
  };
  test::run(io, body());
  BOOST_REQUIRE(seen.size() == 1u);
  const auto tp = intg::trace_context::parse_traceparent(seen[0]["traceparent"]);
  BOOST_REQUIRE(tp.has_value());
  BOOST_TEST(tp->trace_id == spans->last.trace_id);
}

BOOST_AUTO_TEST_CASE(redirects_are_returned_by_default_and_followed_when_enabled) {
  asio::io_context io;
  std::vector<intg::http::server_request> seen;
  served target(io, echo_handler(&seen));
  served s(io, [&](intg::http::server_request& r) -> asio::awaitable<intg::http::server_response> {
    auto res = intg::http::make_response(bh::status::found, "");
    if (r.target() == "/here") res.set(bh::field::location, "/there");
    if (r.target() == "/away") res.set(bh::field::location, local(target.port(), "/landed"));
    if (r.target() == "/loop") res.set(bh::field::location, "/loop");
    if (r.target() == "/there") res = intg::http::make_response(bh::status::ok, "arrived", "text/plain");
    co_return res;
  });
  intg::http::client plain(io.get_executor());
  intg::http::client_options o;
  o.max_redirects = 3;
  intg::http::client following(io.get_executor(), o);
  auto body = [&]() -> asio::awaitable<void> {
    auto r = co_await plain.get(local(s.port(), "/here"));
    BOOST_REQUIRE(r);
    BOOST_TEST(r->result_int() == 302u);
    auto f = co_await following.get(local(s.port(), "/here"));
    BOOST_REQUIRE(f);
    BOOST_TEST(f->body() == "arrived");
    auto req = intg::http::request::make(bh::verb::get, local(s.port(), "/away"));
    req->bearer(intg::secret("top-secret-token"));
    auto away = co_await following.send(*req);
    BOOST_REQUIRE(away);
    BOOST_TEST(away->body() == "echo /landed");
    auto loop = co_await following.get(local(s.port(), "/loop"));
    BOOST_REQUIRE(!loop);
    BOOST_TEST((loop.error() == errc::invalid_response));
    co_await s.srv.shutdown(1s);
    co_await target.srv.shutdown(1s);
  };
  test::run(io, body());
  BOOST_REQUIRE(seen.size() == 1u);
  BOOST_TEST((seen[0].find(bh::field::authorization) == seen[0].end()));  // credentials stay with their origin
}

BOOST_AUTO_TEST_CASE(a_cross_origin_redirect_carries_no_credential_of_any_name) {
  asio::io_context io;
  std::vector<intg::http::server_request> seen;
  served other(io, echo_handler(&seen));  // another port on the same host: another origin
  served s(io, [&](intg::http::server_request& r) -> asio::awaitable<intg::http::server_response> {
    if (r.target() == "/same") {
      auto res = intg::http::make_response(bh::status::found, "");
      res.set(bh::field::location, "landed-here");  // relative reference
      co_return res;
    }
    if (r.target() == "/landed-here") {
      seen.push_back(r);
      co_return intg::http::make_response(bh::status::ok, "same origin", "text/plain");
    }
    auto res = intg::http::make_response(r.target() == "/temporary" ? bh::status::temporary_redirect : bh::status::see_other, "");
    res.set(bh::field::location, local(other.port(), "/landed"));
    co_return res;
  });
  intg::http::client_options o;
  o.max_redirects = 3;
  intg::http::client c(io.get_executor(), o);
  auto with_credentials = [&](bh::verb v, std::string_view path) {
    auto req = intg::http::request::make(v, local(s.port(), path));
    req->bearer(intg::secret("bearer-secret"));
    req->set(bh::field::cookie, "session=secret");
    req->set(bh::field::proxy_authorization, "Basic c2VjcmV0");
    req->set("X-Api-Key", "key-secret");
    req->set("Stripe-Account", "acct_secret");
    req->set(bh::field::accept, "application/json");
    req->set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    return std::move(*req);
  };
  auto body = [&]() -> asio::awaitable<void> {
    auto same = with_credentials(bh::verb::get, "/same");
    auto r1 = co_await c.send(same);
    BOOST_REQUIRE(r1);
    BOOST_TEST(r1->body() == "same origin");
    auto away = with_credentials(bh::verb::get, "/away");
    auto r2 = co_await c.send(away);
    BOOST_REQUIRE(r2);
    BOOST_TEST(r2->body() == "echo /landed");
    // A POST answered with 303 becomes a bodiless GET elsewhere; a 307 would resend the body: refused.
    auto post = with_credentials(bh::verb::post, "/see-other");
    post.body("client_secret=s3cr3t", "application/x-www-form-urlencoded");
    auto r3 = co_await c.send(post);
    BOOST_REQUIRE(r3);
    auto temp = with_credentials(bh::verb::post, "/temporary");
    temp.body("client_secret=s3cr3t", "application/x-www-form-urlencoded");
    auto r4 = co_await c.send(temp);
    BOOST_REQUIRE(!r4);
    BOOST_TEST((r4.error() == errc::invalid_response));
    BOOST_TEST(r4.error().message().find("another origin") != std::string_view::npos, r4.error().to_string());
    co_await s.srv.shutdown(1s);
    co_await other.srv.shutdown(1s);
  };
  test::run(io, body());
  BOOST_REQUIRE(seen.size() == 3u);
  BOOST_TEST(seen[0]["X-Api-Key"] == "key-secret");  // same origin: everything goes along
  BOOST_TEST(seen[0][bh::field::authorization] == "Bearer bearer-secret");
  for (std::size_t i = 1; i < 3; ++i) {
    const auto& r = seen[i];
    for (std::string_view h : {"Authorization", "Cookie", "Proxy-Authorization", "X-Api-Key", "Stripe-Account"})
      BOOST_TEST((r.find(h) == r.end()), h << " crossed origins");
    BOOST_TEST(r[bh::field::accept] == "application/json");
    BOOST_TEST(!r["traceparent"].empty());
  }
  BOOST_TEST((seen[2].method() == bh::verb::get));
  BOOST_TEST(seen[2].body().empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(tls)

struct tls_server {
  tls_server(asio::io_context& io, const test::pem_pair& p) {
    intg::http::server_options o;
    auto ctx = intg::http::make_server_tls_context(p.cert, p.key);
    BOOST_REQUIRE(ctx);
    o.tls = *ctx;
    srv.emplace(io.get_executor(), echo_handler(), o);
    BOOST_REQUIRE(srv->listen("127.0.0.1", 0));
    srv->start();
  }
  std::string url(std::string host = "localhost") const { return "https://" + host + ":" + std::to_string(srv->port()) + "/secure"; }
  std::optional<intg::http::server> srv;
};

BOOST_AUTO_TEST_CASE(https_verifies_the_peer_against_the_given_ca) {
  asio::io_context io;
  test::test_pki pki;
  tls_server s(io, pki.leaf("localhost", "DNS:localhost,IP:127.0.0.1"));
  intg::http::client_options o;
  o.tls.ca_pem = pki.ca_pem();
  intg::http::client c(io.get_executor(), o);
  auto body = [&]() -> asio::awaitable<void> {
    for (auto host : {"localhost", "127.0.0.1"}) {
      auto r = co_await c.get(s.url(host));
      BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
      BOOST_TEST(r->body() == "echo /secure");
    }
    auto again = co_await c.get(s.url());
    BOOST_TEST(again.has_value());
    co_await s.srv->shutdown(1s);
  };
  test::run(io, body());
  BOOST_TEST(c.stats().reused >= 1u);
}

BOOST_AUTO_TEST_CASE(a_redirect_from_https_to_http_is_refused) {
  asio::io_context io;
  test::test_pki pki;
  std::vector<intg::http::server_request> seen;
  served plain(io, echo_handler(&seen));
  const auto pem = pki.leaf("localhost", "DNS:localhost,IP:127.0.0.1");
  intg::http::server_options so;
  auto ctx = intg::http::make_server_tls_context(pem.cert, pem.key);
  BOOST_REQUIRE(ctx);
  so.tls = *ctx;
  intg::http::server secure(io.get_executor(), [&](intg::http::server_request&) -> asio::awaitable<intg::http::server_response> {
    auto res = intg::http::make_response(bh::status::moved_permanently, "");
    res.set(bh::field::location, local(plain.port(), "/downgraded"));
    co_return res;
  }, so);
  BOOST_REQUIRE(secure.listen("127.0.0.1", 0));
  secure.start();
  intg::http::client_options o;
  o.tls.ca_pem = pki.ca_pem();
  o.max_redirects = 3;
  intg::http::client c(io.get_executor(), o);
  auto body = [&]() -> asio::awaitable<void> {
    auto r = co_await c.get("https://localhost:" + std::to_string(secure.port()) + "/start");
    BOOST_REQUIRE(!r);
    BOOST_TEST((r.error() == errc::invalid_response));
    BOOST_TEST(r.error().message().find("https to http") != std::string_view::npos, r.error().to_string());
    co_await secure.shutdown(1s);
    co_await plain.srv.shutdown(1s);
  };
  test::run(io, body());
  BOOST_TEST(seen.empty());
}

BOOST_AUTO_TEST_CASE(certificate_failures_are_errors_that_say_why) {
  asio::io_context io;
  test::test_pki pki;
  struct bad_case {
    test::pem_pair pem;
    std::string expect;
  };
  std::vector<bad_case> cases{
      {pki.leaf("elsewhere", "DNS:elsewhere.example"), "mismatch"},
      {test::test_pki::self_signed("localhost", "DNS:localhost"), "self-signed"},
      {pki.leaf("localhost", "DNS:localhost", -7200, -3600), "expired"},
  };
  for (auto& bc : cases) {
    tls_server s(io, bc.pem);
    intg::http::client_options o;
    o.tls.ca_pem = pki.ca_pem();
    intg::http::client c(io.get_executor(), o);
    auto body = [&]() -> asio::awaitable<void> {
      auto r = co_await c.get(s.url());
      BOOST_REQUIRE(!r);
      BOOST_TEST(r.error().message().find("certificate rejected") != std::string_view::npos, r.error());
      BOOST_TEST(r.error().message().find(bc.expect) != std::string_view::npos, r.error());
      co_await s.srv->shutdown(1s);
    };
    test::run(io, body());
  }
  // The system store does not know the test CA either.
  tls_server s(io, pki.leaf("localhost", "DNS:localhost"));
  intg::http::client system_store(io.get_executor());
  intg::http::client_options insecure;
  insecure.tls.insecure_skip_verify = true;
  intg::http::client reckless(io.get_executor(), insecure);
  auto body = [&]() -> asio::awaitable<void> {
    auto r = co_await system_store.get(s.url());
    BOOST_TEST(!r);
    auto ok = co_await reckless.get(s.url());  // the loudly named opt-out does what it says
    BOOST_TEST(ok.has_value());
    co_await s.srv->shutdown(1s);
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_CASE(https_goes_through_a_connect_proxy_and_http_in_absolute_form) {
  asio::io_context io;
  test::test_pki pki;
  tls_server s(io, pki.leaf("localhost", "DNS:localhost,IP:127.0.0.1"));
  const auto port = s.srv->port();
  std::vector<std::string> proxy_saw;
  raw_server proxy(io, [&](tcp::socket down) -> asio::awaitable<void> {
    asio::streambuf buf;
    const std::string head = co_await read_head(down, buf);
    proxy_saw.push_back(head.substr(0, head.find("\r\n")));
    if (!head.starts_with("CONNECT ")) {
      co_await write_all(down, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nvia proxy");
      co_return;
    }
    const std::string hostport = head.substr(8, head.find(' ', 8) - 8);
    tcp::socket up(down.get_executor());
    auto [ec] = co_await up.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                                                         static_cast<std::uint16_t>(std::stoi(hostport.substr(hostport.rfind(':') + 1)))),
                                          asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    co_await write_all(down, "HTTP/1.1 200 Connection established\r\n\r\n");
    auto pipe = [](tcp::socket& from, tcp::socket& to) -> asio::awaitable<void> {
      char data[4096];
      for (;;) {
        auto [rec, n] = co_await from.async_read_some(asio::buffer(data), asio::as_tuple(asio::use_awaitable));
        if (rec) break;
        auto [wec, m] = co_await asio::async_write(to, asio::buffer(data, n), asio::as_tuple(asio::use_awaitable));
        if (wec) break;
      }
      boost::system::error_code ignored;
      to.shutdown(tcp::socket::shutdown_send, ignored);
    };
    asio::co_spawn(down.get_executor(), pipe(up, down), asio::detached);
    co_await pipe(down, up);
    co_await sleep_for(50ms);
  });
  intg::http::client_options o;
  o.tls.ca_pem = pki.ca_pem();
  o.proxy.https = *intg::http::url::parse(local(proxy.port()));
  o.proxy.http = *intg::http::url::parse(local(proxy.port()));
  intg::http::client c(io.get_executor(), o);
  auto body = [&]() -> asio::awaitable<void> {
    auto r = co_await c.get(s.url());
    BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
    BOOST_TEST(r->body() == "echo /secure");
    auto h = co_await c.get("http://example.invalid/plain?x=1");
    BOOST_REQUIRE(h);
    BOOST_TEST(h->body() == "via proxy");
    c.close_idle();  // ends the tunnel
    proxy.stop();
    co_await s.srv->shutdown(1s);
  };
  test::run(io, body());
  BOOST_REQUIRE(proxy_saw.size() == 2u);
  BOOST_TEST(proxy_saw[0] == "CONNECT localhost:" + std::to_string(port) + " HTTP/1.1");
  BOOST_TEST(proxy_saw[1] == "GET http://example.invalid/plain?x=1 HTTP/1.1");
}

BOOST_AUTO_TEST_CASE(proxy_settings_come_from_the_environment) {
  setenv("https_proxy", "proxy.internal:3128", 1);
  setenv("no_proxy", "localhost, .corp.example ,10.0.0.1", 1);
  auto p = intg::http::proxy_settings::from_environment();
  unsetenv("https_proxy");
  unsetenv("no_proxy");
  BOOST_REQUIRE(p);
  BOOST_REQUIRE(p->https.has_value());
  BOOST_TEST(p->https->host() == "proxy.internal");
  BOOST_TEST(p->https->port() == 3128);
  BOOST_TEST(p->for_target(*intg::http::url::parse("https://api.spotify.com/")) != nullptr);
  BOOST_TEST(p->for_target(*intg::http::url::parse("https://LOCALHOST/")) == nullptr);
  BOOST_TEST(p->for_target(*intg::http::url::parse("https://a.corp.example/")) == nullptr);
  BOOST_TEST(p->for_target(*intg::http::url::parse("https://corp.example/")) == nullptr);
  BOOST_TEST(p->for_target(*intg::http::url::parse("https://notcorp.example/")) != nullptr);
  BOOST_TEST(p->for_target(*intg::http::url::parse("http://api.spotify.com/")) == nullptr);  // no http_proxy
  setenv("https_proxy", "http://bad host", 1);
  auto bad = intg::http::proxy_settings::from_environment();
  unsetenv("https_proxy");
  BOOST_TEST(!bad);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(server)

namespace {

// Closes `s` after `limit` unless cancelled: every raw-socket wait in these tests has a deadline.
struct socket_deadline {
  socket_deadline(tcp::socket& s, std::chrono::milliseconds limit) : timer(s.get_executor(), limit) {
    timer.async_wait([&s](boost::system::error_code ec) {
      if (!ec) s.close();
    });
  }
  ~socket_deadline() { timer.cancel(); }
  asio::steady_timer timer;
};

asio::awaitable<tcp::socket> connect_to(std::uint16_t port) {
  tcp::socket s(co_await asio::this_coro::executor);
  co_await s.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), asio::use_awaitable);
  co_return s;
}

// Reads one response with a Content-Length body; empty when the connection failed first.
asio::awaitable<std::string> read_response(tcp::socket& s, asio::streambuf& buf, bool head = false) {
  std::string head_text = co_await read_head(s, buf);
  if (head_text.empty()) co_return std::string{};
  std::size_t length = 0;
  if (auto at = head_text.find("Content-Length: "); at != std::string::npos) length = std::stoul(head_text.substr(at + 16));
  if (head) co_return head_text;
  if (buf.size() < length) {
    auto [ec, n] = co_await asio::async_read(s, buf, asio::transfer_exactly(length - buf.size()), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return std::string{};
  }
  std::string body(asio::buffers_begin(buf.data()), asio::buffers_begin(buf.data()) + static_cast<std::ptrdiff_t>(length));
  buf.consume(length);
  co_return head_text + body;
}

// Waits for the peer to close `s` (or the deadline to close it): true when the peer did.
asio::awaitable<bool> closed_by_peer(tcp::socket& s) {
  char c;
  auto [ec, n] = co_await s.async_read_some(asio::buffer(&c, 1), asio::as_tuple(asio::use_awaitable));
  co_return ec == asio::error::eof || ec == asio::error::connection_reset;
}

}  // namespace

BOOST_AUTO_TEST_CASE(head_answers_carry_the_get_headers_and_no_body_so_keep_alive_holds) {
  asio::io_context io;
  served s(io, echo_handler());
  auto body = [&]() -> asio::awaitable<void> {
    auto sock = co_await connect_to(s.port());
    socket_deadline deadline(sock, 5s);
    asio::streambuf buf;
    co_await write_all(sock, "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n");
    const std::string head = co_await read_response(sock, buf, true);
    BOOST_TEST(head.starts_with("HTTP/1.1 200"), head);
    BOOST_TEST(head.find("Content-Length: 7\r\n") != std::string::npos, head);  // as GET's "echo /x"
    co_await write_all(sock, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
    const std::string get = co_await read_response(sock, buf);
    BOOST_TEST(get.starts_with("HTTP/1.1 200"), get);  // not the HEAD's stray body
    BOOST_TEST(get.ends_with("\r\n\r\necho /x"), get);
    co_await s.srv.shutdown(1s);
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_CASE(a_later_request_trickled_byte_by_byte_is_cut_after_read_timeout) {
  asio::io_context io;
  intg::http::server_options o;
  o.read_timeout = 300ms;
  o.idle_timeout = 10s;  // only the wait for a request's first byte
  served s(io, echo_handler(), o);
  auto body = [&]() -> asio::awaitable<void> {
    auto sock = co_await connect_to(s.port());
    socket_deadline deadline(sock, 5s);
    asio::streambuf buf;
    co_await write_all(sock, "GET /1 HTTP/1.1\r\nHost: a\r\n\r\n");
    BOOST_TEST((co_await read_response(sock, buf)).ends_with("echo /1"));
    co_await sleep_for(400ms);  // idling longer than read_timeout between requests is fine
    auto stop = std::make_shared<bool>(false);
    // Parameters, not captures: the lambda object dies with this frame, the coroutine may not.
    auto trickle = [](tcp::socket& sock, std::shared_ptr<bool> stop) -> asio::awaitable<void> {
      const std::string req = "GET /2 HTTP/1.1\r\nHost: a\r\nX-Slow: " + std::string(100, 'x');
      for (char c : req) {
        if (*stop) co_return;
        auto [ec, n] = co_await asio::async_write(sock, asio::buffer(&c, 1), asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        co_await sleep_for(50ms);
      }
    };
    const auto t0 = std::chrono::steady_clock::now();
    asio::co_spawn(io, trickle(sock, stop), asio::detached);
    const bool cut = co_await closed_by_peer(sock);
    const auto took = std::chrono::steady_clock::now() - t0;
    *stop = true;
    BOOST_TEST(cut);  // by the server, not by the test's deadline
    BOOST_TEST((took < 2s), std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
    BOOST_TEST((took >= 250ms));
    co_await s.srv.shutdown(1s);
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_CASE(out_of_file_descriptors_the_accept_loop_backs_off_and_keeps_serving) {
  asio::io_context io;
  served s(io, echo_handler());
  rlimit old{};
  BOOST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
  struct restore {
    rlimit r;
    ~restore() { ::setrlimit(RLIMIT_NOFILE, &r); }
  } restore_limit{old};
  auto body = [&]() -> asio::awaitable<void> {
    auto kept = co_await connect_to(s.port());  // a connection the server has before running out
    socket_deadline kept_deadline(kept, 10s);
    asio::streambuf kept_buf;
    co_await write_all(kept, "GET /before HTTP/1.1\r\nHost: a\r\n\r\n");
    BOOST_TEST((co_await read_response(kept, kept_buf)).ends_with("echo /before"));

    std::vector<tcp::socket> clients;
    for (int i = 0; i < 8; ++i) {
      clients.emplace_back(io);
      clients.back().open(tcp::v4());  // the descriptors exist before the limit drops
    }
    const int lowest_free = ::dup(0);
    BOOST_REQUIRE(lowest_free >= 0);
    ::close(lowest_free);
    rlimit tight = old;
    tight.rlim_cur = static_cast<rlim_t>(lowest_free);  // no new descriptor can be made
    BOOST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &tight) == 0);
    for (auto& c : clients)
      co_await c.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), s.port()), asio::use_awaitable);
    co_await sleep_for(300ms);  // a window for the accept loop to spin in, if it does
    const auto failed = s.srv.failed_accepts();
    co_await write_all(kept, "GET /during HTTP/1.1\r\nHost: a\r\n\r\n");
    BOOST_TEST((co_await read_response(kept, kept_buf)).ends_with("echo /during"));  // still served
    ::setrlimit(RLIMIT_NOFILE, &old);
    BOOST_TEST(failed >= 1u);  // the accepts did fail
    BOOST_TEST(failed <= 30u, failed << " failed accepts in 300 ms");  // a spinning loop makes thousands
    for (auto& c : clients) {  // with descriptors back, the waiting connections are served
      socket_deadline deadline(c, 5s);
      asio::streambuf buf;
      co_await write_all(c, "GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
      BOOST_TEST((co_await read_response(c, buf)).ends_with("echo /after"));
    }
    co_await s.srv.shutdown(1s);
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_CASE(a_silent_tls_client_counts_against_max_connections_and_cannot_delay_shutdown) {
  asio::io_context io;
  test::test_pki pki;
  const auto pair = pki.leaf("localhost", "DNS:localhost,IP:127.0.0.1");
  intg::http::server_options o;
  auto ctx = intg::http::make_server_tls_context(pair.cert, pair.key);
  BOOST_REQUIRE(ctx);
  o.tls = *ctx;
  o.max_connections = 1;
  o.read_timeout = 30s;  // the handshake would wait this long on its own
  auto srv = std::make_unique<intg::http::server>(io.get_executor(), echo_handler(), o);
  BOOST_REQUIRE(srv->listen("127.0.0.1", 0));
  srv->start();
  auto body = [&]() -> asio::awaitable<void> {
    auto silent = co_await connect_to(srv->port());  // TCP, then never a ClientHello
    socket_deadline silent_deadline(silent, 5s);
    BOOST_TEST(co_await eventually([&] { return srv->connections() == 1; }, 5s));
    auto extra = co_await connect_to(srv->port());
    socket_deadline extra_deadline(extra, 3s);
    BOOST_TEST(co_await closed_by_peer(extra));  // over max_connections: closed at once
    const auto t0 = std::chrono::steady_clock::now();
    co_await srv->shutdown(200ms);
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < 2s));
    BOOST_TEST(srv->connections() == 0u);  // shutdown returned: no handshake still refers to it
    srv.reset();
    BOOST_TEST(co_await closed_by_peer(silent));  // the handshake was ended, not left behind
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(health_endpoints)

namespace {

// An integration whose health the test sets; its calls go through a pipeline that reports to
// the registry's call recorder.
struct switchable {
  switchable(intg::integration_config c, intg::registry_services& s) : cfg(std::move(c)), pipe(make_pipe(s)) {}
  static intg::pipeline<intg::tracing<>, intg::circuit_breaker<>, intg::rate_limiter<>> make_pipe(intg::registry_services& s) {
    intg::tracing<>::options t;
    t.observer = s.calls;
    intg::circuit_breaker<>::options cb;
    cb.on_state_change = s.calls->breaker_listener();
    return intg::pipeline<intg::tracing<>, intg::circuit_breaker<>, intg::rate_limiter<>>(t, cb, {});
  }
  std::string_view name() const { return cfg.name; }
  asio::awaitable<intg::result<void>> initialize() { co_return intg::result<void>{}; }
  asio::awaitable<intg::health_report> health_check() {
    co_return intg::health_report{healthy ? intg::integration_status::healthy : intg::integration_status::unhealthy, {},
                                  healthy ? "ok" : "down", {}, {}};
  }
  asio::awaitable<void> cleanup() { co_return; }
  boost::json::object describe() const { return pipe.describe(); }
  asio::awaitable<intg::result<int>> call(bool ok) {
    co_return co_await pipe.execute([ok]() -> asio::awaitable<intg::result<int>> {
      if (ok) co_return 1;
      co_return intg::error(errc::unavailable);
    });
  }
  intg::integration_config cfg;
  intg::pipeline<intg::tracing<>, intg::circuit_breaker<>, intg::rate_limiter<>> pipe;
  bool healthy = true;
};

struct hub {
  explicit hub(asio::io_context& io, intg::health_server_options o = {}) : metrics(std::make_shared<intg::observability::metrics_registry>()),
        reg(io.get_executor(), make_opts(metrics)) {
    o.metrics = metrics;
    intg::integration_config a;
    a.name = "spotify";
    a.category = intg::categories::external_api;
    auto& s1 = reg.register_integration<switchable>(a, "acme");
    auto& s2 = reg.register_integration<switchable>(a, "globex");
    intg::integration_config b;
    b.name = "s3";
    b.category = intg::categories::cloud_service;
    auto& s3 = reg.register_integration<switchable>(b, "acme");
    parts = {&s1, &s2, &s3};
    server.emplace(io.get_executor(), reg, std::move(o));
    BOOST_REQUIRE(server->listen("127.0.0.1", 0));
    server->start();
  }
  static intg::registry_options make_opts(std::shared_ptr<intg::observability::metrics_registry> m) {
    intg::registry_options r;
    r.metrics = std::move(m);
    return r;
  }
  std::string url(std::string_view path) const { return local(server->port(), path); }
  std::shared_ptr<intg::observability::metrics_registry> metrics;
  intg::registry reg;
  std::vector<switchable*> parts;
  std::optional<intg::health_server> server;
};

boost::json::object json_of(const intg::http::response& r) { return boost::json::parse(r.body()).as_object(); }

}  // namespace

BOOST_AUTO_TEST_CASE(health_status_dashboard_and_openapi_reflect_the_registry) {
  asio::io_context io;
  hub h(io);
  intg::http::client c(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    co_await h.reg.enable_all();
    co_await h.reg.health_check_all();
    (void)co_await h.parts[0]->call(true);
    (void)co_await h.parts[0]->call(false);
    auto all = co_await c.get(h.url("/integrations/health"));
    BOOST_REQUIRE(all);
    BOOST_TEST(all->result_int() == 200u);
    BOOST_TEST(json_of(*all).at("status").as_string() == "healthy");
    BOOST_TEST(json_of(*all).at("total").as_int64() == 3);

    h.parts[2]->healthy = false;
    co_await h.reg.health_check_all();
    auto sick = co_await c.get(h.url("/integrations/health"));
    BOOST_TEST(sick->result_int() == 503u);
    BOOST_TEST(json_of(*sick).at("degraded").as_int64() == 1);

    auto ambiguous = co_await c.get(h.url("/integrations/health/spotify"));
    BOOST_TEST(ambiguous->result_int() == 400u);
    auto one = co_await c.get(h.url("/integrations/health/spotify?tenant=acme"));
    BOOST_TEST(one->result_int() == 200u);
    auto o = json_of(*one);
    BOOST_TEST(o.at("tenant").as_string() == "acme");
    BOOST_TEST(o.at("calls").at("total").as_int64() == 2);
    BOOST_TEST(o.at("calls").at("success_rate").as_double() == 0.5);
    // Plain numbers, not Boost.JSON's exponent form (5E-1); a whole double stays a double.
    BOOST_TEST(one->body().find(R"("success_rate":0.5,)") != std::string::npos, one->body());
    BOOST_TEST(intg::detail::to_plain_json(boost::json::object{{"a", 12.0}, {"b", 0.845}, {"c", 1}}) ==
               R"({"a":12.0,"b":0.845,"c":1})");
    BOOST_TEST(o.at("policies").at("circuit_breaker").at("state").as_string() == "closed");
    // A burst of 20 (the default) less the few calls made so far (at most four), refilling at 10/s.
    const auto available = o.at("policies").at("rate_limiter").at("available").as_int64();
    BOOST_TEST((available >= 16 && available <= 20), available);
    auto s3 = co_await c.get(h.url("/integrations/health/s3"));
    BOOST_TEST(s3->result_int() == 503u);
    auto missing = co_await c.get(h.url("/integrations/health/nope"));
    BOOST_TEST(missing->result_int() == 404u);
    BOOST_TEST(json_of(*missing).at("error").at("status").as_int64() == 404);

    auto status = co_await c.get(h.url("/integrations/status"));
    BOOST_TEST(status->result_int() == 200u);
    BOOST_TEST(json_of(*status).at("integrations").as_array().size() == 3u);
    BOOST_TEST(json_of(*status).at("summary").at("calls").as_int64() == 2);

    auto dash = co_await c.get(h.url("/integrations/dashboard"));
    BOOST_TEST(dash->body().find("Total Intégrations: 3") != std::string::npos, dash->body());
    BOOST_TEST(dash->body().find("Taux Succès") != std::string::npos);

    auto api = co_await c.get(h.url("/openapi.json"));
    auto doc = json_of(*api);
    BOOST_TEST(doc.at("openapi").as_string() == "3.0.3");
    BOOST_TEST(doc.at("paths").as_object().contains("/integrations/health/{name}"));

    auto metrics = co_await c.get(h.url("/integrations/metrics"));
    BOOST_TEST(metrics->result_int() == 200u);
    BOOST_TEST((*metrics)[bh::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
    std::string m = metrics->body();
    BOOST_TEST(m.find(R"(intg_calls_total{integration="spotify",tenant="acme",outcome="success"} 1)") != std::string::npos, m);
    BOOST_TEST(m.find(R"(intg_calls_total{integration="spotify",tenant="acme",outcome="failure"} 1)") != std::string::npos);
    BOOST_TEST(m.find(R"(intg_integration_status{integration="s3",tenant="acme",status="degraded"} 1)") != std::string::npos);
    BOOST_TEST(m.find("intg_health_check_duration_seconds_bucket{") != std::string::npos);
    BOOST_TEST(m.find(R"(intg_circuit_breaker_state{integration="spotify",tenant="acme",state="closed"} 1)") != std::string::npos, m);

    // Breaker state and transitions are metrics too, not only /status JSON.
    h.parts[0]->pipe.get<intg::circuit_breaker<>>().isolate();
    (void)co_await c.get(h.url("/integrations/status"));
    metrics = co_await c.get(h.url("/integrations/metrics"));
    m = metrics->body();
    BOOST_TEST(m.find(R"(intg_circuit_breaker_state{integration="spotify",tenant="acme",state="isolated"} 1)") != std::string::npos, m);
    BOOST_TEST(m.find(R"(intg_circuit_breaker_state{integration="spotify",tenant="acme",state="closed"} 0)") != std::string::npos);
    BOOST_TEST(m.find(R"(intg_circuit_breaker_transitions_total{integration="spotify",tenant="acme",from="closed",to="isolated"} 1)") !=
               std::string::npos);
    BOOST_TEST(m.find("# TYPE intg_circuit_breaker_transitions_total counter") != std::string::npos);
    // Keep the exposition for `promtool check metrics` (a separate ctest).
    std::ofstream("health_metrics.prom") << m;

    co_await h.server->shutdown(1s);
    co_await h.reg.shutdown();
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_CASE(before_its_first_check_an_integration_is_unknown_and_rates_without_calls_are_null) {
  asio::io_context io;
  hub h(io);
  intg::http::client c(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    co_await h.reg.enable_all();
    auto one = co_await c.get(h.url("/integrations/health/s3"));
    auto o = json_of(*one);
    BOOST_TEST(o.at("status").as_string() == "unknown");
    BOOST_TEST(o.at("last_check").at("status").as_string() == "unknown");
    BOOST_TEST(o.at("calls").at("total").as_int64() == 0);
    BOOST_TEST(o.at("calls").at("success_rate").is_null());  // n/a, as the dashboard says
    BOOST_TEST(o.at("calls").at("average_latency_ms").is_null());
    BOOST_TEST(one->result_int() == 503u);
    auto all = co_await c.get(h.url("/integrations/health"));
    BOOST_TEST(json_of(*all).at("status").as_string() == "unknown");
    BOOST_TEST(json_of(*all).at("unknown").as_int64() == 3);
    auto status = co_await c.get(h.url("/integrations/status"));
    BOOST_TEST(json_of(*status).at("summary").at("success_rate").is_null());
    auto dash = co_await c.get(h.url("/integrations/dashboard"));
    BOOST_TEST(dash->body().find("Taux Succès: n/a") != std::string::npos, dash->body());
    co_await h.reg.health_check_all();
    auto checked = co_await c.get(h.url("/integrations/health/s3"));
    BOOST_TEST(json_of(*checked).at("status").as_string() == "healthy");
    co_await h.server->shutdown(1s);
    co_await h.reg.shutdown();
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_CASE(livez_and_readyz_are_probes_that_one_degraded_integration_does_not_fail) {
  asio::io_context io;
  intg::health_server_options o;
  o.bearer_token = intg::secret("probe-token");  // kubelets send none: the probes need none
  intg::registry reg(io.get_executor());
  intg::integration_config a;
  a.name = "payments";
  a.critical = true;
  auto& payments = reg.register_integration<switchable>(a, "acme");
  intg::integration_config b;
  b.name = "newsletter";
  auto& newsletter = reg.register_integration<switchable>(b, "globex");
  intg::health_server server(io.get_executor(), reg, o);
  BOOST_REQUIRE(server.listen("127.0.0.1", 0));
  server.start();
  intg::http::client c(io.get_executor());
  const auto url = [&](std::string_view p) { return local(server.port(), p); };
  auto body = [&]() -> asio::awaitable<void> {
    auto live = co_await c.get(url("/livez"));
    BOOST_TEST(live->result_int() == 200u);
    BOOST_TEST(json_of(*live).at("status").as_string() == "alive");
    auto starting = co_await c.get(url("/readyz"));  // registered, not initialized yet
    BOOST_TEST(starting->result_int() == 503u);
    BOOST_TEST(json_of(*starting).at("starting").as_int64() == 2);
    co_await reg.enable_all();
    BOOST_TEST((co_await c.get(url("/readyz")))->result_int() == 200u);  // unknown is not down
    newsletter.healthy = false;
    for (int i = 0; i < 3; ++i) co_await reg.health_check_all();  // newsletter: unhealthy
    auto ready = co_await c.get(url("/readyz"));
    BOOST_TEST(ready->result_int() == 200u, ready->body());
    BOOST_TEST(json_of(*ready).at("status").as_string() == "ready");
    BOOST_TEST(ready->body().find("newsletter") == std::string::npos);  // no names without a token
    payments.healthy = false;
    co_await reg.health_check_all();  // degraded after one failure: still ready
    BOOST_TEST((co_await c.get(url("/readyz")))->result_int() == 200u);
    co_await reg.health_check_all();
    co_await reg.health_check_all();  // critical and unhealthy: not ready
    auto down = co_await c.get(url("/readyz"));
    BOOST_TEST(down->result_int() == 503u);
    BOOST_TEST(json_of(*down).at("critical_down").as_int64() == 1);
    BOOST_TEST((co_await c.get(url("/livez")))->result_int() == 200u);
    BOOST_TEST((co_await c.get(url("/integrations/health")))->result_int() == 401u);  // the rest keeps its token
    co_await server.shutdown(1s);
    co_await reg.shutdown();
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_CASE(the_openapi_document_describes_exactly_the_paths_served) {
  const auto doc = intg::detail::openapi_document();
  std::set<std::string> documented, served;
  for (const auto& [k, v] : doc.at("paths").as_object()) documented.insert(std::string(k));
  for (auto p : intg::health_server_paths) served.insert(std::string(p));
  BOOST_TEST((documented == served));
}

BOOST_AUTO_TEST_CASE(bad_requests_get_4xx_and_never_hurt_the_server) {
  asio::io_context io;
  intg::health_server_options o;
  o.http.max_request_header = 4096;
  hub h(io, o);
  intg::http::client c(io.get_executor());
  auto raw = [&](std::string bytes) -> asio::awaitable<std::string> {
    tcp::socket s(io);
    co_await s.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), h.server->port()), asio::use_awaitable);
    co_await write_all(s, std::move(bytes));
    std::string out;
    char buf[4096];
    for (;;) {
      auto [ec, n] = co_await s.async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
      out.append(buf, n);
      if (ec) break;
    }
    co_return out;
  };
  auto body = [&]() -> asio::awaitable<void> {
    BOOST_TEST((co_await raw("GARBAGE\r\n\r\n")).starts_with("HTTP/1.1 400"));
    BOOST_TEST((co_await raw("GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n")).starts_with("HTTP/1.1 400"));
    BOOST_TEST((co_await raw("GET /integrations/health HTTP/1.1\r\nX: " + std::string(8000, 'a') + "\r\n\r\n")).starts_with("HTTP/1.1 431"));
    BOOST_TEST((co_await raw("GET /integrations/health HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n")).starts_with("HTTP/1.1 413"));
    auto unknown = co_await c.get(h.url("/nowhere"));
    BOOST_TEST(unknown->result_int() == 404u);
    auto post = intg::http::request::make(bh::verb::post, h.url("/integrations/health"));
    auto wrong = co_await c.send(*post);
    BOOST_TEST(wrong->result_int() == 405u);
    BOOST_TEST((*wrong)[bh::field::allow] == "GET, HEAD");
    BOOST_TEST((co_await raw("GET /integrations/health/spotify?tenant=%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
                   .starts_with("HTTP/1.1 400"));
    auto still = co_await c.get(h.url("/integrations/health"));  // the server is still fine
    BOOST_TEST(still.has_value());
    co_await h.server->shutdown(1s);
    co_await h.reg.shutdown();
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_CASE(a_bearer_token_protects_every_endpoint_but_the_openapi_document) {
  asio::io_context io;
  intg::health_server_options o;
  o.bearer_token = intg::secret("s3cr3t-token");
  hub h(io, o);
  intg::http::client c(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    auto anon = co_await c.get(h.url("/integrations/status"));
    BOOST_TEST(anon->result_int() == 401u);
    BOOST_TEST((*anon)[bh::field::www_authenticate] == "Bearer");
    auto wrong = intg::http::request::make(bh::verb::get, h.url("/integrations/status"));
    wrong->bearer(intg::secret("s3cr3t-tokem"));
    BOOST_TEST((co_await c.send(*wrong))->result_int() == 401u);
    auto right = intg::http::request::make(bh::verb::get, h.url("/integrations/status"));
    right->bearer(intg::secret("s3cr3t-token"));
    BOOST_TEST((co_await c.send(*right))->result_int() == 200u);
    BOOST_TEST((co_await c.get(h.url("/openapi.json")))->result_int() == 200u);
    co_await h.server->shutdown(1s);
    co_await h.reg.shutdown();
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_CASE(shutdown_lets_requests_in_progress_finish) {
  asio::io_context io;
  served s(io, [](intg::http::server_request&) -> asio::awaitable<intg::http::server_response> {
    co_await sleep_for(100ms);
    co_return intg::http::make_response(bh::status::ok, "finished", "text/plain");
  });
  intg::http::client c(io.get_executor());
  std::optional<intg::result<intg::http::response>> got;
  auto slow_call = [&]() -> asio::awaitable<void> { got = co_await c.get(local(s.port())); };
  auto body = [&]() -> asio::awaitable<void> {
    asio::co_spawn(io, slow_call(), asio::detached);
    co_await sleep_for(30ms);
    co_await s.srv.shutdown(2s);
    BOOST_REQUIRE(got.has_value());
    BOOST_REQUIRE(got->has_value());
    BOOST_TEST((*got)->body() == "finished");
    BOOST_TEST(!(*got)->keep_alive());
    auto refused = co_await c.get(local(s.port()));
    BOOST_TEST(!refused);
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(oauth_over_http)

namespace {

// A token endpoint per RFC 6749: client credentials with Basic auth, refresh tokens that rotate.
struct token_endpoint {
  explicit token_endpoint(asio::io_context& io) : s(io, [this](intg::http::server_request& r) { return handle(r); }) {}
  asio::awaitable<intg::http::server_response> handle(intg::http::server_request& r) {
    ++requests;
    if (delay.count()) co_await sleep_for(delay);
    auto form = intg::http::query::parse(r.body());
    std::map<std::string, std::string> f(form->begin(), form->end());
    auto oauth_error = [](bh::status st, std::string code, std::string desc) {
      return intg::http::make_response(st, boost::json::serialize(boost::json::object{{"error", code}, {"error_description", desc}}));
    };
    const std::string expected = "Basic " + intg::crypto::base64_encode(std::string("app:app-secret"));
    if (f["grant_type"] == "client_credentials") {
      if (r[bh::field::authorization] != expected) co_return oauth_error(bh::status::unauthorized, "invalid_client", "bad client");
    } else if (f["grant_type"] == "refresh_token") {
      if (f["refresh_token"] != "rt-" + std::to_string(issued)) co_return oauth_error(bh::status::bad_request, "invalid_grant", "refresh token revoked");
    } else {
      co_return oauth_error(bh::status::bad_request, "unsupported_grant_type", f["grant_type"]);
    }
    ++issued;
    boost::json::object t{{"access_token", "at-" + std::to_string(issued)}, {"token_type", "Bearer"}, {"expires_in", expires_in}};
    if (f["grant_type"] == "refresh_token") t["refresh_token"] = "rt-" + std::to_string(issued);
    co_return intg::http::make_response(bh::status::ok, boost::json::serialize(t));
  }
  intg::http::url url() const { return *intg::http::url::parse(local(s.port(), "/token")); }
  served s;
  int requests = 0, issued = 0, expires_in = 3600;
  std::chrono::milliseconds delay{0};
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_hundred_concurrent_callers_share_one_token_request) {
  asio::io_context io;
  token_endpoint te(io);
  te.delay = 20ms;
  intg::http::client http(io.get_executor());
  intg::auth::oauth2::client_credentials_source src{&http, te.url(), {"app", intg::secret("app-secret")}, "read"};
  intg::manual_clock clock;
  intg::auth::oauth2::token_manager tm(io.get_executor(), src, {}, clock);
  int ok = 0, done = 0;
  auto caller = [&]() -> asio::awaitable<void> {
    auto t = co_await tm.get();
    ok += t && t->access_token.reveal() == "at-1";
    ++done;
  };
  auto body = [&]() -> asio::awaitable<void> {
    for (int i = 0; i < 100; ++i) asio::co_spawn(io, caller(), asio::detached);
    BOOST_REQUIRE_MESSAGE((co_await eventually([&] { return done == 100; })), "all callers complete");
    BOOST_TEST(te.requests == 1);
    clock.advance(3600s);  // expired: the next caller fetches again
    auto t = co_await tm.get();
    BOOST_TEST(t->access_token.reveal() == "at-2");
    BOOST_TEST(te.requests == 2);
    co_await te.s.srv.shutdown(1s);
  };
  test::run(io, body());
  BOOST_TEST(ok == 100);
}

BOOST_AUTO_TEST_CASE(token_endpoint_errors_are_clear_and_invalid_grant_is_final) {
  asio::io_context io;
  token_endpoint te(io);
  intg::http::client http(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    intg::auth::oauth2::client_credentials_source wrong{&http, te.url(), {"app", intg::secret("guess")}, ""};
    auto r = co_await wrong();
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().message().find("invalid_client") != std::string_view::npos, r.error());
    BOOST_TEST(r.error().message().find("guess") == std::string_view::npos);  // no secret in errors
    BOOST_TEST(r.error().http_status() == 401);

    intg::auth::oauth2::refresh_token_source refresh{&http, te.url(), {"app", {}, intg::auth::oauth2::client_auth::none},
                                                     intg::secret("rt-0"), ""};
    intg::auth::oauth2::token_manager tm(io.get_executor(), std::ref(refresh));
    auto first = co_await tm.get();
    BOOST_REQUIRE(first);
    BOOST_TEST(first->refresh_token.reveal() == "rt-1");  // rotated
    tm.invalidate();
    auto second = co_await tm.get();
    BOOST_REQUIRE(second);
    BOOST_TEST(second->access_token.reveal() == "at-2");
    te.issued = 99;  // the server revokes every refresh token
    tm.invalidate();
    auto dead = co_await tm.get();
    BOOST_REQUIRE(!dead);
    BOOST_TEST((dead.error() == errc::invalid_grant));
    const int before = te.requests;
    auto again = co_await tm.get();
    BOOST_TEST((again.error() == errc::invalid_grant));
    BOOST_TEST(te.requests == before);  // invalid_grant stops retrying
    co_await te.s.srv.shutdown(1s);
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_CASE(a_401_refreshes_the_token_and_replays_the_request_once) {
  asio::io_context io;
  token_endpoint te(io);
  std::vector<std::string> seen_auth;
  served api(io, [&](intg::http::server_request& r) -> asio::awaitable<intg::http::server_response> {
    seen_auth.emplace_back(r[bh::field::authorization]);
    if (r[bh::field::authorization] == "Bearer at-1")
      co_return intg::http::json_error(bh::status::unauthorized, "The access token expired");
    co_return intg::http::make_response(bh::status::ok, R"({"ok":true})");
  });
  intg::http::client http(io.get_executor());
  intg::auth::oauth2::token_manager tm(io.get_executor(),
      intg::auth::oauth2::client_credentials_source{&http, te.url(), {"app", intg::secret("app-secret")}, ""});
  auto body = [&]() -> asio::awaitable<void> {
    auto req = intg::http::request::make(bh::verb::get, local(api.port(), "/v1/me"));
    auto r = co_await intg::auth::oauth2::send_authorized(http, tm, *req);
    BOOST_REQUIRE(r);
    BOOST_TEST(r->result_int() == 200u);
    BOOST_TEST((req->message.find(bh::field::authorization) == req->message.end()));  // not left behind
    co_await api.srv.shutdown(1s);
    co_await te.s.srv.shutdown(1s);
  };
  test::run(io, body());
  BOOST_REQUIRE(seen_auth.size() == 2u);
  BOOST_TEST(seen_auth[0] == "Bearer at-1");
  BOOST_TEST(seen_auth[1] == "Bearer at-2");
}

BOOST_AUTO_TEST_CASE(openid_discovery_jwks_and_id_token_verification) {
  asio::io_context io;
  auto key = intg::auth::jwk::generate("P-256");
  BOOST_REQUIRE(key);
  key->with_kid("k1");
  std::string issuer;
  int jwks_fetches = 0;
  served idp(io, [&](intg::http::server_request& r) -> asio::awaitable<intg::http::server_response> {
    if (r.target() == "/.well-known/openid-configuration")
      co_return intg::http::make_response(bh::status::ok, boost::json::serialize(boost::json::object{
          {"issuer", issuer}, {"authorization_endpoint", issuer + "/authorize"}, {"token_endpoint", issuer + "/token"},
          {"jwks_uri", issuer + "/jwks"}, {"id_token_signing_alg_values_supported", boost::json::array{"ES256"}}}));
    if (r.target() == "/jwks") {
      ++jwks_fetches;
      co_return intg::http::make_response(bh::status::ok, boost::json::serialize(boost::json::object{
          {"keys", boost::json::array{*key->public_json()}}}));
    }
    co_return intg::http::json_error(bh::status::not_found, "no");
  });
  issuer = local(idp.port(), "");
  intg::http::client http(io.get_executor());
  auto body = [&]() -> asio::awaitable<void> {
    auto meta = co_await intg::auth::oidc::discover(http, issuer);
    BOOST_REQUIRE_MESSAGE(meta, (meta ? "" : meta.error().to_string()));
    BOOST_TEST(meta->token_endpoint == issuer + "/token");
    intg::auth::oidc::jwks_cache keys(http, *intg::http::url::parse(meta->jwks_uri));
    const auto now = std::chrono::system_clock::now();
    const auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    boost::json::object claims{{"iss", issuer}, {"aud", "my-app"}, {"sub", "user-1"}, {"iat", iat}, {"exp", iat + 300}, {"nonce", "n-123"}};
    auto token = intg::auth::jwt::sign(claims, *key, "ES256");
    BOOST_REQUIRE(token);
    intg::auth::oidc::id_token_expectations expect{issuer, "my-app", std::string("n-123")};
    auto ok = co_await intg::auth::oidc::verify_id_token(keys, *token, expect);
    BOOST_REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().to_string()));
    BOOST_TEST(ok->at("sub").as_string() == "user-1");
    expect.nonce = "other";
    BOOST_TEST((!co_await intg::auth::oidc::verify_id_token(keys, *token, expect)));
    expect.nonce = "n-123";
    expect.client_id = "someone-else";
    BOOST_TEST((!co_await intg::auth::oidc::verify_id_token(keys, *token, expect)));
    // A token naming an unknown kid right after a fetch is refused without fetching again (a flood
    // of made-up kids must not become a flood of JWKS requests).
    auto stranger = intg::auth::jwk::generate("P-256");
    stranger->with_kid("k2");
    auto forged = intg::auth::jwt::sign(claims, *stranger, "ES256");
    expect.client_id = "my-app";
    BOOST_TEST((!co_await intg::auth::oidc::verify_id_token(keys, *forged, expect)));
    BOOST_TEST((!co_await intg::auth::oidc::verify_id_token(keys, *forged, expect)));
    BOOST_TEST(jwks_fetches == 1);
    auto missing = co_await intg::auth::oidc::discover(http, issuer + "/other");
    BOOST_TEST(!missing);
    auto impostor = intg::auth::oidc::provider_metadata::parse(
        R"({"issuer":"https://evil.example","authorization_endpoint":"https://evil.example/a","jwks_uri":"https://evil.example/k"})",
        "https://good.example");
    BOOST_TEST(!impostor);
    co_await idp.srv.shutdown(1s);
  };
  test::run(io, body());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------------------
// WebSocket (<intg/websocket.hpp>): our client against our server over loopback, and hand-made
// frames on a plain TCP socket where a well-behaved client (ours, Beast's) never sends them: the
// cases Autobahn's suite runs (fragmentation, control frames between fragments, invalid UTF-8,
// oversized messages, unmasked frames, reserved bits, bad close codes).
namespace {
namespace ws = intg::websocket;
namespace bws = boost::beast::websocket;
namespace msg = intg::messaging;

// An echo server; "subscribe" is answered with "subscribed" and counted.
struct ws_served {
  explicit ws_served(asio::io_context& io, ws::server_options o = {}, std::uint16_t port = 0)
      : srv(io.get_executor(), [this](std::shared_ptr<ws::connection> c) { return echo(std::move(c)); }, std::move(o)) {
    auto r = srv.listen("127.0.0.1", port);
    BOOST_REQUIRE(r);
    srv.start();
  }
  asio::awaitable<void> echo(std::shared_ptr<ws::connection> c) {
    last = c;
    for (;;) {
      auto m = co_await c->receive();
      if (!m) {
        ended.push_back(m.error());
        co_return;
      }
      if (m->data == "subscribe") {
        ++subscriptions;
        const std::string answer = "subscribed";
        co_await c->send(answer);
        continue;
      }
      auto sent = co_await c->send(m->data, m->kind);
      if (!sent) co_return;
    }
  }
  std::string url(std::string_view path = "/") const {
    return "ws://127.0.0.1:" + std::to_string(srv.port()) + std::string(path);
  }
  ws::server srv;
  std::shared_ptr<ws::connection> last;
  std::vector<intg::error> ended;
  int subscriptions = 0;
};

tcp::endpoint loopback(std::uint16_t port) { return tcp::endpoint(asio::ip::make_address("127.0.0.1"), port); }

// The opening handshake by hand on a plain TCP socket; true when the server answered 101.
asio::awaitable<bool> raw_upgrade(tcp::socket& s, std::uint16_t port, asio::streambuf& buf) {
  auto [ec] = co_await s.async_connect(loopback(port), asio::as_tuple(asio::use_awaitable));
  if (ec) co_return false;
  co_await write_all(s, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  const std::string head = co_await read_head(s, buf);
  co_return head.starts_with("HTTP/1.1 101");
}

// One frame: `first` holds FIN, RSV and the opcode; masked (as a client must) unless told not to.
std::string frame(unsigned char first, std::string_view payload, bool masked = true) {
  std::string f(1, static_cast<char>(first));
  const unsigned mask_bit = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    f += static_cast<char>(mask_bit | payload.size());
  } else {
    f += static_cast<char>(mask_bit | 126);
    f += static_cast<char>((payload.size() >> 8) & 0xff);
    f += static_cast<char>(payload.size() & 0xff);
  }
  const char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (masked) f.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) f += masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
  return f;
}

std::string close_payload(unsigned code, std::string_view reason = {}) {
  std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  p += reason;
  return p;
}

// Everything the server sends until it closes the connection (at most 5 s).
asio::awaitable<std::string> read_to_end(tcp::socket& s, asio::streambuf& buf) {
  asio::steady_timer deadline(s.get_executor(), 5s);
  deadline.async_wait([&s](boost::system::error_code ec) {
    boost::system::error_code ignored;
    if (!ec) s.close(ignored);
  });
  co_await asio::async_read(s, buf, asio::as_tuple(asio::use_awaitable));
  deadline.cancel();
  co_return std::string(asio::buffers_begin(buf.data()), asio::buffers_end(buf.data()));
}

// The code of the first close frame in what a server sent (its frames are not masked); 0: none.
int close_code_in(const std::string& bytes) {
  std::size_t i = 0;
  const auto at = [&](std::size_t k) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[k])); };
  while (i + 2 <= bytes.size()) {
    const unsigned op = at(i) & 0x0f;
    std::size_t len = at(i + 1) & 0x7f, head = 2;
    if (len == 126) {
      if (i + 4 > bytes.size()) return 0;
      len = (at(i + 2) << 8) | at(i + 3);
      head = 4;
    } else if (len == 127) {
      return 0;
    }
    if (op == 8) return len >= 2 && i + head + 2 <= bytes.size() ? static_cast<int>((at(i + head) << 8) | at(i + head + 1)) : 0;
    i += head + len;
  }
  return 0;
}

// Upgrades by hand, sends `frames`, and returns the close code the server answered with.
asio::awaitable<int> server_answer(std::uint16_t port, std::string frames) {
  tcp::socket s(co_await asio::this_coro::executor);
  asio::streambuf buf;
  if (!co_await raw_upgrade(s, port, buf)) co_return -1;
  co_await write_all(s, frames);
  const std::string answer = co_await read_to_end(s, buf);
  co_return close_code_in(answer);
}

bool mentions(const intg::error& e, std::string_view what) { return e.to_string().find(what) != std::string::npos; }

// A TCP stream that counts the writes it is given: what a batching_stream hands down.
struct counting_stream {
  counting_stream(tcp::socket s, std::size_t* n) : next(std::move(s)), writes(n) {}
  boost::beast::tcp_stream next;
  std::size_t* writes;
  using executor_type = boost::beast::tcp_stream::executor_type;
  executor_type get_executor() { return next.get_executor(); }
  template <class B, class T>
  auto async_read_some(const B& b, T&& t) {
    return next.async_read_some(b, std::forward<T>(t));
  }
  template <class B, class T>
  auto async_write_some(const B& b, T&& t) {
    ++*writes;
    return next.async_write_some(b, std::forward<T>(t));
  }
  template <class B>
  std::size_t read_some(const B& b, boost::system::error_code& ec) {
    return next.read_some(b, ec);
  }
  template <class B>
  std::size_t write_some(const B& b, boost::system::error_code& ec) {
    ++*writes;
    return next.write_some(b, ec);
  }
};
// What Beast's teardown of a counting_stream does: the TCP stream's.
template <class Handler>
void async_teardown(boost::beast::role_type role, counting_stream& s, Handler&& h) {
  using boost::beast::websocket::async_teardown;
  async_teardown(role, s.next, std::forward<Handler>(h));
}
using batching = ws::detail::batching_stream<counting_stream>;

// A connected pair on loopback: the batching side and the plain peer that reads what it writes.
asio::awaitable<std::pair<std::unique_ptr<batching>, tcp::socket>> batching_pair(std::size_t* writes) {
  auto ex = co_await asio::this_coro::executor;
  tcp::acceptor acceptor(ex, loopback(0));
  tcp::socket a(ex), b(ex);
  co_await a.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
  co_await acceptor.async_accept(b, asio::use_awaitable);
  co_return std::make_pair(std::make_unique<batching>(std::move(a), writes), std::move(b));
}

asio::awaitable<std::string> read_exactly(tcp::socket& s, std::size_t n) {
  std::string got(n, '\0');
  co_await asio::async_read(s, asio::buffer(got), asio::use_awaitable);
  co_return got;
}

// Starts `a` at once (co_spawn with use_awaitable would wait until awaited); its result lands in
// the returned optional.
template <class T>
std::shared_ptr<std::optional<T>> start_now(asio::io_context& io, asio::awaitable<T> a) {
  auto out = std::make_shared<std::optional<T>>();
  asio::co_spawn(io, std::move(a), [out](std::exception_ptr e, T v) {
    if (!e) *out = std::move(v);
  });
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(websocket)

BOOST_AUTO_TEST_CASE(echo_text_binary_and_deflate) {
  asio::io_context io;
  for (bool deflate : {false, true}) {
    ws::server_options so;
    so.permessage_deflate = deflate;
    ws_served s(io, so);
    test::run(io, [&]() -> asio::awaitable<void> {
      ws::client_options o;
      o.permessage_deflate = deflate;
      ws::client c(io.get_executor(), s.url("/feed?room=1"), o);
      BOOST_REQUIRE(co_await c.connect());
      const std::string text = "hello, w\xc3\xb6rld", empty;
      std::string binary(70000, '\0');
      for (std::size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i % 251);
      BOOST_REQUIRE(co_await c.send(text));
      auto a = co_await c.receive();
      BOOST_REQUIRE(a);
      BOOST_TEST(a->data == text);
      BOOST_TEST(a->text());
      BOOST_REQUIRE(co_await c.send(binary, ws::message_kind::binary));
      auto b = co_await c.receive();
      BOOST_REQUIRE(b);
      BOOST_TEST((b->data == binary));
      BOOST_TEST(!b->text());
      BOOST_REQUIRE(co_await c.send(empty));
      auto e = co_await c.receive();
      BOOST_REQUIRE(e);
      BOOST_TEST(e->data.empty());
      BOOST_TEST(c.current()->stats().messages_sent == 3u);
      BOOST_TEST(s.last->target() == "/feed?room=1");
      BOOST_REQUIRE(co_await c.close());
      BOOST_TEST(co_await eventually([&] { return !s.ended.empty(); }));
      BOOST_TEST(s.last->peer_close_code() == 1000);
      BOOST_TEST(mentions(s.ended.at(0), "closed by the peer (1000)"));
      auto after = co_await c.receive();
      BOOST_TEST((!after && after.error() == errc::cancelled));
      co_await s.srv.shutdown();
      BOOST_TEST(s.srv.stats().upgraded == 1u);
    }());
  }
}

BOOST_AUTO_TEST_CASE(fragments_with_control_frames_between_them) {
  asio::io_context io;
  ws_served s(io);
  test::run(io, [&]() -> asio::awaitable<void> {
    bws::stream<boost::beast::tcp_stream> raw(co_await asio::this_coro::executor);
    co_await boost::beast::get_lowest_layer(raw).async_connect(loopback(s.srv.port()), asio::use_awaitable);
    co_await raw.async_handshake("127.0.0.1", "/", asio::use_awaitable);
    int pongs = 0;
    raw.control_callback([&](bws::frame_type kind, boost::beast::string_view) { pongs += kind == bws::frame_type::pong; });
    raw.text(true);
    co_await raw.async_write_some(false, asio::buffer(std::string_view("Hel")), asio::use_awaitable);
    co_await raw.async_ping(bws::ping_data("one"), asio::use_awaitable);
    co_await raw.async_write_some(false, asio::buffer(std::string_view("lo, ")), asio::use_awaitable);
    co_await raw.async_ping(bws::ping_data("two"), asio::use_awaitable);
    co_await raw.async_write_some(true, asio::buffer(std::string_view("world")), asio::use_awaitable);
    boost::beast::flat_buffer b;
    co_await raw.async_read(b, asio::use_awaitable);
    BOOST_TEST(boost::beast::buffers_to_string(b.data()) == "Hello, world");
    BOOST_TEST(pongs == 2);
    BOOST_TEST(s.last->stats().messages_received == 1u);
    co_await raw.async_close(bws::close_code::normal, asio::use_awaitable);
    co_await s.srv.shutdown();
  }());
}

BOOST_AUTO_TEST_CASE(protocol_violations_close_with_the_rfc_codes) {
  asio::io_context io;
  ws::server_options so;
  so.max_message_size = 1024;
  ws_served s(io, so);
  test::run(io, [&]() -> asio::awaitable<void> {
    const auto port = s.srv.port();
    // Invalid UTF-8 in a text message, whole or in its second fragment: 1007.
    BOOST_TEST(co_await server_answer(port, frame(0x81, "ok \xff\xfe")) == 1007);
    BOOST_TEST(co_await server_answer(port, frame(0x01, "ok ") + frame(0x80, "\xed\xa0\x80")) == 1007);  // a surrogate
    // A message above max_message_size, in one frame or in fragments: 1009.
    BOOST_TEST(co_await server_answer(port, frame(0x82, std::string(2000, 'x'))) == 1009);
    BOOST_TEST(co_await server_answer(port, frame(0x02, std::string(600, 'x')) + frame(0x80, std::string(600, 'x'))) == 1009);
    // An unmasked client frame: 1002.
    BOOST_TEST(co_await server_answer(port, frame(0x81, "hi", false)) == 1002);
    // Reserved bits without an extension that defines them (RSV1 without permessage-deflate, RSV2, RSV3): 1002.
    BOOST_TEST(co_await server_answer(port, frame(0xC1, "hi")) == 1002);
    BOOST_TEST(co_await server_answer(port, frame(0xA1, "hi")) == 1002);
    BOOST_TEST(co_await server_answer(port, frame(0x91, "hi")) == 1002);
    // A reserved opcode, a continuation with nothing to continue, a fragmented ping, a new message
    // inside a fragmented one: 1002.
    BOOST_TEST(co_await server_answer(port, frame(0x83, "hi")) == 1002);
    BOOST_TEST(co_await server_answer(port, frame(0x80, "hi")) == 1002);
    BOOST_TEST(co_await server_answer(port, frame(0x09, "hi")) == 1002);
    BOOST_TEST(co_await server_answer(port, frame(0x01, "a") + frame(0x81, "b")) == 1002);
    // Close codes that may not appear on the wire (RFC 6455 7.4: 1004-1006 reserved or never sent,
    // below 1000, 1016-2999 unassigned) and a one-byte close payload: 1002.
    for (unsigned bad : {1005u, 1004u, 999u, 1016u, 2999u}) BOOST_TEST(co_await server_answer(port, frame(0x88, close_payload(bad))) == 1002);
    BOOST_TEST(co_await server_answer(port, frame(0x88, std::string(1, '\x03'))) == 1002);
    // A client still sending when the server fails the connection reads the close code, not a
    // reset: the server reads what the client still sends until it closes (4 MiB here, more than
    // the socket buffers hold; a socket closed with data unread would answer with a reset).
    std::string flood = frame(0x02, std::string(60000, 'x'));
    for (int i = 0; i < 70; ++i) flood += frame(0x00, std::string(60000, 'x'));
    BOOST_TEST(co_await server_answer(port, flood) == 1009);
    // A valid close (an application code) is answered with a close that is not an error.
    const int fine = co_await server_answer(port, frame(0x88, close_payload(4000, "bye")));
    BOOST_TEST((fine > 0 && fine != 1002));
    BOOST_TEST(co_await eventually([&] { return s.ended.size() == 20; }));  // every connection above has ended
    BOOST_TEST(mentions(s.ended.at(0), "invalid UTF-8"));
    BOOST_TEST(mentions(s.ended.at(2), "above the limit of 1024 bytes"));
    BOOST_TEST(mentions(s.ended.at(4), "broke the WebSocket protocol"));
    BOOST_TEST(s.last->peer_close_code() == 4000);
    // Our own API refuses codes that may not be sent.
    ws::client c(io.get_executor(), s.url());
    BOOST_REQUIRE(co_await c.connect());
    for (std::uint16_t bad : {std::uint16_t(1005), std::uint16_t(999), std::uint16_t(1006), std::uint16_t(5000)}) {
      auto r = co_await c.close(bad);
      BOOST_TEST((!r && r.error() == errc::invalid_argument));
    }
    BOOST_TEST(c.connected());
    // A message above the client's limit: the client closes with 1009 and says why.
    ws::client_options small;
    small.max_message_size = 100;
    small.reconnect = false;
    ws::client d(io.get_executor(), s.url(), small);
    BOOST_REQUIRE(co_await d.connect());
    const std::string big(200, 'y');
    BOOST_REQUIRE(co_await d.send(big));
    auto r = co_await d.receive();
    BOOST_TEST((!r && r.error() == errc::invalid_response));
    if (!r) BOOST_TEST(mentions(r.error(), "1009"));
    BOOST_TEST(co_await eventually([&] { return s.last->peer_close_code() == 1009; }));
    BOOST_REQUIRE(co_await c.close(4001, "done"));
    co_await s.srv.shutdown();
  }());
}

BOOST_AUTO_TEST_CASE(origin_check_and_plain_http) {
  asio::io_context io;
  ws::server_options so;
  so.allowed_origins = {"https://app.example"};
  ws_served s(io, so);
  test::run(io, [&]() -> asio::awaitable<void> {
    ws::client_options evil;
    evil.origin = "https://evil.example";
    evil.reconnect = false;
    ws::client refused(io.get_executor(), s.url(), evil);
    auto r = co_await refused.connect();
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().http_status() == 403);
    BOOST_TEST(s.srv.stats().refused_origin == 1u);
    ws::client_options app;
    app.origin = "HTTPS://App.Example";  // origins compare without regard to case
    ws::client allowed(io.get_executor(), s.url(), app);
    BOOST_TEST((co_await allowed.connect()).has_value());
    ws::client no_origin(io.get_executor(), s.url());  // not a browser
    BOOST_TEST((co_await no_origin.connect()).has_value());
    intg::http::client http(io.get_executor());
    auto plain = co_await http.get(local(s.srv.port()));
    BOOST_REQUIRE(plain);
    BOOST_TEST(plain->result_int() == 426u);
    BOOST_TEST(s.srv.stats().refused_not_upgrade == 1u);
    co_await allowed.close();
    co_await no_origin.close();
    co_await s.srv.shutdown();
  }());
}

BOOST_AUTO_TEST_CASE(heartbeat_detects_a_peer_that_stops_answering) {
  asio::io_context io;
  asio::steady_timer release(io, asio::steady_timer::time_point::max());
  // A server that completes the handshake, then never reads again: pings go unanswered.
  raw_server silent(io, [&](tcp::socket sock) -> asio::awaitable<void> {
    bws::stream<boost::beast::tcp_stream> peer(std::move(sock));
    co_await peer.async_accept(asio::as_tuple(asio::use_awaitable));
    co_await release.async_wait(asio::as_tuple(asio::use_awaitable));
  });
  ws::server_options so;
  so.idle_timeout = 400ms;
  ws_served s(io, so);
  test::run(io, [&]() -> asio::awaitable<void> {
    ws::client_options o;
    o.idle_timeout = 400ms;
    o.reconnect = false;
    ws::client c(io.get_executor(), "ws://127.0.0.1:" + std::to_string(silent.port()) + "/", o);
    BOOST_REQUIRE(co_await c.connect());
    auto r = co_await c.receive();
    BOOST_REQUIRE(!r);
    BOOST_TEST((r.error() == errc::timeout));
    BOOST_TEST(mentions(r.error(), "peer taken as dead"));
    // The server side: a client that stops reading after the handshake.
    bws::stream<boost::beast::tcp_stream> mute(co_await asio::this_coro::executor);
    co_await boost::beast::get_lowest_layer(mute).async_connect(loopback(s.srv.port()), asio::use_awaitable);
    co_await mute.async_handshake("127.0.0.1", "/", asio::use_awaitable);
    BOOST_TEST(co_await eventually([&] { return !s.ended.empty(); }));
    if (!s.ended.empty()) BOOST_TEST((s.ended[0] == errc::timeout));
    release.cancel();
    silent.stop();
    co_await s.srv.shutdown();
  }());
}

BOOST_AUTO_TEST_CASE(heartbeat_keeps_a_quiet_peer_that_answers) {
  asio::io_context io;
  ws::server_options so;
  so.idle_timeout = 300ms;
  ws_served s(io, so);
  test::run(io, [&]() -> asio::awaitable<void> {
    ws::client_options o;
    o.idle_timeout = 300ms;
    o.reconnect = false;
    ws::client c(io.get_executor(), s.url(), o);
    BOOST_REQUIRE(co_await c.connect());
    // Four idle timeouts without a message either way: each side's pings are answered. Real
    // time: the heartbeat is an Asio timer and the pings cross a real socket, which intg's manual
    // clock does not drive; there is no event to wait on, since the point is that none happens.
    co_await sleep_for(1200ms);
    BOOST_REQUIRE(c.current());
    BOOST_TEST(c.current()->is_open());
    BOOST_TEST(s.ended.empty());
    BOOST_REQUIRE(co_await c.send("still here"));
    auto m = co_await c.receive();
    BOOST_REQUIRE(m);
    BOOST_TEST(m->data == "still here");
    BOOST_TEST(c.current()->stats().messages_received == 1u);  // the pongs are not messages
    co_await c.close();
    co_await s.srv.shutdown();
  }());
}

BOOST_AUTO_TEST_CASE(batching_stream_writes_a_batch_at_once_in_order) {
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    std::size_t writes = 0;
    auto [b, peer] = co_await batching_pair(&writes);
    // Corked: a hundred asynchronous writes and a synchronous one complete with no write below.
    b->cork();
    std::string expected;
    for (int i = 0; i < 100; ++i) {
      const std::string piece = "piece " + std::to_string(i) + "|";
      const auto n = co_await asio::async_write(*b, asio::buffer(piece), asio::use_awaitable);
      BOOST_TEST(n == piece.size());
      expected += piece;
    }
    boost::system::error_code ec;
    BOOST_TEST(b->write_some(asio::buffer(std::string_view("sync|")), ec) == 5u);
    BOOST_TEST(!ec);
    expected += "sync|";
    BOOST_TEST(writes == 0u);
    BOOST_TEST(b->buffered() == expected.size());
    // The flush: one write for all of it, in order.
    auto [fec] = co_await b->async_flush(asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(!fec);
    BOOST_TEST(writes == 1u);
    BOOST_TEST(b->idle());
    BOOST_TEST(co_await read_exactly(peer, expected.size()) == expected);
    // Uncorked and idle: straight through, nothing buffered.
    co_await asio::async_write(*b, asio::buffer(std::string_view("direct")), asio::use_awaitable);
    BOOST_TEST(writes == 2u);
    BOOST_TEST(b->buffered() == 0u);
    BOOST_TEST(co_await read_exactly(peer, 6) == "direct");
    // A write straight through still in flight while the writer's synchronous writes come: they
    // are buffered, and follow it when it ends (a second write alongside it would interleave
    // their bytes with what it has yet to write).
    const std::string first(4 * 1024 * 1024, '1');
    std::size_t first_took = 0;
    bool first_done = false;
    b->async_write_some(asio::buffer(first), [&](boost::system::error_code wec, std::size_t n) {
      BOOST_TEST(!wec);
      first_took = n;  // a write_some: what the socket took, up to all of it
      first_done = true;
    });
    b->cork();
    BOOST_TEST(b->write_some(asio::buffer(std::string_view("second")), ec) == 6u);
    b->uncork();
    BOOST_TEST(b->buffered() == 6u);  // not written alongside the write in flight
    BOOST_TEST(!b->idle());
    BOOST_REQUIRE(co_await eventually([&] { return first_done; }));
    BOOST_TEST(first_took > 0u);
    auto reading_both = start_now(io, read_exactly(peer, first_took + 6));
    co_await b->async_flush(asio::use_awaitable);
    BOOST_REQUIRE(co_await eventually([&] { return reading_both->has_value(); }));
    BOOST_TEST((**reading_both == first.substr(0, first_took) + "second"));
    // Corked, a write larger than a batch: taken in parts of at most batch_bytes, each part written
    // once the buffer is full; memory stays bounded and the bytes arrive whole.
    std::string large(200 * 1024 + 7, '\0');
    for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i % 253);
    b->cork();
    auto reading = start_now(io, read_exactly(peer, large.size()));
    co_await asio::async_write(*b, asio::buffer(large), asio::use_awaitable);
    BOOST_TEST(b->buffered() <= batching::batch_bytes);
    co_await b->async_flush(asio::use_awaitable);
    BOOST_REQUIRE(co_await eventually([&] { return reading->has_value(); }));
    BOOST_TEST((**reading == large));
    BOOST_TEST(writes >= 2u + large.size() / batching::batch_bytes);
    // A small write (a control frame) is taken whole, even by a buffer with less room left.
    b->cork();
    const std::string fill(batching::batch_bytes - 10, 'f'), ping(100, 'p');
    co_await asio::async_write(*b, asio::buffer(fill), asio::use_awaitable);
    BOOST_TEST(b->buffered() == fill.size());
    BOOST_TEST(co_await b->async_write_some(asio::buffer(ping), asio::use_awaitable) == ping.size());  // not 10
    reading = start_now(io, read_exactly(peer, fill.size() + ping.size()));
    co_await b->async_flush(asio::use_awaitable);
    BOOST_REQUIRE(co_await eventually([&] { return reading->has_value(); }));
    BOOST_TEST((**reading == fill + ping));
  }());
}

BOOST_AUTO_TEST_CASE(batching_stream_fails_every_later_write_after_a_failed_flush) {
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    std::size_t writes = 0;
    auto [b, peer] = co_await batching_pair(&writes);
    peer.close();
    // Writing to a closed peer fails once its reset has come back: on loopback, by the next batch
    // (each flush completes through the executor, so the reset is in before the next write).
    const std::string chunk(16 * 1024, 'x');
    boost::system::error_code failed;
    for (int i = 0; i < 100 && !failed; ++i) {
      b->cork();
      auto [wec, n] = co_await asio::async_write(*b, asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
      if (wec) failed = wec;
      if (!failed) std::tie(failed) = co_await b->async_flush(asio::as_tuple(asio::use_awaitable));
    }
    BOOST_REQUIRE(failed);
    // The error sticks: later writes, synchronous and asynchronous, corked or not, and flushes fail.
    auto [again, n] = co_await b->async_write_some(asio::buffer(chunk), asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(again == failed);
    BOOST_TEST(n == 0u);
    boost::system::error_code sync;
    BOOST_TEST(b->write_some(asio::buffer(chunk), sync) == 0u);
    BOOST_TEST(sync == failed);
    auto [fec] = co_await b->async_flush(asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(fec == failed);
    BOOST_TEST(b->idle());
  }());
}

BOOST_AUTO_TEST_CASE(batching_stream_teardown_writes_what_is_buffered_first) {
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    std::size_t writes = 0;
    auto [b, peer] = co_await batching_pair(&writes);
    b->cork();
    co_await asio::async_write(*b, asio::buffer(std::string_view("last words")), asio::use_awaitable);
    BOOST_TEST(writes == 0u);
    // As a server: the buffered bytes, then the end of the stream; the teardown then reads until
    // the peer closes too.
    auto tearing = start_now(io, [&]() -> asio::awaitable<boost::system::error_code> {
      auto [ec] = co_await async_teardown(boost::beast::role_type::server, *b, asio::as_tuple(asio::use_awaitable));
      co_return ec;
    }());
    asio::streambuf buf;
    const std::string all = co_await read_to_end(peer, buf);  // until the teardown's shutdown
    BOOST_TEST(all == "last words");
    BOOST_TEST(!tearing->has_value());  // still waiting for this side to close
    peer.close();
    BOOST_REQUIRE(co_await eventually([&] { return tearing->has_value(); }));
    const auto ec = **tearing;
    BOOST_TEST((!ec || ec == asio::error::eof || ec == asio::error::connection_reset), ec.message());
  }());
}

BOOST_AUTO_TEST_CASE(a_burst_of_mixed_sizes_arrives_whole_and_in_order) {
  // Batches of small messages, messages larger than a batch written on their own, and empty ones,
  // masked by the client and echoed by the server, both ways through their batching layers.
  asio::io_context io;
  ws_served s(io);
  test::run(io, [&]() -> asio::awaitable<void> {
    ws::client_options o;
    o.send_queue_messages = 1000;
    o.send_queue_bytes = 64 * 1024 * 1024;
    o.receive_queue_messages = 1000;
    ws::client c(io.get_executor(), s.url(), o);
    BOOST_REQUIRE(co_await c.connect());
    const std::size_t sizes[] = {0, 1, 125, 126, 65535, 65536, 70000, 5, 16 * 1024, 200 * 1024};
    auto body = [](std::size_t i, std::size_t size) {
      std::string m(size, '\0');
      for (std::size_t k = 0; k < size; ++k) m[k] = static_cast<char>((i * 31 + k) % 251);
      return m;
    };
    constexpr std::size_t count = 300;
    for (std::size_t i = 0; i < count; ++i) BOOST_REQUIRE(c.try_send(body(i, sizes[i % std::size(sizes)]), ws::message_kind::binary));
    for (std::size_t i = 0; i < count; ++i) {
      auto m = co_await c.receive();
      BOOST_REQUIRE(m);
      BOOST_TEST((m->data == body(i, sizes[i % std::size(sizes)])), "message " << i);
    }
    BOOST_TEST(c.current()->stats().messages_sent == count);
    BOOST_REQUIRE(co_await c.close());
    co_await s.srv.shutdown();
  }());
}

BOOST_AUTO_TEST_CASE(bounded_send_queue) {
  asio::io_context io;
  ws_served s(io);
  test::run(io, [&]() -> asio::awaitable<void> {
    ws::client_options o;
    o.send_queue_messages = 4;
    o.send_timeout = 0ms;
    ws::client c(io.get_executor(), s.url(), o);
    BOOST_REQUIRE(co_await c.connect());
    // Nothing is written while this coroutine does not suspend: the queue fills at 4.
    int queued = 0;
    std::optional<intg::error> refused;
    for (int i = 0; i < 10 && !refused; ++i) {
      auto r = c.try_send("m" + std::to_string(i));
      if (r) ++queued;
      else refused = r.error();
    }
    BOOST_TEST(queued == 4);
    BOOST_REQUIRE(refused);
    BOOST_TEST(mentions(*refused, "send queue full (4 messages"));
    BOOST_TEST(c.current()->stats().queued_messages == 4u);
    auto waited = co_await c.send("fifth");  // send_timeout 0: no waiting either
    BOOST_TEST((!waited && waited.error() == errc::unavailable));
    BOOST_TEST(c.current()->stats().send_queue_full == 2u);
    for (int i = 0; i < 4; ++i) {
      auto m = co_await c.receive();
      BOOST_REQUIRE(m);
      BOOST_TEST(m->data == "m" + std::to_string(i));
    }
    BOOST_TEST(c.current()->stats().queued_messages == 0u);
    // With a send_timeout, send() waits for room instead (backpressure), then goes through.
    ws::client_options patient;
    patient.send_queue_messages = 2;
    patient.send_queue_bytes = 100;
    ws::client d(io.get_executor(), s.url(), patient);
    BOOST_REQUIRE(co_await d.connect());
    const std::string eighty(80, 'b');
    BOOST_TEST(d.try_send(eighty).has_value());
    BOOST_TEST(!d.try_send(eighty).has_value());  // the byte bound
    BOOST_TEST((co_await d.send(eighty)).has_value());  // waits until the first one is written
    for (int i = 0; i < 2; ++i) {
      auto m = co_await d.receive();
      BOOST_REQUIRE(m);
      BOOST_TEST(m->data == eighty);
    }
    co_await c.close();
    co_await d.close();
    co_await s.srv.shutdown();
  }());
}

BOOST_AUTO_TEST_CASE(reconnect_and_resubscribe_after_the_server_restarts) {
  asio::io_context io;
  auto first = std::make_unique<ws_served>(io);
  const auto port = first->srv.port();
  std::unique_ptr<ws_served> second;
  test::run(io, [&]() -> asio::awaitable<void> {
    ws::client_options o;
    o.reconnect_backoff.base_delay = 20ms;
    o.reconnect_backoff.max_delay = 200ms;
    o.send_timeout = 100ms;
    ws::client c(io.get_executor(), first->url(), o);
    int hooks = 0;
    c.on_connect([&](ws::connection& conn) -> asio::awaitable<intg::result<void>> {
      ++hooks;
      co_return co_await conn.send("subscribe");
    });
    BOOST_REQUIRE(co_await c.connect());
    auto a = co_await c.receive();
    BOOST_REQUIRE(a);
    BOOST_TEST(a->data == "subscribed");
    co_await first->srv.shutdown();  // closes with 1001
    BOOST_TEST(co_await eventually([&] { return !c.connected(); }));
    // While no server listens, a send fails after send_timeout and says it is reconnecting.
    auto lost = co_await c.send("lost");
    BOOST_TEST((!lost && mentions(lost.error(), "reconnecting")));
    // The server comes back on the same port a little later; receive() waits through the outage.
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      co_await sleep_for(150ms);
      second = std::make_unique<ws_served>(io, ws::server_options{}, port);
    }, asio::detached);
    auto b = co_await c.receive();
    BOOST_REQUIRE(b);
    BOOST_TEST(b->data == "subscribed");  // the hook ran again before anything else
    BOOST_TEST(hooks == 2);
    BOOST_TEST(c.stats().reconnects == 1u);
    BOOST_TEST(c.stats().connect_failures >= 1u);
    BOOST_REQUIRE(second);
    BOOST_TEST(second->subscriptions == 1);
    BOOST_REQUIRE(co_await c.send("after"));
    auto e = co_await c.receive();
    BOOST_REQUIRE(e);
    BOOST_TEST(e->data == "after");
    BOOST_REQUIRE(co_await c.close());
    auto closed = co_await c.send("x");  // no reconnection after close()
    BOOST_TEST((!closed && closed.error() == errc::cancelled));
    co_await second->srv.shutdown();
  }());
}

BOOST_AUTO_TEST_CASE(tls_verifies_the_server) {
  asio::io_context io;
  test::test_pki pki;
  const auto pem = pki.leaf("localhost", "DNS:localhost,IP:127.0.0.1");
  ws::server_options so;
  so.tls = intg::http::make_server_tls_context(pem.cert, pem.key).value();
  ws_served s(io, so);
  test::run(io, [&]() -> asio::awaitable<void> {
    const std::string url = "wss://localhost:" + std::to_string(s.srv.port()) + "/";
    ws::client_options o;
    o.tls.ca_pem = pki.ca_pem();
    ws::client c(io.get_executor(), url, o);
    BOOST_REQUIRE(co_await c.connect());
    BOOST_REQUIRE(co_await c.send("over TLS"));
    auto m = co_await c.receive();
    BOOST_REQUIRE(m);
    BOOST_TEST(m->data == "over TLS");
    BOOST_REQUIRE(co_await c.close());
    ws::client_options system_store;  // the throwaway CA is not in it
    system_store.reconnect = false;
    ws::client untrusted(io.get_executor(), url, system_store);
    auto r = co_await untrusted.connect();
    BOOST_REQUIRE(!r);
    BOOST_TEST(mentions(r.error(), "certificate rejected"));
    co_await s.srv.shutdown();
  }());
}

BOOST_AUTO_TEST_CASE(no_secrets_in_errors) {
  asio::io_context io;
  try {
    ws::client bad(io.get_executor(), "ws://user:SECRET-PW@127.0.0.1/");
    BOOST_FAIL("userinfo accepted");
  } catch (const intg::exception& e) {
    BOOST_TEST(std::string(e.what()).find("SECRET") == std::string::npos);
    BOOST_TEST(std::string(e.what()).find("userinfo") != std::string::npos);
  }
  BOOST_CHECK_THROW(ws::client(io.get_executor(), "http://127.0.0.1/"), intg::exception);
  ws::server_options so;
  so.allowed_origins = {"https://app.example"};
  ws_served s(io, so);
  test::run(io, [&]() -> asio::awaitable<void> {
    ws::client_options o;
    o.headers = {{"Authorization", "Bearer SECRET-BEARER"}};
    o.origin = "https://other.example";
    o.reconnect = false;
    ws::client nobody(io.get_executor(), "ws://127.0.0.1:1/feed?token=SECRET-TOKEN", o);
    auto r = co_await nobody.connect();
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.error().to_string().find("SECRET") == std::string::npos);
    ws::client refused(io.get_executor(), s.url("/feed?token=SECRET-TOKEN"), o);
    auto f = co_await refused.connect();
    BOOST_REQUIRE(!f);
    BOOST_TEST(f.error().http_status() == 403);
    BOOST_TEST(f.error().to_string().find("SECRET") == std::string::npos);
    co_await s.srv.shutdown();
  }());
}

BOOST_AUTO_TEST_CASE(message_channel_at_most_once) {
  static_assert(msg::channel<msg::websocket_channel<ws::client>>);
  static_assert(msg::websocket_channel<ws::client>::guarantee == msg::delivery_guarantee::at_most_once);
  static_assert(!msg::websocket_channel<ws::client>::confirms_publish);
  asio::io_context io;
  // The server side relays through a channel on its connection: key, headers and trace go back.
  ws::server srv(io.get_executor(), [](std::shared_ptr<ws::connection> c) -> asio::awaitable<void> {
    msg::websocket_channel<ws::connection> ch(*c);
    for (;;) {
      auto m = co_await ch.receive();
      if (!m) co_return;
      std::vector<msg::header_view> headers;
      for (const auto& h : m->headers) headers.push_back(msg::header_view{h.name, h.value});
      msg::outgoing_message out;
      out.payload = m->payload;
      out.key = m->key;
      out.headers = headers;
      auto sent = co_await ch.publish(out);
      auto acked = co_await ch.ack(*m);
      if (!sent || !acked) co_return;
    }
  });
  BOOST_REQUIRE(srv.listen("127.0.0.1", 0));
  srv.start();
  test::run(io, [&]() -> asio::awaitable<void> {
    ws::client c(io.get_executor(), "ws://127.0.0.1:" + std::to_string(srv.port()) + "/");
    BOOST_REQUIRE(co_await c.connect());
    msg::websocket_channel_options co;
    co.max_in_flight = 2;
    msg::websocket_channel<ws::client> ch(c, co);
    const std::array<msg::header_view, 1> headers{{{"content-type", "application/json"}}};
    const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    msg::outgoing_message out;
    out.payload = R"({"track":"4uLU6hMCjMI75M1A2tKUQC"})";
    out.key = "user-42";
    out.headers = headers;
    out.trace = intg::trace_context::parse_traceparent(traceparent);
    auto p = co_await ch.publish(out);
    BOOST_REQUIRE(p);
    BOOST_TEST(!p->confirmed);
    auto m = co_await ch.receive();
    BOOST_REQUIRE(m);
    BOOST_TEST(m->payload == out.payload);
    BOOST_TEST(m->key == "user-42");
    BOOST_TEST(m->header_value("content-type").value_or("") == "application/json");
    BOOST_TEST(m->header_value("traceparent").value_or("") == traceparent);
    BOOST_TEST(m->delivery_count == 1u);
    BOOST_TEST(ch.in_flight() == 1u);
    BOOST_TEST((co_await ch.ack(*m)).has_value());
    auto twice = co_await ch.ack(*m);
    BOOST_TEST((!twice && twice.error() == errc::invalid_argument));
    // The in-flight bound: the third receive waits until one is settled.
    msg::outgoing_message plain;
    plain.payload = "n";
    for (int i = 0; i < 3; ++i) BOOST_REQUIRE(co_await ch.publish(plain));
    auto r1 = co_await ch.receive();
    auto r2 = co_await ch.receive();
    BOOST_REQUIRE((r1 && r2));
    BOOST_TEST(ch.in_flight() == 2u);
    bool third = false;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      auto r3 = co_await ch.receive();
      third = static_cast<bool>(r3);
      if (r3) co_await ch.ack(*r3);
    }, asio::detached);
    co_await sleep_for(100ms);
    BOOST_TEST(!third);
    // No redelivery and no dead letters on WebSocket: the message is dropped and the error says so.
    auto requeue = co_await ch.nack(*r1, true);
    BOOST_TEST((!requeue && mentions(requeue.error(), "cannot be delivered again")));
    BOOST_TEST(co_await eventually([&] { return third; }));
    auto dl = co_await ch.dead_letter(*r2, "bad");
    BOOST_TEST((!dl && mentions(dl.error(), "no dead-letter destination")));
    BOOST_TEST(co_await eventually([&] { return ch.in_flight() == 0; }));
    BOOST_TEST(ch.stats().dropped == 2u);
    // What an envelope cannot carry is refused, not stripped.
    msg::websocket_channel_options raw;
    raw.envelope = msg::websocket_envelope::payload_only;
    msg::websocket_channel<ws::client> binary(c, raw);
    auto keyed = co_await binary.publish(out);
    BOOST_TEST((!keyed && keyed.error() == errc::invalid_argument));
    msg::outgoing_message not_utf8;
    not_utf8.payload = "\xff\x00\x01";
    auto json = co_await ch.publish(not_utf8);
    BOOST_TEST((!json && json.error() == errc::invalid_argument));
    BOOST_REQUIRE(co_await c.close());
    co_await srv.shutdown();
  }());
}

BOOST_AUTO_TEST_SUITE_END()
