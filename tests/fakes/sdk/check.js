// Tiny assertion helpers shared by the SDK scripts: every failure is counted and printed, and
// the process exits non-zero when any check failed (or anything threw).
'use strict';
let failures = 0;
let checks = 0;
function check(cond, what) {
  checks++;
  if (!cond) {
    failures++;
    console.error(`FAIL: ${what}`);
  }
}
function eq(actual, expected, what) {
  check(JSON.stringify(actual) === JSON.stringify(expected), `${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}
// Expects `promise` to reject; returns the error (or null after recording a failure).
async function rejects(promise, what) {
  try {
    await promise;
  } catch (e) {
    checks++;
    return e;
  }
  failures++;
  checks++;
  console.error(`FAIL: ${what}: expected an error`);
  return null;
}
function main(name, body) {
  body()
    .then(() => {
      console.log(`${name}: ${checks - failures}/${checks} checks passed`);
      process.exit(failures ? 1 : 0);
    })
    .catch((e) => {
      console.error(`${name}: FAIL: ${e && e.stack ? e.stack : e}`);
      process.exit(1);
    });
}
module.exports = { check, eq, rejects, main };
