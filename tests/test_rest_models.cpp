// Typed provider models (rest/json.hpp, rest/form.hpp): the lenient JSON conversion of described
// structs and enums, its errors (JSON path of the first problem, kinds expected and found, never
// the value), hostile bodies (truncated, too deep, too large, not JSON), the opt-in that makes
// boost::json::value_to use it, and Stripe-style form and query encoding.
#define BOOST_TEST_MODULE intg rest models
#include <boost/test/unit_test.hpp>

#include <intg/rest/form.hpp>
#include <intg/rest/json.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace rest_models_tests {

namespace json = boost::json;
namespace rest = intg::rest;
using intg::errc;

// ---- models ---------------------------------------------------------------------------------

enum class status { active, past_due, canceled, unknown };
BOOST_DESCRIBE_ENUM(status, active, past_due, canceled, unknown)

enum class interval { day, week, month };  // no `unknown`: an unrecognised name is an error
BOOST_DESCRIBE_ENUM(interval, day, week, month)

enum class keyword { default_, delete_ };  // JSON "default", "delete"
BOOST_DESCRIBE_ENUM(keyword, default_, delete_)

struct postal_address {
  std::string city;
  std::optional<std::string> line1;
  bool operator==(const postal_address&) const = default;
};
BOOST_DESCRIBE_STRUCT(postal_address, (), (city, line1))

struct customer {
  std::string id;
  std::optional<std::string> email;
  std::optional<postal_address> address;
  std::map<std::string, std::string> metadata;
  bool operator==(const customer&) const = default;
};
BOOST_DESCRIBE_STRUCT(customer, (), (id, email, address, metadata))

struct line_item {
  std::string price;
  std::int64_t quantity = 0;
  bool operator==(const line_item&) const = default;
};
BOOST_DESCRIBE_STRUCT(line_item, (), (price, quantity))

struct resource {  // a base: its members are read with the derived struct's
  std::string id;
  std::string object;
  bool operator==(const resource&) const = default;
};
BOOST_DESCRIBE_STRUCT(resource, (), (id, object))

struct subscription : resource {
  status status_ = status::active;  // JSON "status"
  std::optional<interval> interval_;
  bool livemode = false;
  bool explicit_ = false;  // JSON "explicit"
  std::int32_t count = 0;
  std::uint32_t seats = 0;
  std::int8_t tiny = 0;
  std::uint64_t big = 0;
  double amount = 0;
  float ratio = 0;
  std::vector<line_item> items;
  std::vector<std::string> expand;
  std::vector<bool> flags;
  std::optional<rest_models_tests::customer> customer;
  std::unordered_map<std::string, std::int64_t> counters;
  json::value raw;
  std::optional<json::object> extra;
  std::optional<json::array> list;
  std::optional<keyword> kw;
  bool operator==(const subscription&) const = default;
};
BOOST_DESCRIBE_STRUCT(subscription, (resource),
                      (status_, interval_, livemode, explicit_, count, seats, tiny, big, amount, ratio, items, expand,
                       flags, customer, counters, raw, extra, list, kw))

template <class T>
struct page {
  std::vector<T> data;
  bool has_more = false;
  bool operator==(const page&) const = default;
};
BOOST_DESCRIBE_STRUCT(page<customer>, (), (data, has_more))

struct tree {  // recursive: depth bounded by the document
  std::string name;
  std::vector<tree> children;
};
BOOST_DESCRIBE_STRUCT(tree, (), (name, children))

struct with_raw {
  json::value raw;
  std::optional<json::object> obj;
};
BOOST_DESCRIBE_STRUCT(with_raw, (), (raw, obj))

struct secret_holder {
  std::string api_key;
  interval every = interval::day;
  std::int32_t n = 0;
};
BOOST_DESCRIBE_STRUCT(secret_holder, (), (api_key, every, n))

INTG_REST_MODELS();

// The same shape in a namespace that did not opt in: Boost.JSON's built-in, strict conversion.
namespace strict {
struct address {
  std::string city;
  std::optional<std::string> line1;
};
BOOST_DESCRIBE_STRUCT(address, (), (city, line1))
}  // namespace strict

