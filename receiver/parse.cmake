# konseki_parse: the syslog parser chain (RFC 5424, RFC 3164, unparsed).
add_library(konseki_parse
  ${CMAKE_CURRENT_LIST_DIR}/parser.cc
  ${CMAKE_CURRENT_LIST_DIR}/rfc3164_parser.cc
  ${CMAKE_CURRENT_LIST_DIR}/rfc5424_parser.cc
  ${CMAKE_CURRENT_LIST_DIR}/timestamp.cc
  ${CMAKE_CURRENT_LIST_DIR}/timestamp_cache.cc
  ${CMAKE_CURRENT_LIST_DIR}/local_zone.cc
  ${CMAKE_CURRENT_LIST_DIR}/zone_map.cc
  ${CMAKE_CURRENT_LIST_DIR}/parse_issue.h
)
target_link_libraries(konseki_parse PUBLIC konseki_common)
