// Crypto primitives: digests, HMAC (RFC 4231), strict encodings, AES-256-GCM, HKDF (RFC 5869),
// random bytes and constant-time comparison; and what is built on them: webhook signatures, the
// audit log's hash chain, and the secret providers.
#define BOOST_TEST_MODULE intg crypto
#include <boost/test/unit_test.hpp>

#include <intg/security/crypto/aead.hpp>
#include <intg/security/crypto/compare.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/hash.hpp>
#include <intg/security/crypto/hmac.hpp>
#include <intg/security/crypto/kdf.hpp>
#include <intg/security/crypto/random.hpp>
#include <intg/security/audit.hpp>
#include <intg/security/secrets/encrypted_file_store.hpp>
#include <intg/security/secrets/env_provider.hpp>
#include <intg/security/secrets/file_provider.hpp>
#include <intg/security/webhook.hpp>

#include <boost/json/parse.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <set>
#include <string>

namespace crypto = intg::crypto;
using intg::errc;

namespace {
std::string unhex(std::string_view h) { return crypto::from_hex(h).value(); }
std::string hex(std::string_view s) { return crypto::to_hex(s); }
template <std::size_t N>
std::string hex(const std::array<std::uint8_t, N>& a) { return crypto::to_hex(a); }
std::span<const std::uint8_t> bytes(const std::string& s) { return crypto::as_bytes(s); }
}  // namespace

BOOST_AUTO_TEST_SUITE(digests)