const char* const full_subscription = R"({
  "id": "sub_1", "object": "subscription", "status": "past_due", "interval": "month", "livemode": true,
  "explicit": true, "count": -5, "seats": 7, "tiny": -128, "big": 18446744073709551615, "amount": 12,
  "ratio": 0.5, "items": [{"price": "price_a", "quantity": 2}, {"price": "price_b", "quantity": 1}],
  "expand": ["customer", "invoice"], "flags": [true, false], "customer": {"id": "cus_1", "email": null,
  "address": {"city": "Paris"}, "metadata": {"order_id": "42"}}, "counters": {"a": 1}, "raw": [1, {"x": null}],
  "extra": {"k": "v"}, "list": [], "kw": "default", "added_by_the_provider_next_year": {"nested": [1, 2]}
})";

template <class T>
intg::error decode_error(std::string_view body) {
  auto r = rest::decode_body<T>(body);
  BOOST_REQUIRE_MESSAGE(!r, "decoding should have failed: " << body);
  BOOST_TEST((r.error() == errc::invalid_response));
  return r.error();
}

// ---- decoding -------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(rest_models_decode)

BOOST_AUTO_TEST_CASE(every_member_kind) {
  auto r = rest::decode_body<subscription>(full_subscription);
  BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().to_string()));
  const subscription& s = *r;
  BOOST_TEST(s.id == "sub_1");
  BOOST_TEST(s.object == "subscription");
  BOOST_TEST((s.status_ == status::past_due));
  BOOST_TEST((s.interval_ == interval::month));
  BOOST_TEST(s.livemode);
  BOOST_TEST(s.explicit_);
  BOOST_TEST(s.count == -5);
  BOOST_TEST(s.seats == 7u);
  BOOST_TEST(s.tiny == -128);
  BOOST_TEST(s.big == UINT64_MAX);
  BOOST_TEST(s.amount == 12.0);  // an integer into a double
  BOOST_TEST(s.ratio == 0.5f);
  BOOST_REQUIRE_EQUAL(s.items.size(), 2u);
  BOOST_TEST(s.items[1].price == "price_b");
  BOOST_TEST(s.items[1].quantity == 1);
  BOOST_TEST((s.expand == std::vector<std::string>{"customer", "invoice"}));
  BOOST_TEST((s.flags == std::vector<bool>{true, false}));
  BOOST_REQUIRE(s.customer);
  BOOST_TEST(!s.customer->email);  // null
  BOOST_REQUIRE(s.customer->address);
  BOOST_TEST(s.customer->address->city == "Paris");
  BOOST_TEST(!s.customer->address->line1);  // absent
  BOOST_TEST(s.customer->metadata.at("order_id") == "42");
  BOOST_TEST(s.counters.at("a") == 1);
  BOOST_TEST(json::serialize(s.raw) == R"([1,{"x":null}])");
  BOOST_REQUIRE(s.extra);
  BOOST_TEST(s.extra->at("k") == "v");
  BOOST_REQUIRE(s.list);
  BOOST_TEST(s.list->empty());
  BOOST_TEST((s.kw == keyword::default_));
}

BOOST_AUTO_TEST_CASE(unknown_members_are_ignored_and_optionals_may_be_absent_or_null) {
  auto r = rest::decode_body<customer>(R"({"id":"cus_1","metadata":{},"new_field":[{"deep":true}],"email":null})");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->id == "cus_1");
  BOOST_TEST(!r->email);
  BOOST_TEST(!r->address);
}

BOOST_AUTO_TEST_CASE(missing_required_member) {
  auto e = decode_error<customer>(R"({"metadata":{}})");
  BOOST_TEST(e.json_path() == "$.id");
  BOOST_TEST(e.message() == "missing required member (expected a string)");
  e = decode_error<page<customer>>(R"({"data":[{"id":"a","metadata":{}},{"id":"b"}],"has_more":false})");
  BOOST_TEST(e.json_path() == "$.data[1].metadata");
  BOOST_TEST(e.message() == "missing required member (expected an object)");
  // A base class's member is required like the others.
  e = decode_error<subscription>(R"({"object":"subscription"})");
  BOOST_TEST(e.json_path() == "$.id");
}

