// Client CPU per call with the official Node SDKs (stripe 23.1.0, @slack/web-api 8.2.0, twilio 6.3.1, pinned in
// tests/fakes/sdk/package.json), the counterpart of benchmarks/provider_cpu.cpp: one call at a
// time against the fakes of benchmarks/provider_fake_server (another process), keep-alive
// (an http.Agent with keepAlive passed to each SDK), no TLS, no retries. WARMUP calls first (JIT,
// connection), then CALLS calls timed by process.cpuUsage() deltas: this process's CPU time
// (all its threads), start-up and warm-up excluded. Run from a directory where the SDKs are
// installed (scripts/bench-providers: npm ci into build/bench/providers_sdk).
//
//   node providers_node.js stripe|slack|twilio PORT CALLS WARMUP
'use strict';
const http = require('http');

const [which, port, callsArg, warmupArg] = process.argv.slice(2);
const calls = Number(callsArg);
const warmup = Number(warmupArg);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

async function main() {
  let one;
  let what;
  if (which === 'stripe') {
    const Stripe = require('stripe');
    const stripe = new Stripe('sk_test_intg_fake_4eC39HqLyjWDarjtT1zdp7dc', {
      host: '127.0.0.1', port: Number(port), protocol: 'http', httpAgent: agent, maxNetworkRetries: 0, telemetry: false,
    });
    what = 'stripe customers.list (limit 10)';
    one = async () => {
      const page = await stripe.customers.list({ limit: 10 });
      if (page.data.length !== 10) throw new Error(`expected 10 customers, got ${page.data.length}`);
    };
  } else if (which === 'slack') {
    const { WebClient, LogLevel } = require('@slack/web-api');
    const web = new WebClient('xoxb-1111-2222-intgfakebottoken', {
      slackApiUrl: `http://127.0.0.1:${port}/api/`, agent, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR,
    });
    what = 'slack chat.postMessage';
    one = async () => {
      const r = await web.chat.postMessage({ channel: 'C0GENERAL01', text: 'Deploy finished' });
      if (!r.ok) throw new Error(r.error);
    };
  } else if (which === 'twilio') {
    const twilio = require('twilio');
    // The SDK's own request client, keep-alive, one socket, no automatic retries (its default).
    const httpClient = new twilio.RequestClient({ keepAlive: true, maxSockets: 1 });
    const client = twilio('AC0123456789abcdef0123456789abcdef', 'f1e2d3c4b5a6978877665544332211aa', { httpClient });
    client.api.baseUrl = `http://127.0.0.1:${port}`;
    what = 'twilio messages.create';
    one = async () => {
      const m = await client.messages.create({ to: '+15558675310', from: '+15005550006', body: 'Your code is 123456' });
      if (!m.sid) throw new Error('no sid');
    };
  } else {
    throw new Error(`stripe, slack or twilio, not ${which}`);
  }
  for (let i = 0; i < warmup; ++i) await one();
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (let i = 0; i < calls; ++i) await one();
  const c = process.cpuUsage(c0);
  const wall = Number(process.hrtime.bigint() - t0) / 1e3;
  const cpu = c.user + c.system;
  console.log(`node ${what}: ${calls} calls after ${warmup} warm-up: ${(cpu / calls).toFixed(2)} us CPU/call ` +
              `(user ${(c.user / calls).toFixed(2)}, sys ${(c.system / calls).toFixed(2)}), ${(wall / calls).toFixed(1)} us wall/call`);
  agent.destroy();
}

main().catch((e) => {
  console.error(`providers_node ${which}: failed: ${e.message}`);
  process.exit(1);
});
