#include "manager/manifest/json_proto.h"

#include <unistd.h>

#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "manager/manifest/testing/temp_dir.h"
#include "trellis/manifest/v1/manifest.pb.h"

namespace trellis::manager {
namespace {

using manifest::v1::DriverManifest;
using testing::TempDir;

const std::filesystem::path kManifestSource = "/drivers/echo.json";

std::string ParseError(std::string_view json) {
  DriverManifest manifest;
  auto result = ParseJsonMessage(json, kManifestSource, manifest);
  if (result.has_value()) return "<parsed>";
  EXPECT_EQ(result.error().code(), ErrorCode::kInvalidArgument);
  return result.error().message();
}

TEST(ParseJsonMessageTest, ParsesValidJson) {
  DriverManifest manifest;
  ASSERT_TRUE(ParseJsonMessage(R"({"name": "echo", "bind": {"priority": 3}})", kManifestSource, manifest));
  EXPECT_EQ(manifest.name(), "echo");
  EXPECT_EQ(manifest.bind().priority(), 3);
}

TEST(ParseJsonMessageTest, UnknownTopLevelKeyIsNamed) {
  EXPECT_EQ(ParseError(R"({"name": "echo", "bogus": 1})"),
            "/drivers/echo.json: field 'bogus': unknown field 'bogus'");
}

TEST(ParseJsonMessageTest, UnknownNestedKeyNamesItsPath) {
  EXPECT_EQ(ParseError(R"({"bind": {"accept": [{"key": "k"}, {"key": "j", "bogus": 2}]}})"),
            "/drivers/echo.json: field 'bind.accept[1].bogus': unknown field 'bogus'");
}

TEST(ParseJsonMessageTest, TypeMismatchPassesProtobufTextThrough) {
  EXPECT_EQ(ParseError(R"({"name": 1})"),
            "/drivers/echo.json: field 'name': invalid value 1 for type TYPE_STRING");
  EXPECT_EQ(ParseError(R"({"max_restarts": -1})"),
            "/drivers/echo.json: field 'max_restarts': invalid value -1 for type TYPE_UINT32");
}

TEST(ParseJsonMessageTest, OneofSetTwiceNamesTheValue) {
  EXPECT_EQ(ParseError(R"({"bind": {"accept": [{"key": "k",
                           "values": [{"int_value": 1, "string_value": "x"}]}]}})"),
            "/drivers/echo.json: field 'bind.accept[0].values[0]': invalid value oneof field "
            "'value' is already set. Cannot set 'string_value' for type oneof");
}

TEST(ParseJsonMessageTest, UnprintableBytesOfKeysAreEscaped) {
  EXPECT_EQ(ParseError(R"({"na\nme": 1})"),
            "/drivers/echo.json: field 'na\\x0ame': unknown field 'na\\x0ame'");
  EXPECT_EQ(ParseError("{\"name\": \"a\tb\"}"),
            "/drivers/echo.json: field 'name': control character in string (escape it) (line 1, "
            "column 12)");
}

TEST(ParseJsonMessageTest, SyntaxErrorQuotesTheTextAfterIt) {
  EXPECT_EQ(ParseError("{\n  \"name\": \"a\"\n  \"binary\": \"b\"\n}"),
            "/drivers/echo.json: invalid JSON: Expected , or } after key:value pair. near "
            "'\"binary\": \"b\"\\x0a}'");
}

TEST(ParseJsonMessageTest, MalformedJsonIsPrefixedWithTheFile) {
  EXPECT_EQ(ParseError(R"({"name": "echo",)"),
            "/drivers/echo.json: invalid JSON: Unexpected end of string. Expected an object key "
            "or }.");
  EXPECT_EQ(ParseError(R"({"name": "echo"} trailing)"),
            "/drivers/echo.json: invalid JSON: Parsing terminated before end of input. near "
            "'trailing'");
  EXPECT_EQ(ParseError("[1]"), "/drivers/echo.json: invalid JSON: Root element must be a message.");
}

TEST(ParseJsonMessageTest, EmptyDocumentIsRejected) {
  EXPECT_EQ(ParseError(""), "/drivers/echo.json: manifest is empty");
  EXPECT_EQ(ParseError(" \n\t "), "/drivers/echo.json: manifest is empty");
}

TEST(ParseJsonMessageTest, DocumentOverOneMebibyteIsRejected) {
  std::string json = R"({"name": ")" + std::string(kMaxManifestBytes, 'a') + R"("})";
  EXPECT_EQ(ParseError(json), "/drivers/echo.json: manifest is larger than 1 MiB");
}

TEST(ParseJsonMessageTest, DuplicateKeyIsRejected) {
  EXPECT_EQ(ParseError(R"({"name": "a", "name": "b"})"),
            "/drivers/echo.json: duplicate key 'name' (line 1, column 15)");
  EXPECT_EQ(ParseError("{\"bind\": {\n  \"priority\": 1,\n  \"priority\": 2}}"),
            "/drivers/echo.json: field 'bind': duplicate key 'priority' (line 3, column 3)");
}

