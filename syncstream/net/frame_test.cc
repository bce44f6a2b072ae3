#include "syncstream/net/frame.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "syncstream/proto/record.pb.h"

namespace syncstream::net {
namespace {

using ::testing::HasSubstr;

proto::RecordBatch MakeBatch(int lines) {
  proto::RecordBatch batch;
  for (int i = 0; i < lines; ++i) {
    proto::Record* r = batch.add_records();
    r->set_kind(proto::Record::LINE);
    r->set_sender("w");
    r->set_sequence(i);
    r->set_text("line " + std::to_string(i));
  }
  return batch;
}

TEST(FrameTest, MergingDecodeAppendsAndReusesClearedRecords) {
  std::string wire;
  ASSERT_TRUE(AppendFrame(MakeBatch(2), 1 << 20, &wire).ok());
  proto::RecordBatch got = MakeBatch(1);
  // Not cleared: the frame's records come after the one already held.
  ASSERT_EQ(*DecodeFrameMerging(wire, 1 << 20, &got), wire.size());
  ASSERT_EQ(got.records_size(), 3);
  EXPECT_EQ(got.records(2).text(), "line 1");
  // Cleared records stay allocated and the next merge reuses them.
  const proto::Record* first = &got.records(0);
  got.Clear();
  ASSERT_EQ(*DecodeFrameMerging(wire, 1 << 20, &got), wire.size());
  ASSERT_EQ(got.records_size(), 2);
  EXPECT_EQ(&got.records(0), first);
  EXPECT_EQ(got.records(0).text(), "line 0");
}

TEST(FrameTest, RoundTripsSeveralFramesInOneBuffer) {
  std::string wire;
  ASSERT_TRUE(AppendFrame(MakeBatch(3), 1 << 20, &wire).ok());
  ASSERT_TRUE(AppendFrame(MakeBatch(5), 1 << 20, &wire).ok());
  absl::string_view rest = wire;
  proto::RecordBatch got;
  absl::StatusOr<size_t> used = DecodeFrame(rest, 1 << 20, &got);
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(got.records_size(), 3);
  rest.remove_prefix(*used);
  used = DecodeFrame(rest, 1 << 20, &got);
  ASSERT_TRUE(used.ok()) << used.status();
  EXPECT_EQ(got.records_size(), 5);
  EXPECT_EQ(got.records(4).text(), "line 4");
  rest.remove_prefix(*used);
  EXPECT_TRUE(rest.empty());
}

TEST(FrameTest, IncompleteFrameNeedsMoreBytes) {
  std::string wire;
  ASSERT_TRUE(AppendFrame(MakeBatch(10), 1 << 20, &wire).ok());
  proto::RecordBatch got;
  for (size_t n = 0; n < wire.size(); ++n) {
    absl::StatusOr<size_t> used =
        DecodeFrame(absl::string_view(wire.data(), n), 1 << 20, &got);
    ASSERT_TRUE(used.ok()) << n << ": " << used.status();
    EXPECT_EQ(*used, 0u) << n;
  }
}

TEST(FrameTest, OversizedLengthIsRejectedBeforeTheBodyArrives) {
  // A 5-byte varint claiming 1 GiB, and no body at all.
  const std::string wire("\x80\x80\x80\x80\x04", 5);
  absl::StatusOr<std::optional<FrameHeader>> header =
      PeekFrameHeader(wire, 1 << 20);
  ASSERT_FALSE(header.ok());
  EXPECT_EQ(header.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(header.status().message(),
              HasSubstr("frame of 1073741824 bytes exceeds the maximum frame "
                        "size of 1048576 bytes"));
}

TEST(FrameTest, OverlongVarintIsMalformed) {
  const std::string wire(6, '\xff');
  proto::RecordBatch got;
  absl::StatusOr<size_t> used = DecodeFrame(wire, 1 << 20, &got);
  ASSERT_FALSE(used.ok());
  EXPECT_EQ(used.status().code(), absl::StatusCode::kDataLoss);
  // Five continuation bytes then a huge fifth: over 32 bits.
  const std::string wide("\xff\xff\xff\xff\x7f", 5);
  EXPECT_EQ(PeekFrameHeader(wide, 1 << 20).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(FrameTest, GarbageBodyIsDataLoss) {
  std::string wire = "\x04";
  wire += "\xff\xff\xff\xff";  // an invalid tag
  proto::RecordBatch got;
  absl::StatusOr<size_t> used = DecodeFrame(wire, 1 << 20, &got);
  ASSERT_FALSE(used.ok());
  EXPECT_EQ(used.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(used.status().message(),
              HasSubstr("4-byte body is not a valid syncstream.proto."
                        "RecordBatch"));
}

TEST(FrameTest, AppendRefusesOversizedMessagesAndLeavesBufferAlone) {
  std::string wire = "keep";
  absl::Status status = AppendFrame(MakeBatch(1000), 100, &wire);
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(status.message(), HasSubstr("exceeds the maximum frame size of "
                                          "100 bytes"));
  EXPECT_EQ(wire, "keep");
}

TEST(FrameTest, EmptyMessageIsOneByteFrame) {
  std::string wire;
  ASSERT_TRUE(AppendFrame(proto::RecordBatch(), 10, &wire).ok());
  EXPECT_EQ(wire, std::string(1, '\0'));
  proto::RecordBatch got;
  EXPECT_EQ(*DecodeFrame(wire, 10, &got), 1u);
}

}  // namespace
}  // namespace syncstream::net
