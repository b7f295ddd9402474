#!/usr/bin/env python3
"""What the kernels' loops execute, read off their SASS: no GPU needed.

For each kernel whose (mangled) name matches PATTERN, every loop (a
backward branch and what it jumps over), largest first, with its
instruction count and the ones that tell where time goes: FFMA, shared
loads (LDS), global loads and stores (LDG, STG; .128 for float4), and
local memory (LDL, STL: spilled registers), plus the kernel's local-memory
instructions in all.

    nvcc -std=c++20 -arch=sm_90 -O3 -I. -c kernels/cuda/sgemm.cu -o /tmp/sgemm.o
    cuobjdump -sass /tmp/sgemm.o > /tmp/sgemm.sass   # NVDISASM_PATH: nvdisasm's folder
    python3 tools/sass_loops.py /tmp/sgemm.sass 'SgemmKernelILi128ELi128E'

cuobjdump and nvdisasm come from PyPI (nvidia-cuda-cuobjdump and
nvidia-cuda-nvdisasm wheels: bin/ inside), when the toolkit lacks them.
"""
import collections
import re
import sys

INSTRUCTION = re.compile(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;")
BRANCH = re.compile(r"BRA (?:`\(\.L_x_\d+\)|0x([0-9a-f]+))")
WATCHED = ("FFMA", "LDS", "LDG", "STG", "LDL", "STL", "BAR")


def kernels(lines):
    """(name, [(address, instruction)]) for each function of the dump."""
    name, body = None, []
    for line in lines:
        if "Function :" in line:
            if name:
                yield name, body
            name, body = line.split("Function :", 1)[1].strip(), []
            continue
        match = INSTRUCTION.match(line)
        if name and match:
            body.append((int(match.group(1), 16), match.group(2)))
    if name:
        yield name, body


def opcode(instruction):
    return re.sub(r"^@!?U?P\w+\s+", "", instruction).split()[0]


def counts(instructions):
    found = collections.Counter()
    for instruction in instructions:
        op = opcode(instruction)
        for watched in WATCHED:
            if op.startswith(watched):
                found[op.split(".")[0] + (".128" if ".128" in op else "")] += 1
    return found


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1]) as dump:
        lines = dump.read().split("\n")
    for name, body in kernels(lines):
        if not re.search(sys.argv[2], name):
            continue
        local = sum(1 for _, i in body if opcode(i).startswith(("LDL", "STL")))
        print(f"{name}\n  {len(body)} instructions, {local} to local memory")
        loops = []
        for address, instruction in body:
            match = BRANCH.search(instruction)
            if match and match.group(1):
                target = int(match.group(1), 16)
                if target < address:
                    loops.append([i for a, i in body if target <= a <= address])
        for loop in sorted(loops, key=len, reverse=True):
            found = counts(loop)
            print(f"  loop of {len(loop):5d}: " +
                  ", ".join(f"{k} {v}" for k, v in sorted(found.items())))


if __name__ == "__main__":
    main()
