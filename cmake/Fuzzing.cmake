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

# trellis_fuzzer(NAME SOURCES ... DEPS ... [CORPUS dir]): a fuzz target, built
# only with TRELLIS_BUILD_FUZZERS. With CORPUS, ctest entry NAME_corpus replays
# the seed files (both libFuzzer and the standalone driver run files given as
# arguments once).
function(trellis_fuzzer name)
  if(NOT TRELLIS_BUILD_FUZZERS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "CORPUS" "SOURCES;DEPS" ${ARGN})
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
endfunction()
