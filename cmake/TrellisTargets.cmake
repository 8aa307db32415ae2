# Helpers that give every first-party target the same warnings and layout.

# Our own code is warning-clean; generated and third-party code is not held to it.
function(trellis_warnings target)
  # Designated initializers that omit defaulted members are how options
  # structs are meant to be used, so that one warning is off.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers)
endfunction()

# trellis_library(NAME SOURCES ... DEPS ...): a static library of our code.
function(trellis_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  trellis_warnings(${name})
endfunction()

# trellis_test(NAME SOURCES ... DEPS ... [LABELS ...]): a GoogleTest binary
# registered with ctest, one ctest entry per test case.
function(trellis_test name)
  if(NOT TRELLIS_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  trellis_warnings(${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 30
    PROPERTIES TIMEOUT ${ARG_TIMEOUT} LABELS "${ARG_LABELS}")
endfunction()

include(GoogleTest)
