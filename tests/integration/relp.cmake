# RELP end to end: rsyslogd with omrelp into konseki, konseki SIGKILLed and
# restarted mid-stream; nothing may be lost.
konseki_add_test(relp_noloss_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/relp_noloss_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(relp_noloss_integration_test konseki)
# rsyslogd with omrelp tls="on" (gnutls and openssl) into konseki's
# relp+tls:// listener, mutual TLS acceptance and refusal; omrelp refused by a
# relp:// allowlist.
konseki_add_test(relp_tls_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/relp_tls_test.cc
  LIBS konseki_tls konseki_test_process
  LABELS integration)
add_dependencies(relp_tls_integration_test konseki)
