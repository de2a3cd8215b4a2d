// intg's cloud object storage: the XML reader (rest/xml.hpp) on hostile documents, S3's answers
// and error mapping, then intg::s3::client against moto in IAM authentication mode (the CTest
// fixture moto_server: scripts/moto-test-server writes the port and the access key to the file
// INTG_MOTO_ENV names), against a local server for faulty and hostile answers, and, in the suite
// s3_interop, with boto3 on the other side (tests/aws/s3_interop.py runs it). Then
// intg::azure_blob::client: its answers and error mapping, against a local server for faulty and
// hostile answers, and against Azurite (the CTest fixture azurite_server: scripts/azurite-test-server
// writes the port and the development account's key to the file INTG_AZURITE_ENV names). Last,
// intg::gcs::client: its answers and error mapping, and the client against tests/fakes/gcs_fake.hpp
// (the JSON API, a token endpoint that verifies RS256 assertions, a metadata server), whose
// exchanges gcs_discovery_validation checks against the discovery document.
#define BOOST_TEST_MODULE intg_cloud
#include <boost/test/unit_test.hpp>

#include <intg/http/server.hpp>
#include <intg/providers/azure_blob.hpp>
#include <intg/providers/gcs.hpp>
#include <intg/providers/s3.hpp>

#include "fakes/gcs_fake.hpp"
#include "test_util.hpp"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include <unistd.h>

namespace asio = boost::asio;
namespace cloud = intg::cloud;
namespace http = intg::http;
namespace rest = intg::rest;
namespace s3 = intg::s3;
namespace xml = intg::rest::xml;
using intg::condition;
using intg::errc;
using namespace std::chrono_literals;

namespace {

// ---- helpers -------------------------------------------------------------------------------------

struct moto_env {
  std::map<std::string, std::string> vars;
  bool available = false;
  std::string get(const std::string& k) const {
    auto it = vars.find(k);
    return it == vars.end() ? std::string() : it->second;
  }
  std::string endpoint() const { return "http://127.0.0.1:" + get("INTG_MOTO_PORT"); }
};

const moto_env& env() {
  static const moto_env e = [] {
    moto_env s;
    const char* path = std::getenv("INTG_MOTO_ENV");
    if (!path) return s;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
      if (auto eq = line.find('='); eq != std::string::npos) s.vars[line.substr(0, eq)] = line.substr(eq + 1);
    s.available = !s.get("INTG_MOTO_PORT").empty() && !s.get("INTG_MOTO_SECRET_ACCESS_KEY").empty();
    return s;
  }();
  return e;
}

struct moto_available {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
#ifdef INTG_MOTO_REQUIRED
    return true;  // INTG_REQUIRE_ALL_TESTS: a missing moto fails the test instead of skipping it
#else
    boost::test_tools::assertion_result r(env().available);
    if (!env().available) r.message() << "no moto (INTG_MOTO_ENV unset or its file empty): skipped";
    return r;
#endif
  }
};

intg::integration_config s3_config(const std::string& base_url, const std::string& key_id, const std::string& secret,
                                   const std::string& addressing = "") {
  intg::integration_config cfg;
  cfg.name = "s3";
  cfg.tenant = "acme";
  cfg.settings = {{"base_url", base_url}, {"access_key_id", key_id}, {"secret_access_key", secret}, {"region", "us-east-1"}};
  if (!addressing.empty()) cfg.settings["addressing"] = addressing;
  // Transfers send many requests at once: the default limiter (600/min, burst 20) is for APIs.
  cfg.rate_limits.requests_per_minute = 600'000;
  cfg.rate_limits.burst_limit = 10'000;
  cfg.retry.base_delay = 10ms;
  cfg.timeout = 20s;
  return cfg;
}

rest::client_options local_options() {
  rest::client_options o;
  o.extra_allowed_hosts = {"127.0.0.1", "s3.intg.test", "*.s3.intg.test"};
  return o;
}

intg::integration_config moto_config(const std::string& addressing = "") {
  BOOST_TEST_REQUIRE(env().available, "the moto_server fixture did not start moto (INTG_MOTO_ENV)");
  return s3_config(env().endpoint(), env().get("INTG_MOTO_ACCESS_KEY_ID"), env().get("INTG_MOTO_SECRET_ACCESS_KEY"), addressing);
}

// A bucket name of its own per test (moto is shared by the suites).
std::string new_bucket(std::string_view stem) {
  static std::mt19937_64 rng(std::random_device{}());
  static constexpr char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string b = "intg-" + std::string(stem) + "-";
  for (int i = 0; i < 10; ++i) b += digits[rng() % 36];
  return b;
}

// Deterministic content: byte i is i * 7 + seed modulo 251 (no period that lines up with parts).
std::string pattern(std::size_t n, unsigned seed = 0) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + seed) % 251);
  return s;
}

// Runs `body` against a client initialized with `cfg`.
template <class F>
void with_client(const intg::integration_config& cfg, F body, rest::client_options opts = local_options()) {
  asio::io_context io;
  s3::client c(cfg, io.get_executor(), std::move(opts));
  test::run(io, [&]() -> asio::awaitable<void> {
    auto ok = co_await c.initialize();
    BOOST_TEST_REQUIRE(ok.has_value(), (ok ? std::string() : ok.error().to_string()));
    co_await body(c);
  }());
}

// A local S3 stand-in for faulty and hostile answers: `handle` answers each request; `seen` counts them.
struct fake_s3 {
  explicit fake_s3(asio::io_context& io)
      : server(io.get_executor(), [this](http::server_request& r) -> asio::awaitable<http::server_response> {
          ++seen;
          requests.push_back(std::string(r.method_string()) + " " + std::string(r.target()));
          co_return handle(r);
        }, big_bodies()) {
    BOOST_TEST_REQUIRE(server.listen("127.0.0.1", 0).has_value());
    server.start();
  }
  static http::server_options big_bodies() {
    http::server_options o;
    o.max_request_body = 64u << 20;
    return o;
  }
  std::string base() const { return "http://127.0.0.1:" + std::to_string(server.port()); }
  std::function<http::server_response(http::server_request&)> handle;
  http::server server;
  int seen = 0;
  std::vector<std::string> requests;
};

http::server_response xml_answer(int status, std::string body) {
  return http::make_response(static_cast<boost::beast::http::status>(status), std::move(body), "application/xml");
}

std::string error_xml(std::string_view code, std::string_view message) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + std::string(code) + "</Code><Message>" + std::string(message) +
         "</Message><RequestId>R1</RequestId></Error>";
}

// Runs `body` with a client on a fresh fake S3.
template <class F>
void with_fake(std::function<http::server_response(http::server_request&)> handler, F body) {
  asio::io_context io;
  fake_s3 f(io);
  f.handle = std::move(handler);
  auto cfg = s3_config(f.base(), "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
  s3::client c(cfg, io.get_executor(), local_options());
  test::run(io, [&]() -> asio::awaitable<void> {
    auto ok = co_await c.initialize();
    BOOST_TEST_REQUIRE(ok.has_value());
    co_await body(c, f);
    co_await f.server.shutdown(1s);
  }());
}

std::string list_page_xml(int from, int to, bool truncated, std::string_view token) {
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                  "<Name>b</Name><IsTruncated>" + std::string(truncated ? "true" : "false") + "</IsTruncated>";
  for (int i = from; i < to; ++i)
    x += "<Contents><Key>k" + std::to_string(i) + "</Key><Size>1</Size><ETag>&quot;e&quot;</ETag><LastModified>2024-01-02T03:04:05.000Z</LastModified></Contents>";
  if (truncated) x += "<NextContinuationToken>" + std::string(token) + "</NextContinuationToken>";
  return x + "</ListBucketResult>";
}

}  // namespace

// ==== the XML reader ==============================================================================

BOOST_AUTO_TEST_SUITE(xml_reader)

BOOST_AUTO_TEST_CASE(reads_elements_namespaces_and_text_as_written) {
  auto doc = xml::parse(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
  <Contents><Key> a&amp;b&lt;c&#x41; </Key><Size>3</Size></Contents><!-- a comment --><?pi x?>
  <Contents><Key>second</Key></Contents></ListBucketResult>)");
  BOOST_TEST_REQUIRE(doc.has_value(), (doc ? std::string() : doc.error().to_string()));
  BOOST_TEST(doc->name == "ListBucketResult");
  BOOST_TEST(doc->ns == "http://s3.amazonaws.com/doc/2006-03-01/");
  BOOST_TEST(doc->child_text("Name") == "b");
  auto contents = doc->all("Contents");
  BOOST_TEST_REQUIRE(contents.size() == 2u);
  BOOST_TEST(contents[0]->child_text("Key") == " a&b<cA ");  // untrimmed: keys may have spaces
  BOOST_TEST(contents[1]->child_text("Key") == "second");
  BOOST_TEST(doc->child("Missing") == nullptr);
  BOOST_TEST(doc->child_text("Missing").empty());
  auto prefixed = xml::parse("<p:a xmlns:p='urn:x'><p:b>t</p:b></p:a>");
  BOOST_TEST_REQUIRE(prefixed.has_value());
  BOOST_TEST(prefixed->name == "a");
  BOOST_TEST(prefixed->child_text("b") == "t");
}

BOOST_AUTO_TEST_CASE(a_doctype_is_refused_so_no_entity_is_ever_expanded_or_fetched) {
  const char* billion_laughs = R"(<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]><lolz>&lol9;</lolz>)";
  const char* external = R"(<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>)";
  const char* parameter = R"(<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]><r/>)";
  const char* public_dtd = R"(<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd"><html/>)";
  for (const char* doc : {billion_laughs, external, parameter, public_dtd}) {
    auto r = xml::parse(doc);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error() == errc::invalid_response));
    BOOST_TEST(std::string(r.error().message()).find("DOCTYPE") != std::string::npos, r.error().message());
  }
  auto undeclared = xml::parse("<r>&xxe;</r>");
  BOOST_TEST_REQUIRE(!undeclared.has_value());
  BOOST_TEST(std::string(undeclared.error().message()).find("undefined entity") != std::string::npos, undeclared.error().message());
}

