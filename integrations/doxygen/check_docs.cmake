cmake_minimum_required(VERSION 3.20)
# Builds the API reference and checks it (cmake -P, with DOXYGEN, SOURCE_DIR, OUT_DIR):
# - doxygen succeeds and writes the file page and the main page;
# - every warning is an "is not documented" one (no broken commands, links or markup);
# - no public function is undocumented except those in docs/doxygen_grouped.txt, which
#   share their neighbour's comment; and every function listed there still exists and is
#   still reported (a stale list fails too, so it cannot silently grow);
# - the pages of the central calls were generated.
file(REMOVE_RECURSE ${OUT_DIR})
file(MAKE_DIRECTORY ${OUT_DIR})
set(ENV{FLMEM_SOURCE_DIR} ${SOURCE_DIR})
set(ENV{FLMEM_DOCS_OUT} ${OUT_DIR})
set(ENV{FLMEM_DOCS_WARNINGS} ${OUT_DIR}/warnings.log)
execute_process(COMMAND ${DOXYGEN} ${SOURCE_DIR}/docs/Doxyfile WORKING_DIRECTORY ${SOURCE_DIR}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "doxygen failed (${rc}):\n${out}\n${err}")
endif()
foreach(page index.html memory_8h.html)
  if(NOT EXISTS ${OUT_DIR}/html/${page})
    message(FATAL_ERROR "doxygen wrote no html/${page}")
  endif()
endforeach()

file(STRINGS ${OUT_DIR}/warnings.log warnings)
set(problems "")
set(undocumented "")
foreach(w IN LISTS warnings)
  if(NOT w MATCHES "is not documented")
    string(APPEND problems "  ${w}\n")
  elseif(w MATCHES "Member ([A-Za-z0-9_]+)\\(.*\\(function\\)")
    list(APPEND undocumented ${CMAKE_MATCH_1})
  endif()
endforeach()
file(STRINGS ${SOURCE_DIR}/docs/doxygen_grouped.txt grouped REGEX "^[a-z]")
foreach(f IN LISTS undocumented)
  if(NOT f IN_LIST grouped)
    string(APPEND problems "  public function ${f} has no comment of its own\n")
  endif()
endforeach()
foreach(f IN LISTS grouped)
  if(NOT f IN_LIST undocumented)
    string(APPEND problems "  docs/doxygen_grouped.txt lists ${f}, which is documented now (or gone): remove it\n")
  endif()
endforeach()

file(READ ${OUT_DIR}/html/memory_8h.html page)
foreach(name fl_memory_create fl_memory_allocate_request fl_memory_reallocate fl_allocator_create
        fl_memory_config fl_platform_hooks)
  string(FIND "${page}" "${name}" at)
  if(at EQUAL -1)
    string(APPEND problems "  ${name} is missing from the header's page\n")
  endif()
endforeach()
# A sentence from a function's comment, so the filter is known to have done its work.
string(FIND "${page}" "Resizes an allocation" at)
if(at EQUAL -1)
  string(APPEND problems "  fl_memory_reallocate's comment did not reach the reference (docs/doxygen_filter.sh)\n")
endif()

list(LENGTH warnings nw)
list(LENGTH undocumented nf)
if(problems)
  message(FATAL_ERROR "API reference problems:\n${problems}")
endif()
message(STATUS "API reference in ${OUT_DIR}/html: ${nw} undocumented-item warnings (${nf} grouped functions), no other warnings")
