# Installs the built library into a scratch prefix, then builds and runs a consumer
# project against it with find_package (C and C++) and compiles one file with pkg-config.
# Run by CTest: cmake -DBUILD_DIR=... -DSOURCE_DIR=... -P check_install.cmake
set(prefix "${BUILD_DIR}/install-check/prefix")
set(consumer_build "${BUILD_DIR}/install-check/consumer")
file(REMOVE_RECURSE "${BUILD_DIR}/install-check")

function(run_checked)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

run_checked(${CMAKE_COMMAND} --install "${BUILD_DIR}" --prefix "${prefix}")
run_checked(${CMAKE_COMMAND} -S "${SOURCE_DIR}/tests/consumer" -B "${consumer_build}"
            "-DCMAKE_PREFIX_PATH=${prefix}")
run_checked(${CMAKE_COMMAND} --build "${consumer_build}")
run_checked("${consumer_build}/consumer_c")
run_checked("${consumer_build}/consumer_cxx")

# pkg-config: compile and link the C consumer with the flags flightmem.pc gives.
find_program(PKG_CONFIG pkg-config REQUIRED)
file(GLOB_RECURSE pc_files "${prefix}/*/flightmem.pc")
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir "${pc_file}" DIRECTORY)
set(ENV{PKG_CONFIG_PATH} "${pc_dir}")
execute_process(COMMAND ${PKG_CONFIG} --cflags --libs --static flightmem OUTPUT_VARIABLE flags
                RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "pkg-config does not know flightmem")
endif()
separate_arguments(flags UNIX_COMMAND "${flags}")
run_checked(cc -std=c11 "${SOURCE_DIR}/tests/consumer/consumer.c" -o "${consumer_build}/consumer_pc"
            ${flags})
# The scratch prefix is not on the loader's path: name it for the shared library.
string(REGEX REPLACE "/pkgconfig$" "" libdir "${pc_dir}")
run_checked(${CMAKE_COMMAND} -E env "LD_LIBRARY_PATH=${libdir}" "${consumer_build}/consumer_pc")
