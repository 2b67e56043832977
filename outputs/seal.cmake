# konseki_seal: forward-secure sealing of the archive, its verification and
# the reader of plain or zstd-compressed day files, retention, the search index and search
# (issue #16).
pkg_check_modules(SEAL_CRYPTO REQUIRED IMPORTED_TARGET GLOBAL libcrypto)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET GLOBAL libzstd)
add_library(konseki_seal
  ${CMAKE_CURRENT_LIST_DIR}/archive_index.cc
  ${CMAKE_CURRENT_LIST_DIR}/archive_index_query.cc
  ${CMAKE_CURRENT_LIST_DIR}/archive_reader.cc
  ${CMAKE_CURRENT_LIST_DIR}/archive_search.cc
  ${CMAKE_CURRENT_LIST_DIR}/archive_verify.cc
  ${CMAKE_CURRENT_LIST_DIR}/retention.cc
  ${CMAKE_CURRENT_LIST_DIR}/seal_format.cc
  ${CMAKE_CURRENT_LIST_DIR}/seal_key.cc
  ${CMAKE_CURRENT_LIST_DIR}/sealer.cc
)
target_link_libraries(konseki_seal PUBLIC konseki_common konseki_outputs
  PRIVATE PkgConfig::SEAL_CRYPTO PkgConfig::ZSTD PkgConfig::HS PkgConfig::RE2 Threads::Threads)
