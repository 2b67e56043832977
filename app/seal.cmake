# `konseki seal-setup`, `konseki verify` and `konseki search` (issue #16). The QR code of the
# verification key uses Debian's libqrencode.
pkg_check_modules(QRENCODE REQUIRED IMPORTED_TARGET libqrencode)
add_library(konseki_seal_cli
  ${CMAKE_CURRENT_LIST_DIR}/archive_line_host.cc
  ${CMAKE_CURRENT_LIST_DIR}/search_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/seal_commands.cc)
target_link_libraries(konseki_seal_cli PUBLIC konseki_app konseki_seal PRIVATE PkgConfig::QRENCODE)
