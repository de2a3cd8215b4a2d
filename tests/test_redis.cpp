// intg::redis: the RESP3 parser and encoder on canned bytes, then the client against a real
// redis-server started by the CTest fixture redis_server (scripts/redis-test-server), which
// writes the port, the ACL user's password and the TLS CA to the file named by INTG_REDIS_ENV.
#define BOOST_TEST_MODULE intg_redis
#include <boost/test/unit_test.hpp>

#include <intg/redis.hpp>

#include "test_util.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>

namespace redis = intg::redis;
namespace resp3 = intg::redis::resp3;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// ---- the parser on canned bytes ----

// A readable rendering of a value, to compare parses.
std::string dump(resp3::value_ref v) {
  static constexpr const char* names[] = {"simple", "error", "int", "bulk", "array", "null", "bool", "double",
                                          "big", "bulkerr", "verbatim", "map", "set", "attr", "push"};
  std::string s = names[static_cast<int>(v.type())];
  if (v.is_aggregate()) {
    s += '[';
    for (auto c : v) s += dump(c) + ",";
    s += ']';
  } else if (!v.is_null()) {
    s += ':';
    s += v.str();
  }
  return s;
}

std::string dump_all(const resp3::response& r) {
  std::string s;
  for (std::size_t i = 0; i < r.size(); ++i) s += dump(r[i]) + "\n";
  return s;
}

// Feeds `bytes` to a parser in pieces ending at the given cut points, as a socket would deliver
// them, keeping unconsumed bytes for the next call. Returns every complete value.
intg::result<resp3::response> parse_pieces(std::string_view bytes, const std::vector<std::size_t>& cuts,
                                           resp3::limits lim = {}) {
  resp3::parser p(lim);
  resp3::response out;
  std::string pending;
  std::size_t from = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(bytes.size());
  for (std::size_t end : ends) {
    pending.append(bytes.substr(from, end - from));
    from = end;
    for (;;) {
      auto r = p.parse(pending, out);
      if (!r) return r.error();
      pending.erase(0, *r);
      if (!p.done() || pending.empty()) break;
    }
  }
  if (!pending.empty() || p.in_progress()) return redis::make_error(redis::errc::protocol_error, "incomplete");
  return out;
}

const std::string all_types =
    "+OK\r\n"
    "-ERR bad thing\r\n"
    ":-42\r\n"
    "$5\r\nhe\r\no\r\n"  // a bulk string may hold CR LF
    "$0\r\n\r\n"
    "$-1\r\n"
    "_\r\n"
    "#t\r\n"
    ",3.25e2\r\n"
    ",-inf\r\n"
    "(3492890328409238509324850943850943825024385\r\n"
    "!21\r\nSYNTAX invalid syntax\r\n"
    "=15\r\ntxt:Some string\r\n"
    "*3\r\n:1\r\n*0\r\n%1\r\n+k\r\n~2\r\n#f\r\n_\r\n"
    "%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n*1\r\n:2\r\n"
    "|1\r\n+ttl\r\n:3600\r\n*2\r\n:1\r\n|1\r\n+a\r\n+b\r\n:2\r\n"  // attributes, at the top and inside
    ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n";

const std::string all_types_dump =
    "simple:OK\n"
    "error:ERR bad thing\n"
    "int:-42\n"
    "bulk:he\r\no\n"
    "bulk:\n"
    "null\n"
    "null\n"
    "bool:t\n"
    "double:3.25e2\n"
    "double:-inf\n"
    "big:3492890328409238509324850943850943825024385\n"
    "bulkerr:SYNTAX invalid syntax\n"
    "verbatim:Some string\n"
    "array[int:1,array[],map[simple:k,set[bool:f,null,],],]\n"
    "map[simple:first,int:1,bulk:second,array[int:2,],]\n"
    "array[int:1,int:2,]\n"
    "push[bulk:message,bulk:ch,bulk:hello,]\n";

}  // namespace

BOOST_AUTO_TEST_CASE(every_resp3_type_parses_whole_and_split_at_every_byte) {
  auto whole = parse_pieces(all_types, {});
  BOOST_TEST_REQUIRE(whole.has_value(), whole.error().to_string());
  BOOST_TEST(dump_all(*whole) == all_types_dump);
  for (std::size_t cut = 1; cut < all_types.size(); ++cut) {
    auto r = parse_pieces(all_types, {cut});
    BOOST_TEST_REQUIRE(r.has_value(), "cut at " << cut);
    BOOST_TEST(dump_all(*r) == all_types_dump, "cut at " << cut);
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t i = 1; i < all_types.size(); ++i) every_byte.push_back(i);
  auto bytewise = parse_pieces(all_types, every_byte);
  BOOST_TEST_REQUIRE(bytewise.has_value());
  BOOST_TEST(dump_all(*bytewise) == all_types_dump);
}

