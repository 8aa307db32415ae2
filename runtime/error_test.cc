#include "runtime/error.h"

#include <gtest/gtest.h>

namespace trellis {
namespace {

Result<int> Parse(int v) {
  if (v < 0) return Fail(ErrorCode::kInvalidArgument, "negative value " + std::to_string(v));
  return v * 2;
}

Result<int> Twice(int v) {
  TRELLIS_ASSIGN_OR_RETURN(int doubled, Parse(v), "while parsing field 'size'");
  return doubled;
}

Result<void> Check(int v) {
  TRELLIS_TRY(Parse(v), "while checking");
  return Ok();
}

TEST(ErrorTest, AssignOrReturnPropagatesWithContext) {
  EXPECT_EQ(Twice(4).value(), 8);
  auto r = Twice(-1);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().ToString(), "INVALID_ARGUMENT: while parsing field 'size': negative value -1");
}

TEST(ErrorTest, TryPropagatesWithoutValue) {
  EXPECT_TRUE(Check(1).has_value());
  auto r = Check(-2);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "while checking: negative value -2");
}

TEST(ErrorTest, FromErrnoMapsCodesAndKeepsErrno) {
  Error e = Error::FromErrno(ENOENT, "open /x");
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.errno_value(), ENOENT);
  EXPECT_EQ(e.message(), "open /x: No such file or directory");
  EXPECT_EQ(Error::FromErrno(EACCES, "x").code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Error::FromErrno(ECANCELED, "x").code(), ErrorCode::kCancelled);
  EXPECT_EQ(Error::FromErrno(EIO, "x").code(), ErrorCode::kDataLoss);
}

TEST(ErrorTest, CodesMatchGrpcNumbering) {
  // One-to-one with grpc::StatusCode; grpc_status.h relies on this.
  EXPECT_EQ(static_cast<int>(ErrorCode::kCancelled), 1);
  EXPECT_EQ(static_cast<int>(ErrorCode::kInvalidArgument), 3);
  EXPECT_EQ(static_cast<int>(ErrorCode::kUnavailable), 14);
  EXPECT_EQ(static_cast<int>(ErrorCode::kUnauthenticated), 16);
  EXPECT_EQ(ErrorCodeName(ErrorCode::kResourceExhausted), "RESOURCE_EXHAUSTED");
}

}  // namespace
}  // namespace trellis
