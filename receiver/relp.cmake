# konseki_relp: the RELP protocol (frame decoder, server session), pure over
# bytes. konseki_net's RelpProtocol (receiver/relp_protocol.h) puts it on the
# stream listener.
add_library(konseki_relp
  ${CMAKE_CURRENT_LIST_DIR}/relp_frame.cc
  ${CMAKE_CURRENT_LIST_DIR}/relp_session.cc
)
target_link_libraries(konseki_relp PUBLIC konseki_common)
