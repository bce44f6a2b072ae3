#include "syncstream/host/internal/batch_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace syncstream::host::internal {
namespace {

using ::testing::HasSubstr;

Record Line(std::string sender, uint64_t sequence, std::string text,
            int64_t nanos) {
  Record r;
  r.sender = std::move(sender);
  r.sequence = sequence;
  r.text = std::move(text);
  r.timestamp = absl::FromUnixNanos(nanos);
  return r;
}

// Decodes through BatchReader, and checks that DecodeBatch (into a vector
// holding stale records, as the collector's reused one) agrees.
std::vector<Record> DecodeAll(absl::string_view bytes) {
  absl::StatusOr<BatchReader> reader = BatchReader::Open(bytes);
  EXPECT_TRUE(reader.ok()) << reader.status();
  std::vector<Record> records;
  if (!reader.ok()) return records;
  Record record;
  while (reader->Next(&record)) records.push_back(record);
  EXPECT_EQ(records.size(), reader->size());
  std::vector<Record> decoded(2, Line("stale", 9, "stale text", 5));
  decoded[0].trace = {"stale trace"};
  absl::StatusOr<size_t> count = DecodeBatch(bytes, &decoded);
  EXPECT_TRUE(count.ok()) << count.status();
  if (count.ok()) {
    EXPECT_EQ(*count, records.size());
    EXPECT_GE(decoded.size(), records.size());
    for (size_t i = 0; i < records.size() && i < decoded.size(); ++i) {
      EXPECT_EQ(decoded[i], records[i]) << i;
    }
  }
  return records;
}

// What is wrong with `bytes`, from BatchReader::Open; DecodeBatch must
// refuse them too.
std::string Problem(absl::string_view bytes) {
  std::vector<Record> records;
  EXPECT_FALSE(DecodeBatch(bytes, &records).ok());
  return std::string(BatchReader::Open(bytes).status().message());
}

std::vector<Record> Sample() {
  std::vector<Record> records;
  records.push_back(Line("w", 0, "first", 1700000000123456789));
  records.push_back(Line("w", 1, "", 1700000000123456789));
  records.push_back(Line("w.1", 0, std::string(300, 'x'), 1700000000000000000));
  Record cut = Line("w", 2, "long line cut", -5);  // before the epoch
  cut.continued = true;
  cut.type = "stderr";
  records.push_back(cut);
  Record error;
  error.kind = RecordKind::kError;
  error.sender = "w";
  error.type = "stderr";
  error.sequence = UINT64_MAX;
  error.text = "boom";
  error.trace = {"#0 main", "", std::string(200, 't')};
  error.timestamp = absl::FromUnixNanos(INT64_MAX);
  records.push_back(error);
  Record warning = error;
  warning.kind = RecordKind::kWarning;
  warning.trace.clear();
  warning.timestamp = absl::FromUnixNanos(INT64_MIN);
  records.push_back(warning);
  Record eof;
  eof.kind = RecordKind::kEndOfStream;
  eof.sender = "";
  records.push_back(eof);
  return records;
}

TEST(BatchCodecTest, RoundTripsEveryField) {
  std::string bytes;
  BatchEncoder encoder;
  encoder.Reset(&bytes);
  const std::vector<Record> records = Sample();
  for (const Record& r : records) encoder.Add(r);
  EXPECT_EQ(encoder.count(), records.size());
  EXPECT_EQ(encoder.bytes(), bytes.size());
  EXPECT_EQ(DecodeAll(bytes), records);
}

TEST(BatchCodecTest, ResetStartsAFreshBatchThatDecodesAlone) {
  std::string bytes;
  BatchEncoder encoder;
  encoder.Reset(&bytes);
  encoder.Add(Line("a", 0, "one", 100));
  encoder.Reset(&bytes);
  // Same sender as before the reset: it must still be carried.
  encoder.Add(Line("a", 1, "two", 200));
  EXPECT_EQ(DecodeAll(bytes), std::vector<Record>{Line("a", 1, "two", 200)});
  encoder.Reset(&bytes);
  EXPECT_TRUE(DecodeAll(bytes).empty());
}

TEST(BatchCodecTest, RepeatedSenderIsNotRepeated) {
  std::string one, many;
  BatchEncoder encoder;
  encoder.Reset(&one);
  encoder.Add(Line("a-long-sender-name", 0, "x", 1));
  encoder.Reset(&many);
  for (int i = 0; i < 10; ++i) {
    encoder.Add(Line("a-long-sender-name", i, "x", 1));
  }
  // Each further record: flags, sequence, timestamp delta, length, text.
  EXPECT_EQ(many.size(), one.size() + 9 * 5);
}

TEST(BatchCodecTest, RejectsEveryTruncation) {
  std::string bytes;
  BatchEncoder encoder;
  encoder.Reset(&bytes);
  for (const Record& r : Sample()) encoder.Add(r);
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(BatchReader::Open(absl::string_view(bytes).substr(0, n)).ok())
        << n;
    std::vector<Record> records;
    EXPECT_FALSE(DecodeBatch(absl::string_view(bytes).substr(0, n), &records)
                     .ok())
        << n;
  }
  EXPECT_THAT(Problem(bytes + "z"),
              HasSubstr("1 bytes after its 7 records"));
}

