// Side-by-side comparison workload: cost of awaiting an already-resolved
// operation bare vs. through a cockatiel 3.2.1 policy stack
//   wrap(retry, circuitBreaker, timeout, bulkhead)
// Calls are awaited one at a time (like a single coroutine calling in a loop).
//
// Usage: node bench.mjs [--iterations N] [--bare-iterations N]
//                       [--stack-iterations N] [--warmup N]
// Result JSON goes to stdout; self-check and progress notes go to stderr.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  BrokenCircuitError,
  BulkheadRejectedError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  TimeoutStrategy,
  bulkhead,
  circuitBreaker,
  handleAll,
  retry,
  timeout,
  wrap,
} from 'cockatiel';

const COCKATIEL_VERSION = '3.2.1';

function parseArgs(argv) {
  const opts = { bare: 2_000_000, stack: 500_000, warmup: null };
  const intArg = (name, value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new Error(`${name} expects a positive integer, got ${JSON.stringify(value)}`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--iterations': {
        const n = intArg(flag, value());
        opts.bare = n;
        opts.stack = n;
        break;
      }
      case '--bare-iterations': opts.bare = intArg(flag, value()); break;
      case '--stack-iterations': opts.stack = intArg(flag, value()); break;
      case '--warmup': opts.warmup = intArg(flag, value()); break;
      case '-h':
      case '--help':
        process.stderr.write(
          'usage: node bench.mjs [--iterations N] [--bare-iterations N] [--stack-iterations N] [--warmup N]\n' +
            '  defaults: 2000000 bare, 500000 stack; warmup 10% of each (at least 1000)\n',
        );
        process.exit(0);
      default:
        throw new Error(`unknown argument: ${argv[i]}`);
    }
  }
  return opts;
}

// The policies, built exactly as the brief describes. Returns the parts too so
// the self-check can look at the breaker and bulkhead state.
function buildPolicy() {
  const retryPolicy = retry(handleAll, {
    maxAttempts: 3, // cockatiel counts *retries*: up to 1 + 3 calls
    backoff: new ExponentialBackoff({ initialDelay: 1 }),
  });
  const breakerPolicy = circuitBreaker(handleAll, {
    halfOpenAfter: 60_000,
    breaker: new ConsecutiveBreaker(5),
  });
  const timeoutPolicy = timeout(30_000, TimeoutStrategy.Cooperative);
  const bulkheadPolicy = bulkhead(64, 0);
  const policy = wrap(retryPolicy, breakerPolicy, timeoutPolicy, bulkheadPolicy);
  return { policy, retryPolicy, breakerPolicy, timeoutPolicy, bulkheadPolicy };
}

const operation = () => Promise.resolve(42);

async function selfCheck() {
  // 1. The stack passes the value through.
  {
    const { policy, breakerPolicy, bulkheadPolicy } = buildPolicy();
    assert.equal(await policy.execute(operation), 42);
    assert.equal(breakerPolicy.state, CircuitState.Closed);
    assert.equal(bulkheadPolicy.executionSlots, 64);
  }

  // 2. The breaker opens after 5 consecutive failures: drive an always-failing
  //    operation through the whole stack until BrokenCircuitError surfaces.
  {
    const { policy, breakerPolicy } = buildPolicy();
    let calls = 0;
    let breaks = 0;
    breakerPolicy.onBreak(() => breaks++);
    const failing = async () => {
      calls++;
      throw new Error(`boom ${calls}`);
    };
    let executes = 0;
    let caught;
    while (!caught && executes < 10) {
      executes++;
      try {
        await policy.execute(failing);
        assert.fail('failing operation succeeded');
      } catch (err) {
        if (err instanceof BrokenCircuitError) caught = err;
      }
    }
    assert.ok(caught, 'never saw BrokenCircuitError');
    assert.equal(calls, 5, 'operation should have run exactly 5 times before the breaker opened');
    assert.equal(breaks, 1);
    assert.equal(breakerPolicy.state, CircuitState.Open);
    // While open, even a healthy operation is refused without being run.
    let ran = false;
    await assert.rejects(
      policy.execute(() => {
        ran = true;
        return 42;
      }),
      BrokenCircuitError,
    );
    assert.equal(ran, false);
    process.stderr.write(
      `self-check: breaker opened after ${calls} consecutive failures ` +
        `(${executes} execute() calls, retry maxAttempts=3); BrokenCircuitError caught\n`,
    );
  }

  // 3. The bulkhead really is limit 64 / queue 0: the 65th concurrent call is rejected.
  {
    const { policy } = buildPolicy();
    let release;
    const gate = new Promise((r) => (release = r));
    // A fresh AbortSignal per call: without one, every in-flight call hangs an
    // abort listener on cockatiel's shared default signal and Node warns at 11.
    const inflight = Array.from({ length: 64 }, () =>
      policy.execute(() => gate.then(() => 42), new AbortController().signal),
    );
    await assert.rejects(policy.execute(operation), BulkheadRejectedError);
    release();
    for (const v of await Promise.all(inflight)) assert.equal(v, 42);
    process.stderr.write('self-check: bulkhead admitted 64 concurrent calls and rejected the 65th\n');
  }
}

async function timeBare(iterations) {
  let sum = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    sum += await operation();
  }
  const t1 = process.hrtime.bigint();
  assert.equal(sum, 42 * iterations);
  return Number(t1 - t0);
}

async function timeStack(policy, iterations) {
  let sum = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const v = await policy.execute(operation);
    sum += v;
  }
  const t1 = process.hrtime.bigint();
  assert.equal(sum, 42 * iterations);
  return Number(t1 - t0);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));

  // Guard against a silently different cockatiel being resolved.
  const require = createRequire(import.meta.url);
  const installed = require('cockatiel/package.json').version;
  assert.equal(installed, COCKATIEL_VERSION, `expected cockatiel ${COCKATIEL_VERSION}, found ${installed}`);

  await selfCheck();

  // Fresh policy for the timed run (the self-check left its breakers open).
  const { policy, breakerPolicy, bulkheadPolicy } = buildPolicy();
  assert.equal(await policy.execute(operation), 42);

  const warm = (n) => opts.warmup ?? Math.max(1000, Math.floor(n / 10));
  await timeBare(warm(opts.bare));
  await timeStack(policy, warm(opts.stack));

  const bareNs = (await timeBare(opts.bare)) / opts.bare;
  const stackNs = (await timeStack(policy, opts.stack)) / opts.stack;

  // The stack stayed healthy throughout: closed breaker, no leaked bulkhead slots.
  assert.equal(breakerPolicy.state, CircuitState.Closed);
  assert.equal(bulkheadPolicy.executionSlots, 64);

  process.stderr.write(`iterations: bare ${opts.bare}, stack ${opts.stack}\n`);
  const round = (x, d) => Number(x.toFixed(d));
  const result = {
    runtime: `node ${process.versions.node}`,
    cockatiel: installed,
    bare_await_ns: round(bareNs, 1),
    stack_ns: round(stackNs, 1),
    ratio: round(stackNs / bareNs, 2),
  };
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err) => {
  process.stderr.write(`bench.mjs: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
