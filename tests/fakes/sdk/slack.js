// The official Slack SDK (@slack/web-api) against intg's Slack fake: every method the fake
// supports, cursor pagination through WebClient.paginate, ok:false errors, and a 429 with
// Retry-After that the SDK must wait out and retry on its own.
// Usage: node slack.js PORT BOT_TOKEN  (test_providers scripts the first auth.test as a 429 and
// seeds #random, C0RANDOM001, with 23 messages).
'use strict';
const { WebClient, WebClientEvent, ErrorCode, LogLevel } = require('@slack/web-api');
const { check, eq, rejects, main } = require('./check');

const [port, token] = process.argv.slice(2);
const slackApiUrl = `http://127.0.0.1:${port}/api/`;
const retryConfig = { retries: 3, factor: 1, minTimeout: 10, maxTimeout: 50 };
const web = new WebClient(token, { slackApiUrl, retryConfig, logLevel: LogLevel.ERROR });

main('slack', async () => {
  let rateLimited = [];
  web.on(WebClientEvent.RATE_LIMITED, (seconds) => rateLimited.push(seconds));
  const started = Date.now();
  const auth = await web.auth.test();
  eq(rateLimited, [1], 'the SDK saw one 429 with Retry-After: 1');
  check(Date.now() - started >= 900, 'and waited it out before retrying');
  eq([auth.ok, auth.team_id, auth.user_id, auth.bot_id], [true, 'T0INTGFAKE', 'U0INTGBOT1', 'B0INTGBOT1'], 'auth.test');

  const posted = await web.chat.postMessage({ channel: 'C0GENERAL01', text: 'hello from the SDK' });
  eq([posted.ok, posted.channel, posted.message.text], [true, 'C0GENERAL01', 'hello from the SDK'], 'chat.postMessage');
  check(/^\d{10}\.\d{6}$/.test(posted.ts), 'message ts format');
  const withBlocks = await web.chat.postMessage({
    channel: 'C0GENERAL01',
    text: 'fallback',
    blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*bold*' } }],
  });
  eq(withBlocks.message.blocks[0].type, 'section', 'blocks round trip');
  const reply = await web.chat.postMessage({ channel: 'C0GENERAL01', text: 'in thread', thread_ts: posted.ts });
  eq(reply.message.thread_ts, posted.ts, 'thread reply');
  const updated = await web.chat.update({ channel: 'C0GENERAL01', ts: posted.ts, text: 'edited' });
  eq([updated.ok, updated.ts, updated.text], [true, posted.ts, 'edited'], 'chat.update');

  const channels = [];
  let listPages = 0;
  for await (const page of web.paginate('conversations.list', { types: 'public_channel,private_channel', limit: 2 })) {
    listPages++;
    channels.push(...page.channels.map((c) => c.name));
  }
  eq(channels, ['general', 'random', 'old-project'], 'conversations.list through paginate');
  eq(listPages, 2, 'conversations.list pages');
  const active = await web.conversations.list({ exclude_archived: true });
  eq(active.channels.map((c) => c.name), ['general', 'random'], 'exclude_archived');

  const texts = [];
  let historyPages = 0;
  for await (const page of web.paginate('conversations.history', { channel: 'C0RANDOM001', limit: 5 })) {
    historyPages++;
    texts.push(...page.messages.map((m) => m.text));
  }
  eq(texts.length, 23, 'conversations.history through paginate');
  eq(historyPages, 5, 'history pages');
  eq([texts[0], texts[22]], ['message 23', 'message 1'], 'newest first');
  const general = await web.conversations.history({ channel: 'C0GENERAL01', limit: 10 });
  eq(general.messages.map((m) => m.text), ['in thread', 'fallback', 'edited'], 'history after post and update');

  const notFound = await rejects(web.chat.postMessage({ channel: 'C0NOWHERE01', text: 'x' }), 'unknown channel');
  if (notFound) eq([notFound.code, notFound.data.error], [ErrorCode.PlatformError, 'channel_not_found'], 'channel_not_found');
  const archived = await rejects(web.chat.postMessage({ channel: 'C0ARCHIVE01', text: 'x' }), 'archived channel');
  if (archived) eq(archived.data.error, 'is_archived', 'is_archived');
  const noText = await rejects(web.chat.update({ channel: 'C0GENERAL01', ts: '1700000000.000001', text: 'x' }), 'unknown message');
  if (noText) eq(noText.data.error, 'message_not_found', 'message_not_found');
  const stranger = new WebClient('xoxb-not-a-real-token', { slackApiUrl, retryConfig, logLevel: LogLevel.ERROR });
  const invalid = await rejects(stranger.auth.test(), 'wrong token');
  if (invalid) eq(invalid.data.error, 'invalid_auth', 'invalid_auth');
});
