# libFuzzer targets (clang only). fuzz/run builds them in their own build
# directory through a two-line wrapper project that includes this fragment;
# it can equally be included from the root CMakeLists.txt (under an option)
# when the compiler is clang. Everything here is prefixed fuzz_ so it never
# clashes with the regular targets: the code under test is compiled again
# with coverage instrumentation (-fsanitize=fuzzer-no-link) into fuzz_lib.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(STATUS "fuzz: needs clang, skipped")
  return()
endif()

get_filename_component(KONSEKI_FUZZ_ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(KONSEKI_FUZZ_SANITIZERS "address,undefined" CACHE STRING "sanitizers for fuzz targets")

# Static library: a fuzz target links only the objects it needs, so listener
# code that needs sockets or threads costs nothing.
file(GLOB fuzz_lib_sources
  ${KONSEKI_FUZZ_ROOT}/common/*.cc
  ${KONSEKI_FUZZ_ROOT}/receiver/*.cc)
add_library(fuzz_lib STATIC ${fuzz_lib_sources})
target_include_directories(fuzz_lib PUBLIC ${KONSEKI_FUZZ_ROOT})
target_compile_features(fuzz_lib PUBLIC cxx_std_20)
target_compile_options(fuzz_lib PUBLIC
  -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=all
  -fsanitize=fuzzer-no-link,${KONSEKI_FUZZ_SANITIZERS})
target_link_options(fuzz_lib PUBLIC -fsanitize=fuzzer,${KONSEKI_FUZZ_SANITIZERS})
find_package(Threads REQUIRED)
target_link_libraries(fuzz_lib PUBLIC Threads::Threads)

# One target per fuzz/<name>_fuzz.cc whose code under test exists.
set(fuzz_targets relp_frame relp_session)
if(EXISTS ${KONSEKI_FUZZ_ROOT}/receiver/framer.cc)
  list(APPEND fuzz_targets framer)
endif()
if(EXISTS ${KONSEKI_FUZZ_ROOT}/receiver/parser.cc)
  list(APPEND fuzz_targets parser)
endif()
foreach(t IN LISTS fuzz_targets)
  add_executable(fuzz_${t} ${CMAKE_CURRENT_LIST_DIR}/${t}_fuzz.cc)
  target_link_libraries(fuzz_${t} PRIVATE fuzz_lib)
endforeach()

# Writes the seed corpora (unit-test byte streams, shared corpus lines).
# Plain build (no libFuzzer main): it only needs the RELP frame encoder.
add_executable(fuzz_make_seeds ${CMAKE_CURRENT_LIST_DIR}/make_seeds.cc
  ${KONSEKI_FUZZ_ROOT}/receiver/relp_frame.cc)
target_include_directories(fuzz_make_seeds PRIVATE ${KONSEKI_FUZZ_ROOT})
target_compile_features(fuzz_make_seeds PRIVATE cxx_std_20)

# Coverage replay builds (fuzz/run with KONSEKI_FUZZ_COVERAGE=1): the same
# targets with source-based coverage instead of sanitizers, run over the
# corpus once (-runs=0) to report which lines the fuzzing reached.
option(KONSEKI_FUZZ_COVERAGE "also build fuzzcov_* coverage replay targets" OFF)
if(KONSEKI_FUZZ_COVERAGE)
  add_library(fuzzcov_lib STATIC ${fuzz_lib_sources})
  target_include_directories(fuzzcov_lib PUBLIC ${KONSEKI_FUZZ_ROOT})
  target_compile_features(fuzzcov_lib PUBLIC cxx_std_20)
  target_compile_options(fuzzcov_lib PUBLIC -g -O1 -fprofile-instr-generate -fcoverage-mapping)
  target_link_options(fuzzcov_lib PUBLIC -fsanitize=fuzzer -fprofile-instr-generate)
  target_link_libraries(fuzzcov_lib PUBLIC Threads::Threads)
  foreach(t IN LISTS fuzz_targets)
    add_executable(fuzzcov_${t} ${CMAKE_CURRENT_LIST_DIR}/${t}_fuzz.cc)
    target_link_libraries(fuzzcov_${t} PRIVATE fuzzcov_lib)
  endforeach()
endif()
