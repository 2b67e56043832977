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

Status FailAt(int step, int* reached) {
  for (int i = 0; i < 3; ++i) {
    RETURN_IF_ERROR(i == step ? Status::InvalidArgument("step " + std::to_string(i))
                              : Status::Ok());
    *reached = i;
  }
  return Status::Ok();
}

TEST(StatusTest, ReturnIfErrorReturnsTheFirstErrorAndGoesOnWhenOk) {
  int reached = -1;
  Status s = FailAt(1, &reached);
  EXPECT_EQ(s.message(), "step 1");
  EXPECT_EQ(reached, 0);
  EXPECT_TRUE(FailAt(5, &reached).ok());
  EXPECT_EQ(reached, 2);
}

}  // namespace
}  // namespace konseki