BOOST_AUTO_TEST_CASE(depth_element_count_and_size_are_bounded) {
  std::string deep;
  for (int i = 0; i < 100'000; ++i) deep += "<a>";
  auto r = xml::parse(deep);
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(std::string(r.error().message()).find("deeper than 32") != std::string::npos, r.error().message());
  std::string at_limit, past_limit;
  for (int i = 0; i < 32; ++i) at_limit += "<a>";
  for (int i = 0; i < 32; ++i) at_limit += "</a>";
  BOOST_TEST(xml::parse(at_limit).has_value());
  past_limit = "<b>" + at_limit + "</b>";
  BOOST_TEST(!xml::parse(past_limit).has_value());

  std::string wide = "<r>";
  for (int i = 0; i < 1000; ++i) wide += "<e/>";
  wide += "</r>";
  xml::limits few;
  few.max_elements = 500;
  auto many = xml::parse(wide, few);
  BOOST_TEST_REQUIRE(!many.has_value());
  BOOST_TEST(std::string(many.error().message()).find("more than 500 elements") != std::string::npos, many.error().message());
  BOOST_TEST(xml::parse(wide).has_value());

  std::string huge = "<r>" + std::string(9u << 20, 'x') + "</r>";
  auto big = xml::parse(huge);
  BOOST_TEST_REQUIRE(!big.has_value());
  BOOST_TEST(std::string(big.error().message()).find("larger than 8388608 bytes") != std::string::npos, big.error().message());
}

BOOST_AUTO_TEST_CASE(malformed_and_truncated_documents_are_refused_with_the_place) {
  const std::string nul = std::string("<r>a") + '\0' + "b</r>";
  for (std::string_view doc : {std::string_view("<a><b></a>"), std::string_view("<a>"), std::string_view(""), std::string_view("<a/><b/>"),
                               std::string_view("not xml"), std::string_view("<a>\xff\xfe</a>"), std::string_view(nul),
                               std::string_view("<a x='1' x='2'/>")}) {
    auto r = xml::parse(doc);
    BOOST_TEST_REQUIRE(!r.has_value(), doc);
    BOOST_TEST((r.error() == errc::invalid_response));
    BOOST_TEST(std::string(r.error().message()).starts_with("XML answer refused: "));
  }
  auto where = xml::parse("<a>\n<b></a>");
  BOOST_TEST(std::string(where.error().message()).find("line 2") != std::string::npos, where.error().message());
}

BOOST_AUTO_TEST_CASE(escaped_text_reads_back_as_written) {
  const std::string text = "a&b<c>\"d\" 'e'\r\nf";
  auto doc = xml::parse("<r>" + xml::escape(text) + "</r>");
  BOOST_TEST_REQUIRE(doc.has_value());
  BOOST_TEST(doc->text == text);
}

BOOST_AUTO_TEST_SUITE_END()

// ==== S3's answers, errors and addressing (no server) =============================================

BOOST_AUTO_TEST_SUITE(s3_answers)

BOOST_AUTO_TEST_CASE(a_list_page_reads_keys_sizes_etags_times_and_prefixes_url_decoded) {
  auto page = s3::parse_list_v2(R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>a%2F</Prefix>
<KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
<Contents><Key>a/x+y%2B%01</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>a/z</Key><LastModified>2009-10-12T17:50:31Z</LastModified><ETag>"abc-2"</ETag><Size>0</Size></Contents>
<CommonPrefixes><Prefix>a/photos%2F</Prefix></CommonPrefixes>
<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken></ListBucketResult>)");
  BOOST_TEST_REQUIRE(page.has_value(), (page ? std::string() : page.error().to_string()));
  BOOST_TEST(page->truncated);
  BOOST_TEST(page->next_token == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
  BOOST_TEST_REQUIRE(page->objects.size() == 2u);
  BOOST_TEST(page->objects[0].key == std::string("a/x y+\x01"));
  BOOST_TEST(page->objects[0].size == 434234u);
  BOOST_TEST(page->objects[0].etag == "fba9dede5f27731c9771645a39863328");
  BOOST_TEST(std::chrono::duration_cast<std::chrono::seconds>(page->objects[0].last_modified.time_since_epoch()).count() == 1255369830);
  BOOST_TEST(page->objects[1].etag == "abc-2");
  BOOST_TEST_REQUIRE(page->prefixes.size() == 1u);
  BOOST_TEST(page->prefixes[0] == "a/photos/");
}

BOOST_AUTO_TEST_CASE(list_pages_without_what_paging_needs_are_refused) {
  for (std::string_view bad : {
           std::string_view("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"),
           std::string_view("<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>"),
           std::string_view("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Size>1</Size></Contents></ListBucketResult>"),
           std::string_view("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>"),
           std::string_view("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>99999999999999999999999</Size></Contents></ListBucketResult>"),
           std::string_view("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>1</Size><LastModified>yesterday</LastModified></Contents></ListBucketResult>"),
           std::string_view("<Other/>"),
           std::string_view("<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated><Contents><Key>%zz</Key><Size>1</Size></Contents></ListBucketResult>"),
       }) {
    auto r = s3::parse_list_v2(bad);
    BOOST_TEST_REQUIRE(!r.has_value(), bad);
    BOOST_TEST((r.error() == errc::invalid_response));
    BOOST_TEST(std::string(r.error().message()).starts_with("s3: ListObjectsV2 answer: "), r.error().message());
  }
}

BOOST_AUTO_TEST_CASE(multipart_copy_and_upload_listings_answers_are_read) {
  auto id = s3::parse_initiate(R"(<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>)");
  BOOST_TEST_REQUIRE(id.has_value());
  BOOST_TEST(*id == "VXBsb2FkIElE");
  BOOST_TEST(!s3::parse_initiate("<InitiateMultipartUploadResult><UploadId>a b</UploadId></InitiateMultipartUploadResult>").has_value());
  BOOST_TEST(!s3::parse_initiate("<InitiateMultipartUploadResult/>").has_value());
  auto done = s3::parse_complete(R"(<CompleteMultipartUploadResult><Location>http://b/k</Location><Bucket>b</Bucket><Key>k</Key><ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag></CompleteMultipartUploadResult>)");
  BOOST_TEST_REQUIRE(done.has_value());
  BOOST_TEST(done->etag == "3858f62230ac3c915f300c664312c11f-9");
  auto copy = s3::parse_copy(R"(<CopyObjectResult><LastModified>2009-10-28T22:32:00.000Z</LastModified><ETag>"9b2cf535f27731c974343645a3985328"</ETag></CopyObjectResult>)");
  BOOST_TEST_REQUIRE(copy.has_value());
  BOOST_TEST(copy->etag == "9b2cf535f27731c974343645a3985328");
  auto uploads = s3::parse_list_uploads(R"(<ListMultipartUploadsResult><Bucket>b</Bucket><Upload><Key>k</Key><UploadId>u1</UploadId></Upload><Upload><Key>k2</Key><UploadId>u2</UploadId></Upload></ListMultipartUploadsResult>)");
  BOOST_TEST_REQUIRE(uploads.has_value());
  BOOST_TEST_REQUIRE(uploads->size() == 2u);
  BOOST_TEST((*uploads)[1].upload_id == "u2");
  std::vector<s3::completed_part> parts{{1, "a"}, {2, "b<"}};
  auto body = xml::parse(s3::complete_body(parts));
  BOOST_TEST_REQUIRE(body.has_value());
  BOOST_TEST(body->name == "CompleteMultipartUpload");
  BOOST_TEST(body->all("Part")[1]->child_text("ETag") == "\"b<\"");
  BOOST_TEST(body->all("Part")[1]->child_text("PartNumber") == "2");
}

BOOST_AUTO_TEST_CASE(s3_error_codes_map_to_conditions_and_to_what_the_kit_does) {
  auto verdict = [](int status, std::string body, std::string_view etag = {}) {
    http::response res{static_cast<boost::beast::http::status>(status), 11};
    res.body() = std::move(body);
    if (!etag.empty()) res.set(http::field::etag, etag);
    return s3::provider::classify_answer(res, std::chrono::system_clock::now());
  };
  auto missing = verdict(404, error_xml("NoSuchKey", "The specified key does not exist."));
  BOOST_TEST((missing.action == rest::action::fail));
  BOOST_TEST((missing.failure == condition::not_found));
  BOOST_TEST(missing.failure.provider_code() == "NoSuchKey");
  BOOST_TEST(missing.failure.to_string() == "s3 NoSuchKey (HTTP 404): The specified key does not exist. (request id: R1)");
  BOOST_TEST(!intg::is_transient(missing.failure));
  // A missing key says nothing about S3's health: the breaker does not count it.
  BOOST_TEST(!intg::breaker_counts_as_failure(missing.failure));
  auto slow = verdict(503, error_xml("SlowDown", "Please reduce your request rate."));
  BOOST_TEST((slow.action == rest::action::rate_limited));
  BOOST_TEST(intg::is_transient(slow.failure));
  BOOST_TEST((slow.failure == condition::rate_limited));
  auto internal = verdict(500, error_xml("InternalError", "We encountered an internal error."));
  BOOST_TEST((internal.action == rest::action::retry));
  BOOST_TEST(intg::is_transient(internal.failure));
  BOOST_TEST(intg::breaker_counts_as_failure(internal.failure));
  auto timeout = verdict(400, error_xml("RequestTimeout", "Your socket connection to the server was not read from"));
  BOOST_TEST((timeout.action == rest::action::retry));
  for (const char* code : {"SignatureDoesNotMatch", "InvalidAccessKeyId", "ExpiredToken", "RequestTimeTooSkewed"}) {
    auto v = verdict(403, error_xml(code, "refused"));
    // A skewed clock is the signer's to correct (from the answer's Date), expired temporary
    // credentials a web identity's to renew; then the request is sent once more.
    const bool renewable = std::string_view(code) == "RequestTimeTooSkewed" || std::string_view(code) == "ExpiredToken";
    BOOST_TEST((v.action == (renewable ? rest::action::refresh : rest::action::fail)), code);
    BOOST_TEST((v.failure == condition::unauthorized), code);
    BOOST_TEST(!intg::is_transient(v.failure));
  }
  auto denied = verdict(403, error_xml("AccessDenied", "Access Denied"));
  BOOST_TEST((denied.failure == condition::forbidden));
  auto exists = verdict(409, error_xml("BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded"));
  BOOST_TEST((exists.failure == condition::conflict));
  auto head_miss = verdict(404, "");  // HEAD answers have no body
  BOOST_TEST((head_miss.failure == condition::not_found));
  BOOST_TEST(head_miss.failure.provider_code().empty());
  BOOST_TEST(std::string(head_miss.failure.message()).find("HTTP 404 (no error document)") != std::string::npos);
  // CopyObject and CompleteMultipartUpload may answer 200 with an error document...
  auto copy_failed = verdict(200, error_xml("InternalError", "try again"));
  BOOST_TEST((copy_failed.action == rest::action::retry));
  // ...but an object whose content looks like one is an object (its GET answer has an ETag).
  auto object = verdict(200, error_xml("InternalError", "just content"), "\"0123\"");
  BOOST_TEST((object.action == rest::action::accept));
  auto moved = verdict(301, "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message><Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint></Error>");
  BOOST_TEST((moved.action == rest::action::fail));
  BOOST_TEST(std::string(moved.failure.message()).find("endpoint: b.s3.eu-west-1.amazonaws.com") != std::string::npos, moved.failure.message());
  // A hostile error document: long and unprintable values are cut and blanked, never quoted whole.
  auto hostile = verdict(400, "<Error><Code>Bad\tCode</Code><Message>" + std::string(5000, 'm') + "</Message></Error>");
  BOOST_TEST(hostile.failure.provider_code() == "Bad Code");
  BOOST_TEST(hostile.failure.message().size() < 400u);
  auto not_s3 = verdict(502, "<html>bad gateway</html>");
  BOOST_TEST((not_s3.action == rest::action::retry));
  BOOST_TEST(std::string(not_s3.failure.message()).find("not an S3 error document") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(buckets_and_keys_become_path_style_or_virtual_hosted_urls) {
  auto aws = http::url::parse("https://s3.eu-west-1.amazonaws.com").value();
  auto url = [&](const http::url& base, s3::addressing a, std::string_view b, std::string_view k, std::string_view q = {}) {
    auto u = s3::object_url(base, "", a, b, k, q);
    return u ? u->str() : "error: " + std::string(u.error().message());
  };
  using A = s3::addressing;
  BOOST_TEST(url(aws, A::automatic, "photos", "2024/a b+c.jpg") == "https://photos.s3.eu-west-1.amazonaws.com/2024/a%20b%2Bc.jpg");
  BOOST_TEST(url(aws, A::path, "photos", "2024/a b+c.jpg") == "https://s3.eu-west-1.amazonaws.com/photos/2024/a%20b%2Bc.jpg");
  BOOST_TEST(url(aws, A::automatic, "my.photos", "k") == "https://s3.eu-west-1.amazonaws.com/my.photos/k");  // dots under https
  BOOST_TEST(url(aws, A::virtual_hosted, "my.photos", "k").starts_with("error: s3: bucket my.photos cannot be named in the host"));
  BOOST_TEST(url(aws, A::automatic, "photos", "", "list-type=2") == "https://photos.s3.eu-west-1.amazonaws.com/?list-type=2");
  BOOST_TEST(url(aws, A::path, "photos", "", "list-type=2") == "https://s3.eu-west-1.amazonaws.com/photos?list-type=2");
  BOOST_TEST(url(aws, A::path, "photos", "a/../b/./c//d") == "https://s3.eu-west-1.amazonaws.com/photos/a/../b/./c//d");
  auto local = http::url::parse("http://127.0.0.1:9000").value();
  BOOST_TEST(url(local, A::automatic, "photos", "k") == "http://127.0.0.1:9000/photos/k");
  BOOST_TEST(url(local, A::virtual_hosted, "photos", "k").starts_with("error: s3: virtual-hosted addressing needs an endpoint with a host name"));
  auto named = http::url::parse("http://minio.internal:9000").value();
  BOOST_TEST(url(named, A::automatic, "my.photos", "k") == "http://my.photos.minio.internal:9000/k");  // dots are fine over http
  for (std::string_view bad : {std::string_view("ab"), std::string_view("Photos"), std::string_view("a_b"), std::string_view("-ab"),
                               std::string_view("ab-"), std::string_view("a..b"), std::string_view("192.168.1.1"), std::string_view("a/b")}) {
    auto r = s3::check_bucket(bad);
    BOOST_TEST(!r.has_value(), bad);
  }
  BOOST_TEST(s3::check_bucket("my-bucket.2024").has_value());
  BOOST_TEST(!s3::check_key("").has_value());
  BOOST_TEST(!s3::check_key(std::string(1025, 'k')).has_value());
  BOOST_TEST(s3::check_key(std::string(1024, 'k')).has_value());
}

BOOST_AUTO_TEST_CASE(checksums_of_content_fed_in_pieces_equal_those_of_the_whole) {
  const std::string all = pattern(100'000, 1);
  intg::crypto::sha256_hasher sha;
  intg::crypto::md5_hasher md5;
  for (std::size_t at = 0; at < all.size(); at += 7'919) {
    sha.update(std::string_view(all).substr(at, 7'919));
    md5.update(std::string_view(all).substr(at, 7'919));
  }
  BOOST_TEST((sha.finish() == intg::crypto::sha256(all)));
  BOOST_TEST((md5.finish() == intg::crypto::md5(all)));
  BOOST_TEST(intg::crypto::to_hex(intg::crypto::sha256_hasher().finish()) == intg::crypto::to_hex(intg::crypto::sha256("")));
}

BOOST_AUTO_TEST_CASE(s3_dates_read_in_both_forms_and_nonsense_is_refused) {
  using namespace std::chrono;
  auto iso = s3::parse_iso8601("2009-10-12T17:50:30.123Z");
  BOOST_TEST_REQUIRE(iso.has_value());
  BOOST_TEST(duration_cast<seconds>(iso->time_since_epoch()).count() == 1255369830);
  auto web = s3::parse_http_date("Mon, 12 Oct 2009 17:50:30 GMT");
  BOOST_TEST_REQUIRE(web.has_value());
  BOOST_TEST(duration_cast<seconds>(web->time_since_epoch()).count() == 1255369830);
  for (std::string_view bad : {"2009-13-12T17:50:30Z", "2009-02-30T17:50:30Z", "2009-10-12 17:50:30Z", "", "2009-10-12T17:50:30.Z1",
                               "9999-10-12T17:50:30Z"})  // past system_clock's range (2262)
    BOOST_TEST(!s3::parse_iso8601(bad).has_value(), bad);
  BOOST_TEST(!s3::parse_http_date("Mon, 12 Foo 2009 17:50:30 GMT").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// ==== S3 against a local server: faults and hostile answers =====================================

BOOST_AUTO_TEST_SUITE(s3_faults)

BOOST_AUTO_TEST_CASE(hostile_xml_answers_are_refused_not_expanded) {
  std::string deep = "<?xml version=\"1.0\"?><ListBucketResult>";
  for (int i = 0; i < 50'000; ++i) deep += "<a>";
  std::string huge = "<ListBucketResult><IsTruncated>false</IsTruncated>";
  while (huge.size() < (10u << 20)) huge += "<Contents><Key>k</Key><Size>1</Size></Contents>";
  huge += "</ListBucketResult>";
  const std::string laughs = R"(<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>&c;</Key><Size>1</Size></Contents></ListBucketResult>)";
  const std::string xxe = R"(<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>&x;</Key><Size>1</Size></Contents></ListBucketResult>)";
  const std::pair<const std::string*, std::string_view> cases[] = {
      {&laughs, "DOCTYPE"}, {&xxe, "DOCTYPE"}, {&deep, "deeper than 32"}, {&huge, "larger than 8388608 bytes"}};
  for (const auto& c : cases) {  // not a structured binding: the lambda below captures it
    with_fake([&](http::server_request&) { return xml_answer(200, *c.first); },
              [&](s3::client& s3c, fake_s3&) -> asio::awaitable<void> {
                cloud::list_options lo{};
                auto pages = s3c.list_objects("bucket-one", lo);
                auto page = co_await pages.next();
                BOOST_TEST_REQUIRE(!page.has_value());
                BOOST_TEST((page.error() == errc::invalid_response));
                BOOST_TEST(std::string(page.error().message()).find(c.second) != std::string::npos, page.error().message());
                // And the pager stops there.
                auto after = co_await pages.next();
                BOOST_TEST((after.has_value() && !after->has_value()));
              });
  }
}

BOOST_AUTO_TEST_CASE(an_answer_larger_than_the_cap_is_refused_by_the_client) {
  with_fake([](http::server_request&) { return xml_answer(200, std::string((64u << 20) + 1, 'x')); },
            [](s3::client& c, fake_s3&) -> asio::awaitable<void> {
              auto r = co_await c.get_object("bucket-one", "big");
              BOOST_TEST_REQUIRE(!r.has_value());
              BOOST_TEST((r.error() == errc::invalid_response));
              BOOST_TEST(std::string(r.error().message()).find("exceeds the limit") != std::string::npos, r.error().message());
            });
}

BOOST_AUTO_TEST_CASE(slow_down_is_waited_out_and_retried_then_succeeds) {
  int calls = 0;
  with_fake(
      [&](http::server_request& r) {
        if (++calls <= 2) return xml_answer(503, error_xml("SlowDown", "Please reduce your request rate."));
        auto res = xml_answer(200, "hello");
        res.set(http::field::etag, "\"5d41402abc4b2a76b9719d911017c592\"");
        BOOST_TEST(std::string(r[http::field::authorization]).starts_with("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/"));
        return res;
      },
      [&](s3::client& c, fake_s3& f) -> asio::awaitable<void> {
        auto r = co_await c.get_object("bucket-one", "k");
        BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().to_string()));
        BOOST_TEST(r->body == "hello");
        BOOST_TEST(f.seen == 3);
      });
}

BOOST_AUTO_TEST_CASE(a_post_that_failed_on_the_server_is_never_sent_again) {
  // CreateMultipartUpload is a POST: a 500 does not say it had no effect, so it is not resent.
  with_fake([](http::server_request&) { return xml_answer(500, error_xml("InternalError", "We encountered an internal error.")); },
            [](s3::client& c, fake_s3& f) -> asio::awaitable<void> {
              const std::string content = pattern(6u << 20);
              cloud::put_options po{.part_size = 5u << 20};
              auto r = co_await c.upload("bucket-one", "big", cloud::memory_source(content), po);
              BOOST_TEST_REQUIRE(!r.has_value());
              BOOST_TEST((r.error() == condition::outcome_unknown), r.error().to_string());
              BOOST_TEST(r.error().provider_code() == "InternalError");
              BOOST_TEST(f.seen == 1);
            });
  // A PUT is idempotent: the same 500 is retried (three attempts by default).
  with_fake([](http::server_request&) { return xml_answer(500, error_xml("InternalError", "We encountered an internal error.")); },
            [](s3::client& c, fake_s3& f) -> asio::awaitable<void> {
              auto r = co_await c.put_object("bucket-one", "k", "v");
              BOOST_TEST_REQUIRE(!r.has_value());
              BOOST_TEST((r.error() == condition::unavailable));
              BOOST_TEST(f.seen == 3);
            });
}

BOOST_AUTO_TEST_CASE(content_that_does_not_match_s3s_checksums_is_an_integrity_error) {
  // The answer's SHA-256 is another content's.
  with_fake(
      [](http::server_request&) {
        auto res = xml_answer(200, "tampered");
        res.set(http::field::etag, "\"0123456789abcdef0123456789abcdef\"");
        res.set("x-amz-checksum-sha256", intg::crypto::base64_encode(intg::crypto::sha256("original")));
        return res;
      },
      [](s3::client& c, fake_s3& f) -> asio::awaitable<void> {
        auto r = co_await c.get_object("bucket-one", "k");
        BOOST_TEST_REQUIRE(!r.has_value());
        BOOST_TEST((r.error() == errc::integrity_violation), r.error().to_string());
        BOOST_TEST(std::string(r.error().message()).find("SHA-256") != std::string::npos);
        cloud::get_options no_check{.verify = false};
        auto unchecked = co_await c.get_object("bucket-one", "k", no_check);
        BOOST_TEST(unchecked.has_value());
        BOOST_TEST(f.requests.size() == 2u);
      });
  // Without a checksum, the ETag of a single-part object is its MD5.
  with_fake(
      [](http::server_request&) {
        auto res = xml_answer(200, "tampered");
        res.set(http::field::etag, "\"" + intg::crypto::to_hex(intg::crypto::md5("original")) + "\"");
        return res;
      },
      [](s3::client& c, fake_s3&) -> asio::awaitable<void> {
        auto r = co_await c.get_object("bucket-one", "k");
        BOOST_TEST_REQUIRE(!r.has_value());
        BOOST_TEST((r.error() == errc::integrity_violation));
        std::string out;
        auto streamed = co_await c.get_stream("bucket-one", "k", cloud::memory_sink(out));
        BOOST_TEST_REQUIRE(!streamed.has_value());
        BOOST_TEST((streamed.error() == errc::integrity_violation));
      });
  // A PUT whose answered ETag is not the MD5 of what was sent.
  with_fake(
      [](http::server_request& r) {
        BOOST_TEST(r["Content-MD5"] == intg::crypto::base64_encode(intg::crypto::md5("value")));
        BOOST_TEST(r["x-amz-checksum-sha256"] == intg::crypto::base64_encode(intg::crypto::sha256("value")));
        BOOST_TEST(r["x-amz-content-sha256"] == intg::crypto::to_hex(intg::crypto::sha256("value")));
        auto res = xml_answer(200, "");
        res.set(http::field::etag, "\"0123456789abcdef0123456789abcdef\"");
        return res;
      },
      [](s3::client& c, fake_s3&) -> asio::awaitable<void> {
        auto r = co_await c.put_object("bucket-one", "k", "value");
        BOOST_TEST_REQUIRE(!r.has_value());
        BOOST_TEST((r.error() == errc::integrity_violation));
      });
}

// A multipart upload against a stand-in whose CompleteMultipartUpload, HeadObject and part answers
// are scripted: what the client does when the outcome is unknown, wrong, or a part is refused.
struct multipart_script {
  std::function<http::server_response(const std::string& parts_etag)> complete;
  std::function<http::server_response(const std::string& parts_etag)> head;
  int refuse_part = 0;  // answer this part number with 403 AccessDenied
  int completes = 0, heads = 0, aborts = 0, parts = 0;
  std::vector<std::string> md5s;

  std::string expected() const {
    std::string raw;
    for (const auto& m : md5s) raw += m;
    return intg::crypto::to_hex(intg::crypto::md5(raw)) + "-" + std::to_string(md5s.size());
  }
  http::server_response answer(http::server_request& r) {
    const std::string target(r.target());
    if (r.method() == http::verb::post && target.ends_with("?uploads"))
      return xml_answer(200, "<InitiateMultipartUploadResult><Bucket>bucket-one</Bucket><Key>big</Key><UploadId>up-1</UploadId></InitiateMultipartUploadResult>");
    if (r.method() == http::verb::put && target.find("partNumber=") != std::string::npos) {
      ++parts;
      const int n = std::stoi(target.substr(target.find("partNumber=") + 11));
      if (n == refuse_part) return xml_answer(403, error_xml("AccessDenied", "Access Denied"));
      const auto md5 = intg::crypto::md5(r.body());
      if (md5s.size() < static_cast<std::size_t>(n)) md5s.resize(static_cast<std::size_t>(n));
      md5s[static_cast<std::size_t>(n - 1)] = std::string(intg::crypto::as_chars(md5));
      auto res = xml_answer(200, "");
      res.set(http::field::etag, "\"" + intg::crypto::to_hex(md5) + "\"");
      return res;
    }
    if (r.method() == http::verb::post && target.find("uploadId=up-1") != std::string::npos) {
      ++completes;
      return complete(expected());
    }
    if (r.method() == http::verb::head) {
      ++heads;
      return head(expected());
    }
    if (r.method() == http::verb::delete_ && target.find("uploadId=up-1") != std::string::npos) {
      ++aborts;
      return xml_answer(204, "");
    }
    return xml_answer(400, error_xml("InvalidRequest", "unexpected " + target));
  }
};

BOOST_AUTO_TEST_CASE(an_unknown_completion_is_settled_by_a_head_object_never_by_sending_it_again) {
  const std::string content = pattern((6u << 20) + 7);  // two parts of 5 MiB
  const cloud::put_options po{.part_size = 5u << 20, .parallel = 2};
  auto run_upload = [&](multipart_script& m) {
    intg::result<cloud::object_info> out = intg::error(errc::invalid_argument);
    with_fake([&](http::server_request& r) { return m.answer(r); },
              [&](s3::client& c, fake_s3&) -> asio::awaitable<void> {
                out = co_await c.upload("bucket-one", "big", cloud::memory_source(content), po);
              });
    return out;
  };
  auto with_etag = [](const std::string& etag) {
    auto res = xml_answer(200, "");
    res.set(http::field::etag, "\"" + etag + "\"");
    res.set(http::field::content_length, "0");
    return res;
  };
  // The completion's answer is lost (500), but the object is there with the ETag its parts make.
  multipart_script done;
  done.complete = [](const std::string&) { return xml_answer(500, error_xml("InternalError", "We encountered an internal error.")); };
  done.head = [&](const std::string& etag) { return with_etag(etag); };
  auto ok = run_upload(done);
  BOOST_TEST_REQUIRE(ok.has_value(), (ok ? std::string() : ok.error().to_string()));
  BOOST_TEST(ok->etag == done.expected());
  BOOST_TEST(done.completes == 1);  // never sent twice
  BOOST_TEST(done.heads == 1);
  BOOST_TEST(done.aborts == 0);

  // Not there: the upload is aborted and the unknown outcome reported.
  multipart_script lost;
  lost.complete = done.complete;
  lost.head = [](const std::string&) { return xml_answer(404, ""); };
  auto failed = run_upload(lost);
  BOOST_TEST_REQUIRE(!failed.has_value());
  BOOST_TEST((failed.error() == condition::outcome_unknown), failed.error().to_string());
  BOOST_TEST(lost.completes == 1);
  BOOST_TEST(lost.aborts == 1);

  // CompleteMultipartUpload's 200 carrying an error document is the same unknown outcome.
  multipart_script embedded;
  embedded.complete = [](const std::string&) { return xml_answer(200, error_xml("InternalError", "We encountered an internal error.")); };
  embedded.head = lost.head;
  auto failed200 = run_upload(embedded);
  BOOST_TEST_REQUIRE(!failed200.has_value());
  BOOST_TEST((failed200.error() == condition::outcome_unknown), failed200.error().to_string());
  BOOST_TEST(embedded.completes == 1);
  BOOST_TEST(embedded.aborts == 1);

  // Assembled with another ETag than its parts make: an integrity error.
  multipart_script wrong;
  wrong.complete = [](const std::string&) {
    return xml_answer(200, "<CompleteMultipartUploadResult><ETag>\"0123456789abcdef0123456789abcdef-2\"</ETag></CompleteMultipartUploadResult>");
  };
  wrong.head = lost.head;
  auto mismatch = run_upload(wrong);
  BOOST_TEST_REQUIRE(!mismatch.has_value());
  BOOST_TEST((mismatch.error() == errc::integrity_violation), mismatch.error().to_string());

  // A part refused: no completion, the upload aborted, the part's error returned.
  multipart_script refused;
  refused.refuse_part = 2;
  refused.complete = done.complete;
  refused.head = lost.head;
  auto denied = run_upload(refused);
  BOOST_TEST_REQUIRE(!denied.has_value());
  BOOST_TEST((denied.error() == condition::forbidden), denied.error().to_string());
  BOOST_TEST(refused.completes == 0);
  BOOST_TEST(refused.aborts == 1);
}

BOOST_AUTO_TEST_CASE(a_pagination_loop_is_stopped) {
  with_fake([](http::server_request&) { return xml_answer(200, list_page_xml(0, 2, true, "same")); },
            [](s3::client& c, fake_s3& f) -> asio::awaitable<void> {
              cloud::list_options lo{.page_size = 2};
              auto pages = c.list_objects("bucket-one", lo);
              auto first = co_await pages.next();
              BOOST_TEST_REQUIRE(first.has_value());
              auto second = co_await pages.next();
              BOOST_TEST_REQUIRE(!second.has_value());
              BOOST_TEST(std::string(second.error().message()).find("pagination loop") != std::string::npos);
              BOOST_TEST(f.seen == 2);
            });
}

BOOST_AUTO_TEST_CASE(a_wrong_region_names_the_buckets_region) {
  with_fake(
      [](http::server_request&) {
        auto res = xml_answer(301, "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message></Error>");
        res.set("x-amz-bucket-region", "eu-west-1");
        return res;
      },
      [](s3::client& c, fake_s3&) -> asio::awaitable<void> {
        auto r = co_await c.head_object("bucket-one", "k");
        BOOST_TEST_REQUIRE(!r.has_value());
        BOOST_TEST(std::string(r.error().message()).find("the bucket's region: eu-west-1") != std::string::npos, r.error().message());
      });
}

namespace {
// A server whose clock is `ahead` of this machine's and that refuses, as S3 does, a request whose
// X-Amz-Date is more than 15 minutes off its own, answering RequestTimeTooSkewed with its Date.
std::function<http::server_response(http::server_request&)> skewed_server(std::chrono::seconds ahead, int& refused) {
  return [ahead, &refused](http::server_request& r) {
    const std::time_t server_now = std::time(nullptr) + ahead.count();
    std::tm tm{};
    const std::string amz(r["X-Amz-Date"]);
    if (amz.size() != 16 || std::sscanf(amz.c_str(), "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
      return xml_answer(400, error_xml("AuthorizationHeaderMalformed", "no X-Amz-Date"));
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    if (std::abs(static_cast<long>(timegm(&tm) - server_now)) > 15 * 60) {
      ++refused;
      auto res = xml_answer(403, error_xml("RequestTimeTooSkewed", "The difference between the request time and the current time is too large."));
      res.set(http::field::date, intg::testing::scenarios::http_date(server_now));
      return res;
    }
    return http::make_response(boost::beast::http::status::no_content, "", "application/xml");
  };
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_skewed_clock_is_corrected_once_from_the_answers_date) {
  int refused = 0;
  with_fake(skewed_server(std::chrono::minutes(20), refused), [&](s3::client& c, fake_s3& f) -> asio::awaitable<void> {
    auto r = co_await c.delete_object("bucket-one", "k");
    BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().to_string()));
    BOOST_TEST(refused == 1);
    BOOST_TEST(f.seen == 2);  // refused, corrected, signed and sent once more
    const auto offset = c.signer().clock_offset;
    BOOST_TEST((offset >= std::chrono::minutes(19) && offset <= std::chrono::minutes(21)));
    BOOST_TEST((co_await c.delete_object("bucket-one", "k")).has_value());
    BOOST_TEST(refused == 1);  // the correction stays
  });
  // A server three days off is not believed: the refusal is the caller's, after one request.
  refused = 0;
  with_fake(skewed_server(std::chrono::hours(72), refused), [&](s3::client& c, fake_s3& f) -> asio::awaitable<void> {
    auto r = co_await c.delete_object("bucket-one", "k");
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().provider_code() == "RequestTimeTooSkewed");
    BOOST_TEST(f.seen == 1);
    BOOST_TEST((c.signer().clock_offset == std::chrono::seconds(0)));
  });
}

BOOST_AUTO_TEST_SUITE_END()


// ==== AWS web identity (STS AssumeRoleWithWebIdentity) ===========================================

namespace {

namespace aws = intg::auth::aws;

// A token shaped as Kubernetes projects it (a JWT; nobody here checks its signature), in a file
// of its own. `expires_in` may be negative: an expired token.
struct token_file {
  std::filesystem::path path;
  std::string token;
  explicit token_file(std::chrono::seconds expires_in = std::chrono::hours(1)) {
    const auto exp = std::chrono::duration_cast<std::chrono::seconds>((std::chrono::system_clock::now() + expires_in).time_since_epoch()).count();
    token = intg::crypto::base64url_encode(std::string_view(R"({"alg":"RS256","kid":"k1"})")) + "." +
            intg::crypto::base64url_encode(R"({"sub":"system:serviceaccount:default:intg","aud":"sts.amazonaws.com","exp":)" +
                                           std::to_string(exp) + "}") +
            ".c2lnbmF0dXJl";
    path = std::filesystem::temp_directory_path() / ("intg-web-identity-" + new_bucket("t"));
    std::ofstream(path) << token << "\n";
  }
  ~token_file() {
    std::error_code ec;
    std::filesystem::remove(path, ec);
  }
};

std::string sts_answer(std::string_view key_id, std::string_view secret, std::string_view token, std::chrono::system_clock::time_point expiration) {
  const auto t = std::chrono::system_clock::to_time_t(expiration);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return R"(<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>)"
         "<Credentials><AccessKeyId>" + std::string(key_id) + "</AccessKeyId><SecretAccessKey>" + std::string(secret) +
         "</SecretAccessKey><SessionToken>" + std::string(token) + "</SessionToken><Expiration>" + when +
         "</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
}

std::string sts_error(std::string_view code, std::string_view message) {
  return R"(<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>)" + std::string(code) +
         "</Code><Message>" + std::string(message) + "</Message></Error><RequestId>R2</RequestId></ErrorResponse>";
}

intg::integration_config web_identity_config(const std::string& base_url, const token_file& t) {
  auto cfg = s3_config(base_url, "unused", "unused");
  cfg.settings.erase("access_key_id");
  cfg.settings.erase("secret_access_key");
  cfg.settings["role_arn"] = "arn:aws:iam::123456789012:role/intg-web-identity";
  cfg.settings["web_identity_token_file"] = t.path.string();
  cfg.settings["sts_endpoint"] = base_url + "/";
  return cfg;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(aws_web_identity)

BOOST_AUTO_TEST_CASE(sts_answers_are_read_and_refusals_keep_stss_code_and_message) {
  const auto now = std::chrono::system_clock::now();
  auto ok = aws::parse_web_identity_answer(sts_answer("ASIAEXAMPLE000000001", "sec/ret+1", "FwoGZXIvYXdzEXAMPLE", now + std::chrono::hours(1)), 200, now);
  BOOST_TEST_REQUIRE(ok.has_value(), (ok ? std::string() : ok.error().to_string()));
  BOOST_TEST(ok->keys.access_key_id == "ASIAEXAMPLE000000001");
  BOOST_TEST(ok->keys.secret_access_key.reveal() == "sec/ret+1");
  BOOST_TEST(ok->keys.session_token.reveal() == "FwoGZXIvYXdzEXAMPLE");
  BOOST_TEST((ok->expires_in >= std::chrono::seconds(3598) && ok->expires_in <= std::chrono::seconds(3600)));
  // moto writes the Expiration with microseconds.
  auto micro = sts_answer("ASIAEXAMPLE000000001", "s", "t", now + std::chrono::hours(1));
  micro.replace(micro.find("Z</Expiration>"), 1, ".153692Z");
  BOOST_TEST(aws::parse_web_identity_answer(micro, 200, now).has_value());

  const std::pair<std::string, std::string> broken[] = {
      {"not xml", "not XML"},
      {"<Other/>", "not an AssumeRoleWithWebIdentityResponse"},
      {"<AssumeRoleWithWebIdentityResponse/>", "no Credentials"},
      {sts_answer("", "s", "t", now + std::chrono::hours(1)), "lack AccessKeyId"},
      {sts_answer("ASIAEXAMPLE000000001", "s", "", now + std::chrono::hours(1)), "lack AccessKeyId"},
      {sts_answer("ASIA EXAMPLE", "s", "t", now + std::chrono::hours(1)), "access_key_id"},
      {sts_answer("ASIAEXAMPLE000000001", "s", "to ken", now + std::chrono::hours(1)), "session_token"},
      {sts_answer("ASIAEXAMPLE000000001", "s", "t", now - std::chrono::minutes(1)), "already expired"},
      {R"(<!DOCTYPE x [<!ENTITY a "b">]><AssumeRoleWithWebIdentityResponse/>)", "not XML"},
  };
  for (const auto& [body, why] : broken) {
    auto r = aws::parse_web_identity_answer(body, 200, now);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error() == errc::invalid_response));
    BOOST_TEST(r.error().to_string().find(why) != std::string::npos, r.error().to_string());
    BOOST_TEST(r.error().to_string().find("sec/ret") == std::string::npos);
  }
  auto bad = aws::parse_web_identity_answer(micro, 200, now);
  BOOST_TEST(bad.has_value());
  auto bad_time = micro;
  bad_time.replace(bad_time.find("<Expiration>") + 12, 4, "20x6");
  BOOST_TEST(aws::parse_web_identity_answer(bad_time, 200, now).error().to_string().find("ISO 8601") != std::string::npos);

  const std::tuple<int, std::string, condition> refusals[] = {
      {400, "InvalidIdentityToken", condition::unauthorized},
      {400, "ExpiredTokenException", condition::unauthorized},
      {403, "AccessDenied", condition::unauthorized},
      {400, "IDPCommunicationError", condition::transient},
      {400, "Throttling", condition::rate_limited},
      {503, "", condition::transient},
      {400, "MalformedPolicyDocument", condition::invalid_argument},
  };
  for (const auto& [status, code, cond] : refusals) {
    auto r = aws::parse_web_identity_answer(code.empty() ? "<html>busy</html>" : sts_error(code, "why it was refused"), status, now);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error() == cond), code << ": " << r.error().to_string());
    BOOST_TEST(r.error().provider_code() == code);
    BOOST_TEST(r.error().http_status() == status);
    if (!code.empty()) BOOST_TEST(r.error().to_string().find("why it was refused") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(expired_temporary_credentials_are_renewed_once_and_the_request_signed_again) {
  token_file t;
  asio::io_context io;
  fake_s3 f(io);
  int sts_calls = 0;
  std::vector<std::string> tokens_seen;
  f.handle = [&](http::server_request& r) {
    if (r.method() == http::verb::post && r.body().find("Action=AssumeRoleWithWebIdentity") != std::string::npos) {
      ++sts_calls;
      BOOST_TEST(r.body().find("RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fintg-web-identity") != std::string::npos);
      BOOST_TEST(r.body().find(t.token) != std::string::npos);
      BOOST_TEST((r.find(http::field::authorization) == r.end()));  // the token is the credential
      const auto n = std::to_string(sts_calls);
      return xml_answer(200, sts_answer("ASIAEXAMPLE00000000" + n, "secret" + n, "session" + n, std::chrono::system_clock::now() + std::chrono::hours(1)));
    }
    tokens_seen.push_back(std::string(r["X-Amz-Security-Token"]));
    BOOST_TEST(std::string(r[http::field::authorization]).find("Credential=ASIAEXAMPLE00000000" + std::to_string(sts_calls) + "/") != std::string::npos);
    if (r["X-Amz-Security-Token"] == "session1") return xml_answer(400, error_xml("ExpiredToken", "The provided token has expired."));
    return http::make_response(boost::beast::http::status::no_content, "", "");
  };
  s3::client c(web_identity_config(f.base(), t), io.get_executor(), local_options());
  test::run(io, [&]() -> asio::awaitable<void> {
    auto ok = co_await c.initialize();
    BOOST_TEST_REQUIRE(ok.has_value(), (ok ? std::string() : ok.error().to_string()));
    BOOST_TEST(sts_calls == 1);  // initialize() obtained the first credentials
    BOOST_TEST(c.kit().auth().web_identity());
    auto r = co_await c.delete_object("bucket-one", "k");
    BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().to_string()));
    BOOST_TEST(sts_calls == 2);
    BOOST_TEST((tokens_seen == std::vector<std::string>{"session1", "session2"}));
    BOOST_TEST((co_await c.delete_object("bucket-one", "k")).has_value());
    BOOST_TEST(sts_calls == 2);  // cached until a margin before the hour is out
    BOOST_TEST(c.kit().auth().fetches() == 2u);
    co_await f.server.shutdown(1s);
  }());
}

BOOST_AUTO_TEST_CASE(a_refused_or_missing_token_is_a_clear_error_that_never_shows_the_token) {
  token_file t;
  asio::io_context io;
  fake_s3 f(io);
  f.handle = [&](http::server_request& r) {
    if (r.body().find("Action=AssumeRoleWithWebIdentity") != std::string::npos)
      return xml_answer(400, sts_error("InvalidIdentityToken", "Incorrect token audience: " + t.token));
    return http::make_response(boost::beast::http::status::no_content, "", "");
  };
  test::run(io, [&]() -> asio::awaitable<void> {
    {
      s3::client c(web_identity_config(f.base(), t), io.get_executor(), local_options());
      auto ok = co_await c.initialize();
      BOOST_TEST_REQUIRE(!ok.has_value());
      BOOST_TEST((ok.error() == condition::unauthorized), ok.error().to_string());
      BOOST_TEST(ok.error().provider_code() == "InvalidIdentityToken");
      BOOST_TEST(ok.error().to_string().find("Incorrect token audience") != std::string::npos, ok.error().to_string());
      BOOST_TEST(ok.error().to_string().find(t.token) == std::string::npos);
      BOOST_TEST(f.seen == 1);  // refused: not retried
    }
    {
      auto cfg = web_identity_config(f.base(), t);
      cfg.settings["web_identity_token_file"] = t.path.string() + ".missing";
      s3::client c(cfg, io.get_executor(), local_options());
      auto ok = co_await c.initialize();
      BOOST_TEST_REQUIRE(!ok.has_value());
      BOOST_TEST((ok.error() == errc::config_error), ok.error().to_string());
      BOOST_TEST(ok.error().to_string().find(".missing") != std::string::npos);
      BOOST_TEST(f.seen == 1);  // nothing sent
    }
    const std::pair<std::string, boost::json::value> bad_settings[] = {
        {"role_session_name", "has spaces"}, {"duration_seconds", 60}, {"duration_seconds", "3600"}, {"region", "us east"}};
    for (const auto& [key, value] : bad_settings) {
      auto b = web_identity_config(f.base(), t);
      b.settings[key] = value;
      s3::client c(b, io.get_executor(), local_options());
      auto ok = co_await c.initialize();
      BOOST_TEST_REQUIRE(!ok.has_value());
      BOOST_TEST(ok.error().to_string().find("settings." + key) != std::string::npos, ok.error().to_string());
    }
    co_await f.server.shutdown(1s);
  }());
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// Code written against the concept, as replication across clouds will be: run on an S3 bucket
// (suite s3_moto) and on an Azure container (suite azure_blob_azurite).
asio::awaitable<void> exercise(cloud::object_store auto& store) {
  const std::string body = "the same code on any cloud";
  cloud::put_options po{.content_type = "text/plain"};
  auto put = co_await store.put("neutral/one.txt", body, po);
  BOOST_TEST_REQUIRE(put.has_value());
  auto got = co_await store.get("neutral/one.txt");
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->body == body);
  auto head = co_await store.head("neutral/one.txt");
  BOOST_TEST_REQUIRE(head.has_value());
  BOOST_TEST(head->size == body.size());
  const std::string big = pattern((5u << 20) + 1);
  cloud::put_options parts{.part_size = 5u << 20, .parallel = 2};
  auto streamed = co_await store.put_stream("neutral/two.bin", cloud::memory_source(big), parts);
  BOOST_TEST_REQUIRE(streamed.has_value());
  std::string back;
  auto down = co_await store.get_stream("neutral/two.bin", cloud::memory_sink(back));
  BOOST_TEST_REQUIRE(down.has_value());
  BOOST_TEST((back == big));
  cloud::list_options lo{.prefix = "neutral/", .page_size = 1};
  auto pages = store.list(lo);
  std::vector<std::string> keys;
  while (true) {
    auto page = co_await pages.next();
    BOOST_TEST_REQUIRE(page.has_value());
    if (!*page) break;
    for (auto& o : (*page)->objects) keys.push_back(o.key);
  }
  BOOST_TEST((keys == std::vector<std::string>{"neutral/one.txt", "neutral/two.bin"}));
  auto removed = co_await store.remove("neutral/one.txt");
  BOOST_TEST(removed.has_value());
  removed = co_await store.remove("neutral/two.bin");
  BOOST_TEST(removed.has_value());
  auto gone = co_await store.get("neutral/one.txt");
  BOOST_TEST((!gone.has_value() && gone.error() == condition::not_found));
}

}  // namespace

// ==== S3 against moto ============================================================================

BOOST_AUTO_TEST_SUITE(s3_moto, *boost::unit_test::precondition(moto_available()))

BOOST_AUTO_TEST_CASE(every_object_operation_works_against_moto) {
  with_client(moto_config(), [](s3::client& c) -> asio::awaitable<void> {
    const std::string b = new_bucket("ops");
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    auto again = co_await c.create_bucket(b);  // us-east-1 answers 200 for a bucket one owns (elsewhere: BucketAlreadyOwnedByYou)
    BOOST_TEST(again.has_value());

    const std::string body = "hello, object storage";
    const cloud::metadata_entry meta[] = {{"Origin", "intg"}, {"tenant", "acme"}};
    cloud::put_options po{.content_type = "text/plain", .metadata = meta};
    auto put = co_await c.put_object(b, "dir/a file+1.txt", body, po);
    BOOST_TEST_REQUIRE(put.has_value(), (put ? std::string() : put.error().to_string()));
    BOOST_TEST(put->etag == intg::crypto::to_hex(intg::crypto::md5(body)));

    auto got = co_await c.get_object(b, "dir/a file+1.txt");
    BOOST_TEST_REQUIRE(got.has_value(), (got ? std::string() : got.error().to_string()));
    BOOST_TEST(got->body == body);
    BOOST_TEST(got->info.content_type == "text/plain");
    BOOST_TEST(got->info.metadata["origin"] == "intg");
    BOOST_TEST(got->info.metadata["tenant"] == "acme");
    BOOST_TEST(got->info.checksums.sha256 == intg::crypto::base64_encode(intg::crypto::sha256(body)));  // kept by S3, verified

    auto head = co_await c.head_object(b, "dir/a file+1.txt");
    BOOST_TEST_REQUIRE(head.has_value());
    BOOST_TEST(head->size == body.size());
    BOOST_TEST(head->etag == put->etag);
    BOOST_TEST(head->checksums.sha256 == put->checksums.sha256);
    BOOST_TEST(head->last_modified.time_since_epoch().count() > 0);

    cloud::get_options middle{.range = cloud::byte_range{7, 12}};
    auto part = co_await c.get_object(b, "dir/a file+1.txt", middle);
    BOOST_TEST_REQUIRE(part.has_value());
    BOOST_TEST(part->body == "object");
    BOOST_TEST(part->info.size == body.size());
    cloud::get_options tail{.range = cloud::byte_range{16, std::nullopt}};
    auto end = co_await c.get_object(b, "dir/a file+1.txt", tail);
    BOOST_TEST_REQUIRE(end.has_value());
    BOOST_TEST(end->body == "orage");

    auto copied = co_await c.copy_object(b, "dir/a file+1.txt", b, "copy/of it");
    BOOST_TEST_REQUIRE(copied.has_value(), (copied ? std::string() : copied.error().to_string()));
    BOOST_TEST(copied->etag == put->etag);
    auto copy = co_await c.get_object(b, "copy/of it");
    BOOST_TEST_REQUIRE(copy.has_value());
    BOOST_TEST(copy->body == body);
    BOOST_TEST(copy->info.metadata["origin"] == "intg");

    auto odd = co_await c.put_object(b, "odd/%2F?&=#ü /../k", "odd");
    BOOST_TEST_REQUIRE(odd.has_value(), (odd ? std::string() : odd.error().to_string()));
    auto odd_back = co_await c.get_object(b, "odd/%2F?&=#ü /../k");
    BOOST_TEST_REQUIRE(odd_back.has_value(), (odd_back ? std::string() : odd_back.error().to_string()));
    BOOST_TEST(odd_back->body == "odd");

    auto missing = co_await c.get_object(b, "nope");
    BOOST_TEST_REQUIRE(!missing.has_value());
    BOOST_TEST((missing.error() == condition::not_found));
    BOOST_TEST(missing.error().provider_code() == "NoSuchKey");
    auto head_missing = co_await c.head_object(b, "nope");
    BOOST_TEST((!head_missing.has_value() && head_missing.error() == condition::not_found));
    auto no_bucket = co_await c.get_object(new_bucket("none"), "k");
    BOOST_TEST((!no_bucket.has_value() && no_bucket.error().provider_code() == "NoSuchBucket"));

    auto not_empty = co_await c.delete_bucket(b);
    BOOST_TEST((!not_empty.has_value() && not_empty.error().provider_code() == "BucketNotEmpty"));
    for (std::string_view k : {std::string_view("dir/a file+1.txt"), std::string_view("copy/of it"), std::string_view("odd/%2F?&=#ü /../k")})
      BOOST_TEST((co_await c.delete_object(b, k)).has_value());
    BOOST_TEST((co_await c.delete_object(b, "never-there")).has_value());  // S3 answers 204 anyway
    auto gone = co_await c.head_object(b, "copy/of it");
    BOOST_TEST((!gone.has_value() && gone.error() == condition::not_found));
    BOOST_TEST((co_await c.delete_bucket(b)).has_value());
    auto h = co_await c.health_check();
    BOOST_TEST((h.status == intg::integration_status::healthy), h.message);
  });
}

BOOST_AUTO_TEST_CASE(a_bucket_outside_us_east_1_is_created_with_its_location_constraint) {
  auto cfg = moto_config();
  cfg.settings["region"] = "eu-west-1";  // signs for eu-west-1 and sends a LocationConstraint
  with_client(cfg, [](s3::client& c) -> asio::awaitable<void> {
    const std::string b = new_bucket("eu");
    auto made = co_await c.create_bucket(b);
    BOOST_TEST_REQUIRE(made.has_value(), (made ? std::string() : made.error().to_string()));
    auto again = co_await c.create_bucket(b);  // outside us-east-1, S3 says so
    BOOST_TEST_REQUIRE(!again.has_value());
    BOOST_TEST(again.error().provider_code() == "BucketAlreadyOwnedByYou");
    BOOST_TEST((again.error() == condition::conflict));
    BOOST_TEST((co_await c.delete_bucket(b)).has_value());
  });
}

BOOST_AUTO_TEST_CASE(listing_many_keys_follows_continuation_tokens_page_by_page) {
  with_client(moto_config(), [](s3::client& c) -> asio::awaitable<void> {
    const std::string b = new_bucket("list");
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    std::vector<std::string> keys;
    for (int i = 0; i < 23; ++i) {
      char k[32];
      std::snprintf(k, sizeof k, "logs/%02d.txt", i);
      keys.emplace_back(k);
      BOOST_TEST_REQUIRE((co_await c.put_object(b, keys.back(), "x")).has_value());
    }
    for (std::string_view k : {std::string_view("other/a"), std::string_view("other/b/c"), std::string_view("top")})
      BOOST_TEST_REQUIRE((co_await c.put_object(b, k, "y")).has_value());

    cloud::list_options lo{.prefix = "logs/", .page_size = 5};
    auto pages = c.list_objects(b, lo);
    std::vector<std::string> seen;
    std::vector<std::size_t> sizes;
    while (true) {
      auto page = co_await pages.next();
      BOOST_TEST_REQUIRE(page.has_value(), (page ? std::string() : page.error().to_string()));
      if (!*page) break;
      sizes.push_back((*page)->objects.size());
      for (auto& o : (*page)->objects) {
        BOOST_TEST(o.size == 1u);
        BOOST_TEST(o.etag == intg::crypto::to_hex(intg::crypto::md5("x")));
        seen.push_back(o.key);
      }
    }
    BOOST_TEST(seen == keys, boost::test_tools::per_element());
    BOOST_TEST(pages.pages_read() == 5u);
    BOOST_TEST((sizes == std::vector<std::size_t>{5, 5, 5, 5, 3}));

    cloud::list_options top{.delimiter = "/"};
    auto level = c.list_objects(b, top);
    auto first = co_await level.next();
    BOOST_TEST_REQUIRE((first.has_value() && first->has_value()));
    BOOST_TEST_REQUIRE((*first)->objects.size() == 1u);
    BOOST_TEST((*first)->objects[0].key == "top");
    BOOST_TEST(((*first)->prefixes == std::vector<std::string>{"logs/", "other/"}));
    cloud::list_options after{.prefix = "logs/", .start_after = "logs/20.txt"};
    auto rest_pages = c.list_objects(b, after);
    auto last = co_await rest_pages.next();
    BOOST_TEST_REQUIRE((last.has_value() && last->has_value()));
    BOOST_TEST((*last)->objects.size() == 2u);
  });
}

BOOST_AUTO_TEST_CASE(virtual_hosted_addressing_names_the_bucket_in_the_host) {
  // moto reached as an HTTP proxy, so that BUCKET.s3.intg.test needs no DNS: the request line
  // carries the absolute URL and the signed Host header names the bucket.
  const std::string port = env().get("INTG_MOTO_PORT");
  auto cfg = moto_config("virtual");
  cfg.settings["base_url"] = "http://s3.intg.test:" + port;
  auto opts = local_options();
  opts.http.proxy.http = http::url::parse("http://127.0.0.1:" + port).value();
  with_client(cfg, [](s3::client& c) -> asio::awaitable<void> {
    BOOST_TEST((c.addressing() == s3::addressing::virtual_hosted));
    const std::string b = new_bucket("virtual");
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    BOOST_TEST_REQUIRE((co_await c.put_object(b, "a/b c", "virtual")).has_value());
    auto got = co_await c.get_object(b, "a/b c");
    BOOST_TEST_REQUIRE(got.has_value(), (got ? std::string() : got.error().to_string()));
    BOOST_TEST(got->body == "virtual");
    cloud::list_options lo{};
    auto pages = c.list_objects(b, lo);
    auto page = co_await pages.next();
    BOOST_TEST_REQUIRE((page.has_value() && page->has_value()));
    BOOST_TEST_REQUIRE((*page)->objects.size() == 1u);
    BOOST_TEST((*page)->objects[0].key == "a/b c");
    auto url = c.presign_get(b, "a/b c", 60s);
    BOOST_TEST_REQUIRE(url.has_value());
    BOOST_TEST(url->starts_with("http://" + b + ".s3.intg.test:"));
    BOOST_TEST((co_await c.delete_object(b, "a/b c")).has_value());
    BOOST_TEST((co_await c.delete_bucket(b)).has_value());
  }, opts);
}

BOOST_AUTO_TEST_CASE(wrong_credentials_and_tampered_requests_are_refused_and_not_retried) {
  auto wrong = moto_config();
  wrong.settings["secret_access_key"] = env().get("INTG_MOTO_SECRET_ACCESS_KEY") + "x";
  with_client(wrong, [](s3::client& c) -> asio::awaitable<void> {
    const auto before = c.http().stats().requests;
    auto r = co_await c.put_object("intg-no-such-bucket", "k", "v");
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().provider_code() == "SignatureDoesNotMatch");
    BOOST_TEST((r.error() == condition::unauthorized));
    BOOST_TEST(r.error().http_status() == 403);
    BOOST_TEST(c.http().stats().requests - before == 1u);  // not retried
    const std::string text = r.error().to_string();
    BOOST_TEST(text.find(env().get("INTG_MOTO_SECRET_ACCESS_KEY")) == std::string::npos);
  });
  auto unknown = moto_config();
  unknown.settings["access_key_id"] = "AKIAUNKNOWNKEY000000";
  with_client(unknown, [](s3::client& c) -> asio::awaitable<void> {
    auto r = co_await c.head_object("intg-no-such-bucket", "k");
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error() == condition::unauthorized || r.error() == condition::forbidden), r.error().to_string());
    auto l = c.list_objects("intg-no-such-bucket");
    auto page = co_await l.next();
    BOOST_TEST_REQUIRE(!page.has_value());
    BOOST_TEST(page.error().provider_code() == "InvalidAccessKeyId");
  });
  // A request signed for one key and sent for another: moto recomputes the signature.
  with_client(moto_config(), [](s3::client& c) -> asio::awaitable<void> {
    const std::string b = new_bucket("tamper");
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    auto req = http::request::make(http::verb::get, env().endpoint() + "/" + b + "/signed-for-this").value();
    BOOST_TEST_REQUIRE(c.signer().sign(req).has_value());
    req.message.target("/" + b + "/but-sent-for-this");
    req.target = http::url::parse(env().endpoint() + "/" + b + "/but-sent-for-this").value();
    auto res = co_await c.http().send(req);
    BOOST_TEST_REQUIRE(res.has_value());
    BOOST_TEST(res->result_int() == 403u);
    auto doc = s3::parse_error(res->body());
    BOOST_TEST_REQUIRE(doc.has_value());
    BOOST_TEST(doc->code == "SignatureDoesNotMatch");
    auto dated = http::request::make(http::verb::get, env().endpoint() + "/" + b + "?list-type=2").value();
    BOOST_TEST_REQUIRE(c.signer().sign(dated).has_value());
    dated.message.set("X-Amz-Date", "20200101T000000Z");
    auto res2 = co_await c.http().send(dated);
    BOOST_TEST_REQUIRE(res2.has_value());
    BOOST_TEST(res2->result_int() == 403u);
    BOOST_TEST((co_await c.delete_bucket(b)).has_value());
  });
}

BOOST_AUTO_TEST_CASE(presigned_urls_work_with_a_plain_http_client_until_they_expire) {
  with_client(moto_config(), [](s3::client& c) -> asio::awaitable<void> {
    const std::string b = new_bucket("presign");
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    BOOST_TEST_REQUIRE((co_await c.put_object(b, "shared/report.txt", "for your eyes")).has_value());
    http::client plain(co_await asio::this_coro::executor);

    auto get_url = c.presign_get(b, "shared/report.txt", 60s);
    BOOST_TEST_REQUIRE(get_url.has_value());
    BOOST_TEST(get_url->find("X-Amz-Signature=") != std::string::npos);
    BOOST_TEST(get_url->find(env().get("INTG_MOTO_SECRET_ACCESS_KEY")) == std::string::npos);
    auto fetched = co_await plain.get(*get_url);
    BOOST_TEST_REQUIRE(fetched.has_value());
    BOOST_TEST(fetched->result_int() == 200u);
    BOOST_TEST(fetched->body() == "for your eyes");

    auto put_url = c.presign_put(b, "incoming/upload.bin", 60s, "application/octet-stream");
    BOOST_TEST_REQUIRE(put_url.has_value());
    auto up = http::request::make(http::verb::put, *put_url).value();
    up.body("uploaded with a presigned URL", "application/octet-stream");
    auto sent = co_await plain.send(up);
    BOOST_TEST_REQUIRE(sent.has_value());
    BOOST_TEST(sent->result_int() == 200u, sent->body());
    auto back = co_await c.get_object(b, "incoming/upload.bin");
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST(back->body == "uploaded with a presigned URL");

    // Signed an hour ago for ten minutes: refused as S3 refuses it.
    auto now = c.signer().clock;
    c.signer().clock = [] { return std::chrono::system_clock::now() - 1h; };
    auto old_url = c.presign_get(b, "shared/report.txt", 600s);
    c.signer().clock = now;
    BOOST_TEST_REQUIRE(old_url.has_value());
    auto expired = co_await plain.get(*old_url);
    BOOST_TEST_REQUIRE(expired.has_value());
    BOOST_TEST(expired->result_int() == 403u);
    auto doc = s3::parse_error(expired->body());
    BOOST_TEST_REQUIRE(doc.has_value());
    BOOST_TEST(doc->code == "AccessDenied");
    BOOST_TEST(doc->message == "Request has expired");

    // One signed with the wrong secret.
    const auto keys = c.signer().keys;
    auto forged = keys;
    forged.secret_access_key = intg::secret{"not-the-secret"};
    c.signer().keys = forged;
    auto forged_url = c.presign_get(b, "shared/report.txt", 60s);
    c.signer().keys = keys;
    auto refused = co_await plain.get(*forged_url);
    BOOST_TEST_REQUIRE(refused.has_value());
    BOOST_TEST(refused->result_int() == 403u);
    BOOST_TEST(s3::parse_error(refused->body())->code == "SignatureDoesNotMatch");
    BOOST_TEST(!c.presign_get(b, "k", 8 * 24h).has_value());  // beyond seven days
    for (std::string_view k : {std::string_view("shared/report.txt"), std::string_view("incoming/upload.bin")})
      BOOST_TEST((co_await c.delete_object(b, k)).has_value());
    BOOST_TEST((co_await c.delete_bucket(b)).has_value());
  });
}

BOOST_AUTO_TEST_CASE(a_multipart_upload_streams_a_file_in_parallel_parts_and_reads_back_in_ranges) {
  const auto dir = std::filesystem::temp_directory_path() / ("intg-s3-" + new_bucket("f"));
  std::filesystem::create_directories(dir);
  const std::string content = pattern((12u << 20) + 12345, 3);
  {
    std::ofstream out(dir / "in.bin", std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  }
  with_client(moto_config(), [&](s3::client& c) -> asio::awaitable<void> {
    const std::string b = new_bucket("multipart");
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    const auto before = c.http().stats().requests;
    const cloud::metadata_entry meta[] = {{"origin", "file"}};
    cloud::put_options po{.content_type = "application/x-test", .metadata = meta, .part_size = 5u << 20, .parallel = 2};
    auto up = co_await c.upload(b, "big/file.bin", cloud::file_source((dir / "in.bin").string()), po);
    BOOST_TEST_REQUIRE(up.has_value(), (up ? std::string() : up.error().to_string()));
    BOOST_TEST(up->etag.ends_with("-3"));
    BOOST_TEST(up->size == content.size());
    BOOST_TEST(c.http().stats().requests - before == 5u);  // create, 3 parts, complete

    auto head = co_await c.head_object(b, "big/file.bin");
    BOOST_TEST_REQUIRE(head.has_value());
    BOOST_TEST(head->size == content.size());
    BOOST_TEST(head->etag == up->etag);
    BOOST_TEST(head->content_type == "application/x-test");
    BOOST_TEST(head->metadata["origin"] == "file");

    cloud::get_options go{.part_size = 3u << 20};
    auto down = co_await c.get_stream(b, "big/file.bin", cloud::file_sink((dir / "out.bin").string()), go);
    BOOST_TEST_REQUIRE(down.has_value(), (down ? std::string() : down.error().to_string()));
    std::ifstream in(dir / "out.bin", std::ios::binary);
    const std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_TEST((back == content));
    std::string window;
    cloud::get_options ranged{.range = cloud::byte_range{(5u << 20) - 10, (5u << 20) + 9}, .part_size = 64 * 1024};
    auto r = co_await c.get_stream(b, "big/file.bin", cloud::memory_sink(window), ranged);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST((window == content.substr((5u << 20) - 10, 20)));

    // Shorter than a part: one PutObject.
    const std::string small = pattern(1000);
    const auto before_small = c.http().stats().requests;
    auto one = co_await c.upload(b, "small.bin", cloud::memory_source(small), po);
    BOOST_TEST_REQUIRE(one.has_value());
    BOOST_TEST(c.http().stats().requests - before_small == 1u);
    BOOST_TEST(one->etag == intg::crypto::to_hex(intg::crypto::md5(small)));

    auto uploads = co_await c.list_uploads(b);
    BOOST_TEST_REQUIRE(uploads.has_value());
    BOOST_TEST(uploads->empty());
    for (std::string_view k : {std::string_view("big/file.bin"), std::string_view("small.bin")})
      BOOST_TEST((co_await c.delete_object(b, k)).has_value());
    BOOST_TEST((co_await c.delete_bucket(b)).has_value());
  });
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_source_failing_midway_aborts_the_multipart_upload) {
  with_client(moto_config(), [](s3::client& c) -> asio::awaitable<void> {
    const std::string b = new_bucket("abort");
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    // 12 MiB on offer, but the source fails after 7 MiB: part 1 is stored, part 2 never completes.
    auto served = std::make_shared<std::size_t>(0);
    cloud::byte_source failing = [served](std::span<char> buf) -> asio::awaitable<intg::result<std::size_t>> {
      if (*served >= (7u << 20)) co_return intg::error(errc::unavailable, "the disk went away");
      const std::size_t n = std::min<std::size_t>(buf.size(), 1u << 20);
      std::fill_n(buf.data(), n, 'z');
      *served += n;
      co_return n;
    };
    cloud::put_options po{.part_size = 5u << 20, .parallel = 3};
    auto up = co_await c.upload(b, "never/complete.bin", failing, po);
    BOOST_TEST_REQUIRE(!up.has_value());
    BOOST_TEST((up.error() == errc::unavailable));
    BOOST_TEST(std::string(up.error().message()).find("the disk went away") != std::string::npos, up.error().message());
    auto uploads = co_await c.list_uploads(b);
    BOOST_TEST_REQUIRE(uploads.has_value());
    BOOST_TEST(uploads->empty());  // aborted
    auto head = co_await c.head_object(b, "never/complete.bin");
    BOOST_TEST((!head.has_value() && head.error() == condition::not_found));

    cloud::put_options tiny{.part_size = 1u << 20};
    auto refused = co_await c.upload(b, "k", cloud::memory_source("x"), tiny);
    BOOST_TEST((!refused.has_value() && refused.error() == errc::invalid_argument));
    BOOST_TEST((co_await c.delete_bucket(b)).has_value());
  });
}

BOOST_AUTO_TEST_CASE(a_web_identity_signs_with_sts_credentials_that_moto_checks_and_renews_them) {
  BOOST_TEST_REQUIRE(!env().get("INTG_MOTO_ROLE_ARN").empty(), "the moto fixture made no role (INTG_MOTO_ROLE_ARN)");
  token_file t;
  auto cfg = web_identity_config(env().endpoint(), t);
  cfg.settings["role_arn"] = env().get("INTG_MOTO_ROLE_ARN");
  cfg.settings["duration_seconds"] = 900;
  with_client(cfg, [&](s3::client& c) -> asio::awaitable<void> {
    auto& auth = c.kit().auth();
    BOOST_TEST(auth.fetches() == 1u);
    BOOST_TEST_REQUIRE(auth.expiration().has_value());
    const auto left = *auth.expiration() - std::chrono::system_clock::now();
    BOOST_TEST((left > std::chrono::seconds(880) && left <= std::chrono::seconds(900)));
    BOOST_TEST(c.signer().keys.access_key_id.starts_with("ASIA"));
    const std::string b = new_bucket("webid");
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    BOOST_TEST_REQUIRE((co_await c.put_object(b, "k", "signed with a session token")).has_value());
    auto got = co_await c.get_object(b, "k");
    BOOST_TEST_REQUIRE(got.has_value(), (got ? std::string() : got.error().to_string()));
    BOOST_TEST(got->body == "signed with a session token");
    BOOST_TEST(auth.fetches() == 1u);  // one set of credentials for all of it
    // moto checks the session token too.
    auto forged = c.signer().keys;
    auto kept = forged;
    forged.session_token = intg::secret{std::string(kept.session_token.reveal()) + "x"};
    c.signer().keys = forged;
    auto req = http::request::make(http::verb::get, env().endpoint() + "/" + b + "/k").value();
    BOOST_TEST_REQUIRE(c.signer().sign(req).has_value());
    auto res = co_await c.http().send(req);
    BOOST_TEST_REQUIRE(res.has_value());
    BOOST_TEST((res->result_int() == 400u || res->result_int() == 403u));
    BOOST_TEST(s3::parse_error(res->body())->code == "InvalidToken");
    c.signer().keys = kept;
    BOOST_TEST((co_await c.delete_object(b, "k")).has_value());
    BOOST_TEST((co_await c.delete_bucket(b)).has_value());
  });
  // Renewed a margin before they end: with a margin as long as their life, every request gets a
  // new set, and moto takes each.
  asio::io_context io;
  s3::client c(cfg, io.get_executor(), local_options());
  c.kit().auth().manager_options.refresh_margin = std::chrono::seconds(900);
  test::run(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST_REQUIRE((co_await c.initialize()).has_value());
    const std::string b = new_bucket("renew");
    std::set<std::string> keys{c.signer().keys.access_key_id};
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    keys.insert(c.signer().keys.access_key_id);
    for (int i = 0; i < 3; ++i) {
      auto r = co_await c.put_object(b, "k" + std::to_string(i), "v");
      BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().to_string()));
      keys.insert(c.signer().keys.access_key_id);
    }
    BOOST_TEST(c.kit().auth().fetches() == 5u);  // initialize(), create_bucket and three puts
    BOOST_TEST(keys.size() == 5u);
    for (int i = 0; i < 3; ++i) BOOST_TEST((co_await c.delete_object(b, "k" + std::to_string(i))).has_value());
    BOOST_TEST((co_await c.delete_bucket(b)).has_value());
  }());
}

BOOST_AUTO_TEST_CASE(a_bucket_is_an_object_store) {
  static_assert(cloud::object_store<s3::bucket>);
  with_client(moto_config(), [](s3::client& c) -> asio::awaitable<void> {
    const std::string b = new_bucket("store");
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    auto store = c.bucket(b);
    co_await exercise(store);
    BOOST_TEST((co_await c.delete_bucket(b)).has_value());
  });
}

BOOST_AUTO_TEST_SUITE_END()

// ==== with boto3 on the other side (tests/aws/s3_interop.py) ========================================

namespace {
struct interop_run {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    boost::test_tools::assertion_result r(std::getenv("INTG_S3_INTEROP_BUCKET") != nullptr && env().available);
    if (!r) r.message() << "run by tests/aws/s3_interop.py (ctest s3_boto3_interop), which sets INTG_S3_INTEROP_BUCKET";
    return r;
  }
};
}  // namespace

BOOST_AUTO_TEST_SUITE(s3_interop, *boost::unit_test::precondition(interop_run()))

BOOST_AUTO_TEST_CASE(intg_reads_what_boto3_wrote_and_writes_what_boto3_reads) {
  const std::string b = std::getenv("INTG_S3_INTEROP_BUCKET");
  with_client(moto_config(), [&](s3::client& c) -> asio::awaitable<void> {
    auto small = co_await c.get_object(b, "from-boto3/small.txt");
    BOOST_TEST_REQUIRE(small.has_value(), (small ? std::string() : small.error().to_string()));
    BOOST_TEST(small->body == "written by boto3\n");
    BOOST_TEST(small->info.metadata["origin"] == "boto3");
    BOOST_TEST(small->info.content_type == "text/plain");
    BOOST_TEST(!small->info.checksums.sha256.empty());  // boto3 sent one; intg checked it
    std::string big;
    auto streamed = co_await c.get_stream(b, "from-boto3/multipart.bin", cloud::memory_sink(big));
    BOOST_TEST_REQUIRE(streamed.has_value(), (streamed ? std::string() : streamed.error().to_string()));
    BOOST_TEST((big == pattern(11u << 20, 5)));

    const cloud::metadata_entry meta[] = {{"origin", "intg"}};
    cloud::put_options po{.content_type = "text/plain", .metadata = meta};
    BOOST_TEST_REQUIRE((co_await c.put_object(b, "from-intg/small.txt", "written by intg\n", po)).has_value());
    const std::string content = pattern(11u << 20, 9);
    cloud::put_options parts{.metadata = meta, .part_size = 5u << 20, .parallel = 3};
    auto up = co_await c.upload(b, "from-intg/multipart.bin", cloud::memory_source(content), parts);
    BOOST_TEST_REQUIRE(up.has_value(), (up ? std::string() : up.error().to_string()));
  });
}

BOOST_AUTO_TEST_SUITE_END()

// ==== Azure Blob Storage ==========================================================================

namespace {

namespace az = intg::azure_blob;

// Azurite, started by the azurite_server fixture (scripts/azurite-test-server), which writes its
// port and the development account's name and key to the file INTG_AZURITE_ENV names.
struct azurite_env {
  bool available = false;
  std::string port{}, account{}, key{};
  std::string endpoint() const { return "http://127.0.0.1:" + port + "/" + account; }
};

const azurite_env& azurite() {
  static const azurite_env e = [] {
    azurite_env s;
    const char* path = std::getenv("INTG_AZURITE_ENV");
    if (!path) return s;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      const auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      const std::string k = line.substr(0, eq), v = line.substr(eq + 1);
      if (k == "INTG_AZURITE_PORT") s.port = v;
      if (k == "INTG_AZURITE_ACCOUNT") s.account = v;
      if (k == "INTG_AZURITE_KEY") s.key = v;
    }
    s.available = !s.port.empty() && !s.key.empty();
    return s;
  }();
  return e;
}

// Outside ctest (INTG_AZURITE_ENV unset) the suite is skipped. Inside it, with
// INTG_REQUIRE_ALL_TESTS (INTG_AZURITE_REQUIRED), an Azurite that did not start fails the test.
struct azurite_available {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
#ifdef INTG_AZURITE_REQUIRED
    if (std::getenv("INTG_AZURITE_ENV")) return true;
#endif
    boost::test_tools::assertion_result r(azurite().available);
    if (!azurite().available) r.message() << "no Azurite (INTG_AZURITE_ENV unset or its file empty): skipped";
    return r;
  }
};

intg::integration_config azure_config(const std::string& base_url, const std::string& account, const std::string& key) {
  intg::integration_config cfg;
  cfg.name = "blobs";
  cfg.tenant = "acme";
  cfg.settings = {{"base_url", base_url}, {"account_name", account}, {"account_key", key}};
  cfg.rate_limits.requests_per_minute = 600'000;
  cfg.rate_limits.burst_limit = 10'000;
  cfg.retry.base_delay = 10ms;
  cfg.timeout = 20s;
  return cfg;
}

intg::integration_config azurite_config() {
  BOOST_TEST_REQUIRE(azurite().available, "the azurite_server fixture did not start Azurite (INTG_AZURITE_ENV)");
  return azure_config(azurite().endpoint(), azurite().account, azurite().key);
}

rest::client_options azure_local() {
  rest::client_options o;
  o.extra_allowed_hosts = {"127.0.0.1"};
  return o;
}

template <class F>
void with_azure(const intg::integration_config& cfg, F body) {
  asio::io_context io;
  az::client c(cfg, io.get_executor(), azure_local());
  test::run(io, [&]() -> asio::awaitable<void> {
    auto ok = co_await c.initialize();
    BOOST_TEST_REQUIRE(ok.has_value(), (ok ? std::string() : ok.error().to_string()));
    co_await body(c);
  }());
}

// A client on a fresh local server standing in for Azure (faulty and hostile answers).
template <class F>
void with_azure_fake(std::function<http::server_response(http::server_request&)> handler, F body) {
  asio::io_context io;
  fake_s3 f(io);
  f.handle = std::move(handler);
  auto cfg = azure_config(f.base() + "/devstoreaccount1", "devstoreaccount1",
                          "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==");
  az::client c(cfg, io.get_executor(), azure_local());
  test::run(io, [&]() -> asio::awaitable<void> {
    auto ok = co_await c.initialize();
    BOOST_TEST_REQUIRE(ok.has_value());
    co_await body(c, f);
    co_await f.server.shutdown(1s);
  }());
}

std::string azure_error_xml(std::string_view code, std::string_view message) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<Error>\n  <Code>" + std::string(code) + "</Code>\n  <Message>" +
         std::string(message) + "\nRequestId:0c0c0c0c-0000-0000-0000-000000000001\nTime:2026-11-30T17:16:25.466Z</Message>\n</Error>";
}

