# Runs an example and compares its stdout, byte for byte, with an expected
# file (stderr, where examples print timings, is not compared).
#   cmake "-DCOMMAND=emulator;program;args" -DEXPECTED=file -P compare_stdout.cmake
execute_process(COMMAND ${COMMAND} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${COMMAND} exited with ${rc}")
endif()
file(READ ${EXPECTED} expected)
if(NOT out STREQUAL expected)
  message(FATAL_ERROR "stdout differs from ${EXPECTED}\n--- got ---\n${out}--- expected ---\n${expected}")
endif()
