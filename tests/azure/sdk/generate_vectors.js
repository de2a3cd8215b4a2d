// Signs random requests with @azure/storage-blob's Shared Key policy and random SAS inputs with
// generateBlobSASQueryParameters / generateAccountSASQueryParameters, and writes them as JSON
// vectors for tests/test_auth.cpp (suite azure_sharedkey).
// Usage: node generate_vectors.js OUTPUT [SEED]
"use strict";
const fs = require("fs");
const blob = require("@azure/storage-blob");
const { createPipelineRequest, createHttpHeaders } = require("@azure/core-rest-pipeline");

const out = process.argv[2];
let seed = Number(process.argv[3] || 20261130) >>> 0;
const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
const pick = (a) => a[Math.floor(rand() * a.length)];
const word = (alphabet, min, max) => {
  let s = "";
  for (let n = min + Math.floor(rand() * (max - min + 1)); n > 0; --n) s += pick(alphabet);
  return s;
};
const account = "devstoreaccount1";
const key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const cred = new blob.StorageSharedKeyCredential(account, key);

async function sharedKey() {
  const { storageSharedKeyCredentialPolicy } = require("@azure/storage-common");
  const p = storageSharedKeyCredentialPolicy({ accountName: account, accountKey: Buffer.from(key, "base64") });
  const cases = [];
  for (let i = 0; i < 120; ++i) {
    const method = pick(["GET", "PUT", "DELETE", "HEAD", "POST"]);
    const segs = [];
    // The SDK sends WHATWG-normalised URLs: no "." or ".." segments (intg signs the path as sent).
    for (let n = 1 + Math.floor(rand() * 3); n > 0; --n) {
      const seg = encodeURIComponent(word("abcXYZ019-_.~ %+!", 1, 8));
      segs.push(seg === "." || seg === ".." ? seg + "x" : seg);
    }
    const path = "/" + account + "/" + segs.join("/");
    const params = {};
    for (let n = Math.floor(rand() * 4); n > 0; --n)
      params[pick(["comp", "restype", "Prefix", "maxresults", "timeout", "blockid", "MARKER", "include", "delimiter"])] =
        word("abAB01-_.~ /+=,:", 1, 10);
    const query = Object.entries(params).map(([k, v]) => k + "=" + encodeURIComponent(v)).join("&");
    const headers = createHttpHeaders();
    const sent = [];
    const set = (n, v) => { headers.set(n, v); sent.push([n, v]); };
    set("x-ms-version", "2025-11-05");
    for (let n = Math.floor(rand() * 5); n > 0; --n) {
      const name = "x-ms-" + word("abz09_-", 1, 6) + (rand() < 0.5 ? "-" + word("abz09_", 1, 4) : "");
      if (sent.some(([k]) => k.toLowerCase() === name.toLowerCase())) continue;
      // intg folds inner runs of whitespace (and rewrites the value it sends); the SDK does not.
      set(rand() < 0.3 ? name.toUpperCase() : name, word("abc XYZ:=/;,0", 1, 12).replace(/ +/g, " ").trim() || "v");
    }
    for (const h of ["Content-MD5", "Content-Type", "If-Match", "If-None-Match", "Range", "If-Modified-Since", "Date"])
      if (rand() < 0.25) set(h, word("abc/;=0-9", 1, 10));
    const body = rand() < 0.4 ? word("hello world", 1, 40) : "";
    const url = "http://127.0.0.1:10000" + path + (query ? "?" + query : "");
    const req = createPipelineRequest({ url, method, headers, body: body || undefined });
    await p.sendRequest(req, async (r) => ({ request: r, status: 200, headers: createHttpHeaders() }));
    sent.push(["x-ms-date", req.headers.get("x-ms-date")]);
    cases.push({ method, path, query, headers: sent, content_length: Buffer.byteLength(body), authorization: req.headers.get("authorization") });
  }
  return cases;
}

function iso(t) { return new Date(t * 1000); }

