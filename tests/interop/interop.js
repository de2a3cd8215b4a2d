// Node side of the interop test (run by run.sh):
//   node interop.js verify DIR   checks DIR/intg.json (tokens signed and data sealed by intg) with
//                                jsonwebtoken and Node's crypto, then writes DIR/node.json: tokens
//                                signed here, their public keys, and AES-GCM data sealed here.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const jwt = require('jsonwebtoken');

const dir = process.argv[3];
if (process.argv[2] !== 'verify' || !dir) {
  console.error('usage: node interop.js verify DIR');
  process.exit(2);
}
const input = JSON.parse(fs.readFileSync(path.join(dir, 'intg.json'), 'utf8'));
let failures = 0;
const fail = (what, e) => { failures++; console.error(`FAIL ${what}: ${e && e.message ? e.message : e}`); };

// 1. Tokens signed by intg verify in jsonwebtoken (EdDSA, which jsonwebtoken lacks, with crypto).
for (const t of input.tokens) {
  try {
    let claims;
    if (t.alg === 'EdDSA') {
      const [h, p, s] = t.token.split('.');
      const ok = crypto.verify(null, Buffer.from(`${h}.${p}`), t.key, Buffer.from(s, 'base64url'));
      if (!ok) throw new Error('signature does not verify');
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    } else {
      const key = t.alg.startsWith('HS') ? Buffer.from(t.key, 'hex') : t.key;
      claims = jwt.verify(t.token, key, { algorithms: [t.alg], issuer: 'intg', audience: 'node' });
    }
    if (claims.sub !== 'interop-user') throw new Error(`unexpected claims ${JSON.stringify(claims)}`);
    console.log(`ok intg -> node ${t.alg}`);
  } catch (e) { fail(`intg -> node ${t.alg}`, e); }
  // A tampered token must be refused.
  if (t.alg !== 'EdDSA') {
    try {
      const parts = t.token.split('.');
      const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
      claims.sub = 'admin';
      parts[1] = Buffer.from(JSON.stringify(claims)).toString('base64url');
      const key = t.alg.startsWith('HS') ? Buffer.from(t.key, 'hex') : t.key;
      jwt.verify(parts.join('.'), key, { algorithms: [t.alg] });
      fail(`intg -> node ${t.alg} tampered`, 'accepted');
    } catch (e) { if (e.name !== 'JsonWebTokenError') fail(`intg -> node ${t.alg} tampered`, e); }
  }
}

// 2. intg's AES-256-GCM output (nonce | ciphertext | tag) decrypts with Node's crypto.
for (const s of input.sealed) {
  try {
    const key = Buffer.from(s.key_hex, 'hex');
    const sealed = Buffer.from(s.sealed_b64, 'base64');
    const nonce = sealed.subarray(0, 12), tag = sealed.subarray(sealed.length - 16), ct = sealed.subarray(12, sealed.length - 16);
    const d = crypto.createDecipheriv('aes-256-gcm', key, nonce);
    if (s.aad) d.setAAD(Buffer.from(s.aad, 'utf8'));
    d.setAuthTag(tag);
    const plain = Buffer.concat([d.update(ct), d.final()]).toString('utf8');
    if (plain !== s.plaintext) throw new Error(`got ${JSON.stringify(plain)}`);
    console.log(`ok intg -> node AES-256-GCM (${sealed.length} bytes, aad ${JSON.stringify(s.aad)})`);
  } catch (e) { fail('intg -> node AES-256-GCM', e); }
}

// 3. Tokens signed here, and data sealed here, for intg to check.
const now = Math.floor(Date.now() / 1000);
const claims = { sub: 'node-user', iss: 'node', aud: 'intg', iat: now, exp: now + 600 };
const out = { tokens: [], sealed: [] };
const pair = (type, opts) => crypto.generateKeyPairSync(type, opts);
const pem = (k) => k.export({ type: 'spki', format: 'pem' });
const rsa = pair('rsa', { modulusLength: 2048 });
const p256 = pair('ec', { namedCurve: 'P-256' });
const p384 = pair('ec', { namedCurve: 'P-384' });
const hs = crypto.randomBytes(32);
for (const [alg, priv, pub] of [['RS256', rsa.privateKey, pem(rsa.publicKey)], ['RS512', rsa.privateKey, pem(rsa.publicKey)],
                                ['PS256', rsa.privateKey, pem(rsa.publicKey)], ['ES256', p256.privateKey, pem(p256.publicKey)],
                                ['ES384', p384.privateKey, pem(p384.publicKey)], ['HS256', hs, hs.toString('hex')]]) {
  out.tokens.push({ alg, key: pub, token: jwt.sign(claims, priv, { algorithm: alg, keyid: `node-${alg}` }) });
}
const ed = pair('ed25519');
{
  const h = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'JWT' })).toString('base64url');
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const s = crypto.sign(null, Buffer.from(`${h}.${p}`), ed.privateKey).toString('base64url');
  out.tokens.push({ alg: 'EdDSA', key: pem(ed.publicKey), token: `${h}.${p}.${s}` });
}
const key = crypto.randomBytes(32), nonce = crypto.randomBytes(12);
const c = crypto.createCipheriv('aes-256-gcm', key, nonce);
c.setAAD(Buffer.from('node-aad'));
const ct = Buffer.concat([c.update('sealed by node', 'utf8'), c.final()]);
out.sealed.push({ key_hex: key.toString('hex'), aad: 'node-aad', plaintext: 'sealed by node',
                  sealed_b64: Buffer.concat([nonce, ct, c.getAuthTag()]).toString('base64') });
fs.writeFileSync(path.join(dir, 'node.json'), JSON.stringify(out, null, 1));
process.exit(failures ? 1 : 0);
