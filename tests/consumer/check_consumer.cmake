# Installs tandem from its build tree, then configures, builds and runs the
# consumer project twice: with find_package(tandem CONFIG REQUIRED) against
# the install, and with add_subdirectory on the source tree.
# The consumer gets the flags tandem was built with (a sanitizer build's
# library needs its runtime at link time).
#   cmake -DTANDEM_BUILD_DIR=... -DTANDEM_SOURCE_DIR=... -DWORK=... -DGENERATOR=...
#         [-DC_FLAGS=... -DCXX_FLAGS=... -DEXE_LINKER_FLAGS=...] -P check_consumer.cmake
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}")
  endif()
endfunction()

file(REMOVE_RECURSE ${WORK})
run(${CMAKE_COMMAND} --install ${TANDEM_BUILD_DIR} --prefix ${WORK}/prefix)
foreach(via find_package add_subdirectory)
  run(${CMAKE_COMMAND} -S ${CMAKE_CURRENT_LIST_DIR} -B ${WORK}/${via} -G ${GENERATOR}
      -DTANDEM_VIA=${via} -DTANDEM_SOURCE_DIR=${TANDEM_SOURCE_DIR}
      -DCMAKE_PREFIX_PATH=${WORK}/prefix
      "-DCMAKE_C_FLAGS=${C_FLAGS}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
      "-DCMAKE_EXE_LINKER_FLAGS=${EXE_LINKER_FLAGS}")
  run(${CMAKE_COMMAND} --build ${WORK}/${via})
  run(${WORK}/${via}/consumer)
  message(STATUS "consumer via ${via}: ok")
endforeach()
