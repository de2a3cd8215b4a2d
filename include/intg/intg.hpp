// The intg framework in one include: core, policies, registry, configuration, dashboard, HTTP
// client, security and observability. Link with -lboost_json -lboost_url -lssl -lcrypto -pthread.
//
// Included on their own, where they are used (each adds seconds to a translation unit):
//   <intg/http/server.hpp>      intg::http::server (Beast's HTTP server side)
//   <intg/health_server.hpp>    intg::health_server: /integrations/health, /metrics, /status, ...
//   <intg/audit.hpp>            intg::audit_log, the hash-chained audit log
//   <intg/spotify/model.hpp>    the Spotify Web API models
//   <intg/spotify/client.hpp>   intg::spotify::client, the Spotify integration
#pragma once

#include <intg/version.hpp>
#include <intg/error.hpp>
#include <intg/result.hpp>
#include <intg/clock.hpp>
#include <intg/random.hpp>
#include <intg/observability/trace_context.hpp>
#include <intg/observability/metrics.hpp>
#include <intg/observability/call_recorder.hpp>
#include <intg/attempt.hpp>
#include <intg/policy/layer.hpp>
#include <intg/policy/backoff.hpp>
#include <intg/policy/retry.hpp>
#include <intg/policy/circuit_breaker.hpp>
#include <intg/policy/rate_limiter.hpp>
#include <intg/policy/timeout.hpp>
#include <intg/policy/bulkhead.hpp>
#include <intg/policy/tracing.hpp>
#include <intg/policy/fallback.hpp>
#include <intg/pipeline.hpp>
#include <intg/probe.hpp>
#include <intg/secret.hpp>
#include <intg/event.hpp>
#include <intg/health.hpp>
#include <intg/integration_config.hpp>
#include <intg/integration.hpp>
#include <intg/config.hpp>
#include <intg/registry.hpp>
#include <intg/dashboard.hpp>
#include <intg/http/url.hpp>
#include <intg/http/message.hpp>
#include <intg/http/tls.hpp>
#include <intg/http/proxy.hpp>
#include <intg/http/client.hpp>
#include <intg/crypto/hash.hpp>
#include <intg/crypto/hmac.hpp>
#include <intg/crypto/encoding.hpp>
#include <intg/crypto/compare.hpp>
#include <intg/crypto/random.hpp>
#include <intg/crypto/aead.hpp>
#include <intg/crypto/kdf.hpp>
#include <intg/auth/base32.hpp>
#include <intg/auth/otp.hpp>
#include <intg/auth/jwk.hpp>
#include <intg/auth/jwt.hpp>
#include <intg/auth/pkce.hpp>
#include <intg/auth/oauth2.hpp>
#include <intg/auth/token_manager.hpp>
#include <intg/auth/token_endpoint.hpp>
#include <intg/auth/oidc.hpp>
#include <intg/secrets/env_provider.hpp>
#include <intg/secrets/file_provider.hpp>
#include <intg/secrets/encrypted_file_store.hpp>
#include <intg/webhook.hpp>
