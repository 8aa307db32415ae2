# TRELLIS_BUILD_FUZZERS: fuzz targets (off by default, never built by a normal
# build). With clang they are libFuzzer binaries and our code is compiled with
# coverage instrumentation; with GCC they link fuzz/standalone_main.cc, which
# replays files or runs pseudo-random inputs. Combine with
# TRELLIS_SANITIZE=address. Example (Debian 12: apt-get install clang-16
# libclang-rt-16-dev):
#   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-16 \
#     -DCMAKE_C_COMPILER=clang-16 -DTRELLIS_SANITIZE=address -DTRELLIS_BUILD_FUZZERS=ON \
#     -DTRELLIS_BUILD_INTEGRATION_TESTS=OFF -DTRELLIS_BUILD_BENCHMARKS=OFF -DTRELLIS_BUILD_TOOLS=OFF
#   cmake --build build-fuzz --target split_queue_fuzz
# scripts/fuzz does all of this and runs the targets (docs/fuzzing.md).
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 19)
  # Clang before 19 reports __cpp_concepts 201907L, which hides libstdc++'s
  # <expected> (runtime/error.h needs it) although clang 16+ implements what
  # it uses (P0848). Clang 14 and 15 cannot compile it at all.
  add_compile_options(-D__cpp_concepts=202002L -Wno-builtin-macro-redefined -Wno-macro-redefined)
endif()

set(TRELLIS_FUZZ_WITH_LIBFUZZER OFF)
if(TRELLIS_BUILD_FUZZERS AND CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  set(TRELLIS_FUZZ_WITH_LIBFUZZER ON)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# trellis_fuzzer(NAME SOURCES ... DEPS ... [CORPUS dir] [DICT file]): a fuzz
# target, built only with TRELLIS_BUILD_FUZZERS. With CORPUS, ctest entry
# NAME_corpus replays the seed files (both libFuzzer and the standalone driver
# run files given as arguments once). DICT is a libFuzzer dictionary
# (-dict=) for scripts/fuzz. Every target is listed, one line of
# "NAME<TAB>CORPUS<TAB>DICT", in ${CMAKE_BINARY_DIR}/fuzz_targets.tsv, which
# scripts/fuzz reads.
function(trellis_fuzzer name)
  if(NOT TRELLIS_BUILD_FUZZERS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "CORPUS;DICT" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  trellis_warnings(${name})
  if(TRELLIS_FUZZ_WITH_LIBFUZZER)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  else()
    target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/virtio/fuzz/standalone_main.cc)
  endif()
  if(ARG_CORPUS)
    file(GLOB seeds CONFIGURE_DEPENDS ${ARG_CORPUS}/*)
    add_test(NAME ${name}_corpus COMMAND ${name} ${seeds})
  endif()
  set_property(GLOBAL APPEND_STRING PROPERTY TRELLIS_FUZZ_TARGETS
    "${name}\t${ARG_CORPUS}\t${ARG_DICT}\n")
endfunction()

# Writes fuzz_targets.tsv once every directory has declared its targets.
function(_trellis_write_fuzz_targets)
  get_property(targets GLOBAL PROPERTY TRELLIS_FUZZ_TARGETS)
  file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/fuzz_targets.tsv CONTENT "${targets}" @ONLY)
endfunction()
if(TRELLIS_BUILD_FUZZERS)
  cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL _trellis_write_fuzz_targets)
endif()