TEST(BatchCodecTest, RejectsBadHeadersAndFlags) {
  std::string bytes;
  BatchEncoder encoder;
  encoder.Reset(&bytes);
  encoder.Add(Line("a", 0, "x", 1));
  std::string wrong_version = bytes;
  wrong_version[0] = 2;
  EXPECT_THAT(Problem(wrong_version),
              HasSubstr("encoding version 2, expected 1"));
  std::string more_records = bytes;
  more_records[1] = 2;  // claims two records, holds one
  EXPECT_THAT(Problem(more_records),
              HasSubstr("record 1 of 2: truncated"));
  const size_t flags_at = kBatchHeaderBytes;
  std::string bad_kind = bytes;
  bad_kind[flags_at] = static_cast<char>((bad_kind[flags_at] & ~7) | 5);
  EXPECT_THAT(Problem(bad_kind),
              HasSubstr("unknown kind"));
  std::string reserved = bytes;
  reserved[flags_at] = static_cast<char>(reserved[flags_at] | 0x80);
  EXPECT_THAT(Problem(reserved),
              HasSubstr("reserved flag"));
  Record eof;
  eof.kind = RecordKind::kEndOfStream;
  encoder.Reset(&bytes);
  encoder.Add(eof);
  bytes[flags_at] = static_cast<char>(bytes[flags_at] | 0x08);
  EXPECT_THAT(Problem(bytes),
              HasSubstr("only a line can be continued"));
}

TEST(BatchCodecTest, RejectsLengthsBeyondTheBatch) {
  // Version 1, one record: a line with a sender whose length claims more
  // bytes than follow, then one whose text does.
  std::string sender_lie("\x01\x01\x00\x00\x00\x11\xff\xff\x03", 9);
  EXPECT_THAT(Problem(sender_lie),
              HasSubstr("bad sender"));
  std::string text_lie("\x01\x01\x00\x00\x00\x01\x00\x00\x7f" "abc", 12);
  EXPECT_THAT(Problem(text_lie),
              HasSubstr("bad text"));
  std::string trace_lie("\x01\x01\x00\x00\x00\x43\x00\x00\x00\xff\x01", 11);
  EXPECT_THAT(Problem(trace_lie),
              HasSubstr("bad trace count"));
  std::string long_varint("\x01\x01\x00\x00\x00\x01", 6);
  long_varint += std::string(10, '\xff');
  EXPECT_THAT(Problem(long_varint),
              HasSubstr("bad sequence"));
}

TEST(BatchCodecTest, DecodeBatchRefusesACountTheBytesCannotHold) {
  // Claims 2^32 - 1 records in 4 bytes: refused before the vector is sized.
  std::string lie("\x01\xff\xff\xff\xff\x01\x00\x00\x00", 9);
  std::vector<Record> records;
  absl::StatusOr<size_t> count = DecodeBatch(lie, &records);
  EXPECT_THAT(count.status().message(),
              HasSubstr("4294967295 records announced in 4 bytes"));
  EXPECT_TRUE(records.empty());
}

}  // namespace
}  // namespace syncstream::host::internal
