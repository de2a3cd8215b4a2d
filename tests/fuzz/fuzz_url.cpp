// libFuzzer target: the URL layer (parsing, reference resolution, percent-encoding, query strings)
// turns any input into a value or an error, never a crash, and its values round-trip:
// a parsed URL prints to a string that parses back to it, encoding then decoding gives the input.
// Input: a base URL, a newline, then a reference to resolve against it.
#include <intg/http/url.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace http = intg::http;

namespace {
void check(bool ok, int line = __builtin_LINE()) {
  if (!ok) {
    std::fprintf(stderr, "property failed at fuzz_url.cpp:%d\n", line);
    std::abort();
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto split = in.find('\n');
  const std::string_view first = in.substr(0, split);
  const std::string_view rest = split == std::string_view::npos ? std::string_view{} : in.substr(split + 1);

  if (auto u = http::url::parse(first)) {
    check(!u->target().empty() && u->target().front() == '/');
    for (char c : u->host()) check(!(c >= 'A' && c <= 'Z'));
    auto again = http::url::parse(u->str());
    check(again.has_value() && *again == *u);
    if (auto r = u->resolve(rest)) {
      auto reparsed = http::url::parse(r->str());
      check(reparsed.has_value() && *reparsed == *r);
    }
  }
  (void)http::resolve_reference(first, rest);

  const std::string encoded = http::percent_encode(in);
  for (char c : encoded) check(http::detail::is_unreserved(static_cast<unsigned char>(c)) || c == '%' || (c >= 'A' && c <= 'F'));
  auto decoded = http::percent_decode(encoded);
  check(decoded.has_value() && *decoded == in);
  (void)http::percent_decode(in, true);

  http::query q;
  q.add(first, rest);
  auto pairs = http::query::parse(q.str());
  check(pairs.has_value() && pairs->size() == 1 && (*pairs)[0].first == first && (*pairs)[0].second == rest);
  (void)http::query::parse(in);
  return 0;
}
