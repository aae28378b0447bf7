# How a user's project finds tandem, every way the README names:
#  1. find_package(tandem CONFIG REQUIRED) after `cmake --install`;
#  2. add_subdirectory on the source tree;
#  3. pkg-config, after an install, for a C++ generator program (g++) and a
#     C program on context.h (gcc), once against this build's library and
#     once against the other kind (static or shared), built here from the
#     same sources.
# Each consumer is built, then run. It gets the flags tandem was built with
# (a sanitizer build's library needs its runtime at link time).
#   cmake -DTANDEM_BUILD_DIR=... -DTANDEM_SOURCE_DIR=... -DWORK=... -DGENERATOR=...
#         -DCC=... -DCXX=... -DPKG_CONFIG=... -DSHARED=ON|OFF
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

# The other kind of library: the library alone, from the same sources.
if(SHARED)
  set(other_shared OFF)
else()
  set(other_shared ON)
endif()
run(${CMAKE_COMMAND} -S ${TANDEM_SOURCE_DIR} -B ${WORK}/other-build -G ${GENERATOR}
    -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=${other_shared}
    -DTANDEM_BUILD_TESTS=OFF -DTANDEM_BUILD_EXAMPLES=OFF -DTANDEM_BUILD_BENCH=OFF
    -DCMAKE_C_COMPILER=${CC} -DCMAKE_CXX_COMPILER=${CXX}
    "-DCMAKE_C_FLAGS=${C_FLAGS}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    "-DCMAKE_SHARED_LINKER_FLAGS=${EXE_LINKER_FLAGS}")
run(${CMAKE_COMMAND} --build ${WORK}/other-build)
run(${CMAKE_COMMAND} --install ${WORK}/other-build --prefix ${WORK}/other-prefix)

# pkg-config, as a Makefile would call it. The prefixes were chosen at
# install time, so this also checks that tandem.pc is relocatable.
separate_arguments(c_flags UNIX_COMMAND "${C_FLAGS}")
separate_arguments(cxx_flags UNIX_COMMAND "${CXX_FLAGS}")
separate_arguments(link_flags UNIX_COMMAND "${EXE_LINKER_FLAGS}")
foreach(prefix ${WORK}/prefix ${WORK}/other-prefix)
  file(GLOB_RECURSE pc_files ${prefix}/*/tandem.pc)
  list(LENGTH pc_files pc_count)
  if(NOT pc_count EQUAL 1)
    message(FATAL_ERROR "expected one tandem.pc under ${prefix}, found: ${pc_files}")
  endif()
  get_filename_component(pc_dir ${pc_files} DIRECTORY)
  get_filename_component(lib_dir ${pc_dir} DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} ${pc_dir})
  execute_process(COMMAND ${PKG_CONFIG} --cflags --libs tandem
    OUTPUT_VARIABLE pc_flags RESULT_VARIABLE rc OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config --cflags --libs tandem failed under ${prefix}")
  endif()
  separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
  set(out ${prefix}/bin)
  file(MAKE_DIRECTORY ${out})
  run(${CXX} -std=c++20 ${cxx_flags} ${CMAKE_CURRENT_LIST_DIR}/generator.cpp
      ${pc_flags} ${link_flags} -o ${out}/generator)
  run(${CC} ${c_flags} ${CMAKE_CURRENT_LIST_DIR}/context.c ${pc_flags} ${link_flags}
      -o ${out}/context)
  # A shared libtandem is found at run time the way a user would point to it.
  set(ENV{LD_LIBRARY_PATH} ${lib_dir})
  run(${out}/generator)
  run(${out}/context)
  message(STATUS "pkg-config consumers against ${prefix}: ok (${pc_flags})")
endforeach()
