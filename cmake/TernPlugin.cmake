# tern_plugin(KIND NAME SOURCES... [LIBS lib...] [COMPONENT component])
#
# Builds plugins/<kind>/<name> as a MODULE library named <name>.so, into
# build/lib/tern/<kind>/ and installed to <prefix>/lib/tern/<kind>/.
# A plugin sees only the SDK headers: it links nothing from the core.
#
# COMPONENT is the install component, and so the Debian package
# (debian/rules): "tern" (the default: the core package) for modules that
# need no library beyond the core's, "ldap" (tern-ldap) and "mysql"
# (tern-mysql) for those that link libldap or libmysqlclient.  A module
# with its own external library gets a component (and package) of its own.
function(tern_plugin kind name)
  cmake_parse_arguments(P "" "COMPONENT" "LIBS" ${ARGN})
  set(target "tern_${kind}_${name}")
  add_library(${target} MODULE ${P_UNPARSED_ARGUMENTS})
  set_target_properties(${target} PROPERTIES
    PREFIX "" OUTPUT_NAME "${name}"
    C_VISIBILITY_PRESET hidden
    LIBRARY_OUTPUT_DIRECTORY "${TERN_PLUGIN_OUTPUT_DIR}/${kind}")
  target_include_directories(${target} PRIVATE "${CMAKE_SOURCE_DIR}/sdk/include")
  if(P_LIBS)
    target_link_libraries(${target} PRIVATE ${P_LIBS})
  endif()
  if(NOT P_COMPONENT)
    set(P_COMPONENT tern)
  endif()
  install(TARGETS ${target} LIBRARY DESTINATION "${TERN_MODULE_SUBDIR}/${kind}"
          COMPONENT ${P_COMPONENT})
endfunction()

# tern_unit_test(NAME SOURCES... [LIBS lib...]): a cmocka test run by ctest.
# Nothing is built with -DBUILD_TESTING=OFF (the Debian package build).
function(tern_unit_test name)
  if(NOT BUILD_TESTING)
    return()
  endif()
  cmake_parse_arguments(T "" "" "LIBS;INCLUDES" ${ARGN})
  if(NOT CMOCKA_LIBRARY)
    message(FATAL_ERROR "libcmocka-dev is needed for unit tests")
  endif()
  add_executable(${name} ${T_UNPARSED_ARGUMENTS})
  target_include_directories(${name} PRIVATE ${CMOCKA_INCLUDE_DIR}
    "${CMAKE_SOURCE_DIR}/sdk/include" ${T_INCLUDES})
  target_link_libraries(${name} PRIVATE ${CMOCKA_LIBRARY} ${T_LIBS})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY
    "${CMAKE_BINARY_DIR}/unit")
  add_test(NAME unit.${name} COMMAND ${name})
  set_tests_properties(unit.${name} PROPERTIES LABELS unit)
endfunction()