BOOST_AUTO_TEST_CASE(null_for_a_required_member_is_a_wrong_kind) {
  auto e = decode_error<customer>(R"({"id":null,"metadata":{}})");
  BOOST_TEST(e.json_path() == "$.id");
  BOOST_TEST(e.message() == "expected a string, got null");
}

BOOST_AUTO_TEST_CASE(wrong_kinds_at_each_level_name_the_first_problem) {
  struct probe {
    const char* body;
    const char* path;
    const char* message;
  };
  const probe probes[] = {
      {R"("a string where an object is expected")", "$", "expected an object, got a string"},
      {R"([])", "$", "expected an object, got an array"},
      {R"({"data":{},"has_more":false})", "$.data", "expected an array, got an object"},
      {R"({"data":[1],"has_more":false})", "$.data[0]", "expected an object, got an integer"},
      {R"({"data":[{"id":1,"metadata":{}}],"has_more":false})", "$.data[0].id", "expected a string, got an integer"},
      {R"({"data":[{"id":"a","metadata":{"k":true}}],"has_more":false})", "$.data[0].metadata.k",
       "expected a string, got a boolean"},
      {R"({"data":[{"id":"a","metadata":{},"address":"Paris"}],"has_more":false})", "$.data[0].address",
       "expected an object, got a string"},
      {R"({"data":[{"id":"a","metadata":{},"address":{"city":["x"]}}],"has_more":false})",
       "$.data[0].address.city", "expected a string, got an array"},
      {R"({"data":[],"has_more":"false"})", "$.has_more", "expected a boolean, got a string"},
      // Two problems: the first in document-model order is reported.
      {R"({"data":[{"id":"a","metadata":[]},{"id":2}],"has_more":0})", "$.data[0].metadata",
       "expected an object, got an array"},
  };
  for (const auto& p : probes) {
    BOOST_TEST_CONTEXT(p.body) {
      auto e = decode_error<page<customer>>(p.body);
      BOOST_TEST(e.json_path() == p.path);
      BOOST_TEST(e.message() == p.message);
    }
  }
}

BOOST_AUTO_TEST_CASE(map_keys_that_are_not_identifiers_are_bracketed_in_paths) {
  auto e = decode_error<customer>(R"({"id":"a","metadata":{"order.id":"1","we\"ird":2}})");
  BOOST_TEST(e.json_path() == R"($.metadata["we\"ird"])");
  e = decode_error<customer>(R"({"id":"a","metadata":{"order-id":3}})");
  BOOST_TEST(e.json_path() == R"($.metadata["order-id"])");
}

