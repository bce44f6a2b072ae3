#include "syncstream/core/record.h"

#include <stdexcept>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace syncstream {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::IsEmpty;

TEST(RecordTest, ProtoRoundTripKeepsEveryField) {
  Record record;
  record.kind = RecordKind::kError;
  record.sender = "worker-3";
  record.type = "stderr";
  record.sequence = 42;
  record.timestamp = absl::FromUnixNanos(1234567890123456789);
  record.text = std::string("bad\0thing", 9);
  record.trace = {"#0 f()", "#1 g()"};
  absl::StatusOr<Record> back = FromProto(ToProto(record));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, record);
}

TEST(RecordTest, FromProtoRejectsUnknownKind) {
  proto::Record message;
  message.set_sender("w");
  EXPECT_EQ(FromProto(message).status().code(),
            absl::StatusCode::kInvalidArgument);
  message.set_kind(static_cast<proto::Record::Kind>(99));
  EXPECT_THAT(std::string(FromProto(message).status().message()),
              HasSubstr("unknown kind 99"));
}

TEST(RecordTest, FromProtoRejectsContinuedNonLine) {
  proto::Record message;
  message.set_kind(proto::Record::END_OF_STREAM);
  message.set_continued(true);
  EXPECT_EQ(FromProto(message).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(RecordTest, FormatsLikeGroupedMessage) {
  Record line;
  line.text = "hello";
  EXPECT_EQ(FormatRecord(line), "hello");

  Record eof;
  eof.kind = RecordKind::kEndOfStream;
  eof.sender = "w1";
  EXPECT_EQ(FormatRecord(eof), "<end of stream from w1>");

  Record error;
  error.kind = RecordKind::kError;
  error.sender = "w2";
  error.text = "std::runtime_error: boom";
  error.trace = {"#0 a", "#1 b"};
  EXPECT_EQ(FormatRecord(error),
            "Error from w2: std::runtime_error: boom\n  #0 a\n  #1 b");
}

void ThrowingFunctionForTrace() { throw std::out_of_range("index 7"); }

TEST(RecordTest, ErrorRecordCarriesMessageAndSymbolizedTrace) {
  Record record;
  try {
    ThrowingFunctionForTrace();
  } catch (const std::exception& e) {
    record = MakeErrorRecord(DescribeException(e));
  }
  EXPECT_EQ(record.kind, RecordKind::kError);
  EXPECT_EQ(record.text, "std::out_of_range: index 7");
  ASSERT_THAT(record.trace, Not(IsEmpty()));
  // The innermost frame is this test body, not MakeErrorRecord itself.
  EXPECT_THAT(record.trace[0], HasSubstr("RecordTest_ErrorRecord"));
  EXPECT_THAT(record.trace[0], Not(HasSubstr("MakeErrorRecord")));
}

TEST(RecordTest, DescribeStatusNamesCodeAndMessage) {
  EXPECT_EQ(DescribeStatus(absl::NotFoundError("no queue 'q'")),
            "NOT_FOUND: no queue 'q'");
}

}  // namespace
}  // namespace syncstream
