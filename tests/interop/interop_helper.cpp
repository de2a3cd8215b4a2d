// C++ side of the Node interop test (run by run.sh):
//   interop_helper prepare DIR   signs tokens with every algorithm family and seals data with
//                                AES-256-GCM, writing DIR/intg.json for interop.js to check;
//   interop_helper check DIR     verifies the tokens and opens the data Node wrote to DIR/node.json.
// and of the WebSocket interop test (run by websocket.sh):
//   interop_helper ws-serve PORTFILE          an intg echo server (permessage-deflate on, Origin
//                                             https://app.example allowed, 1 MiB messages) until SIGTERM;
//   interop_helper ws-client URL plain|deflate  intg's client against another echo server.
#include <intg/security/auth/jwk.hpp>
#include <intg/security/auth/jwt.hpp>
#include <intg/security/crypto/aead.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/random.hpp>
#include <intg/websocket.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
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

namespace ws = intg::websocket;

static int ws_serve(const std::string& port_file) {
  boost::asio::io_context io;
  ws::server_options o;
  o.permessage_deflate = true;
  o.allowed_origins = {"https://app.example"};
  o.max_message_size = 1024 * 1024;
  ws::server srv(io.get_executor(), [](std::shared_ptr<ws::connection> c) -> boost::asio::awaitable<void> {
    for (;;) {
      auto m = co_await c->receive();
      if (!m) {
        std::cerr << "intg server: " << m.error().to_string() << "\n";
        co_return;
      }
      auto sent = co_await c->send(m->data, m->kind);
      if (!sent) co_return;
    }
  }, o);
  if (auto r = srv.listen("127.0.0.1", 0); !r) {
    std::cerr << r.error().to_string() << "\n";
    return 1;
  }
  srv.start();
  std::ofstream(port_file + ".tmp") << srv.port();
  std::rename((port_file + ".tmp").c_str(), port_file.c_str());
  boost::asio::signal_set stop(io, SIGTERM, SIGINT);
  stop.async_wait([&](boost::system::error_code, int) { boost::asio::co_spawn(io, srv.shutdown(std::chrono::seconds(1)), boost::asio::detached); });
  io.run();
  return 0;
}

static int ws_client(const std::string& url, bool deflate) {
  boost::asio::io_context io;
  int failures = 0;
  auto check = [&](bool ok, const std::string& what) {
    failures += !ok;
    (ok ? std::cout : std::cerr) << (ok ? "ok   " : "FAIL ") << what << (deflate ? " (permessage-deflate)" : "") << "\n";
  };
  boost::asio::co_spawn(io, [&]() -> boost::asio::awaitable<void> {
    ws::client_options o;
    o.permessage_deflate = deflate;
    o.reconnect = false;
    ws::client c(io.get_executor(), url, o);
    auto r = co_await c.connect();
    check(r.has_value(), "intg client connects" + (r ? std::string() : ": " + r.error().to_string()));
    if (!r) co_return;
    std::string binary(70000, '\0');
    for (std::size_t i = 0; i < binary.size(); ++i) binary[i] = static_cast<char>(i % 251);
    std::vector<std::pair<std::string, ws::message_kind>> cases;  // no braced list: g++ 12 coroutine frames
    cases.emplace_back("h\xc3\xa9llo \xe2\x9c\x93", ws::message_kind::text);
    cases.emplace_back(binary, ws::message_kind::binary);
    cases.emplace_back(std::string(300000, 'z'), ws::message_kind::text);
    cases.emplace_back(std::string(), ws::message_kind::binary);
    for (const auto& [data, kind] : cases) {
      const std::string what = "echo of a " + std::to_string(data.size()) + "-byte " + (kind == ws::message_kind::text ? "text" : "binary") + " message";
      auto sent = co_await c.send(data, kind);
      auto back = co_await c.receive();
      check(sent && back && back->data == data && back->kind == kind, what + (back ? std::string() : ": " + back.error().to_string()));
    }
    auto closed = co_await c.close(ws::close_code::normal, "bye");
    check(closed.has_value(), "clean close" + (closed ? std::string() : ": " + closed.error().to_string()));
  }, [&](std::exception_ptr e) { failures += e != nullptr; });
  io.run();
  return failures ? 1 : 0;
}

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "ws-serve" && argc == 3) return ws_serve(argv[2]);
  if (mode == "ws-client" && argc == 4) return ws_client(argv[2], std::string(argv[3]) == "deflate");
  if (argc != 3) {
    std::cerr << "usage: interop_helper prepare|check DIR | ws-serve PORTFILE | ws-client URL plain|deflate\n";
    return 2;
  }
  if (mode == "prepare") return prepare(argv[2]);
  if (mode == "check") return check(argv[2]);
  return 2;
}
