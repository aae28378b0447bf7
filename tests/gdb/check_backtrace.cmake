# Runs gdb in batch mode on the fresh_context program, stopped inside a
# fresh context, and checks that `bt` walks body frames and ends at the
# context's entry trampoline, with no garbage frames past it.
#   cmake -DGDB=... -DPROGRAM=... -P check_backtrace.cmake
execute_process(
  COMMAND ${GDB} -nx -batch -ex "break stop_here" -ex run -ex bt ${PROGRAM}
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
message("${out}")
string(REGEX MATCHALL "\n#[0-9]+ [^\n]*" frames "\n${out}")
list(LENGTH frames count)
if(NOT count EQUAL 3)
  message(FATAL_ERROR "expected 3 frames (stop_here, fresh_entry, tandem_context_start), got ${count}\n${err}")
endif()
list(GET frames 0 f0)
list(GET frames 1 f1)
list(GET frames 2 f2)
if(NOT f0 MATCHES "stop_here" OR NOT f1 MATCHES "fresh_entry" OR NOT f2 MATCHES "tandem_context_start")
  message(FATAL_ERROR "unexpected frames:${f0}${f1}${f2}")
endif()
if(out MATCHES "Backtrace stopped" OR out MATCHES "corrupt" OR out MATCHES "\\?\\? \\(")
  message(FATAL_ERROR "the backtrace did not end cleanly")
endif()
