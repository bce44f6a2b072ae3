#include "syncstream/proc/internal/record_batch.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace syncstream::proc_internal {
namespace {

Record MakeLine(std::string sender, uint64_t sequence, std::string text) {
  Record record;
  record.sender = std::move(sender);
  record.type = "stdout";
  record.sequence = sequence;
  record.timestamp = absl::FromUnixNanos(1700000000123456789 + sequence);
  record.text = std::move(text);
  return record;
}

std::vector<Record> DecodeAll(absl::string_view bytes, BatchHeader* header,
                              absl::Status* status) {
  std::vector<Record> out;
  *status = DecodeRecordBatch(bytes, header,
                              [&](const Record& r) { out.push_back(r); });
  return out;
}

TEST(RecordBatchTest, RoundTripsEveryKindAndTheHeader) {
  std::vector<Record> records;
  records.push_back(MakeLine("child-1", 0, "hello"));
  records.push_back(MakeLine("child-1", 1, std::string("a\0b\r", 4)));
  Record cut = MakeLine("child-1.1", 0, "long part");
  cut.continued = true;
  records.push_back(cut);
  Record error = MakeLine("child-1", 2, "std::runtime_error: boom");
  error.kind = RecordKind::kError;
  error.type = "";
  error.trace = {"#0 0x1 f()", "", "#2 0x3 main"};
  records.push_back(error);
  Record eof = MakeLine("child-1", 3, "");
  eof.kind = RecordKind::kEndOfStream;
  records.push_back(eof);

  RecordBatchEncoder encoder;
  BatchHeader header{7, 3, 0, kBatchHello, 4242, 987654321};
  encoder.Reset(header);
  for (const Record& r : records) encoder.Add(r);
  encoder.AddFlags(kBatchMirrorClosed);
  EXPECT_EQ(encoder.record_count(), records.size());

  BatchHeader decoded;
  absl::Status status;
  std::vector<Record> out = DecodeAll(encoder.bytes(), &decoded, &status);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(out, records);
  EXPECT_EQ(decoded.generation, 7u);
  EXPECT_EQ(decoded.mirror_id, 3u);
  EXPECT_EQ(decoded.record_count, records.size());
  EXPECT_EQ(decoded.flags, kBatchHello | kBatchMirrorClosed);
  EXPECT_EQ(decoded.pid, 4242);
  EXPECT_EQ(decoded.start_time, 987654321u);
}

TEST(RecordBatchTest, EmptyBatchIsValid) {
  RecordBatchEncoder encoder;
  encoder.Reset(BatchHeader{1, 2, 0, kBatchHello, 10, 20});
  BatchHeader decoded;
  absl::Status status;
  EXPECT_TRUE(DecodeAll(encoder.bytes(), &decoded, &status).empty());
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(encoder.bytes().size(), kBatchHeaderSize);
}

TEST(RecordBatchTest, EveryTruncationIsRejectedWithoutDeliveringRecords) {
  RecordBatchEncoder encoder;
  encoder.Reset(BatchHeader{});
  encoder.Add(MakeLine("a", 0, "first"));
  Record error = MakeLine("a", 1, "bad");
  error.kind = RecordKind::kError;
  error.trace = {"frame"};
  encoder.Add(error);
  std::string bytes(encoder.bytes());
  for (size_t size = 0; size < bytes.size(); ++size) {
    BatchHeader header;
    absl::Status status;
    std::vector<Record> out =
        DecodeAll(absl::string_view(bytes.data(), size), &header, &status);
    EXPECT_TRUE(absl::IsInvalidArgument(status)) << size;
    EXPECT_TRUE(out.empty()) << size;
  }
  BatchHeader header;
  absl::Status status;
  DecodeAll(bytes + "x", &header, &status);
  EXPECT_TRUE(absl::IsInvalidArgument(status));
  EXPECT_NE(status.message().find("after the last"), std::string::npos);
}

TEST(RecordBatchTest, BadMagicVersionKindAndFlagsAreNamed) {
  RecordBatchEncoder encoder;
  encoder.Reset(BatchHeader{});
  encoder.Add(MakeLine("a", 0, "x"));
  const std::string good(encoder.bytes());
  struct Case {
    size_t offset;
    char value;
    const char* expected;
  } cases[] = {
      {0, 'X', "magic"},
      {4, 9, "version"},
      {6, 3, "header size"},
      {kBatchHeaderSize, 0, "unknown kind"},
      {kBatchHeaderSize, 9, "unknown kind"},
      {kBatchHeaderSize + 1, 2, "unknown flags"},
  };
  for (const Case& c : cases) {
    std::string bytes = good;
    bytes[c.offset] = c.value;
    BatchHeader header;
    absl::Status status;
    DecodeAll(bytes, &header, &status);
    EXPECT_TRUE(absl::IsInvalidArgument(status));
    EXPECT_NE(status.message().find(c.expected), std::string::npos)
        << status;
  }
  // `continued` on an end-of-stream record.
  std::string bytes = good;
  bytes[kBatchHeaderSize] = static_cast<char>(RecordKind::kEndOfStream);
  bytes[kBatchHeaderSize + 1] = 1;
  BatchHeader header;
  absl::Status status;
  DecodeAll(bytes, &header, &status);
  EXPECT_NE(status.message().find("continued"), std::string::npos) << status;
}

TEST(RecordBatchTest, HugeCountWithFewBytesIsRejected) {
  RecordBatchEncoder encoder;
  encoder.Reset(BatchHeader{});
  std::string bytes(encoder.bytes());
  bytes[16] = '\xff';
  bytes[17] = '\xff';
  bytes[18] = '\xff';
  bytes[19] = '\xff';
  BatchHeader header;
  absl::Status status;
  DecodeAll(bytes, &header, &status);
  EXPECT_TRUE(absl::IsInvalidArgument(status));
}

// The collector copies a batch out of shared memory, validates the copy and
// decodes its records later, in any order: whatever the writer does to the
// shared bytes after the copy changes nothing.
TEST(RecordBatchTest, ValidatedBatchIsACopyDecodedInAnyOrder) {
  RecordBatchEncoder encoder;
  encoder.Reset(BatchHeader{1, 2, 0, 0, 99, 5});
  std::vector<Record> records;
  for (uint64_t i = 0; i < 5; ++i) {
    records.push_back(MakeLine(i % 2 ? "odd" : "even", i,
                               std::string(10 * i, 'a' + i)));
    encoder.Add(records.back());
  }
  std::string shared(encoder.bytes());
  absl::StatusOr<std::shared_ptr<const ValidatedBatch>> batch =
      ValidatedBatch::Copy(shared);
  ASSERT_TRUE(batch.ok()) << batch.status();
  std::fill(shared.begin(), shared.end(), '\xff');  // the writer scribbles
  ASSERT_EQ((*batch)->size(), records.size());
  EXPECT_EQ((*batch)->header().pid, 99);
  Record scratch;
  for (size_t i : {4, 0, 3, 3, 1, 2}) {
    (*batch)->Decode(i, &scratch);
    EXPECT_EQ(scratch, records[i]) << i;
  }
}

}  // namespace
}  // namespace syncstream::proc_internal
