// Node side of the WebSocket interop test (run by websocket.sh), with the ws package:
//   node websocket.js client URL       checks intg's echo server: text, binary, a message sent in
//                                      fragments with a ping between them, permessage-deflate,
//                                      invalid UTF-8 (1007), an oversized message (1009), a refused
//                                      Origin (403), a clean close (1000);
//   node websocket.js serve PORTFILE   an echo server (permessage-deflate on) for intg's client.
'use strict';
const fs = require('fs');
const { WebSocket, WebSocketServer } = require('ws');

const [mode, arg] = process.argv.slice(2);
let failures = 0;
const check = (ok, what) => { if (!ok) { failures++; console.error(`FAIL ${what}`); } else console.log(`ok   ${what}`); };

// Opens a connection; resolves with it, or with the HTTP status of a refused upgrade.
function open(url, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (req, res) => { resolve({ refused: res.statusCode }); req.destroy(); });
    ws.once('error', reject);
  });
}
const next = (ws) => new Promise((resolve) => ws.once('message', (data, isBinary) => resolve({ data, isBinary })));
const closed = (ws) => new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));

async function client(url) {
  const ws = await open(url);
  check(ws.extensions.includes('permessage-deflate'), 'permessage-deflate negotiated');
  ws.send('h\u00e9llo \u2713');
  let m = await next(ws);
  check(!m.isBinary && m.data.toString() === 'h\u00e9llo \u2713', 'text echo');
  const binary = Buffer.alloc(70000);
  for (let i = 0; i < binary.length; i++) binary[i] = i % 251;
  ws.send(binary);
  m = await next(ws);
  check(m.isBinary && Buffer.compare(m.data, binary) === 0, 'binary echo (70000 bytes)');
  ws.send('Hel', { fin: false, compress: false });
  ws.ping('between');
  ws.send('lo, world', { fin: true, compress: false });
  m = await next(ws);
  check(m.data.toString() === 'Hello, world', 'fragments with a ping between them');
  const done = closed(ws);
  ws.close(1000, 'bye');
  check((await done).code === 1000, 'clean close (1000)');

  const bad = await open(url, { perMessageDeflate: false });
  const badDone = closed(bad);
  bad.send(Buffer.from([0x6f, 0x6b, 0xff, 0xfe]), { binary: false });
  check((await badDone).code === 1007, 'invalid UTF-8 closed with 1007');

  const big = await open(url, { perMessageDeflate: false });
  const bigDone = closed(big);
  big.send('x'.repeat(2 * 1024 * 1024));
  // The server sends 1009 at once and reads what this client still sends until it closes, so no
  // reset destroys the close frame (docs/websocket.md, "Closing").
  const bigCode = (await bigDone).code;
  check(bigCode === 1009, `oversized message closed with 1009 (got ${bigCode})`);

  const evil = await open(url, { origin: 'https://evil.example' });
  check(evil.refused === 403, 'foreign Origin refused with 403');
  const app = await open(url, { origin: 'https://app.example' });
  check(app.readyState === WebSocket.OPEN, 'allowed Origin accepted');
  app.close(1000);
}

function serve(portFile) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
  wss.on('connection', (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })));
  wss.on('listening', () => {
    fs.writeFileSync(portFile + '.tmp', String(wss.address().port));
    fs.renameSync(portFile + '.tmp', portFile);
  });
}

if (mode === 'client' && arg) {
  client(arg).then(() => process.exit(failures ? 1 : 0), (e) => { console.error(`FAIL ${e.message}`); process.exit(1); });
} else if (mode === 'serve' && arg) {
  serve(arg);
} else {
  console.error('usage: node websocket.js client URL | serve PORTFILE');
  process.exit(2);
}