BOOST_AUTO_TEST_CASE(integers_are_range_checked) {
  auto sub = [](std::string_view member, std::string_view number) {
    std::string body = R"({"id":"s","object":"o","livemode":false,"explicit":false,"count":0,"seats":0,"tiny":0,)"
                       R"("big":0,"amount":0,"ratio":0,"items":[],"expand":[],"flags":[],"counters":{},"raw":null,)"
                       R"("status":"active")";
    body += ",\"";
    body += member;
    body += "\":";
    body += number;
    body += '}';
    return rest::decode_body<subscription>(body);  // the later duplicate wins
  };
  BOOST_TEST(sub("count", "2147483647")->count == 2147483647);
  BOOST_TEST(sub("count", "-2147483648")->count == -2147483647 - 1);
  BOOST_TEST(sub("count", "3.0")->count == 3);  // an integral number is an integer
  BOOST_TEST(sub("count", "1e2")->count == 100);
  BOOST_TEST(sub("big", "18446744073709551615")->big == UINT64_MAX);
  BOOST_TEST(sub("tiny", "127")->tiny == 127);
  struct bad {
    const char* member;
    const char* number;
    const char* message;
  };
  const bad cases[] = {
      {"count", "2147483648", "expected an integer in [-2147483648, 2147483647], got an integer out of that range"},
      {"count", "-2147483649", "expected an integer in [-2147483648, 2147483647], got an integer out of that range"},
      {"count", "3.7", "expected an integer in [-2147483648, 2147483647], got a number with a fraction"},
      {"count", "1e30", "expected an integer in [-2147483648, 2147483647], got an integer out of that range"},
      {"count", "\"12\"", "expected an integer in [-2147483648, 2147483647], got a string"},
      {"seats", "-1", "expected an integer in [0, 4294967295], got an integer out of that range"},
      {"big", "-1", "expected an integer in [0, 18446744073709551615], got an integer out of that range"},
      {"big", "18446744073709551616", "expected an integer in [0, 18446744073709551615], got an integer out of that range"},
      {"tiny", "128", "expected an integer in [-128, 127], got an integer out of that range"},
      {"tiny", "-129", "expected an integer in [-128, 127], got an integer out of that range"},
      {"amount", "1e400", "expected a finite number, got a number out of range"},
      {"ratio", "1e300", "expected a finite number, got a number out of range"},
      {"amount", "true", "expected a number, got a boolean"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.member << " = " << c.number) {
      auto r = sub(c.member, c.number);
      BOOST_REQUIRE(!r);
      BOOST_TEST(r.error().json_path() == std::string("$.") + c.member);
      BOOST_TEST(r.error().message() == c.message);
    }
  }
  // int64 at its limits: 2^63 as a double is just out of range, -2^63 just in.
  BOOST_TEST(rest::decode_body<page<customer>>(R"({"data":[],"has_more":true})")->has_more);
  using v64 = std::vector<std::int64_t>;
  BOOST_TEST((*rest::decode_body<v64>("[9223372036854775807,-9223372036854775808,-9.223372036854775808e18]") ==
              v64{INT64_MAX, INT64_MIN, INT64_MIN}));
  BOOST_TEST(!rest::decode_body<v64>("[9.223372036854775808e18]"));
  BOOST_TEST(!rest::decode_body<v64>("[9223372036854775808]"));
}

BOOST_AUTO_TEST_CASE(enums_by_name_with_the_unknown_fallback) {
  BOOST_TEST((*rest::decode<status>(json::value("canceled")) == status::canceled));
  BOOST_TEST((*rest::decode<status>(json::value("paused_since_2027")) == status::unknown));
  BOOST_TEST((*rest::decode<keyword>(json::value("delete")) == keyword::delete_));
  auto r = rest::decode<interval>(json::value("year"));
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message() == R"(expected one of the strings "day", "week", "month", got another string)");
  BOOST_TEST(r.error().json_path() == "$");
  r = rest::decode<interval>(json::value(3));
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().message() == R"(expected one of the strings "day", "week", "month", got an integer)");
  // Enumerators' C++ names with their trailing underscore are not JSON names.
  BOOST_TEST(!rest::decode<keyword>(json::value("default_")));
}

BOOST_AUTO_TEST_CASE(messages_never_contain_the_value) {
  const char* const bodies[] = {
      R"({"api_key":{"sk_live_SECRET":1},"every":"day","n":1})",
      R"({"api_key":"sk_live_SECRET","every":"sk_live_SECRET","n":1})",
      R"({"api_key":"sk_live_SECRET","every":"day","n":"sk_live_SECRET"})",
      R"({"api_key":"sk_live_SECRET","every":"day","n":98765432109876})",
      R"({"api_key":"sk_live_SECRET","every":"day","n":1.234567})",
      R"({"api_key":"sk_live_SECRET","every":"day","n":1,"x":)",
      R"({"api_key":"sk_live_SECRET","every":"day","n":1} sk_live_SECRET)",
  };
  for (const char* body : bodies) {
    BOOST_TEST_CONTEXT(body) {
      auto e = decode_error<secret_holder>(body);
      const std::string text = e.to_string();
      BOOST_CHECK_MESSAGE(text.find("SECRET") == std::string::npos, text);
      BOOST_CHECK_MESSAGE(text.find("98765") == std::string::npos, text);
      BOOST_CHECK_MESSAGE(text.find("234567") == std::string::npos, text);
    }
  }
}

