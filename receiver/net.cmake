# Transports: listen addresses, RFC 6587 framing, the UDP listener and the
# stream listener with its protocols (RFC 6587, RELP), sender allowlists and
# per-sender rate limits.
add_library(konseki_net
  ${CMAKE_CURRENT_LIST_DIR}/connection_limits.cc
  ${CMAKE_CURRENT_LIST_DIR}/framer.cc
  ${CMAKE_CURRENT_LIST_DIR}/framer_protocol.cc
  ${CMAKE_CURRENT_LIST_DIR}/listen_address.cc
  ${CMAKE_CURRENT_LIST_DIR}/relp_protocol.cc
  ${CMAKE_CURRENT_LIST_DIR}/sender_allowlist.cc
  ${CMAKE_CURRENT_LIST_DIR}/socket_util.cc
  ${CMAKE_CURRENT_LIST_DIR}/stream_connection.cc
  ${CMAKE_CURRENT_LIST_DIR}/stream_listener.cc
  ${CMAKE_CURRENT_LIST_DIR}/token_bucket.cc
  ${CMAKE_CURRENT_LIST_DIR}/udp_listener.cc
)
target_link_libraries(konseki_net PUBLIC konseki_common konseki_relp concurrentqueue Threads::Threads)
