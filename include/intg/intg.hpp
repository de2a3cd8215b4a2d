// The intg framework in one include: core, policies, registry, configuration, HTTP client,
// security, observability and the messaging concepts. Link with -lboost_json -lboost_url -lssl
// -lcrypto -pthread.
//
// Included on their own, where they are used (each adds seconds to a translation unit):
//   <intg/http/server.hpp>                   intg::http::server (Beast's HTTP server side)
//   <intg/observability/health_server.hpp>   intg::health_server: /integrations/health, /metrics, ...
//   <intg/security/audit.hpp>                intg::audit_log, the hash-chained audit log
//   <intg/providers/NAME.hpp>                one provider (spotify, ...), with its models
#pragma once

#include <intg/version.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/clock.hpp>
#include <intg/core/random.hpp>
#include <intg/observability/trace_context.hpp>
#include <intg/observability/metrics.hpp>
#include <intg/observability/call_recorder.hpp>
#include <intg/core/attempt.hpp>
#include <intg/policy/layer.hpp>
#include <intg/policy/backoff.hpp>
#include <intg/policy/retry.hpp>
#include <intg/policy/circuit_breaker.hpp>
#include <intg/policy/rate_limiter.hpp>
#include <intg/policy/timeout.hpp>
#include <intg/policy/bulkhead.hpp>
#include <intg/policy/tracing.hpp>
#include <intg/policy/fallback.hpp>
#include <intg/core/pipeline.hpp>
#include <intg/core/probe.hpp>
#include <intg/core/secret.hpp>
#include <intg/core/event.hpp>
#include <intg/core/health.hpp>
#include <intg/core/integration_config.hpp>
#include <intg/core/integration.hpp>
#include <intg/core/config.hpp>
#include <intg/core/registry.hpp>
#include <intg/observability/dashboard.hpp>
#include <intg/http/url.hpp>
#include <intg/http/message.hpp>
#include <intg/http/tls.hpp>
#include <intg/http/proxy.hpp>
#include <intg/http/client.hpp>
#include <intg/security/crypto/hash.hpp>
#include <intg/security/crypto/hmac.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/compare.hpp>
#include <intg/security/crypto/random.hpp>
#include <intg/security/crypto/aead.hpp>
#include <intg/security/crypto/kdf.hpp>
#include <intg/security/auth/base32.hpp>
#include <intg/security/auth/otp.hpp>
#include <intg/security/auth/jwk.hpp>
#include <intg/security/auth/jwt.hpp>
#include <intg/security/auth/pkce.hpp>
#include <intg/security/auth/oauth2.hpp>
#include <intg/security/auth/token_manager.hpp>
#include <intg/security/auth/token_endpoint.hpp>
#include <intg/security/auth/oidc.hpp>
#include <intg/security/auth/aws_credentials.hpp>
#include <intg/security/auth/sigv4.hpp>
#include <intg/security/secrets/env_provider.hpp>
#include <intg/security/secrets/file_provider.hpp>
#include <intg/security/secrets/encrypted_file_store.hpp>
#include <intg/security/webhook.hpp>
#include <intg/messaging/channel.hpp>
