# Naming (mn_) and path (mpa_) modules of the sans-I/O core: the lines their owner
# needs, for the owner of stack/CMakeLists.txt and tests/stack/CMakeLists.txt to fold in.
#
#   stack (or stack/core) CMakeLists.txt:
#     include(${CMAKE_CURRENT_SOURCE_DIR}/core/CMakeLists.fragment-naming.cmake)
#     target_sources(<core library> PRIVATE ${MSGR_NAMING_PATH_SOURCES})
#     target_include_directories(<core library> PUBLIC ${MSGR_NAMING_PATH_INCLUDE})
#   tests/stack/CMakeLists.txt (after the core library and the codec exist):
#     msgr_naming_path_tests(<core library, or the codec target if the core is absent>)
#
# Both modules depend only on the codec (mp/mp.h: names, patterns, NAME_SYNC walk,
# serial arithmetic) and libc's string functions; no OS, no clock.

set(MSGR_NAMING_PATH_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/naming.c
  ${CMAKE_CURRENT_LIST_DIR}/path.c)
set(MSGR_NAMING_PATH_INCLUDE ${CMAKE_CURRENT_LIST_DIR})
set(MSGR_NAMING_PATH_TEST_DIR ${CMAKE_CURRENT_LIST_DIR}/../../tests/stack)

# Unit tests: literal timestamps, counting allocator with failure injection, frames
# round-tripped through mp_encode/mp_decode.  `link_target` provides the codec and, if
# it is the core library, naming.c/path.c; otherwise the sources are compiled in.
function(msgr_naming_path_tests link_target)
  foreach(t naming path)
    if(TARGET test_stack_${t})
      continue()
    endif()
    add_executable(test_stack_${t} ${MSGR_NAMING_PATH_TEST_DIR}/test_${t}.c)
    get_target_property(_srcs ${link_target} SOURCES)
    if(NOT _srcs MATCHES "naming\\.c")
      target_sources(test_stack_${t} PRIVATE ${MSGR_NAMING_PATH_INCLUDE}/${t}.c)
    endif()
    target_include_directories(test_stack_${t} PRIVATE ${MSGR_NAMING_PATH_INCLUDE})
    target_link_libraries(test_stack_${t} PRIVATE ${link_target})
    add_test(NAME stack_${t} COMMAND test_stack_${t})
    set_tests_properties(stack_${t} PROPERTIES TIMEOUT 60)
  endforeach()
endfunction()