BOOST_AUTO_TEST_CASE(sha2_digests_match_the_fips_180_examples) {
  BOOST_TEST(hex(crypto::sha256("abc")) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(hex(crypto::sha256("")) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(hex(crypto::sha384("abc")) ==
             "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
  BOOST_TEST(hex(crypto::sha512("abc")) ==
             "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
             "454d4423643ce80e2a9ac94fa54ca49f");
}

struct rfc4231_case {
  std::string key, data, h256, h384, h512;
  bool truncated = false;
};

BOOST_AUTO_TEST_CASE(hmac_matches_every_rfc_4231_test_case) {
  const std::string big_key(131, '\xaa');
  const rfc4231_case cases[] = {
      {std::string(20, '\x0b'), "Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
       "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
       "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854"},
      {"Jefe", "what do ya want for nothing?", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
       "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
       "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
      {std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
       "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27",
       "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb"},
      {unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"), std::string(50, '\xcd'),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
       "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb",
       "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd"},
      {std::string(20, '\x0c'), "Test With Truncation", "a3b6167473100ee06e0c796c2955552b",
       "3abf34c3503b2a23a46efc619baef897", "415fad6271580a531d4179bc891d87a6", true},
      {big_key, "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
       "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
       "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598"},
      {big_key,
       "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be "
       "hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
       "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
       "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58"},
  };
  int n = 1;
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("RFC 4231 test case " << n++) {
      auto h256 = hex(crypto::hmac_sha256(c.key, c.data));
      auto h384 = hex(crypto::hmac_sha384(c.key, c.data));
      auto h512 = hex(crypto::hmac_sha512(c.key, c.data));
      if (c.truncated) {  // test case 5 publishes the first 128 bits only
        h256.resize(32);
        h384.resize(32);
        h512.resize(32);
      }
      BOOST_TEST(h256 == c.h256);
      BOOST_TEST(h384 == c.h384);
      BOOST_TEST(h512 == c.h512);
      BOOST_TEST(hex(crypto::hmac(crypto::hmac_hash::sha256, c.key, c.data)).substr(0, c.h256.size()) == c.h256);
    }
  }
}

BOOST_AUTO_TEST_CASE(hmac_accepts_an_empty_key) {
  BOOST_TEST(hex(crypto::hmac_sha256("", "")) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(encodings)

BOOST_AUTO_TEST_CASE(hex_round_trips_and_is_lowercase) {
  const std::string all = [] {
    std::string s;
    for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
    return s;
  }();
  const auto h = crypto::to_hex(all);
  BOOST_TEST(h.substr(0, 8) == "00010203");
  BOOST_TEST(h.substr(h.size() - 4) == "feff");
  BOOST_TEST(crypto::from_hex(h).value() == all);
  BOOST_TEST(crypto::from_hex("ABCDEF").value() == "\xab\xcd\xef");
}

BOOST_AUTO_TEST_CASE(hex_decoding_rejects_odd_lengths_and_non_hex_characters) {
  for (std::string_view bad : {"a", "abc", "zz", "0g", " 00", "00 ", "0x00"}) {
    auto r = crypto::from_hex(bad);
    BOOST_TEST(r.has_error(), bad);
    if (r.has_error()) BOOST_TEST((r.error() == errc::invalid_argument));
  }
}

BOOST_AUTO_TEST_CASE(base64_matches_the_rfc_4648_test_vectors) {
  const std::pair<std::string_view, std::string_view> v[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                             {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                             {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : v) {
    BOOST_TEST(crypto::base64_encode(plain) == encoded);
    BOOST_TEST(crypto::base64_decode(encoded).value() == plain);
    std::string url(encoded);
    while (!url.empty() && url.back() == '=') url.pop_back();
    BOOST_TEST(crypto::base64url_encode(plain) == url);
    BOOST_TEST(crypto::base64url_decode(url).value() == plain);
  }
  BOOST_TEST(crypto::base64_encode(std::string_view("\xfb\xff")) == "+/8=");
  BOOST_TEST(crypto::base64url_encode(std::string_view("\xfb\xff")) == "-_8");
}

BOOST_AUTO_TEST_CASE(base64_decoding_is_strict) {
  for (std::string_view bad : {"Zg", "Zg=", "Zg===", "Z===", "Zm9v\n", " Zm9v", "Zm9v YmFy", "Zh==", "Zm9=",
                               "Zm=v", "=Zm9", "Zm9v-_8=", "Zm9v*A==", "Zg==Zg=="}) {
    BOOST_TEST(crypto::base64_decode(bad).has_error(), "base64 accepted " << bad);
  }
  for (std::string_view bad : {"Zg==", "Zg=", "Z", "Zh", "Zm9", "+/8", "Zm 9v", "Zm9v.", "A"}) {
    BOOST_TEST(crypto::base64url_decode(bad).has_error(), "base64url accepted " << bad);
  }
  auto e = crypto::base64_decode("Zm9v*A==");
  BOOST_TEST(std::string(e.error().message()).find("offset 4") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(aead)

const std::string key32 = std::string(32, '\x42');

BOOST_AUTO_TEST_CASE(aes_gcm_matches_the_gcm_specification_test_case_16) {
  // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16 (AES-256, 96-bit IV, AAD).
  const auto key = unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  const auto iv = unhex("cafebabefacedbaddecaf888");
  const auto pt = unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657"
      "ba637b39");
  const auto aad = unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  const auto sealed = crypto::detail::gcm_seal(bytes(key), iv, pt, aad).value();
  BOOST_TEST(hex(sealed) ==
             "cafebabefacedbaddecaf888"
             "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba"
             "7a0abcc9f662"
             "76fc6ece0f4e1768cddf8853bb2d551b");
  BOOST_TEST(crypto::aes256gcm_decrypt(bytes(key), sealed, aad).value() == pt);
}

BOOST_AUTO_TEST_CASE(aes_gcm_round_trips_with_a_fresh_nonce_each_time) {
  const auto a = crypto::aes256gcm_encrypt(bytes(key32), "attack at dawn", "record-7").value();
  const auto b = crypto::aes256gcm_encrypt(bytes(key32), "attack at dawn", "record-7").value();
  BOOST_TEST(a.size() == 12 + 14 + 16);
  BOOST_TEST(a != b);  // different nonces
  BOOST_TEST(crypto::aes256gcm_decrypt(bytes(key32), a, "record-7").value() == "attack at dawn");
  BOOST_TEST(crypto::aes256gcm_decrypt(bytes(key32), b, "record-7").value() == "attack at dawn");
  const auto empty = crypto::aes256gcm_encrypt(bytes(key32), "").value();
  BOOST_TEST(empty.size() == 28u);
  BOOST_TEST(crypto::aes256gcm_decrypt(bytes(key32), empty).value().empty());
}

BOOST_AUTO_TEST_CASE(aes_gcm_detects_any_altered_byte_wrong_aad_wrong_key_and_truncation) {
  const auto sealed = crypto::aes256gcm_encrypt(bytes(key32), "secret payload", "aad").value();
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    std::string t = sealed;
    t[i] = static_cast<char>(t[i] ^ 0x01);
    auto r = crypto::aes256gcm_decrypt(bytes(key32), t, "aad");
    BOOST_TEST_REQUIRE(r.has_error());
    BOOST_TEST((r.error() == errc::decryption_failed));
  }
  BOOST_TEST((crypto::aes256gcm_decrypt(bytes(key32), sealed, "aae").error() == errc::decryption_failed));
  BOOST_TEST((crypto::aes256gcm_decrypt(bytes(key32), sealed, "").error() == errc::decryption_failed));
  const std::string other(32, '\x43');
  BOOST_TEST((crypto::aes256gcm_decrypt(bytes(other), sealed, "aad").error() == errc::decryption_failed));
  BOOST_TEST((crypto::aes256gcm_decrypt(bytes(key32), sealed.substr(0, sealed.size() - 1), "aad").error() ==
              errc::decryption_failed));
  BOOST_TEST((crypto::aes256gcm_decrypt(bytes(key32), sealed.substr(0, 27), "aad").error() == errc::decryption_failed));
  BOOST_TEST((crypto::aes256gcm_decrypt(bytes(key32), sealed + "x", "aad").error() == errc::decryption_failed));
}

BOOST_AUTO_TEST_CASE(aes_gcm_refuses_keys_that_are_not_32_bytes) {
  const std::string short_key(16, 'k');
  BOOST_TEST((crypto::aes256gcm_encrypt(bytes(short_key), "x").error() == errc::invalid_argument));
  BOOST_TEST((crypto::aes256gcm_decrypt(bytes(short_key), std::string(40, 'x')).error() == errc::invalid_argument));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(kdf_random_compare)

BOOST_AUTO_TEST_CASE(hkdf_sha256_matches_rfc_5869_test_cases_1_to_3) {
  BOOST_TEST(hex(crypto::hkdf_sha256(std::string(22, '\x0b'), unhex("000102030405060708090a0b0c"),
                                     unhex("f0f1f2f3f4f5f6f7f8f9"), 42)
                     .value()) ==
             "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
  std::string ikm, salt, info;
  for (int i = 0x00; i <= 0x4f; ++i) ikm += static_cast<char>(i);
  for (int i = 0x60; i <= 0xaf; ++i) salt += static_cast<char>(i);
  for (int i = 0xb0; i <= 0xff; ++i) info += static_cast<char>(i);
  BOOST_TEST(hex(crypto::hkdf_sha256(ikm, salt, info, 82).value()) ==
             "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f"
             "09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87");
  BOOST_TEST(hex(crypto::hkdf_sha256(std::string(22, '\x0b'), "", "", 42).value()) ==
             "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

BOOST_AUTO_TEST_CASE(hkdf_refuses_impossible_lengths) {
  BOOST_TEST((crypto::hkdf_sha256("k", "", "", 0).error() == errc::invalid_argument));
  BOOST_TEST((crypto::hkdf_sha256("k", "", "", 255 * 32 + 1).error() == errc::invalid_argument));
  BOOST_TEST(crypto::hkdf_sha256("k", "", "", 255 * 32).value().size() == 255u * 32);
}

BOOST_AUTO_TEST_CASE(random_bytes_are_the_requested_length_and_differ) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) seen.insert(crypto::random_bytes(16).value());
  BOOST_TEST(seen.size() == 50u);
  BOOST_TEST(crypto::random_bytes(0).value().empty());
  BOOST_TEST(crypto::random_bytes(1000).value().size() == 1000u);
}

BOOST_AUTO_TEST_CASE(constant_time_equal_compares_contents_and_lengths) {
  BOOST_TEST(crypto::constant_time_equal("abc", "abc"));
  BOOST_TEST(!crypto::constant_time_equal("abc", "abd"));
  BOOST_TEST(!crypto::constant_time_equal("abc", "ab"));
  BOOST_TEST(crypto::constant_time_equal("", ""));
  const auto a = crypto::sha256("x"), b = crypto::sha256("x"), c = crypto::sha256("y");
  BOOST_TEST(crypto::constant_time_equal(a, b));
  BOOST_TEST(!crypto::constant_time_equal(a, c));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {
/// A fresh directory under the build tree's temp area, removed at the end of the test.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    path = std::filesystem::temp_directory_path() / ("intg-test-" + crypto::to_hex(crypto::random_bytes(8).value()));
    std::filesystem::create_directories(path);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};
std::string slurp(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}
void spit(const std::filesystem::path& p, std::string_view s) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f << s;
}
std::chrono::sys_seconds at(std::int64_t s) { return std::chrono::sys_seconds{std::chrono::seconds{s}}; }
}  // namespace

BOOST_AUTO_TEST_SUITE(webhooks)

const std::string whsec = "whsec_test_secret";
const std::string body = R"({"id":"evt_1","object":"event"})";

BOOST_AUTO_TEST_CASE(a_stripe_signature_matching_the_raw_body_within_tolerance_verifies) {
  const auto header = intg::webhook::sign_stripe(body, whsec, at(1700000000));
  BOOST_TEST(header.substr(0, 13) == "t=1700000000,");
  // Independently computed: HMAC-SHA256 keyed with the whole whsec_ string over "t.body".
  BOOST_TEST(header.substr(16) == hex(crypto::hmac_sha256(whsec, "1700000000." + body)));
  BOOST_TEST(intg::webhook::verify_stripe(body, header, whsec, at(1700000000)).has_value());
  BOOST_TEST(intg::webhook::verify_stripe(body, header, whsec, at(1700000300)).has_value());
}

BOOST_AUTO_TEST_CASE(each_stripe_failure_mode_has_its_own_error) {
  const auto now = at(1700000000);
  const auto good = intg::webhook::sign_stripe(body, whsec, now);
  const auto v1 = intg::webhook::stripe_v1(body, whsec, 1700000000);
  using intg::webhook::verify_stripe;
  BOOST_TEST((verify_stripe(body, "", whsec, now).error() == errc::signature_missing));
  BOOST_TEST((verify_stripe(body, "  ", whsec, now).error() == errc::signature_missing));
  BOOST_TEST((verify_stripe(body, "garbage", whsec, now).error() == errc::signature_malformed));
  BOOST_TEST((verify_stripe(body, "v1=" + v1, whsec, now).error() == errc::signature_malformed));  // no t
  BOOST_TEST((verify_stripe(body, "t=abc,v1=" + v1, whsec, now).error() == errc::signature_malformed));
  BOOST_TEST((verify_stripe(body, "t=1,t=2,v1=" + v1, whsec, now).error() == errc::signature_malformed));
  BOOST_TEST((verify_stripe(body, "t=1700000000,v0=" + v1, whsec, now).error() == errc::signature_scheme_unsupported));
  BOOST_TEST((verify_stripe(body + " ", good, whsec, now).error() == errc::signature_invalid));
  BOOST_TEST((verify_stripe(body, good, "whsec_other", now).error() == errc::signature_invalid));
  BOOST_TEST((verify_stripe(body, good, whsec, at(1700000301)).error() == errc::timestamp_out_of_tolerance));
  BOOST_TEST((verify_stripe(body, good, whsec, at(1699999699)).error() == errc::timestamp_out_of_tolerance));
  // A tampered timestamp breaks the signature, not just the tolerance.
  BOOST_TEST((verify_stripe(body, "t=1700000001,v1=" + v1, whsec, now).error() == errc::signature_invalid));
  // Custom tolerance; zero disables the time check.
  BOOST_TEST(verify_stripe(body, good, whsec, at(1700000500), std::chrono::seconds{600}).has_value());
  BOOST_TEST(verify_stripe(body, good, whsec, at(1900000000), std::chrono::seconds{0}).has_value());
}

BOOST_AUTO_TEST_CASE(any_of_several_v1_signatures_may_match_during_secret_rotation) {
  const auto now = at(1700000000);
  const auto old_sig = intg::webhook::stripe_v1(body, "whsec_old", 1700000000);
  const auto new_sig = intg::webhook::stripe_v1(body, "whsec_new", 1700000000);
  const auto header = "t=1700000000,v1=" + old_sig + ",v1=" + new_sig + ",v0=deadbeef";
  BOOST_TEST(intg::webhook::verify_stripe(body, header, "whsec_old", now).has_value());
  BOOST_TEST(intg::webhook::verify_stripe(body, header, "whsec_new", now).has_value());
  BOOST_TEST((intg::webhook::verify_stripe(body, header, "whsec_x", now).error() == errc::signature_invalid));
  auto parsed = intg::webhook::parse_stripe_signature(" t=1700000000, v1=" + old_sig + " ,v1=" + new_sig).value();
  BOOST_TEST(parsed.v1.size() == 2u);
  BOOST_TEST(parsed.timestamp == 1700000000);
}

BOOST_AUTO_TEST_CASE(generic_hmac_headers_verify_and_fail_clearly) {
  const std::string secret = "It's a Secret to Everybody";
  const std::string payload = "Hello, World!";
  // GitHub's documented example for X-Hub-Signature-256.
  const std::string header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
  BOOST_TEST(intg::webhook::sign_hmac_sha256(payload, secret) == header);
  using intg::webhook::verify_hmac_sha256;
  BOOST_TEST(verify_hmac_sha256(payload, header, secret).has_value());
  BOOST_TEST(verify_hmac_sha256(payload, "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", secret)
                 .has_value());
  BOOST_TEST((verify_hmac_sha256(payload, "", secret).error() == errc::signature_missing));
  BOOST_TEST((verify_hmac_sha256(payload, "sha1=757107ea", secret).error() == errc::signature_malformed));
  BOOST_TEST((verify_hmac_sha256(payload, "sha256=xyz", secret).error() == errc::signature_malformed));
  BOOST_TEST((verify_hmac_sha256(payload, "sha256=7571", secret).error() == errc::signature_malformed));
  BOOST_TEST((verify_hmac_sha256(payload + "!", header, secret).error() == errc::signature_invalid));
  BOOST_TEST(verify_hmac_sha256(payload, header.substr(7), secret, "").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(audit)

intg::audit_options fixed_clock(intg::fsync_policy p = intg::fsync_policy::every_record) {
  intg::audit_options o;
  o.fsync = p;
  o.now = [] { return std::chrono::system_clock::time_point{std::chrono::milliseconds{1714564800123}}; };
  return o;
}

void write_three(const std::filesystem::path& p, intg::audit_options o = fixed_clock()) {
  auto log = intg::audit_log::open(p, std::move(o)).value();
  const intg::secret token{"tok_live_very_secret"};
  BOOST_TEST(log.append({.actor = "alice", .action = "login", .tenant = "t1", .target = "",
                         .outcome = intg::audit_outcome::success, .details = {{"ip", "10.0.0.1"}, {"mfa", true}}})
                 .value() == 0u);
  BOOST_TEST(log.append({.actor = "svc-billing", .action = "token.issue", .tenant = "t1", .target = "stripe",
                         .outcome = intg::audit_outcome::success, .details = {{"token", token}, {"ttl", 3600}}})
                 .value() == 1u);
  BOOST_TEST(log.append({.actor = "mallory", .action = "secret.read", .tenant = "t2", .target = "db_password",
                         .outcome = intg::audit_outcome::denied})
                 .value() == 2u);
}

BOOST_AUTO_TEST_CASE(records_are_chained_json_lines_with_who_what_tenant_when_and_outcome) {
  temp_dir d;
  const auto p = d.path / "audit.jsonl";
  write_three(p);
  const std::string text = slurp(p);
  BOOST_TEST(text.find("tok_live_very_secret") == std::string::npos);  // the secret never reaches the file
  std::istringstream lines(text);
  std::string line, prev(64, '0');
  int n = 0;
  while (std::getline(lines, line)) {
    auto o = boost::json::parse(line).as_object();
    BOOST_TEST(o.at("seq").as_int64() == n);
    BOOST_TEST(o.at("time").as_string() == "2024-05-01T12:00:00.123Z");
    BOOST_TEST(o.at("prev").as_string() == prev);
    prev = std::string(o.at("hash").as_string());
    if (n == 1) {
      BOOST_TEST(o.at("details").at("token").as_string() == "***");
      BOOST_TEST(o.at("actor").as_string() == "svc-billing");
      BOOST_TEST(o.at("tenant").as_string() == "t1");
    }
    if (n == 2) BOOST_TEST(o.at("outcome").as_string() == "denied");
    ++n;
  }
  BOOST_TEST(n == 3);
  auto head = intg::verify_audit_log(p).value();
  BOOST_TEST(head.records == 3u);
  BOOST_TEST(head.hash == prev);
  // Reopening continues the chain.
  {
    auto log = intg::audit_log::open(p, fixed_clock()).value();
    BOOST_TEST(log.append({.actor = "bob", .action = "logout"}).value() == 3u);
  }
  BOOST_TEST(intg::verify_audit_log(p).value().records == 4u);
}

BOOST_AUTO_TEST_CASE(the_verifier_detects_edits_removals_reordering_and_truncation) {
  temp_dir d;
  const auto p = d.path / "audit.jsonl";
  write_three(p);
  const std::string original = slurp(p);
  std::vector<std::string> lines;
  {
    std::istringstream in(original);
    std::string l;
    while (std::getline(in, l)) lines.push_back(l + "\n");
  }
  auto expect_violation = [&](const std::string& content, const char* what, bool keep_head = true) {
    spit(p, content);
    if (!keep_head) std::filesystem::remove(p.string() + ".head");
    auto r = intg::verify_audit_log(p);
    BOOST_TEST(r.has_error(), what);
    if (r.has_error()) BOOST_TEST((r.error() == errc::integrity_violation), what << ": " << r.error());
    // A broken log is not extended either. (Without the checkpoint: open() does not re-verify
    // the records a checkpoint covers; see the checkpoint tests.)
    std::filesystem::remove(p.string() + ".checkpoint");
    if (r.has_error()) BOOST_TEST(intg::audit_log::open(p, fixed_clock()).has_error(), what);
    if (r.has_error()) BOOST_TEST(slurp(p) == content, what << ": a refused log is left as it was");
  };
  std::string edited = original;
  edited.replace(edited.find("mallory"), 7, "mallorz");
  expect_violation(edited, "edited field");
  std::string outcome = original;
  outcome.replace(outcome.find("denied"), 6, "succes");
  expect_violation(outcome, "edited outcome");
  expect_violation(lines[0] + lines[2], "removed middle record");
  expect_violation(lines[1] + lines[2], "removed first record");
  expect_violation(lines[1] + lines[0] + lines[2], "reordered records");
  expect_violation(lines[0] + lines[1] + lines[2].substr(0, 40), "partial last line");
  expect_violation(lines[0] + lines[1], "truncated at the end (head file says 3)");
  // Without the head file, an end truncation cannot be seen from the file alone, but the
  // caller's own copy of the head catches it.
  spit(p, lines[0] + lines[1]);
  std::filesystem::remove(p.string() + ".head");
  BOOST_TEST(intg::verify_audit_log(p).has_value());
  intg::audit_head kept{3, std::string(boost::json::parse(lines[2]).at("hash").as_string())};
  BOOST_TEST((intg::verify_audit_log(p, {}, kept).error() == errc::integrity_violation));
  // Rewriting the tail with a recomputed chain is caught by the head's hash.
  spit(p, original);
  BOOST_TEST(intg::verify_audit_log(p, {}, kept).has_value());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string l;
  while (std::getline(in, l)) out.push_back(l + "\n");
  return out;
}

BOOST_AUTO_TEST_CASE(a_torn_final_line_is_cut_at_open_recorded_and_the_chain_continues) {
  for (bool with_checkpoint : {true, false}) {
    temp_dir d;
    const auto p = d.path / "audit.jsonl";
    write_three(p);
    BOOST_TEST(std::filesystem::exists(p.string() + ".checkpoint"));
    if (!with_checkpoint) std::filesystem::remove(p.string() + ".checkpoint");
    const std::string complete = slurp(p);
    const std::string torn = R"({"seq":3,"time":"2024-05-01T12:00:00.123Z","actor":"secret-ish)";  // a crash mid-write
    spit(p, complete + torn);
    {
      auto log = intg::audit_log::open(p, fixed_clock());
      BOOST_TEST_REQUIRE(log.has_value(), log.error());
      BOOST_TEST(log->head().records == 4u);  // three records and the repair
      BOOST_TEST(log->append({.actor = "bob", .action = "logout"}).value() == 4u);
    }
    const std::string text = slurp(p);
    BOOST_TEST(text.substr(0, complete.size()) == complete);  // complete records untouched
    BOOST_TEST(text.find("secret-ish") == std::string::npos);  // the cut content is not copied
    const auto lines = lines_of(text);
    BOOST_TEST_REQUIRE(lines.size() == 5u);
    auto repair = boost::json::parse(lines[3]).as_object();
    BOOST_TEST(repair.at("action").as_string() == "audit.repair");
    BOOST_TEST(repair.at("details").at("cut_bytes").as_int64() == static_cast<std::int64_t>(torn.size()));
    BOOST_TEST(repair.at("details").at("offset").as_int64() == static_cast<std::int64_t>(complete.size()));
    auto head = intg::verify_audit_log(p);
    BOOST_TEST_REQUIRE(head.has_value(), head.error());
    BOOST_TEST(head->records == 5u);
  }
}

BOOST_AUTO_TEST_CASE(a_complete_last_record_that_fails_verification_is_refused_not_cut) {
  temp_dir d;
  const auto p = d.path / "audit.jsonl";
  write_three(p);
  const std::string original = slurp(p);
  std::string altered = original;
  altered.replace(altered.find("mallory"), 7, "mallorz");  // the last, complete record
  spit(p, altered);
  BOOST_TEST((intg::audit_log::open(p, fixed_clock()).error() == errc::integrity_violation));
  BOOST_TEST(slurp(p) == altered);
  std::filesystem::remove(p.string() + ".checkpoint");
  BOOST_TEST((intg::audit_log::open(p, fixed_clock()).error() == errc::integrity_violation));
  BOOST_TEST(slurp(p) == altered);
  // The last record without its newline looks torn, but the head file says it was written:
  // cutting it would be a truncation, so the log is refused.
  spit(p, original.substr(0, original.size() - 1));
  BOOST_TEST((intg::audit_log::open(p, fixed_clock()).error() == errc::integrity_violation));
  BOOST_TEST(slurp(p) == original.substr(0, original.size() - 1));
}

BOOST_AUTO_TEST_CASE(an_append_whose_write_fails_part_way_is_rolled_back_to_the_last_record) {
  temp_dir d;
  const auto p = d.path / "audit.jsonl";
  write_three(p);
  const std::string before = slurp(p);
  // In a child process, a file size limit 40 bytes past the end makes the next record's write
  // stop part-way (then fail with EFBIG: SIGXFSZ is ignored), as a full disk would.
  const pid_t child = ::fork();
  BOOST_TEST_REQUIRE(child >= 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    auto log = intg::audit_log::open(p, fixed_clock());
    if (!log) ::_exit(10);
    const rlimit lim{before.size() + 40, before.size() + 40};
    if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(11);
    auto r = log->append({.actor = "alice", .action = "export", .details = {{"rows", std::string(200, 'x')}}});
    struct stat st {};
    ::stat(p.c_str(), &st);
    ::_exit(r.has_error() ? (static_cast<std::size_t>(st.st_size) == before.size() ? 0 : 12) : 13);
  }
  int status = 0;
  BOOST_TEST_REQUIRE(::waitpid(child, &status, 0) == child);
  BOOST_TEST_REQUIRE(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0, "child exit status " << WEXITSTATUS(status));
  BOOST_TEST(slurp(p) == before);
  auto log = intg::audit_log::open(p, fixed_clock()).value();
  BOOST_TEST(log.append({.actor = "alice", .action = "export"}).value() == 3u);  // no repair needed
}

BOOST_AUTO_TEST_CASE(open_verifies_only_after_the_checkpoint_and_full_verification_stays_separate) {
  temp_dir d;
  const auto p = d.path / "audit.jsonl";
  const auto cp = p.string() + ".checkpoint";
  auto keyed = [] {
    auto o = fixed_clock();
    o.chain_key = intg::secret{"chain key"};
    return o;
  };
  write_three(p, keyed());
  {
    auto log = intg::audit_log::open(p, keyed()).value();
    BOOST_TEST(log.append({.actor = "bob", .action = "a"}).value() == 3u);
    BOOST_TEST(log.append({.actor = "bob", .action = "b"}).value() == 4u);
  }  // closing checkpoints record 4
  auto c = boost::json::parse(slurp(cp)).as_object();
  BOOST_TEST(c.at("records").as_int64() == 5);
  BOOST_TEST(c.at("end").as_int64() == static_cast<std::int64_t>(std::filesystem::file_size(p)));
  BOOST_TEST(c.at("mac").as_string().size() == 64u);
  const std::string good = slurp(p);
  auto lines = lines_of(good);

  // Records before the checkpoint are not re-verified by open() (that is what makes it fast);
  // verify_audit_log() still walks everything.
  spit(p, lines[1] + lines[0] + lines[2] + lines[3] + lines[4]);  // same length, reordered
  BOOST_TEST(intg::audit_log::open(p, keyed()).has_value());
  BOOST_TEST((intg::verify_audit_log(p, "chain key").error() == errc::integrity_violation));

  // A checkpoint without a valid MAC is ignored: open() verifies everything and refuses.
  spit(p, lines[1] + lines[0] + lines[2] + lines[3] + lines[4]);
  c["mac"] = std::string(64, '0');
  spit(cp, boost::json::serialize(c));
  BOOST_TEST((intg::audit_log::open(p, keyed()).error() == errc::integrity_violation));
  c.erase("mac");
  spit(cp, boost::json::serialize(c));
  BOOST_TEST((intg::audit_log::open(p, keyed()).error() == errc::integrity_violation));

  // A valid older checkpoint cannot hide an edit made after it.
  spit(p, good);
  std::filesystem::remove(cp);
  std::filesystem::resize_file(p, good.size() - lines[4].size() - lines[3].size());
  std::filesystem::remove(p.string() + ".head");
  { auto log = intg::audit_log::open(p, keyed()).value(); }  // checkpoints record 2
  BOOST_TEST(boost::json::parse(slurp(cp)).at("records").as_int64() == 3);
  std::string edited = good;
  edited.replace(edited.find("\"action\":\"b\""), 12, "\"action\":\"c\"");
  spit(p, edited);
  BOOST_TEST((intg::audit_log::open(p, keyed()).error() == errc::integrity_violation));
  spit(p, good);
  BOOST_TEST(intg::audit_log::open(p, keyed()).has_value());
}

BOOST_AUTO_TEST_CASE(an_unkeyed_checkpoint_is_used_only_when_its_record_hashes_to_its_head) {
  temp_dir d;
  const auto p = d.path / "audit.jsonl";
  const auto cp = p.string() + ".checkpoint";
  write_three(p);
  const auto lines = lines_of(slurp(p));
  auto c = boost::json::parse(slurp(cp)).as_object();
  BOOST_TEST(!c.contains("mac"));
  spit(p, lines[1] + lines[0] + lines[2]);
  BOOST_TEST(intg::audit_log::open(p, fixed_clock()).has_value());  // the checkpoint checks out
  // A checkpoint naming a hash the record there does not have is ignored: full verification.
  c["hash"] = std::string(64, 'a');
  spit(cp, boost::json::serialize(c));
  BOOST_TEST((intg::audit_log::open(p, fixed_clock()).error() == errc::integrity_violation));
  // So is one pointing into the middle of a record.
  c = boost::json::parse(std::string_view(slurp(cp))).as_object();
  c["hash"] = boost::json::parse(lines[2]).at("hash");
  c["start"] = c.at("start").as_int64() + 1;
  spit(cp, boost::json::serialize(c));
  BOOST_TEST((intg::audit_log::open(p, fixed_clock()).error() == errc::integrity_violation));
  // No checkpoint at all when disabled.
  temp_dir d2;
  auto o = fixed_clock();
  o.checkpoint_every = 0;
  write_three(d2.path / "audit.jsonl", std::move(o));
  BOOST_TEST(!std::filesystem::exists(d2.path / "audit.jsonl.checkpoint"));
}

BOOST_AUTO_TEST_CASE(a_keyed_chain_cannot_be_recomputed_without_the_key) {
  temp_dir d;
  const auto p = d.path / "audit.jsonl";
  auto opts = fixed_clock();
  opts.chain_key = intg::secret{"chain key"};
  write_three(p, std::move(opts));
  BOOST_TEST(intg::verify_audit_log(p, "chain key").has_value());
  BOOST_TEST((intg::verify_audit_log(p).error() == errc::integrity_violation));
  BOOST_TEST((intg::verify_audit_log(p, "other key").error() == errc::integrity_violation));
}

BOOST_AUTO_TEST_CASE(fsync_policies_all_produce_verifiable_logs_and_concurrent_appends_stay_chained) {
  for (auto policy : {intg::fsync_policy::every_record, intg::fsync_policy::every_n, intg::fsync_policy::never}) {
    temp_dir d;
    const auto p = d.path / "audit.jsonl";
    {
      auto o = fixed_clock(policy);
      o.fsync_every = 7;
      auto log = intg::audit_log::open(p, std::move(o)).value();
      // Boost.Test's assertions are not thread-safe: each thread counts its failed appends and
      // the test thread checks them.
      std::vector<std::thread> threads;
      std::array<int, 4> failed{};
      for (int t = 0; t < 4; ++t)
        threads.emplace_back([&log, &failed, t] {
          for (int i = 0; i < 25; ++i)
            if (!log.append({.actor = "worker", .action = "call", .details = {{"thread", t}, {"i", i}}})) ++failed[t];
        });
      for (auto& t : threads) t.join();
      for (int t = 0; t < 4; ++t) BOOST_TEST(failed[t] == 0, "thread " << t << " failed appends");
      BOOST_TEST(log.head().records == 100u);
    }  // the destructor syncs and writes the head
    auto head = intg::verify_audit_log(p);
    BOOST_TEST_REQUIRE(head.has_value());
    BOOST_TEST(head->records == 100u);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(secrets)

BOOST_AUTO_TEST_CASE(a_keyring_holds_named_keys_one_of_them_primary) {
  using intg::secrets::keyring;
  keyring ring;
  BOOST_TEST(ring.empty());
  BOOST_TEST(!ring.primary());
  BOOST_TEST((ring.add(intg::secret{"short"}).error() == errc::invalid_argument));
  BOOST_TEST((ring.add(intg::secret{std::string(32, 'a')}, "bad id!").error() == errc::invalid_argument));
  BOOST_TEST((ring.add(intg::secret{std::string(32, 'a')}, std::string(65, 'x')).error() == errc::invalid_argument));
  const auto a = ring.add(intg::secret{std::string(32, 'a')});
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST(*a == keyring::derive_key_id(intg::secret{std::string(32, 'a')}));
  BOOST_TEST(ring.primary_id() == *a);  // the first key is the primary
  BOOST_TEST((ring.add(intg::secret{std::string(32, 'b')}, *a).error() == errc::invalid_argument));  // duplicate id
  BOOST_TEST(ring.add(intg::secret{std::string(32, 'b')}, "2024-06").has_value());
  BOOST_TEST(ring.primary_id() == *a);
  BOOST_TEST((ring.remove(*a).error() == errc::invalid_argument));  // never the primary
  BOOST_TEST((ring.set_primary("nope").error() == errc::not_found));
  BOOST_TEST(ring.set_primary("2024-06").has_value());
  BOOST_TEST(ring.primary()->key.reveal() == std::string(32, 'b'));
  BOOST_TEST(ring.remove(*a).has_value());
  BOOST_TEST((ring.ids() == std::vector<std::string>{"2024-06"}));
  // The store hands out its ring: same keys, same primary.
  const auto p = std::filesystem::temp_directory_path() / ("intg-keyring-" + std::to_string(::getpid()) + ".json");
  auto store = intg::secrets::encrypted_file_store::open(p, intg::secret{std::string(32, 'k')}, "k1").value();
  BOOST_TEST(store.add_key(intg::secret{std::string(32, 'n')}, "k2").has_value());
  const keyring copy = store.keys();
  BOOST_TEST(copy.primary_id() == "k1");
  BOOST_TEST(copy.ids().size() == 2u);
  BOOST_TEST(copy.find("k2")->key.reveal() == std::string(32, 'n'));
  std::filesystem::remove(p);
}

BOOST_AUTO_TEST_CASE(the_env_provider_reads_variables_and_reports_missing_ones_by_name_only) {
  ::setenv("INTG_TEST_API_KEY", "sk_live_123", 1);
  intg::secrets::env_provider env{"INTG_TEST_"};
  BOOST_TEST(env.get("API_KEY").value().reveal() == "sk_live_123");
  auto missing = env.get("NOPE");
  BOOST_TEST((missing.error() == errc::not_found));
  BOOST_TEST(std::string(missing.error().message()).find("INTG_TEST_NOPE") != std::string::npos);
  std::ostringstream os;
  os << env.get("API_KEY").value();
  BOOST_TEST(os.str() == "***");
}

BOOST_AUTO_TEST_CASE(the_file_provider_reads_each_time_and_cannot_escape_its_directory) {
  temp_dir d;
  spit(d.path / "db_password", "hunter2\n");
  intg::secrets::file_provider files{d.path};
  BOOST_TEST(files.get("db_password").value().reveal() == "hunter2");
  spit(d.path / "db_password", "hunter3\r\n");  // rotated in place
  BOOST_TEST(files.get("db_password").value().reveal() == "hunter3");
  BOOST_TEST((files.get("missing").error() == errc::not_found));
  for (auto bad : {"../etc/passwd", ".hidden", "a/b", ""}) BOOST_TEST((files.get(bad).error() == errc::invalid_argument));
}

BOOST_AUTO_TEST_CASE(the_encrypted_store_round_trips_and_keeps_only_ciphertext_on_disk) {
  temp_dir d;
  const auto p = d.path / "secrets.json";
  const std::string key = crypto::random_bytes(32).value();
  auto store = intg::secrets::encrypted_file_store::open(p, intg::secret{key}).value();
  BOOST_TEST(store.put("db_password", intg::secret{"correct horse battery staple"}));
  BOOST_TEST(store.put("api_key", intg::secret{"sk_live_abc"}));
  BOOST_TEST(store.get("db_password").value().reveal() == "correct horse battery staple");
  BOOST_TEST(store.version("db_password").value() == 1u);
  const std::string on_disk = slurp(p);
  BOOST_TEST(on_disk.find("correct horse") == std::string::npos);
  BOOST_TEST(on_disk.find("sk_live") == std::string::npos);
  BOOST_TEST(on_disk.find("intg-secrets/2") != std::string::npos);
  BOOST_TEST(((std::filesystem::status(p).permissions() & std::filesystem::perms::others_read) == std::filesystem::perms::none));
  // The documented format: base64(nonce|ciphertext|tag), AAD "intg-secrets/2\n<key id>\n<name>\n<version>",
  // the key id derived from the key without revealing it.
  auto doc = boost::json::parse(on_disk).as_object();
  const auto& entry = doc.at("secrets").at("api_key");
  const std::string kid(entry.at("key").as_string());
  BOOST_TEST(kid == hex(crypto::hmac_sha256(key, "intg-secrets key id")).substr(0, 16));
  BOOST_TEST(kid == intg::secrets::encrypted_file_store::derive_key_id(intg::secret{key}));
  auto sealed = crypto::base64_decode(std::string_view(entry.at("value").as_string())).value();
  BOOST_TEST(crypto::aes256gcm_decrypt(bytes(key), sealed, "intg-secrets/2\n" + kid + "\napi_key\n1").value() == "sk_live_abc");
  // A wrong key cannot read it.
  auto wrong = intg::secrets::encrypted_file_store::open(p, intg::secret{std::string(32, 'x')}).value();
  BOOST_TEST((wrong.get("api_key").error() == errc::key_invalid));  // another key id: not its key
  auto wrong_same_id = intg::secrets::encrypted_file_store::open(p, intg::secret{std::string(32, 'x')}, kid).value();
  BOOST_TEST((wrong_same_id.get("api_key").error() == errc::decryption_failed));
  BOOST_TEST((store.get("nope").error() == errc::not_found));
  BOOST_TEST(store.remove("api_key"));
  BOOST_TEST((store.get("api_key").error() == errc::not_found));
}

BOOST_AUTO_TEST_CASE(values_moved_between_names_fail_to_decrypt) {
  temp_dir d;
  const auto p = d.path / "secrets.json";
  auto store = intg::secrets::encrypted_file_store::open(p, intg::secret{std::string(32, 'k')}).value();
  BOOST_TEST(store.put("a", intg::secret{"value-a"}));
  BOOST_TEST(store.put("b", intg::secret{"value-b"}));
  auto doc = boost::json::parse(slurp(p)).as_object();
  auto& secrets = doc.at("secrets").as_object();
  std::swap(secrets.at("a").as_object().at("value"), secrets.at("b").as_object().at("value"));
  spit(p, boost::json::serialize(doc));
  BOOST_TEST((store.get("a").error() == errc::decryption_failed));
  spit(p, "{not json");
  BOOST_TEST((store.get("a").error() == errc::config_error));
}

BOOST_AUTO_TEST_CASE(rotation_is_seen_by_other_readers_without_restart) {
  temp_dir d;
  const auto p = d.path / "secrets.json";
  ::setenv("INTG_TEST_STORE_KEY", crypto::base64_encode(std::string(32, 'q')).c_str(), 1);
  auto writer = intg::secrets::encrypted_file_store::open_with_env_key(p, "INTG_TEST_STORE_KEY").value();
  auto reader = intg::secrets::encrypted_file_store::open_with_env_key(p, "INTG_TEST_STORE_KEY").value();
  BOOST_TEST(writer.put("token", intg::secret{"v1"}));
  BOOST_TEST(reader.get("token").value().reveal() == "v1");
  BOOST_TEST(writer.put("token", intg::secret{"v2"}));  // rotate
  BOOST_TEST(reader.get("token").value().reveal() == "v2");
  BOOST_TEST(reader.version("token").value() == 2u);
  // Re-encrypting under a new key: the writer keeps working, a reader with only the old key cannot.
  BOOST_TEST(writer.rekey(intg::secret{std::string(32, 'n')}));
  BOOST_TEST(writer.get("token").value().reveal() == "v2");
  BOOST_TEST(writer.key_ids().size() == 1u);
  BOOST_TEST((reader.get("token").error() == errc::key_invalid));
  ::unsetenv("INTG_TEST_MISSING_KEY");
  BOOST_TEST((intg::secrets::encrypted_file_store::open_with_env_key(p, "INTG_TEST_MISSING_KEY").error() == errc::config_error));
  BOOST_TEST((intg::secrets::encrypted_file_store::open(p, intg::secret{"short"}).error() == errc::invalid_argument));
}

BOOST_AUTO_TEST_CASE(a_reader_holding_old_and_new_keys_reads_throughout_a_rotation) {
  temp_dir d;
  const auto p = d.path / "secrets.json";
  const intg::secret key_a{std::string(32, 'a')}, key_b{std::string(32, 'b')};
  // Two replicas of one file: the writer rotates, the reader was given key B beforehand.
  auto writer = intg::secrets::encrypted_file_store::open(p, key_a, "2024-a").value();
  auto reader = intg::secrets::encrypted_file_store::open(p, key_a, "2024-a").value();
  BOOST_TEST(reader.add_key(key_b, "2024-b").value() == "2024-b");
  BOOST_TEST(writer.put("db", intg::secret{"db-v1"}));
  BOOST_TEST(writer.put("api", intg::secret{"api-v1"}));
  auto reads = [&](const char* step) {
    BOOST_TEST(reader.get("db").value().reveal() == "db-v1", step);
    BOOST_TEST(reader.get("api").value().reveal() == "api-v1", step);
  };
  reads("before rotation");
  BOOST_TEST(writer.add_key(key_b, "2024-b"));
  BOOST_TEST(writer.set_primary("2024-b"));
  reads("after the switch of primary");
  BOOST_TEST(writer.put("api", intg::secret{"api-v1"}));  // one value under B, one still under A
  reads("mid-rotation, values under both keys");
  BOOST_TEST(slurp(p).find("\"key\":\"2024-a\"") != std::string::npos);
  BOOST_TEST(slurp(p).find("\"key\":\"2024-b\"") != std::string::npos);
  BOOST_TEST((writer.retire_key("2024-a").error() == errc::key_invalid));  // still seals "db"
  BOOST_TEST(writer.reencrypt());
  reads("after re-encryption");
  BOOST_TEST(slurp(p).find("\"key\":\"2024-a\"") == std::string::npos);
  BOOST_TEST(writer.version("db").value() == 1u);  // re-encryption is not a new value
  BOOST_TEST(writer.retire_key("2024-a"));
  BOOST_TEST((writer.retire_key("2024-b").error() == errc::invalid_argument));  // the primary
  BOOST_TEST((reader.retire_key("2024-a").error() == errc::invalid_argument));  // still the reader's primary
  BOOST_TEST(reader.set_primary("2024-b"));
  BOOST_TEST(reader.retire_key("2024-a"));
  reads("after the old key is retired");
  BOOST_TEST((writer.set_primary("2024-a").error() == errc::not_found));
  // A reader that only ever had key A fails clearly, naming the key id (never key material).
  auto stale = intg::secrets::encrypted_file_store::open(p, key_a, "2024-a").value();
  auto r = stale.get("db");
  BOOST_TEST_REQUIRE(r.has_error());
  BOOST_TEST((r.error() == errc::key_invalid));
  const std::string msg(r.error().message());
  BOOST_TEST(msg.find("2024-b") != std::string::npos, msg);
  BOOST_TEST(msg.find(std::string(32, 'b')) == std::string::npos);
  // Key ids are checked.
  BOOST_TEST((writer.add_key(key_a, "has space").error() == errc::invalid_argument));
  BOOST_TEST((writer.add_key(key_a, "2024-b").error() == errc::invalid_argument));
  BOOST_TEST((writer.add_key(intg::secret{"short"}).error() == errc::invalid_argument));
}

BOOST_AUTO_TEST_CASE(tampering_with_a_key_id_version_or_format_fails_authentication) {
  temp_dir d;
  const auto p = d.path / "secrets.json";
  const intg::secret key_a{std::string(32, 'a')}, key_b{std::string(32, 'b')};
  auto store = intg::secrets::encrypted_file_store::open(p, key_a, "ka").value();
  BOOST_TEST(store.add_key(key_b, "kb"));
  BOOST_TEST(store.put("x", intg::secret{"value"}));
  const std::string original = slurp(p);
  auto edited = [&](std::string_view from, std::string_view to) {
    std::string t = original;
    const auto at = t.find(from);
    BOOST_TEST_REQUIRE(at != std::string::npos);
    t.replace(at, from.size(), to);
    spit(p, t);
  };
  edited("\"key\":\"ka\"", "\"key\":\"kb\"");  // a key the store holds: the AAD no longer matches
  BOOST_TEST((store.get("x").error() == errc::decryption_failed));
  edited("\"version\":1", "\"version\":2");
  BOOST_TEST((store.get("x").error() == errc::decryption_failed));
  edited("intg-secrets/2", "intg-secrets/1");  // a downgrade to the legacy reading
  BOOST_TEST((store.get("x").error() == errc::decryption_failed));
  edited("intg-secrets/2", "intg-secrets/3");
  BOOST_TEST((store.get("x").error() == errc::config_error));
  spit(p, original);
  BOOST_TEST(store.get("x").value().reveal() == "value");
}

BOOST_AUTO_TEST_CASE(a_version_1_file_is_read_and_migrated_on_the_first_write) {
  temp_dir d;
  const auto p = d.path / "secrets.json";
  const std::string key(32, 'k');
  // A file as the previous release wrote it: no key ids, AAD "intg-secrets/1\n<name>\n<version>".
  auto v1 = [&](const char* name, int version, const char* value) {
    const auto sealed = crypto::aes256gcm_encrypt(bytes(key), value,
                                                  std::string("intg-secrets/1\n") + name + "\n" + std::to_string(version)).value();
    return std::string("{\"version\":") + std::to_string(version) + ",\"updated\":\"2024-05-01T12:00:00Z\",\"value\":\"" +
           crypto::base64_encode(sealed) + "\"}";
  };
  spit(p, "{\"format\":\"intg-secrets/1\",\"secrets\":{\"old\":" + v1("old", 3, "old-value") + ",\"other\":" +
              v1("other", 1, "other-value") + "}}");
  ::chmod(p.c_str(), 0600);
  auto store = intg::secrets::encrypted_file_store::open(p, intg::secret{key}, "k1").value();
  BOOST_TEST(store.get("old").value().reveal() == "old-value");
  BOOST_TEST(store.version("old").value() == 3u);
  BOOST_TEST((store.retire_key("k1").error() == errc::invalid_argument));
  BOOST_TEST(store.put("new", intg::secret{"new-value"}));  // the first write migrates
  const std::string text = slurp(p);
  BOOST_TEST(text.find("intg-secrets/2") != std::string::npos);
  BOOST_TEST(text.find("intg-secrets/1") == std::string::npos);
  auto doc = boost::json::parse(text).as_object();
  for (const char* n : {"old", "other", "new"}) BOOST_TEST(doc.at("secrets").at(n).at("key").as_string() == "k1", n);
  BOOST_TEST(doc.at("secrets").at("old").at("version").as_int64() == 3);
  auto again = intg::secrets::encrypted_file_store::open(p, intg::secret{key}, "k1").value();
  BOOST_TEST(again.get("old").value().reveal() == "old-value");
  BOOST_TEST(again.get("other").value().reveal() == "other-value");
  BOOST_TEST(again.get("new").value().reveal() == "new-value");
  // A version 1 file sealed under a key the store does not hold is not migrated (nor lost).
  spit(p, "{\"format\":\"intg-secrets/1\",\"secrets\":{\"old\":" + v1("old", 3, "old-value") + "}}");
  auto other = intg::secrets::encrypted_file_store::open(p, intg::secret{std::string(32, 'z')}).value();
  BOOST_TEST((other.put("x", intg::secret{"y"}).error() == errc::decryption_failed));
  BOOST_TEST(slurp(p).find("intg-secrets/1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(symlinks_planted_at_temporary_and_lock_paths_are_not_followed) {
  temp_dir d;
  const auto p = d.path / "secrets.json";
  auto store = intg::secrets::encrypted_file_store::open(p, intg::secret{std::string(32, 'k')}).value();
  BOOST_TEST(store.put("a", intg::secret{"1"}));
  // The lock path: a dangling symlink would have created its target.
  const auto victim = d.path / "victim";
  std::filesystem::remove(p.string() + ".lock");
  std::filesystem::create_symlink(victim, p.string() + ".lock");
  BOOST_TEST(store.put("a", intg::secret{"2"}).has_error());
  BOOST_TEST(!std::filesystem::exists(std::filesystem::symlink_status(victim)));
  std::filesystem::remove(p.string() + ".lock");
  // The temporary path the previous release used (<path>.tmp.<pid>), truncated and written through.
  spit(victim, "untouched");
  std::filesystem::create_symlink(victim, p.string() + ".tmp." + std::to_string(::getpid()));
  BOOST_TEST(store.put("a", intg::secret{"3"}));
  BOOST_TEST(slurp(victim) == "untouched");
  BOOST_TEST(store.get("a").value().reveal() == "3");
  // The primitive itself: exclusive creation refuses a symlink and leaves its target alone.
  const auto link = d.path / "link";
  std::filesystem::create_symlink(victim, link);
  BOOST_TEST(intg::detail::create_exclusive(link, 0600).has_error());
  BOOST_TEST(slurp(victim) == "untouched");
}

BOOST_AUTO_TEST_CASE(a_replaced_file_keeps_its_permission_bits) {
  temp_dir d;
  const auto p = d.path / "secrets.json";
  auto store = intg::secrets::encrypted_file_store::open(p, intg::secret{std::string(32, 'k')}).value();
  const auto old_umask = ::umask(0077);
  BOOST_TEST(store.put("a", intg::secret{"1"}));
  BOOST_TEST((std::filesystem::status(p).permissions() == std::filesystem::perms(0600)));
  for (mode_t mode : {0640, 0600, 0440}) {
    ::chmod(p.c_str(), mode);
    BOOST_TEST(store.put("a", intg::secret{"2"}));
    BOOST_TEST((std::filesystem::status(p).permissions() == std::filesystem::perms(mode)), "mode " << std::oct << mode);
  }
  ::umask(old_umask);
}

namespace {
int failing_fsync(int) {
  errno = EIO;
  return -1;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_failed_directory_fsync_is_reported) {
  temp_dir d;
  const auto p = d.path / "secrets.json";
  auto store = intg::secrets::encrypted_file_store::open(p, intg::secret{std::string(32, 'k')}).value();
  intg::detail::fsync_directory = failing_fsync;
  auto r = store.put("a", intg::secret{"1"});
  intg::detail::fsync_directory = ::fsync;
  BOOST_TEST_REQUIRE(r.has_error());
  BOOST_TEST((r.error() == boost::system::error_code(EIO, boost::system::system_category())));
  BOOST_TEST(std::string(r.error().message()).find("directory") != std::string::npos);
  BOOST_TEST(store.put("a", intg::secret{"2"}));
}

BOOST_AUTO_TEST_CASE(concurrent_writers_in_one_process_do_not_lose_updates) {
  temp_dir d;
  const auto p = d.path / "secrets.json";
  // Each thread records its first error (Boost.Test's assertions are not thread-safe); the test
  // thread checks them.
  std::vector<std::thread> threads;
  std::array<std::string, 4> errors;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      // Separate store objects, as separate processes would have: the file lock serialises them.
      auto s = intg::secrets::encrypted_file_store::open(p, intg::secret{std::string(32, 'k')});
      if (!s) {
        errors[t] = "open: " + s.error().to_string();
        return;
      }
      for (int i = 0; i < 5; ++i)
        if (auto r = s->put("k" + std::to_string(t) + "_" + std::to_string(i), intg::secret{"v"}); !r) {
          errors[t] = "put: " + r.error().to_string();
          return;
        }
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < 4; ++t) BOOST_TEST(errors[t].empty(), "thread " << t << ": " << errors[t]);
  auto s = intg::secrets::encrypted_file_store::open(p, intg::secret{std::string(32, 'k')}).value();
  BOOST_TEST(s.names().value().size() == 20u);
}

BOOST_AUTO_TEST_SUITE_END()