BOOST_AUTO_TEST_CASE(typed_reads_convert_or_say_what_they_found) {
  auto r = parse_pieces(all_types, {});
  BOOST_TEST_REQUIRE(r.has_value());
  BOOST_TEST((*r)[0].as_string().value() == "OK");
  BOOST_TEST((*r)[2].as_int().value() == -42);
  BOOST_TEST(!(*r)[5].as_optional_string().value().has_value());
  BOOST_TEST((*r)[7].as_bool().value());
  BOOST_TEST((*r)[12].as_string().value() == "Some string");
  auto pairs = (*r)[14].as_pairs();
  BOOST_TEST((pairs.has_error()));  // the second value is an array, not a string
  auto err = (*r)[1].as_string();
  BOOST_TEST_REQUIRE(err.has_error());
  BOOST_TEST((err.error() == redis::errc::server_error));
  BOOST_TEST(err.error().provider_code() == "ERR");
  BOOST_TEST(err.error().message() == "ERR bad thing");
  auto wrong = (*r)[13].as_int();
  BOOST_TEST_REQUIRE(wrong.has_error());
  BOOST_TEST((wrong.error() == redis::errc::unexpected_type));
  BOOST_TEST((wrong.error() == intg::condition::invalid_response));
  BOOST_TEST((*r)[13].size() == 3u);
  BOOST_TEST((*r)[13][2].as_pairs().has_error());  // {k: set}
  BOOST_TEST((*r)[15][0].as_int().value() == 1);   // the attribute before it is skipped
}

BOOST_AUTO_TEST_CASE(malformed_input_is_a_protocol_error) {
  const char* bad[] = {
      "?3\r\n",                 // unknown type byte (streamed aggregates are refused too)
      "+OK\n",                  // LF without CR
      "+O\rK\r\n",              // CR inside a line
      ":12a\r\n",               // not an integer
      ":\r\n",                  // empty integer
      ":99999999999999999999\r\n",  // beyond 64 bits
      "$-2\r\n",                // negative length
      "$+3\r\nabc\r\n",         // sign on a length
      "$3\r\nabcd\r\n",         // payload longer than announced
      "$3\r\nab\r\n\r\n",        // payload not followed by CRLF
      "*-3\r\n",                // negative count
      "%-1\r\n",                // null maps do not exist
      "#x\r\n",                 // boolean
      "_x\r\n",                 // null with data
      ",1.2.3\r\n",             // double
      ",e5\r\n",                // double without digits
      "(12x\r\n",               // big number
      "=3\r\ntxt\r\n",          // verbatim without format prefix
      "\r\n",                   // empty line
  };
  for (const char* in : bad) {
    auto r = parse_pieces(in, {});
    BOOST_TEST_REQUIRE(r.has_error(), "accepted: " << in);
    BOOST_TEST((r.error() == redis::errc::protocol_error), in << ": " << r.error().to_string());
  }
  // Once failed, a parser stays failed until reset.
  resp3::parser p;
  resp3::response out;
  BOOST_TEST(p.parse("!x\r\n", out).has_error());
  BOOST_TEST(p.parse("+OK\r\n", out).has_error());
  p.reset();
  out.clear();
  BOOST_TEST(p.parse("+OK\r\n", out).value() == 5u);
  BOOST_TEST(p.done());
}

BOOST_AUTO_TEST_CASE(truncated_input_waits_for_more_without_error) {
  for (std::size_t n = 1; n < all_types.size(); ++n) {
    resp3::parser p;
    resp3::response out;
    std::string s = all_types.substr(0, n);
    std::size_t used = 0;
    for (;;) {
      auto r = p.parse(std::string_view(s).substr(used), out);
      BOOST_TEST_REQUIRE(r.has_value(), "prefix " << n);
      used += *r;
      if (!p.done()) break;
    }
    BOOST_TEST(used <= n);
  }
}

