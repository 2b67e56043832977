# TLS listener against an OpenSSL client on loopback; certificates are made in
# a temp dir with the openssl CLI (EC P-256, fast).
konseki_add_test(tls_listener_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/tls_listener_test.cc
  LIBS konseki_tls)
