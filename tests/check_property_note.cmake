# Assembles one context-switch file with the given flags and checks that
# readelf -n shows the expected GNU property line.
#   cmake -DCC=... -DFLAGS=... -DSOURCE=... -DINCLUDES=... -DREADELF=...
#         -DEXPECT=... [-DREJECT=...] -DOUT=... -P check_property_note.cmake
separate_arguments(flags UNIX_COMMAND "${FLAGS}")
separate_arguments(includes UNIX_COMMAND "${INCLUDES}")
execute_process(COMMAND ${CC} ${flags} ${includes} -c ${SOURCE} -o ${OUT}
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "assembling ${SOURCE} failed: ${err}")
endif()
execute_process(COMMAND ${READELF} -n ${OUT} OUTPUT_VARIABLE notes)
message("${notes}")
string(FIND "${notes}" "${EXPECT}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "readelf -n does not show '${EXPECT}'")
endif()
if(REJECT)
  string(FIND "${notes}" "${REJECT}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "readelf -n shows '${REJECT}', which it must not claim")
  endif()
endif()