http::server_response azure_error(int status, std::string_view code, std::string_view message) {
  auto res = xml_answer(status, azure_error_xml(code, message));
  res.set("x-ms-error-code", code);
  return res;
}

std::string blob_list_xml(int from, int to, std::string_view next_marker) {
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><EnumerationResults ServiceEndpoint=\"http://127.0.0.1/devstoreaccount1\" "
                  "ContainerName=\"c\"><Blobs>";
  for (int i = from; i < to; ++i)
    x += "<Blob><Name>k" + std::to_string(i) + "</Name><Properties><Last-Modified>Mon, 30 Nov 2026 17:16:25 GMT</Last-Modified>"
         "<Etag>0x1CFDEFEC8A5F8A0</Etag><Content-Length>1</Content-Length></Properties></Blob>";
  return x + "</Blobs><NextMarker>" + std::string(next_marker) + "</NextMarker></EnumerationResults>";
}

// A container name of its own per test (Azurite is shared by the suites).
std::string new_container(std::string_view stem) { return new_bucket(stem); }

std::string md5_of(std::string_view s) { return intg::crypto::base64_encode(intg::crypto::md5(s)); }

}  // namespace

// ---- without a server -----------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(azure_blob_answers)

BOOST_AUTO_TEST_CASE(error_documents_give_the_code_the_first_line_and_the_request_id_only) {
  auto doc = az::parse_error(
      "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request. "
      "Make sure the value of Authorization header is formed correctly including the signature.\nRequestId:abc-1\nTime:2026-11-30T17:16:25Z"
      "</Message><AuthenticationErrorDetail>The MAC signature found in the HTTP request 'c2lnbmF0dXJl' is not the same as any computed "
      "signature.</AuthenticationErrorDetail></Error>");
  BOOST_TEST_REQUIRE(doc.has_value());
  BOOST_TEST(doc->code == "AuthenticationFailed");
  BOOST_TEST(doc->message.starts_with("Server failed to authenticate the request."));
  BOOST_TEST(doc->message.find("RequestId") == std::string::npos);
  BOOST_TEST(doc->request_id == "abc-1");
  BOOST_TEST(!az::parse_error("").has_value());
  BOOST_TEST(!az::parse_error("<html>bad gateway</html>").has_value());
  auto hostile = az::parse_error("<Error><Code>Bad\tCode</Code><Message>" + std::string(5000, 'm') + "</Message></Error>");
  BOOST_TEST_REQUIRE(hostile.has_value());
  BOOST_TEST(hostile->code == "Bad Code");
  BOOST_TEST(hostile->message.size() <= 300u);
}

