#include "syncstream/file/segment_format.h"

#include <string>

#include <gtest/gtest.h>

namespace syncstream::file {
namespace {

Record Line(const std::string& text, uint64_t seq) {
  Record r;
  r.sender = "w";
  r.sequence = seq;
  r.text = text;
  return r;
}

std::string MakeSegment(int n, SegmentHeader* header_out = nullptr,
                        std::vector<size_t>* offsets = nullptr) {
  std::string frames;
  proto::Record scratch;
  for (int i = 0; i < n; ++i) {
    if (offsets) offsets->push_back(kSegmentHeaderSize + frames.size());
    AppendRecordFrame(Line("line " + std::to_string(i), i), &scratch, &frames);
  }
  SegmentHeader h;
  h.generation = 7;
  h.first_index = 100;
  h.clear_index = 50;
  h.record_count = n;
  h.payload_bytes = frames.size();
  h.writer_nonce = 0xabcdef;
  if (header_out) *header_out = h;
  std::string out;
  EncodeSegmentHeader(h, &out);
  return out + frames;
}

TEST(SegmentFormatTest, RoundTrip) {
  SegmentHeader h;
  std::string bytes = MakeSegment(5, &h);
  auto decoded = DecodeSegment(bytes, "s");
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->header.generation, 7u);
  EXPECT_EQ(decoded->header.first_index, 100u);
  EXPECT_EQ(decoded->header.clear_index, 50u);
  EXPECT_EQ(decoded->header.end_index(), 105u);
  EXPECT_EQ(decoded->header.writer_nonce, 0xabcdefu);
  ASSERT_EQ(decoded->records.size(), 5u);
  EXPECT_EQ(decoded->records[3].text, "line 3");
  EXPECT_TRUE(decoded->damages.empty());
  EXPECT_EQ(decoded->valid_end, bytes.size());
}

TEST(SegmentFormatTest, DamagedHeaderIsDataLoss) {
  std::string bytes = MakeSegment(2);
  bytes[20] ^= 1;
  auto decoded = DecodeSegment(bytes, "seg-x");
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(decoded.status().message().find("seg-x"), std::string::npos);
  EXPECT_FALSE(DecodeSegment("SSFSEG", "t").ok());
  bytes = MakeSegment(2);
  bytes[0] = 'X';
  EXPECT_NE(DecodeSegment(bytes, "m").status().message().find("magic"),
            std::string::npos);
}

TEST(SegmentFormatTest, TornTailIsCutAtLastValidFrame) {
  std::vector<size_t> offsets;
  std::string bytes = MakeSegment(4, nullptr, &offsets);
  std::string torn = bytes.substr(0, bytes.size() - 3);
  auto decoded = DecodeSegment(torn, "s");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->records.size(), 3u);
  ASSERT_EQ(decoded->damages.size(), 1u);
  EXPECT_TRUE(decoded->damages[0].torn_tail);
  EXPECT_EQ(decoded->damages[0].offset, offsets[3]);
  EXPECT_EQ(decoded->valid_end, offsets[3]);
  // A partial frame header too.
  decoded = DecodeSegment(bytes.substr(0, offsets[3] + 5), "s");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->records.size(), 3u);
  EXPECT_TRUE(decoded->damages.back().torn_tail);
}

TEST(SegmentFormatTest, CorruptMiddleRecordIsSkippedAndReported) {
  std::vector<size_t> offsets;
  std::string bytes = MakeSegment(5, nullptr, &offsets);
  bytes[offsets[2] + kFrameHeaderSize + 2] ^= 0x40;  // payload byte
  auto decoded = DecodeSegment(bytes, "s");
  ASSERT_TRUE(decoded.ok());
  ASSERT_EQ(decoded->records.size(), 4u);
  EXPECT_EQ(decoded->records[2].text, "line 3");
  ASSERT_EQ(decoded->damages.size(), 1u);
  EXPECT_FALSE(decoded->damages[0].torn_tail);
  EXPECT_EQ(decoded->damages[0].offset, offsets[2]);
  EXPECT_EQ(decoded->damages[0].length, offsets[3] - offsets[2]);
  EXPECT_EQ(decoded->valid_end, bytes.size());
}

TEST(SegmentFormatTest, CorruptLengthResynchronizes) {
  std::vector<size_t> offsets;
  std::string bytes = MakeSegment(5, nullptr, &offsets);
  bytes[offsets[1] + 10] = '\x7f';  // length now huge
  auto decoded = DecodeSegment(bytes, "s");
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->records.size(), 4u);
  EXPECT_EQ(decoded->records[1].text, "line 2");
}

TEST(SegmentFormatTest, ChecksOnlyModeKeepsNoRecords) {
  std::string bytes = MakeSegment(3);
  auto decoded = DecodeSegment(bytes, "s", /*parse_records=*/false);
  ASSERT_TRUE(decoded.ok());
  EXPECT_TRUE(decoded->records.empty());
  EXPECT_TRUE(decoded->damages.empty());
  EXPECT_EQ(decoded->valid_end, bytes.size());
}

TEST(SegmentFormatTest, Names) {
  EXPECT_EQ(SegmentFileName(42), "seg-00000000000000000042");
  uint64_t g = 0;
  EXPECT_TRUE(ParseSegmentName("seg-00000000000000000042", &g));
  EXPECT_EQ(g, 42u);
  EXPECT_FALSE(ParseSegmentName("seg-42", &g));
  EXPECT_FALSE(ParseSegmentName("seg-0000000000000000004x", &g));
  EXPECT_FALSE(ParseSegmentName("tmp-00000000000000000042", &g));
}

}  // namespace
}  // namespace syncstream::file
