# Benchmark targets, included by bench/CMakeLists.txt. Benchmarks are never CI tests: CI only runs
# bench_smoke, which checks that invoke_warm.sh still runs end to end (in its --quick mode).

# The floor for any HTTP hop: a bare Beast echo server.
add_executable(bench_echo_server ${CMAKE_CURRENT_LIST_DIR}/echo_server.cc)
target_link_libraries(bench_echo_server PRIVATE Boost::boost Threads::Threads)
haneul_warnings(bench_echo_server)

# The C++ no-op function the benchmark deploys: ${CMAKE_BINARY_DIR}/examples/provided-noop/bootstrap.
if(NOT TARGET provided_noop)
  add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/../examples/provided-noop
                   ${CMAKE_BINARY_DIR}/examples/provided-noop)
endif()

add_test(NAME bench_smoke
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/invoke_warm.sh --quick --build-dir ${CMAKE_BINARY_DIR})
# RUN_SERIAL: the bench loads both cores and would skew, or time out, tests running beside it.
set_tests_properties(bench_smoke PROPERTIES LABELS bench TIMEOUT 600 RUN_SERIAL TRUE)

# Sandbox start: the namespace backend beside a plain fork+exec (the process backend).
add_executable(bench_sandbox_start ${CMAKE_CURRENT_LIST_DIR}/sandbox_start.cc)
target_link_libraries(bench_sandbox_start PRIVATE haneul::sandbox)
haneul_warnings(bench_sandbox_start)
add_test(NAME bench_sandbox_start_smoke
  COMMAND bench_sandbox_start ${CMAKE_BINARY_DIR}/examples/provided-noop/bootstrap 5)
set_tests_properties(bench_sandbox_start_smoke PROPERTIES LABELS bench TIMEOUT 120)
