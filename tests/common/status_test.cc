#include "common/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace konseki {
namespace {

TEST(StatusTest, DefaultIsOk) {
  EXPECT_TRUE(Status().ok());
  EXPECT_EQ(Status().ToString(), "OK");
}

TEST(StatusTest, ErrnoMessageNamesTheCause) {
  Status s = Status::FromErrno("open /x", ENOENT);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_EQ(s.message(), "open /x: No such file or directory");
}

TEST(StatusTest, StatusOrCarriesValueOrError) {
  StatusOr<int> v(42);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 42);
  StatusOr<int> e(Status::NotFound("nope"));
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(), "nope");
}

}  // namespace
}  // namespace konseki
