# Helpers that give every first-party target the same warnings and layout.

# Our own code is warning-clean; generated and third-party code is not held to it.
function(trellis_warnings target)
  # Designated initializers that omit defaulted members are how options
  # structs are meant to be used, so that one warning is off.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers)
endfunction()

# trellis_library(NAME [SHARED] SOURCES ... DEPS ...): a library of our code;
# static unless SHARED (the runtime is shared: driver .so files link it).
function(trellis_library name)
  cmake_parse_arguments(ARG "SHARED" "" "SOURCES;DEPS" ${ARGN})
  if(ARG_SHARED)
    add_library(${name} SHARED ${ARG_SOURCES})
  else()
    add_library(${name} STATIC ${ARG_SOURCES})
  endif()
  target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>)
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
  if("integration" IN_LIST ARG_LABELS AND NOT TRELLIS_BUILD_INTEGRATION_TESTS)
    return()
  endif()
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

# trellis_add_driver(NAME SOURCES ... MANIFEST file.json): a driver library
# (lib<NAME>.so) and its manifest, both placed in ${TRELLIS_DRIVER_DIR}, the
# driver directory the manager scans. MANIFESTS a.json b.json ... copies
# several manifests (variants sharing the one .so), alone or with MANIFEST.
set(TRELLIS_DRIVER_DIR ${CMAKE_BINARY_DIR}/drivers)
# OUTPUT_DIR puts test-only drivers elsewhere, out of the shipped set.
function(trellis_add_driver name)
  cmake_parse_arguments(ARG "" "MANIFEST;OUTPUT_DIR" "SOURCES;DEPS;MANIFESTS" ${ARGN})
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${TRELLIS_DRIVER_DIR})
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE trellis_runtime ${ARG_DEPS})
  set_target_properties(${name} PROPERTIES
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR}
    CXX_VISIBILITY_PRESET hidden)
  trellis_warnings(${name})
  foreach(manifest IN LISTS ARG_MANIFEST ARG_MANIFESTS)
    get_filename_component(manifest_name ${manifest} NAME)
    configure_file(${manifest} ${ARG_OUTPUT_DIR}/${manifest_name} COPYONLY)
  endforeach()
  if(ARG_OUTPUT_DIR STREQUAL TRELLIS_DRIVER_DIR)
    # Shipped: cmake --install puts it in lib/trellis/drivers (cmake/Install.cmake).
    set_property(GLOBAL APPEND PROPERTY TRELLIS_SHIPPED_DRIVERS ${name})
    set_property(GLOBAL APPEND PROPERTY TRELLIS_SHIPPED_MANIFESTS ${ARG_MANIFEST} ${ARG_MANIFESTS})
  endif()
endfunction()
