// libFuzzer target: SigV4's canonicalisation (raw paths with dot segments and escapes, raw queries,
// header lists with repeats, folds and control characters) turns any request into a signature or
// an error, never a crash; and signing is deterministic: the same request signs the same twice.
// Input: lines "method", "path", "query", "service", then "name: value" headers; the rest is the body.
// The whole input is also read as an AWS shared credentials file and as a config file: a profile
// map or an error, and what parses holds no control character but the continuation newlines.
#include <intg/security/auth/aws_credentials.hpp>
#include <intg/security/auth/sigv4.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace sigv4 = intg::auth::sigv4;

namespace {
void check(bool ok, int line = __builtin_LINE()) {
  if (!ok) {
    std::fprintf(stderr, "property failed at fuzz_sigv4.cpp:%d\n", line);
    std::abort();
  }
}
std::string_view next_line(std::string_view& in) {
  const auto nl = in.find('\n');
  const std::string_view line = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
  return line;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string_view whole = in;
  for (bool config : {false, true}) {
    auto f = intg::auth::aws::shared_file::parse(whole, config);
    if (!f) continue;
    for (std::string_view name : {"default", "dev", "profile dev"})
      if (const auto* p = f->find(name))
        for (const auto& [k, v] : *p)
          for (char c : k + v)
            if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n') std::abort();
  }
  sigv4::request r;
  r.method = std::string(next_line(in));
  r.path = std::string(next_line(in));
  r.query = std::string(next_line(in));
  const std::string service(next_line(in).substr(0, 16));
  r.headers.emplace_back("Host", "example.amazonaws.com");
  for (std::string_view line = next_line(in); !line.empty() && r.headers.size() < 32; line = next_line(in)) {
    const auto colon = line.find(':');
    r.headers.emplace_back(std::string(line.substr(0, colon)), colon == std::string_view::npos ? std::string() : std::string(line.substr(colon + 1)));
  }
  r.body = std::string(in);
  const sigv4::credentials keys{"AKIDEXAMPLE", intg::secret{"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}, intg::secret{}};
  const sigv4::params p{"us-east-1", service.empty() ? "service" : service, std::chrono::system_clock::time_point{std::chrono::seconds(1440938160)}, false};

  // The secret never shows in what is sent (unless the input itself carries it).
  const bool secret_in_input = whole.find(keys.secret_access_key.reveal()) != std::string_view::npos;
  sigv4::request a = r, b = r;
  auto sa = sigv4::sign(a, keys, p);
  auto sb = sigv4::sign(b, keys, p);
  check(sa.has_value() == sb.has_value());
  if (sa) {
    check(sa->signature == sb->signature && sa->signature.size() == 64);
    check(sa->canonical_request == sb->canonical_request);
    check(secret_in_input || sa->authorization.find(keys.secret_access_key.reveal()) == std::string::npos);
  }
  if (auto u = sigv4::presign(r, keys, p, std::chrono::seconds(900), "https")) {
    check(secret_in_input || u->url.find(keys.secret_access_key.reveal()) == std::string::npos);
    check(u->signature.size() == 64);
  }
  return 0;
}
