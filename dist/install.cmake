# `cmake --install`: the daemon, its rule packs, a commented sample config,
# the systemd unit with its sysusers.d and tmpfiles.d files, logrotate and
# man pages. Paths follow GNUInstallDirs; with the /usr prefix the config
# goes to /etc (CMAKE_INSTALL_FULL_SYSCONFDIR).
include(GNUInstallDirs)

# systemd's own directories when its pkg-config file says where they are
# (Debian 12: /lib/systemd/system), the FHS defaults otherwise.
set(KONSEKI_UNIT_DIR "/lib/systemd/system" CACHE PATH "systemd unit directory")
set(KONSEKI_SYSUSERS_DIR "/usr/lib/sysusers.d" CACHE PATH "sysusers.d directory")
set(KONSEKI_TMPFILES_DIR "/usr/lib/tmpfiles.d" CACHE PATH "tmpfiles.d directory")
pkg_check_modules(SYSTEMD_PC QUIET systemd)
if(SYSTEMD_PC_FOUND)
  pkg_get_variable(_unit_dir systemd systemdsystemunitdir)
  if(_unit_dir)
    set(KONSEKI_UNIT_DIR "${_unit_dir}" CACHE PATH "systemd unit directory" FORCE)
  endif()
endif()

install(TARGETS konseki RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/patterns/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/konseki/patterns
        FILES_MATCHING PATTERN "*.yaml")
install(FILES ${CMAKE_SOURCE_DIR}/dist/konseki.yaml
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/konseki)
install(FILES ${CMAKE_SOURCE_DIR}/dist/konseki.service ${CMAKE_SOURCE_DIR}/dist/konseki-report.service
              ${CMAKE_SOURCE_DIR}/dist/konseki-report.timer
        DESTINATION ${KONSEKI_UNIT_DIR})
install(FILES ${CMAKE_SOURCE_DIR}/dist/konseki.sysusers
        DESTINATION ${KONSEKI_SYSUSERS_DIR} RENAME konseki.conf)
install(FILES ${CMAKE_SOURCE_DIR}/dist/konseki.tmpfiles
        DESTINATION ${KONSEKI_TMPFILES_DIR} RENAME konseki.conf)
install(FILES ${CMAKE_SOURCE_DIR}/dist/konseki.logrotate
        DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}/logrotate.d RENAME konseki)
install(FILES ${CMAKE_SOURCE_DIR}/docs/man/konseki.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${CMAKE_SOURCE_DIR}/docs/man/konseki.yaml.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