BOOST_AUTO_TEST_CASE(oversized_and_hostile_input_is_refused_before_allocating) {
  resp3::limits lim;
  lim.max_bulk_length = 1024;
  lim.max_aggregate_size = 100;
  lim.max_depth = 4;
  lim.max_line_length = 64;
  lim.max_reply_size = 4096;
  auto refused = [&](std::string in, bool announced_only = true) {
    resp3::parser p(lim);
    resp3::response out;
    auto r = p.parse(in, out);
    BOOST_TEST_REQUIRE(r.has_error(), "accepted: " << in.substr(0, 40));
    BOOST_TEST((r.error() == redis::errc::limit_exceeded), r.error().to_string());
    if (announced_only) {  // nothing of the announced size was reserved
      BOOST_TEST(out.data().size() < 128u);
      BOOST_TEST(out.nodes().capacity() < 64u);
    }
  };
  refused("$1025\r\n");                          // announced, not sent: refused at the header
  refused("$999999999999999999\r\n");
  refused("!2000\r\n");
  refused("*101\r\n");
  refused("%51\r\n");                            // 51 pairs are 102 elements
  refused(">9223372036854775807\r\n");
  refused("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"); // depth 5
  refused("+" + std::string(100, 'x'));          // no line end within max_line_length
  refused("+" + std::string(100, 'x') + "\r\n");
  std::string many = "*100\r\n";
  for (int i = 0; i < 100; ++i) many += "$50\r\n" + std::string(50, 'y') + "\r\n";
  refused(many, false);                           // each part allowed, the whole over max_reply_size
  // Within the limits a large aggregate is fine, and memory follows what arrived, not what was announced.
  resp3::parser p;
  resp3::response out;
  BOOST_TEST(p.parse("*1000000\r\n:1\r\n", out).has_value());
  BOOST_TEST(!p.done());
  BOOST_TEST(out.nodes().capacity() < 64u);
  // Deep nesting at the default limit (32) is refused too.
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "*1\r\n";
  resp3::parser d;
  resp3::response dout;
  BOOST_TEST((d.parse(deep, dout).error() == redis::errc::limit_exceeded));
}

BOOST_AUTO_TEST_CASE(requests_encode_arrays_of_bulk_strings_at_their_exact_size) {
  const std::string key = "k";
  const std::vector<std::pair<std::string, std::string>> fields{{"f1", "v1"}, {"f2", ""}};
  redis::request one("SET", key, "v\r\n", 60);
  BOOST_TEST(one.payload() == "*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n$2\r\n60\r\n");
  BOOST_TEST(one.commands() == 1u);
  redis::request many;
  many.push("PING").push("XADD", "s", "*", fields).push("DEL", std::vector<std::string>{"a", "b"});
  BOOST_TEST(many.commands() == 3u);
  BOOST_TEST(many.payload() ==
             "*1\r\n$4\r\nPING\r\n"
             "*7\r\n$4\r\nXADD\r\n$1\r\ns\r\n$1\r\n*\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$0\r\n\r\n"
             "*3\r\n$3\r\nDEL\r\n$1\r\na\r\n$1\r\nb\r\n");
  // One command in an empty request allocates exactly its size.
  redis::request exact("GET", std::string(100, 'z'));
  BOOST_TEST(exact.payload().size() == 4 + 9 + 6 + 100 + 2);
  BOOST_TEST(!exact.has_pubsub());
  BOOST_TEST(redis::request("subscribe", "x").has_pubsub());
  const intg::secret pw("hunter2");
  BOOST_TEST(redis::request("AUTH", "u", pw).payload().find("hunter2") != std::string_view::npos);
}

BOOST_AUTO_TEST_CASE(options_read_integration_settings_and_refuse_bad_types) {
  auto o = redis::options::from_json(boost::json::parse(R"({"host":"cache.internal","port":6380,"username":"app",
      "password":"s3cret","db":2,"tls":true,"tls_ca_file":"/ca.pem","command_timeout_ms":250})").as_object());
  BOOST_TEST_REQUIRE(o.has_value());
  BOOST_TEST(o->host == "cache.internal");
  BOOST_TEST(o->port == 6380);
  BOOST_TEST(o->password.reveal() == "s3cret");
  BOOST_TEST(o->db == 2);
  BOOST_TEST(o->tls);
  BOOST_TEST(o->tls_options.ca_file == "/ca.pem");
  BOOST_TEST(o->command_timeout.count() == 250);
  auto bad = redis::options::from_json(boost::json::parse(R"({"port":"6379"})").as_object());
  BOOST_TEST_REQUIRE(bad.has_error());
  BOOST_TEST((bad.error() == intg::errc::config_error));
  BOOST_TEST(bad.error().json_path() == "$.settings.port");
  BOOST_TEST(redis::options::from_json(boost::json::parse(R"({"port":70000})").as_object()).has_error());
  intg::integration_config c;
  c.timeout = 1234ms;
  c.settings = boost::json::parse(R"({"password":"x"})").as_object();
  BOOST_TEST(redis::options::from_config(c)->command_timeout.count() == 1234);
  BOOST_TEST(c.redacted_settings().at("password").as_string() == "***");
}

