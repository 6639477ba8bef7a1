#===- Install.cmake - what `cmake --install` puts in a prefix -*- cmake -*-===#
#
# Headers (with the generated .inc), remat-opt, the shared libraries
# (libRematCompiler.so, libRematCAPI.so, libRematRuntime.so), the static
# C++ libraries, the Python package, and the CMake package
# (lib/cmake/remat/RematConfig.cmake: Remat::Remat, Remat::RematCAPI).
#
#===----------------------------------------------------------------------===#

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(REMAT_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/remat)
set(REMAT_PYTHON_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/python3/dist-packages)

install(DIRECTORY include/remat include/remat-c
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h" PATTERN "*.td")
install(DIRECTORY ${PROJECT_BINARY_DIR}/include/remat
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.inc"
  PATTERN "CMakeFiles" EXCLUDE)

# Installed binaries find libMLIR.so where it was at build time, and each
# other in the prefix's lib.
set(remat_install_rpath
  "$ORIGIN/../${CMAKE_INSTALL_LIBDIR};${LLVM_LIBRARY_DIR}")
set_target_properties(remat-opt PROPERTIES INSTALL_RPATH "${remat_install_rpath}")
set_target_properties(RematCompiler RematCAPI PROPERTIES
  INSTALL_RPATH "$ORIGIN;${LLVM_LIBRARY_DIR}")
install(TARGETS remat-opt RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET remat-plan)
  install(TARGETS remat-plan RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(TARGETS RematRuntime LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
if(REMAT_HAVE_CUDA)
  install(TARGETS RematCUDARuntime RematAOTMain
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()

install(TARGETS RematCompiler RematCAPI EXPORT RematTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT RematTargets NAMESPACE Remat::
  DESTINATION ${REMAT_CMAKE_INSTALL_DIR})
configure_package_config_file(cmake/RematConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/RematConfig.cmake
  INSTALL_DESTINATION ${REMAT_CMAKE_INSTALL_DIR}
  PATH_VARS CMAKE_INSTALL_BINDIR REMAT_PYTHON_INSTALL_DIR)
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/cmake/RematConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/RematConfig.cmake
  ${PROJECT_BINARY_DIR}/cmake/RematConfigVersion.cmake
  DESTINATION ${REMAT_CMAKE_INSTALL_DIR})

install(DIRECTORY python/remat DESTINATION ${REMAT_PYTHON_INSTALL_DIR}
  PATTERN "__pycache__" EXCLUDE)
