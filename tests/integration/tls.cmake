# A real rsyslogd (rsyslog-gnutls) forwarding over TLS to an in-process
# StreamListener with a TlsTransport, and to the konseki binary (allow: on a tls:// listener).
if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/tls_test.cc)
  konseki_add_test(tls_integration_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/tls_test.cc
    LIBS konseki_tls konseki_test_process
    LABELS integration)
  add_dependencies(tls_integration_test konseki)
endif()
