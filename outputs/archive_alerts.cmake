# konseki_outputs: per-host archive and JSON alert writer.
add_library(konseki_outputs
  ${CMAKE_CURRENT_LIST_DIR}/alert_json.cc
  ${CMAKE_CURRENT_LIST_DIR}/alert_writer.cc
  ${CMAKE_CURRENT_LIST_DIR}/archive.cc
  ${CMAKE_CURRENT_LIST_DIR}/archive_budget.cc
  ${CMAKE_CURRENT_LIST_DIR}/archive_file_cache.cc
  ${CMAKE_CURRENT_LIST_DIR}/archive_spool.cc
  ${CMAKE_CURRENT_LIST_DIR}/archive_syncer.cc
  ${CMAKE_CURRENT_LIST_DIR}/archive_write_log.cc
  ${CMAKE_CURRENT_LIST_DIR}/host_path.cc
)
target_link_libraries(konseki_outputs PUBLIC konseki_common PRIVATE PkgConfig::FASTJSON)
