#!/usr/bin/env python3
"""Reads every exposition the promparse Go tests wrote (DIR/*.txt: text 0.0.4, DIR/*.om:
OpenMetrics 1.0) with the Python prometheus_client parsers, and checks each against the
expectation beside it (FILE.json): the number of samples, label values that must come back
byte for byte, and the help text when given. Exits 1 on the first file that fails.

Usage: parse.py DIR
"""

import json
import math
import os
import sys

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families as text_families


def check(path):
    with open(path, encoding="utf-8", newline="") as f:
        body = f.read()
    with open(path + ".json", encoding="utf-8") as f:
        want = json.load(f)
    parse = openmetrics_families if path.endswith(".om") else text_families
    families = list(parse(body))
    samples = [s for fam in families for s in fam.samples]
    if len(samples) != want["samples"]:
        raise AssertionError(f"{len(samples)} samples parsed, {want['samples']} written")
    values = {v for s in samples for v in s.labels.values()}
    for v in want["values"]:
        if v not in values:
            raise AssertionError(f"label value {v!r} did not come back")
    for s in samples:
        if not isinstance(s.value, (int, float)) or (
            math.isnan(s.value) and "quantile" not in s.labels and s.name.endswith("_count")
        ):
            raise AssertionError(f"sample {s} has no number")
    if want.get("help") is not None:
        helps = [fam.documentation for fam in families if fam.documentation]
        if helps != [want["help"]]:
            raise AssertionError(f"help texts {[len(h) for h in helps]} bytes, want {len(want['help'])}")
    return len(samples)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = sys.argv[1]
    files = sorted(
        os.path.join(folder, n) for n in os.listdir(folder) if n.endswith((".txt", ".om"))
    )
    if not files:
        sys.exit(f"promparse: no expositions in {folder} (run the Go tests with PROMPARSE_OUT)")
    passed = failed = samples = 0
    for path in files:
        try:
            samples += check(path)
            passed += 1
        except Exception as e:  # a parser error or a failed expectation: report the file
            print(f"promparse: {os.path.basename(path)}: {type(e).__name__}: {e}")
            failed += 1
    print(f"promparse: prometheus_client parsed {samples} samples in {passed + failed} files")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
