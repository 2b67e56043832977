# RELP end to end: rsyslogd with omrelp into konseki, konseki SIGKILLed and
# restarted mid-stream; nothing may be lost.
konseki_add_test(relp_noloss_integration_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/relp_noloss_test.cc
  LIBS konseki_test_process
  LABELS integration)
add_dependencies(relp_noloss_integration_test konseki)
