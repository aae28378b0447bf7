# Cross-compiles tandem for 64-bit RISC-V Linux (RV64GC, LP64D: VisionFive 2,
# Milk-V, ...) with Debian's g++-riscv64-linux-gnu, and runs the tests
# through qemu-riscv64.
#
#   apt-get install g++-riscv64-linux-gnu qemu-user googletest
#   cmake -B build-riscv64 -DCMAKE_TOOLCHAIN_FILE=toolchains/riscv64-linux-gnu.cmake
#
# The code assumes what Debian's riscv64 compiler assumes by default:
# -march=rv64gc (rv64imafdc_zicsr_zifencei) -mabi=lp64d. Debian 12 ships no
# riscv64 multiarch packages, so the tests build GoogleTest from
# /usr/src/googletest (package googletest) with the cross compiler
# (tests/CMakeLists.txt). For a board, copy the binaries over; nothing here
# is needed to run them.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR riscv64)
set(CMAKE_LIBRARY_ARCHITECTURE riscv64-linux-gnu)

set(CMAKE_C_COMPILER riscv64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER riscv64-linux-gnu-g++)
set(CMAKE_ASM_COMPILER riscv64-linux-gnu-gcc)

# Headers and libraries of the target come from the cross sysroot only;
# programs from the host.
set(CMAKE_FIND_ROOT_PATH /usr/riscv64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest runs every test through qemu; -L makes qemu take the dynamic loader
# and libraries from the cross sysroot.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-riscv64;-L;/usr/riscv64-linux-gnu)
