# Build for the Web (wasm32, Emscripten); CTest runs every test under node.
#
#   cmake -S . -B build/wasm -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/emscripten.cmake
#   cmake --build build/wasm -j2 && ctest --test-dir build/wasm
#
# Why a toolchain file of our own rather than `emcmake cmake`: emcmake only points CMake at
# Emscripten's toolchain file, and its default emulator is a bare `node`; this file includes
# that same toolchain and adds what the suite needs, so plain cmake + ctest work like every
# other target in cmake/toolchains/ (emcmake on top of this file is harmless too).
set(CMAKE_C_COMPILER emcc)

# Emscripten's own toolchain file, found through em-config (any install: Debian's
# /usr/share/emscripten, emsdk's upstream/emscripten) or $EMSCRIPTEN.
if(NOT FLMEM_EMSCRIPTEN_ROOT)
  execute_process(COMMAND em-config EMSCRIPTEN_ROOT OUTPUT_VARIABLE FLMEM_EMSCRIPTEN_ROOT
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT FLMEM_EMSCRIPTEN_ROOT)
    set(FLMEM_EMSCRIPTEN_ROOT "$ENV{EMSCRIPTEN}")
  endif()
endif()
if(NOT EXISTS "${FLMEM_EMSCRIPTEN_ROOT}/cmake/Modules/Platform/Emscripten.cmake")
  message(FATAL_ERROR "Emscripten not found (em-config EMSCRIPTEN_ROOT gave '${FLMEM_EMSCRIPTEN_ROOT}'): "
                      "install it (Debian: apt-get install emscripten) or set EMSCRIPTEN")
endif()

# The emulator before Emscripten's file, which only sets a bare `node` when none is set.
# Node 18+ fetches with its own fetch() when it has one, which Emscripten 3.1.6's loader
# does not expect for a local .wasm file: --no-experimental-fetch makes it read the file.
find_program(FLMEM_NODE NAMES node nodejs REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR "${FLMEM_NODE};--no-experimental-fetch")
include("${FLMEM_EMSCRIPTEN_ROOT}/cmake/Modules/Platform/Emscripten.cmake")

set(FLMEM_PLATFORM emscripten CACHE STRING "" FORCE)

# Threads: everything is built with -pthread (SharedArrayBuffer + Web Workers, which node
# 20 has), so the platform's lock and condition-variable hooks are real pthreads and the
# suite's thread tests run real threads; a build without -pthread would only have stubs
# (src/platform/emscripten.c then offers no locks). No test runs more than 4 threads at
# once, and a worker must exist before pthread_create returns (main never yields to the
# event loop), hence a pool of 4 started with the program.
# Memory: the linear memory starts at 32 MiB (the examples' static 16 MiB "main RAM" plus
# the 5 MiB stack do not fit Emscripten's default 16 MiB) and grows on demand up to 1 GiB
# (what the WEB profile's budget and the platform's physical_memory report), enough for
# the largest test with room to spare; malloc returns NULL at the cap. EXIT_RUNTIME: exit() ends node even with the
# pool's workers alive.
# --pre-js: Emscripten programs see a made-up environment, not node's; the suite reads
# FLMEM_TEST_SCALE and FLMEM_TEST_SEED from it, so the FLMEM_* variables are copied in.
set(CMAKE_C_FLAGS_INIT "-pthread")
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "-pthread -sPTHREAD_POOL_SIZE=4 -sINITIAL_MEMORY=32mb -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=1gb -sEXIT_RUNTIME=1 \
-Wno-pthreads-mem-growth --pre-js \"${CMAKE_CURRENT_LIST_DIR}/emscripten-env.js\"")

# emcc runs node tools (acorn) when optimising at link time; Debian installs the node
# modules they need in /usr/share/nodejs, outside node's default search path.
if(EXISTS /usr/share/nodejs/acorn)
  set(FLMEM_NODE_PATH "/usr/share/nodejs")
  if(DEFINED ENV{NODE_PATH} AND NOT "$ENV{NODE_PATH}" STREQUAL "")
    string(APPEND FLMEM_NODE_PATH ":$ENV{NODE_PATH}")
  endif()
  set(CMAKE_C_LINKER_LAUNCHER env "NODE_PATH=${FLMEM_NODE_PATH}") # the build's links
  set(ENV{NODE_PATH} "${FLMEM_NODE_PATH}")                         # configure's checks
endif()
