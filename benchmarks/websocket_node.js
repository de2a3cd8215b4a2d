// WebSocket echo, the ws package's side (scripts/bench-websocket), the same work as
// benchmarks/websocket_echo.cpp:
//   node websocket_node.js server                          port and process id on stdout, until SIGTERM
//   node websocket_node.js client URL SIZE SECONDS DEPTH   prints messages per second, round-trip percentiles,
//                                                          CPU time per message and the echoes received
// permessage-deflate off; bufferutil is used by ws when it is installed.
'use strict';
const { WebSocket, WebSocketServer } = require('ws');

const [mode, url, size, seconds, depth] = process.argv.slice(2);
if (mode === 'server') {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: 1024 * 1024 });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  wss.on('listening', () => console.log(`${wss.address().port}\n${process.pid}`));
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'client') {
  const n = Number(size), d = Number(depth);
  const payload = Buffer.alloc(n, 'x');
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const sent = [];
  const rtt = [];
  let counted = 0, total = 0, measureFrom = 0, end = 0, done = false, cpuFrom = null;
  const cpuUs = (u) => u.user + u.system;  // process.cpuUsage(): microseconds, the whole process
  ws.on('open', () => {
    const start = process.hrtime.bigint();
    measureFrom = start + 1000000000n;
    end = measureFrom + BigInt(Math.round(Number(seconds) * 1e9));
    for (let i = 0; i < d; i++) { sent.push(process.hrtime.bigint()); ws.send(payload); }
  });
  ws.on('message', (data) => {
    if (done) return;  // echoes still in flight after the measurement
    const now = process.hrtime.bigint();
    if (data.length !== n) { console.error('echo failed'); process.exit(1); }
    const t = sent.shift();
    total++;
    if (now >= measureFrom) {
      if (cpuFrom === null) cpuFrom = process.cpuUsage();
      counted++;
      rtt.push(Number(now - t) / 1000);
    }
    if (now >= end) {
      done = true;
      const elapsed = Number(process.hrtime.bigint() - measureFrom) / 1e9;
      const cpuPerMessage = counted ? cpuUs(process.cpuUsage(cpuFrom)) / counted : 0;
      rtt.sort((a, b) => a - b);
      const pct = (p) => (rtt.length ? rtt[Math.floor(p * (rtt.length - 1))] : 0);
      console.log(JSON.stringify({ messages_per_s: Math.round(counted / elapsed), p50_us: +pct(0.5).toFixed(1), p99_us: +pct(0.99).toFixed(1),
        cpu_us_per_message: +cpuPerMessage.toFixed(2), echoes: total }));
      ws.close(1000);
      return;
    }
    sent.push(now);
    ws.send(payload);
  });
  ws.on('close', () => process.exit(0));
  ws.on('error', (e) => { console.error(e.message); process.exit(1); });
} else {
  console.error('usage: node websocket_node.js server | client URL SIZE SECONDS DEPTH');
  process.exit(2);
}
