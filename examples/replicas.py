#!/usr/bin/env python3
"""Runs three replicas of integration_hub sharing one redis-server (examples/config/replicas.json),
and checks what each one's /integrations/status shows: the shared rate limits (same Redis key, mode
"shared") and the shared circuit breaker of the failing analytics_etl (open in every replica, at the
same generation: one opening, seen by all).

Usage: replicas.py INTEGRATION_HUB CONFIG [REDIS_ENV_FILE]
  REDIS_ENV_FILE: the file scripts/redis-test-server writes (port, ACL user, password); without it,
  the configuration's Redis (127.0.0.1:6379) is used as it is."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request


def redis_settings(env_file):
    values = {}
    for line in open(env_file, encoding="utf-8"):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            values[k] = v
    return {"host": "127.0.0.1", "port": int(values["INTG_REDIS_PORT"]), "username": values["INTG_REDIS_USER"],
            "password": "${env:INTG_REPLICAS_REDIS_PASSWORD}"}, values["INTG_REDIS_PASSWORD"]


def point_at(node, redis):
    """Replaces every `redis` object of the configuration's `shared` sections."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "redis" and isinstance(v, dict):
                node[k] = dict(redis)
            else:
                point_at(v, redis)
    elif isinstance(node, list):
        for v in node:
            point_at(v, redis)


def status(base):
    with urllib.request.urlopen(base + "/integrations/status", timeout=5) as r:
        return json.load(r)


def find(doc, name, tenant):
    for i in doc["integrations"]:
        if i["name"] == name and i["tenant"] == tenant:
            return i
    raise AssertionError(f"{name} for {tenant} is not in /integrations/status")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    hub, config_path = sys.argv[1], sys.argv[2]
    env = dict(os.environ)
    config = json.load(open(config_path, encoding="utf-8"))
    if len(sys.argv) > 3:
        redis, password = redis_settings(sys.argv[3])
        point_at(config, redis)
        env["INTG_REPLICAS_REDIS_PASSWORD"] = password
    work = tempfile.mkdtemp(prefix="intg-replicas-")
    path = os.path.join(work, "replicas.json")
    json.dump(config, open(path, "w", encoding="utf-8"))

    replicas, bases = [], []
    try:
        for _ in range(3):
            p = subprocess.Popen([hub, "--config", path, "--listen", "127.0.0.1:0", "--for", "8"], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, env=env)
            replicas.append(p)
            seen, m = "", None
            while m is None:  # the first lines may be events
                line = p.stdout.readline()
                if not line:
                    raise AssertionError("a replica did not start: " + seen)
                seen += line
                m = re.search(r"^Serving .* on (http://127\.0\.0\.1:\d+)", line)
            bases.append(m.group(1))
        print("replicas:", " ".join(bases))

        # The failing dependency's breaker: open in every replica, at the same generation.
        deadline = time.monotonic() + 6
        while True:
            docs = [status(b) for b in bases]
            breakers = [find(d, "analytics_etl", "client_startup")["policies"]["circuit_breaker"] for d in docs]
            if all(b["state"] == "open" for b in breakers) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        for b in breakers:
            assert b["state"] == "open", f"analytics_etl's breaker is {b['state']} in a replica: {b}"
            assert b["shared"]["mode"] == "shared", b
        generations = {b["shared"]["generation"] for b in breakers}
        assert len(generations) == 1, f"the replicas saw different openings: {generations}"
        print("analytics_etl: breaker open in 3 replicas, generation", generations.pop(), "key", breakers[0]["shared"]["key"])

        # The shared limits: one Redis key per integration and tenant, the same in every replica.
        for tenant in ("client_entreprise", "client_startup"):
            limiters = [find(d, "spotify_main", tenant)["policies"]["rate_limiter"] for d in docs]
            keys = {l["shared"]["key"] for l in limiters}
            assert len(keys) == 1 and all(l["shared"]["mode"] == "shared" for l in limiters), limiters
            assert all(l["shared"]["replicas"] == 3 for l in limiters), limiters
            print(f"spotify_main/{tenant}: {limiters[0]['requests_per_minute']:g} requests/min shared on", keys.pop())
        # The tenant quota of client_startup: one allowance for all its integrations, counted on
        # Redis; every replica shows the cluster's remaining quota as Redis last reported it.
        # (An instance reports usage once it has made its first call: wait for all six.)
        deadline = time.monotonic() + 6
        while True:
            quotas = [find(status(b), name, "client_startup")["policies"]["quota"] for b in bases
                      for name in ("spotify_main", "aws_storage")]
            if all(q["per_day"]["used"] is not None for q in quotas) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        keys = {q["shared"]["key"] for q in quotas}
        assert len(keys) == 1 and all(q["shared"]["mode"] == "shared" for q in quotas), quotas
        for q in quotas:
            day = q["per_day"]
            assert day["limit"] == 100000 and day["used"] is not None and day["remaining"] == day["limit"] - day["used"], q
        used = max(q["per_day"]["used"] for q in quotas)
        assert used > 0, quotas
        assert "quota" not in find(docs[0], "spotify_main", "client_entreprise")["policies"]  # no quota there
        print(f"client_startup: tenant quota on {keys.pop()}, {used} of 100000 calls today used or leased, cluster-wide")
        # A policy without a `shared` section stays local (analytics_etl's limiter).
        local = find(docs[0], "analytics_etl", "client_startup")["policies"]["rate_limiter"]
        assert "shared" not in local, local
    finally:
        for p in replicas:
            try:
                out, _ = p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
            if p.returncode != 0:
                print(out)
                raise AssertionError(f"a replica exited with {p.returncode}")
    print("ok: 3 replicas shared their limits, their quota and the breaker's opening")
    return 0


if __name__ == "__main__":
    sys.exit(main())
