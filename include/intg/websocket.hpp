// intg::websocket: a WebSocket client and server on Beast (ws:// and wss://, bounded queues,
// message size limits, heartbeats, reconnection with resubscription, an Origin check, RFC 6455
// close codes), and the message channel on WebSocket (intg::messaging::websocket_channel, at most
// once). An optional part: <intg/intg.hpp> does not include it. See docs/websocket.md.
#pragma once

#include <intg/websocket/options.hpp>
#include <intg/websocket/connection.hpp>
#include <intg/websocket/client.hpp>
#include <intg/websocket/server.hpp>
#include <intg/messaging/websocket.hpp>