TEST(ParseJsonMessageTest, NonStandardJsonThatProtobufAcceptsIsRejected) {
  EXPECT_EQ(ParseError(R"({'name': 'a'})"),
            "/drivers/echo.json: object keys must be strings in double quotes (line 1, column 2)");
  EXPECT_EQ(ParseError(R"({name: "a"})"),
            "/drivers/echo.json: object keys must be strings in double quotes (line 1, column 2)");
  EXPECT_EQ(ParseError(R"({"exposes": ['a.b']})"),
            "/drivers/echo.json: field 'exposes[0]': strings must be in double quotes (line 1, "
            "column 14)");
}

TEST(ParseJsonMessageTest, TrailingCommaIsRejected) {
  EXPECT_EQ(ParseError(R"({"name": "a",})"),
            "/drivers/echo.json: trailing comma in object (line 1, column 14)");
  EXPECT_EQ(ParseError(R"({"exposes": ["a.b",]})"),
            "/drivers/echo.json: field 'exposes': trailing comma in array (line 1, column 20)");
}

TEST(ParseJsonMessageTest, DuplicateKeyInsideConfigIsRejected) {
  EXPECT_EQ(ParseError(R"({"config": {"a": 1, "a": 2}})"),
            "/drivers/echo.json: field 'config.fields[0]': a: Repeated map key: 'a' is already "
            "set.");
}

TEST(ParseJsonMessageTest, NestingDeeperThan64LevelsIsRejected) {
  auto nested = [](int depth) {
    return R"({"config": {"x": )" + std::string(depth - 2, '[') + std::string(depth - 2, ']') +
           "}}";
  };
  const std::string too_deep =
      "/drivers/echo.json: arrays and objects nest deeper than 64 levels";
  EXPECT_EQ(ParseError(nested(40)), "<parsed>");
  // At 64 levels protobuf's own recursion limit for Struct decides.
  EXPECT_FALSE(ParseError(nested(64)).starts_with(too_deep));
  EXPECT_EQ(ParseError(nested(65)),
            "/drivers/echo.json: arrays and objects nest deeper than 64 levels (line 1, column "
            "80)");
  // Brackets inside strings do not count.
  EXPECT_EQ(ParseError(R"({"config": {"x": ")" + std::string(100, '[') + R"("}})"), "<parsed>");
  // A huge depth is refused quickly rather than handed to protobuf.
  std::string deep = R"({"config": {"x": )" + std::string(400000, '[') +
                     std::string(400000, ']') + "}}";
  EXPECT_EQ(ParseError(deep),
            "/drivers/echo.json: arrays and objects nest deeper than 64 levels (line 1, column "
            "80)");
}

TEST(ParseJsonMessageTest, FailedParseLeavesMessageCleared) {
  DriverManifest manifest;
  manifest.set_name("stale");
  EXPECT_FALSE(ParseJsonMessage(R"({"name": "a", "name": "b"})", kManifestSource, manifest));
  EXPECT_EQ(manifest.name(), "");
}

TEST(ReadManifestFileTest, ReadsWholeFile) {
  TempDir dir;
  auto path = dir.Write("a.json", R"({"name": "a"})");
  auto contents = ReadManifestFile(path);
  ASSERT_TRUE(contents) << contents.error().ToString();
  EXPECT_EQ(*contents, R"({"name": "a"})");
}

TEST(ReadManifestFileTest, ReadsFileLongerThanItsReportedSize) {
  // procfs files report size 0 but have contents, like a file that grew
  // between fstat and read.
  const std::filesystem::path status = "/proc/self/status";
  if (!std::filesystem::exists(status)) GTEST_SKIP() << "no procfs on this machine";
  auto contents = ReadManifestFile(status);
  ASSERT_TRUE(contents) << contents.error().ToString();
  EXPECT_TRUE(contents->starts_with("Name:")) << *contents;
}

TEST(ReadManifestFileTest, MissingFileIsNotFound) {
  TempDir dir;
  auto path = dir.path() / "missing.json";
  auto contents = ReadManifestFile(path);
  ASSERT_FALSE(contents);
  EXPECT_EQ(contents.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(contents.error().message(),
            path.string() + ": cannot open: No such file or directory");
}

TEST(ReadManifestFileTest, UnreadableFileIsPermissionDenied) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can read files without read permission";
  TempDir dir;
  auto path = dir.Write("secret.json", "{}");
  std::filesystem::permissions(path, std::filesystem::perms::none);
  auto contents = ReadManifestFile(path);
  ASSERT_FALSE(contents);
  EXPECT_EQ(contents.error().code(), ErrorCode::kPermissionDenied);
}

TEST(ReadManifestFileTest, DirectoryIsNotARegularFile) {
  TempDir dir;
  auto contents = ReadManifestFile(dir.path());
  ASSERT_FALSE(contents);
  EXPECT_EQ(contents.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(contents.error().message(), dir.path().string() + ": not a regular file");
}

TEST(ReadManifestFileTest, FileOverOneMebibyteIsRejected) {
  TempDir dir;
  auto path = dir.Write("big.json", std::string(kMaxManifestBytes + 1, ' '));
  auto contents = ReadManifestFile(path);
  ASSERT_FALSE(contents);
  EXPECT_EQ(contents.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(contents.error().message(), path.string() + ": manifest is larger than 1 MiB");
}

}  // namespace
}  // namespace trellis::manager
