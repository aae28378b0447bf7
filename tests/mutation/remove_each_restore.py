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
    tests/mutation/remove_each_restore.py armv7       # through qemu-arm
    tests/mutation/remove_each_restore.py riscv64     # through qemu-riscv64

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


def skip_in_pop(mnemonic, registers, slot_size, position):
    """One register of a pop-list restore no longer restored: the pop is
    split around it and its slot skipped, so the rest still line up."""
    before, after = registers[:position], registers[position + 1:]
    lines = [f"{mnemonic} {{{', '.join(before)}}}"] if before else []
    lines.append(f"add     sp, sp, #{slot_size}")
    if after:
        lines.append(f"{mnemonic} {{{', '.join(after)}}}")
    return "\n    ".join(lines)


# ARM restores with two pops: vpop {d8-d15} and pop {r0, r4-r11}.
ARMV7 = []
d_regs = [f"d{n}" for n in range(8, 16)]
for i, name in enumerate(d_regs):
    ARMV7.append((name, r"vpop\s+\{d8-d15\}", skip_in_pop("vpop   ", d_regs, 8, i)))
core = ["r0"] + [f"r{n}" for n in range(4, 12)]
for i, name in enumerate(core[1:], start=1):
    ARMV7.append((name, r"pop\s+\{r0, r4-r11\}", skip_in_pop("pop    ", core, 4, i)))
ARMV7 += [("fpscr", r"vmsr\s+fpscr,\s*r12", "nop")]

# RISC-V restores one register per load (LOAD_S(n), LOAD_FS(n)); the
# mutant loads into a temporary instead.
RISCV64 = [(f"s{n}", rf"LOAD_S\({n}\)", f"ld t3, TANDEM_FRAME_S({n})(sp)") for n in range(12)]
RISCV64 += [(f"fs{n}", rf"LOAD_FS\({n}\)", f"fld ft3, TANDEM_FRAME_FS({n})(sp)")
            for n in range(12)]
RISCV64 += [("frm", r"fsrm\s+t2", "nop")]

TARGETS = {
    "x86_64": ("asm/x86_64_sysv_elf_gas.S", X86_64, [], []),
    "aarch64": ("asm/aarch64_aapcs_elf_gas.S", AARCH64,
                [f"-DCMAKE_TOOLCHAIN_FILE={ROOT}/toolchains/aarch64-linux-gnu.cmake"],
                ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", "-E",
                 "LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib", "-cpu", "max,pauth-impdef=on"]),
    "armv7": ("asm/arm_aapcs_elf_gas.S", ARMV7,
              [f"-DCMAKE_TOOLCHAIN_FILE={ROOT}/toolchains/arm-linux-gnueabihf.cmake"],
              ["qemu-arm", "-L", "/usr/arm-linux-gnueabihf", "-E",
               "LD_LIBRARY_PATH=/usr/arm-linux-gnueabihf/lib", "-cpu", "cortex-a7"]),
    "riscv64": ("asm/riscv64_sysv_elf_gas.S", RISCV64,
                [f"-DCMAKE_TOOLCHAIN_FILE={ROOT}/toolchains/riscv64-linux-gnu.cmake"],
                ["qemu-riscv64", "-L", "/usr/riscv64-linux-gnu"]),
}


def mutate(text, pattern, replacement):
    """Applies the mutation once, in the restore half (after `mov sp`)."""
    switch = re.search(r"movq\s+%rdi, %rsp|mov\s+sp, x0|mov\s+sp, r1|mv\s+sp, a0", text)
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
                    "-DTANDEM_BUILD_TESTS=ON",
                    "-DTANDEM_BUILD_EXAMPLES=OFF", *cmake_args], check=True, stdout=subprocess.DEVNULL)
    asm_path = os.path.join(tree, source)
    original = open(asm_path).read()

    def test_passes():
        # Two jobs: the machines this runs on are shared.
        subprocess.run(["cmake", "--build", build, "--parallel", "2", "--target", "tandem_tests"],
                       check=True, stdout=subprocess.DEVNULL)
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
