# pkg-config file and the Debian package (`cpack -G DEB` in a build directory).

# seam.pc: `pkg-config --cflags --libs seam`. The shared libraries when both are installed
# (the linker prefers them), the static ones with `-static` or when only they are installed.
file(RELATIVE_PATH SEAM_PC_UP ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" SEAM_PC_UP "${SEAM_PC_UP}")
configure_file(${CMAKE_CURRENT_LIST_DIR}/seam.pc.in ${PROJECT_BINARY_DIR}/seam.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/seam.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# The Debian package libseam-dev_<version>_amd64.deb: headers, static libraries, the CMake
# package, seam.pc, the `seam` tool, and the shared libraries of the build directory named by
# SEAM_PACKAGE_SHARED_BUILD (a build of the same sources with -DBUILD_SHARED_LIBS=ON), if given.
set(SEAM_PACKAGE_SHARED_BUILD "" CACHE PATH
    "A -DBUILD_SHARED_LIBS=ON build directory whose libraries the package also ships")
set(CPACK_PACKAGE_NAME libseam-dev)
set(CPACK_PACKAGE_VENDOR "Seam")
set(CPACK_PACKAGE_CONTACT "Seam developers <seam@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "C++20 library to share native C++ data between processes in shared memory")
set(CPACK_PACKAGE_DESCRIPTION "Seam lets processes share ordinary C++ objects (structs, \
containers, strings, Cap'n Proto messages) in a shared-memory arena, and connects processes \
with sessions and channels that carry handles and file descriptors. Headers, static and \
shared libraries, CMake package, pkg-config file and the `seam` inspection tool.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
# What Seam's headers include and its libraries link (Debian 12's packages), and what the
# shared libraries and the tool need at run time.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libjemalloc-dev (>= 5.3), libboost-dev (>= 1.74), libcapnp-dev (>= 0.9.2), capnproto (>= 0.9.2), libc6 (>= 2.36), libstdc++6 (>= 12), libgcc-s1")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "cmake (>= 3.25), pkg-config")
set(CPACK_INSTALL_CMAKE_PROJECTS "${PROJECT_BINARY_DIR};seam;ALL;/")
if(SEAM_PACKAGE_SHARED_BUILD)
  list(APPEND CPACK_INSTALL_CMAKE_PROJECTS "${SEAM_PACKAGE_SHARED_BUILD};seam;ALL;/")
endif()
include(CPack)
