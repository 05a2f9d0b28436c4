# sild_library(NAME SOURCES ... DEPS ...): a static library of project code.
function(sild_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${SILD_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# sild_binary(NAME SOURCES ... DEPS ...): an executable of project code.
function(sild_binary name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${SILD_WARNINGS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
endfunction()

# sild_test(NAME SOURCES ... DEPS ... [LABELS ...] [TIMEOUT s]): a GoogleTest
# binary registered with CTest. Tests run from the repository root so that
# ../shared/... paths resolve as documented.
function(sild_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${SILD_WARNINGS})
  target_compile_definitions(${name} PRIVATE
    SILD_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    SILD_SHARED_DIR="${SILD_SHARED_DIR}"
    SILD_BINARY_DIR="${CMAKE_BINARY_DIR}")
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock
                        GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT}
                       LABELS "${ARG_LABELS}" FIXTURES_REQUIRED test_pki)
endfunction()

# sild_connector(NAME SOURCES ... DEPS ...): a codec or transport library
# whose factories register themselves; added to the sild_connectors set.
function(sild_connector name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  sild_library(${name} SOURCES ${ARG_SOURCES} DEPS sild_connector_sdk ${ARG_DEPS})
  set_property(GLOBAL APPEND PROPERTY SILD_CONNECTOR_LIBRARIES ${name})
endfunction()
