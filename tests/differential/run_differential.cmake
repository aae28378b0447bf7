# Runs generate.py (CPython's traces of random generator scenarios), then
# the replay over tandem::coroutine, which must agree on every scenario.
#   cmake -DPYTHON=python3 -DGENERATE=generate.py -DSEED=s -DCOUNT=n [-DFAMILY=f]
#         -DSCENARIOS=out.txt "-DREPLAY=emulator;replay" -P run_differential.cmake
# FAMILY: generate.py's --family (plain when not given).
# REPLAY starts with the cross-compiling emulator's command, if any.
if(NOT DEFINED FAMILY)
  set(FAMILY plain)
endif()
execute_process(
  # -B: no __pycache__ in the source tree.
  COMMAND ${PYTHON} -B ${GENERATE} --seed ${SEED} --count ${COUNT} --family ${FAMILY}
          --out ${SCENARIOS}
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "generate.py exited with ${rc}")
endif()
execute_process(COMMAND ${REPLAY} ${SCENARIOS} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
message("${out}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the replay exited with ${rc}; scenarios in ${SCENARIOS}")
endif()
# All of them ran: a replay that skipped scenarios would still exit 0.
if(NOT out MATCHES "(^|\n)${COUNT} passed, 0 failed\n$")
  message(FATAL_ERROR "the replay did not report ${COUNT} passed, 0 failed")
endif()