BOOST_AUTO_TEST_CASE(script_sha1_is_computed_locally) {
  redis::script s("return 1");
  BOOST_TEST(s.sha1() == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");  // SCRIPT LOAD "return 1"
}

// ---- against redis-server ----

namespace {

struct server_env {
  std::map<std::string, std::string> vars;
  bool available = false;
  std::string get(const std::string& k) const {
    auto it = vars.find(k);
    return it == vars.end() ? std::string() : it->second;
  }
  std::uint16_t port(const char* k = "INTG_REDIS_PORT") const { return static_cast<std::uint16_t>(std::stoi(get(k))); }
};

const server_env& env() {
  static const server_env e = [] {
    server_env s;
    const char* path = std::getenv("INTG_REDIS_ENV");
    if (!path) return s;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
      if (auto eq = line.find('='); eq != std::string::npos) s.vars[line.substr(0, eq)] = line.substr(eq + 1);
    s.available = !s.get("INTG_REDIS_PORT").empty();
    return s;
  }();
  return e;
}

struct server_available {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
#ifdef INTG_REDIS_REQUIRED
    return true;  // INTG_REQUIRE_ALL_TESTS: a missing server fails the test instead of skipping it
#else
    boost::test_tools::assertion_result r(env().available);
    if (!env().available) r.message() << "no redis-server (INTG_REDIS_ENV unset or its file empty): skipped";
    return r;
#endif
  }
};

redis::options server_options(std::uint16_t port = 0) {
  BOOST_TEST_REQUIRE(env().available, "the redis_server fixture did not start a server (INTG_REDIS_ENV)");
  redis::options o;
  o.port = port ? port : env().port();
  o.username = env().get("INTG_REDIS_USER");
  o.password = intg::secret(env().get("INTG_REDIS_PASSWORD"));
  o.command_timeout = 5s;
  return o;
}

// Waits until a TCP port accepts connections (a restarted server).
void wait_for_port(std::uint16_t port) {
  for (int i = 0; i < 100; ++i) {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    boost::system::error_code ec;
    s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
    if (!ec) return;
    std::this_thread::sleep_for(50ms);
  }
  BOOST_FAIL("port " << port << " did not open");
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::use_awaitable);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(against_redis_server, *boost::unit_test::precondition(server_available()))

BOOST_AUTO_TEST_CASE(a_wrong_password_is_refused_with_a_clear_error_that_never_shows_it) {
  auto o = server_options();
  o.password = intg::secret("not-the-password-4711");
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    redis::connection conn(io.get_executor(), o);
    auto r = co_await conn.execute("PING");
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST((r.error() == intg::errc::unauthorized), r.error().to_string());
    BOOST_TEST((r.error() == intg::condition::unauthorized));
    BOOST_TEST(r.error().to_string().find("not-the-password-4711") == std::string::npos);
    BOOST_TEST(r.error().to_string().find("WRONGPASS") != std::string::npos);
    BOOST_TEST(r.error().to_string().find("'intg'") != std::string::npos);
  }());
}

BOOST_AUTO_TEST_CASE(set_get_incr_and_typed_replies) {
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto o = server_options();
    o.client_name = "intg-test";
    redis::connection conn(io.get_executor(), o);
    const std::string key = "test:basic", value("v\r\nwith\0bytes", 13);
    auto del = co_await conn.execute("DEL", key, "test:counter");
    BOOST_TEST_REQUIRE(del.has_value(), del.error().to_string());
    auto set = co_await conn.execute("SET", key, value);
    BOOST_TEST_REQUIRE(set.has_value());
    BOOST_TEST(set->front().as_string().value() == "OK");
    auto get = co_await conn.execute("GET", key);
    BOOST_TEST(get->front().as_string().value() == value);
    auto missing = co_await conn.execute("GET", "test:missing");
    BOOST_TEST(!missing->front().as_optional_string().value().has_value());
    for (int i = 0; i < 3; ++i) (void)co_await conn.execute("INCR", "test:counter");
    auto n = co_await conn.execute("INCRBY", "test:counter", 10);
    BOOST_TEST(n->front().as_int().value() == 13);
    auto name = co_await conn.execute("CLIENT", "GETNAME");
    BOOST_TEST(name->front().as_string().value() == "intg-test");
    (void)co_await conn.execute("HSET", "test:hash", "a", "1", "b", "2");
    auto all = co_await conn.execute("HGETALL", "test:hash");
    BOOST_TEST((all->front().type() == resp3::type::map));  // RESP3: a map, not a flat array
    BOOST_TEST(all->front().as_pairs().value().size() == 2u);
    auto wrong = co_await conn.execute("INCR", key);
    BOOST_TEST_REQUIRE(wrong.has_error());
    BOOST_TEST((wrong.error() == redis::errc::server_error));
    BOOST_TEST(wrong.error().provider_code() == "ERR");
    auto pubsub_refused = co_await conn.execute(redis::request("SUBSCRIBE", "x"));
    BOOST_TEST((pubsub_refused.error() == intg::errc::invalid_argument));
    BOOST_TEST(conn.stats().connects == 1u);
  }());
}

