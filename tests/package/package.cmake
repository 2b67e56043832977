# The Debian package: build, dpkg -i, check-config/check-rules, run, purge.
# A few minutes (the .deb build; ccache makes later runs faster).
# COST: ctest -j starts the costliest tests first. A clean clone has no
# CTestCostData.txt, so without it this test started in declaration order,
# after ~890 short ones, and ran alone at the end for three minutes.
add_test(NAME package_deb COMMAND ${CMAKE_CURRENT_LIST_DIR}/deb_test.sh ${CMAKE_SOURCE_DIR})
set_tests_properties(package_deb PROPERTIES LABELS package TIMEOUT 1200 SKIP_RETURN_CODE 77
  COST 300)
