// C++ side of the Node interop test (run by run.sh):
//   interop_helper prepare DIR   signs tokens with every algorithm family and seals data with
//                                AES-256-GCM, writing DIR/intg.json for interop.js to check;
//   interop_helper check DIR     verifies the tokens and opens the data Node wrote to DIR/node.json.
#include <intg/security/auth/jwk.hpp>
#include <intg/security/auth/jwt.hpp>
#include <intg/security/crypto/aead.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/random.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>

namespace auth = intg::auth;
namespace crypto = intg::crypto;
namespace json = boost::json;

static std::string read(const std::string& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

static int prepare(const std::string& dir) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  const json::object claims{{"sub", "interop-user"}, {"iss", "intg"}, {"aud", "node"}, {"iat", now}, {"exp", now + 600}};
  json::array tokens;
  auto add = [&](const char* alg, const auth::jwk& key) {
    auto token = auth::jwt::sign(claims, key, alg).value();
    std::string k = key.type() == auth::key_type::oct ? crypto::to_hex(key.secret_bytes()) : key.public_pem().value();
    tokens.push_back(json::object{{"alg", alg}, {"token", token}, {"key", k}});
  };
  const auto rsa = auth::jwk::generate("RSA").value();
  for (auto alg : {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}) add(alg, rsa);
  add("ES256", auth::jwk::generate("P-256").value());
  add("ES384", auth::jwk::generate("P-384").value());
  add("ES512", auth::jwk::generate("P-521").value());
  add("EdDSA", auth::jwk::generate("Ed25519").value());
  const auto hs = auth::jwk::from_secret(crypto::random_bytes(64).value());
  for (auto alg : {"HS256", "HS384", "HS512"}) add(alg, hs);

  json::array sealed;
  const std::string key = crypto::random_bytes(32).value();
  for (auto [plain, aad] : {std::pair{"hello from intg", "record-1"}, std::pair{"", ""},
                            std::pair{"unicode: h\xc3\xa9llo \xe2\x9c\x93", ""}}) {
    auto s = crypto::aes256gcm_encrypt(crypto::as_bytes(key), plain, aad).value();
    sealed.push_back(json::object{{"key_hex", crypto::to_hex(key)}, {"aad", aad}, {"plaintext", plain},
                                  {"sealed_b64", crypto::base64_encode(s)}});
  }
  std::ofstream(dir + "/intg.json") << json::serialize(json::object{{"tokens", tokens}, {"sealed", sealed}});
  return 0;
}

static int check(const std::string& dir) {
  auto doc = json::parse(read(dir + "/node.json")).as_object();
  int failures = 0;
  for (const auto& v : doc.at("tokens").as_array()) {
    const auto& t = v.as_object();
    const std::string alg(t.at("alg").as_string());
    const std::string key_text(t.at("key").as_string());
    auto key = alg.starts_with("HS") ? intg::result<auth::jwk>(auth::jwk::from_secret(crypto::from_hex(key_text).value()))
                                     : auth::jwk::from_pem(key_text);
    if (!key) {
      std::cerr << "FAIL node -> intg " << alg << ": key: " << key.error() << "\n";
      ++failures;
      continue;
    }
    auto claims = auth::jwt::verify(t.at("token").as_string(), *key,
                                    {.leeway = std::chrono::seconds{5}, .issuer = "node", .audience = "intg",
                                     .algorithms = {alg}});
    if (!claims || claims->at("sub").as_string() != "node-user") {
      std::cerr << "FAIL node -> intg " << alg << ": " << (claims ? "wrong claims" : claims.error().to_string()) << "\n";
      ++failures;
      continue;
    }
    std::cout << "ok node -> intg " << alg << "\n";
  }
  for (const auto& v : doc.at("sealed").as_array()) {
    const auto& s = v.as_object();
    const auto key = crypto::from_hex(s.at("key_hex").as_string()).value();
    const auto sealed = crypto::base64_decode(s.at("sealed_b64").as_string()).value();
    auto plain = crypto::aes256gcm_decrypt(crypto::as_bytes(key), sealed, s.at("aad").as_string());
    if (!plain || *plain != s.at("plaintext").as_string()) {
      std::cerr << "FAIL node -> intg AES-256-GCM\n";
      ++failures;
      continue;
    }
    std::cout << "ok node -> intg AES-256-GCM\n";
  }
  return failures ? 1 : 0;
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: interop_helper prepare|check DIR\n";
    return 2;
  }
  const std::string mode = argv[1];
  if (mode == "prepare") return prepare(argv[2]);
  if (mode == "check") return check(argv[2]);
  return 2;
}