BOOST_AUTO_TEST_CASE(error_codes_map_to_intg_conditions) {
  auto verdict = [](int status, std::string_view code, std::string_view message, bool body = true) {
    http::response res{static_cast<boost::beast::http::status>(status), 11};
    if (!code.empty()) res.set("x-ms-error-code", code);
    if (body) res.body() = azure_error_xml(code, message);
    return az::provider::classify_answer(res, std::chrono::system_clock::now());
  };
  BOOST_TEST((verdict(200, "", "").action == rest::action::accept));
  auto missing = verdict(404, "BlobNotFound", "The specified blob does not exist.");
  BOOST_TEST((missing.failure == condition::not_found));
  BOOST_TEST(missing.failure.provider_code() == "BlobNotFound");
  BOOST_TEST(std::string(missing.failure.message()).find("request id: 0c0c0c0c") != std::string::npos, missing.failure.message());
  auto head_missing = verdict(404, "BlobNotFound", "", false);  // HEAD: the code in the header only
  BOOST_TEST((head_missing.failure == condition::not_found));
  BOOST_TEST(head_missing.failure.provider_code() == "BlobNotFound");
  BOOST_TEST((verdict(404, "ContainerNotFound", "The specified container does not exist.").failure == condition::not_found));
  BOOST_TEST((verdict(403, "AuthenticationFailed", "Server failed to authenticate the request.").failure == condition::unauthorized));
  // Azurite's code for a bad signature, with Azure's AuthenticationFailed message.
  BOOST_TEST((verdict(403, "AuthorizationFailure", "Server failed to authenticate the request. Make sure...").failure == condition::unauthorized));
  BOOST_TEST((verdict(403, "AuthorizationFailure", "This request is not authorized to perform this operation.").failure == condition::forbidden));
  BOOST_TEST((verdict(403, "AuthorizationPermissionMismatch", "no").failure == condition::forbidden));
  BOOST_TEST((verdict(409, "ContainerAlreadyExists", "The specified container already exists.").failure == condition::conflict));
  BOOST_TEST((verdict(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.").failure == condition::conflict));
  auto busy = verdict(503, "ServerBusy", "The server is busy.");
  BOOST_TEST((busy.action == rest::action::rate_limited));
  BOOST_TEST((busy.failure == condition::rate_limited));
  BOOST_TEST((verdict(500, "InternalError", "x").action == rest::action::retry));
  BOOST_TEST((verdict(500, "OperationTimedOut", "x").action == rest::action::retry));
  auto proxy = verdict(502, "", "", false);
  BOOST_TEST((proxy.action == rest::action::retry));
  BOOST_TEST(std::string(proxy.failure.message()).find("HTTP 502") != std::string::npos);
  BOOST_TEST((verdict(400, "InvalidBlockList", "The specified block list is invalid.").failure == condition::invalid_argument));
}

BOOST_AUTO_TEST_CASE(listing_pages_are_read_with_blobs_prefixes_and_the_next_marker) {
  auto page = az::parse_list(
      "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><EnumerationResults ServiceEndpoint=\"http://x/devstoreaccount1\" "
      "ContainerName=\"c\"><Prefix/><MaxResults>3</MaxResults><Delimiter>/</Delimiter><Blobs><Blob><Name>a &amp; b.txt</Name><Properties>"
      "<Last-Modified>Mon, 12 Oct 2009 17:50:30 GMT</Last-Modified><Etag>0x1CFDEFEC8A5F8A0</Etag><Content-Length>5</Content-Length>"
      "<Content-Type>text/plain</Content-Type><Content-MD5>XUFAKrxLKna5cZ2REBfFkg==</Content-MD5></Properties></Blob>"
      "<BlobPrefix><Name>dir/</Name></BlobPrefix></Blobs><NextMarker>2!72!opaque</NextMarker></EnumerationResults>");
  BOOST_TEST_REQUIRE(page.has_value(), (page ? std::string() : page.error().to_string()));
  BOOST_TEST_REQUIRE(page->objects.size() == 1u);
  BOOST_TEST(page->objects[0].key == "a & b.txt");
  BOOST_TEST(page->objects[0].size == 5u);
  BOOST_TEST(page->objects[0].etag == "0x1CFDEFEC8A5F8A0");
  BOOST_TEST(page->objects[0].checksums.md5 == "XUFAKrxLKna5cZ2REBfFkg==");
  BOOST_TEST(std::chrono::duration_cast<std::chrono::seconds>(page->objects[0].last_modified.time_since_epoch()).count() == 1255369830);
  BOOST_TEST((page->prefixes == std::vector<std::string>{"dir/"}));
  BOOST_TEST(page->next_marker == "2!72!opaque");
  auto refused = [](std::string_view body, std::string_view why) {
    auto r = az::parse_list(body);
    BOOST_TEST_REQUIRE(!r.has_value(), body);
    BOOST_TEST((r.error() == errc::invalid_response));
    BOOST_TEST(std::string(r.error().message()).find(why) != std::string::npos, r.error().message());
  };
  refused("<ListBucketResult/>", "not EnumerationResults");
  refused("<EnumerationResults/>", "no Blobs element");
  refused("<EnumerationResults><Blobs><Blob><Properties/></Blob></Blobs></EnumerationResults>", "has no Name");
  refused("<EnumerationResults><Blobs><Blob><Name>k</Name><Properties><Content-Length>-1</Content-Length></Properties></Blob></Blobs></EnumerationResults>",
          "no valid Content-Length");
  refused("<EnumerationResults><Blobs><Blob><Name>k</Name></Blob></Blobs></EnumerationResults>", "no Properties");
  refused("<EnumerationResults><Blobs><Blob><Name>k</Name><Properties><Content-Length>1</Content-Length><Last-Modified>yesterday</Last-Modified></Properties></Blob></Blobs></EnumerationResults>",
          "invalid Last-Modified");
  refused("<EnumerationResults><Blobs><Blob>", "XML answer refused");
}

BOOST_AUTO_TEST_CASE(block_ids_have_one_length_and_the_block_list_names_them_latest) {
  const std::string a = az::block_id("0123456789abcdef", 1), b = az::block_id("0123456789abcdef", 50000);
  BOOST_TEST(a.size() == 32u);
  BOOST_TEST(b.size() == a.size());
  BOOST_TEST(a.find('=') == std::string::npos);
  BOOST_TEST(intg::crypto::base64_decode(a).value() == "0123456789abcdef-0000001");
  BOOST_TEST(az::block_id("fedcba9876543210", 1) != a);
  BOOST_TEST(az::block_list_body({a, b}) == "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>" + a + "</Latest><Latest>" + b +
                                                "</Latest></BlockList>");
}

BOOST_AUTO_TEST_CASE(containers_and_blobs_become_urls_on_azure_and_on_azurite) {
  auto url = [](std::string_view base, std::string_view path, std::string_view c, std::string_view b, std::string_view q = {}) {
    auto u = az::blob_url(http::url::parse(base).value(), path, c, b, q);
    return u ? u->str() : "error: " + std::string(u.error().message());
  };
  BOOST_TEST(url("https://acct.blob.core.windows.net", "", "photos", "2024/a b+c.jpg") ==
             "https://acct.blob.core.windows.net/photos/2024/a%20b%2Bc.jpg");
  BOOST_TEST(url("https://acct.blob.core.windows.net", "", "photos", "", "restype=container") ==
             "https://acct.blob.core.windows.net/photos?restype=container");
  BOOST_TEST(url("http://127.0.0.1:10000", "/devstoreaccount1", "photos", "k") == "http://127.0.0.1:10000/devstoreaccount1/photos/k");
  BOOST_TEST(url("https://acct.blob.core.windows.net", "", "Photos", "k").starts_with("error: azure blob: invalid container name"));
  for (std::string_view bad : {"ab", "a--b", "-ab", "ab-", "a_b", "a.b"}) BOOST_TEST(!az::check_container(bad).has_value(), bad);
  BOOST_TEST(az::check_container("$root").has_value());
  BOOST_TEST(az::check_container("my-container-2024").has_value());
  BOOST_TEST(!az::check_blob("").has_value());
  BOOST_TEST(!az::check_blob(std::string(1025, 'k')).has_value());
  BOOST_TEST(!az::check_blob("a\nb").has_value());
  BOOST_TEST(az::check_blob(std::string(1024, 'k')).has_value());
  BOOST_TEST(az::check_metadata_name("Origin_2").has_value());
  for (std::string_view bad : {"", "2abc", "a-b", "a b"}) BOOST_TEST(!az::check_metadata_name(bad).has_value(), bad);
}

BOOST_AUTO_TEST_CASE(settings_are_checked_and_name_the_setting_not_the_key) {
  asio::io_context io;
  auto no_key = azure_config("https://acct.blob.core.windows.net", "acct", "");
  no_key.settings.erase("account_key");
  auto bad_key = azure_config("https://acct.blob.core.windows.net", "acct", "not base64 !!");
  auto elsewhere = azure_config("https://blob.example.com", "acct", "a2V5");
  auto plain = azure_config("http://acct.blob.core.windows.net", "acct", "a2V5");
  auto fine = azure_config("", "acct", "a2V5");
  fine.settings.erase("base_url");  // https://acct.blob.core.windows.net
  test::run(io, [&]() -> asio::awaitable<void> {
    for (auto* cfg : {&no_key, &bad_key, &elsewhere, &plain}) {
      az::client c(*cfg, io.get_executor());
      auto r = co_await c.initialize();
      BOOST_TEST_REQUIRE(!r.has_value());
      BOOST_TEST(r.error().to_string().find("not base64 !!") == std::string::npos);
    }
    az::client c(fine, io.get_executor());
    auto r = co_await c.initialize();
    BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().to_string()));
    BOOST_TEST(c.kit().base_url().str().starts_with("https://acct.blob.core.windows.net"), c.kit().base_url().str());
    auto sas = c.sas_get("photos", "a b.jpg", 1h);
    BOOST_TEST_REQUIRE(sas.has_value());
    std::ostringstream printed;
    printed << *sas;
    BOOST_TEST(printed.str() == "***");  // a SAS URL is a credential
    BOOST_TEST(std::string(sas->reveal()).starts_with("https://acct.blob.core.windows.net/photos/a%20b.jpg?sv="));
    BOOST_TEST(std::string(sas->reveal()).find("spr=https&") != std::string::npos);
    BOOST_TEST(!c.sas_get("photos", "k", 8 * 24h).has_value());
    auto bad_perm = c.sas_url("photos", "k", "wr", 1h);  // out of order
    BOOST_TEST_REQUIRE(!bad_perm.has_value());
    BOOST_TEST(std::string(bad_perm.error().message()).find("permissions") != std::string::npos);
  }());
}

BOOST_AUTO_TEST_SUITE_END()

// ---- against a local server: faults and hostile answers --------------------------------------------

BOOST_AUTO_TEST_SUITE(azure_blob_faults)

BOOST_AUTO_TEST_CASE(hostile_xml_in_a_listing_is_refused_with_a_clear_error) {
  std::string deep = "<?xml version=\"1.0\"?><EnumerationResults>";
  for (int i = 0; i < 50'000; ++i) deep += "<a>";
  std::string huge = "<EnumerationResults><Blobs>";
  while (huge.size() < (10u << 20)) huge += "<Blob><Name>k</Name><Properties><Content-Length>1</Content-Length></Properties></Blob>";
  huge += "</Blobs></EnumerationResults>";
  const std::string laughs = R"(<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><EnumerationResults><Blobs><Blob><Name>&c;</Name><Properties><Content-Length>1</Content-Length></Properties></Blob></Blobs></EnumerationResults>)";
  const std::string xxe = R"(<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><EnumerationResults><Blobs><Blob><Name>&x;</Name></Blob></Blobs></EnumerationResults>)";
  const std::string truncated = "<?xml version=\"1.0\"?><EnumerationResults><Blobs><Blob><Name>k</Na";
  const std::pair<const std::string*, std::string_view> cases[] = {{&laughs, "DOCTYPE"},
                                                                   {&xxe, "DOCTYPE"},
                                                                   {&deep, "deeper than 32"},
                                                                   {&huge, "larger than 8388608 bytes"},
                                                                   {&truncated, "List Blobs answer: XML answer refused"}};
  for (const auto& c : cases) {  // not a structured binding: the lambda below captures it
    with_azure_fake([&](http::server_request&) { return xml_answer(200, *c.first); },
                    [&](az::client& ac, fake_s3&) -> asio::awaitable<void> {
                      cloud::list_options lo{};
                      auto pages = ac.list_blobs("container-one", lo);
                      auto page = co_await pages.next();
                      BOOST_TEST_REQUIRE(!page.has_value());
                      BOOST_TEST((page.error() == errc::invalid_response));
                      BOOST_TEST(std::string(page.error().message()).find(c.second) != std::string::npos, page.error().message());
                      auto after = co_await pages.next();
                      BOOST_TEST((after.has_value() && !after->has_value()));
                    });
  }
}

BOOST_AUTO_TEST_CASE(a_repeated_marker_is_a_pagination_loop) {
  with_azure_fake([](http::server_request&) { return xml_answer(200, blob_list_xml(0, 2, "same")); },
                  [](az::client& c, fake_s3& f) -> asio::awaitable<void> {
                    cloud::list_options lo{.page_size = 2};
                    auto pages = c.list_blobs("container-one", lo);
                    auto first = co_await pages.next();
                    BOOST_TEST_REQUIRE(first.has_value());
                    auto second = co_await pages.next();
                    BOOST_TEST_REQUIRE(!second.has_value());
                    BOOST_TEST(std::string(second.error().message()).find("pagination loop") != std::string::npos);
                    BOOST_TEST(f.seen == 2);
                    BOOST_TEST(f.requests[1].find("marker=same") != std::string::npos, f.requests[1]);
                  });
}

BOOST_AUTO_TEST_CASE(server_busy_is_waited_out_and_retried_then_succeeds) {
  int calls = 0;
  with_azure_fake(
      [&](http::server_request& r) {
        if (++calls <= 2) return azure_error(503, "ServerBusy", "The server is busy.");
        BOOST_TEST(std::string(r[http::field::authorization]).starts_with("SharedKey devstoreaccount1:"));
        BOOST_TEST(r["x-ms-version"] == "2025-11-05");
        auto res = xml_answer(200, "hello");
        res.set("Content-MD5", md5_of("hello"));
        return res;
      },
      [&](az::client& c, fake_s3& f) -> asio::awaitable<void> {
        auto r = co_await c.get_blob("container-one", "k");
        BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().to_string()));
        BOOST_TEST(r->body == "hello");
        BOOST_TEST(r->info.checksums.md5 == md5_of("hello"));
        BOOST_TEST(f.seen == 3);
        BOOST_TEST(f.requests[0] == "GET /devstoreaccount1/container-one/k");
      });
}

