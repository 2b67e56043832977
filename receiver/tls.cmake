# konseki_tls: syslog over TLS (RFC 5425). OpenSSL because it is well kept,
# already on every Debian box (libssl3), and what rsyslog's ossl driver uses.
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET openssl)
add_library(konseki_tls
  ${CMAKE_CURRENT_LIST_DIR}/tls_connection.cc
  ${CMAKE_CURRENT_LIST_DIR}/tls_context.cc
)
target_link_libraries(konseki_tls PUBLIC konseki_net PkgConfig::OPENSSL)
