// libFuzzer target: the XML reader (rest/xml.hpp) and everything S3 and Azure Blob read with it.
// The first byte picks the answer's status (and whether it carries an ETag), the rest is the body.
// Properties: the reader gives a tree within its limits or an error, never a crash; a DOCTYPE is
// always refused; every S3 and Azure answer reader gives a value or an error; the classifications
// accept only a 2xx, and a failure carries the provider's category; an error document's code and
// message are bounded and printable. STS's AssumeRoleWithWebIdentity answer reader gives
// credentials only from a 2xx, complete and unexpired, and an error otherwise.
#include <intg/providers/azure_blob.hpp>
#include <intg/providers/s3.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace xml = intg::rest::xml;
namespace s3 = intg::s3;
namespace az = intg::azure_blob;

namespace {

void check(bool ok, int line = __builtin_LINE()) {
  if (!ok) {
    std::fprintf(stderr, "property failed at fuzz_xml.cpp:%d\n", line);
    std::abort();
  }
}

// Depth and element count of a tree, checked against the limits it was read with.
std::size_t walk(const xml::element& e, std::size_t depth, const xml::limits& l) {
  check(depth <= l.max_depth);
  check(!e.name.empty());
  std::size_t n = 1;
  for (const auto& c : e.children) n += walk(c, depth + 1, l);
  return n;
}

// Whether `s` holds "<!DOCTYPE" outside processing instructions, comments and CDATA sections,
// where it is text, not a declaration ('<' cannot appear unescaped anywhere else).
bool doctype_outside_markup(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::string_view rest = s.substr(i);
    std::string_view close;
    if (rest.starts_with("<?")) close = "?>";
    else if (rest.starts_with("<!--")) close = "-->";
    else if (rest.starts_with("<![CDATA[")) close = "]]>";
    else if (rest.starts_with("<!DOCTYPE")) return true;
    if (close.empty()) {
      ++i;
      continue;
    }
    const auto end = s.find(close, i + 2);
    if (end == std::string_view::npos) return false;
    i = end + close.size();
  }
  return false;
}

bool printable(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  static constexpr int statuses[] = {200, 206, 204, 301, 307, 400, 403, 404, 409, 412, 500, 503};
  const int status = statuses[data[0] % 12];
  const bool with_etag = (data[0] & 0x80) != 0;

  xml::limits small;
  small.max_depth = 8;
  small.max_elements = 64;
  small.max_bytes = 2048;
  for (const xml::limits& l : {xml::limits{}, small}) {
    auto doc = xml::parse(body, l);
    if (doc) {
      check(walk(*doc, 1, l) <= l.max_elements);
      check(!doctype_outside_markup(body));
    } else {
      check(doc.error() == intg::errc::invalid_response);
      check(std::string_view(doc.error().message()).starts_with("XML answer refused: "));
    }
  }
  (void)xml::escape(body);

  if (auto e = s3::parse_error(body)) {
    check(e->code.size() <= 300 && e->message.size() <= 300);
    check(printable(e->code) && printable(e->message) && printable(e->request_id));
  }
  (void)s3::is_error_document(body);
  if (auto l = s3::parse_list_v2(body)) check(!l->truncated || !l->next_token.empty());
  (void)s3::parse_initiate(body);
  (void)s3::parse_complete(body);
  (void)s3::parse_copy(body);
  (void)s3::parse_list_uploads(body);
  (void)s3::parse_iso8601(body);
  (void)s3::parse_http_date(body);
  (void)s3::parse_size(body);
  {
    const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
    auto c = intg::auth::aws::parse_web_identity_answer(body, status, now);
    if (c) {
      check(status >= 200 && status < 300);
      check(!c->keys.access_key_id.empty() && !c->keys.secret_access_key.empty() && !c->keys.session_token.empty());
      check(c->expiration > now && c->expires_in && *c->expires_in >= std::chrono::seconds(0));
    } else {
      check(printable(c.error().message()));
    }
  }

  intg::http::response res{static_cast<boost::beast::http::status>(status), 11};
  res.body() = std::string(body);
  if (with_etag) res.set(intg::http::field::etag, "\"0123456789abcdef0123456789abcdef\"");
  const auto v = s3::provider::classify_answer(res, std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)));
  if (v.action == intg::rest::action::accept) {
    check(status >= 200 && status < 300);
  } else {
    check(&v.failure.code().category() == &intg::provider_category<s3::provider>());
    check(v.failure.http_status() == status);
    check(v.failure.message().size() < 2000);
  }

  if (auto e = az::parse_error(body)) {
    check(e->code.size() <= 100 && e->message.size() <= 300 && e->request_id.size() <= 100);
    check(printable(e->code) && printable(e->message) && printable(e->request_id));
  }
  if (auto l = az::parse_list(body))
    for (const auto& o : l->objects) check(!o.key.empty());
  (void)az::parse_http_date(body);
  const auto av = az::provider::classify_answer(res, std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000)));
  if (av.action == intg::rest::action::accept) {
    check(status >= 200 && status < 300);
  } else {
    check(&av.failure.code().category() == &intg::provider_category<az::provider>());
    check(av.failure.http_status() == status);
    check(av.failure.message().size() < 2000);
  }
  return 0;
}
