konseki_add_test(relp_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/relp_frame_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/relp_session_test.cc
  LIBS konseki_relp)

# Real peers on loopback: librelp's client (and rsyslogd with omrelp if installed).
konseki_add_test(relp_interop_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/relp_interop_test.cc
  LIBS konseki_relp PkgConfig::RELP
  LABELS interop)

# Replaces the global operator new to count allocations: its own binary.
konseki_add_test(relp_alloc_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/relp_alloc_test.cc
  LIBS konseki_relp)

# StreamListener over RELP with librelp's client and a sink that acks like the workers.
konseki_add_test(stream_listener_relp_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/stream_listener_relp_test.cc
  LIBS konseki_net konseki_tls PkgConfig::RELP)
