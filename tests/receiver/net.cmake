konseki_add_test(net_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/framer_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/framer_protocol_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/relp_protocol_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/listen_address_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/sender_allowlist_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/token_bucket_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/udp_listener_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/stream_listener_test.cc
  LIBS konseki_net)
