// CommitLedger: per-worker progress that survives the worker.
//
// A small shared-memory table (a memfd, mapped MAP_SHARED) with one slot per
// worker: lines written, lines committed (see kind.h), finished. Workers of
// every spawn mode update their own slot; the parent reads all of them, also
// after a worker was killed, to know which lines must have arrived. Threads
// and forked children share the parent's mapping; an exec'd worker maps the
// inherited descriptor (Attach).
//
// Slots hold std::atomic<uint64_t> (lock-free on every platform we build
// for, hence usable across processes). Attach validates the size of the
// memfd before mapping it.
#ifndef SYNCSTREAM_TESTING_STRESS_COMMIT_LEDGER_H_
#define SYNCSTREAM_TESTING_STRESS_COMMIT_LEDGER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "syncstream/core/unique_fd.h"

namespace syncstream::stress {

class CommitLedger {
 public:
  // A zeroed ledger for `workers` workers (at least 1).
  static absl::StatusOr<CommitLedger> Create(int workers);
  // Maps the ledger behind an inherited descriptor; takes ownership of `fd`.
  static absl::StatusOr<CommitLedger> Attach(int fd, int workers);

  CommitLedger(CommitLedger&& other) noexcept;
  CommitLedger& operator=(CommitLedger&& other) noexcept;
  CommitLedger(const CommitLedger&) = delete;
  CommitLedger& operator=(const CommitLedger&) = delete;
  ~CommitLedger();

  // The memfd, for handing to exec'd workers (close-on-exec here).
  int fd() const { return fd_.get(); }
  int workers() const { return workers_; }

  // Worker side.
  void Record(int worker, uint64_t written, uint64_t committed);
  void MarkFinished(int worker);

  // Parent side.
  uint64_t written(int worker) const;
  uint64_t committed(int worker) const;
  bool finished(int worker) const;
  uint64_t total_written() const;

 private:
  struct alignas(64) Slot {
    std::atomic<uint64_t> written;
    std::atomic<uint64_t> committed;
    std::atomic<uint64_t> finished;
  };
  static_assert(std::atomic<uint64_t>::is_always_lock_free,
                "the ledger needs lock-free 64-bit atomics");
  CommitLedger(UniqueFd fd, Slot* slots, int workers);
  static size_t Bytes(int workers) { return sizeof(Slot) * workers; }

  UniqueFd fd_;
  Slot* slots_ = nullptr;
  int workers_ = 0;
};

}  // namespace syncstream::stress

#endif  // SYNCSTREAM_TESTING_STRESS_COMMIT_LEDGER_H_
