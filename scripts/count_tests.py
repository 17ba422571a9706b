"""Sums test cases over meson test logs and prints "N passed, M failed".

Each doctest binary reports its own count ("[doctest] test cases: ..."); a
test that printed no such line (a script, or a binary that crashed) counts
as one case, passed or failed by its meson result. Exits 1 on any failure.
"""
import json
import re
import sys

DOCTEST = re.compile(r"\[doctest\] test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed")
CASES = re.compile(r"^(\d+) passed, (\d+) failed$", re.M)


def count(log_path):
    passed = failed = 0
    with open(log_path) as log:
        for line in log:
            test = json.loads(line)
            output = test.get("stdout") or ""
            ok = test["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
            match = DOCTEST.search(output) or CASES.search(output)
            if match:
                groups = [int(g) for g in match.groups()]
                p, f = groups[-2], groups[-1]
                passed += p
                failed += f
                if not ok and f == 0:
                    failed += 1  # crashed or leaked after its cases passed
            elif ok:
                passed += 1
            else:
                failed += 1
    return passed, failed


def main(paths):
    passed = failed = 0
    for path in paths:
        p, f = count(path)
        print(f"{path}: {p} passed, {f} failed")
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
