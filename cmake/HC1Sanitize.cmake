# Sanitizer builds of existing targets, for tests that must fail on any
# out-of-bounds access, leak or undefined behaviour rather than only on a
# crash.  The copies sit beside the normal targets in the same build tree, so
# CTest runs both and the normal build stays optimised.

set(HC1_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=all
  -fno-omit-frame-pointer)

# hc1_sanitized_copy(<target> <copy> [OPTIONS <flag>...] [LINK <lib>...])
#
# Adds <copy>, a static library of <target>'s sources with its include
# directories and compile definitions, compiled with HC1_SANITIZE_FLAGS and
# OPTIONS.  <copy> links LINK (PUBLIC) instead of <target>'s own libraries:
# a sanitized copy must link the sanitized copies of its dependencies, which
# only the caller knows.
function(hc1_sanitized_copy target copy)
  cmake_parse_arguments(arg "" "" "OPTIONS;LINK" ${ARGN})
  get_target_property(srcs ${target} SOURCES)
  get_target_property(dir ${target} SOURCE_DIR)
  list(TRANSFORM srcs PREPEND ${dir}/ REGEX "^[^/]")
  add_library(${copy} STATIC ${srcs})
  get_target_property(incs ${target} INCLUDE_DIRECTORIES)
  if(incs)
    target_include_directories(${copy} PUBLIC ${incs})
  endif()
  get_target_property(defs ${target} COMPILE_DEFINITIONS)
  if(defs)
    target_compile_definitions(${copy} PRIVATE ${defs})
  endif()
  target_compile_options(${copy} PRIVATE ${arg_OPTIONS} ${HC1_SANITIZE_FLAGS})
  target_link_options(${copy} PUBLIC ${HC1_SANITIZE_FLAGS})
  target_link_libraries(${copy} PUBLIC Threads::Threads ${arg_LINK})
endfunction()
