// The official Stripe SDK against intg's Stripe fake: every operation the fake supports, its
// auto-pagination, idempotent replays, Stripe-Account, errors, a 429 and a retried 500.
// Usage: node stripe.js PORT SECRET_KEY  (test_providers scripts: the first GET /v1/balance is a
// 429 with Retry-After; the first POST /v1/refunds is a 500 the SDK retries with the same key).
'use strict';
const StripeModule = require('stripe');
const Stripe = StripeModule.Stripe || StripeModule.default || StripeModule;
const { check, eq, rejects, main } = require('./check');

const [port, key] = process.argv.slice(2);
const stripe = new Stripe(key, { host: '127.0.0.1', port: Number(port), protocol: 'http', maxNetworkRetries: 2 });

main('stripe', async () => {
  // The health call, rate-limited once: stripe-node does not retry a 429 (no Stripe-Should-Retry).
  const limited = await rejects(stripe.balance.retrieve(), 'first balance call is rate-limited');
  if (limited) {
    eq(limited.type, 'StripeRateLimitError', '429 error class');
    eq(limited.statusCode, 429, '429 status');
    eq(limited.code, 'rate_limit', '429 code');
    eq(limited.headers && limited.headers['retry-after'], '1', 'Retry-After header reaches the SDK');
  }
  const balance = await stripe.balance.retrieve();
  eq(balance.object, 'balance', 'balance object');

  // Customers: create (nested metadata), idempotent replay, key reuse, retrieve, update, list.
  const created = await stripe.customers.create({ email: 'ada@example.com', name: 'Ada', metadata: { order_id: '42' } }, { idempotencyKey: 'sdk-cus-1' });
  eq(created.object, 'customer', 'customer object');
  eq(created.metadata, { order_id: '42' }, 'metadata round trip');
  const replayed = await stripe.customers.create({ email: 'ada@example.com', name: 'Ada', metadata: { order_id: '42' } }, { idempotencyKey: 'sdk-cus-1' });
  eq(replayed.id, created.id, 'replay returns the same customer');
  eq(replayed.lastResponse.headers['idempotent-replayed'], 'true', 'Idempotent-Replayed header');
  const reuse = await rejects(stripe.customers.create({ email: 'eve@example.com' }, { idempotencyKey: 'sdk-cus-1' }), 'key reuse with other params');
  if (reuse) eq(reuse.type, 'StripeIdempotencyError', 'idempotency error class');
  const fetched = await stripe.customers.retrieve(created.id);
  eq(fetched.email, 'ada@example.com', 'retrieve');
  const updated = await stripe.customers.update(created.id, { name: 'Ada L.', metadata: { order_id: '', tier: 'gold' } });
  eq(updated.name, 'Ada L.', 'update name');
  eq(updated.metadata, { tier: 'gold' }, 'update unsets and sets metadata');
  const missing = await rejects(stripe.customers.retrieve('cus_missing'), 'unknown customer');
  if (missing) {
    eq(missing.type, 'StripeInvalidRequestError', '404 error class');
    eq(missing.statusCode, 404, '404 status');
    eq(missing.code, 'resource_missing', '404 code');
    eq(missing.param, 'id', '404 param');
  }
  const typo = await rejects(stripe.customers.create({ emial: 'x' }), 'unknown parameter');
  if (typo) eq(typo.code, 'parameter_unknown', 'unknown parameter code');
  for (let i = 0; i < 6; i++) await stripe.customers.create({ email: `u${i}@example.com` });
  const all = await stripe.customers.list({ limit: 2 }).autoPagingToArray({ limit: 100 });
  eq(all.length, 7, 'auto-pagination over 4 pages of customers');
  eq(all[0].email, 'u5@example.com', 'newest first');
  eq(new Set(all.map((c) => c.id)).size, 7, 'no customer twice');
  const page = await stripe.customers.list({ limit: 3 });
  eq([page.object, page.has_more, page.url, page.data.length], ['list', true, '/v1/customers', 3], 'list object');
  const back = await stripe.customers.list({ limit: 2, ending_before: all[3].id });
  eq(back.data.map((c) => c.id), [all[1].id, all[2].id], 'ending_before');
  const byEmail = await stripe.customers.list({ email: 'u3@example.com' });
  eq(byEmail.data.length, 1, 'list filtered by email');

  // Stripe-Account.
  const connected = await stripe.customers.create({ email: 'c@example.com' }, { stripeAccount: 'acct_1CONNECTED' });
  const hidden = await rejects(stripe.customers.retrieve(connected.id), 'connected customer invisible to the platform');
  if (hidden) eq(hidden.statusCode, 404, 'Stripe-Account scoping');
  eq((await stripe.customers.retrieve(connected.id, {}, { stripeAccount: 'acct_1CONNECTED' })).id, connected.id, 'retrieve on the account');

  // Payment intents: manual capture, automatic, cancel, decline, list.
  let pi = await stripe.paymentIntents.create({ amount: 5000, currency: 'usd', customer: created.id, payment_method: 'pm_card_visa', capture_method: 'manual' });
  eq([pi.object, pi.status], ['payment_intent', 'requires_confirmation'], 'created intent');
  pi = await stripe.paymentIntents.confirm(pi.id);
  eq([pi.status, pi.amount_capturable], ['requires_capture', 5000], 'confirmed intent');
  pi = await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 4000 });
  eq([pi.status, pi.amount_received], ['succeeded', 4000], 'captured intent');
  eq((await stripe.paymentIntents.retrieve(pi.id)).status, 'succeeded', 'retrieve intent');
  const late = await rejects(stripe.paymentIntents.cancel(pi.id), 'cancel a succeeded intent');
  if (late) eq(late.code, 'payment_intent_unexpected_state', 'unexpected state code');
  const auto = await stripe.paymentIntents.create({ amount: 1200, currency: 'usd', payment_method: 'pm_card_visa', confirm: true });
  eq(auto.status, 'succeeded', 'confirm=true succeeds at once');
  const open = await stripe.paymentIntents.create({ amount: 900, currency: 'usd' });
  eq(open.status, 'requires_payment_method', 'intent without a payment method');
  const canceled = await stripe.paymentIntents.cancel(open.id, { cancellation_reason: 'abandoned' });
  eq([canceled.status, canceled.cancellation_reason], ['canceled', 'abandoned'], 'canceled intent');
  const declined = await rejects(stripe.paymentIntents.create({ amount: 700, currency: 'usd', payment_method: 'pm_card_chargeDeclined', confirm: true }), 'declined card');
  if (declined) {
    eq(declined.type, 'StripeCardError', 'card error class');
    eq([declined.statusCode, declined.code, declined.decline_code], [402, 'card_declined', 'generic_decline'], 'decline fields');
    eq(declined.payment_intent && declined.payment_intent.status, 'requires_payment_method', 'declined intent attached');
  }
  const small = await rejects(stripe.paymentIntents.create({ amount: 10, currency: 'usd' }), 'amount too small');
  if (small) eq([small.code, small.param], ['amount_too_small', 'amount'], 'amount_too_small');
  let intents = 0;
  for await (const x of stripe.paymentIntents.list({ limit: 1 })) intents += x.object === 'payment_intent' ? 1 : 0;
  eq(intents, 4, 'for-await auto-pagination over payment intents');
  eq((await stripe.paymentIntents.list({ customer: created.id })).data.length, 1, 'intents filtered by customer');

  // Refunds: the first creation meets a scripted 500; the SDK retries it with the same key.
  const refund = await stripe.refunds.create({ payment_intent: pi.id, amount: 1500 });
  eq([refund.object, refund.amount, refund.status, refund.payment_intent], ['refund', 1500, 'succeeded', pi.id], 'refund after a retried 500');
  await stripe.refunds.create({ payment_intent: auto.id });
  const over = await rejects(stripe.refunds.create({ payment_intent: pi.id, amount: 3000 }), 'refund beyond the captured amount');
  if (over) eq(over.code, 'amount_too_large', 'amount_too_large');
  eq((await stripe.refunds.list({ limit: 1 }).autoPagingToArray({ limit: 10 })).length, 2, 'refunds auto-pagination');
  eq((await stripe.refunds.list({ payment_intent: pi.id })).data.length, 1, 'refunds filtered by intent');

  // Events, newest first, across pages.
  const events = await stripe.events.list({ limit: 5 }).autoPagingToArray({ limit: 200 });
  check(events.length >= 15, `events recorded (${events.length})`);
  check(events.every((e) => e.object === 'event' && e.data && e.data.object), 'event shape');
  const piEvents = await stripe.events.list({ type: 'payment_intent.*' }).autoPagingToArray({ limit: 100 });
  check(piEvents.length > 0 && piEvents.every((e) => e.type.startsWith('payment_intent.')), 'events filtered by type prefix');

  const finalBalance = await stripe.balance.retrieve();
  eq(finalBalance.available[0].amount, 4000 + 1200 - 1500 - 1200, 'balance after captures and refunds');
});
