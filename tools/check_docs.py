#!/usr/bin/env python3
"""Checks that every health-server path the docs name is one the server serves (the list is
`intg::health_server_paths` in include/intg/observability/health_server.hpp), then compiles and
runs every complete program (a ```cpp block with `int main(`) in docs/, so the documentation's
examples cannot rot. The programs are compiled together, as one translation unit, and each runs
on its own. A program block without #include continues the blocks above it in the same page.
Programs run in OUTDIR, where the page's first ```json block (if any) is written as
integrations.json, with every ${env:NAME} it names set to a dummy value.
Usage: check_docs.py CXX OUTDIR [extra compiler flags...]
       check_docs.py --endpoints    (the path check only)"""
import concurrent.futures
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import one_tu  # noqa: E402


# Bare paths that read as health-server endpoints when written in backticks (`/metrics`).
ENDPOINT_WORDS = {"livez", "readyz", "healthz", "health", "metrics", "status", "dashboard", "openapi.json"}


def served_paths(root):
    header = open(os.path.join(root, "include", "intg", "observability", "health_server.hpp"), encoding="utf-8").read()
    m = re.search(r"health_server_paths\[\]\s*=\s*\{(.*?)\};", header, re.S)
    if not m:
        raise SystemExit("check_docs.py: intg::health_server_paths not found in health_server.hpp")
    return re.findall(r'"([^"]+)"', m.group(1))


def is_served(path, served):
    for p in served:
        if p == path:
            return True
        if p.endswith("/{name}") and path.startswith(p[: -len("{name}")]) and len(path) > len(p) - len("{name}"):
            return True
    return False


def check_endpoints(root):
    """Dead endpoint paths in README.md and docs/: every /integrations/... path, and every
    backticked bare path like `/metrics`, must be served."""
    served = served_paths(root)
    pages = [os.path.join(root, "README.md")] + sorted(glob.glob(os.path.join(root, "docs", "**", "*.md"), recursive=True))
    errors = []
    for md in pages:
        for n, line in enumerate(open(md, encoding="utf-8"), 1):
            found = [m.rstrip(".") for m in re.findall(r"(?<![A-Za-z_/])/integrations(?:/[A-Za-z0-9_{}.\-]+)*", line)]
            found += [m for m in re.findall(r"`(/[A-Za-z0-9_.\-]+)[`?]", line) if m[1:] in ENDPOINT_WORDS]
            for path in found:
                if not is_served(path, served):
                    errors.append(f"{os.path.relpath(md, root)}:{n}: {path} is not a path the health server serves")
    return errors


def merged_source(jobs):
    """Every program in one translation unit (one_tu.py), and a main() that runs the one argv[1]
    names."""
    source = one_tu.merge([(name, block) for _, _, name, block, _ in jobs], "int main() {", "int main_() {", "docs_",
                          return_zero=True)
    dispatch = "".join(f'  if (std::strcmp(argv[1], "{name}") == 0) return docs_{name}::main_();\n' for _, _, name, _, _ in jobs)
    return ("#include <cstring>\n" + source + "\nint main(int argc, char** argv) {\n  if (argc != 2) return 2;\n" + dispatch +
            "  return 2;\n}\n")


def main() -> int:
    endpoint_errors = check_endpoints(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for e in endpoint_errors:
        print("FAIL (dead endpoint) " + e)
    if sys.argv[1:] == ["--endpoints"]:
        print(f"{len(endpoint_errors)} dead endpoint paths")
        return 1 if endpoint_errors else 0
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cxx, outdir, flags = sys.argv[1], sys.argv[2], sys.argv[3:]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(outdir, exist_ok=True)
    jobs = []
    for md in sorted(glob.glob(os.path.join(root, "docs", "**", "*.md"), recursive=True)):
        text = open(md, encoding="utf-8").read()
        blocks = re.findall(r"```cpp\n(.*?)```", text, re.S)
        json_blocks = re.findall(r"```json\n(.*?)```", text, re.S)
        for i, block in enumerate(blocks):
            if "int main(" not in block:
                continue
            if "#include" not in block:
                block = "\n".join(blocks[: i + 1])
            name = re.sub(r"\W", "_", os.path.relpath(md, root).replace(".md", "")) + f"_{i}"
            jobs.append((os.path.relpath(md, root), i, name, block, json_blocks[0] if json_blocks else None))
    if not jobs:
        print("no programs found in docs/")
        return 1

    # All programs are compiled as one (one_tu.py): built one by one, they cost about 90 s of CPU
    # each; together, about 180 s. What this gives up: a program that forgets an #include another
    # program has still compiles (every header is checked on its own by the header check).
    source = os.path.join(outdir, "docs_programs.cpp")
    exe = os.path.join(outdir, "docs_programs")
    with open(source, "w", encoding="utf-8") as f:
        f.write(merged_source(jobs))
    # What reads XML (the S3 and Azure Blob clients, rest/xml.hpp) links expat.
    xml = ["-lexpat"] if any(re.search(r"#include <intg/(providers/s3|providers/azure_blob|rest/xml)", job[3]) for job in jobs) else []
    cmd = [cxx, "-std=c++20", "-Wall", "-Wextra", "-Werror", "-I" + os.path.join(root, "include"), source, "-o", exe,
           *flags, "-lboost_json", "-lboost_url", "-lssl", "-lcrypto", *xml, "-pthread"]
    built = subprocess.run(cmd, capture_output=True, text=True)
    if built.returncode != 0:
        print(f"FAIL (compile) the docs' programs, written to {source}:\n{built.stderr[-6000:]}")
        return 1

    def check(job):
        page, i, name, block, json_text = job
        # Each program runs in its own directory, so that programs can run in parallel.
        work = os.path.join(outdir, name + ".d")
        os.makedirs(work, exist_ok=True)
        env = dict(os.environ)
        if json_text is not None:
            with open(os.path.join(work, "integrations.json"), "w", encoding="utf-8") as f:
                f.write(json_text)
            for var in re.findall(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", json_text):
                env.setdefault(var, "dummy-value-for-docs-check")
        ran = subprocess.run([exe, name], capture_output=True, text=True, timeout=60, cwd=work, env=env)
        if ran.returncode != 0:
            return False, f"FAIL (run, exit {ran.returncode}) {page} block {i}\n{ran.stdout[-2000:]}{ran.stderr[-2000:]}"
        return True, f"ok {page} block {i}"

    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(check, jobs))
    failures = 0
    for ok, message in results:
        print(message)
        failures += not ok
    print(f"{len(jobs) - failures} passed, {failures} failed")
    return 1 if failures or endpoint_errors else 0


if __name__ == "__main__":
    sys.exit(main())
