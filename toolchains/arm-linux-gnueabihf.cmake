# Cross-compiles tandem for 32-bit ARM Linux, hard float (armhf: Raspberry
# Pi OS 32-bit on a Pi 2 or later, BeagleBone, ...), with Debian's
# g++-arm-linux-gnueabihf, and runs the tests through qemu-arm.
#
#   apt-get install g++-arm-linux-gnueabihf qemu-user
#   dpkg --add-architecture armhf && apt-get update && apt-get install libgtest-dev:armhf
#   cmake -B build-armhf -DCMAKE_TOOLCHAIN_FILE=toolchains/arm-linux-gnueabihf.cmake
#
# The code assumes what Debian's armhf compiler assumes by default:
# -march=armv7-a+fp -mfpu=vfpv3-d16 -mfloat-abi=hard -mthumb (Thumb-2 code;
# the assembly is ARM code and interworks with it). ARMv6 boards (Pi 1 and
# Zero) are not covered. For a board, copy the binaries over; nothing here
# is needed to run them.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_LIBRARY_ARCHITECTURE arm-linux-gnueabihf)

set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_ASM_COMPILER arm-linux-gnueabihf-gcc)

# Headers and libraries of the target come from Debian multiarch
# (/usr/lib/arm-linux-gnueabihf) and the cross sysroot; programs from the host.
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# ctest runs every test through qemu, on a Cortex-A7 (the Pi 2's core).
# -L and the guest's LD_LIBRARY_PATH keep the cross sysroot's loader and
# libc together, as in aarch64-linux-gnu.cmake: multiarch libc6:armhf is
# another glibc build.
set(CMAKE_CROSSCOMPILING_EMULATOR
    qemu-arm;-L;/usr/arm-linux-gnueabihf;-E;LD_LIBRARY_PATH=/usr/arm-linux-gnueabihf/lib;-cpu;cortex-a7)