BOOST_AUTO_TEST_CASE(content_that_does_not_match_its_md5_is_an_integrity_error_both_ways) {
  // Get: the body is not what the blob's Content-MD5 says.
  with_azure_fake(
      [](http::server_request& r) {
        auto res = xml_answer(r.find(http::field::range) == r.end() ? 200 : 206, "tampered");
        res.set("Content-MD5", md5_of("original"));
        if (r.find(http::field::range) != r.end()) res.set("Content-Range", "bytes 0-7/8");
        res.set(http::field::etag, "\"0x1\"");
        return res;
      },
      [](az::client& c, fake_s3& f) -> asio::awaitable<void> {
        auto r = co_await c.get_blob("container-one", "k");
        BOOST_TEST_REQUIRE(!r.has_value());
        BOOST_TEST((r.error() == errc::integrity_violation), r.error().to_string());
        cloud::get_options no_check{.verify = false};
        BOOST_TEST((co_await c.get_blob("container-one", "k", no_check)).has_value());
        cloud::get_options ranged{.range = cloud::byte_range{0, 7}};
        auto part = co_await c.get_blob("container-one", "k", ranged);  // the range's own MD5 was asked for
        BOOST_TEST_REQUIRE(!part.has_value());
        BOOST_TEST((part.error() == errc::integrity_violation));
        std::string out;
        cloud::get_options small_parts{.part_size = 64 * 1024};  // each part checked against its own MD5
        auto streamed = co_await c.get_stream("container-one", "k", cloud::memory_sink(out), small_parts);
        BOOST_TEST_REQUIRE(!streamed.has_value());
        BOOST_TEST((streamed.error() == errc::integrity_violation));
        BOOST_TEST(out.empty());  // refused before it reached the sink
        BOOST_TEST(f.requests.size() == 5u);
      });
  // Put: Azure's hash of what arrived is not the MD5 sent.
  with_azure_fake(
      [](http::server_request& r) {
        BOOST_TEST(r["Content-MD5"] == md5_of("value"));
        BOOST_TEST(r["x-ms-blob-type"] == "BlockBlob");
        auto res = xml_answer(201, "");
        res.set("Content-MD5", md5_of("something else"));
        return res;
      },
      [](az::client& c, fake_s3&) -> asio::awaitable<void> {
        auto r = co_await c.put_blob("container-one", "k", "value");
        BOOST_TEST_REQUIRE(!r.has_value());
        BOOST_TEST((r.error() == errc::integrity_violation));
      });
}

