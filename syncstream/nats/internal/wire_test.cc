#include "syncstream/nats/internal/wire.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace syncstream::nats::internal {
namespace {

using ::testing::HasSubstr;

TEST(PubAckTest, ParsesStoredAndDuplicateAcknowledgements) {
  absl::StatusOr<PubAck> ack = ParsePubAck(R"({"stream":"S","seq":42})");
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_EQ(ack->stream, "S");
  EXPECT_EQ(ack->sequence, 42u);
  EXPECT_FALSE(ack->duplicate);
  ack = ParsePubAck(
      " {\"stream\" : \"S\\u0041\", \"domain\":\"d\", \"seq\": 7,"
      " \"duplicate\": true, \"x\": [1, {\"y\": null}, -2.5e3]} ");
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_EQ(ack->stream, "S?");
  EXPECT_EQ(ack->sequence, 7u);
  EXPECT_TRUE(ack->duplicate);
}

TEST(PubAckTest, ErrorsBecomeStatusesByCode) {
  absl::StatusOr<PubAck> ack = ParsePubAck(
      R"({"error":{"code":503,"err_code":10008,"description":"no leader"}})");
  ASSERT_FALSE(ack.ok());
  EXPECT_EQ(ack.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(ack.status().message(), HasSubstr("no leader"));
  ack = ParsePubAck(
      R"({"error":{"code":400,"err_code":10060,"description":"bad seq"}})");
  ASSERT_FALSE(ack.ok());
  EXPECT_EQ(ack.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(PubAckTest, RefusesWhatIsNoAcknowledgement) {
  for (const char* text :
       {"", "{", "[]", "{}", R"({"stream":"S"})", R"({"seq":0})",
        R"({"seq":-1})", R"({"seq":1.5})", R"({"seq":1} x)",
        R"({"seq":99999999999999999999999})", R"({"stream":"a
b","seq":1})", R"({"seq":1,})", R"({"seq" 1})",
        R"({"a":[[[[[[[[[[[]]]]]]]]]]],"seq":1})"}) {
    absl::StatusOr<PubAck> ack = ParsePubAck(text);
    ASSERT_FALSE(ack.ok()) << text;
    EXPECT_EQ(ack.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
  }
}

TEST(BatchIdTest, RoundTripsAndRefusesMalformedIds) {
  const std::string mirror = "0123456789abcdef0123456789abcdef";
  absl::StatusOr<BatchId> id = ParseBatchId(FormatBatchId(mirror, 17));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->mirror, mirror);
  EXPECT_EQ(id->batch, 17u);
  for (const std::string& text :
       {std::string(""), mirror, mirror + "-", mirror + "-0",
        mirror + "-01", mirror + "-1x", mirror + "-99999999999999999999999",
        std::string("0123456789ABCDEF0123456789abcdef-1"), mirror.substr(1) + "-12",
        mirror + "1-1"}) {
    EXPECT_FALSE(ParseBatchId(text).ok()) << text;
  }
}

}  // namespace
}  // namespace syncstream::nats::internal
