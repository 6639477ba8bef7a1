#!/usr/bin/env python3
"""Writes the PTX of each gpu.binary object in an MLIR file.

Reads the `assembly = "..."` strings that `gpu-module-to-binary{format=isa}`
embeds (MLIR string escapes: \\XX hex bytes, \\\\, \\"), and writes them to
standard output, one after another, or with --split DIR one file per object
(DIR/<binary name>.ptx). Exits 1 if the input has no PTX.
"""

import argparse
import os
import re
import sys

OBJECT = re.compile(r'gpu\.binary @(\w+)\s.*?assembly = "((?:[^"\\]|\\.)*)"', re.S)


def unescape(text):
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            nxt = text[i + 1]
            if nxt in '\\"':
                out.append(ord(nxt))
                i += 2
            else:
                out.append(int(text[i + 1:i + 3], 16))
                i += 3
        else:
            out.extend(c.encode())
            i += 1
    return out.decode()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("input")
    p.add_argument("--split", help="write DIR/<name>.ptx per object")
    a = p.parse_args()
    with open(a.input) as f:
        objects = [(m.group(1), unescape(m.group(2))) for m in OBJECT.finditer(f.read())]
    if not objects:
        sys.exit(f"{a.input}: no gpu.binary with PTX assembly")
    for name, ptx in objects:
        if a.split:
            os.makedirs(a.split, exist_ok=True)
            with open(os.path.join(a.split, name + ".ptx"), "w") as f:
                f.write(ptx)
        else:
            sys.stdout.write(ptx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