BOOST_AUTO_TEST_CASE(a_failed_block_commits_nothing_and_a_lost_commit_is_sent_again_unchanged) {
  // Blocks are PUTs: a 500 is retried; one refused (403) stops the upload before Put Block List.
  int blocks = 0, commits = 0;
  std::vector<std::string> lists;
  with_azure_fake(
      [&](http::server_request& r) {
        const std::string target(r.target());
        if (target.find("comp=block&") != std::string::npos) {
          ++blocks;
          if (target.find("blockid=") == std::string::npos) return azure_error(400, "InvalidQueryParameterValue", "no id");
          if (blocks == 1) return azure_error(500, "InternalError", "Server encountered an internal error.");
          return xml_answer(201, "");
        }
        if (target.ends_with("comp=blocklist")) {
          lists.push_back(r.body());
          if (++commits == 1) return azure_error(500, "OperationTimedOut", "Operation could not be completed within the specified time.");
          auto res = xml_answer(201, "");
          res.set(http::field::etag, "\"0x8D\"");
          return res;
        }
        return azure_error(400, "InvalidUri", "unexpected " + target);
      },
      [&](az::client& c, fake_s3&) -> asio::awaitable<void> {
        const std::string content = pattern((64u << 10) * 3);
        cloud::put_options po{.part_size = 64u << 10, .parallel = 1};
        auto up = co_await c.upload("container-one", "big", cloud::memory_source(content), po);
        BOOST_TEST_REQUIRE(up.has_value(), (up ? std::string() : up.error().to_string()));
        BOOST_TEST(up->etag == "0x8D");
        BOOST_TEST(up->checksums.md5 == md5_of(content));
        BOOST_TEST(blocks == 4);   // the first sent twice
        BOOST_TEST(commits == 2);  // sent again, the same list (<Latest>: idempotent)
        BOOST_TEST_REQUIRE(lists.size() == 2u);
        BOOST_TEST(lists[0] == lists[1]);
        BOOST_TEST(lists[0].find("<Latest>") != std::string::npos);
      });
  int refused_commits = 0;
  with_azure_fake(
      [&](http::server_request& r) {
        const std::string target(r.target());
        if (target.ends_with("comp=blocklist")) ++refused_commits;
        if (target.find("comp=block&") != std::string::npos && target.find("blockid=") != std::string::npos)
          return azure_error(403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.");
        return xml_answer(201, "");
      },
      [&](az::client& c, fake_s3&) -> asio::awaitable<void> {
        const std::string content = pattern((64u << 10) * 3);
        cloud::put_options po{.part_size = 64u << 10, .parallel = 2};
        auto up = co_await c.upload("container-one", "big", cloud::memory_source(content), po);
        BOOST_TEST_REQUIRE(!up.has_value());
        BOOST_TEST((up.error() == condition::forbidden));
        BOOST_TEST(std::string(up.error().message()).find("nothing was committed") != std::string::npos, up.error().message());
        BOOST_TEST(refused_commits == 0);
      });
  // A Put Block List that keeps failing may still have committed: the error says so.
  int failed_commits = 0;
  with_azure_fake(
      [&](http::server_request& r) {
        if (std::string_view(r.target()).ends_with("comp=blocklist")) {
          ++failed_commits;
          return azure_error(500, "InternalError", "Server encountered an internal error.");
        }
        return xml_answer(201, "");
      },
      [&](az::client& c, fake_s3&) -> asio::awaitable<void> {
        const std::string content = pattern((64u << 10) * 2);
        cloud::put_options po{.part_size = 64u << 10};
        auto up = co_await c.upload("container-one", "big", cloud::memory_source(content), po);
        BOOST_TEST_REQUIRE(!up.has_value());
        BOOST_TEST((up.error() == condition::unavailable));
        BOOST_TEST(std::string(up.error().message()).find("may have taken effect") != std::string::npos, up.error().message());
        BOOST_TEST(failed_commits == 3);  // the kit's three attempts, the same list each time
      });
}

BOOST_AUTO_TEST_CASE(a_streamed_upload_holds_at_most_parallel_blocks_in_memory) {
  // Each Put Block is answered after a pause, so that a client reading ahead of its free slots
  // would show: when the source starts block n, at most `parallel` blocks may be unanswered
  // (the one being read included).
  asio::io_context io;
  constexpr std::size_t block = 64u << 10, blocks = 10, parallel = 3;
  std::size_t in_flight = 0, most_in_flight = 0, answered = 0, most_ahead = 0, put_blocks = 0;
  http::server server(
      io.get_executor(),
      [&](http::server_request& r) -> asio::awaitable<http::server_response> {
        if (std::string_view(r.target()).find("comp=block&") == std::string_view::npos) {
          auto res = xml_answer(201, "");
          res.set(http::field::etag, "\"0x8D\"");
          co_return res;
        }
        ++put_blocks;
        most_in_flight = std::max(most_in_flight, ++in_flight);
        asio::steady_timer pause(co_await asio::this_coro::executor, 20ms);
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        --in_flight;
        ++answered;
        co_return xml_answer(201, "");
      },
      fake_s3::big_bodies());
  BOOST_TEST_REQUIRE(server.listen("127.0.0.1", 0).has_value());
  server.start();
  auto cfg = azure_config("http://127.0.0.1:" + std::to_string(server.port()) + "/devstoreaccount1", "devstoreaccount1",
                          "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==");
  az::client c(cfg, io.get_executor(), azure_local());
  auto offset = std::make_shared<std::size_t>(0);
  cloud::byte_source source = [&, offset](std::span<char> buf) -> asio::awaitable<intg::result<std::size_t>> {
    if (*offset % block == 0 && *offset < block * blocks) most_ahead = std::max(most_ahead, *offset / block + 1 - answered);
    const std::size_t n = std::min(buf.size(), block * blocks - *offset);
    std::fill_n(buf.data(), n, 'b');
    *offset += n;
    co_return n;
  };
  test::run(io, [&]() -> asio::awaitable<void> {
    BOOST_TEST_REQUIRE((co_await c.initialize()).has_value());
    cloud::put_options po{.part_size = block, .parallel = parallel};
    auto up = co_await c.upload("container-one", "big", source, po);
    BOOST_TEST_REQUIRE(up.has_value(), (up ? std::string() : up.error().to_string()));
    BOOST_TEST(up->size == block * blocks);
    co_await server.shutdown(1s);
  }());
  BOOST_TEST(put_blocks == blocks);
  BOOST_TEST(most_ahead <= parallel);
  BOOST_TEST(most_in_flight <= parallel);
  BOOST_TEST_MESSAGE("blocks in flight at most: " << most_in_flight << ", read ahead of the answers at most: " << most_ahead);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- against Azurite --------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(azure_blob_azurite, *boost::unit_test::precondition(azurite_available()))

BOOST_AUTO_TEST_CASE(every_blob_operation_round_trips_through_azurite) {
  with_azure(azurite_config(), [](az::client& c) -> asio::awaitable<void> {
    const std::string cn = new_container("ops");
    BOOST_TEST_REQUIRE((co_await c.create_container(cn)).has_value());
    auto again = co_await c.create_container(cn);
    BOOST_TEST_REQUIRE(!again.has_value());
    BOOST_TEST(again.error().provider_code() == "ContainerAlreadyExists");
    BOOST_TEST((again.error() == condition::conflict));

    const std::string body = "hello, object storage";
    const cloud::metadata_entry meta[] = {{"Origin", "intg"}, {"tenant_1", "acme"}};
    cloud::put_options po{.content_type = "text/plain", .metadata = meta};
    auto put = co_await c.put_blob(cn, "dir/a file+1.txt", body, po);
    BOOST_TEST_REQUIRE(put.has_value(), (put ? std::string() : put.error().to_string()));
    BOOST_TEST(put->checksums.md5 == md5_of(body));
    BOOST_TEST(!put->etag.empty());

    auto got = co_await c.get_blob(cn, "dir/a file+1.txt");
    BOOST_TEST_REQUIRE(got.has_value(), (got ? std::string() : got.error().to_string()));
    BOOST_TEST(got->body == body);
    BOOST_TEST(got->info.content_type == "text/plain");
    BOOST_TEST(got->info.metadata["origin"] == "intg");
    BOOST_TEST(got->info.metadata["tenant_1"] == "acme");
    BOOST_TEST(got->info.checksums.md5 == md5_of(body));  // kept by Azure, verified
    BOOST_TEST(got->info.etag == put->etag);

    auto head = co_await c.head_blob(cn, "dir/a file+1.txt");
    BOOST_TEST_REQUIRE(head.has_value());
    BOOST_TEST(head->size == body.size());
    BOOST_TEST(head->etag == put->etag);
    BOOST_TEST(head->checksums.md5 == md5_of(body));
    BOOST_TEST(head->content_type == "text/plain");
    BOOST_TEST(head->metadata["origin"] == "intg");
    BOOST_TEST(head->last_modified.time_since_epoch().count() > 0);

    cloud::get_options middle{.range = cloud::byte_range{7, 12}};
    auto part = co_await c.get_blob(cn, "dir/a file+1.txt", middle);
    BOOST_TEST_REQUIRE(part.has_value(), (part ? std::string() : part.error().to_string()));
    BOOST_TEST(part->body == "object");
    BOOST_TEST(part->info.size == body.size());
    BOOST_TEST(part->info.checksums.md5 == md5_of(body));  // the blob's, from x-ms-blob-content-md5
    cloud::get_options tail{.range = cloud::byte_range{16, std::nullopt}};
    auto end = co_await c.get_blob(cn, "dir/a file+1.txt", tail);
    BOOST_TEST_REQUIRE(end.has_value());
    BOOST_TEST(end->body == "orage");

    auto odd = co_await c.put_blob(cn, "odd/%2F?&=#ü k", "odd");
    BOOST_TEST_REQUIRE(odd.has_value(), (odd ? std::string() : odd.error().to_string()));
    auto odd_back = co_await c.get_blob(cn, "odd/%2F?&=#ü k");
    BOOST_TEST_REQUIRE(odd_back.has_value(), (odd_back ? std::string() : odd_back.error().to_string()));
    BOOST_TEST(odd_back->body == "odd");

    auto missing = co_await c.get_blob(cn, "nope");
    BOOST_TEST_REQUIRE(!missing.has_value());
    BOOST_TEST((missing.error() == condition::not_found));
    BOOST_TEST(missing.error().provider_code() == "BlobNotFound");
    auto head_missing = co_await c.head_blob(cn, "nope");  // no body: the code from x-ms-error-code
    BOOST_TEST_REQUIRE(!head_missing.has_value());
    BOOST_TEST((head_missing.error() == condition::not_found));
    BOOST_TEST(head_missing.error().provider_code() == "BlobNotFound");
    const std::string other = new_container("none");
    auto no_container = co_await c.get_blob(other, "k");
    BOOST_TEST((!no_container.has_value() && no_container.error().provider_code() == "ContainerNotFound"));

    for (std::string_view k : {std::string_view("dir/a file+1.txt"), std::string_view("odd/%2F?&=#ü k")})
      BOOST_TEST((co_await c.delete_blob(cn, k)).has_value());
    auto twice = co_await c.delete_blob(cn, "odd/%2F?&=#ü k");
    BOOST_TEST((!twice.has_value() && twice.error() == condition::not_found));
    auto store = c.container(cn);
    BOOST_TEST((co_await store.remove("odd/%2F?&=#ü k")).has_value());  // the concept: a missing key is removed
    auto gone = co_await c.head_blob(cn, "dir/a file+1.txt");
    BOOST_TEST((!gone.has_value() && gone.error() == condition::not_found));
    BOOST_TEST((co_await c.delete_container(cn)).has_value());
    auto no_more = co_await c.delete_container(cn);
    BOOST_TEST((!no_more.has_value() && no_more.error() == condition::not_found));
    auto h = co_await c.health_check();
    BOOST_TEST((h.status == intg::integration_status::healthy), h.message);
  });
}

BOOST_AUTO_TEST_CASE(a_streamed_upload_stages_blocks_in_parallel_and_reads_back_in_ranges) {
  const auto dir = std::filesystem::temp_directory_path() / ("intg-azure-" + new_container("f"));
  std::filesystem::create_directories(dir);
  const std::string content = pattern((64u << 10) * 5 + 1234, 3);  // six blocks of 64 KiB, the last short
  {
    std::ofstream out(dir / "in.bin", std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  }
  with_azure(azurite_config(), [&](az::client& c) -> asio::awaitable<void> {
    const std::string cn = new_container("blocks");
    BOOST_TEST_REQUIRE((co_await c.create_container(cn)).has_value());
    const auto before = c.http().stats().requests;
    const cloud::metadata_entry meta[] = {{"origin", "file"}};
    cloud::put_options po{.content_type = "application/x-test", .metadata = meta, .part_size = 64u << 10, .parallel = 2};
    auto up = co_await c.upload(cn, "big/file.bin", cloud::file_source((dir / "in.bin").string()), po);
    BOOST_TEST_REQUIRE(up.has_value(), (up ? std::string() : up.error().to_string()));
    BOOST_TEST(up->size == content.size());
    BOOST_TEST(up->checksums.md5 == md5_of(content));
    BOOST_TEST(c.http().stats().requests - before == 7u);  // six Put Block, one Put Block List

    auto head = co_await c.head_blob(cn, "big/file.bin");
    BOOST_TEST_REQUIRE(head.has_value());
    BOOST_TEST(head->size == content.size());
    BOOST_TEST(head->etag == up->etag);
    BOOST_TEST(head->content_type == "application/x-test");
    BOOST_TEST(head->metadata["origin"] == "file");
    BOOST_TEST(head->checksums.md5 == md5_of(content));  // stored with the commit

    auto whole = co_await c.get_blob(cn, "big/file.bin");
    BOOST_TEST_REQUIRE(whole.has_value(), (whole ? std::string() : whole.error().to_string()));
    BOOST_TEST((whole->body == content));
    cloud::get_options go{.part_size = 100'000};  // parts across block boundaries, each verified
    auto down = co_await c.get_stream(cn, "big/file.bin", cloud::file_sink((dir / "out.bin").string()), go);
    BOOST_TEST_REQUIRE(down.has_value(), (down ? std::string() : down.error().to_string()));
    std::ifstream in(dir / "out.bin", std::ios::binary);
    const std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_TEST((back == content));
    std::string window;
    cloud::get_options ranged{.range = cloud::byte_range{(64u << 10) - 10, (64u << 10) + 9}, .part_size = 64 * 1024};
    auto r = co_await c.get_stream(cn, "big/file.bin", cloud::memory_sink(window), ranged);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST((window == content.substr((64u << 10) - 10, 20)));
    cloud::get_options across{.range = cloud::byte_range{(64u << 10) * 2 - 3, (64u << 10) * 2 + 2}};
    auto six = co_await c.get_blob(cn, "big/file.bin", across);
    BOOST_TEST_REQUIRE(six.has_value(), (six ? std::string() : six.error().to_string()));
    BOOST_TEST((six->body == content.substr((64u << 10) * 2 - 3, 6)));

    // Shorter than a block: one Put Blob.
    const std::string small = pattern(1000);
    const auto before_small = c.http().stats().requests;
    auto one = co_await c.upload(cn, "small.bin", cloud::memory_source(small), po);
    BOOST_TEST_REQUIRE(one.has_value());
    BOOST_TEST(c.http().stats().requests - before_small == 1u);
    BOOST_TEST(one->checksums.md5 == md5_of(small));

    cloud::put_options tiny{.part_size = 1024};
    auto refused = co_await c.upload(cn, "k", cloud::memory_source("x"), tiny);
    BOOST_TEST((!refused.has_value() && refused.error() == errc::invalid_argument));
    for (std::string_view k : {std::string_view("big/file.bin"), std::string_view("small.bin")})
      BOOST_TEST((co_await c.delete_blob(cn, k)).has_value());
    BOOST_TEST((co_await c.delete_container(cn)).has_value());
  });
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(a_source_failing_midway_commits_nothing) {
  with_azure(azurite_config(), [](az::client& c) -> asio::awaitable<void> {
    const std::string cn = new_container("fail");
    BOOST_TEST_REQUIRE((co_await c.create_container(cn)).has_value());
    BOOST_TEST_REQUIRE((co_await c.put_blob(cn, "kept.bin", "the old content")).has_value());
    // 1 MiB on offer, but the source fails after 200 KiB: three blocks are staged, none committed.
    auto make_failing = [] {
      auto served = std::make_shared<std::size_t>(0);
      return cloud::byte_source([served](std::span<char> buf) -> asio::awaitable<intg::result<std::size_t>> {
        if (*served >= (200u << 10)) co_return intg::error(errc::unavailable, "the disk went away");
        const std::size_t n = std::min<std::size_t>(buf.size(), 50u << 10);
        std::fill_n(buf.data(), n, 'z');
        *served += n;
        co_return n;
      });
    };
    cloud::put_options po{.part_size = 64u << 10, .parallel = 3};
    for (std::string_view name : {std::string_view("never/committed.bin"), std::string_view("kept.bin")}) {
      auto up = co_await c.upload(cn, name, make_failing(), po);
      BOOST_TEST_REQUIRE(!up.has_value());
      BOOST_TEST((up.error() == errc::unavailable));
      BOOST_TEST(std::string(up.error().message()).find("the disk went away") != std::string::npos, up.error().message());
      BOOST_TEST(std::string(up.error().message()).find("nothing was committed") != std::string::npos, up.error().message());
    }
    auto head = co_await c.head_blob(cn, "never/committed.bin");
    BOOST_TEST((!head.has_value() && head.error() == condition::not_found));
    auto kept = co_await c.get_blob(cn, "kept.bin");  // the existing blob is untouched
    BOOST_TEST_REQUIRE(kept.has_value());
    BOOST_TEST(kept->body == "the old content");
    cloud::list_options lo{};
    auto pages = c.list_blobs(cn, lo);
    auto page = co_await pages.next();
    BOOST_TEST_REQUIRE((page.has_value() && page->has_value()));
    BOOST_TEST_REQUIRE((*page)->objects.size() == 1u);
    BOOST_TEST((*page)->objects[0].key == "kept.bin");
    BOOST_TEST((co_await c.delete_container(cn)).has_value());
  });
}

BOOST_AUTO_TEST_CASE(listing_many_blobs_follows_markers_page_by_page) {
  with_azure(azurite_config(), [](az::client& c) -> asio::awaitable<void> {
    const std::string cn = new_container("list");
    BOOST_TEST_REQUIRE((co_await c.create_container(cn)).has_value());
    std::vector<std::string> keys;
    for (int i = 0; i < 23; ++i) {
      char k[32];
      std::snprintf(k, sizeof k, "logs/%02d.txt", i);
      keys.emplace_back(k);
      BOOST_TEST_REQUIRE((co_await c.put_blob(cn, keys.back(), "x")).has_value());
    }
    for (std::string_view k : {std::string_view("other/a"), std::string_view("other/b/c"), std::string_view("top")})
      BOOST_TEST_REQUIRE((co_await c.put_blob(cn, k, "y")).has_value());

    cloud::list_options lo{.prefix = "logs/", .page_size = 5};
    auto pages = c.list_blobs(cn, lo);
    std::vector<std::string> seen;
    std::vector<std::size_t> sizes;
    while (true) {
      auto page = co_await pages.next();
      BOOST_TEST_REQUIRE(page.has_value(), (page ? std::string() : page.error().to_string()));
      if (!*page) break;
      sizes.push_back((*page)->objects.size());
      for (auto& o : (*page)->objects) {
        BOOST_TEST(o.size == 1u);
        BOOST_TEST(o.checksums.md5 == md5_of("x"));
        BOOST_TEST(!o.etag.empty());
        seen.push_back(o.key);
      }
    }
    BOOST_TEST(seen == keys, boost::test_tools::per_element());
    BOOST_TEST(pages.pages_read() == 5u);
    BOOST_TEST((sizes == std::vector<std::size_t>{5, 5, 5, 5, 3}));

    cloud::list_options top{.delimiter = "/"};
    auto level = c.list_blobs(cn, top);
    auto first = co_await level.next();
    BOOST_TEST_REQUIRE((first.has_value() && first->has_value()));
    BOOST_TEST_REQUIRE((*first)->objects.size() == 1u);
    BOOST_TEST((*first)->objects[0].key == "top");
    BOOST_TEST(((*first)->prefixes == std::vector<std::string>{"logs/", "other/"}));
    cloud::list_options after{.prefix = "logs/", .start_after = "logs/20.txt"};
    auto rest_pages = c.list_blobs(cn, after);
    auto last = co_await rest_pages.next();
    BOOST_TEST_REQUIRE((last.has_value() && last->has_value()));
    BOOST_TEST((*last)->objects.size() == 2u);
    cloud::list_options bad{.page_size = 0};
    auto refused = c.list_blobs(cn, bad);
    auto none = co_await refused.next();
    BOOST_TEST((!none.has_value() && none.error() == errc::invalid_argument));
    BOOST_TEST((co_await c.delete_container(cn)).has_value());
  });
}

BOOST_AUTO_TEST_CASE(a_wrong_account_key_is_refused_once_with_a_clear_error_that_shows_no_secret) {
  const std::string wrong_key = intg::crypto::base64_encode(std::string_view("not the account key of devstoreaccount1"));
  auto cfg = azurite_config();
  cfg.settings["account_key"] = wrong_key;
  with_azure(cfg, [&](az::client& c) -> asio::awaitable<void> {
    const auto before = c.http().stats().requests;
    const std::string cn = new_container("denied");
    auto r = co_await c.create_container(cn);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().http_status() == 403);
    BOOST_TEST((r.error() == condition::unauthorized), r.error().to_string());
    BOOST_TEST(c.http().stats().requests - before == 1u);  // not retried
    const std::string text = r.error().to_string();
    BOOST_TEST(text.find("Server failed to authenticate the request") != std::string::npos, text);
    BOOST_TEST(text.find(wrong_key) == std::string::npos);
    BOOST_TEST(text.find(azurite().key) == std::string::npos);
    BOOST_TEST(text.find("SharedKey") == std::string::npos);
    auto head = co_await c.head_blob(cn, "k");  // no body: refused by status and x-ms-error-code
    BOOST_TEST_REQUIRE(!head.has_value());
    BOOST_TEST(head.error().http_status() == 403);
  });
}

BOOST_AUTO_TEST_CASE(sas_urls_work_with_a_plain_http_client_and_expired_or_tampered_ones_are_refused) {
  with_azure(azurite_config(), [](az::client& c) -> asio::awaitable<void> {
    const std::string cn = new_container("sas");
    BOOST_TEST_REQUIRE((co_await c.create_container(cn)).has_value());
    BOOST_TEST_REQUIRE((co_await c.put_blob(cn, "shared/report.txt", "for your eyes")).has_value());
    http::client plain(co_await asio::this_coro::executor);

    auto url = c.sas_get(cn, "shared/report.txt", 60s);
    BOOST_TEST_REQUIRE(url.has_value());
    const std::string link(url->reveal());
    BOOST_TEST(link.find("sig=") != std::string::npos);
    BOOST_TEST(link.find(azurite().key) == std::string::npos);
    auto fetched = co_await plain.get(link);
    BOOST_TEST_REQUIRE(fetched.has_value());
    BOOST_TEST(fetched->result_int() == 200u, fetched->body());
    BOOST_TEST(fetched->body() == "for your eyes");

    // An upload through a SAS with the create and write permissions.
    auto put_url = c.sas_url(cn, "incoming/upload.bin", "cw", 60s);
    BOOST_TEST_REQUIRE(put_url.has_value());
    auto up = http::request::make(http::verb::put, std::string(put_url->reveal())).value();
    up.message.set("x-ms-blob-type", "BlockBlob");
    up.body("uploaded with a SAS", "application/octet-stream");
    auto sent = co_await plain.send(up);
    BOOST_TEST_REQUIRE(sent.has_value());
    BOOST_TEST(sent->result_int() == 201u, sent->body());
    auto back = co_await c.get_blob(cn, "incoming/upload.bin");
    BOOST_TEST_REQUIRE(back.has_value());
    BOOST_TEST(back->body == "uploaded with a SAS");

    // Read-only: a write is refused.
    auto read_only = http::request::make(http::verb::put, link).value();
    read_only.message.set("x-ms-blob-type", "BlockBlob");
    read_only.body("overwrite", "application/octet-stream");
    auto denied = co_await plain.send(read_only);
    BOOST_TEST_REQUIRE(denied.has_value());
    BOOST_TEST(denied->result_int() == 403u);

    // Tampered (read widened to read-write, the signature kept): refused.
    std::string tampered = link;
    tampered.replace(tampered.find("sp=r"), 4, "sp=rw");
    auto forged = co_await plain.get(tampered);
    BOOST_TEST_REQUIRE(forged.has_value());
    BOOST_TEST(forged->result_int() == 403u);
    BOOST_TEST(az::parse_error(forged->body())->code == "AuthorizationFailure");

    // Signed two hours ago for ten minutes: expired.
    const auto clock = c.signer().clock;
    c.signer().clock = [] { return std::chrono::system_clock::now() - 2h; };
    auto old_url = c.sas_get(cn, "shared/report.txt", 600s);
    c.signer().clock = clock;
    BOOST_TEST_REQUIRE(old_url.has_value());
    const std::string old_link(old_url->reveal());
    auto expired = co_await plain.get(old_link);
    BOOST_TEST_REQUIRE(expired.has_value());
    BOOST_TEST(expired->result_int() == 403u);

    for (std::string_view k : {std::string_view("shared/report.txt"), std::string_view("incoming/upload.bin")})
      BOOST_TEST((co_await c.delete_blob(cn, k)).has_value());
    BOOST_TEST((co_await c.delete_container(cn)).has_value());
  });
}

BOOST_AUTO_TEST_CASE(a_container_is_an_object_store) {
  static_assert(cloud::object_store<az::container>);
  with_azure(azurite_config(), [](az::client& c) -> asio::awaitable<void> {
    const std::string cn = new_container("store");
    BOOST_TEST_REQUIRE((co_await c.create_container(cn)).has_value());
    auto store = c.container(cn);
    co_await exercise(store);
    BOOST_TEST((co_await c.delete_container(cn)).has_value());
  });
}

BOOST_AUTO_TEST_SUITE_END()

// ==== Google Cloud Storage ========================================================================

namespace {

namespace gcs = intg::gcs;
using gverb = boost::beast::http::verb;
using gstatus = boost::beast::http::status;
namespace sc = intg::testing::scenarios;

intg::integration_config gcs_config(const fakes::gcs_fake& f, bool service_account = true) {
  intg::integration_config cfg;
  cfg.name = "gcs";
  cfg.tenant = "acme";
  cfg.settings = {{"base_url", f.base_url()}, {"project", fakes::gcs_fake::project}};
  if (service_account) cfg.settings["service_account"] = f.service_account_json();
  else cfg.settings["metadata_url"] = f.base_url();
  cfg.rate_limits.requests_per_minute = 600'000;
  cfg.rate_limits.burst_limit = 10'000;
  cfg.retry.base_delay = 10ms;
  cfg.timeout = 20s;
  return cfg;
}

// A client initialized against a fresh fake (service account key, or the metadata server).
template <class F>
void with_gcs(F body, bool service_account = true, std::function<void(intg::integration_config&)> tweak = {}) {
  asio::io_context io;
  fakes::gcs_fake f(io.get_executor());
  f.start();
  auto cfg = gcs_config(f, service_account);
  if (tweak) tweak(cfg);
  gcs::client c(cfg, io.get_executor(), azure_local());
  test::run(io, [&]() -> asio::awaitable<void> {
    auto ok = co_await c.initialize();
    BOOST_TEST_REQUIRE(ok.has_value(), (ok ? std::string() : ok.error().to_string()));
    co_await body(c, f);
    co_await f.stop();
  }());
}

// The fakes' exchanges for gcs_discovery_validation (the first write in a run starts the file).
void log_exchanges(const fakes::gcs_fake& f) { BOOST_TEST(f.api().append_run_log("gcs_exchanges.jsonl")); }

// Printable content (the exchange log is JSON text).
std::string letters(std::size_t n, unsigned seed = 0) {
  std::string s(n, 'a');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + seed) % 26);
  return s;
}

std::string text_of(const intg::error& e) { return e.to_string(); }

}  // namespace

// ---- without a server -----------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(gcs_answers)

BOOST_AUTO_TEST_CASE(object_resources_and_list_pages_are_read_and_wrong_types_are_named) {
  auto o = gcs::parse_object(R"({"kind":"storage#object","name":"a/b.txt","bucket":"b","generation":"1700000000000001",
      "size":"12","md5Hash":"XrY7u+Ae7tCTyyK7j1rNww==","etag":"CAE=","contentType":"text/plain",
      "updated":"2026-12-01T04:05:06.789Z","metadata":{"Origin":"intg"}})");
  BOOST_TEST_REQUIRE(o.has_value(), (o ? std::string() : text_of(o.error())));
  BOOST_TEST(o->info.key == "a/b.txt");
  BOOST_TEST(o->info.size == 12u);
  BOOST_TEST(o->generation == "1700000000000001");
  BOOST_TEST(o->info.checksums.md5 == "XrY7u+Ae7tCTyyK7j1rNww==");
  BOOST_TEST(o->info.metadata.at("origin") == "intg");
  BOOST_TEST((o->info.last_modified == std::chrono::sys_days{std::chrono::year{2026} / 12 / 1} + 4h + 5min + 6s));
  for (std::string_view bad : {R"({"name":"x","size":12})", R"({"name":"x","size":"-1"})", R"({"name":"x","updated":"yesterday"})",
                               R"({"name":"x","metadata":{"a":1}})", R"({"size":"1"})", R"([1])", R"({"name":"x")"}) {
    auto r = gcs::parse_object(bad);
    BOOST_TEST((!r.has_value() && r.error() == errc::invalid_response), bad);
  }
  BOOST_TEST(text_of(gcs::parse_object(R"({"name":"x","size":12})").error()).find("size") != std::string::npos);
  auto page = gcs::parse_list(R"({"kind":"storage#objects","items":[{"name":"k1","size":"1"},{"name":"k2","size":"2"}],
      "prefixes":["dir/"],"nextPageToken":"t1"})");
  BOOST_TEST_REQUIRE(page.has_value());
  BOOST_TEST(page->objects.size() == 2u);
  BOOST_TEST(page->prefixes.front() == "dir/");
  BOOST_TEST(page->next_page_token == "t1");
  BOOST_TEST(gcs::parse_list(R"({"kind":"storage#objects"})")->objects.empty());
  BOOST_TEST(!gcs::parse_list(R"({"items":{}})").has_value());
  BOOST_TEST(!gcs::parse_list(R"({"nextPageToken":5})").has_value());
  // Nesting beyond 32 levels is refused, not recursed into.
  BOOST_TEST(!gcs::parse_list(std::string(100, '[') + std::string(100, ']')).has_value());
  BOOST_TEST(gcs::md5_of_hash_header("crc32c=n03x6A==,md5=Ojk9c3dhfxgoKVVHYwFbHQ==") == "Ojk9c3dhfxgoKVVHYwFbHQ==");
  BOOST_TEST(gcs::md5_of_hash_header("crc32c=n03x6A==").empty());
}

BOOST_AUTO_TEST_CASE(google_error_reasons_map_to_conditions_and_to_what_the_kit_does) {
  auto answer = [](int status, std::string body) {
    http::response r{static_cast<boost::beast::http::status>(status), 11};
    r.body() = std::move(body);
    return gcs::provider::classify_answer(r, std::chrono::system_clock::now());
  };
  auto doc = [](int code, std::string_view reason) {
    return R"({"error":{"code":)" + std::to_string(code) + R"(,"message":"m","errors":[{"domain":"global","reason":")" + std::string(reason) +
           R"(","message":"m"}]}})";
  };
  BOOST_TEST((answer(200, "{}").action == rest::action::accept));
  BOOST_TEST((answer(308, "").action == rest::action::accept));  // a resumable upload's "resume incomplete"
  auto nf = answer(404, doc(404, "notFound"));
  BOOST_TEST((nf.action == rest::action::fail && nf.failure == condition::not_found));
  BOOST_TEST(nf.failure.provider_code() == "notFound");
  BOOST_TEST((answer(401, doc(401, "authError")).action == rest::action::refresh));
  BOOST_TEST((answer(401, doc(401, "authError")).failure == condition::unauthorized));
  BOOST_TEST((answer(403, doc(403, "forbidden")).failure == condition::forbidden));
  BOOST_TEST((answer(409, doc(409, "conflict")).failure == condition::conflict));
  BOOST_TEST((answer(412, doc(412, "conditionNotMet")).failure == condition::conflict));
  BOOST_TEST((answer(429, doc(429, "rateLimitExceeded")).action == rest::action::rate_limited));
  BOOST_TEST((answer(403, doc(403, "userRateLimitExceeded")).action == rest::action::rate_limited));
  BOOST_TEST((answer(503, doc(503, "backendError")).action == rest::action::retry));
  BOOST_TEST((answer(502, "<html>bad gateway</html>").action == rest::action::retry));
  BOOST_TEST((answer(408, "").action == rest::action::retry));
  BOOST_TEST((answer(400, doc(400, "invalid")).failure == condition::invalid_argument));
  BOOST_TEST(!gcs::parse_error("{\"error\":\"invalid_grant\"}").has_value());
}

