// intg::redis: a RESP3 Redis client on Asio (pipelining, pub/sub, scripts, streams with consumer
// groups, TLS), and the message channel on Redis Streams (intg::messaging::redis_stream_channel).
// An optional part: <intg/intg.hpp> does not include it. See docs/redis.md and docs/messaging.md.
#pragma once

#include <intg/redis/connection.hpp>
#include <intg/redis/error.hpp>
#include <intg/redis/options.hpp>
#include <intg/redis/request.hpp>
#include <intg/redis/resp3.hpp>
#include <intg/redis/script.hpp>
#include <intg/redis/streams.hpp>
#include <intg/messaging/redis_stream.hpp>
