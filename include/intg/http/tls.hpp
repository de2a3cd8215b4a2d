// TLS settings for intg's HTTP client and server: OpenSSL contexts that verify peers by default,
// per-connection host-name checks with SNI, and handshake errors that say why a peer was refused.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <memory>
#include <string>

namespace intg::http {

namespace ssl = boost::asio::ssl;

/// Client-side TLS settings. Peer and host-name verification are on unless you turn them off by
/// name; the system trust store is used unless `ca_file` or `ca_pem` name the only CAs to trust.
struct tls_options {
  std::string ca_file;          ///< PEM file of trusted CAs (replaces the system store)
  std::string ca_pem;           ///< in-memory PEM of trusted CAs (replaces the system store)
  bool also_trust_system_store = false;  ///< keep the system store when ca_file / ca_pem are set
  std::string client_cert_pem;  ///< for mutual TLS (optional)
  std::string client_key_pem;
  /// Accepts any certificate from any host. Only for throwaway local experiments: it makes the
  /// connection readable and forgeable by anyone on the path.
  bool insecure_skip_verify = false;
};

namespace detail {
inline error openssl_error(const char* what) {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  std::string msg = what;
  if (e) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    msg += ": ";
    msg += buf;
  }
  return error(errc::config_error, std::move(msg));
}
}  // namespace detail

/// Builds a client context from `opts` (TLS 1.2 or newer).
inline result<std::shared_ptr<ssl::context>> make_client_tls_context(const tls_options& opts) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  boost::system::error_code ec;
  const bool custom = !opts.ca_file.empty() || !opts.ca_pem.empty();
  if (!custom || opts.also_trust_system_store) {
    ctx->set_default_verify_paths(ec);
    if (ec) return error(ec, "cannot load the system trust store");
  }
  if (!opts.ca_file.empty()) {
    ctx->load_verify_file(opts.ca_file, ec);
    if (ec) return error(errc::config_error, "cannot load CA file " + opts.ca_file + ": " + ec.message());
  }
  if (!opts.ca_pem.empty()) {
    ctx->add_certificate_authority(boost::asio::buffer(opts.ca_pem), ec);
    if (ec) return error(errc::config_error, "cannot load CA PEM: " + ec.message());
  }
  if (!opts.client_cert_pem.empty()) {
    ctx->use_certificate_chain(boost::asio::buffer(opts.client_cert_pem), ec);
    if (!ec) ctx->use_private_key(boost::asio::buffer(opts.client_key_pem), ssl::context::pem, ec);
    if (ec) return error(errc::config_error, "cannot load the client certificate or key");  // no key material in messages
  }
  ctx->set_verify_mode(opts.insecure_skip_verify ? ssl::verify_none : ssl::verify_peer);
  return ctx;
}

/// Builds a server context from a PEM certificate chain and private key.
inline result<std::shared_ptr<ssl::context>> make_server_tls_context(const std::string& cert_chain_pem,
                                                                     const std::string& key_pem) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  ctx->use_certificate_chain(boost::asio::buffer(cert_chain_pem), ec);
  if (ec) return error(errc::config_error, "cannot load the server certificate chain: " + ec.message());
  ctx->use_private_key(boost::asio::buffer(key_pem), ssl::context::pem, ec);
  if (ec) return error(errc::config_error, "cannot load the server private key");
  return ctx;
}

/// Sets SNI and the name the peer's certificate must match on a client connection's SSL handle.
inline result<void> prepare_client_ssl(SSL* ssl, const std::string& host, bool verify) {
  boost::system::error_code ec;
  const auto ip = boost::asio::ip::make_address(host, ec);
  if (ec) {
    // SNI carries host names only, never IP literals (RFC 6066 section 3).
    if (!SSL_set_tlsext_host_name(ssl, host.c_str())) return detail::openssl_error("cannot set SNI");
    if (verify && !SSL_set1_host(ssl, host.c_str())) return detail::openssl_error("cannot set the expected host name");
  } else if (verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (!X509_VERIFY_PARAM_set1_ip_asc(param, ip.to_string().c_str()))
      return detail::openssl_error("cannot set the expected IP address");
  }
  return {};
}

/// Explains a failed handshake: the certificate check's verdict when that is what failed.
inline error handshake_error(SSL* ssl, const boost::system::error_code& ec, const std::string& peer) {
  std::string msg = "TLS handshake with " + peer + " failed";
  const long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (v != X509_V_OK) {
    msg += ": certificate rejected (";
    msg += X509_verify_cert_error_string(v);
    msg += ")";
  } else {
    msg += ": " + ec.message();
  }
  return error(ec, std::move(msg));
}

}  // namespace intg::http