BOOST_AUTO_TEST_CASE(a_thousand_command_pipeline_goes_in_one_write) {
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    redis::connection conn(io.get_executor(), server_options());
    (void)co_await conn.execute("DEL", "test:pipe");
    const auto writes_before = conn.stats().writes;
    redis::request req;
    for (int i = 0; i < 1000; ++i) req.push("INCR", "test:pipe");
    req.push("GET", "nope").push("LPUSH", "test:pipe", "x");  // a null and an error among them
    auto r = co_await conn.execute(req);
    BOOST_TEST_REQUIRE(r.has_value(), r.error().to_string());
    BOOST_TEST_REQUIRE(r->size() == 1002u);
    bool in_order = true;
    for (int i = 0; i < 1000; ++i) in_order &= (*r)[i].as_int().value() == i + 1;
    BOOST_TEST(in_order);
    BOOST_TEST((*r)[1000].is_null());
    BOOST_TEST((*r)[1001].is_error());  // WRONGTYPE: an error value, the others are kept
    BOOST_TEST(conn.stats().writes - writes_before == 1u);
  }());
}

BOOST_AUTO_TEST_CASE(concurrent_callers_are_pipelined_and_bounded_by_max_in_flight) {
  // (An open connection keeps its io_context busy reading, as a socket does: each test's
  // connections live inside the coroutine that test::run waits for.)
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto o = server_options();
    o.max_in_flight = 4;
    redis::connection conn(io.get_executor(), o);
    (void)co_await conn.execute("DEL", "test:conc");
    std::size_t max_seen = 0, ok = 0, finished = 0;
    for (int i = 0; i < 200; ++i)
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        max_seen = std::max(max_seen, conn.in_flight());
        auto r = co_await conn.execute("INCR", "test:conc");
        max_seen = std::max(max_seen, conn.in_flight());
        if (r && r->front().as_int()) ++ok;
        ++finished;
      }, asio::detached);
    for (int i = 0; i < 500 && finished < 200; ++i) co_await sleep_for(10ms);
    BOOST_TEST(ok == 200u);
    BOOST_TEST(max_seen <= 4u);
    BOOST_TEST(conn.stats().writes < 200u);  // callers' commands shared writes
    auto total = co_await conn.execute("GET", "test:conc");
    BOOST_TEST(total->front().as_int().value() == 200);
  }());
}

BOOST_AUTO_TEST_CASE(pubsub_with_patterns_and_a_push_between_replies) {
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    redis::connection sub(io.get_executor(), server_options());
    redis::connection pub(io.get_executor(), server_options());
    const std::vector<std::string> channels{"test:chan"}, patterns{"test:news.*"};
    auto s1 = co_await sub.subscribe(channels);
    BOOST_TEST_REQUIRE(s1.has_value(), s1.error().to_string());
    auto s2 = co_await sub.psubscribe(patterns);
    BOOST_TEST_REQUIRE(s2.has_value());
    auto n = co_await pub.execute("PUBLISH", "test:news.sport", "goal");
    BOOST_TEST(n->front().as_int().value() == 1);
    auto m = co_await sub.receive(5s);
    BOOST_TEST_REQUIRE(m.has_value(), m.error().to_string());
    BOOST_TEST(m->kind == "pmessage");
    BOOST_TEST(m->pattern == "test:news.*");
    BOOST_TEST(m->channel == "test:news.sport");
    BOOST_TEST(m->payload == "goal");
    // The subscriber publishes to itself in a pipeline: the push arrives between PUBLISH's reply
    // and PING's, and each reply still goes to its own command.
    redis::request req;
    req.push("PUBLISH", "test:chan", "to-myself").push("PING", "after").push("ECHO", "last");
    auto r = co_await sub.execute(req);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST((*r)[0].as_int().value() == 1);
    BOOST_TEST((*r)[1].as_string().value() == "after");
    BOOST_TEST((*r)[2].as_string().value() == "last");
    auto m2 = co_await sub.receive(5s);
    BOOST_TEST_REQUIRE(m2.has_value());
    BOOST_TEST(m2->kind == "message");
    BOOST_TEST(m2->channel == "test:chan");
    BOOST_TEST(m2->payload == "to-myself");
    auto u = co_await sub.unsubscribe(channels);
    BOOST_TEST(u.has_value());
    auto n2 = co_await pub.execute("PUBLISH", "test:chan", "nobody");
    BOOST_TEST(n2->front().as_int().value() == 0);
    auto none = co_await sub.receive(100ms);
    BOOST_TEST((none.error() == intg::errc::timeout));
  }());
}

