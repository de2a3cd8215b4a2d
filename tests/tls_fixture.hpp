// A throwaway PKI made at test time with OpenSSL: a CA, and leaf certificates that are good,
// for the wrong host, expired, or self-signed. Keys are P-256 (fast to generate).
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace test {

struct pem_pair {
  std::string cert;
  std::string key;
};

class test_pki {
 public:
  test_pki() {
    ca_key_.reset(EVP_EC_gen("P-256"));
    ca_.reset(make_cert(ca_key_.get(), nullptr, nullptr, "intg test CA", {}, 0, 3600, true));
  }

  std::string ca_pem() const { return to_pem(ca_.get()); }

  /// A leaf for `san` ("DNS:localhost,IP:127.0.0.1") valid from `from` to `to` seconds from now.
  pem_pair leaf(const std::string& cn, const std::string& san, long from = -60, long to = 3600) const {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(make_cert(key.get(), ca_key_.get(), ca_.get(), cn, san, from, to, false),
                                                     X509_free);
    return {to_pem(cert.get()) + ca_pem(), key_pem(key.get())};
  }

  /// A certificate that signs itself (no CA vouches for it).
  static pem_pair self_signed(const std::string& cn, const std::string& san) {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    std::unique_ptr<X509, decltype(&X509_free)> cert(make_cert(key.get(), nullptr, nullptr, cn, san, -60, 3600, false),
                                                     X509_free);
    return {to_pem(cert.get()), key_pem(key.get())};
  }

 private:
  static X509* make_cert(EVP_PKEY* key, EVP_PKEY* issuer_key, X509* issuer, const std::string& cn,
                         const std::string& san, long from, long to, bool ca) {
    static long serial = 1;
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial);
    X509_gmtime_adj(X509_getm_notBefore(x), from);
    X509_gmtime_adj(X509_getm_notAfter(x), to);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, nullptr, nullptr, 0);
    auto add = [&](int nid, const char* value) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      if (!ext) throw std::runtime_error("cannot make certificate extension");
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    };
    if (ca) {
      add(NID_basic_constraints, "critical,CA:TRUE");
      add(NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
      add(NID_basic_constraints, "CA:FALSE");
      add(NID_ext_key_usage, "serverAuth");
      if (!san.empty()) add(NID_subject_alt_name, san.c_str());
    }
    if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256())) throw std::runtime_error("cannot sign certificate");
    return x;
  }

  static std::string bio_string(BIO* b) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(b, &data);
    std::string s(data, static_cast<std::size_t>(n));
    BIO_free(b);
    return s;
  }
  static std::string to_pem(X509* x) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    return bio_string(b);
  }
  static std::string key_pem(EVP_PKEY* k) {
    BIO* b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
    return bio_string(b);
  }

  struct key_free {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
  };
  struct x509_free {
    void operator()(X509* x) const { X509_free(x); }
  };
  std::unique_ptr<EVP_PKEY, key_free> ca_key_;
  std::unique_ptr<X509, x509_free> ca_;
};

}  // namespace test
