#!/usr/bin/env python3
"""Compiles and runs every complete program (a ```cpp block with `int main(`) in docs/, so the
documentation's examples cannot rot. A program block without #include continues the blocks above
it in the same page. Programs run in OUTDIR, where the page's first ```json block (if any) is
written as integrations.json, with every ${env:NAME} it names set to a dummy value.
Usage: check_docs.py CXX OUTDIR [extra compiler flags...]"""
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
    failures = 0
    count = 0
    for md in sorted(glob.glob(os.path.join(root, "docs", "**", "*.md"), recursive=True)):
        text = open(md, encoding="utf-8").read()
        blocks = re.findall(r"```cpp\n(.*?)```", text, re.S)
        json_blocks = re.findall(r"```json\n(.*?)```", text, re.S)
        env = dict(os.environ)
        if json_blocks:
            with open(os.path.join(outdir, "integrations.json"), "w", encoding="utf-8") as f:
                f.write(json_blocks[0])
            for name in re.findall(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", json_blocks[0]):
                env.setdefault(name, "dummy-value-for-docs-check")
        for i, block in enumerate(blocks):
            if "int main(" not in block:
                continue
            if "#include" not in block:
                block = "\n".join(blocks[: i + 1])
            count += 1
            name = os.path.relpath(md, root).replace(os.sep, "_").replace(".md", "") + f"_{i}"
            src = os.path.join(outdir, name + ".cpp")
            exe = os.path.join(outdir, name)
            with open(src, "w", encoding="utf-8") as f:
                f.write(block)
            cmd = [cxx, "-std=c++20", "-Wall", "-Wextra", "-Werror", "-I" + os.path.join(root, "include"), src, "-o", exe,
                   *flags, "-lboost_json", "-lssl", "-lcrypto", "-pthread"]
            built = subprocess.run(cmd, capture_output=True, text=True)
            if built.returncode != 0:
                failures += 1
                print(f"FAIL (compile) {os.path.relpath(md, root)} block {i}\n{built.stderr[-3000:]}")
                continue
            ran = subprocess.run([exe], capture_output=True, text=True, timeout=60, cwd=outdir, env=env)
            if ran.returncode != 0:
                failures += 1
                print(f"FAIL (run, exit {ran.returncode}) {os.path.relpath(md, root)} block {i}\n{ran.stdout[-2000:]}{ran.stderr[-2000:]}")
                continue
            print(f"ok {os.path.relpath(md, root)} block {i}")
    print(f"{count - failures} passed, {failures} failed")
    return 1 if failures or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
