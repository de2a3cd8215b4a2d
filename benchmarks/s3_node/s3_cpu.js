// Client CPU per small-object PUT and GET with @aws-sdk/client-s3 against moto, as
// s3_client_cpu.cpp measures intg's: WARMUP calls of each, then CALLS PUTs and CALLS GETs of
// SIZE-byte objects over a kept-alive connection, timed by process.cpuUsage() deltas (this process
// only). Prints one JSON line. Usage: node s3_cpu.js ENDPOINT KEY_ID SECRET BUCKET CALLS WARMUP SIZE
"use strict";
const { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } = require("@aws-sdk/client-s3");

async function main() {
  const [endpoint, accessKeyId, secretAccessKey, bucket, callsText, warmupText, sizeText] = process.argv.slice(2);
  const calls = Number(callsText), warmup = Number(warmupText);
  const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  const body = Buffer.alloc(Number(sizeText), "b");
  try { await s3.send(new CreateBucketCommand({ Bucket: bucket })); } catch (e) { /* it exists */ }
  for (let i = 0; i < warmup; i++) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "warm", Body: body }));
    const g = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "warm" }));
    await g.Body.transformToByteArray();
  }
  const out = { impl: "@aws-sdk/client-s3 " + require("@aws-sdk/client-s3/package.json").version };
  for (const op of ["put", "get"]) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) {
      const Key = "k" + (i % 64);
      if (op === "put") await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: body }));
      else await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key }))).Body.transformToByteArray();
    }
    const c = process.cpuUsage(c0);
    out[op + "_cpu_us"] = (c.user + c.system) / calls;
    out[op + "_wall_us"] = Number(process.hrtime.bigint() - t0) / 1e3 / calls;
  }
  console.log(JSON.stringify(out));
}
main().catch((e) => { console.error(e); process.exit(1); });
