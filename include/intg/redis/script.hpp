// intg::redis::script: a Lua script with its SHA1 computed locally (OpenSSL), run with EVALSHA
// so the body crosses the network only when the server does not have it yet: on NOSCRIPT (a
// restart, SCRIPT FLUSH, a failover) the same call is sent again as EVAL, which also caches it.
// Falling back is safe: a NOSCRIPT answer means the script did not run.
#pragma once

#include <intg/core/result.hpp>
#include <intg/redis/connection.hpp>

#include <openssl/evp.h>

#include <chrono>

#include <string>
#include <string_view>
#include <vector>

namespace intg::redis {

class script {
 public:
  explicit script(std::string body) : body_(std::move(body)) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(body_.data(), body_.size(), md, &n, EVP_sha1(), nullptr))
      throw intg::exception(error(intg::errc::crypto_failure, "SHA1 of a Redis script failed"));
    static constexpr char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; ++i) {
      sha1_ += hex[md[i] >> 4];
      sha1_ += hex[md[i] & 15];
    }
  }
  const std::string& body() const noexcept { return body_; }
  /// Lowercase hex, as SCRIPT LOAD returns it.
  const std::string& sha1() const noexcept { return sha1_; }

 private:
  std::string body_;
  std::string sha1_;
};

/// Runs `s` with KEYS and ARGV: EVALSHA, then EVAL when the server answers NOSCRIPT. An error
/// raised by the script is an error (server_error, the script's message). Named arguments only:
/// pass vectors you hold, not temporaries (a coroutine's reference parameters must outlive it).
/// Both commands are answered by `deadline` at the latest (else within the command timeout each).
inline asio::awaitable<result<resp3::response>> eval(connection& conn, const script& s,
                                                     const std::vector<std::string>& keys,
                                                     const std::vector<std::string>& args,
                                                     std::chrono::steady_clock::time_point deadline =
                                                         std::chrono::steady_clock::time_point::max()) {
  request req("EVALSHA", s.sha1(), keys.size(), keys, args);
  auto r = co_await conn.execute(req, deadline);
  if (!r) co_return r;
  if (auto c = r->front().check(); !c) {
    if (c.error().provider_code() != "NOSCRIPT") co_return c.error();
    req.clear();
    req.push("EVAL", s.body(), keys.size(), keys, args);
    r = co_await conn.execute(req, deadline);
    if (!r) co_return r;
    if (auto c2 = r->front().check(); !c2) co_return c2.error();
  }
  co_return r;
}

}  // namespace intg::redis
