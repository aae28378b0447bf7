# AArch64: whether the inline switch signs resume addresses is the
# library's choice, and a program must make it throughout
# (include/tandem/detail/switch_aarch64.hpp). Builds a small user of the
# library both ways: the library's own choice must link, and the other must
# fail to link, naming the symbol of its choice.
#   cmake -DCXX=... -DSOURCE=... -DINCLUDES=... -DLIBRARY=... -DOUT=...
#         [-DCXX_FLAGS=...] [-DEXE_LINKER_FLAGS=...] -P check_switch_abi.cmake
# CXX_FLAGS and EXE_LINKER_FLAGS: the build's own (a sanitizer's runtime,
# a sysroot), with which its library links.
separate_arguments(includes UNIX_COMMAND "${INCLUDES}")
separate_arguments(cxx_flags UNIX_COMMAND "${CXX_FLAGS}")
separate_arguments(link_flags UNIX_COMMAND "${EXE_LINKER_FLAGS}")
set(linked "")
foreach(choice signed unsigned)
  if(choice STREQUAL "signed")
    set(flag "-DTANDEM_AARCH64_SIGN_RESUME_ADDRESSES=1")
  else()
    set(flag "-DTANDEM_AARCH64_SIGN_RESUME_ADDRESSES=0")
  endif()
  execute_process(COMMAND ${CXX} ${cxx_flags} -std=c++20 -O1 ${flag} ${includes} ${SOURCE}
                          ${LIBRARY} ${link_flags} -pthread -o ${OUT}-${choice}
    RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
  if(rc EQUAL 0)
    list(APPEND linked ${choice})
  else()
    string(FIND "${err}" "undefined reference to `tandem_abi_aarch64_resume_addresses_${choice}'" at)
    if(at EQUAL -1)
      message(FATAL_ERROR "built with ${flag}, the user failed to link for another reason:\n${err}")
    endif()
    message("${flag}: refused at link, as expected")
  endif()
endforeach()
list(LENGTH linked n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "exactly one choice must link; these did: '${linked}'")
endif()
message("the library's choice (${linked}) links")