BOOST_AUTO_TEST_CASE(bucket_and_object_names_are_checked_and_an_object_is_one_path_segment) {
  BOOST_TEST(gcs::check_bucket("intg-bucket_1.example").has_value());
  for (std::string_view bad : {std::string_view("ab"), std::string_view("Upper"), std::string_view("-dash"), std::string_view("dash-"),
                               std::string_view("has space"), std::string_view("x\0y", 3)})
    BOOST_TEST(!gcs::check_bucket(bad).has_value(), bad);
  BOOST_TEST(!gcs::check_object("").has_value());
  BOOST_TEST(!gcs::check_object(".").has_value());
  BOOST_TEST(!gcs::check_object("a\nb").has_value());
  BOOST_TEST(!gcs::check_object(std::string(1025, 'k')).has_value());
  BOOST_TEST(gcs::object_path("b12", "dir/a b+c.txt").value() == "/storage/v1/b/b12/o/dir%2Fa%20b%2Bc.txt");
  BOOST_TEST(gcs::object_path("b12", {}, true).value() == "/upload/storage/v1/b/b12/o");
}

BOOST_AUTO_TEST_SUITE_END()

// ---- against the fake ------------------------------------------------------------------------------

BOOST_AUTO_TEST_SUITE(gcs_fake_server)

