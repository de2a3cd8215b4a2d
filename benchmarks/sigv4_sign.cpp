// AWS Signature Version 4: signatures per second of intg's signer (sigv4::sign) on the request set
// sigv4_requests.py describes, which sigv4_botocore.py (botocore's S3SigV4Auth) and
// sigv4_node/sign.js (@smithy/signature-v4, what the AWS SDK for JavaScript v3 signs with) sign too;
// scripts/bench-sigv4 runs the three side by side and checks that they produce the same
// Authorization headers. Prints one JSON line: {"impl", "requests", "signatures", "seconds",
// "per_second", "first_authorization"}.
//
// Usage: sigv4_sign REQUESTS.json [seconds]
#include <intg/security/auth/sigv4.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace sigv4 = intg::auth::sigv4;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: sigv4_sign REQUESTS.json [seconds]\n");
    return 2;
  }
  std::ifstream in(argv[1]);
  std::stringstream text;
  text << in.rdbuf();
  const auto doc = boost::json::parse(text.str()).as_object();
  const double seconds = argc > 2 ? std::stod(argv[2]) : 2.0;

  sigv4::credentials keys{std::string(doc.at("access_key_id").as_string()), intg::secret{std::string(doc.at("secret_access_key").as_string())}, {}};
  const sigv4::params p{std::string(doc.at("region").as_string()), std::string(doc.at("service").as_string()),
                        std::chrono::system_clock::time_point{std::chrono::seconds{doc.at("time").as_int64()}}, false};
  std::vector<sigv4::request> requests;
  for (const auto& v : doc.at("requests").as_array()) {
    const auto& r = v.as_object();
    sigv4::request q;
    q.method = std::string(r.at("method").as_string());
    q.path = std::string(r.at("path").as_string());
    q.query = std::string(r.at("query").as_string());
    for (const auto& h : r.at("headers").as_array())
      q.headers.emplace_back(std::string(h.as_array()[0].as_string()), std::string(h.as_array()[1].as_string()));
    q.body = std::string(r.at("body").as_string());
    requests.push_back(std::move(q));
  }

  // As sigv4::signer signs: the day's signing key derived once, not on every request.
  const sigv4::signing_key_cache signing_keys;
  std::string first;
  std::size_t n = 0;
  const auto t0 = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  // sign() adds its headers to the request: each signature starts from the request's own headers
  // again (as @smithy/signature-v4's sign() works on a shallow copy of the request with its own
  // headers object); the body is not copied.
  std::vector<sigv4::request> work = requests;
  do {
    for (std::size_t i = 0; i < requests.size(); ++i) {
      work[i].headers = requests[i].headers;
      auto s = sigv4::sign(work[i], keys, p, &signing_keys);
      if (!s) {
        std::cerr << "sigv4_sign: " << s.error() << '\n';
        return 1;
      }
      if (first.empty()) first = s->authorization;
      ++n;
    }
  } while (elapsed() < seconds);
  const double took = elapsed();
  boost::json::object out{{"impl", "intg"}, {"requests", requests.size()}, {"signatures", n}, {"seconds", took},
                          {"per_second", static_cast<double>(n) / took}, {"first_authorization", first}};
  std::cout << boost::json::serialize(out) << '\n';
  return 0;
}