BOOST_AUTO_TEST_CASE(a_full_inbox_drops_new_messages_and_counts_them) {
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto o = server_options();
    o.max_queued_messages = 2;
    redis::connection sub(io.get_executor(), o);
    const std::vector<std::string> channels{"test:flood"};
    (void)co_await sub.subscribe(channels);
    redis::request req;
    for (int i = 0; i < 5; ++i) req.push("PUBLISH", "test:flood", i);
    auto r = co_await sub.execute(req);  // its replies come after the pushes: all were read
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(sub.stats().messages == 5u);
    BOOST_TEST(sub.stats().messages_dropped == 3u);
    BOOST_TEST((co_await sub.receive(1s))->payload == "0");  // the oldest are kept
    BOOST_TEST((co_await sub.receive(1s))->payload == "1");
  }());
}

BOOST_AUTO_TEST_CASE(subscriptions_are_restored_after_the_connection_is_lost) {
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    redis::connection sub(io.get_executor(), server_options());
    redis::connection admin(io.get_executor(), server_options());
    const std::vector<std::string> channels{"test:restore"};
    (void)co_await sub.subscribe(channels);
    // The subscriber's connection is killed by the server; receive() reconnects and resubscribes.
    auto killed = co_await admin.execute("CLIENT", "KILL", "TYPE", "pubsub");
    BOOST_TEST(killed->front().as_int().value() >= 1);
    using namespace asio::experimental::awaitable_operators;
    std::optional<intg::result<redis::message>> got;
    auto receiver = [&]() -> asio::awaitable<void> {
      for (;;) {
        auto m = co_await sub.receive(5s);
        if (m || m.error() == intg::errc::timeout) {
          got = std::move(m);
          co_return;
        }  // the loss itself may surface once; the next receive() reconnects
      }
    };
    auto publisher = [&]() -> asio::awaitable<void> {
      for (int i = 0; i < 100 && !got; ++i) {
        (void)co_await admin.execute("PUBLISH", "test:restore", "back");
        co_await sleep_for(50ms);
      }
    };
    co_await (receiver() && publisher());
    BOOST_TEST_REQUIRE(got.has_value());
    BOOST_TEST_REQUIRE(got->has_value());
    BOOST_TEST((*got)->payload == "back");
    BOOST_TEST(sub.stats().connects == 2u);
  }());
}

BOOST_AUTO_TEST_CASE(evalsha_falls_back_to_eval_on_noscript) {
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    redis::connection conn(io.get_executor(), server_options());
    (void)co_await conn.execute("SCRIPT", "FLUSH");
    redis::script s("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    (void)co_await conn.execute("DEL", "test:script");
    const std::vector<std::string> keys{"test:script"}, args{"5"};
    const auto before = conn.stats().commands;
    auto r = co_await redis::eval(conn, s, keys, args);
    BOOST_TEST_REQUIRE(r.has_value(), r.error().to_string());
    BOOST_TEST(r->front().as_int().value() == 5);
    BOOST_TEST(conn.stats().commands - before == 2u);  // EVALSHA (NOSCRIPT), then EVAL
    auto exists = co_await conn.execute("SCRIPT", "EXISTS", s.sha1());
    BOOST_TEST(exists->front()[0].as_int().value() == 1);
    auto again = co_await redis::eval(conn, s, keys, args);
    BOOST_TEST(again->front().as_int().value() == 10);
    BOOST_TEST(conn.stats().commands - before == 4u);  // EXISTS, then EVALSHA alone
    redis::script failing("return redis.error_reply('MYERR custom')");
    const std::vector<std::string> none;
    auto e = co_await redis::eval(conn, failing, none, none);
    BOOST_TEST_REQUIRE(e.has_error());
    BOOST_TEST(e.error().provider_code() == "MYERR");
  }());
}