BOOST_AUTO_TEST_CASE(a_service_account_key_gets_tokens_and_every_operation_round_trips) {
  static_assert(intg::integration<gcs::client>);
  with_gcs([](gcs::client& c, fakes::gcs_fake& f) -> asio::awaitable<void> {
    BOOST_TEST(c.uses_service_account());
    BOOST_TEST(f.seen().token_requests == 1);  // at initialize()
    BOOST_TEST(f.seen().last_scope == "https://www.googleapis.com/auth/devstorage.read_write");
    BOOST_TEST(f.seen().last_lifetime <= 3600);
    const std::string b = "intg-gcs-ops";
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    auto again = co_await c.create_bucket(b);
    BOOST_TEST((!again.has_value() && again.error() == condition::conflict));
    auto health = co_await c.health_check();
    BOOST_TEST((health.status == intg::integration_status::healthy), health.message);

    auto simple = co_await c.put_simple(b, "simple.txt", "the bytes only", "text/plain");
    BOOST_TEST_REQUIRE(simple.has_value(), (simple ? std::string() : text_of(simple.error())));
    BOOST_TEST(simple->size == 14u);
    const cloud::metadata_entry meta[] = {{"origin", "intg"}, {"Run", "7"}};
    cloud::put_options po{.content_type = "text/plain", .metadata = meta};
    const std::string body = "hello, google cloud storage";
    auto put = co_await c.put_object(b, "dir/one two.txt", body, po);
    BOOST_TEST_REQUIRE(put.has_value(), (put ? std::string() : text_of(put.error())));
    BOOST_TEST(put->checksums.md5 == md5_of(body));
    BOOST_TEST(f.stored(b, "dir/one two.txt")->data == body);  // the '/' and ' ' were one path segment

    auto head = co_await c.head_object(b, "dir/one two.txt");
    BOOST_TEST_REQUIRE(head.has_value());
    BOOST_TEST(head->size == body.size());
    BOOST_TEST(head->content_type == "text/plain");
    BOOST_TEST(head->metadata.at("origin") == "intg");
    BOOST_TEST(head->metadata.at("run") == "7");
    auto got = co_await c.get_object(b, "dir/one two.txt");
    BOOST_TEST_REQUIRE(got.has_value(), (got ? std::string() : text_of(got.error())));
    BOOST_TEST(got->body == body);
    BOOST_TEST(got->info.checksums.md5 == md5_of(body));
    cloud::get_options part{.range = cloud::byte_range{7, 12}};
    auto range = co_await c.get_object(b, "dir/one two.txt", part);
    BOOST_TEST_REQUIRE(range.has_value());
    BOOST_TEST(range->body == "google");
    BOOST_TEST(range->info.size == body.size());

    const std::string big = letters(600 * 1024);
    cloud::put_options chunks{.content_type = "text/plain", .part_size = 256 * 1024};
    auto up = co_await c.upload(b, "dir/big.txt", cloud::memory_source(big), chunks);
    BOOST_TEST_REQUIRE(up.has_value(), (up ? std::string() : text_of(up.error())));
    BOOST_TEST(up->size == big.size());
    BOOST_TEST(f.seen().chunks == 3);
    std::string back;
    cloud::get_options pieces{.part_size = 256 * 1024};
    auto down = co_await c.get_stream(b, "dir/big.txt", cloud::memory_sink(back), pieces);
    BOOST_TEST_REQUIRE(down.has_value(), (down ? std::string() : text_of(down.error())));
    BOOST_TEST((back == big));

    cloud::list_options lo{.prefix = "dir/", .page_size = 1};
    auto pages = c.list_objects(b, lo);
    std::vector<std::string> keys;
    while (true) {
      auto page = co_await pages.next();
      BOOST_TEST_REQUIRE(page.has_value());
      if (!*page) break;
      for (auto& o : (*page)->objects) keys.push_back(o.key);
    }
    BOOST_TEST((keys == std::vector<std::string>{"dir/big.txt", "dir/one two.txt"}));
    BOOST_TEST(pages.pages_read() == 2u);
    cloud::list_options top{.delimiter = "/"};
    auto level = co_await c.list_objects(b, top).next();
    BOOST_TEST_REQUIRE((level.has_value() && level->has_value()));
    BOOST_TEST(((*level)->prefixes == std::vector<std::string>{"dir/"}));
    BOOST_TEST((*level)->objects.size() == 1u);  // simple.txt

    auto refused = co_await c.delete_bucket(b);  // not empty
    BOOST_TEST((!refused.has_value() && refused.error() == condition::conflict));
    for (auto k : {"simple.txt", "dir/one two.txt", "dir/big.txt"}) BOOST_TEST((co_await c.delete_object(b, k)).has_value());
    auto gone = co_await c.get_object(b, "simple.txt");
    BOOST_TEST((!gone.has_value() && gone.error() == condition::not_found));
    BOOST_TEST(gone.error().provider_code() == "notFound");
    BOOST_TEST((co_await c.bucket(b).remove("simple.txt")).has_value());  // missing: done
    BOOST_TEST((co_await c.delete_bucket(b)).has_value());
    BOOST_TEST(f.seen().token_requests == 1);  // one token served every call
    log_exchanges(f);
  });
}

BOOST_AUTO_TEST_CASE(the_metadata_server_gives_tokens_and_an_impostor_is_refused) {
  with_gcs(
      [](gcs::client& c, fakes::gcs_fake& f) -> asio::awaitable<void> {
        BOOST_TEST(!c.uses_service_account());
        BOOST_TEST(f.seen().metadata_requests == 1);
        BOOST_TEST(f.seen().token_requests == 0);
        BOOST_TEST(f.seen().last_scope == "https://www.googleapis.com/auth/devstorage.read_only,https://www.googleapis.com/auth/cloud-platform");
        BOOST_TEST_REQUIRE((co_await c.create_bucket("intg-gcs-metadata")).has_value());
        BOOST_TEST((co_await c.put_simple("intg-gcs-metadata", "k", "v")).has_value());
        BOOST_TEST((co_await c.delete_object("intg-gcs-metadata", "k")).has_value());
        BOOST_TEST((co_await c.delete_bucket("intg-gcs-metadata")).has_value());
        log_exchanges(f);
      },
      false,
      [](intg::integration_config& cfg) {
        cfg.settings["scope"] = "https://www.googleapis.com/auth/devstorage.read_only https://www.googleapis.com/auth/cloud-platform";
      });

  // Something else answering at the metadata address (no Metadata-Flavor: Google) is not believed.
  asio::io_context io;
  fake_s3 impostor(io);
  impostor.handle = [](http::server_request&) {
    return http::make_response(gstatus::ok, R"({"access_token":"stolen","expires_in":3599,"token_type":"Bearer"})");
  };
  intg::integration_config cfg;
  cfg.name = "gcs";
  cfg.settings = {{"metadata_url", impostor.base()}, {"base_url", impostor.base()}};
  gcs::client c(cfg, io.get_executor(), azure_local());
  test::run(io, [&]() -> asio::awaitable<void> {
    auto r = co_await c.initialize();
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(text_of(r.error()).find("Metadata-Flavor") != std::string::npos);
    co_await impostor.server.shutdown(1s);
  }());
  // The metadata address must be Google's or an allowed host.
  asio::io_context io2;
  cfg.settings["metadata_url"] = "http://metadata.evil.example";
  gcs::client far(cfg, io2.get_executor(), azure_local());
  test::run(io2, [&]() -> asio::awaitable<void> {
    auto r = co_await far.initialize();
    BOOST_TEST((!r.has_value() && r.error() == errc::config_error));
  }());
}

BOOST_AUTO_TEST_CASE(a_key_file_path_and_project_id_are_read_as_the_users_configuration_names_them) {
  const std::string path = (std::filesystem::temp_directory_path() / ("intg-gcs-key-" + std::to_string(::getpid()) + ".json")).string();
  with_gcs(
      [](gcs::client& c, fakes::gcs_fake& f) -> asio::awaitable<void> {
        BOOST_TEST(c.uses_service_account());
        BOOST_TEST(f.seen().token_requests == 1);
        BOOST_TEST((co_await c.create_bucket("intg-gcs-keyfile")).has_value());  // in settings.project_id
        BOOST_TEST((co_await c.delete_bucket("intg-gcs-keyfile")).has_value());
      },
      true,
      [&](intg::integration_config& cfg) {
        std::ofstream(path) << std::string_view(cfg.settings.at("service_account").as_string());
        cfg.settings.erase("service_account");
        cfg.settings.erase("project");
        cfg.settings["credentials_path"] = path;
        cfg.settings["project_id"] = fakes::gcs_fake::project;
      });
  std::filesystem::remove(path);
  asio::io_context io;
  intg::integration_config cfg;
  cfg.name = "gcs";
  cfg.settings = {{"credentials_path", path}};
  gcs::client c(cfg, io.get_executor(), azure_local());
  test::run(io, [&]() -> asio::awaitable<void> {
    auto r = co_await c.initialize();
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error() == errc::config_error), text_of(r.error()));
    BOOST_TEST(text_of(r.error()).find("settings.credentials_path") != std::string::npos);
  }());
}

BOOST_AUTO_TEST_CASE(a_foreign_key_is_refused_once_and_a_revoked_token_is_renewed_once) {
  asio::io_context io;
  fakes::gcs_fake f(io.get_executor());
  f.start();
  auto cfg = gcs_config(f);
  cfg.settings["service_account"] = f.foreign_service_account_json();
  gcs::client c(cfg, io.get_executor(), azure_local());
  test::run(io, [&]() -> asio::awaitable<void> {
    auto r = co_await c.initialize();
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error() == errc::invalid_grant), text_of(r.error()));
    BOOST_TEST(f.seen().tokens_refused == 1);  // not sent again
    BOOST_TEST(text_of(r.error()).find("PRIVATE KEY") == std::string::npos);
    co_await f.stop();
  }());

  with_gcs([](gcs::client& c, fakes::gcs_fake& f) -> asio::awaitable<void> {
    BOOST_TEST_REQUIRE((co_await c.create_bucket("intg-gcs-revoked")).has_value());
    f.api().revoke_token("ya29.fake-1");
    auto put = co_await c.put_simple("intg-gcs-revoked", "k", "v");  // 401, a new token, sent once more
    BOOST_TEST_REQUIRE(put.has_value(), (put ? std::string() : text_of(put.error())));
    BOOST_TEST(f.seen().token_requests == 2);
    f.api().script(gverb::get, "/storage/v1/b/{bucket}/o/{object}",
                   sc::respond(gstatus::unauthorized, fakes::gcs_fake::google_error(gstatus::unauthorized, "authError", "Invalid Credentials").body())
                       .repeat(3));
    auto refused = co_await c.head_object("intg-gcs-revoked", "k");
    BOOST_TEST((!refused.has_value() && refused.error() == condition::unauthorized));
    BOOST_TEST(f.api().pending_scenarios() == 1u);  // one refresh, one resend, no more
  });
}

BOOST_AUTO_TEST_CASE(a_resumable_upload_streams_in_chunks_and_resends_what_was_not_kept) {
  with_gcs([](gcs::client& c, fakes::gcs_fake& f) -> asio::awaitable<void> {
    const std::string b = "intg-gcs-stream";
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    const std::string content = pattern((3u << 20) + 12345, 3);
    cloud::put_options po{.part_size = 1u << 20};
    // The first chunk: the fake keeps only its first 256 KiB, and the client sends the rest again
    // (the second PUT). The second chunk (the third PUT): the connection is reset after the fake
    // kept it, so its answer is lost; the kit sends it again, and the fake ignores the bytes it has.
    f.keep_only_next(256 * 1024);
    f.api().script(gverb::put, "/upload/storage/v1/b/{bucket}/o", sc::slow(0ms).repeat(2));
    f.api().script(gverb::put, "/upload/storage/v1/b/{bucket}/o", sc::reset());
    const int chunks_before = f.seen().chunks;
    auto up = co_await c.upload(b, "big.bin", cloud::memory_source(content), po);
    BOOST_TEST_REQUIRE(up.has_value(), (up ? std::string() : text_of(up.error())));
    BOOST_TEST(up->size == content.size());
    // Four chunks, the rest of the first sent again, the second sent again after its lost answer.
    BOOST_TEST(f.seen().chunks - chunks_before == 6);
    BOOST_TEST(f.api().pending_scenarios() == 0u);
    BOOST_TEST((f.stored(b, "big.bin")->data == content));
    BOOST_TEST(f.largest_chunk() <= po.part_size);  // one chunk in memory at a time
    BOOST_TEST(f.open_sessions() == 0u);

    std::string back;
    cloud::get_options go{.part_size = 512 * 1024};
    auto down = co_await c.get_stream(b, "big.bin", cloud::memory_sink(back), go);
    BOOST_TEST_REQUIRE(down.has_value(), (down ? std::string() : text_of(down.error())));
    BOOST_TEST((back == content));
    // Content that fills whole chunks ends with an empty request naming the total.
    const std::string whole = pattern(2u << 20, 4);
    auto exact = co_await c.upload(b, "exact.bin", cloud::memory_source(whole), po);
    BOOST_TEST_REQUIRE(exact.has_value(), (exact ? std::string() : text_of(exact.error())));
    BOOST_TEST((f.stored(b, "exact.bin")->data == whole));
    cloud::put_options odd{.part_size = 300 * 1024};
    auto refused = co_await c.upload(b, "odd.bin", cloud::memory_source(whole), odd);
    BOOST_TEST((!refused.has_value() && refused.error() == errc::invalid_argument));
  });
}

BOOST_AUTO_TEST_CASE(a_failing_source_cancels_the_session_and_a_wrong_md5_is_an_integrity_error) {
  with_gcs([](gcs::client& c, fakes::gcs_fake& f) -> asio::awaitable<void> {
    const std::string b = "intg-gcs-fail";
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    auto calls = std::make_shared<int>(0);
    cloud::byte_source failing = [calls](std::span<char> buf) -> asio::awaitable<intg::result<std::size_t>> {
      if (++*calls > 3) co_return intg::error(errc::unavailable, "disk went away");
      std::fill(buf.begin(), buf.end(), 'x');
      co_return buf.size();
    };
    cloud::put_options po{.part_size = 256 * 1024};
    auto up = co_await c.upload(b, "half.bin", failing, po);
    BOOST_TEST_REQUIRE(!up.has_value());
    BOOST_TEST(text_of(up.error()).find("disk went away") != std::string::npos);
    BOOST_TEST(text_of(up.error()).find("cancelled") != std::string::npos);
    BOOST_TEST(f.seen().cancelled == 1);
    BOOST_TEST(!f.stored(b, "half.bin").has_value());

    f.corrupt_md5(true);
    auto bad = co_await c.upload(b, "corrupt.bin", cloud::memory_source(pattern(300 * 1024)), po);
    BOOST_TEST_REQUIRE(!bad.has_value());
    BOOST_TEST((bad.error() == errc::integrity_violation), text_of(bad.error()));
    BOOST_TEST(!f.stored(b, "corrupt.bin").has_value());  // that generation was deleted
    auto small = co_await c.put_object(b, "small.txt", "abc");
    BOOST_TEST((!small.has_value() && small.error() == errc::integrity_violation));
    f.corrupt_md5(false);
    BOOST_TEST((co_await c.put_object(b, "small.txt", "abc")).has_value());
    f.corrupt_md5(true);
    auto read = co_await c.get_object(b, "small.txt");
    BOOST_TEST((!read.has_value() && read.error() == errc::integrity_violation));
    cloud::get_options trust{.verify = false};
    BOOST_TEST((co_await c.get_object(b, "small.txt", trust)).has_value());
  });
}

BOOST_AUTO_TEST_CASE(throttling_and_5xx_are_retried_where_safe_and_an_upload_post_is_not_sent_again) {
  with_gcs([](gcs::client& c, fakes::gcs_fake& f) -> asio::awaitable<void> {
    const std::string b = "intg-gcs-retry";
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    BOOST_TEST_REQUIRE((co_await c.put_object(b, "k", "v")).has_value());
    auto backend = fakes::gcs_fake::google_error(gstatus::service_unavailable, "backendError", "Backend Error").body();
    f.api().script(sc::respond(gstatus::service_unavailable, backend).repeat(2));
    auto got = co_await c.get_object(b, "k");
    BOOST_TEST_REQUIRE(got.has_value(), (got ? std::string() : text_of(got.error())));
    auto throttled = sc::respond(gstatus::too_many_requests,
                                 fakes::gcs_fake::google_error(gstatus::too_many_requests, "rateLimitExceeded", "Rate limit exceeded").body());
    throttled.response->set("Retry-After", "0");
    f.api().script(throttled);
    BOOST_TEST((co_await c.head_object(b, "k")).has_value());
    BOOST_TEST(f.api().pending_scenarios() == 0u);

    f.api().script(sc::respond(gstatus::service_unavailable, backend));
    const auto before = f.api().log().size();
    auto put = co_await c.put_object(b, "k2", "v2");
    BOOST_TEST_REQUIRE(!put.has_value());
    BOOST_TEST((put.error() == errc::outcome_unknown), text_of(put.error()));
    BOOST_TEST(text_of(put.error()).find("head_object()") != std::string::npos);
    BOOST_TEST(f.api().log().size() == before + 1);  // sent once
    // A resumable upload's requests may all be sent again.
    f.api().script(gverb::post, "/upload/storage/v1/b/{bucket}/o", sc::respond(gstatus::service_unavailable, backend));
    f.api().script(gverb::put, "/upload/storage/v1/b/{bucket}/o", sc::respond(gstatus::bad_gateway, "<html>bad gateway</html>", "text/html"));
    cloud::put_options po{.part_size = 256 * 1024};
    auto up = co_await c.upload(b, "k3", cloud::memory_source("resumed"), po);
    BOOST_TEST_REQUIRE(up.has_value(), (up ? std::string() : text_of(up.error())));
    BOOST_TEST(f.stored(b, "k3")->data == "resumed");
  });
}

BOOST_AUTO_TEST_CASE(hostile_and_malformed_answers_are_refused_with_clear_errors) {
  with_gcs([](gcs::client& c, fakes::gcs_fake& f) -> asio::awaitable<void> {
    const std::string b = "intg-gcs-hostile";
    BOOST_TEST_REQUIRE((co_await c.create_bucket(b)).has_value());
    const std::string list_route = "/storage/v1/b/{bucket}/o";
    for (std::string body : {std::string(5000, '[') + std::string(5000, ']'), std::string(R"({"items":[{"name":"k","size":{}}]})"),
                             std::string("not json"), std::string(R"({"items":"everything"})")}) {
      f.api().script(gverb::get, list_route, sc::respond(gstatus::ok, body));
      auto page = co_await c.list_objects(b).next();
      BOOST_TEST_REQUIRE(!page.has_value());
      BOOST_TEST((page.error() == errc::invalid_response), text_of(page.error()));
      BOOST_TEST(text_of(page.error()).find("everything") == std::string::npos);  // the answer is not quoted back
    }
    f.api().script(gverb::get, list_route, sc::respond(gstatus::ok, R"({"items":[{"name":"a"}],"nextPageToken":"same"})").repeat(2));
    cloud::list_options lo;
    auto pages = c.list_objects(b, lo);
    BOOST_TEST((co_await pages.next()).has_value());
    auto loop = co_await pages.next();
    BOOST_TEST((!loop.has_value() && text_of(loop.error()).find("pagination loop") != std::string::npos));
    // A session URL on another origin is not followed (the token would go there).
    auto elsewhere = sc::respond(gstatus::ok, "");
    elsewhere.response->set("Location", "https://evil.example/upload?upload_id=1");
    f.api().script(gverb::post, "/upload/storage/v1/b/{bucket}/o", elsewhere);
    cloud::put_options po{.part_size = 256 * 1024};
    auto up = co_await c.upload(b, "k", cloud::memory_source("x"), po);
    BOOST_TEST((!up.has_value() && text_of(up.error()).find("another origin") != std::string::npos));
  });
}

BOOST_AUTO_TEST_CASE(a_bucket_is_an_object_store) {
  static_assert(cloud::object_store<gcs::bucket>);
  with_gcs([](gcs::client& c, fakes::gcs_fake&) -> asio::awaitable<void> {
    BOOST_TEST_REQUIRE((co_await c.create_bucket("intg-gcs-store")).has_value());
    auto store = c.bucket("intg-gcs-store");
    co_await exercise(store);
    BOOST_TEST((co_await c.delete_bucket("intg-gcs-store")).has_value());
  });
}

BOOST_AUTO_TEST_SUITE_END()
