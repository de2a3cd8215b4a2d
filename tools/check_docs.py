#!/usr/bin/env python3
"""Compiles and runs every complete program (a ```cpp block with `int main(`) in docs/, so the
documentation's examples cannot rot. A program block without #include continues the blocks above
it in the same page. Programs run in OUTDIR, where the page's first ```json block (if any) is
written as integrations.json, with every ${env:NAME} it names set to a dummy value.
Usage: check_docs.py CXX OUTDIR [extra compiler flags...]"""
import concurrent.futures
import glob
import os
import re
import subprocess
import sys


def main() -> int:
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
            name = os.path.relpath(md, root).replace(os.sep, "_").replace(".md", "") + f"_{i}"
            jobs.append((os.path.relpath(md, root), i, name, block, json_blocks[0] if json_blocks else None))

    def check(job):
        page, i, name, block, json_text = job
        # Each program gets its own directory, so that programs can be built and run in parallel.
        work = os.path.join(outdir, name + ".d")
        os.makedirs(work, exist_ok=True)
        env = dict(os.environ)
        if json_text is not None:
            with open(os.path.join(work, "integrations.json"), "w", encoding="utf-8") as f:
                f.write(json_text)
            for var in re.findall(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", json_text):
                env.setdefault(var, "dummy-value-for-docs-check")
        src = os.path.join(work, name + ".cpp")
        exe = os.path.join(work, name)
        with open(src, "w", encoding="utf-8") as f:
            f.write(block)
        cmd = [cxx, "-std=c++20", "-Wall", "-Wextra", "-Werror", "-I" + os.path.join(root, "include"), src, "-o", exe,
               *flags, "-lboost_json", "-lboost_url", "-lssl", "-lcrypto", "-pthread"]
        built = subprocess.run(cmd, capture_output=True, text=True)
        if built.returncode != 0:
            return False, f"FAIL (compile) {page} block {i}\n{built.stderr[-3000:]}"
        ran = subprocess.run([exe], capture_output=True, text=True, timeout=60, cwd=work, env=env)
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
    return 1 if failures or not jobs else 0


if __name__ == "__main__":
    sys.exit(main())