BOOST_AUTO_TEST_CASE(streams_with_consumer_groups_and_xautoclaim_of_a_dead_consumer) {
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    redis::connection conn(io.get_executor(), server_options());
    (void)co_await conn.execute("DEL", "test:stream");
    auto created = co_await redis::xgroup_create(conn, "test:stream", "workers", "0");
    BOOST_TEST_REQUIRE(created.has_value(), created.error().to_string());
    BOOST_TEST(*created);
    auto again = co_await redis::xgroup_create(conn, "test:stream", "workers", "0");
    BOOST_TEST(!again.value());  // BUSYGROUP: it exists
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
      const std::vector<std::pair<std::string, std::string>> fields{{"n", std::to_string(i)}};
      auto id = co_await redis::xadd(conn, "test:stream", fields);
      BOOST_TEST_REQUIRE(id.has_value());
      ids.push_back(*id);
    }
    // "dead" takes two entries and never acknowledges them.
    auto dead = co_await redis::xreadgroup(conn, "workers", "dead", "test:stream", 2);
    BOOST_TEST_REQUIRE(dead.has_value(), dead.error().to_string());
    BOOST_TEST_REQUIRE(dead->size() == 2u);
    BOOST_TEST((*dead)[0].fields.at(0).second == "0");
    auto alive = co_await redis::xreadgroup(conn, "workers", "alive", "test:stream", 10, 100ms);
    BOOST_TEST_REQUIRE(alive->size() == 1u);
    BOOST_TEST((*alive)[0].id == ids[2]);
    const std::vector<std::string> acked{ids[2]};
    BOOST_TEST((co_await redis::xack(conn, "test:stream", "workers", acked)).value() == 1);
    auto empty = co_await redis::xreadgroup(conn, "workers", "alive", "test:stream", 10, 50ms);
    BOOST_TEST(empty->empty());  // BLOCK timed out: a null reply
    co_await sleep_for(100ms);
    auto claimed = co_await redis::xautoclaim(conn, "test:stream", "workers", "alive", 50ms);
    BOOST_TEST_REQUIRE(claimed.has_value(), claimed.error().to_string());
    BOOST_TEST_REQUIRE(claimed->entries.size() == 2u);
    BOOST_TEST(claimed->entries[0].id == ids[0]);
    BOOST_TEST(claimed->next == "0-0");
    const std::vector<std::string> taken{ids[0], ids[1]};
    BOOST_TEST((co_await redis::xack(conn, "test:stream", "workers", taken)).value() == 2);
    auto pending = co_await conn.execute("XPENDING", "test:stream", "workers");
    BOOST_TEST(pending->front()[0].as_int().value() == 0);
  }());
}

BOOST_AUTO_TEST_CASE(a_command_timeout_leaves_the_connection_usable) {
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto o = server_options();
    o.command_timeout = 200ms;
    redis::connection conn(io.get_executor(), o);
    (void)co_await conn.execute("PING");
    auto slow = co_await conn.execute("DEBUG", "SLEEP", "1");
    BOOST_TEST_REQUIRE(slow.has_error());
    BOOST_TEST((slow.error() == intg::condition::outcome_unknown), slow.error().to_string());
    BOOST_TEST(slow.error().to_string().find("timed out") != std::string::npos);
    // The late reply is read and dropped; the next command gets its own.
    auto sleep_over = co_await conn.execute("PING");  // may time out behind DEBUG SLEEP
    for (int i = 0; i < 20 && !sleep_over; ++i) sleep_over = co_await conn.execute("PING");
    BOOST_TEST_REQUIRE(sleep_over.has_value());
    auto echo = co_await conn.execute("ECHO", "mine");
    BOOST_TEST(echo->front().as_string().value() == "mine");
    BOOST_TEST(conn.stats().connects == 1u);
  }());
}

