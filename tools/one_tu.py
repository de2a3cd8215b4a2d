"""Several complete programs as one translation unit, so that the headers they share are parsed,
and the templates and coroutines they share generated, once instead of once per program (the
documentation's programs: about 180 s of CPU together against 90 s each; the test files).

Each program's #include lines go first (each once); the rest of it goes into a namespace of its
own, with its entry point renamed. Used by check_docs.py and test_group.py."""
import re


def merge(programs, entry, renamed, prefix, return_zero=False, wrap=None, paths=None):
    """programs: (name, source) pairs; `entry` begins the line that opens a program's entry point
    (at column 0, its body closed by a `}` at column 0), which becomes `renamed` in namespace
    prefix + name. return_zero adds `return 0;` at the end of the body (main may fall off its end;
    a renamed function may not). With entry None, nothing is renamed, and wrap(name, body), if
    given, wraps each program instead of the namespace. paths (name: file) puts a #line before
    each program, so that diagnostics name the program's own file and lines (#include lines are
    replaced by empty lines, so the numbering holds). Returns the source."""
    includes, bodies = [], []
    for name, source in programs:
        if not re.fullmatch(r"\w+", name):
            raise SystemExit(f"one_tu.py: {name!r} cannot name a namespace")
        lines, in_entry, saw_entry = [], False, False
        for line in source.splitlines():
            if line.startswith("#include"):
                if line not in includes:
                    includes.append(line)
                lines.append("")
            elif entry is not None and line.startswith(entry):
                in_entry = saw_entry = True
                lines.append(renamed + line[len(entry):])
            elif in_entry and line == "}":
                if return_zero:
                    lines.append("  return 0;")
                lines.append(line)
                in_entry = False
            else:
                lines.append(line)
        if entry is not None and (not saw_entry or in_entry):
            raise SystemExit(f"one_tu.py: {name}: expected `{entry}` ... `}}`, each at column 0")
        body = "\n".join(lines)
        if paths:
            body = f'#line 1 "{paths[name]}"\n' + body
        bodies.append(wrap(name, body) if wrap else f"namespace {prefix}{name} {{\n{body}\n}}  // namespace {prefix}{name}\n")
    return "\n".join(includes) + "\n\n" + "\n".join(bodies)
