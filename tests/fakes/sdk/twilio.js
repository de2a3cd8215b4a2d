// The official Twilio SDK (twilio) against intg's Twilio fake: every Messages operation the fake
// supports, list paging through next_page_uri, Twilio's error object as the SDK's RestException,
// and the fake's status callbacks (signed with intg::webhook::sign_twilio) verified by the SDK's
// own twilio.validateRequest.
// Usage: node twilio.js PORT ACCOUNT_SID AUTH_TOKEN  (test_providers seeds three messages and
// scripts the first GET of the list as a 429).
'use strict';
const http = require('http');
const querystring = require('querystring');
const twilio = require('twilio');
const { check, eq, rejects, main } = require('./check');

const [port, accountSid, authToken] = process.argv.slice(2);
const client = twilio(accountSid, authToken);
client.api.baseUrl = `http://127.0.0.1:${port}`;  // the fake instead of https://api.twilio.com

// Status callbacks: each verified with the SDK's validateRequest, as a Twilio user's app would.
function callbackServer() {
  const received = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const params = querystring.parse(body);
      const url = `http://127.0.0.1:${server.address().port}${req.url}`;
      const valid = twilio.validateRequest(authToken, req.headers['x-twilio-signature'] || '', url, params);
      received.push({ status: params.MessageStatus, valid, sid: params.MessageSid });
      res.writeHead(valid ? 204 : 403);
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, received })));
}

async function waitFor(cond, ms = 3000) {
  const until = Date.now() + ms;
  while (!cond() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

main('twilio', async () => {
  const { server, received } = await callbackServer();
  const statusCallback = `http://127.0.0.1:${server.address().port}/twilio/status?tenant=acme`;

  const msg = await client.messages.create({ to: '+15558675310', from: '+15005550006', body: 'hello from the SDK', statusCallback });
  check(/^SM[0-9a-f]{32}$/.test(msg.sid), `message sid ${msg.sid}`);
  eq([msg.status, msg.to, msg.from, msg.body, msg.accountSid], ['queued', '+15558675310', '+15005550006', 'hello from the SDK', accountSid], 'messages.create');
  check(msg.dateCreated instanceof Date && !isNaN(msg.dateCreated), 'date_created parses as a date');

  await waitFor(() => received.length >= 2);
  eq(received.map((r) => r.status), ['sent', 'delivered'], 'status callbacks in order');
  eq(received.map((r) => r.valid), [true, true], 'the SDK validates the signatures intg computed');
  eq(received.map((r) => r.sid), [msg.sid, msg.sid], 'callbacks name the message');

  const fetched = await client.messages(msg.sid).fetch();
  eq([fetched.sid, fetched.status, fetched.price], [msg.sid, 'delivered', '-0.00790'], 'messages(sid).fetch');

  // The first GET of the list is rate-limited: a RestException with Twilio's code.
  const limited = await rejects(client.messages.list({ pageSize: 2 }), 'list while rate-limited');
  eq([limited && limited.status, limited && limited.code], [429, 20429], 'a 429 is a RestException 20429');
  const all = await client.messages.list({ pageSize: 2 });
  eq(all.length, 4, 'messages.list follows next_page_uri over two pages');
  eq(all[0].sid, msg.sid, 'newest first');
  const mine = await client.messages.list({ to: '+15558675310', limit: 10 });
  check(mine.every((m) => m.to === '+15558675310'), 'the To filter');
  let seen = 0;
  await client.messages.each({ pageSize: 1, limit: 3 }, () => seen++);
  eq(seen, 3, 'messages.each with a limit');

  const redacted = await client.messages(msg.sid).update({ body: '' });
  eq(redacted.body, '', 'update: body redacted');
  const cancel = await rejects(client.messages(msg.sid).update({ status: 'canceled' }), 'cancel a sent message');
  eq([cancel && cancel.status, cancel && cancel.code], [400, 30409], 'only a scheduled message can be canceled');
  eq(await client.messages(msg.sid).remove(), true, 'messages(sid).remove');

  const gone = await rejects(client.messages(msg.sid).fetch(), 'fetch a deleted message');
  eq([gone && gone.status, gone && gone.code], [404, 20404], 'not found');
  check(gone && gone.moreInfo === 'https://www.twilio.com/docs/errors/20404', 'more_info');
  const invalid = await rejects(client.messages.create({ to: '+15005550001', from: '+15005550006', body: 'x' }), 'invalid To');
  eq([invalid && invalid.status, invalid && invalid.code], [400, 21211], 'invalid To number');
  const wrong = twilio(accountSid, '0000000000000000deadbeefdeadbeef');
  wrong.api.baseUrl = `http://127.0.0.1:${port}`;
  const refused = await rejects(wrong.messages.list({ limit: 1 }), 'a wrong auth token');
  eq([refused && refused.status, refused && refused.code], [401, 20003], 'authenticate');
  server.close();
});
