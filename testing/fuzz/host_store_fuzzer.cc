// Arbitrary bytes as a host collector's store log file (what a damaged disk
// could hold), decoded by the replay the collector runs at start-up: the
// segment format's frame walk (syncstream/file/segment_format.h) over
// HostLogEntry payloads, and the record batches they hold. It never crashes, never reads past the input, its
// report stays within the input, and the entries it returned, written again
// as a fresh log, replay to the same entries with no damage.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "syncstream/core/record.h"
#include "syncstream/file/segment_format.h"
#include "syncstream/host/internal/batch_codec.h"
#include "syncstream/host/internal/store_log.h"

namespace {

using syncstream::host::internal::ReplayReport;
using syncstream::host::internal::ReplayStoreLog;
using syncstream::host::internal::StoreLogHeader;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An odd first byte: the rest follows a valid header, so the fuzzer spends
  // its time in the frame walk rather than on the magic.
  std::string bytes(reinterpret_cast<const char*>(data), size);
  if (size > 0 && (data[0] & 1) != 0) bytes = StoreLogHeader() + bytes.substr(1);

  std::vector<std::string> entries;
  ReplayReport report;
  auto end = ReplayStoreLog(
      bytes, "fuzz",
      [&](const syncstream::proto::HostLogEntry& entry) {
        if (entry.has_batch()) {
          syncstream::Record record;
          for (const auto& message : entry.batch().batch().records()) {
            (void)syncstream::FromProto(message, &record);
          }
          // Version 3 logs hold the records in the batch encoding.
          auto reader = syncstream::host::internal::BatchReader::Open(
              entry.batch().records());
          if (reader.ok()) {
            while (reader->Next(&record)) (void)record.text.size();
          }
        }
        entries.push_back(entry.SerializeAsString());
        return absl::OkStatus();
      },
      &report);
  if (!end.ok()) return 0;
  if (*end > bytes.size() ||
      *end < syncstream::host::internal::kStoreLogHeaderBytes ||
      report.discarded_bytes > bytes.size() ||
      report.torn_tail_bytes > report.discarded_bytes ||
      report.entries != entries.size()) {
    std::abort();
  }
  // Written again: a clean log of the same entries.
  std::string again = StoreLogHeader();
  for (const std::string& serialized : entries) {
    syncstream::proto::HostLogEntry entry;
    if (!entry.ParseFromString(serialized)) std::abort();
    if (!syncstream::file::AppendMessageFrame(entry, &again).ok()) std::abort();
  }
  std::vector<std::string> replayed;
  ReplayReport clean;
  auto again_end = ReplayStoreLog(
      again, "again",
      [&](const syncstream::proto::HostLogEntry& entry) {
        replayed.push_back(entry.SerializeAsString());
        return absl::OkStatus();
      },
      &clean);
  if (!again_end.ok() || *again_end != again.size() ||
      clean.discarded_bytes != 0 || replayed != entries) {
    std::abort();
  }
  return 0;
}
