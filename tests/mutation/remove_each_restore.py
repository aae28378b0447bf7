#!/usr/bin/env python3
"""Proves the register-preservation test catches every missing restore.

For each register that tandem_jump restores, this makes a copy of the
source tree whose assembly no longer restores that one register (the frame
layout is left alone: a pop or load goes to a scratch register instead, a
control-register write is dropped), builds the test binary, and runs
Context.CalleeSavedRegistersSurviveEveryJump. Every mutant must fail, and
the unmutated tree must pass.

    tests/mutation/remove_each_restore.py x86_64
    tests/mutation/remove_each_restore.py aarch64     # through qemu-aarch64

Not part of CI: it rebuilds once per register (about a minute per target).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEST = "Context.CalleeSavedRegistersSurviveEveryJump"

# (name, pattern in the restore half of tandem_jump, replacement)
X86_64 = [(r, rf"popq\s+%{r}\b", "popq    %rcx") for r in
          ("r12", "r13", "r14", "r15", "rbx", "rbp")] + [
    ("mxcsr", r"ldmxcsr\s+TANDEM_FRAME_MXCSR\(%rsp\)", "nop"),
    ("x87 control word", r"fldcw\s+TANDEM_FRAME_X87CW\(%rsp\)", "nop"),
]
AARCH64 = []
for first in (19, 21, 23, 25, 27):
    pair = rf"ldp\s+x{first},\s*x{first + 1},"
    AARCH64 += [(f"x{first}", pair, f"ldp     x9, x{first + 1},"),
                (f"x{first + 1}", pair, f"ldp     x{first}, x9,")]
AARCH64 += [("x29", r"ldp\s+x29,\s*x30,", "ldp     x9, x30,")]
for first in (8, 10, 12, 14):
    pair = rf"ldp\s+d{first},\s*d{first + 1},"
    AARCH64 += [(f"d{first}", pair, f"ldp     d16, d{first + 1},"),
                (f"d{first + 1}", pair, f"ldp     d{first}, d16,")]
AARCH64 += [("fpcr", r"msr\s+fpcr,\s*x11", "nop")]

TARGETS = {
    "x86_64": ("asm/x86_64_sysv_elf_gas.S", X86_64, [], []),
    "aarch64": ("asm/aarch64_aapcs_elf_gas.S", AARCH64,
                [f"-DCMAKE_TOOLCHAIN_FILE={ROOT}/toolchains/aarch64-linux-gnu.cmake"],
                ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", "-E",
                 "LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib", "-cpu", "max,pauth-impdef=on"]),
}


def mutate(text, pattern, replacement):
    """Applies the mutation once, in the restore half (after `mov sp`)."""
    switch = re.search(r"movq\s+%rdi, %rsp|mov\s+sp, x0", text)
    head, tail = text[:switch.end()], text[switch.end():]
    tail, n = re.subn(pattern, replacement, tail, count=1)
    if n != 1:
        sys.exit(f"pattern {pattern!r} not found")
    return head + tail


def main():
    target = sys.argv[1] if len(sys.argv) > 1 else "x86_64"
    source, mutations, cmake_args, emulator = TARGETS[target]
    work = tempfile.mkdtemp(prefix="tandem-mutants-")
    tree, build = os.path.join(work, "src"), os.path.join(work, "build")
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns("build", ".git"))
    subprocess.run(["cmake", "-S", tree, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release",
                    "-DTANDEM_BUILD_EXAMPLES=OFF", *cmake_args], check=True, stdout=subprocess.DEVNULL)
    asm_path = os.path.join(tree, source)
    original = open(asm_path).read()

    def test_passes():
        subprocess.run(["cmake", "--build", build, "--target", "tandem_tests"], check=True,
                       stdout=subprocess.DEVNULL)
        run = subprocess.run([*emulator, os.path.join(build, "tests", "tandem_tests"),
                              f"--gtest_filter={TEST}"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        return run.returncode == 0

    caught = 0
    for name, pattern, replacement in mutations:
        open(asm_path, "w").write(mutate(original, pattern, replacement))
        failed = not test_passes()
        caught += failed
        print(f"{target}: without restoring {name:16} the test {'fails (caught)' if failed else 'PASSES (missed)'}")
    open(asm_path, "w").write(original)
    clean = test_passes()
    print(f"{target}: unmutated, the test {'passes' if clean else 'FAILS'}")
    print(f"{caught} of {len(mutations)} mutants caught")
    shutil.rmtree(work)
    return 0 if clean and caught == len(mutations) else 1


if __name__ == "__main__":
    sys.exit(main())
