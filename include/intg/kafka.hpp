// intg::kafka: Kafka on librdkafka (Debian's librdkafka-dev): an idempotent producer with
// awaitable delivery reports, consumer groups with manual commits after acks, both woken by
// librdkafka's queues on the Asio executor, a registry integration, and the message channel on a
// topic (intg::messaging::kafka_topic_channel). An optional part:
// <intg/intg.hpp> does not include it; link -lrdkafka (CMake: intg::kafka). See docs/kafka.md.
#pragma once

#include <intg/kafka/client.hpp>
#include <intg/kafka/consumer.hpp>
#include <intg/kafka/error.hpp>
#include <intg/kafka/message.hpp>
#include <intg/kafka/options.hpp>
#include <intg/kafka/producer.hpp>
#include <intg/messaging/kafka_topic.hpp>
