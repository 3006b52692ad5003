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

# The table service beside dynalite and the echo floor (bench/table.sh); CI checks it runs.
add_test(NAME bench_table_smoke
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/table.sh --quick --build-dir ${CMAKE_BINARY_DIR})
set_tests_properties(bench_table_smoke PROPERTIES LABELS bench TIMEOUT 600 RUN_SERIAL TRUE)

# Image pull + unpack from a local docker-registry, beside skopeo copy + umoci unpack.
add_test(NAME bench_image_pull_smoke
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/image_pull.sh --quick --build-dir ${CMAKE_BINARY_DIR})
set_tests_properties(bench_image_pull_smoke PROPERTIES LABELS bench TIMEOUT 300)

# Warm invokes at 1-256 clients, a cold-start storm and idle-environment memory
# (bench/invoke_scale.sh); CI checks it runs.
add_test(NAME bench_invoke_scale_smoke
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/invoke_scale.sh --quick --build-dir ${CMAKE_BINARY_DIR})
set_tests_properties(bench_invoke_scale_smoke PROPERTIES LABELS bench TIMEOUT 600 RUN_SERIAL TRUE)

# The object store's GET/PUT beside nginx serving the same files (bench/objects.sh); CI checks it
# runs.
add_test(NAME bench_objects_smoke
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/objects.sh --quick --build-dir ${CMAKE_BINARY_DIR})
set_tests_properties(bench_objects_smoke PROPERTIES LABELS bench TIMEOUT 300 RUN_SERIAL TRUE)

# A route through the gateway beside the direct Invoke API, nginx and the echo server
# (bench/gateway.sh); CI checks it runs.
add_test(NAME bench_gateway_smoke
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/gateway.sh --quick --build-dir ${CMAKE_BINARY_DIR})
set_tests_properties(bench_gateway_smoke PROPERTIES LABELS bench TIMEOUT 300 RUN_SERIAL TRUE)

# SnapStart's fork-server restore beside a cold start of the same heavy-init function
# (bench/snapshot_start.sh); CI checks it runs.
add_test(NAME bench_snapshot_start_smoke
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/snapshot_start.sh --quick --build-dir ${CMAKE_BINARY_DIR})
set_tests_properties(bench_snapshot_start_smoke PROPERTIES LABELS bench TIMEOUT 300 RUN_SERIAL TRUE)
