# Cross-compiles tandem for 64-bit ARM Linux with Debian's
# g++-aarch64-linux-gnu, and runs the tests through qemu-aarch64.
#
#   apt-get install g++-aarch64-linux-gnu qemu-user
#   dpkg --add-architecture arm64 && apt-get update && apt-get install libgtest-dev:arm64
#   cmake -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake
#
# For a board, copy the binaries over; nothing here is needed to run them.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_ASM_COMPILER aarch64-linux-gnu-gcc)

# Branch protection for our own code too (BTI landing pads, PAC-signed
# return addresses), so that the property note survives the link.
set(CMAKE_C_FLAGS_INIT "-mbranch-protection=standard")
set(CMAKE_CXX_FLAGS_INIT "-mbranch-protection=standard")

# Headers and libraries of the target come from Debian multiarch
# (/usr/lib/aarch64-linux-gnu) and the cross sysroot; programs from the host.
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# ctest runs every test through qemu. -cpu max with pauth-impdef turns on
# pointer authentication (enforced) at a bearable speed under emulation.
# -L makes qemu take the dynamic loader from the cross sysroot; the guest's
# LD_LIBRARY_PATH makes that loader take libc from there too. Without it,
# once Debian's multiarch libc6:arm64 is installed (any :arm64 library pulls
# it in), the cross loader would pair with the multiarch libc.so.6, another
# glibc build, and abort() and fork() hang in the guest.
set(CMAKE_CROSSCOMPILING_EMULATOR
    qemu-aarch64;-L;/usr/aarch64-linux-gnu;-E;LD_LIBRARY_PATH=/usr/aarch64-linux-gnu/lib;-cpu;max,pauth-impdef=on)
