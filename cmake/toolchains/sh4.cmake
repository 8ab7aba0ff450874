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
# Debian's sh4-linux-gnu-gcc 12.2 generates wrong code at every optimisation level (-O1,
# -O2, -Os, -Og): its sh_treg_combine pass takes a plain load for a T-bit store and deletes
# the `tst` before a conditional branch, so `return *a != 0 && *b != 0;` branches on a stale
# T bit (see `-fdump-rtl-sh_treg_combine2`). The pass runs only when optimising, and there is
# no flag to turn it off, so the emulated SH-4 build is not optimised, whatever the build type.
foreach(config DEBUG RELEASE RELWITHDEBINFO MINSIZEREL)
  set(CMAKE_C_FLAGS_${config} "-O0 -g" CACHE STRING "sh4: no optimisation (gcc 12.2 bug)" FORCE)
endforeach()
