konseki_add_test(relp_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/relp_frame_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/relp_session_test.cc
  LIBS konseki_relp)
