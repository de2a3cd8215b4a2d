// Crypto primitives: digests, HMAC (RFC 4231), strict encodings, AES-256-GCM, HKDF (RFC 5869),
// random bytes and constant-time comparison.
#define BOOST_TEST_MODULE intg crypto
#include <boost/test/unit_test.hpp>

#include <intg/crypto/aead.hpp>
#include <intg/crypto/compare.hpp>
#include <intg/crypto/encoding.hpp>
#include <intg/crypto/hash.hpp>
#include <intg/crypto/hmac.hpp>
#include <intg/crypto/kdf.hpp>
#include <intg/crypto/random.hpp>

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
