# Dreamcast's CPU (Hitachi SH-4), freestanding: Debian's sh4 C library does not work under
# emulation, so nothing links a C library. The allocators build with -ffreestanding over the
# freestanding platform backend, and the test brings its own _start (tests/freestanding/).
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR sh4)
set(CMAKE_C_COMPILER sh4-linux-gnu-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
# gcc may turn a byte loop into a call to memcpy: not inside memcpy itself.
set(CMAKE_C_FLAGS_INIT "-ffreestanding -fno-tree-loop-distribute-patterns")
set(CMAKE_EXE_LINKER_FLAGS_INIT "-nostdlib -static")
set(CMAKE_C_STANDARD_LIBRARIES "-lgcc")
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-sh4)
set(FLMEM_PLATFORM freestanding CACHE STRING "" FORCE)
