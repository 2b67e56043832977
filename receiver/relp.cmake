# konseki_relp: the RELP protocol (frame decoder, server session), pure over
# bytes. The RELP listener (sockets, TLS) links it.
add_library(konseki_relp
  ${CMAKE_CURRENT_LIST_DIR}/relp_frame.cc
  ${CMAKE_CURRENT_LIST_DIR}/relp_session.cc
)
target_link_libraries(konseki_relp PUBLIC konseki_common)

# The RELP listener (sockets, acks from the pipeline) joins the transports in
# konseki_net, so everything that links konseki_net can serve relp:// too.
target_sources(konseki_net PRIVATE ${CMAKE_CURRENT_LIST_DIR}/relp_listener.cc)
target_link_libraries(konseki_net PUBLIC konseki_relp concurrentqueue)