function sas() {
  const service = [], acct = [];
  for (let i = 0; i < 60; ++i) {
    const isBlob = rand() < 0.6;
    const letters = isBlob ? "racwdxtmeiy" : "racwdxltmeiyf";
    let perms = "";
    for (const c of letters) if (rand() < 0.4) perms += c;
    if (!perms) perms = "r";
    const start = rand() < 0.5 ? 1764500000 + Math.floor(rand() * 1e6) : null;
    const expiry = 1764500000 + 2e6 + Math.floor(rand() * 1e6);
    const ip = rand() < 0.3 ? (rand() < 0.5 ? "10.0.0.1" : "10.0.0.1-10.0.0.255") : "";
    const protocol = pick(["", "https", "https,http"]);
    const v = {
      containerName: word("abc019", 3, 10) + (rand() < 0.3 ? "-x" : ""),
      permissions: isBlob ? blob.BlobSASPermissions.parse(perms) : blob.ContainerSASPermissions.parse(perms),
      expiresOn: iso(expiry),
      version: pick(["2021-04-10", "2025-11-05"]),
    };
    if (isBlob) v.blobName = word("abc/ XYZ.-_", 1, 12).replace(/^\/+/, "") || "b";
    if (start !== null) v.startsOn = iso(start);
    if (ip) { const [s, e] = ip.split("-"); v.ipRange = e ? { start: s, end: e } : { start: s }; }
    if (protocol) v.protocol = protocol;
    const extras = { cacheControl: "no-cache", contentDisposition: "attachment; filename=\"a b.txt\"", contentEncoding: "gzip", contentLanguage: "de-DE", contentType: "text/plain; charset=utf-8" };
    for (const [k, val] of Object.entries(extras)) if (rand() < 0.25) v[k] = val;
    const q = blob.generateBlobSASQueryParameters(v, cred).toString();
    service.push({ container: v.containerName, blob: v.blobName || "", permissions: perms, start, expiry, ip, protocol, version: v.version,
                   cache_control: v.cacheControl || "", content_disposition: v.contentDisposition || "", content_encoding: v.contentEncoding || "",
                   content_language: v.contentLanguage || "", content_type: v.contentType || "", query: q });
  }
  for (let i = 0; i < 40; ++i) {
    let perms = "", ss = "", srt = "";
    for (const c of "rwdxftlacupiy") if (rand() < 0.4) perms += c;
    for (const c of "btqf") if (rand() < 0.5) ss += c;
    for (const c of "sco") if (rand() < 0.6) srt += c;
    perms ||= "r"; ss ||= "b"; srt ||= "o";
    const start = rand() < 0.5 ? 1764500000 + Math.floor(rand() * 1e6) : null;
    const expiry = 1764500000 + 2e6 + Math.floor(rand() * 1e6);
    const ip = rand() < 0.3 ? "192.168.1.1-192.168.1.9" : "";
    const protocol = pick(["", "https", "https,http"]);
    const version = pick(["2021-04-10", "2025-11-05"]);
    const v = { permissions: blob.AccountSASPermissions.parse(perms), services: blob.AccountSASServices.parse(ss).toString(),
                resourceTypes: blob.AccountSASResourceTypes.parse(srt).toString(), expiresOn: iso(expiry), version };
    if (start !== null) v.startsOn = iso(start);
    if (ip) { const [s, e] = ip.split("-"); v.ipRange = { start: s, end: e }; }
    if (protocol) v.protocol = protocol;
    const q = blob.generateAccountSASQueryParameters(v, cred).toString();
    acct.push({ permissions: perms, services: ss, resource_types: srt, start, expiry, ip, protocol, version, query: q });
  }
  return { service, account: acct };
}

(async () => {
  const vectors = { sdk: "@azure/storage-blob " + require("@azure/storage-blob/package.json").version, account, key,
                    shared_key: await sharedKey(), ...sas() };
  vectors.service_sas = vectors.service; delete vectors.service;
  vectors.account_sas = vectors.account; delete vectors.account;
  vectors.account = account;
  fs.writeFileSync(out, JSON.stringify(vectors, null, 1) + "\n");
})().catch((e) => { console.error(e); process.exit(1); });