BOOST_AUTO_TEST_CASE(decode_from_a_value_and_top_level_containers) {
  const json::value v = json::parse(R"([{"city":"Lyon"},{"city":"Nice","line1":"1 rue"}])");
  auto r = rest::decode<std::vector<postal_address>>(v);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->size() == 2u);
  BOOST_TEST(*(*r)[1].line1 == "1 rue");
  auto m = rest::decode<std::map<std::string, std::optional<std::int64_t>>>(json::parse(R"({"a":1,"b":null})"));
  BOOST_REQUIRE(m);
  BOOST_TEST(*m->at("a") == 1);
  BOOST_TEST(!m->at("b"));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- hostile bodies ---------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(rest_models_hostile_bodies)

BOOST_AUTO_TEST_CASE(truncated_and_invalid_json_give_the_parser_reason_and_offset) {
  struct probe {
    const char* body;
    const char* message;
  };
  const probe probes[] = {
      {R"({"id":"cus_1","metadata":{"a":"b")", "response body is not valid JSON: incomplete JSON at byte 33"},
      {"", "response body is not valid JSON: incomplete JSON at byte 0"},
      {"<html><body>502 Bad Gateway</body></html>", "response body is not valid JSON: syntax error at byte 0"},
      {R"({"id":"a","metadata":{}} trailing)", "response body is not valid JSON: extra data at byte 25"},
      {R"({"id":"a",})", "response body is not valid JSON: syntax error at byte 10"},
      {"{\"id\":\"\xff\xfe\",\"metadata\":{}}", "response body is not valid JSON: syntax error at byte 7"},
      {R"({"id":"a","metadata":{}, /* comment */})", "response body is not valid JSON: syntax error at byte 25"},
  };
  for (const auto& p : probes) {
    BOOST_TEST_CONTEXT(p.body) {
      auto e = decode_error<customer>(p.body);
      BOOST_TEST(e.message() == p.message);
      BOOST_TEST(e.json_path().empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(nesting_is_limited_to_64_levels) {
  auto nested = [](int depth) {
    std::string s(static_cast<std::size_t>(depth), '[');
    s += std::string(static_cast<std::size_t>(depth), ']');
    return R"({"raw":)" + s + "}";
  };
  BOOST_TEST(rest::decode_body<with_raw>(nested(63)).has_value());  // 64 levels with the outer object
  auto e = decode_error<with_raw>(nested(64));
  BOOST_TEST(e.message() == "response body is not valid JSON: nested deeper than 64 levels at byte 70");
  // A recursive model: as deep as the document allows, no deeper.
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += R"({"name":"n","children":[)";
  BOOST_TEST(decode_error<tree>(deep).message().starts_with("response body is not valid JSON: nested deeper"));
  std::string ok;
  for (int i = 0; i < 31; ++i) ok += R"({"name":"n","children":[)";
  ok += R"({"name":"leaf","children":[]})";
  for (int i = 0; i < 31; ++i) ok += "]}";
  BOOST_TEST(rest::decode_body<tree>(ok).has_value());
}

BOOST_AUTO_TEST_CASE(the_size_cap) {
  const std::string body = R"({"id":"a","metadata":{}})";
  BOOST_TEST(rest::decode_body<customer>(body, body.size()).has_value());
  auto r = rest::decode_body<customer>(body, body.size() - 1);
  BOOST_REQUIRE(!r);
  BOOST_TEST((r.error() == errc::invalid_response));
  BOOST_TEST(r.error().message() == "response body of 24 bytes exceeds the limit of 23 bytes");
}

BOOST_AUTO_TEST_CASE(huge_arrays_within_the_cap) {
  std::string body = R"({"data":[)";
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    if (i) body += ',';
    body += R"({"id":"cus_)" + std::to_string(i) + R"(","metadata":{}})";
  }
  body += R"(],"has_more":true})";
  auto r = rest::decode_body<page<customer>>(body);
  BOOST_REQUIRE(r);
  BOOST_TEST(r->data.size() == static_cast<std::size_t>(n));
  BOOST_TEST(r->data.back().id == "cus_99999");
  // One bad element at the end of a huge page is still found, with its index.
  body.insert(body.size() - std::string(R"(],"has_more":true})").size(), R"(,{"id":7,"metadata":{}})");
  auto e = decode_error<page<customer>>(body);
  BOOST_TEST(e.json_path() == "$.data[100000].id");
  // A body over the default 8 MiB cap is refused before parsing.
  const std::string big(std::size_t{8} << 20 | 1, ' ');
  BOOST_TEST(decode_error<page<customer>>(big).message().find("exceeds the limit of 8388608 bytes") != std::string::npos);
}

struct wide {  // about 1 KiB, every member optional: "{}" decodes into one
  std::optional<std::string> a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, c0, c1,
      c2, c3, c4, c5;
};
BOOST_DESCRIBE_STRUCT(wide, (), (a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, c0,
                                 c1, c2, c3, c4, c5))

BOOST_AUTO_TEST_CASE(amplification_is_bounded) {
  // 1.5 MB of "{}," would be 500k structs of a kilobyte: half a gigabyte from a small body.
  std::string body = "[";
  for (int i = 0; i < 500000; ++i) body += i ? ",{}" : "{}";
  body += "]";
  auto e = decode_error<std::vector<wide>>(body);
  BOOST_TEST(e.json_path() == "$");
  BOOST_TEST(e.message().starts_with("expected at most "));
  BOOST_TEST(e.message().ends_with("bytes), got 500000"));
  // The same elements in a legitimate number decode; so does any page within the floor.
  BOOST_TEST(rest::decode_body<std::vector<wide>>("[{},{},{}]").has_value());
  // Budgets add up over the document, and rest::decode takes one explicitly.
  const json::value v = json::parse(R"({"data":[{"id":"a","metadata":{"k":"v"}},{"id":"b","metadata":{}}],"has_more":false})");
  BOOST_TEST(rest::decode<page<customer>>(v).has_value());
  auto r = rest::decode<page<customer>>(v, 2 * sizeof(customer));
  BOOST_REQUIRE(!r);
  BOOST_TEST(r.error().json_path() == "$.data[0].metadata");
}

BOOST_AUTO_TEST_CASE(duplicate_member_names_last_one_wins) {
  // As JSON.parse and the providers' SDKs read them, so that intg and the provider agree.
  auto r = rest::decode_body<customer>(R"({"id":"first","metadata":{},"id":"second"})");
  BOOST_REQUIRE(r);
  BOOST_TEST(r->id == "second");
}

BOOST_AUTO_TEST_CASE(raw_members_outlive_the_document_and_its_memory_resource) {
  std::optional<with_raw> kept;
  {
    auto arena = std::make_unique<json::monotonic_resource>();
    const json::value doc = json::parse(
        R"({"raw":{"a":[1,2,{"b":"a string long enough to be allocated"}]},"obj":{"k":"v"}})", arena.get());
    auto r = rest::decode<with_raw>(doc);
    BOOST_REQUIRE(r);
    kept = std::move(*r);
  }  // the document and its arena are gone: ASan would see a raw member still pointing there
  std::vector<std::string> churn(64, std::string(200, 'z'));
  BOOST_TEST(json::serialize(kept->raw) == R"({"a":[1,2,{"b":"a string long enough to be allocated"}]})");
  BOOST_TEST(kept->obj->at("k") == "v");
  BOOST_TEST((kept->raw.storage() == json::storage_ptr()));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- encoding ----------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(rest_models_encode)

BOOST_AUTO_TEST_CASE(empty_optionals_are_omitted_and_enums_written_by_name) {
  customer c;
  c.id = "cus_1";
  c.metadata["order_id"] = "42";
  BOOST_TEST(json::serialize(rest::encode(c)) == R"({"id":"cus_1","metadata":{"order_id":"42"}})");
  c.email = "a@example.com";
  c.address = postal_address{"Paris", std::nullopt};
  BOOST_TEST(json::serialize(rest::encode(c)) ==
             R"({"id":"cus_1","email":"a@example.com","address":{"city":"Paris"},"metadata":{"order_id":"42"}})");
  BOOST_TEST(json::serialize(rest::encode(keyword::default_)) == R"("default")");
  BOOST_TEST(json::serialize(rest::encode(static_cast<interval>(9))) == "9");  // outside the described names
  std::vector<std::optional<int>> v{1, std::nullopt};
  BOOST_TEST(json::serialize(rest::encode(v)) == "[1,null]");  // inside arrays, null keeps the place
}

BOOST_AUTO_TEST_CASE(round_trips) {
  auto r = rest::decode_body<subscription>(full_subscription);
  BOOST_REQUIRE(r);
  const json::value once = rest::encode(*r);
  BOOST_TEST(once.as_object().at("status") == "past_due");
  BOOST_TEST(once.as_object().at("explicit") == true);
  BOOST_TEST(!once.as_object().contains("added_by_the_provider_next_year"));
  auto back = rest::decode<subscription>(once);
  BOOST_REQUIRE_MESSAGE(back, (back ? "" : back.error().to_string()));
  BOOST_TEST((*back == *r));
  BOOST_TEST(json::serialize(rest::encode(*back)) == json::serialize(once));

  page<customer> p;
  p.has_more = true;
  p.data.push_back(customer{"cus_1", "x@y.z", postal_address{"Lyon", "2 quai"}, {{"k", "v"}}});
  p.data.push_back(customer{"cus_2", std::nullopt, std::nullopt, {}});
  auto pb = rest::decode_body<page<customer>>(json::serialize(rest::encode(p)));
  BOOST_REQUIRE(pb);
  BOOST_TEST((*pb == p));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- Boost.JSON's own entry points -------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(rest_models_value_to)

BOOST_AUTO_TEST_CASE(the_opt_in_wins_over_boost_json_described_class_conversion) {
  // Unknown member and absent optional: Boost.JSON 1.81's built-in conversion refuses both...
  const json::value v = json::parse(R"({"city":"Paris","zip":"75001"})");
  BOOST_TEST(!json::try_value_to<strict::address>(v).has_value());
  BOOST_CHECK_THROW((void)json::value_to<strict::address>(v), std::exception);
  // ...the namespace that wrote INTG_REST_MODELS() gets intg::rest's rules.
  auto a = json::try_value_to<postal_address>(v);
  BOOST_REQUIRE(a.has_value());
  BOOST_TEST(a->city == "Paris");
  BOOST_TEST(!a->line1);
  BOOST_TEST(json::value_to<postal_address>(v).city == "Paris");
  // Nested inside standard containers, through Boost.JSON's own container conversions.
  auto list = json::value_to<std::vector<postal_address>>(json::parse(R"([{"city":"A","x":1},{"city":"B"}])"));
  BOOST_TEST(list.size() == 2u);
  BOOST_TEST((json::value_to<status>(json::value("later")) == status::unknown));
  // value_from omits empty optionals (the built-in writes null).
  BOOST_TEST(json::serialize(json::value_from(postal_address{"Paris", std::nullopt})) == R"({"city":"Paris"})");
  BOOST_TEST(json::serialize(json::value_from(strict::address{"Paris", std::nullopt})) ==
             R"({"city":"Paris","line1":null})");
}

BOOST_AUTO_TEST_CASE(errors_through_value_to_and_try_value_to) {
  const json::value v = json::parse(R"({"id":"a","metadata":{"k":1}})");
  try {
    (void)json::value_to<customer>(v);
    BOOST_FAIL("value_to should throw");
  } catch (const intg::exception& e) {
    BOOST_TEST((e.error() == errc::invalid_response));
    BOOST_TEST(e.error().json_path() == "$.metadata.k");
  }
  auto r = json::try_value_to<customer>(v);
  BOOST_REQUIRE(r.has_error());
  BOOST_TEST((r.error() == intg::make_error_code(errc::invalid_response)));
}

BOOST_AUTO_TEST_SUITE_END()

// ---- forms and query strings -------------------------------------------------------------------

struct create_checkout {
  std::string customer;
  std::vector<line_item> line_items;
  std::map<std::string, std::string> metadata;
  std::vector<std::string> expand;
  std::optional<std::string> coupon;
  std::optional<bool> allow_promotion_codes;
  bool livemode = false;
  double tax_rate = 0.2;
  interval every = interval::month;
  std::optional<postal_address> billing;
  json::value extra;
};
BOOST_DESCRIBE_STRUCT(create_checkout, (),
                      (customer, line_items, metadata, expand, coupon, allow_promotion_codes, livemode, tax_rate,
                       every, billing, extra))

struct list_params {
  std::optional<std::int32_t> limit;
  std::optional<std::string> starting_after;
  std::optional<interval> every;
  std::vector<std::string> ids;
  bool include_total = false;
};
BOOST_DESCRIBE_STRUCT(list_params, (), (limit, starting_after, every, ids, include_total))

using pairs = std::vector<std::pair<std::string, std::string>>;

pairs decoded(const intg::http::query& q) {
  auto p = intg::http::query::parse(q.str());
  BOOST_REQUIRE(p);
  return *p;
}

BOOST_AUTO_TEST_SUITE(rest_models_form)

BOOST_AUTO_TEST_CASE(stripe_style_nested_keys) {
  create_checkout c;
  c.customer = "cus_1";
  c.line_items = {{"price_a", 2}, {"price_b", 1}};
  c.metadata = {{"order_id", "6735"}, {"note", "a&b=c d"}};
  c.expand = {"customer", "payment_intent"};
  c.allow_promotion_codes = true;
  c.billing = postal_address{"Paris", std::nullopt};
  c.extra = json::parse(R"({"k":[null,1.5,{"z":false}]})");
  intg::http::query q;
  rest::append_form(q, c);
  const pairs want{
      {"customer", "cus_1"},
      {"line_items[0][price]", "price_a"},
      {"line_items[0][quantity]", "2"},
      {"line_items[1][price]", "price_b"},
      {"line_items[1][quantity]", "1"},
      {"metadata[note]", "a&b=c d"},
      {"metadata[order_id]", "6735"},
      {"expand[0]", "customer"},
      {"expand[1]", "payment_intent"},
      {"allow_promotion_codes", "true"},
      {"livemode", "false"},
      {"tax_rate", "0.2"},
      {"every", "month"},
      {"billing[city]", "Paris"},
      {"extra[k][0]", ""},
      {"extra[k][1]", "1.5"},
      {"extra[k][2][z]", "false"},
  };
  BOOST_TEST((decoded(q) == want));
  // Brackets are percent-encoded on the wire, as Stripe's own SDK sends them.
  BOOST_TEST(q.str().starts_with("customer=cus_1&line_items%5B0%5D%5Bprice%5D=price_a&"));
  BOOST_TEST(q.str().find("metadata%5Bnote%5D=a%26b%3Dc%20d") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(empty_optionals_vectors_and_maps_add_nothing) {
  create_checkout c;
  c.customer = "cus_1";
  c.extra = json::object{};
  intg::http::query q;
  rest::append_form(q, c);
  const pairs want{{"customer", "cus_1"}, {"livemode", "false"}, {"tax_rate", "0.2"}, {"every", "month"}};
  BOOST_TEST((decoded(q) == want));
}

BOOST_AUTO_TEST_CASE(flat_query_parameters) {
  list_params p;
  p.limit = 10;
  p.every = interval::week;
  p.ids = {"a", "b"};
  intg::http::query q;
  q.add("existing", "1");
  rest::append_query(q, p);
  const pairs want{{"existing", "1"}, {"limit", "10"}, {"every", "week"}, {"ids[0]", "a"}, {"ids[1]", "b"},
                   {"include_total", "false"}};
  BOOST_TEST((decoded(q) == want));
  // rest::append_query(q, create_checkout{}) does not compile: nested structs, maps and raw JSON
  // are refused by a static_assert that names append_form.
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace rest_models_tests
