// Signatures per second of @smithy/signature-v4 (the AWS SDK for JavaScript v3's signer, as
// @aws-sdk/client-s3 configures it for S3: no path normalisation, no double encoding, the payload
// hash in X-Amz-Content-SHA256) on the request set of sigv4_requests.py, at its fixed time. Prints
// the same JSON line as sigv4_sign.cpp. Usage: node sign.js REQUESTS.json [seconds]
"use strict";
const fs = require("fs");
const crypto = require("crypto");
const { SignatureV4 } = require("@smithy/signature-v4");

// The SDK for Node hashes with Node's crypto (@smithy/hash-node); the same here.
class Sha256 {
  constructor(secret) { this.h = secret ? crypto.createHmac("sha256", secret) : crypto.createHash("sha256"); }
  update(data) { this.h.update(data); }
  async digest() { return new Uint8Array(this.h.digest()); }
}

async function main() {
  const doc = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  const seconds = Number(process.argv[3] || 2);
  const signer = new SignatureV4({
    credentials: { accessKeyId: doc.access_key_id, secretAccessKey: doc.secret_access_key },
    region: doc.region, service: doc.service, sha256: Sha256, uriEscapePath: false, applyChecksum: true,
  });
  const when = new Date(doc.time * 1000);
  const requests = doc.requests.map((r) => {
    const headers = {};
    for (const [k, v] of r.headers) headers[k === "Host" ? "host" : k] = v;
    const query = {};
    if (r.query) for (const part of r.query.split("&")) { const [k, v] = part.split("="); query[k] = v; }
    const body = Buffer.from(r.body);
    headers["x-amz-content-sha256"] = crypto.createHash("sha256").update(body).digest("hex");
    return { method: r.method, protocol: "https:", hostname: headers.host, path: r.path, query, headers, body };
  });
  let n = 0, first = null;
  const t0 = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e9;
  do {
    for (const r of requests) {
      // The payload hash is computed per signature, as the SDK's middleware does for each request.
      const req = { ...r, headers: { ...r.headers, "x-amz-content-sha256": crypto.createHash("sha256").update(r.body).digest("hex") } };
      const signed = await signer.sign(req, { signingDate: when });
      if (first === null) first = signed.headers.authorization;
      n++;
    }
  } while (elapsed() < seconds);
  const took = elapsed();
  console.log(JSON.stringify({ impl: "@smithy/signature-v4 " + require("@smithy/signature-v4/package.json").version, requests: requests.length,
                               signatures: n, seconds: took, per_second: n / took, first_authorization: first }));
}
main().catch((e) => { console.error(e); process.exit(1); });
