# cmake --install: the binaries, the driver SDK (headers, libtrellis_runtime,
# a CMake package: find_package(Trellis) and trellis_add_driver), the drivers
# we ship with their manifests, the protos, and the board files.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(TRELLIS_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Trellis)
# Headers keep their repository paths under include/trellis:
# #include "runtime/driver/driver.h".
set(TRELLIS_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/trellis)

install(TARGETS trellis_runtime EXPORT TrellisTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${TRELLIS_INSTALL_INCLUDEDIR})
target_include_directories(trellis_runtime PUBLIC
  $<INSTALL_INTERFACE:${TRELLIS_INSTALL_INCLUDEDIR}>)
foreach(dir runtime runtime/internal runtime/driver)
  file(GLOB headers ${PROJECT_SOURCE_DIR}/${dir}/*.h)
  install(FILES ${headers} DESTINATION ${TRELLIS_INSTALL_INCLUDEDIR}/${dir})
endforeach()
install(EXPORT TrellisTargets NAMESPACE Trellis:: DESTINATION ${TRELLIS_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/TrellisConfig.cmake.in
  ${CMAKE_BINARY_DIR}/TrellisConfig.cmake INSTALL_DESTINATION ${TRELLIS_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/TrellisConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/TrellisConfig.cmake ${CMAKE_BINARY_DIR}/TrellisConfigVersion.cmake
  DESTINATION ${TRELLIS_INSTALL_CMAKEDIR})

foreach(tool trellis-manager trellis-host trellisctl powerctl trellis-vhost-backend)
  if(TARGET ${tool})
    set_target_properties(${tool} PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()
# The drivers we ship, with their manifests, where the manager scans them
# (--driver-dir <prefix>/lib/trellis/drivers).
get_property(shipped_drivers GLOBAL PROPERTY TRELLIS_SHIPPED_DRIVERS)
get_property(shipped_manifests GLOBAL PROPERTY TRELLIS_SHIPPED_MANIFESTS)
if(shipped_drivers)
  set_target_properties(${shipped_drivers} PROPERTIES INSTALL_RPATH "$ORIGIN/../..")
  install(TARGETS ${shipped_drivers} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/trellis/drivers)
  install(FILES ${shipped_manifests} DESTINATION ${CMAKE_INSTALL_LIBDIR}/trellis/drivers)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/proto/trellis DESTINATION ${CMAKE_INSTALL_DATADIR}/trellis/proto
  FILES_MATCHING PATTERN "*.proto")
install(DIRECTORY ${PROJECT_SOURCE_DIR}/manifests/boards DESTINATION ${CMAKE_INSTALL_DATADIR}/trellis)