BOOST_AUTO_TEST_CASE(the_server_killed_mid_command_fails_it_and_the_next_command_reconnects) {
  const auto port = env().port("INTG_REDIS_SPARE_PORT");
  const std::string dir = env().get("INTG_REDIS_DIR") + "/spare";
  const std::string start = "mkdir -p " + dir + " && " + env().get("INTG_REDIS_SERVER") + " --port " +
                            std::to_string(port) + " --bind 127.0.0.1 --save '' --appendonly no --dir " + dir +
                            " --enable-debug-command local --daemonize yes --pidfile " + dir + "/redis.pid";
  const std::string kill = "kill -9 $(cat " + dir + "/redis.pid)";
  BOOST_TEST_REQUIRE(std::system(start.c_str()) == 0);
  wait_for_port(port);
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    redis::options o;
    o.port = port;
    o.reconnect_backoff = 10ms;
    redis::connection conn(io.get_executor(), o);
    BOOST_TEST_REQUIRE((co_await conn.execute("PING")).has_value());
    using namespace asio::experimental::awaitable_operators;
    std::optional<intg::result<resp3::response>> slow;
    auto caller = [&]() -> asio::awaitable<void> { slow = co_await conn.execute("DEBUG", "SLEEP", "3"); };
    auto killer = [&]() -> asio::awaitable<void> {
      co_await sleep_for(200ms);
      BOOST_TEST(std::system(kill.c_str()) == 0);
    };
    co_await (caller() && killer());
    BOOST_TEST_REQUIRE(slow->has_error());
    BOOST_TEST((slow->error() == redis::errc::connection_lost), slow->error().to_string());
    BOOST_TEST((slow->error() == intg::condition::outcome_unknown));
    BOOST_TEST(!intg::is_transient(slow->error()));  // never replayed by a retry policy
    auto down = co_await conn.execute("PING");
    BOOST_TEST(down.has_error());  // nobody listens
    BOOST_TEST_REQUIRE(std::system(start.c_str()) == 0);  // blocking the test's only thread is fine here
    wait_for_port(port);
    co_await sleep_for(50ms);  // past the backoff
    auto back = co_await conn.execute("PING");
    BOOST_TEST_REQUIRE(back.has_value(), back.error().to_string());
    BOOST_TEST(conn.stats().connects == 2u);
  }());
  BOOST_TEST(std::system(("kill $(cat " + dir + "/redis.pid)").c_str()) == 0);
}

BOOST_AUTO_TEST_CASE(tls_verifies_the_server_and_is_refused_by_a_plain_port) {
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    auto o = server_options(env().port("INTG_REDIS_TLS_PORT"));
    o.tls = true;
    o.tls_options.ca_file = env().get("INTG_REDIS_CA");
    {
      redis::connection conn(io.get_executor(), o);
      auto r = co_await conn.execute("PING");
      BOOST_TEST_REQUIRE(r.has_value(), r.error().to_string());
      BOOST_TEST(r->front().as_string().value() == "PONG");
    }
    {
      auto untrusted = o;
      untrusted.tls_options.ca_file.clear();  // the system store does not know the test CA
      redis::connection conn(io.get_executor(), untrusted);
      auto r = co_await conn.execute("PING");
      BOOST_TEST_REQUIRE(r.has_error());
      BOOST_TEST(r.error().to_string().find("certificate") != std::string::npos, r.error().to_string());
    }
    {
      auto wrong_name = o;
      wrong_name.tls_server_name = "redis.example.com";
      redis::connection conn(io.get_executor(), wrong_name);
      BOOST_TEST((co_await conn.execute("PING")).has_error());
    }
    {
      auto plain = o;
      plain.port = env().port();
      plain.connect_timeout = 2s;
      redis::connection conn(io.get_executor(), plain);
      auto r = co_await conn.execute("PING");
      BOOST_TEST_REQUIRE(r.has_error());
      BOOST_TEST(r.error().to_string().find("TLS handshake") != std::string::npos, r.error().to_string());
    }
  }());
}

BOOST_AUTO_TEST_CASE(a_connection_from_integration_settings) {
  intg::integration_config c;
  c.name = "cache";
  c.settings["port"] = env().port();
  c.settings["username"] = env().get("INTG_REDIS_USER");
  c.settings["password"] = env().get("INTG_REDIS_PASSWORD");
  c.settings["db"] = 3;
  auto o = redis::options::from_config(c);
  BOOST_TEST_REQUIRE(o.has_value());
  asio::io_context io;
  test::run(io, [&]() -> asio::awaitable<void> {
    redis::connection conn(io.get_executor(), *o);
    (void)co_await conn.execute("SET", "test:db3", "here");
    auto info = co_await conn.execute("CLIENT", "INFO");
    BOOST_TEST_REQUIRE(info.has_value());
    BOOST_TEST(info->front().as_string().value().find(" db=3 ") != std::string::npos);
  }());
}

BOOST_AUTO_TEST_SUITE_END()
